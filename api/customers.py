"""A client's whole story and a shopper's open trials, for the people who look after EIP clients.

Support reads any client and any shopper's list. A personal shopper signs in with their own token (the
`shopper` role, from the company's OpenID Connect provider: their subject is their shopper id) and reads
their own clients only: a client is theirs when they are the shopper of the client's most recent trial.
Both from the read model (application/customers.py says what each figure means).
"""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel

from api.auth import ApiError, Support, allow
from api.models import errors
from api.services import ServicesDep
from application.customers import CustomerStory, ShopperTrials
from application.erasure import ErasedTrial
from domain.bounds import ID_MAX, REFERENCE_PATTERN
from domain.errors import ErrorCode
from security.oidc import Person

router = APIRouter(tags=["clients"])
SupportOrShopper = Annotated[str, Depends(allow("support", "shopper"))]
CustomerId = Annotated[
    str, Path(max_length=ID_MAX, pattern=REFERENCE_PATTERN, description="The client's id in the CRM.")
]
ShopperId = Annotated[str, Path(max_length=ID_MAX, pattern=REFERENCE_PATTERN, description="The personal shopper's id.")]


def _shopper(request: Request, role: str) -> str | None:
    """The shopper calling (their id), None for support; a shopper must be a signed-in person."""
    if role != "shopper":
        return None
    person: Person | None = getattr(request.state, "person", None)
    if person is None:
        raise ApiError(403, "forbidden", "A personal shopper signs in with their own token: it says who they are.")
    return person.actor


@router.get("/v1/customers/{customer_id}", response_model=CustomerStory, responses=errors(401, 403, 404, 422, 503))
async def customer_story(
    customer_id: CustomerId, role: SupportOrShopper, request: Request, services: ServicesDep
) -> CustomerStory:
    """Every trial of a client: keep rate and spend kept over time, sizes kept and returned per designer,
    return reasons and the client's own words, open holds and open trials. Support, or the client's own
    personal shopper."""
    shopper = _shopper(request, role)
    story = await services.customer_story(customer_id)
    # A shopper asking for someone else's client learns nothing, not even that the client exists.
    if story is None or (shopper is not None and story.personal_shopper_id != shopper):
        raise ApiError(404, ErrorCode.UNKNOWN_CUSTOMER.value, f"No trial of client {customer_id!r} that you can see.")
    return story


class ErasureTrial(BaseModel):
    order_id: str
    trial_id: str
    state: Literal["erased", "waiting"]


class ErasureStatus(BaseModel):
    """A client's erasure: each trial erased, or waiting for its workflow to close (then erased)."""

    customer_id: str
    trials: list[ErasureTrial]


def _status(customer_id: str, trials: list[ErasedTrial]) -> ErasureStatus:
    return ErasureStatus(
        customer_id=customer_id,
        trials=[ErasureTrial(order_id=t.order_id, trial_id=t.trial_id, state=t.state) for t in trials],
    )


@router.post(
    "/v1/customers/{customer_id}/erasure", response_model=ErasureStatus, status_code=202,
    responses=errors(401, 403, 404, 422, 503),
)  # fmt: skip
async def erase_customer(customer_id: CustomerId, _: Support, request: Request, services: ServicesDep) -> ErasureStatus:
    """Erase a client's personal data (GDPR Art. 17): from the read model and the messages sent to them, and
    from Temporal's histories by destroying their trials' data keys (those decode to `[erased]` after). A
    trial still running, or in its refund window, is erased when it closes (`waiting`). Money records keep
    amounts and ids. Subscribers receive `trial.erased` for each trial. Asked again: nothing twice."""
    person: Person | None = getattr(request.state, "person", None)
    trials = await services.erase_customer(customer_id, person.actor if person else "support")
    if trials is None:
        raise ApiError(404, ErrorCode.UNKNOWN_CUSTOMER.value, f"No trial of client {customer_id!r}.")
    return _status(customer_id, trials)


@router.get(
    "/v1/customers/{customer_id}/erasure", response_model=ErasureStatus, responses=errors(401, 403, 404, 422, 503)
)
async def erasure_status(customer_id: CustomerId, _: Support, services: ServicesDep) -> ErasureStatus:
    """Where a client's erasure stands: each trial erased, or waiting for its workflow to close."""
    trials = await services.erasure_of(customer_id)
    if not trials:
        raise ApiError(404, ErrorCode.UNKNOWN_CUSTOMER.value, f"No erasure was asked for client {customer_id!r}.")
    return _status(customer_id, trials)


@router.get("/v1/shoppers/{shopper_id}/trials", response_model=ShopperTrials, responses=errors(401, 403, 422, 503))
async def shopper_trials(
    shopper_id: ShopperId, role: SupportOrShopper, request: Request, services: ServicesDep
) -> ShopperTrials:
    """A personal shopper's open trials: who has not decided, who needs a nudge (those first: pieces
    undecided within 48 hours of the end, or still to send back within 24 hours of the return deadline).
    Support, or the shopper themselves."""
    shopper = _shopper(request, role)
    if shopper is not None and shopper != shopper_id:
        raise ApiError(403, "forbidden", "A personal shopper reads their own trials.")
    return await services.shopper_trials(shopper_id, datetime.now(UTC))
