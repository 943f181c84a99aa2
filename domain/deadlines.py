"""Every deadline of a trial, in one table.

Each rule looks at a trial's facts and names the deadlines it has now: when each falls due, a label for the
workflow's timer, and the effect of applying it, as a value (`Effect`). The trial applies effects itself
(`Trial.tick` applies, in table order, every deadline that has passed); `Trial.next_deadline(now)` is the
earliest one still ahead. Both read this table, so the workflow can never sleep through a deadline that
`tick` would act on. The rules only read: what they read is `Facts`, and nothing here changes a trial.

A deadline without an effect (`effect` None) changes no state: passing it makes a request due instead
(re-authorizing a hold is asked for by `Trial.next_step`). Rules that only ever name such deadlines are in
`WAKE_ONLY`, and `tick` does not even ask them.

Order matters where one deadline's effect opens another: the trial end closes the trial, which starts the
return window, and a rejection for want of a payment method ends everything after it.
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.clock import TrialClock, hours
from domain.exchanges import Exchanges
from domain.journal import Journal
from domain.payments import Payments
from domain.pieces import Piece, PieceState
from domain.policy import TrialPolicy
from domain.return_bookings import ReturnBookings
from domain.returns import Returns
from domain.shipping import Shipping
from domain.status import Attention, TrialStatus


class Facts(Protocol):
    """What the rules read of a trial (domain.trial.Trial has all of it)."""

    @property
    def status(self) -> TrialStatus: ...
    @property
    def return_deadline(self) -> datetime | None: ...
    @property
    def trial_ends_at(self) -> datetime | None: ...
    @property
    def refunds_until(self) -> datetime | None: ...
    @property
    def pieces(self) -> Mapping[str, Piece]: ...
    def chargeable(self) -> int: ...

    policy: TrialPolicy
    payments: Payments
    final_status: TrialStatus | None
    journal: Journal
    returns: Returns
    bookings: ReturnBookings
    accepted_at: datetime | None
    shipping: Shipping
    closed_at: datetime | None
    clock: TrialClock
    exchanges: Exchanges


# ---------------------------------------------------------------------- what a deadline does, as values


@dataclass(frozen=True)
class RejectUnpaid:
    """No payment method was authorized within the fix window: the trial is rejected."""


@dataclass(frozen=True)
class ExpireHold:
    number: int  # the authorization that lapsed unused


@dataclass(frozen=True)
class FlagOverdue:
    reason: Attention  # DISPATCH_OVERDUE, DELIVERY_OVERDUE or RESHIP_OVERDUE (see OVERDUE)


@dataclass(frozen=True)
class Remind:
    number: int  # which of the policy's reminders before the end


@dataclass(frozen=True)
class CloseTrial:
    """The trial's end: decided-keep pieces are charged, the rest await their return."""


@dataclass(frozen=True)
class FlagExchangePending:
    """The trial's end came while a replacement is still awaited: the end waits, and staff are told."""


@dataclass(frozen=True)
class KeepUnreturned:
    """The return window closed: pieces not shipped back are kept; those booked with a carrier only once
    `booked` (the grace for their scan has passed too)."""

    booked: bool = False


@dataclass(frozen=True)
class LoseReturn:
    piece_id: str  # its return never reached the warehouse


@dataclass(frozen=True)
class RetrySettlement:
    number: int  # its dunning delay is over


@dataclass(frozen=True)
class CloseRefunds:
    """The refund window after completion closed."""


@dataclass(frozen=True)
class TellReturnDue:
    """The last day to send back: the client is told which day pieces still with them are charged."""


Effect = (
    RejectUnpaid | ExpireHold | FlagOverdue | Remind | CloseTrial | KeepUnreturned | LoseReturn | RetrySettlement
    | CloseRefunds | TellReturnDue | FlagExchangePending
)  # fmt: skip


@dataclass(frozen=True)
class Deadline:
    at: datetime
    label: str
    effect: Effect | None


Rule = Callable[[Facts], Iterator[Deadline]]


def payment_fix_window(trial: Facts) -> Iterator[Deadline]:
    pay = trial.payments
    if trial.accepted_at is None and pay.awaiting_payment_method and pay.fix_window_ends_at:
        yield Deadline(pay.fix_window_ends_at, "Payment fix window ends", RejectUnpaid())


def hold_expiry(trial: Facts) -> Iterator[Deadline]:
    for hold in trial.payments.holds:
        if hold.state == "active":
            label = f"Authorization {hold.number} expires"
            yield Deadline(hold.expires_at, label, ExpireHold(hold.number))


def reauthorization(trial: Facts) -> Iterator[Deadline]:
    """No effect of its own: once it passes, `next_step` asks for the new authorization."""
    hold = trial.payments.hold
    reauth_at = trial.payments.reauth_at(hold, trial.chargeable) if hold is not None else None
    if hold is not None and reauth_at is not None:
        yield Deadline(reauth_at, f"Re-authorize before authorization {hold.number} expires", None)


def dispatch_sla(trial: Facts) -> Iterator[Deadline]:
    flagged = Attention.DISPATCH_OVERDUE in trial.shipping.sla_flagged
    if trial.status == TrialStatus.AWAITING_DISPATCH and trial.accepted_at and not flagged:
        yield Deadline(
            trial.accepted_at + trial.policy.dispatch_sla, "Dispatch SLA", FlagOverdue(Attention.DISPATCH_OVERDUE)
        )


def delivery_sla(trial: Facts) -> Iterator[Deadline]:
    """Counted from the latest shipment: the dispatch, or the reship of a lost parcel's pieces."""
    flagged = Attention.DELIVERY_OVERDUE in trial.shipping.sla_flagged
    shipped = trial.shipping.shipped_at
    on_its_way = any(p.on_its_way for p in trial.shipping.parcels.values())
    if trial.status == TrialStatus.IN_TRANSIT and shipped and not flagged and on_its_way:
        yield Deadline(shipped + trial.policy.delivery_sla, "Delivery SLA", FlagOverdue(Attention.DELIVERY_OVERDUE))


def reship_sla(trial: Facts) -> Iterator[Deadline]:
    """Replacements for a lost parcel are due within the dispatch SLA of its loss; late, staff are told."""
    since = trial.shipping.reship_awaited_since
    if since is not None and Attention.RESHIP_OVERDUE not in trial.shipping.sla_flagged:
        yield Deadline(since + trial.policy.dispatch_sla, "Reship SLA", FlagOverdue(Attention.RESHIP_OVERDUE))


def reminders(trial: Facts) -> Iterator[Deadline]:
    ends = trial.trial_ends_at
    if trial.status != TrialStatus.ON_TRIAL or ends is None:
        return
    for i, before in enumerate(trial.policy.reminders_before_end):
        if (i, ends) not in trial.clock.reminders_sent:
            label = f"Reminder {hours(before)} h before the trial ends"
            yield Deadline(ends - before, label, Remind(i))


def trial_end(trial: Facts) -> Iterator[Deadline]:
    """The trial closes at its end, unless a replacement sent for an exchange is still awaited: then the end
    waits for it (it has its exchange days once it arrives), and staff are told once."""
    ends = trial.trial_ends_at
    if trial.status == TrialStatus.ON_TRIAL and ends is not None:
        if not trial.exchanges.pending():
            yield Deadline(ends, f"Trial ends {ends:%d %b %H:%M} UTC", CloseTrial())
        elif not trial.exchanges.pending_flagged:
            yield Deadline(ends, "The trial's end waits for a replacement", FlagExchangePending())


def return_window(trial: Facts) -> Iterator[Deadline]:
    deadline = trial.return_deadline
    if trial.closed_at is None or deadline is None:
        return
    waiting = trial.returns.awaiting_return()
    booked = trial.bookings.booked_pieces()
    if any(p.piece_id not in booked for p in waiting):
        yield Deadline(deadline, f"Return window closes {deadline:%d %b %H:%M} UTC", KeepUnreturned())
    if any(p.piece_id in booked for p in waiting):
        # Booked with a carrier: its scan may reach the engine a while after it happened.
        late = deadline + trial.policy.scan_grace
        yield Deadline(late, f"Booked returns' scans due by {late:%d %b %H:%M} UTC", KeepUnreturned(booked=True))


def return_due(trial: Facts) -> Iterator[Deadline]:
    """A day before the return window closes, a client with pieces still to send back is told (trials that
    tell the client the journey, and reach them)."""
    deadline = trial.return_deadline
    if trial.closed_at is None or deadline is None or trial.returns.return_due_told:
        return
    if not trial.journal.reaches_the_client_on_the_way:
        return
    last_day = deadline - trial.policy.day
    if last_day > trial.closed_at and trial.returns.awaiting_return():
        yield Deadline(last_day, f"Tell the client returns are due by {deadline:%d %b %H:%M} UTC", TellReturnDue())


def return_receipt(trial: Facts) -> Iterator[Deadline]:
    """The receipt window: a return that never reached the warehouse is lost (never charged; a carrier claim);
    one the carrier delivered there but nobody inspected in time is taken as returned (never charged either:
    the retailer has the piece)."""
    for piece in trial.pieces.values():
        if piece.state == PieceState.RETURN_IN_TRANSIT and piece.return_shipped_at:
            what = "to be inspected" if piece.return_received_at else "due at the warehouse"
            yield Deadline(
                piece.return_shipped_at + trial.policy.return_receipt,
                f"Return of {piece.piece_id} {what}",
                LoseReturn(piece.piece_id),
            )


def client_daytime(trial: Facts) -> Iterator[Deadline]:
    """A message held through the client's night goes when their day begins (the step is then due)."""
    for n in trial.journal.outbox:
        if n.not_before is not None:
            yield Deadline(n.not_before, "Send the client's message when their day begins", None)


def refund_window(trial: Facts) -> Iterator[Deadline]:
    """After completion: the end of the time in which support may refund a charged piece."""
    until = trial.refunds_until
    if until is not None:
        yield Deadline(until, f"Refund window closes {until:%d %b %H:%M} UTC", CloseRefunds())


def settlement_retries(trial: Facts) -> Iterator[Deadline]:
    for s in trial.payments.settlements:
        if s.state == "waiting" and s.next_attempt_at:
            yield Deadline(s.next_attempt_at, f"Retry settlement {s.number}", RetrySettlement(s.number))


DEADLINES: tuple[Rule, ...] = (
    payment_fix_window,
    hold_expiry,
    reauthorization,
    dispatch_sla,
    delivery_sla,
    reship_sla,
    reminders,
    trial_end,
    return_due,
    return_window,
    return_receipt,
    settlement_retries,
    refund_window,
    client_daytime,
)
# Rules that still hold once the trial has a final status (the others name nothing then, or are ignored).
AFTER_THE_END: tuple[Rule, ...] = (refund_window, client_daytime)
# Rules whose deadlines have no effect of their own (see the module's docstring).
WAKE_ONLY = frozenset({reauthorization, client_daytime})


def apply_due(trial: Facts, now: datetime, apply: Callable[[Effect], None]) -> None:
    """Apply, in table order, the effect of every deadline that has passed by `now`. A rule's deadlines are
    read after each effect applied, so an effect that opens another deadline (the end opens the return
    window) is seen in the same pass. Calling it twice changes nothing more."""
    for rule in DEADLINES:
        if rule in WAKE_ONLY:
            continue
        for deadline in rule(trial):
            if trial.final_status is not None and rule not in AFTER_THE_END:
                break  # a trial that ended (rejected for want of payment) has no more deadlines but these
            if deadline.effect is not None and now >= deadline.at:
                apply(deadline.effect)


def next_deadline(trial: Facts, now: datetime) -> tuple[datetime, str] | None:
    """The earliest future moment at which a deadline falls due, with a label for the timer."""
    rules = AFTER_THE_END if trial.final_status is not None else DEADLINES
    ahead = [d for rule in rules for d in rule(trial) if d.at > now]
    first = min(ahead, key=lambda d: d.at, default=None)
    return (first.at, first.label) if first else None
