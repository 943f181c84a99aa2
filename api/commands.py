"""Commands on a trial. Each is a Temporal update: it answers with the trial as it stands once the workflow
has acted (read from the read model, which the workflow writes before answering), or with the domain's
code and sentence, and changes nothing.

An `Idempotency-Key` names the command: a retry with it (after a timeout, a dropped connection, a 503) is
the same Temporal update, so it gets the first answer instead of applying twice or a conflict.
"""

import asyncio
import hashlib
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from api.auth import ApiError, Fulfilment, FulfilmentOrSupport, Support, as_sent, named, to_command
from api.models import FinishRequest, errors
from api.params import IdempotencyKey, OrderId
from api.services import Services, ServicesDep
from domain import commands as cmd
from domain.errors import DomainError, ErrorCode
from domain.view import TrialView
from workflows.style_trial import StyleTrialWorkflow as W

# Every command answers 200 with the trial (sent as stored in the read model, so declared here for the docs).
router = APIRouter(
    prefix="/v1/trials/{order_id}", tags=["commands"],
    responses={
        200: {"model": TrialView, "description": "The trial once the command took effect."},
        **errors(401, 403, 404, 409, 413, 422, 503),
    },
)  # fmt: skip


if TYPE_CHECKING:  # the type checker sees the domain's commands, FastAPI the bodies as sent (`as_sent`)
    Decisions = cmd.Decisions
    Extension = cmd.Extension
    Waiver = cmd.Waiver
    NewPaymentMethod = cmd.NewPaymentMethod
    LostParcel = cmd.LostParcel
    Refund = cmd.Refund
    Cancel = cmd.Cancel
else:
    Decisions = as_sent(cmd.Decisions)
    Extension = as_sent(cmd.Extension)
    Waiver = as_sent(cmd.Waiver)
    NewPaymentMethod = as_sent(cmd.NewPaymentMethod)
    LostParcel = as_sent(cmd.LostParcel)
    Refund = as_sent(cmd.Refund)
    Cancel = as_sent(cmd.Cancel)


async def _send(
    request: Request, services: Services, order_id: str, name: str, update: Any, command: BaseModel, key: str | None
) -> Response:
    command = to_command(named(request, command))
    if key:
        # The same key with another command is a caller's bug: refused, as Stripe does, rather than answered
        # with the first command's result while this one is silently dropped.
        digest = hashlib.sha256(f"{type(command).__name__}:{command.model_dump_json()}".encode()).hexdigest()
        first = await asyncio.to_thread(services.store.first_use, f"{order_id}:{name}:{key}", digest)
        if first != digest:
            raise ApiError(
                422, "idempotency_key_reused",
                f"Idempotency-Key {key!r} was first used with another {name} command on this trial; "
                "use a new key for a new command.",
            )  # fmt: skip
    # The trial as the read model stored it, as JSON text: not parsed and validated again for every answer.
    raw = await services.trials.send_json(order_id, update, command, f"{name}:{key}" if key else None)
    return Response(raw, media_type="application/json")


@router.post("/dispatch", summary="Dispatched in one or more parcels (pieces in none are unavailable)",
             description="Roles: fulfilment.")  # fmt: skip
async def dispatch(
    request: Request,
    order_id: OrderId,
    body: cmd.Dispatch,
    _: Fulfilment,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    return await _send(request, services, order_id, "dispatch", W.dispatch, body, idempotency_key)


@router.post("/delivery", summary="One parcel delivered", description="Roles: fulfilment, support.")
async def record_delivery(
    request: Request, order_id: OrderId, body: cmd.Delivery, role: FulfilmentOrSupport, services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    body = named(request, body)
    if role == "support" and not (body.actor and body.actor.strip()):
        raise DomainError(ErrorCode.ACTOR_REQUIRED, "Staff recording a delivery must give their name (actor).")
    if role == "support" and not (body.reason and body.reason.strip()):
        raise DomainError(ErrorCode.REASON_REQUIRED, "Staff recording a delivery must give a reason.")
    return await _send(request, services, order_id, "delivery", W.deliver, body, idempotency_key)


@router.post(
    "/lost-parcels",
    summary="An outbound parcel was lost in transit (its pieces are never charged; reship: replacements follow)",
    description="Roles: support, fulfilment. Flags a carrier claim. Once nothing is on its way the trial starts "
    "with what arrived, or is cancelled with its hold released when nothing did.",
)
async def declare_parcel_lost(
    request: Request, order_id: OrderId, body: LostParcel, _: FulfilmentOrSupport, services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    return await _send(request, services, order_id, "lost-parcels", W.declare_parcel_lost, body, idempotency_key)


@router.post(
    "/reshipments",
    summary="Replacements for a lost parcel's pieces left in new parcels",
    description="Roles: fulfilment. Same authorization; the trial's clock waits for the new parcels. A piece "
    "awaiting a reship that is in none of them is lost for good.",
)
async def reship(
    request: Request, order_id: OrderId, body: cmd.Reshipment, _: Fulfilment, services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    return await _send(request, services, order_id, "reshipments", W.reship, body, idempotency_key)


@router.post(
    "/decisions", summary="Keep/return decisions for delivered pieces", description="Roles: fulfilment, support."
)
async def record_decisions(
    request: Request, order_id: OrderId, body: Decisions, _: FulfilmentOrSupport, services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    return await _send(request, services, order_id, "decisions", W.decide, body, idempotency_key)


@router.post(
    "/finish", summary="The client is done early (every piece decided)", description="Roles: fulfilment, support."
)
async def finish_early(
    request: Request, order_id: OrderId, body: FinishRequest, _: FulfilmentOrSupport, services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    body = named(request, body)
    command = cmd.FinishEarly(actor=body.actor, channel=body.channel)
    return await _send(request, services, order_id, "finish", W.finish_early, command, idempotency_key)


@router.post("/returns", summary="A return was shipped (carrier scan)", description="Roles: fulfilment.")
async def record_return(
    request: Request, order_id: OrderId, body: cmd.ReturnShipped, _: Fulfilment, services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    return await _send(request, services, order_id, "returns", W.ship_return, body, idempotency_key)


@router.post(
    "/inspections",
    summary="Returned pieces received and inspected: one piece, or a whole return parcel at once",
    description="Roles: fulfilment. `{piece_id, condition}` for one piece, or `{inspections: [...]}` for a parcel "
    "(all or nothing: one piece that cannot be inspected refuses them all).",
)
async def record_inspection(
    request: Request, order_id: OrderId, body: cmd.Inspection | cmd.Inspections, _: Fulfilment, services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    if isinstance(body, cmd.Inspections):
        return await _send(request, services, order_id, "inspections", W.inspect_returns, body, idempotency_key)
    return await _send(request, services, order_id, "inspections", W.inspect, body, idempotency_key)


@router.post("/extension", summary="Extend the trial (1–7 days, 14 in total)", description="Roles: support.")
async def extend_trial(
    request: Request,
    order_id: OrderId,
    body: Extension,
    _: Support,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    return await _send(request, services, order_id, "extension", W.extend, body, idempotency_key)


@router.post("/waivers", summary="Waive a piece that has not been charged", description="Roles: support.")
async def waive_piece(
    request: Request,
    order_id: OrderId,
    body: Waiver,
    _: Support,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    return await _send(request, services, order_id, "waivers", W.waive, body, idempotency_key)


@router.post("/payment-method", summary="A new payment method (retries at once)", description="Roles: support.")
async def change_payment_method(
    request: Request, order_id: OrderId, body: NewPaymentMethod, _: Support, services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    return await _send(request, services, order_id, "payment-method", W.change_payment_method, body, idempotency_key)


@router.post(
    "/refunds",
    summary="Refund a charged piece, all or part of its price (once per piece)",
    description="Roles: support. Also after the trial completed, within its refund window (`refunds_until`). The "
    "refund goes to the gateway under its own idempotency key, from the payment that charged the piece.",
)
async def refund_piece(
    request: Request, order_id: OrderId, body: Refund, _: Support, services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    return await _send(request, services, order_id, "refunds", W.refund, body, idempotency_key)


@router.post("/cancel", summary="Cancel before dispatch", description="Roles: fulfilment, support.")
async def cancel_trial(
    request: Request, order_id: OrderId, body: Cancel, _: FulfilmentOrSupport, services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    return await _send(request, services, order_id, "cancel", W.cancel, body, idempotency_key)
