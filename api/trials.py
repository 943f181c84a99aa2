"""Starting a trial, and reading trials. Reads come from the read model, never from a workflow query: a read
must not wait on a worker, nor make a worker that does not hold the trial replay it."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from api.auth import AnyRole, ApiError, Fulfilment
from api.models import TrialList, errors
from api.params import CursorParam, Filter, OrderId, decode_cursor, encode_cursor
from api.services import ServicesDep
from application.door import Cursor
from domain.order import TrialOrder
from domain.status import TrialStatus
from domain.view import TrialView

router = APIRouter(prefix="/v1/trials", tags=["trials"])
# Trials end between these years; a filter outside them is a mistake, and the far ends overflow datetime.
MIN_FILTER_YEAR, MAX_FILTER_YEAR = 2000, 9000


@router.post(
    "", response_model=TrialView, status_code=201,
    responses={200: {"model": TrialView, "description": "This order's trial, started before."},
               **errors(401, 403, 409, 413, 422, 503)},
)  # fmt: skip
async def start_trial(order: TrialOrder, role: Fulfilment, services: ServicesDep) -> JSONResponse:
    """Start the trial for an order. The same order again with the same body answers 200 with the existing
    trial; the same order id with a different body is 409 `order_conflict`."""
    view, created = await services.start(order)
    return JSONResponse(view.model_dump(mode="json"), status_code=201 if created else 200)


@router.get("/{order_id}", response_model=TrialView, responses=errors(401, 404, 422, 503))
async def get_trial(order_id: OrderId, _: AnyRole, services: ServicesDep) -> Response:
    """The trial as its workflow last reported it to the read model (after every change, before any
    command answers)."""
    # As stored, JSON text: a read is one SELECT, not a parse, a validation and a serialization.
    return Response(await services.trial_json(order_id), media_type="application/json")


@router.get("", response_model=TrialList, responses=errors(401, 422, 503))
async def list_trials(
    _: AnyRole,
    services: ServicesDep,
    status: TrialStatus | None = None,
    customer_id: Filter = None,
    needs_attention: bool | None = None,
    ending_before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorParam = None,
) -> Response:
    """Trials from the read model, newest first; pass `next_cursor` back as `cursor` for the next page."""
    page = await services.list_trials(
        status=status, customer_id=customer_id, needs_attention=needs_attention,
        ending_before=_utc_filter(ending_before) if ending_before else None, limit=limit, after=_decode_cursor(cursor),
    )  # fmt: skip
    # Validated once, as a whole, and sent as is (FastAPI would otherwise validate the page a second time).
    listing = TrialList.model_validate(
        {"items": [r._mapping for r in page.items], "next_cursor": _encode_cursor(page.next_cursor)}
    )
    return Response(listing.model_dump_json(), media_type="application/json")


def _utc_filter(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ApiError(422, "invalid_request", "ending_before must include a time zone.")
    try:
        utc = when.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 has no UTC time
        raise ApiError(422, "invalid_request", "ending_before is outside the dates a trial can have.") from None
    if not MIN_FILTER_YEAR <= utc.year <= MAX_FILTER_YEAR:
        raise ApiError(422, "invalid_request", "ending_before is outside the dates a trial can have.")
    return utc


def _encode_cursor(cursor: Cursor | None) -> str | None:
    return encode_cursor(cursor.opened_at, cursor.trial_id) if cursor else None


def _decode_cursor(raw: str | None) -> Cursor | None:
    if raw is None:
        return None
    opened, trial_id, _ = decode_cursor(raw)
    return Cursor(opened, trial_id)
