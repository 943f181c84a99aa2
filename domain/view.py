"""The trial as people and systems read it: the query result, the API body, the workflow's result."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, create_model

from domain.money import format_money
from domain.payments import MovementKind, Outcome, SettlementState
from domain.pieces import CHARGED_FATES, PieceFields
from domain.status import TrialStatus
from domain.trial import Trial


class PieceView(PieceFields):
    """A piece of the trial: what it is, where it stands, and what was decided, charged and refunded."""

    # Its fields are the aggregate's piece's, declared once in domain/pieces.py (`PieceFields`).


class ParcelView(BaseModel):
    carrier: str
    tracking_number: str
    piece_ids: list[str]
    delivered_at: datetime | None
    recorded_by: str | None
    lost_at: datetime | None = None


class ReturnBookingView(BaseModel):
    """A collection or a prepaid label asked for the pieces going back, and what the carrier made of it."""

    number: int
    kind: Literal["collection", "label"]
    piece_ids: list[str]
    state: Literal["requested", "booked", "failed", "shipped", "received"]
    requested_at: datetime
    requested_by: str
    slot_starts_at: datetime | None
    slot_ends_at: datetime | None
    carrier: str | None
    tracking_number: str | None
    failure: str | None


class AttentionView(BaseModel):
    """One reason the trial needs staff: what to do, since when, and who has it."""

    reason: str
    text: str
    since: datetime | None
    assignee: str | None


class ClaimView(BaseModel):
    """A claim for a parcel the carrier lost, and the carrier's answer."""

    tracking_number: str
    reason: str
    state: Literal["filed", "settled", "rejected", "withdrawn"]
    reference: str
    amount: int | None


class Amounts(BaseModel):
    value: int
    authorized: int
    charged: int
    released: int
    outstanding: int
    refunded: int = 0


class MovementView(BaseModel):
    key: str
    kind: MovementKind
    amount: int
    outcome: Outcome
    at: datetime
    reference: str | None
    expires_at: datetime | None
    settlement: int | None
    decline_code: str | None


class SettlementView(BaseModel):
    number: int
    piece_ids: list[str]
    state: SettlementState
    amount: int
    declines: int
    next_attempt_at: datetime | None


class EventView(BaseModel):
    seq: int
    at: datetime
    kind: str
    detail: str
    actor: str | None
    channel: str | None
    reference: str | None
    reason: str | None
    piece_ids: list[str]


class TrialView(BaseModel):
    order_id: str
    trial_id: str
    status: TrialStatus
    needs_attention: bool
    attention: dict[str, str]
    # The same reasons with their age and owner (none in views stored before they were kept).
    attention_items: list[AttentionView] = []
    customer_id: str
    tier: str
    region: str
    personal_shopper_id: str | None
    currency: str
    opened_at: datetime
    accepted_at: datetime | None
    dispatched_at: datetime | None
    trial_ends_at: datetime | None
    closed_at: datetime | None
    return_deadline: datetime | None
    extension_days: int
    # A completed trial's charged pieces may be refunded until then (null: no refund window open).
    refunds_until: datetime | None = None
    pieces: list[PieceView]
    parcels: list[ParcelView]
    # Collections and labels booked for the returns (none in views stored before they existed).
    return_bookings: list[ReturnBookingView] = []
    # Claims for parcels the carrier lost (none in views stored before they were kept).
    claims: list[ClaimView] = []
    amounts: Amounts
    settlements: list[SettlementView]
    movements: list[MovementView]
    events: list[EventView]

    def summary(self) -> str:
        """One plain sentence for people: status, pieces, money."""
        kept = sum(1 for p in self.pieces if p.state in CHARGED_FATES)
        return (
            f"Order {self.order_id}: {self.status.value.replace('_', ' ').lower()}, {len(self.pieces)} pieces worth "
            f"{format_money(self.amounts.value, self.currency)}; {kept} kept, "
            f"{format_money(self.amounts.charged, self.currency)} charged."
        )


# What a list shows of each trial: these fields of its view, in this order (`amounts.` ones from its amounts).
SUMMARY = (
    "order_id", "status", "needs_attention", "attention", "customer_id", "tier", "region", "currency",
    "amounts.value", "amounts.authorized", "amounts.charged", "amounts.released", "opened_at", "trial_ends_at",
    "return_deadline",
)  # fmt: skip


def _summary_model() -> type[BaseModel]:
    """The list's row, derived from the view's fields: a field's type is said once, in `TrialView` or
    `Amounts`. The read model's list query selects the same names (persistence/store.py, `LISTED`)."""
    fields: dict[str, Any] = {}
    for name in SUMMARY:
        model, field = (Amounts, name.split(".", 1)[1]) if name.startswith("amounts.") else (TrialView, name)
        fields[field] = (model.model_fields[field].annotation, ...)
    return create_model("TrialSummary", __doc__="One trial in a list: status, client, money and dates.", **fields)


TrialSummary = _summary_model()


def view_of(trial: Trial) -> TrialView:
    customer = trial.order.customer
    pay = trial.payments
    return TrialView(
        order_id=trial.order.order_id, trial_id=trial.trial_id, status=trial.status,
        needs_attention=bool(trial.journal.attention), attention={k.value: v for k, v in trial.journal.attention.items()},
        attention_items=[
            AttentionView(
                reason=k.value, text=v, since=trial.journal.attention_since.get(k),
                assignee=trial.journal.attention_owner.get(k),
            )
            for k, v in trial.journal.attention.items()
        ],
        customer_id=customer.id, tier=customer.tier, region=customer.region,
        personal_shopper_id=customer.personal_shopper_id, currency=trial.currency, opened_at=trial.opened_at,
        accepted_at=trial.accepted_at, dispatched_at=trial.shipping.dispatched_at, trial_ends_at=trial.trial_ends_at,
        closed_at=trial.closed_at, return_deadline=trial.return_deadline, extension_days=trial.clock.extension_days,
        refunds_until=trial.refunds_until,
        pieces=[PieceView.model_validate(p, from_attributes=True) for p in trial.pieces.values()],
        parcels=[ParcelView.model_validate(x, from_attributes=True) for x in trial.shipping.parcels.values()],
        return_bookings=[ReturnBookingView.model_validate(b, from_attributes=True) for b in trial.bookings.bookings],
        claims=[ClaimView.model_validate(c, from_attributes=True) for c in trial.claims.claims.values()],
        amounts=Amounts(
            value=trial.order.value, authorized=pay.authorized, charged=pay.charged, released=pay.released,
            outstanding=trial.billing.outstanding, refunded=pay.refunded,
        ),
        settlements=[
            SettlementView(
                number=s.number, piece_ids=s.piece_ids, state=s.state, amount=pay.amount(s), declines=s.declines,
                next_attempt_at=s.next_attempt_at,
            )
            for s in pay.settlements
        ],
        movements=[MovementView.model_validate(m, from_attributes=True) for m in pay.movements],
        events=[EventView.model_validate(e, from_attributes=True) for e in trial.journal.events],
    )  # fmt: skip


def merged(stored: TrialView, changes: TrialView) -> TrialView:
    """The trial after `changes`: a view whose pieces are only those that changed and whose events and
    movements are only the new ones (both lists only ever grow), applied to the `stored` view before it."""
    pieces = {p.piece_id: p for p in stored.pieces}
    pieces.update((p.piece_id, p) for p in changes.pieces)
    last_seq = stored.events[-1].seq if stored.events else 0
    known = {m.key for m in stored.movements}
    return changes.model_copy(
        update={
            "pieces": list(pieces.values()),
            "events": [*stored.events, *(e for e in changes.events if e.seq > last_seq)],
            "movements": [*stored.movements, *(m for m in changes.movements if m.key not in known)],
        }
    )
