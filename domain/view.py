"""The trial as people and systems read it: the query result, the API body, the workflow's result."""

from datetime import datetime

from pydantic import BaseModel

from domain.money import format_money
from domain.trial import Trial


class PieceView(BaseModel):
    piece_id: str
    sku: str
    description: str
    price: int
    state: str
    decision: str | None
    decided_by: str | None = None
    decided_via: str | None = None
    decided_at: datetime | None = None
    decision_reference: str | None = None
    parcel: str | None = None
    return_tracking: str | None = None
    return_shipped_at: datetime | None = None
    settlement: int | None = None
    charged: bool = False


class ParcelView(BaseModel):
    carrier: str
    tracking_number: str
    piece_ids: list[str]
    delivered_at: datetime | None
    recorded_by: str | None


class Amounts(BaseModel):
    value: int
    authorized: int
    charged: int
    released: int
    outstanding: int


class MovementView(BaseModel):
    key: str
    kind: str
    amount: int
    outcome: str
    at: datetime
    reference: str | None
    expires_at: datetime | None
    settlement: int | None
    decline_code: str | None


class SettlementView(BaseModel):
    number: int
    piece_ids: list[str]
    state: str
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
    status: str
    needs_attention: bool
    attention: dict[str, str]
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
    pieces: list[PieceView]
    parcels: list[ParcelView]
    amounts: Amounts
    settlements: list[SettlementView]
    movements: list[MovementView]
    events: list[EventView]

    def summary(self) -> str:
        """One plain sentence for people: status, pieces, money."""
        kept = sum(1 for p in self.pieces if p.state in ("KEPT", "KEPT_UNRETURNED", "DAMAGED"))
        return (
            f"Order {self.order_id}: {self.status.replace('_', ' ').lower()}, {len(self.pieces)} pieces worth "
            f"{format_money(self.amounts.value, self.currency)}; {kept} kept, "
            f"{format_money(self.amounts.charged, self.currency)} charged."
        )


KEPT_FATES = ("KEPT", "KEPT_UNRETURNED", "DAMAGED")


def search_values(view: TrialView) -> dict[str, str | int | bool | datetime | None]:
    """What staff filter on in the Temporal UI. Ids, statuses, dates and counts: no personal data."""
    return {
        "StyleTrialStatus": view.status,
        "CustomerId": view.customer_id,
        "CustomerTier": view.tier,
        "Region": view.region,
        "PersonalShopper": view.personal_shopper_id,
        "TrialEndsAt": view.trial_ends_at,
        "ReturnDeadline": view.return_deadline,
        "NeedsAttention": view.needs_attention,
        "PiecesKept": sum(1 for p in view.pieces if p.state in KEPT_FATES),
        "PiecesReturned": sum(1 for p in view.pieces if p.state == "RETURNED"),
    }


def details_markdown(view: TrialView) -> str:
    """The trial at a glance for the Temporal UI's current details: deadlines, money, every piece."""

    def money(amount: int) -> str:
        return format_money(amount, view.currency)

    def when(d: datetime | None) -> str:
        return f"{d:%d %b %H:%M} UTC" if d else "not yet"

    lines = [f"**{view.summary()}**", ""]
    for reason, text in view.attention.items():
        lines.append(f"- ⚠ **{reason.replace('_', ' ')}**: {text}")
    a = view.amounts
    lines += [
        f"- Trial ends: {when(view.trial_ends_at)} · returns due: {when(view.return_deadline)}"
        + (f" · extended {view.extension_days} day(s)" if view.extension_days else ""),
        f"- Money: authorized {money(a.authorized)} · charged {money(a.charged)} · released {money(a.released)}"
        f" · still chargeable {money(a.outstanding)}",
        "",
        "| Piece | Description | State | Decision | Price |",
        "|---|---|---|---|---:|",
    ]
    for p in view.pieces:
        decided = f"{p.decision} ({p.decided_via})" if p.decision and p.decided_via else (p.decision or "–")
        lines.append(f"| {p.piece_id} | {p.description} | {p.state} | {decided} | {money(p.price)} |")
    return "\n".join(lines)


def view_of(trial: Trial) -> TrialView:
    customer = trial.order.customer
    return TrialView(
        order_id=trial.order.order_id,
        trial_id=trial.trial_id,
        status=trial.status.value,
        needs_attention=bool(trial.journal.attention),
        attention={k.value: v for k, v in trial.journal.attention.items()},
        customer_id=customer.id,
        tier=customer.tier,
        region=customer.region,
        personal_shopper_id=customer.personal_shopper_id,
        currency=trial.currency,
        opened_at=trial.opened_at,
        accepted_at=trial.accepted_at,
        dispatched_at=trial.dispatched_at,
        trial_ends_at=trial.trial_ends_at,
        closed_at=trial.closed_at,
        return_deadline=trial.return_deadline,
        extension_days=trial.extension_days,
        pieces=[
            PieceView(
                piece_id=p.piece_id, sku=p.sku, description=p.description, price=p.price, state=p.state.value,
                decision=p.decision, decided_by=p.decided_by, decided_via=p.decided_via, decided_at=p.decided_at,
                decision_reference=p.decision_reference, parcel=p.parcel, return_tracking=p.return_tracking,
                return_shipped_at=p.return_shipped_at, settlement=p.settlement, charged=p.charged,
            )
            for p in trial.pieces.values()
        ],
        parcels=[
            ParcelView(
                carrier=x.carrier, tracking_number=x.tracking_number, piece_ids=x.piece_ids,
                delivered_at=x.delivered_at, recorded_by=x.recorded_by,
            )
            for x in trial.parcels.values()
        ],
        amounts=Amounts(
            value=trial.order.value, authorized=trial.payments.authorized, charged=trial.payments.charged,
            released=trial.payments.released, outstanding=trial.outstanding,
        ),
        settlements=[
            SettlementView(
                number=s.number, piece_ids=s.piece_ids, state=s.state, amount=trial.settlement_amount(s),
                declines=s.declines, next_attempt_at=s.next_attempt_at,
            )
            for s in trial.payments.settlements
        ],
        movements=[
            MovementView(
                key=m.key, kind=m.kind, amount=m.amount, outcome=m.outcome, at=m.at, reference=m.reference,
                expires_at=m.expires_at, settlement=m.settlement, decline_code=m.decline_code,
            )
            for m in trial.payments.movements
        ],
        events=[
            EventView(
                seq=e.seq, at=e.at, kind=e.kind, detail=e.detail, actor=e.actor, channel=e.channel,
                reference=e.reference, reason=e.reason, piece_ids=e.piece_ids,
            )
            for e in trial.journal.events
        ],
    )  # fmt: skip
