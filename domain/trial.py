"""The trial aggregate: one order on consignment, its pieces, its deadlines and its money.

Every command has a `validate_*` method that raises `DomainError` without touching state, and a method
that validates again and then applies the change; the workflow calls the first from update validators and
the second from update handlers. Time only ever arrives as an argument (`now`), so the same calls in the
same order always give the same trial: that is what makes the workflow replayable.

The trial delegates what it does not own: a piece's moves to the transition table (`domain.pieces`), holds,
settlements and the ledger to `Payments` (`domain.payments`), and deadlines to one table
(`domain.deadlines`). It keeps the command pairs and turns what happens into what people see: attention,
notifications and the audit trail.

Side effects are requests, not calls: `next_step(now)` says what the outside world must do next (authorize,
capture, charge, release, reserve or release stock, notify) and `record(step, result, now)` takes the
answer. `tick(now)` applies every deadline that has passed.
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from domain import commands as cmd
from domain import deadlines as dl
from domain.billing import Billing
from domain.carrier_scans import Deliver, ReceiveReturn, ShipReturn, read_scan
from domain.claims import CarrierClaims
from domain.clock import TrialClock
from domain.errors import DomainError, ErrorCode, require, require_actor_and_reason
from domain.exchanges import Exchanges
from domain.journal import Journal
from domain.money import format_money
from domain.order import TrialOrder, validate_order
from domain.payments import Payments
from domain.pieces import (
    TERMINAL,
    Piece,
    PieceState,
)
from domain.policy import TrialPolicy
from domain.requests import pending_step
from domain.return_bookings import ReturnBookings
from domain.returns import Returns
from domain.shipping import Shipping
from domain.status import Attention, TrialStatus
from domain.steps import (
    AuthorizationResult,
    AuthorizeRequest,
    CaptureRequest,
    ChargeRequest,
    Notification,
    NotificationKind,
    NotificationResult,
    PaymentResult,
    RefundRequest,
    RefundResult,
    ReleaseRequest,
    ReleaseResult,
    ReturnBookingRequest,
    ReturnBookingResult,
    Step,
    StepResult,
    StockRequest,
    StockResult,
)
from domain.stock import Stock


class Trial:
    def __init__(self, order: TrialOrder, policy: TrialPolicy, now: datetime) -> None:
        validate_order(order, policy)
        self.order = order
        self.policy = policy
        self.trial_id = trial_id_for(order.order_id)
        self.currency = order.currency
        self.opened_at = now
        self.pieces: dict[str, Piece] = {
            p.piece_id: Piece(
                piece_id=p.piece_id,
                sku=p.sku,
                description=p.description,
                price=p.price,
                designer=p.designer,
                size=p.size,
            )
            for p in order.pieces
        }
        self.journal = Journal(
            self.trial_id, order.customer.personal_shopper_id, order.order_id, order.customer.contact,
            daytime=policy.client_daytime,
        )  # fmt: skip
        self.payments = Payments(
            self.trial_id, order.currency, order.payment_method, policy, self._value_of, self.journal
        )
        self.final_status: TrialStatus | None = None
        self.in_flight: Step | None = None
        self.accepted_at: datetime | None = None
        self.stock = Stock(self.trial_id)
        # Parcels, dispatch and the shipping SLAs (domain/shipping.py); then the trial clock.
        self.shipping = Shipping(self.pieces, self.stock, self.journal, self._require_piece)
        # Decisions, returns and inspections, piece by piece (domain/returns.py).
        self.returns = Returns(self.pieces, self.journal, self._require_piece, order.currency)
        # Pieces exchanged for others, and their replacements (domain/exchanges.py).
        self.exchanges = Exchanges(self.pieces, self.stock, self.payments, self.journal, self._require_piece, policy)
        # Claims from the carrier for parcels it lost (domain/claims.py).
        self.claims = CarrierClaims(self.shipping, self.pieces, self.payments, self.journal)
        # Collections and prepaid labels for the pieces going back (domain/return_bookings.py).
        self.bookings = ReturnBookings(order, self.pieces, self.journal, self._require_piece)
        # The pieces' side of the money: settlements, waivers, refunds (domain/billing.py).
        self.billing = Billing(self.pieces, self.payments, self.journal, self._require_piece)
        # When the trial ends, its extensions and reminders (domain/clock.py).
        self.clock = TrialClock(policy, order.trial_days or policy.trial_days, self.journal)
        self.closed_at: datetime | None = None
        self.completed_at: datetime | None = None
        # Whether support may refund charged pieces after completion, for `policy.refund_window`: set by the
        # workflow, since trials started before it ended at completion (their histories wait for nothing).
        self.refunds_after_completion = False
        self.refund_window_closed = False
        # Whether the trial stays open, once ended, while it needs staff (a carrier claim to close): set by the
        # workflow, since trials started before it ended at once.
        self.waits_for_staff = False
        self.journal.event(now, "opened", f"Trial opened for {len(self.pieces)} pieces worth {self._fmt(order.value)}.")

    # ------------------------------------------------------------------ derived state

    @property
    def status(self) -> TrialStatus:
        if self.final_status is not None:
            return self.final_status
        if self.accepted_at is None:
            return TrialStatus.AUTHORIZING
        if self.payments.action_required:
            return TrialStatus.PAYMENT_ACTION_REQUIRED
        if self.shipping.dispatched_at is None:
            return TrialStatus.AWAITING_DISPATCH
        if self.closed_at is None:
            return TrialStatus.ON_TRIAL if self.trial_ends_at is not None else TrialStatus.IN_TRANSIT
        if all(p.state in TERMINAL for p in self.pieces.values()):
            return TrialStatus.SETTLING
        return TrialStatus.AWAITING_RETURNS

    @property
    def trial_ends_at(self) -> datetime | None:
        return self.clock.ends_at

    @property
    def return_deadline(self) -> datetime | None:
        end = self.closed_at or self.trial_ends_at
        return end + self.policy.return_window if end else None

    def chargeable(self) -> int:
        """What a re-authorization must cover: the outstanding value while the trial runs, nothing after."""
        return self.billing.outstanding if self.final_status is None else 0

    @property
    def finished(self) -> bool:
        """Nothing more will ever happen: a final status, no request left to make, no refund window open,
        and (trials that wait for staff) nothing it needs staff for."""
        return (
            self.final_status is not None
            and self.in_flight is None
            and pending_step(self, None) is None
            and self.refunds_until is None
            and not (self.waits_for_staff and self.journal.attention)
        )

    @property
    def refunds_until(self) -> datetime | None:
        """While a completed trial that charged something may still refund it: until when."""
        if not self.refunds_after_completion or self.refund_window_closed or self.completed_at is None:
            return None
        if self.payments.charged == 0:
            return None
        return self.completed_at + self.policy.refund_window

    def _value_of(self, piece_ids: Sequence[str]) -> int:
        # A piece waived after its settlement was planned (but before it was paid) drops out of it.
        return sum(self.pieces[p].price for p in piece_ids if self.pieces[p].state != PieceState.WAIVED)

    # ------------------------------------------------------------------ commands: shipping (domain/shipping.py)

    def validate_dispatch(self, c: cmd.Dispatch, now: datetime) -> None:
        Shipping.require_a_parcel(c)  # new dispatches only: one accepted before replays through `dispatch`
        self._check_dispatch(c)

    def _check_dispatch(self, c: cmd.Dispatch) -> None:
        self._require_open()
        self.shipping.require_undispatched()
        require(
            self.accepted_at is not None,
            ErrorCode.NOT_READY_FOR_DISPATCH,
            "The consignment value is not authorized yet; do not dispatch until the trial is awaiting dispatch.",
        )
        self.shipping.check_parcels(c)

    def dispatch(self, c: cmd.Dispatch, now: datetime) -> None:
        self._check_dispatch(c)
        if not self.shipping.dispatch(c, now):
            self.end(now, TrialStatus.CANCELLED, "No piece could be picked: every piece was unavailable.")
        self._advance(now)

    def validate_delivery(self, c: cmd.Delivery, now: datetime) -> None:
        self._require_open()
        self.shipping.check_delivery(c, now)

    def deliver(self, c: cmd.Delivery, now: datetime) -> None:
        self.validate_delivery(c, now)
        last = self.shipping.deliver(c, now)
        parcel = self.shipping.parcels[c.tracking_number]
        if self.trial_ends_at is None:
            if last is not None:
                self.clock.start(last, now)  # the seven-day clock starts when the last parcel arrives
        elif self.exchanges.arrived(parcel.piece_ids):
            # A replacement reached the client: it is decided by the end, and has at least its exchange days.
            assert parcel.delivered_at is not None
            self.clock.at_least(parcel.delivered_at + self.policy.day * self.policy.exchange_days, now)
            self.exchanges.clear_pending()
        self._advance(now)

    def validate_lost_parcel(self, c: cmd.LostParcel, now: datetime) -> None:
        self._require_open()
        require_actor_and_reason(c.actor, c.reason, "Declaring a parcel lost")
        self.shipping.check_lost(c)

    def declare_lost(self, c: cmd.LostParcel, now: datetime) -> None:
        self.validate_lost_parcel(c, now)
        self.shipping.declare_lost(c, now)
        self._after_transit_change(now)
        self._advance(now)

    def validate_reship(self, c: cmd.Reshipment, now: datetime) -> None:
        self._require_open()
        self.shipping.check_reship(c)

    def reship(self, c: cmd.Reshipment, now: datetime) -> None:
        self.validate_reship(c, now)
        self.shipping.reship(c, now)
        self._after_transit_change(now)
        self._advance(now)

    def _after_transit_change(self, now: datetime) -> None:
        """A parcel lost, a reship that sent nothing, a piece awaiting a reship waived: once nothing is on
        its way, the trial starts with what arrived (the clock from now: the client was waiting for the rest
        until now), or, when nothing did, is cancelled and its hold released."""
        settled = self.shipping.dispatched_at is None or self.trial_ends_at is not None or self.final_status is not None
        outcome = None if settled else self.shipping.after_transit_change()
        if outcome == "start":
            self.clock.start(now, now)
        elif outcome == "cancel":
            self.end(now, TrialStatus.CANCELLED, "Nothing arrived: every parcel was lost in transit.")

    # ------------------------------------------------------------------ commands: decisions

    def validate_decisions(self, c: cmd.Decisions, now: datetime) -> None:
        self._require_open()
        require(bool(c.decisions), ErrorCode.NO_DECISIONS, "Send at least one decision.")
        require(bool(c.actor.strip()), ErrorCode.ACTOR_REQUIRED, "A decision must say who made it (actor).")
        self._require_before_close(now, "The trial has closed; decisions can no longer change. Ship returns instead.")
        self.returns.check_decisions(c)

    def decide(self, c: cmd.Decisions, now: datetime) -> None:
        self.validate_decisions(c, now)
        self.returns.decide(c, now)
        self.bookings.offer(now, self.return_deadline, self.returns.tells_returns)

    def validate_finish(self, c: cmd.FinishEarly, now: datetime) -> None:
        self._require_open()
        require(bool(c.actor.strip()), ErrorCode.ACTOR_REQUIRED, "Finishing early must say who asked (actor).")
        self._require_before_close(now, "The trial has already closed.")
        require(
            self.status == TrialStatus.ON_TRIAL,
            ErrorCode.NOT_ON_TRIAL,
            "The client can finish early only once every parcel has been delivered.",
        )
        self.returns.require_all_decided()
        msg = "A replacement is still on its way to the client; the trial can finish once it is decided."
        require(not self.exchanges.pending(), ErrorCode.NOT_ON_TRIAL, msg)

    def finish_early(self, c: cmd.FinishEarly, now: datetime) -> None:
        self.validate_finish(c, now)
        self.journal.event(
            now, "finished_early", "The client finished the trial early.", actor=c.actor, channel=c.channel
        )
        self.close(now)
        self._advance(now)

    # ------------------------------------------------------------------ commands: exchanges (domain/exchanges.py)

    def validate_exchange(self, c: cmd.Exchange, now: datetime) -> None:
        self._require_open()
        on_trial = self.status == TrialStatus.ON_TRIAL and not self.clock.past_end(now)
        self.exchanges.check(c, on_trial)
        msg = "A payment is being made for this trial right now; try the exchange again in a moment."
        require(not isinstance(self.in_flight, PAYMENT_STEPS), ErrorCode.NOT_EXCHANGEABLE, msg)

    def exchange(self, c: cmd.Exchange, now: datetime) -> None:
        self.validate_exchange(c, now)
        self.exchanges.exchange(c, now)
        self._advance(now)

    def validate_exchange_request(self, c: cmd.ExchangeRequest, now: datetime) -> None:
        self._require_open()
        self.exchanges.check_request(c, self.status == TrialStatus.ON_TRIAL and not self.clock.past_end(now))

    def request_exchange(self, c: cmd.ExchangeRequest, now: datetime) -> None:
        self.validate_exchange_request(c, now)
        self.exchanges.request(c, now)

    # ------------------------------------------------------------------ commands: returns (domain/returns.py)

    def validate_return(self, c: cmd.ReturnShipped, now: datetime) -> None:
        self._require_open()
        deadline = self.return_deadline
        self.returns.check_return(c, window_closed=deadline is not None and now >= deadline)

    def ship_return(self, c: cmd.ReturnShipped, now: datetime) -> None:
        self.validate_return(c, now)
        self.returns.ship_return(c, now)
        self._advance(now)

    def validate_inspection(self, c: cmd.Inspection, now: datetime) -> None:
        self._require_open()
        self.returns.check_inspection(c)

    def inspect(self, c: cmd.Inspection, now: datetime) -> None:
        self.validate_inspection(c, now)
        self.returns.receive([c], now)
        self._advance(now)

    def validate_inspections(self, c: cmd.Inspections, now: datetime) -> None:
        self._require_open()
        self.returns.check_inspections(c)

    def inspect_all(self, c: cmd.Inspections, now: datetime) -> None:
        self.validate_inspections(c, now)
        self.returns.receive(c.inspections, now)
        self._advance(now)

    # ------------------------------------------------------------------ commands: return bookings and carriers' scans

    def validate_collection(self, c: cmd.CollectionBooking, now: datetime) -> None:
        self._check_booking(c.actor)
        self.bookings.check("collection", c.piece_ids, now, self.return_deadline, c.slot)

    def book_collection(self, c: cmd.CollectionBooking, now: datetime) -> None:
        self._check_booking(c.actor)
        pieces = self.bookings.check("collection", c.piece_ids, now, self.return_deadline, c.slot)
        self.bookings.book("collection", pieces, c.actor, c.channel, now, c.slot)

    def validate_return_label(self, c: cmd.ReturnLabel, now: datetime) -> None:
        self._check_booking(c.actor)
        self.bookings.check("label", c.piece_ids, now, self.return_deadline)

    def issue_return_label(self, c: cmd.ReturnLabel, now: datetime) -> None:
        self._check_booking(c.actor)
        pieces = self.bookings.check("label", c.piece_ids, now, self.return_deadline)
        self.bookings.book("label", pieces, c.actor, c.channel, now)

    def _check_booking(self, actor: str) -> None:
        self._require_open()
        require(bool(actor.strip()), ErrorCode.ACTOR_REQUIRED, "A return booking must say who asked (actor).")

    def validate_carrier_scan(self, c: cmd.CarrierScan, now: datetime) -> None:
        self._require_open()
        read_scan(c, now, self.shipping, self.bookings, self.pieces, self.return_deadline)

    def record_carrier_scan(self, c: cmd.CarrierScan, now: datetime) -> None:
        """A carrier's scan makes the changes fulfilment would post by hand (`domain.carrier_scans`)."""
        self._require_open()
        for change in read_scan(c, now, self.shipping, self.bookings, self.pieces, self.return_deadline):
            match change:
                case Deliver(tracking, at):
                    self.deliver(cmd.Delivery(tracking_number=tracking, delivered_at=at), now)
                case ShipReturn(piece_ids, carrier, tracking, at, booking):
                    shipped = cmd.ReturnShipped(piece_ids=piece_ids, carrier=carrier, tracking_number=tracking)
                    self.returns.ship_return(shipped, now, shipped_at=at)
                    if booking is not None:
                        booking.state = "shipped"
                case ReceiveReturn(piece_ids, tracking, at, booking):
                    self.returns.received(piece_ids, tracking, at, now)
                    if booking is not None:
                        booking.state = "received"
        self._advance(now)

    # ------------------------------------------------------------------ commands: staff

    def validate_extension(self, c: cmd.Extension, now: datetime) -> None:
        self._require_open()
        require_actor_and_reason(c.actor, c.reason, "An extension")
        self.clock.check_extension(c, now, on_trial=self.status == TrialStatus.ON_TRIAL)

    def extend(self, c: cmd.Extension, now: datetime) -> None:
        self.validate_extension(c, now)
        self.clock.extend(c, now)

    def validate_extension_request(self, c: cmd.ExtensionRequest, now: datetime) -> None:
        self._require_open()
        request = cmd.Extension(days=self.clock.days_asked(c), reason="Asked by the client", actor="client")
        self.clock.check_extension(request, now, on_trial=self.status == TrialStatus.ON_TRIAL)
        msg = "The client's earlier request is with their personal shopper, who will answer it."
        require(not self.clock.request_waiting, ErrorCode.EXTENSION_REQUEST_WAITING, msg)

    def request_extension(self, c: cmd.ExtensionRequest, now: datetime) -> None:
        self.validate_extension_request(c, now)
        self.clock.request(c, now)

    def validate_waiver(self, c: cmd.Waiver, now: datetime) -> None:
        self._require_open()
        require_actor_and_reason(c.actor, c.reason, "A waiver")
        self.billing.check_waiver(c, self.in_flight)

    def waive(self, c: cmd.Waiver, now: datetime) -> None:
        self.validate_waiver(c, now)
        self.billing.waive(c, now)
        self._after_transit_change(now)  # the last piece awaiting a reship waived: nothing more is coming
        self.exchanges.clear_pending()  # a replacement waived: the trial's end no longer waits for it
        self._advance(now)

    def validate_payment_method(self, c: cmd.NewPaymentMethod, now: datetime) -> None:
        self._require_open()
        self.billing.check_payment_method(c)

    def change_payment_method(self, c: cmd.NewPaymentMethod, now: datetime) -> None:
        self.validate_payment_method(c, now)
        self.billing.change_payment_method(c, now)

    def validate_refund(self, c: cmd.Refund, now: datetime) -> None:
        self._require_open_or_in_refund_window()
        require_actor_and_reason(c.actor, c.reason, "A refund")
        self.billing.check_refund(c)

    def refund(self, c: cmd.Refund, now: datetime) -> None:
        self.validate_refund(c, now)
        self.billing.refund(c, now)

    # ------------------------------------------------------------------ commands: what the trial needs staff for

    def validate_assignment(self, c: cmd.AttentionAssignment, now: datetime) -> None:
        self._require_staff_can_act()
        require(bool(c.actor.strip()), ErrorCode.ACTOR_REQUIRED, "An assignment must name who makes it (actor).")
        require(bool(c.assignee.strip()), ErrorCode.MISSING_FIELD, "Name the staff member it goes to (assignee).")
        require(bool(self.journal.attention), ErrorCode.NOT_FLAGGED, "This trial needs no one's attention.")
        for reason in c.reasons or []:
            self._require_flagged(reason)

    def assign_attention(self, c: cmd.AttentionAssignment, now: datetime) -> None:
        self.validate_assignment(c, now)
        reasons = list(c.reasons or self.journal.attention)
        for reason in reasons:
            self.journal.attention_owner[reason] = c.assignee
        text = f"{', '.join(reasons)} assigned to {c.assignee}."
        self.journal.event(now, "attention_assigned", text, actor=c.actor)

    def validate_acknowledgement(self, c: cmd.Acknowledgement, now: datetime) -> None:
        self._require_staff_can_act()
        require_actor_and_reason(c.actor, c.note, "An acknowledgement")
        self._require_flagged(c.reason)

    def acknowledge_attention(self, c: cmd.Acknowledgement, now: datetime) -> None:
        """Staff saw to it outside the engine: the reason clears, their note in the audit trail. What the
        trial itself still waits for (a payment, a return) goes on: only the flag clears."""
        self.validate_acknowledgement(c, now)
        self.journal.clear(c.reason)
        self.journal.event(now, "attention_acknowledged", f"{c.reason.value} seen to.", actor=c.actor, reason=c.note)

    def validate_carrier_claim(self, c: cmd.CarrierClaim, now: datetime) -> None:
        self._require_staff_can_act()
        require(bool(c.actor.strip()), ErrorCode.ACTOR_REQUIRED, "A claim's step must name who records it (actor).")
        self.claims.check(c)

    def record_carrier_claim(self, c: cmd.CarrierClaim, now: datetime) -> None:
        self.validate_carrier_claim(c, now)
        self.claims.record(c, now)

    def validate_lost_return(self, c: cmd.LostReturnResolution, now: datetime) -> None:
        self._require_staff_can_act()
        require_actor_and_reason(c.actor, c.note, "Resolving a lost return")
        self.claims.check_resolution(c)

    def resolve_lost_return(self, c: cmd.LostReturnResolution, now: datetime) -> None:
        self.validate_lost_return(c, now)
        self.claims.resolve(c, now)

    def _require_flagged(self, reason: Attention) -> None:
        msg = f"This trial does not need attention for {reason.value}."
        require(reason in self.journal.attention, ErrorCode.NOT_FLAGGED, msg)

    def validate_cancel(self, c: cmd.Cancel, now: datetime) -> None:
        self._require_open()
        require_actor_and_reason(c.actor, c.reason, "A cancellation")
        require(
            self.shipping.dispatched_at is None,
            ErrorCode.NOT_CANCELLABLE,
            "The order has been dispatched; a trial can be cancelled only before dispatch.",
        )

    def cancel(self, c: cmd.Cancel, now: datetime) -> None:
        self.validate_cancel(c, now)
        self.journal.event(now, "cancel_requested", "Cancellation requested.", actor=c.actor, reason=c.reason)
        self.end(now, TrialStatus.CANCELLED, f"Cancelled before dispatch: {c.reason}")

    def refuse_cancellation(self, c: cmd.Cancel, now: datetime, why: str) -> None:
        """A cancellation that did not come as a command (Temporal's UI or CLI) and may not be carried out:
        it cannot be answered with an error, so it is written down where staff will see it."""
        self.journal.event(now, "cancellation_refused", f"Cancellation refused: {why}", actor=c.actor, reason=c.reason)

    # ------------------------------------------------------------------ time

    def tick(self, now: datetime) -> None:
        """Apply every deadline that has passed by `now`, in table order. Calling it twice changes nothing more."""
        dl.apply_due(self, now, lambda effect: self._apply_deadline(effect, now))
        self._advance(now)

    def next_deadline(self, now: datetime) -> tuple[datetime, str] | None:
        """The earliest future moment at which a deadline falls due, with a label for the timer."""
        return dl.next_deadline(self, now)

    def _apply_deadline(self, effect: dl.Effect, now: datetime) -> None:
        """What a deadline that has passed does (domain/deadlines.py names them)."""
        match effect:
            case dl.RejectUnpaid():
                self._reject_unpaid(now)
            case dl.ExpireHold(number):
                self.payments.expire(next(h for h in self.payments.holds if h.number == number), now)
            case dl.FlagOverdue(reason):
                self.shipping.flag_overdue(reason, now)
            case dl.Remind(number):
                # "Tell us which pieces you keep" is untrue to a client who has decided them all (trials that
                # tell the return's journey; their last day to send back is told on its own).
                decided = all(p.decision is not None for p in self.pieces.values() if p.state == PieceState.ON_TRIAL)
                self.clock.remind(number, now, client=not (decided and self.returns.tells_returns))
            case dl.CloseTrial():
                self.close(now)
            case dl.KeepUnreturned(booked):
                spare = None if booked else self.bookings.booked_pieces()
                self.returns.keep_unreturned(now, spare=spare, exchanged=self.exchanges.not_sent_back)
            case dl.FlagExchangePending():
                self.exchanges.flag_pending(now)
            case dl.LoseReturn(piece_id):
                self.returns.lose_return(piece_id, now)
            case dl.RetrySettlement(number):
                self.payments.retry(next(s for s in self.payments.settlements if s.number == number), now)
            case dl.CloseRefunds():
                self.refund_window_closed = True
            case dl.TellReturnDue():
                assert self.return_deadline is not None
                self.returns.tell_return_due(self.return_deadline)

    def _reject_unpaid(self, now: datetime) -> None:
        if isinstance(self.in_flight, AuthorizeRequest):
            return  # the authorization under way may still succeed; its answer comes first
        self.journal.notify(
            NotificationKind.TRIAL_REJECTED, ["shopper"],
            "No payment method could be authorized in time; the Style Trial was not opened.",
        )  # fmt: skip
        self.end(now, TrialStatus.REJECTED, "No payment method was authorized within the fix window.")

    def close(self, now: datetime) -> None:
        """Trial close: decided-keep pieces are charged now; everything else awaits its return."""
        self.closed_at = now
        if self.clock.request_waiting:  # the client's request for more time is moot once the trial has closed
            self.clock.drop_request()
        kept = self.returns.close(now, returns_due=self.return_deadline)
        if kept:
            self.billing.plan_settlement(kept)
        self.bookings.offer(now, self.return_deadline, self.returns.tells_returns)

    # ------------------------------------------------------------------ side effects

    def next_step(self, now: datetime) -> Step | None:
        """The next request for the outside world, or None. Pure: asking twice gives the same answer."""
        if self.in_flight is not None:
            return None
        return pending_step(self, now)

    def begin(self, step: Step) -> None:
        """The workflow is about to run `step`; commands that would race it are refused until `record`."""
        self.in_flight = step

    def record(self, step: Step, result: StepResult, now: datetime) -> None:
        self.in_flight = None
        recorder = _RECORDERS.get((type(step), type(result)))
        if recorder is None:
            raise TypeError(f"{type(result).__name__} does not answer {type(step).__name__}")
        recorder(self, step, result, now)
        self._advance(now)

    def _record_authorization(self, step: AuthorizeRequest, r: AuthorizationResult, now: datetime) -> None:
        hold = self.payments.record_authorization(step, r, now)
        if step.merchant_initiated or hold is None:
            return
        self.accepted_at = now
        self.billing.authorized(step, now, ended=self.final_status is not None, days=self.clock.trial_days)

    def _advance(self, now: datetime) -> None:
        """Transitions that follow from state alone, applied after every change."""
        if self.final_status is not None:
            return
        self.payments.void_worthless()
        if self.closed_at is not None:
            self.billing.plan_final(now)  # once every piece has its fate
        if self.ready_to_complete() and self.payments.hold is None and self.in_flight is None:
            self.final_status = TrialStatus.COMPLETED
            self.completed_at = now
            self.billing.completed(now)

    def ready_to_complete(self) -> bool:
        return self.billing.final_settlement_planned and self.payments.settled

    def end(self, now: datetime, status: TrialStatus, why: str) -> None:
        self.final_status = status
        self.journal.clear(
            Attention.DISPATCH_OVERDUE, Attention.AUTHORIZATION_DECLINED, Attention.REAUTHORIZATION_FAILED
        )
        if self.stock.reserved:
            self.stock.release([p.piece_id for p in self.pieces.values() if p.state == PieceState.RESERVED])
        self.journal.event(now, status.value.lower(), why)

    def _fmt(self, amount: int) -> str:
        return format_money(amount, self.currency)

    def _require_before_close(self, now: datetime, sentence: str) -> None:
        require(self.closed_at is None and not self.clock.past_end(now), ErrorCode.TRIAL_CLOSED, sentence)

    def _require_staff_can_act(self) -> None:
        """Open, in its refund window, or ended and waiting for staff to see to what it needs them for."""
        if not (self.waits_for_staff and self.journal.attention):
            self._require_open_or_in_refund_window()

    def _require_open_or_in_refund_window(self) -> None:
        """Open, or completed and still in its refund window (its workflow waits for support until then)."""
        if self.final_status is not None and self.refunds_until is None:
            self._require_open()  # cancelled, rejected, or completed with its refund window closed

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


# Which answer each request takes, and who books it: the one table of step kinds in the aggregate.
_RECORDERS: dict[tuple[type, type], Callable[[Trial, Any, Any, datetime], None]] = {
    (AuthorizeRequest, AuthorizationResult): Trial._record_authorization,
    (CaptureRequest, PaymentResult): lambda t, step, r, now: t.billing.record_payment(step, r, now),
    (ChargeRequest, PaymentResult): lambda t, step, r, now: t.billing.record_payment(step, r, now),
    (ReleaseRequest, ReleaseResult): lambda t, step, r, now: t.payments.record_release(step, r, now),
    (RefundRequest, RefundResult): lambda t, step, r, now: t.billing.record_refund(step, r, now),
    (StockRequest, StockResult): lambda t, step, r, now: t.stock.record(
        step, ended=t.final_status is not None, pieces=list(t.pieces)
    ),
    (Notification, NotificationResult): lambda t, step, r, now: (
        t.journal.defer(step.key, r.defer_until) if r.defer_until else t.journal.sent(step.key)
    ),
    (ReturnBookingRequest, ReturnBookingResult): lambda t, step, r, now: t.bookings.record(step, r, now),
}

# Steps that move money: an exchange waits until none is in flight (it may change what is to be covered).
PAYMENT_STEPS = (AuthorizeRequest, CaptureRequest, ChargeRequest, ReleaseRequest, RefundRequest)

TRIAL_ID_PREFIX = "style-trial-"


def trial_id_for(order_id: str) -> str:
    return f"{TRIAL_ID_PREFIX}{order_id}"


def order_id_of(trial_id: str) -> str:
    return trial_id.removeprefix(TRIAL_ID_PREFIX)
