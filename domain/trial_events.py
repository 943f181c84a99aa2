"""The events a trial announces to the systems around it (fulfilment, the order system), one per entry of its
audit trail, with a stable id, a type from the catalogue below and a versioned payload of ids, states and
amounts: never a name, an address, a contact or the free text people typed.

The read model writes them to its outbox in the same transaction as the trial they come from, so there is
no event without its state and no state without its event; a delivery loop sends them on (webhooks).
"""

import hashlib
import json
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.status import Attention, TrialStatus
from domain.view import Amounts, EventView, TrialView

# Bumped when a payload changes in a way a subscriber must know of; subscribers get it in every event.
VERSION = 1


class EventType(StrEnum):
    OPENED = "trial.opened"
    AUTHORIZED = "payment.authorized"
    AUTHORIZATION_DECLINED = "payment.authorization_declined"
    AUTHORIZATION_EXPIRED = "payment.authorization_expired"
    REAUTHORIZED = "payment.reauthorized"
    REAUTHORIZATION_DECLINED = "payment.reauthorization_declined"
    PAYMENT_METHOD_CHANGED = "payment.method_changed"
    RELEASED = "payment.released"
    DISPATCHED = "trial.dispatched"
    DELIVERED = "trial.delivered"
    PARCEL_LOST = "trial.parcel_lost"
    RESHIPPED = "trial.reshipped"
    ON_TRIAL = "trial.on_trial"
    REMINDER = "trial.reminder"
    DECIDED = "trial.decided"
    FINISHED_EARLY = "trial.finished_early"
    EXTENDED = "trial.extended"
    EXTENSION_REQUESTED = "trial.extension_requested"
    CLOSED = "trial.closed"
    RETURN_SHIPPED = "trial.return_shipped"
    RETURN_BOOKING_REQUESTED = "trial.return_booking_requested"
    RETURN_BOOKED = "trial.return_booked"
    RETURN_BOOKING_FAILED = "trial.return_booking_failed"
    RETURN_RECEIVED = "trial.return_received"
    INSPECTED = "trial.inspected"
    WAIVED = "trial.waived"
    RETURN_WINDOW_CLOSED = "trial.return_window_closed"
    CANCEL_REQUESTED = "trial.cancel_requested"
    CANCELLATION_REFUSED = "trial.cancellation_refused"
    NEEDS_ATTENTION = "trial.needs_attention"
    ATTENTION_ASSIGNED = "trial.attention_assigned"
    CLAIM_FILED = "claim.filed"
    CLAIM_SETTLED = "claim.settled"
    CLAIM_REJECTED = "claim.rejected"
    EXCHANGED = "trial.exchanged"
    ERASED = "trial.erased"
    EXCHANGE_REQUESTED = "trial.exchange_requested"
    EXCHANGE_UNRETURNED = "trial.exchange_unreturned"
    TRIAL_END_MOVED = "trial.end_moved"
    RETURN_FOUND = "trial.return_found"
    RETURN_WRITTEN_OFF = "trial.return_written_off"
    ATTENTION_ACKNOWLEDGED = "trial.attention_acknowledged"
    PAYMENT_ACTION_REQUIRED = "trial.payment_action_required"
    CHARGED = "settlement.charged"
    DECLINED = "settlement.declined"
    CAPTURE_REFUSED = "settlement.capture_refused"
    REFUND_REQUESTED = "settlement.refund_requested"
    REFUNDED = "settlement.refunded"
    REFUND_DECLINED = "settlement.refund_declined"
    ALL_SETTLED = "settlement.all_settled"
    COMPLETED = "trial.completed"
    CANCELLED = "trial.cancelled"
    REJECTED = "trial.rejected"
    OTHER = "trial.other"


# The audit trail's kinds (domain/trial.py, payments.py, deadlines.py) and the event each becomes. A
# deadline that passes without what it waits for flags the trial for staff under an `Attention` reason,
# which is also the kind of its audit entry: those are `trial.needs_attention` unless named here.
_BY_KIND: dict[str, EventType] = {
    **{reason.value: EventType.NEEDS_ATTENTION for reason in Attention},
    "opened": EventType.OPENED,
    "authorized": EventType.AUTHORIZED,
    "authorization_declined": EventType.AUTHORIZATION_DECLINED,
    "authorization_expired": EventType.AUTHORIZATION_EXPIRED,
    "reauthorized": EventType.REAUTHORIZED,
    "reauthorization_declined": EventType.REAUTHORIZATION_DECLINED,
    "payment_method_changed": EventType.PAYMENT_METHOD_CHANGED,
    "released": EventType.RELEASED,
    "dispatched": EventType.DISPATCHED,
    "delivered": EventType.DELIVERED,
    "parcel_lost": EventType.PARCEL_LOST,
    "reshipped": EventType.RESHIPPED,
    "trial_started": EventType.ON_TRIAL,
    "reminded": EventType.REMINDER,
    "decided": EventType.DECIDED,
    "finished_early": EventType.FINISHED_EARLY,
    "extended": EventType.EXTENDED,
    "extension_requested": EventType.EXTENSION_REQUESTED,
    "attention_assigned": EventType.ATTENTION_ASSIGNED,
    "claim_filed": EventType.CLAIM_FILED,
    "claim_settled": EventType.CLAIM_SETTLED,
    "claim_rejected": EventType.CLAIM_REJECTED,
    "exchanged": EventType.EXCHANGED,
    "erased": EventType.ERASED,
    "exchange_requested": EventType.EXCHANGE_REQUESTED,
    "exchange_unreturned": EventType.EXCHANGE_UNRETURNED,
    "trial_end_moved": EventType.TRIAL_END_MOVED,
    "return_found": EventType.RETURN_FOUND,
    "return_written_off": EventType.RETURN_WRITTEN_OFF,
    "attention_acknowledged": EventType.ATTENTION_ACKNOWLEDGED,
    "trial_closed": EventType.CLOSED,
    "return_shipped": EventType.RETURN_SHIPPED,
    "return_booking_requested": EventType.RETURN_BOOKING_REQUESTED,
    "return_booked": EventType.RETURN_BOOKED,
    "return_booking_failed": EventType.RETURN_BOOKING_FAILED,
    "return_received": EventType.RETURN_RECEIVED,
    "inspected": EventType.INSPECTED,
    "waived": EventType.WAIVED,
    "return_window_closed": EventType.RETURN_WINDOW_CLOSED,
    "cancel_requested": EventType.CANCEL_REQUESTED,
    "cancellation_refused": EventType.CANCELLATION_REFUSED,
    "payment_action_required": EventType.PAYMENT_ACTION_REQUIRED,
    "charged": EventType.CHARGED,
    "charge_declined": EventType.DECLINED,
    "capture_refused": EventType.CAPTURE_REFUSED,
    "refund_requested": EventType.REFUND_REQUESTED,
    "refunded": EventType.REFUNDED,
    "refund_declined": EventType.REFUND_DECLINED,
    "all_pieces_settled": EventType.ALL_SETTLED,
    "completed": EventType.COMPLETED,
    "cancelled": EventType.CANCELLED,
    "rejected": EventType.REJECTED,
}


class EventData(BaseModel):
    """What happened, and the trial as it stood once the change it belongs to was recorded."""

    trial_id: str = Field(description="The trial (`style-trial-<order_id>`).", examples=["style-trial-o-1001"])
    order_id: str = Field(description="The order that opened the trial.", examples=["o-1001"])
    customer_id: str = Field(description="The client's id in the order system; never a name.", examples=["c-77"])
    seq: int = Field(description="Position in the trial's audit trail; events of a trial arrive in this order.")
    kind: str = Field(description="The audit trail's own name for what happened.", examples=["decided"])
    actor: str | None = Field(description="Who did it: a staff or system id, `client`, or none for the clock.")
    channel: str | None = Field(description="How a decision arrived (app, whatsapp, phone, ...).")
    reference: str | None = Field(description="The outside reference: a tracking number, a message id.")
    piece_ids: list[str] = Field(description="The pieces it concerns.")
    status: TrialStatus = Field(description="The trial's status after the change this event belongs to.")
    currency: str = Field(description="ISO 4217 code of every amount.", examples=["EUR"])
    amounts: Amounts = Field(description="The trial's money in minor units after that change.")


class TrialEvent(BaseModel):
    """One event as subscribers receive it (the webhook body)."""

    id: str = Field(description="Stable and unique: the same event delivered twice has the same id.")
    type: EventType
    version: int = Field(description="The payload's version.", examples=[VERSION])
    occurred_at: datetime = Field(description="When it happened, UTC.")
    data: EventData


def event_id(trial_id: str, seq: int) -> str:
    """`evt_<32 hex digits naming the trial>_<seq>`: stable (the same event is the same id, whichever
    attempt projected it) and ASCII whatever the order id holds. The id travels in the `webhook-id` header,
    and an order id may be any script's letters (`注文-1`, `h-٣٤`), which no HTTP header can carry. 128 bits of
    SHA-256: two trials sharing a prefix is not a thing to plan for (about 10^-20 at ten million trials).
    Events stored before this scheme keep the id they were first sent with (`evt_<trial id>_<seq>`)."""
    digest = hashlib.sha256(trial_id.encode()).hexdigest()[:32]
    return f"evt_{digest}_{seq}"


def type_of(kind: str) -> EventType:
    return _BY_KIND.get(kind, EventType.OTHER)


def trial_events(view: TrialView, events: list[EventView]) -> list[TrialEvent]:
    """The outbox entries for `events` of `view`'s audit trail (those the read model has not stored yet)."""
    return [
        TrialEvent(
            id=event_id(view.trial_id, e.seq),
            type=type_of(e.kind),
            version=VERSION,
            occurred_at=e.at,
            data=EventData(
                trial_id=view.trial_id,
                order_id=view.order_id,
                customer_id=view.customer_id,
                seq=e.seq,
                kind=e.kind,
                actor=e.actor,
                channel=e.channel,
                reference=e.reference,
                piece_ids=e.piece_ids,
                status=view.status,
                currency=view.currency,
                amounts=view.amounts,
            ),
        )
        for e in events
    ]


def schemas() -> dict[str, dict[str, object]]:
    """A JSON Schema per event type: the envelope, with `type` fixed to that one (docs/trial-events.schema.json)."""
    envelope = TrialEvent.model_json_schema()
    out: dict[str, dict[str, object]] = {}
    for t in EventType:
        schema = json.loads(json.dumps(envelope))
        schema["title"] = t.value
        schema["properties"]["type"] = {"const": t.value, "title": "Type"}
        out[t.value] = schema
    return out
