"""The trial aggregate: one order on consignment, its pieces, its deadlines and its money.

Every command has a `validate_*` method that raises `DomainError` without touching state, and a method
that validates again and then applies the change; the workflow calls the first from update validators and
the second from update handlers. Time only ever arrives as an argument (`now`), so the same calls in the
same order always give the same trial: that is what makes the workflow replayable.

Side effects are requests, not calls: `next_step(now)` says what the outside world must do next (authorize,
capture, charge, release, reserve or release stock, notify) and `record(step, result, now)` takes the
answer. `tick(now)` applies every deadline that has passed.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from domain import commands as cmd
from domain.errors import DomainError, ErrorCode, require
from domain.money import format_money
from domain.order import TrialOrder, validate_order
from domain.policy import TrialPolicy
from domain.steps import (
    AuthorizationResult,
    AuthorizeRequest,
    CaptureRequest,
    ChargeRequest,
    Notification,
    NotificationKind,
    NotificationResult,
    PaymentResult,
    ReleaseRequest,
    ReleaseResult,
    Step,
    StepResult,
    StockRequest,
    StockResult,
)


class PieceState(StrEnum):
    RESERVED = "RESERVED"
    UNAVAILABLE = "UNAVAILABLE"
    IN_TRANSIT = "IN_TRANSIT"
    ON_TRIAL = "ON_TRIAL"
    KEPT = "KEPT"
    AWAITING_RETURN = "AWAITING_RETURN"
    RETURN_IN_TRANSIT = "RETURN_IN_TRANSIT"
    RETURNED = "RETURNED"
    DAMAGED = "DAMAGED"
    LOST_IN_RETURN = "LOST_IN_RETURN"
    KEPT_UNRETURNED = "KEPT_UNRETURNED"
    WAIVED = "WAIVED"


class TrialStatus(StrEnum):
    AUTHORIZING = "AUTHORIZING"
    AWAITING_DISPATCH = "AWAITING_DISPATCH"
    IN_TRANSIT = "IN_TRANSIT"
    ON_TRIAL = "ON_TRIAL"
    AWAITING_RETURNS = "AWAITING_RETURNS"
    SETTLING = "SETTLING"
    PAYMENT_ACTION_REQUIRED = "PAYMENT_ACTION_REQUIRED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


CHARGED_FATES = frozenset({PieceState.KEPT, PieceState.KEPT_UNRETURNED, PieceState.DAMAGED})
NEVER_CHARGED = frozenset({PieceState.UNAVAILABLE, PieceState.RETURNED, PieceState.LOST_IN_RETURN, PieceState.WAIVED})
TERMINAL = CHARGED_FATES | NEVER_CHARGED
FINAL_STATUSES = frozenset({TrialStatus.COMPLETED, TrialStatus.CANCELLED, TrialStatus.REJECTED})


class Attention(StrEnum):
    """Why a trial needs a person. Several can hold at once."""

    AUTHORIZATION_DECLINED = "authorization_declined"
    DISPATCH_OVERDUE = "dispatch_overdue"
    DELIVERY_OVERDUE = "delivery_overdue"
    REAUTHORIZATION_FAILED = "reauthorization_failed"
    SETTLEMENT_DECLINED = "settlement_declined"
    PAYMENT_ACTION_REQUIRED = "payment_action_required"
    RETURN_LOST = "return_lost"


@dataclass
class Piece:
    piece_id: str
    sku: str
    description: str
    price: int
    state: PieceState = PieceState.RESERVED
    decision: cmd.DecisionValue | None = None
    decided_by: str | None = None
    decided_via: cmd.Channel | None = None
    decided_at: datetime | None = None
    decision_reference: str | None = None
    parcel: str | None = None
    return_tracking: str | None = None
    return_shipped_at: datetime | None = None
    settlement: int | None = None
    charged: bool = False


@dataclass
class ParcelRecord:
    carrier: str
    tracking_number: str
    piece_ids: list[str]
    delivered_at: datetime | None = None
    recorded_by: str | None = None


HoldState = Literal["active", "consumed", "released", "expired", "failed"]


@dataclass
class Hold:
    """One authorization on the client's card."""

    number: int
    authorization_id: str
    amount: int
    remaining: int
    authorized_at: datetime
    expires_at: datetime
    state: HoldState = "active"
    reauth_attempts: int = 0
    reauth_failed: bool = False

    def usable(self, now: datetime) -> bool:
        return self.state == "active" and now < self.expires_at


SettlementState = Literal["due", "waiting", "action_required", "paid", "void"]


@dataclass
class Settlement:
    """One charge: number 1 at trial close (kept pieces), number 2 when every piece is terminal."""

    number: int
    piece_ids: list[str]
    state: SettlementState = "due"
    tries: int = 0
    declines: int = 0
    first_declined_at: datetime | None = None
    next_attempt_at: datetime | None = None
    amount_paid: int = 0
    reference: str | None = None


MovementKind = Literal["authorization", "capture", "charge", "release", "expiry"]


@dataclass
class Movement:
    key: str
    kind: MovementKind
    amount: int
    outcome: Literal["succeeded", "declined"]
    at: datetime
    reference: str | None = None
    expires_at: datetime | None = None
    settlement: int | None = None
    decline_code: str | None = None


@dataclass
class Event:
    seq: int
    at: datetime
    kind: str
    detail: str
    actor: str | None = None
    channel: str | None = None
    reference: str | None = None
    reason: str | None = None
    piece_ids: list[str] = field(default_factory=list)


class Trial:
    def __init__(self, order: TrialOrder, policy: TrialPolicy, now: datetime) -> None:
        validate_order(order, policy)
        self.order = order
        self.policy = policy
        self.trial_id = trial_id_for(order.order_id)
        self.currency = order.currency
        self.payment_method = order.payment_method
        self.opened_at = now
        self.pieces: dict[str, Piece] = {
            p.piece_id: Piece(p.piece_id, p.sku, p.description, p.price) for p in order.pieces
        }
        self.final_status: TrialStatus | None = None
        self.in_flight: Step | None = None
        # authorization
        self.auth_attempts = 0
        self.awaiting_payment_method = False
        self.fix_window_ends_at: datetime | None = None
        self.accepted_at: datetime | None = None
        self.holds: list[Hold] = []
        # stock
        self.stock_reserved = False
        self.stock_to_release: list[str] = []
        self.stock_releases = 0
        # fulfilment and the trial clock
        self.parcels: dict[str, ParcelRecord] = {}
        self.dispatched_at: datetime | None = None
        self.trial_days = order.trial_days or policy.trial_days
        self.extension_days = 0
        self.trial_ends_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.reminders_sent: set[tuple[int, datetime]] = set()
        self.sla_flagged: set[Attention] = set()
        # money
        self.settlements: list[Settlement] = []
        self.final_settlement_planned = False
        self.movements: list[Movement] = []
        # people
        self.attention: dict[Attention, str] = {}
        self.outbox: list[Notification] = []
        self.notifications_sent = 0
        self.events: list[Event] = []
        self._event(now, "opened", f"Trial opened for {len(self.pieces)} pieces worth {self._fmt(order.value)}.")

    # ------------------------------------------------------------------ derived state

    @property
    def status(self) -> TrialStatus:
        if self.final_status is not None:
            return self.final_status
        if self.accepted_at is None:
            return TrialStatus.AUTHORIZING
        if any(s.state == "action_required" for s in self.settlements):
            return TrialStatus.PAYMENT_ACTION_REQUIRED
        if self.dispatched_at is None:
            return TrialStatus.AWAITING_DISPATCH
        if self.closed_at is None:
            return TrialStatus.ON_TRIAL if self.trial_ends_at is not None else TrialStatus.IN_TRANSIT
        if all(p.state in TERMINAL for p in self.pieces.values()):
            return TrialStatus.SETTLING
        return TrialStatus.AWAITING_RETURNS

    @property
    def hold(self) -> Hold | None:
        """The current authorization, if one still stands."""
        return next((h for h in reversed(self.holds) if h.state == "active"), None)

    @property
    def return_deadline(self) -> datetime | None:
        end = self.closed_at or self.trial_ends_at
        return end + self.policy.return_window if end else None

    @property
    def outstanding(self) -> int:
        """Value that may still be charged: pieces neither charged nor in a never-charged fate."""
        return sum(p.price for p in self.pieces.values() if not p.charged and p.state not in NEVER_CHARGED)

    @property
    def charged(self) -> int:
        return sum(m.amount for m in self.movements if m.kind in ("capture", "charge") and m.outcome == "succeeded")

    @property
    def released(self) -> int:
        return sum(m.amount for m in self.movements if m.kind == "release" and m.outcome == "succeeded")

    @property
    def authorized(self) -> int:
        hold = self.hold
        return hold.remaining if hold else 0

    @property
    def finished(self) -> bool:
        """Nothing more will ever happen: a final status and no request left to make."""
        return self.final_status is not None and self.in_flight is None and self._pending_step(None) is None

    def settlement_amount(self, settlement: Settlement) -> int:
        # A piece waived after its settlement was planned (but before it was paid) drops out of it.
        return sum(self.pieces[p].price for p in settlement.piece_ids if self.pieces[p].state != PieceState.WAIVED)

    # ------------------------------------------------------------------ commands: dispatch

    def validate_dispatch(self, c: cmd.Dispatch, now: datetime) -> None:
        self._require_open()
        require(self.dispatched_at is None, ErrorCode.ALREADY_DISPATCHED, "This order has already been dispatched.")
        require(
            self.accepted_at is not None,
            ErrorCode.NOT_READY_FOR_DISPATCH,
            "The consignment value is not authorized yet; do not dispatch until the trial is awaiting dispatch.",
        )
        seen_pieces: set[str] = set()
        seen_tracking: set[str] = set()
        for parcel in c.parcels:
            require(
                bool(parcel.tracking_number.strip()) and bool(parcel.carrier.strip()),
                ErrorCode.MISSING_FIELD,
                "Every parcel needs a carrier and a tracking number.",
            )
            require(
                parcel.tracking_number not in seen_tracking,
                ErrorCode.DUPLICATE_TRACKING_NUMBER,
                f"Tracking number {parcel.tracking_number!r} is used for two parcels.",
            )
            seen_tracking.add(parcel.tracking_number)
            require(
                bool(parcel.piece_ids),
                ErrorCode.EMPTY_PARCEL,
                f"Parcel {parcel.tracking_number!r} has no pieces; leave unavailable pieces out of every parcel.",
            )
            for pid in parcel.piece_ids:
                self._require_piece(pid)
                require(
                    pid not in seen_pieces,
                    ErrorCode.PIECE_IN_TWO_PARCELS,
                    f"Piece {pid!r} is listed in more than one parcel.",
                )
                seen_pieces.add(pid)

    def dispatch(self, c: cmd.Dispatch, now: datetime) -> None:
        self.validate_dispatch(c, now)
        self.dispatched_at = now
        self.attention.pop(Attention.DISPATCH_OVERDUE, None)
        for parcel in c.parcels:
            self.parcels[parcel.tracking_number] = ParcelRecord(
                parcel.carrier, parcel.tracking_number, list(parcel.piece_ids)
            )
            for pid in parcel.piece_ids:
                piece = self.pieces[pid]
                piece.parcel = parcel.tracking_number
                if piece.state == PieceState.RESERVED:
                    piece.state = PieceState.IN_TRANSIT
        unavailable = [p.piece_id for p in self.pieces.values() if p.state == PieceState.RESERVED]
        for pid in unavailable:
            self.pieces[pid].state = PieceState.UNAVAILABLE
        self._release_stock(unavailable)
        self._event(
            now,
            "dispatched",
            f"Dispatched in {len(c.parcels)} parcel(s); {len(unavailable)} piece(s) unavailable.",
            piece_ids=unavailable,
        )
        if not self.parcels:
            self._end(now, TrialStatus.CANCELLED, "No piece could be picked: every piece was unavailable.")
        self._advance(now)

    # ------------------------------------------------------------------ commands: delivery

    def validate_delivery(self, c: cmd.Delivery, now: datetime) -> None:
        self._require_open()
        require(self.dispatched_at is not None, ErrorCode.NOT_DISPATCHED, "Nothing has been dispatched yet.")
        parcel = self.parcels.get(c.tracking_number)
        if parcel is None:
            raise DomainError(
                ErrorCode.UNKNOWN_PARCEL, f"No parcel of this order has tracking number {c.tracking_number!r}."
            )
        require(
            parcel.delivered_at is None,
            ErrorCode.ALREADY_DELIVERED,
            f"Parcel {c.tracking_number!r} was already delivered.",
        )
        if c.actor is not None or c.reason is not None:
            self._require_actor_and_reason(c.actor, c.reason, "A delivery recorded by staff")
        when = c.delivered_at or now
        require(when.tzinfo is not None, ErrorCode.INVALID_DELIVERY_TIME, "delivered_at must include a time zone.")
        require(when <= now, ErrorCode.INVALID_DELIVERY_TIME, "delivered_at is in the future.")
        assert self.dispatched_at is not None
        require(
            when >= self.dispatched_at,
            ErrorCode.INVALID_DELIVERY_TIME,
            "delivered_at is before the order was dispatched.",
        )

    def deliver(self, c: cmd.Delivery, now: datetime) -> None:
        self.validate_delivery(c, now)
        parcel = self.parcels[c.tracking_number]
        parcel.delivered_at = c.delivered_at or now
        parcel.recorded_by = c.actor
        for pid in parcel.piece_ids:
            if self.pieces[pid].state == PieceState.IN_TRANSIT:
                self.pieces[pid].state = PieceState.ON_TRIAL
        self._event(
            now,
            "delivered",
            f"Parcel {parcel.tracking_number} ({parcel.carrier}) delivered at {parcel.delivered_at:%d %b %H:%M} UTC.",
            actor=c.actor,
            reason=c.reason,
            piece_ids=list(parcel.piece_ids),
        )
        if all(p.delivered_at is not None for p in self.parcels.values()):
            # The seven-day clock starts when the last parcel arrives, not at dispatch.
            last = max(p.delivered_at for p in self.parcels.values() if p.delivered_at is not None)
            self.trial_ends_at = last + self.policy.day * self.trial_days
            self.attention.pop(Attention.DELIVERY_OVERDUE, None)
            self._event(now, "trial_started", f"Trial runs until {self.trial_ends_at:%d %b %H:%M} UTC.")
        self._advance(now)

    # ------------------------------------------------------------------ commands: decisions

    def validate_decisions(self, c: cmd.Decisions, now: datetime) -> None:
        self._require_open()
        require(bool(c.decisions), ErrorCode.NO_DECISIONS, "Send at least one decision.")
        require(bool(c.actor.strip()), ErrorCode.ACTOR_REQUIRED, "A decision must say who made it (actor).")
        require(
            self.closed_at is None and not self._past_trial_end(now),
            ErrorCode.TRIAL_CLOSED,
            "The trial has closed; decisions can no longer change. Ship returns instead.",
        )
        seen: set[str] = set()
        for d in c.decisions:
            piece = self._require_piece(d.piece_id)
            require(
                d.piece_id not in seen,
                ErrorCode.DUPLICATE_DECISION,
                f"Piece {d.piece_id!r} has two decisions in one request.",
            )
            seen.add(d.piece_id)
            if piece.state in (PieceState.RETURN_IN_TRANSIT, PieceState.RETURNED, PieceState.DAMAGED):
                require(
                    d.decision == "return",
                    ErrorCode.RETURN_ALREADY_SHIPPED,
                    f"Piece {d.piece_id!r} is already on its way back; it cannot become keep.",
                )
                continue
            require(
                piece.state not in (PieceState.RESERVED, PieceState.IN_TRANSIT),
                ErrorCode.NOT_DELIVERED,
                f"Piece {d.piece_id!r} has not been delivered yet; decide once it arrives.",
            )
            require(
                piece.state == PieceState.ON_TRIAL,
                ErrorCode.PIECE_NOT_DECIDABLE,
                f"Piece {d.piece_id!r} is {piece.state.value.lower().replace('_', ' ')}; it takes no decision.",
            )

    def decide(self, c: cmd.Decisions, now: datetime) -> None:
        self.validate_decisions(c, now)
        changed = []
        for d in c.decisions:
            piece = self.pieces[d.piece_id]
            if piece.state != PieceState.ON_TRIAL:
                continue  # a "return" for a piece already shipped back changes nothing
            piece.decision = d.decision
            piece.decided_by, piece.decided_via, piece.decided_at = c.actor, c.channel, now
            piece.decision_reference = c.reference
            changed.append(d.piece_id)
        summary = ", ".join(f"{d.piece_id}={d.decision}" for d in c.decisions)
        self._event(
            now, "decided", f"Decisions: {summary}.", actor=c.actor, channel=c.channel,
            reference=c.reference, piece_ids=changed,
        )  # fmt: skip

    def validate_finish(self, c: cmd.FinishEarly, now: datetime) -> None:
        self._require_open()
        require(bool(c.actor.strip()), ErrorCode.ACTOR_REQUIRED, "Finishing early must say who asked (actor).")
        require(
            self.closed_at is None and not self._past_trial_end(now),
            ErrorCode.TRIAL_CLOSED,
            "The trial has already closed.",
        )
        require(
            self.status == TrialStatus.ON_TRIAL,
            ErrorCode.NOT_ON_TRIAL,
            "The client can finish early only once every parcel has been delivered.",
        )
        undecided = [p.piece_id for p in self.pieces.values() if p.state == PieceState.ON_TRIAL and p.decision is None]
        require(
            not undecided,
            ErrorCode.UNDECIDED_PIECES,
            f"Every piece needs a decision before finishing early; undecided: {', '.join(undecided)}.",
        )

    def finish_early(self, c: cmd.FinishEarly, now: datetime) -> None:
        self.validate_finish(c, now)
        self._event(now, "finished_early", "The client finished the trial early.", actor=c.actor, channel=c.channel)
        self._close(now)
        self._advance(now)

    # ------------------------------------------------------------------ commands: returns

    def validate_return(self, c: cmd.ReturnShipped, now: datetime) -> None:
        self._require_open()
        require(bool(c.piece_ids), ErrorCode.MISSING_FIELD, "A return must list the pieces it carries.")
        require(
            bool(c.carrier.strip()) and bool(c.tracking_number.strip()),
            ErrorCode.MISSING_FIELD,
            "A return needs a carrier and a tracking number.",
        )
        require(len(set(c.piece_ids)) == len(c.piece_ids), ErrorCode.DUPLICATE_PIECE, "A piece is listed twice.")
        for pid in c.piece_ids:
            piece = self._require_piece(pid)
            deadline = self.return_deadline
            late = piece.state == PieceState.AWAITING_RETURN and deadline is not None and now >= deadline
            if piece.state == PieceState.KEPT_UNRETURNED or late:
                raise DomainError(
                    ErrorCode.RETURN_WINDOW_CLOSED,
                    f"The return window closed before piece {pid!r} was shipped back; it was kept.",
                )
            require(
                piece.state not in (PieceState.RESERVED, PieceState.IN_TRANSIT),
                ErrorCode.NOT_DELIVERED,
                f"Piece {pid!r} has not been delivered yet.",
            )
            require(
                piece.state in (PieceState.ON_TRIAL, PieceState.AWAITING_RETURN),
                ErrorCode.NOT_RETURNABLE,
                f"Piece {pid!r} is {piece.state.value.lower().replace('_', ' ')} and cannot be returned here.",
            )

    def ship_return(self, c: cmd.ReturnShipped, now: datetime) -> None:
        self.validate_return(c, now)
        for pid in c.piece_ids:
            piece = self.pieces[pid]
            piece.state = PieceState.RETURN_IN_TRANSIT
            piece.decision = "return"
            piece.return_tracking, piece.return_shipped_at = c.tracking_number, now
        self._event(
            now, "return_shipped", f"Return shipped with {c.carrier} ({c.tracking_number}).",
            piece_ids=list(c.piece_ids),
        )  # fmt: skip
        self._advance(now)

    def validate_inspection(self, c: cmd.Inspection, now: datetime) -> None:
        self._require_open()
        piece = self._require_piece(c.piece_id)
        require(
            piece.state == PieceState.RETURN_IN_TRANSIT,
            ErrorCode.RETURN_NOT_SHIPPED,
            f"Piece {c.piece_id!r} has no return on its way ({piece.state.value}); nothing to inspect.",
        )

    def inspect(self, c: cmd.Inspection, now: datetime) -> None:
        self.validate_inspection(c, now)
        piece = self.pieces[c.piece_id]
        piece.state = PieceState.RETURNED if c.condition == "ok" else PieceState.DAMAGED
        self._event(now, "inspected", f"Return of {c.piece_id} received: {c.condition}.", piece_ids=[c.piece_id])
        self._advance(now)

    # ------------------------------------------------------------------ commands: staff

    def validate_extension(self, c: cmd.Extension, now: datetime) -> None:
        self._require_open()
        self._require_actor_and_reason(c.actor, c.reason, "An extension")
        require(not self._past_trial_end(now), ErrorCode.TRIAL_CLOSED, "The trial has already ended.")
        require(
            self.status == TrialStatus.ON_TRIAL,
            ErrorCode.NOT_ON_TRIAL,
            "Only a trial in progress (every parcel delivered, not yet closed) can be extended.",
        )
        p = self.policy
        require(
            p.extension_min_days <= c.days <= p.extension_max_days,
            ErrorCode.INVALID_EXTENSION,
            f"An extension is {p.extension_min_days} to {p.extension_max_days} days at a time; got {c.days}.",
        )
        require(
            self.extension_days + c.days <= p.extension_total_max_days,
            ErrorCode.EXTENSION_LIMIT,
            f"Extensions are capped at {p.extension_total_max_days} days in total; "
            f"{self.extension_days} already granted, {p.extension_total_max_days - self.extension_days} left.",
        )

    def extend(self, c: cmd.Extension, now: datetime) -> None:
        self.validate_extension(c, now)
        assert self.trial_ends_at is not None
        self.extension_days += c.days
        self.trial_ends_at += self.policy.day * c.days
        self._event(
            now, "extended", f"Extended by {c.days} day(s) to {self.trial_ends_at:%d %b %H:%M} UTC.",
            actor=c.actor, reason=c.reason,
        )  # fmt: skip

    def validate_waiver(self, c: cmd.Waiver, now: datetime) -> None:
        self._require_open()
        self._require_actor_and_reason(c.actor, c.reason, "A waiver")
        piece = self._require_piece(c.piece_id)
        require(not piece.charged, ErrorCode.NOT_WAIVABLE, f"Piece {c.piece_id!r} has already been charged.")
        require(
            piece.state not in NEVER_CHARGED,
            ErrorCode.NOT_WAIVABLE,
            f"Piece {c.piece_id!r} is {piece.state.value.lower().replace('_', ' ')}; it will never be charged.",
        )
        require(
            not self._being_charged(c.piece_id),
            ErrorCode.NOT_WAIVABLE,
            f"Piece {c.piece_id!r} is being charged right now; try again in a moment.",
        )

    def waive(self, c: cmd.Waiver, now: datetime) -> None:
        self.validate_waiver(c, now)
        self.pieces[c.piece_id].state = PieceState.WAIVED
        self._event(
            now, "waived", f"Piece {c.piece_id} waived.", actor=c.actor, reason=c.reason, piece_ids=[c.piece_id]
        )
        self._advance(now)

    def validate_payment_method(self, c: cmd.NewPaymentMethod, now: datetime) -> None:
        self._require_open()
        require(bool(c.actor.strip()), ErrorCode.ACTOR_REQUIRED, "A payment method change must name the actor.")
        require(
            bool(c.payment_method.strip()),
            ErrorCode.INVALID_PAYMENT_METHOD,
            "The new payment method must not be empty.",
        )

    def change_payment_method(self, c: cmd.NewPaymentMethod, now: datetime) -> None:
        self.validate_payment_method(c, now)
        self.payment_method = c.payment_method
        # A new method retries at once whatever was waiting on the old one.
        self.awaiting_payment_method = False
        hold = self.hold
        if hold is not None:
            hold.reauth_failed = False
        for s in self.settlements:
            if s.state in ("waiting", "action_required"):
                s.state, s.next_attempt_at = "due", None
        self._event(now, "payment_method_changed", "A new payment method was supplied.", actor=c.actor)

    def validate_cancel(self, c: cmd.Cancel, now: datetime) -> None:
        self._require_open()
        self._require_actor_and_reason(c.actor, c.reason, "A cancellation")
        require(
            self.dispatched_at is None,
            ErrorCode.NOT_CANCELLABLE,
            "The order has been dispatched; a trial can be cancelled only before dispatch.",
        )

    def cancel(self, c: cmd.Cancel, now: datetime) -> None:
        self.validate_cancel(c, now)
        self._event(now, "cancel_requested", "Cancellation requested.", actor=c.actor, reason=c.reason)
        self._end(now, TrialStatus.CANCELLED, f"Cancelled before dispatch: {c.reason}")

    def refuse_cancellation(self, c: cmd.Cancel, now: datetime, why: str) -> None:
        """A cancellation that did not come as a command (Temporal's UI or CLI) and may not be carried out:
        it cannot be answered with an error, so it is written down where staff will see it."""
        self._event(now, "cancellation_refused", f"Cancellation refused: {why}", actor=c.actor, reason=c.reason)

    # ------------------------------------------------------------------ time

    def tick(self, now: datetime) -> None:
        """Apply every deadline that has passed by `now`. Calling it twice changes nothing more."""
        if self.final_status is not None:
            return
        p = self.policy
        if (
            self.accepted_at is None
            and self.awaiting_payment_method
            and self.fix_window_ends_at is not None
            and now >= self.fix_window_ends_at
            and not isinstance(self.in_flight, AuthorizeRequest)
        ):
            self._notify(
                NotificationKind.TRIAL_REJECTED,
                ["shopper"],
                "No payment method could be authorized in time; the Style Trial was not opened.",
            )
            self._end(now, TrialStatus.REJECTED, "No payment method was authorized within the fix window.")
            return
        for hold in self.holds:
            if hold.state == "active" and now >= hold.expires_at:
                hold.state = "expired"
                self._movement(
                    f"{self.trial_id}-hold-{hold.number}-expired",
                    "expiry",
                    hold.remaining,
                    now,
                    reference=hold.authorization_id,
                )
                self._event(
                    now,
                    "authorization_expired",
                    f"Authorization {hold.number} expired unused ({self._fmt(hold.remaining)}).",
                )
                hold.remaining = 0
        status = self.status
        if status == TrialStatus.AWAITING_DISPATCH and self.accepted_at and now >= self.accepted_at + p.dispatch_sla:
            self._flag_sla(
                now,
                Attention.DISPATCH_OVERDUE,
                NotificationKind.DISPATCH_OVERDUE,
                "Not dispatched within the dispatch SLA.",
            )
        if status == TrialStatus.IN_TRANSIT and self.dispatched_at and now >= self.dispatched_at + p.delivery_sla:
            self._flag_sla(
                now,
                Attention.DELIVERY_OVERDUE,
                NotificationKind.DELIVERY_OVERDUE,
                "Not every parcel was delivered within the delivery SLA.",
            )
        if status == TrialStatus.ON_TRIAL and self.trial_ends_at is not None:
            for i, before in enumerate(p.reminders_before_end):
                mark = (i, self.trial_ends_at)
                if self.trial_ends_at - before <= now < self.trial_ends_at and mark not in self.reminders_sent:
                    self.reminders_sent.add(mark)
                    left = self.trial_ends_at - now
                    self._notify(
                        NotificationKind.TRIAL_ENDING,
                        ["client", "shopper"],
                        f"The Style Trial ends in {_hours(left)} hours ({self.trial_ends_at:%d %b %H:%M} UTC).",
                    )
            if now >= self.trial_ends_at:
                self._close(now)
        deadline = self.return_deadline
        if self.closed_at is not None and deadline is not None and now >= deadline:
            late = [x.piece_id for x in self.pieces.values() if x.state == PieceState.AWAITING_RETURN]
            for pid in late:
                self.pieces[pid].state = PieceState.KEPT_UNRETURNED
            if late:
                self._event(
                    now,
                    "return_window_closed",
                    f"{len(late)} piece(s) not shipped back in time are kept.",
                    piece_ids=late,
                )
        for piece in self.pieces.values():
            if (
                piece.state == PieceState.RETURN_IN_TRANSIT
                and piece.return_shipped_at
                and now >= piece.return_shipped_at + p.return_receipt
            ):
                piece.state = PieceState.LOST_IN_RETURN
                self.attention[Attention.RETURN_LOST] = "A return never reached the warehouse: open a carrier claim."
                self._notify(
                    NotificationKind.RETURN_LOST,
                    ["staff"],
                    f"Return {piece.return_tracking} of piece {piece.piece_id} was not received within the receipt window.",
                )
                self._event(
                    now,
                    "return_lost",
                    f"Return of {piece.piece_id} not received; lost in return.",
                    piece_ids=[piece.piece_id],
                )
        for s in self.settlements:
            if s.state == "waiting" and s.next_attempt_at is not None and now >= s.next_attempt_at:
                s.state = "due"
        self._advance(now)

    def next_deadline(self, now: datetime) -> tuple[datetime, str] | None:
        """The earliest future moment at which `tick` would change something, with a label for the timer."""
        if self.final_status is not None:
            return None
        p = self.policy
        candidates: list[tuple[datetime, str]] = []
        if self.accepted_at is None and self.awaiting_payment_method and self.fix_window_ends_at:
            candidates.append((self.fix_window_ends_at, "Payment fix window ends"))
        for hold in self.holds:
            if hold.state == "active":
                candidates.append((hold.expires_at, f"Authorization {hold.number} expires"))
                reauth_at = self._reauth_at(hold)
                if reauth_at is not None:
                    candidates.append((reauth_at, f"Re-authorize before authorization {hold.number} expires"))
        status = self.status
        if (
            status == TrialStatus.AWAITING_DISPATCH
            and self.accepted_at
            and Attention.DISPATCH_OVERDUE not in self.sla_flagged
        ):
            candidates.append((self.accepted_at + p.dispatch_sla, "Dispatch SLA"))
        if (
            status == TrialStatus.IN_TRANSIT
            and self.dispatched_at
            and Attention.DELIVERY_OVERDUE not in self.sla_flagged
        ):
            candidates.append((self.dispatched_at + p.delivery_sla, "Delivery SLA"))
        if status == TrialStatus.ON_TRIAL and self.trial_ends_at is not None:
            for i, before in enumerate(p.reminders_before_end):
                if (i, self.trial_ends_at) not in self.reminders_sent:
                    candidates.append(
                        (self.trial_ends_at - before, f"Reminder {_hours(before)} h before the trial ends")
                    )
            candidates.append((self.trial_ends_at, f"Trial ends {self.trial_ends_at:%d %b %H:%M} UTC"))
        deadline = self.return_deadline
        if (
            self.closed_at is not None
            and deadline
            and any(x.state == PieceState.AWAITING_RETURN for x in self.pieces.values())
        ):
            candidates.append((deadline, f"Return window closes {deadline:%d %b %H:%M} UTC"))
        for piece in self.pieces.values():
            if piece.state == PieceState.RETURN_IN_TRANSIT and piece.return_shipped_at:
                candidates.append(
                    (piece.return_shipped_at + p.return_receipt, f"Return of {piece.piece_id} due at the warehouse")
                )
        for s in self.settlements:
            if s.state == "waiting" and s.next_attempt_at:
                candidates.append((s.next_attempt_at, f"Retry settlement {s.number}"))
        future = [c for c in candidates if c[0] > now]
        return min(future, key=lambda c: c[0]) if future else None

    # ------------------------------------------------------------------ side effects

    def next_step(self, now: datetime) -> Step | None:
        """The next request for the outside world, or None. Pure: asking twice gives the same answer."""
        if self.in_flight is not None:
            return None
        return self._pending_step(now)

    def begin(self, step: Step) -> None:
        """The workflow is about to run `step`; commands that would race it are refused until `record`."""
        self.in_flight = step

    def record(self, step: Step, result: StepResult, now: datetime) -> None:
        self.in_flight = None
        if isinstance(step, AuthorizeRequest) and isinstance(result, AuthorizationResult):
            self._record_authorization(step, result, now)
        elif isinstance(step, CaptureRequest | ChargeRequest) and isinstance(result, PaymentResult):
            self._record_payment(step, result, now)
        elif isinstance(step, ReleaseRequest) and isinstance(result, ReleaseResult):
            self._record_release(step, result, now)
        elif isinstance(step, StockRequest) and isinstance(result, StockResult):
            self._record_stock(step, now)
        elif isinstance(step, Notification) and isinstance(result, NotificationResult):
            self.outbox = [n for n in self.outbox if n.key != step.key]
        else:
            raise TypeError(f"{type(result).__name__} does not answer {type(step).__name__}")
        self._advance(now)

    def _pending_step(self, now: datetime | None) -> Step | None:
        # `now` is None only when asking whether anything at all remains (see `finished`).
        if self.outbox:
            return self.outbox[0]
        at = now or self.opened_at
        tid = self.trial_id
        for old in self.holds:
            # Holds of an ended trial, and holds replaced by a re-authorization, are given back.
            replaced = old is not self.hold
            if old.state == "active" and old.remaining > 0 and (self.final_status is not None or replaced):
                return self._release(old, at)
        if self.stock_to_release:
            return StockRequest(
                key=f"{tid}-stock-release-{self.stock_releases + 1}",
                trial_id=tid,
                action="release",
                piece_ids=list(self.stock_to_release),
            )
        if self.final_status is not None or now is None:
            return None
        if self.accepted_at is None:
            if self.awaiting_payment_method:
                return None
            return AuthorizeRequest(
                key=f"{tid}-authorize-{self.auth_attempts + 1}",
                trial_id=tid,
                amount=self.order.value,
                currency=self.currency,
                payment_method=self.payment_method,
                merchant_initiated=False,
                at=now,
            )
        if not self.stock_reserved:
            return StockRequest(key=f"{tid}-stock-reserve", trial_id=tid, action="reserve", piece_ids=list(self.pieces))
        hold = self.hold
        if hold is not None:
            reauth_at = self._reauth_at(hold)
            if reauth_at is not None and now >= reauth_at:
                return AuthorizeRequest(
                    key=f"{tid}-reauthorize-{hold.number}-{hold.reauth_attempts + 1}",
                    trial_id=tid,
                    amount=self.outstanding,
                    currency=self.currency,
                    payment_method=self.payment_method,
                    merchant_initiated=True,
                    at=now,
                )
        for s in self.settlements:
            if s.state != "due":
                continue
            amount = self.settlement_amount(s)
            key = f"{tid}-settlement-{s.number}-{s.tries + 1}"
            if hold is not None and hold.usable(now) and amount <= hold.remaining:
                return CaptureRequest(
                    key=key,
                    trial_id=tid,
                    authorization_id=hold.authorization_id,
                    amount=amount,
                    currency=self.currency,
                    settlement=s.number,
                    at=now,
                )
            # No standing hold covers it (expired, consumed by a first capture, or too small): charge
            # the saved payment method off-session. An expired authorization is never captured.
            return ChargeRequest(
                key=key,
                trial_id=tid,
                amount=amount,
                currency=self.currency,
                payment_method=self.payment_method,
                settlement=s.number,
                at=now,
            )
        if self._ready_to_complete() and hold is not None and hold.remaining > 0:
            return self._release(hold, now)
        return None

    def _release(self, hold: Hold, at: datetime) -> ReleaseRequest:
        return ReleaseRequest(
            key=f"{self.trial_id}-release-{hold.number}",
            trial_id=self.trial_id,
            authorization_id=hold.authorization_id,
            currency=self.currency,
            at=at,
        )

    def _reauth_at(self, hold: Hold) -> datetime | None:
        """When to re-authorize the outstanding value, or None when no re-authorization is due."""
        if hold is not self.hold or hold.reauth_failed or self.final_status is not None or self.outstanding <= 0:
            return None
        at = hold.expires_at - self.policy.reauthorize_before_expiry
        # A hold so short-lived that it is due for renewal the moment it stands would renew forever.
        return at if at > hold.authorized_at else None

    def _record_authorization(self, step: AuthorizeRequest, r: AuthorizationResult, now: datetime) -> None:
        outcome: Literal["succeeded", "declined"] = "succeeded" if r.approved else "declined"
        self._movement(
            step.key,
            "authorization",
            step.amount,
            now,
            outcome=outcome,
            reference=r.authorization_id,
            expires_at=r.expires_at,
            decline_code=r.decline_code,
        )
        if not step.merchant_initiated:
            self.auth_attempts += 1
            if r.approved:
                self._add_hold(r, now)
                self.accepted_at = now
                self.awaiting_payment_method = False
                self.attention.pop(Attention.AUTHORIZATION_DECLINED, None)
                if self.final_status is None:
                    self._event(now, "authorized", f"Authorized {self._fmt(step.amount)}; awaiting dispatch.")
                else:
                    self._event(now, "authorized", "Authorized after the trial ended; the hold is released.")
                return
            self.awaiting_payment_method = True
            if self.fix_window_ends_at is None:
                self.fix_window_ends_at = now + self.policy.payment_fix_window
            self.attention[Attention.AUTHORIZATION_DECLINED] = (
                f"The payment method was declined ({r.decline_code}); a new one is needed by {self.fix_window_ends_at:%d %b %H:%M} UTC."
            )
            self._notify(
                NotificationKind.AUTHORIZATION_DECLINED,
                ["shopper"],
                f"Authorization of {self._fmt(step.amount)} was declined ({r.decline_code}). Supply another payment method by {self.fix_window_ends_at:%d %b %H:%M} UTC.",
            )
            self._event(now, "authorization_declined", f"Authorization declined: {r.decline_code}.")
            return
        hold = self.hold
        if hold is not None:
            hold.reauth_attempts += 1
        if r.approved:
            new = self._add_hold(r, now)
            self.attention.pop(Attention.REAUTHORIZATION_FAILED, None)
            self._event(
                now,
                "reauthorized",
                f"Re-authorized the outstanding {self._fmt(step.amount)} until {new.expires_at:%d %b %H:%M} UTC.",
            )
            if self.final_status is not None:
                return
        else:
            if hold is not None:
                hold.reauth_failed = True
            self.attention[Attention.REAUTHORIZATION_FAILED] = (
                f"Re-authorization was declined ({r.decline_code}); settlement will charge off-session."
            )
            self._notify(
                NotificationKind.REAUTHORIZATION_FAILED,
                ["shopper", "staff"],
                f"Re-authorizing {self._fmt(step.amount)} was declined ({r.decline_code}).",
            )
            self._event(now, "reauthorization_declined", f"Re-authorization declined: {r.decline_code}.")

    def _add_hold(self, r: AuthorizationResult, now: datetime) -> Hold:
        assert r.authorization_id is not None and r.expires_at is not None
        hold = Hold(len(self.holds) + 1, r.authorization_id, r.amount, r.amount, now, r.expires_at)
        self.holds.append(hold)
        return hold

    def _record_payment(self, step: CaptureRequest | ChargeRequest, r: PaymentResult, now: datetime) -> None:
        s = self.settlements[step.settlement - 1]
        s.tries += 1
        kind: MovementKind = "capture" if isinstance(step, CaptureRequest) else "charge"
        self._movement(
            step.key,
            kind,
            step.amount,
            now,
            outcome="succeeded" if r.approved else "declined",
            reference=r.reference,
            settlement=s.number,
            decline_code=r.decline_code,
        )
        hold = next(
            (h for h in self.holds if isinstance(step, CaptureRequest) and h.authorization_id == step.authorization_id),
            None,
        )
        if r.approved:
            if hold is not None:
                hold.remaining = r.remaining_authorized
                if r.released:
                    self._movement(f"{step.key}-remainder", "release", r.released, now, reference=hold.authorization_id)
                if hold.remaining == 0:
                    hold.state = "consumed"
            s.state, s.amount_paid, s.reference = "paid", step.amount, r.reference
            for pid in s.piece_ids:
                if self.pieces[pid].state != PieceState.WAIVED:
                    self.pieces[pid].charged = True
            if not any(x.state in ("waiting", "action_required") for x in self.settlements):
                self.attention.pop(Attention.SETTLEMENT_DECLINED, None)
                self.attention.pop(Attention.PAYMENT_ACTION_REQUIRED, None)
            self._event(
                now,
                "charged",
                f"Settlement {s.number}: {kind} of {self._fmt(step.amount)} succeeded.",
                piece_ids=[p for p in s.piece_ids if self.pieces[p].charged],
            )
            return
        if hold is not None:
            # A capture refused on a hold we believed valid: stop trusting the hold and charge
            # off-session straight away (this is not the client's decline, so no dunning yet).
            hold.state = "failed"
            self._event(
                now,
                "capture_refused",
                f"Capture on authorization {hold.number} refused ({r.decline_code}); charging off-session.",
            )
            return
        s.declines += 1
        if s.first_declined_at is None:
            s.first_declined_at = now
        schedule = self.policy.dunning_schedule
        if s.declines <= len(schedule):
            s.state, s.next_attempt_at = "waiting", s.first_declined_at + schedule[s.declines - 1]
            self.attention[Attention.SETTLEMENT_DECLINED] = (
                f"Settlement {s.number} was declined ({r.decline_code}); retrying {s.next_attempt_at:%d %b %H:%M} UTC."
            )
            self._notify(
                NotificationKind.PAYMENT_DECLINED,
                ["shopper"],
                f"Charging {self._fmt(step.amount)} was declined ({r.decline_code}); it will be retried {s.next_attempt_at:%d %b %H:%M} UTC.",
            )
            self._event(
                now,
                "charge_declined",
                f"Settlement {s.number} declined ({r.decline_code}); retry {s.declines} of {len(schedule)} scheduled.",
            )
        else:
            s.state, s.next_attempt_at = "action_required", None
            self.attention.pop(Attention.SETTLEMENT_DECLINED, None)
            self.attention[Attention.PAYMENT_ACTION_REQUIRED] = (
                f"Settlement {s.number} ({self._fmt(step.amount)}) is still declined after every retry: supply a new payment method."
            )
            self._notify(
                NotificationKind.PAYMENT_ACTION_REQUIRED,
                ["shopper", "staff"],
                f"Charging {self._fmt(step.amount)} failed after every retry; a new payment method is needed.",
            )
            self._event(
                now,
                "payment_action_required",
                f"Settlement {s.number} declined after {s.declines} attempts; waiting for staff.",
            )

    def _record_release(self, step: ReleaseRequest, r: ReleaseResult, now: datetime) -> None:
        hold = next(h for h in self.holds if h.authorization_id == step.authorization_id)
        self._movement(step.key, "release", r.released, now, reference=hold.authorization_id)
        hold.state, hold.remaining = "released", 0
        self._event(now, "released", f"Released {self._fmt(r.released)} of authorization {hold.number}.")

    def _record_stock(self, step: StockRequest, now: datetime) -> None:
        if step.action == "reserve":
            self.stock_reserved = True
            if self.final_status is not None:
                # Cancelled while the reservation was being made: give the stock straight back.
                self._release_stock([p.piece_id for p in self.pieces.values()])
            return
        self.stock_releases += 1
        self.stock_to_release = [p for p in self.stock_to_release if p not in step.piece_ids]

    # ------------------------------------------------------------------ internals

    def _close(self, now: datetime) -> None:
        """Trial close: decided-keep pieces are charged now; everything else awaits its return."""
        self.closed_at = now
        kept = []
        for piece in self.pieces.values():
            if piece.state != PieceState.ON_TRIAL:
                continue
            if piece.decision == "keep":
                piece.state = PieceState.KEPT
                kept.append(piece.piece_id)
            else:
                piece.state = PieceState.AWAITING_RETURN
        if kept:
            self._plan_settlement(kept)
        self._event(
            now,
            "trial_closed",
            f"Trial closed: {len(kept)} piece(s) kept; returns due by {self.return_deadline:%d %b %H:%M} UTC.",
            piece_ids=kept,
        )

    def _plan_settlement(self, piece_ids: list[str]) -> None:
        number = len(self.settlements) + 1
        for pid in piece_ids:
            self.pieces[pid].settlement = number
        self.settlements.append(Settlement(number, piece_ids))

    def _advance(self, now: datetime) -> None:
        """Transitions that follow from state alone, applied after every change."""
        if self.final_status is not None:
            return
        for s in self.settlements:
            if s.state != "paid" and s.state != "void" and self.settlement_amount(s) == 0:
                s.state = "void"  # every piece in it was waived
        if (
            self.closed_at is not None
            and not self.final_settlement_planned
            and all(p.state in TERMINAL for p in self.pieces.values())
        ):
            self.final_settlement_planned = True
            late = [p.piece_id for p in self.pieces.values() if p.state in CHARGED_FATES and p.settlement is None]
            if late:
                self._plan_settlement(late)
            self._event(now, "all_pieces_settled", "Every piece has its final fate.")
        if self._ready_to_complete() and self.hold is None and self.in_flight is None:
            self.final_status = TrialStatus.COMPLETED
            for reason in (
                Attention.REAUTHORIZATION_FAILED,
                Attention.SETTLEMENT_DECLINED,
                Attention.PAYMENT_ACTION_REQUIRED,
            ):
                self.attention.pop(reason, None)
            self._event(
                now, "completed", f"Completed: charged {self._fmt(self.charged)}, released {self._fmt(self.released)}."
            )

    def _ready_to_complete(self) -> bool:
        return self.final_settlement_planned and all(s.state in ("paid", "void") for s in self.settlements)

    def _end(self, now: datetime, status: TrialStatus, why: str) -> None:
        self.final_status = status
        self.attention.pop(Attention.DISPATCH_OVERDUE, None)
        self.attention.pop(Attention.AUTHORIZATION_DECLINED, None)
        self.attention.pop(Attention.REAUTHORIZATION_FAILED, None)
        if self.stock_reserved:
            self._release_stock([p.piece_id for p in self.pieces.values() if p.state == PieceState.RESERVED])
        self._event(now, status.value.lower(), why)

    def _release_stock(self, piece_ids: list[str]) -> None:
        self.stock_to_release.extend(p for p in piece_ids if p not in self.stock_to_release)

    def _being_charged(self, piece_id: str) -> bool:
        step = self.in_flight
        if isinstance(step, CaptureRequest | ChargeRequest):
            return piece_id in self.settlements[step.settlement - 1].piece_ids
        return False

    def _flag_sla(self, now: datetime, reason: Attention, kind: NotificationKind, text: str) -> None:
        if reason in self.sla_flagged:
            return
        self.sla_flagged.add(reason)
        self.attention[reason] = text
        self._notify(kind, ["staff"], text)
        self._event(now, reason.value, text)

    def _notify(self, kind: NotificationKind, audience: list, message: str) -> None:  # type: ignore[type-arg]
        self.notifications_sent += 1
        self.outbox.append(
            Notification(
                key=f"{self.trial_id}-notification-{self.notifications_sent}", trial_id=self.trial_id, kind=kind,
                audience=audience, shopper_id=self.order.customer.personal_shopper_id, message=message,
            )
        )  # fmt: skip

    def _movement(
        self,
        key: str,
        kind: MovementKind,
        amount: int,
        now: datetime,
        *,
        outcome: Literal["succeeded", "declined"] = "succeeded",
        reference: str | None = None,
        expires_at: datetime | None = None,
        settlement: int | None = None,
        decline_code: str | None = None,
    ) -> None:
        # The aggregate's own ledger refuses a second movement under one key, whatever the gateway does.
        if any(m.key == key for m in self.movements):
            raise ValueError(f"money movement {key!r} recorded twice")
        self.movements.append(
            Movement(key, kind, amount, outcome, now, reference, expires_at, settlement, decline_code)
        )

    def _event(self, now: datetime, kind: str, detail: str, **extra: object) -> None:
        self.events.append(Event(len(self.events) + 1, now, kind, detail, **extra))  # type: ignore[arg-type]

    def _fmt(self, amount: int) -> str:
        return format_money(amount, self.currency)

    def _past_trial_end(self, now: datetime) -> bool:
        # A deadline can pass a moment before the workflow's timer fires and `tick` runs; commands that
        # arrive in that gap are judged by the clock, not by the not-yet-updated state.
        return self.trial_ends_at is not None and now >= self.trial_ends_at

    def _require_open(self) -> None:
        if self.final_status is not None:
            raise DomainError(
                ErrorCode.TRIAL_FINISHED, f"This trial is {self.final_status.value.lower()}; it takes no more commands."
            )

    def _require_piece(self, piece_id: str) -> Piece:
        piece = self.pieces.get(piece_id)
        if piece is None:
            raise DomainError(ErrorCode.UNKNOWN_PIECE, f"Piece {piece_id!r} is not part of this order.")
        return piece

    @staticmethod
    def _require_actor_and_reason(actor: str | None, reason: str | None, what: str) -> None:
        require(bool(actor and actor.strip()), ErrorCode.ACTOR_REQUIRED, f"{what} must name the staff member (actor).")
        require(bool(reason and reason.strip()), ErrorCode.REASON_REQUIRED, f"{what} needs a reason.")


TRIAL_ID_PREFIX = "style-trial-"


def trial_id_for(order_id: str) -> str:
    return f"{TRIAL_ID_PREFIX}{order_id}"


def order_id_of(trial_id: str) -> str:
    return trial_id.removeprefix(TRIAL_ID_PREFIX)


def _hours(d: timedelta) -> int:
    return round(d.total_seconds() / 3600)
