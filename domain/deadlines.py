"""Every deadline of a trial, in one table.

Each rule looks at a trial and names the deadlines it has now: when each falls due, a label for the
workflow's timer, and what applying it does. `Trial.tick(now)` applies, in table order, every deadline
that has passed; `Trial.next_deadline(now)` is the earliest one still ahead. Both read this table, so the
workflow can never sleep through a deadline that `tick` would act on.

A deadline without an effect (`apply` None) changes no state: passing it makes a request due instead
(re-authorizing a hold is asked for by `Trial.next_step`). Rules that only ever name such deadlines are in
`WAKE_ONLY`, and `tick` does not even ask them.

Order matters where one deadline's effect opens another: the trial end closes the trial, which starts the
return window, and a rejection for want of a payment method ends everything after it.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from domain.pieces import Move, PieceState
from domain.status import Attention, TrialStatus
from domain.steps import AuthorizeRequest, NotificationKind

if TYPE_CHECKING:
    from domain.trial import Trial


@dataclass(frozen=True)
class Deadline:
    at: datetime
    label: str
    apply: Callable[[datetime], None] | None


Rule = Callable[["Trial"], Iterator[Deadline]]


def _hours(d: timedelta) -> int:
    return round(d.total_seconds() / 3600)


def payment_fix_window(trial: "Trial") -> Iterator[Deadline]:
    pay = trial.payments
    if trial.accepted_at is None and pay.awaiting_payment_method and pay.fix_window_ends_at:
        yield Deadline(pay.fix_window_ends_at, "Payment fix window ends", partial(_reject_unpaid, trial))


def hold_expiry(trial: "Trial") -> Iterator[Deadline]:
    for hold in trial.payments.holds:
        if hold.state == "active":
            label = f"Authorization {hold.number} expires"
            yield Deadline(hold.expires_at, label, partial(trial.payments.expire, hold))


def reauthorization(trial: "Trial") -> Iterator[Deadline]:
    """No effect of its own: once it passes, `next_step` asks for the new authorization."""
    hold = trial.payments.hold
    reauth_at = trial.payments.reauth_at(hold, trial.chargeable) if hold is not None else None
    if hold is not None and reauth_at is not None:
        yield Deadline(reauth_at, f"Re-authorize before authorization {hold.number} expires", None)


def dispatch_sla(trial: "Trial") -> Iterator[Deadline]:
    flagged = Attention.DISPATCH_OVERDUE in trial.sla_flagged
    if trial.status == TrialStatus.AWAITING_DISPATCH and trial.accepted_at and not flagged:
        yield Deadline(trial.accepted_at + trial.policy.dispatch_sla, "Dispatch SLA", partial(_dispatch_overdue, trial))


def delivery_sla(trial: "Trial") -> Iterator[Deadline]:
    """Counted from the latest shipment: the dispatch, or the reship of a lost parcel's pieces."""
    flagged = Attention.DELIVERY_OVERDUE in trial.sla_flagged
    shipped = trial.shipped_at
    on_its_way = any(p.on_its_way for p in trial.parcels.values())
    if trial.status == TrialStatus.IN_TRANSIT and shipped and not flagged and on_its_way:
        yield Deadline(shipped + trial.policy.delivery_sla, "Delivery SLA", partial(_delivery_overdue, trial))


def reship_sla(trial: "Trial") -> Iterator[Deadline]:
    """Replacements for a lost parcel are due within the dispatch SLA of its loss; late, staff are told."""
    since = trial.reship_awaited_since
    if since is not None and Attention.RESHIP_OVERDUE not in trial.sla_flagged:
        yield Deadline(since + trial.policy.dispatch_sla, "Reship SLA", partial(_reship_overdue, trial))


def reminders(trial: "Trial") -> Iterator[Deadline]:
    ends = trial.trial_ends_at
    if trial.status != TrialStatus.ON_TRIAL or ends is None:
        return
    for i, before in enumerate(trial.policy.reminders_before_end):
        if (i, ends) not in trial.reminders_sent:
            label = f"Reminder {_hours(before)} h before the trial ends"
            yield Deadline(ends - before, label, partial(_remind, trial, i))


def trial_end(trial: "Trial") -> Iterator[Deadline]:
    ends = trial.trial_ends_at
    if trial.status == TrialStatus.ON_TRIAL and ends is not None:
        yield Deadline(ends, f"Trial ends {ends:%d %b %H:%M} UTC", trial.close)


def return_window(trial: "Trial") -> Iterator[Deadline]:
    deadline = trial.return_deadline
    if trial.closed_at is None or deadline is None:
        return
    if any(p.state == PieceState.AWAITING_RETURN for p in trial.pieces.values()):
        yield Deadline(deadline, f"Return window closes {deadline:%d %b %H:%M} UTC", partial(_keep_unreturned, trial))


def return_receipt(trial: "Trial") -> Iterator[Deadline]:
    for piece in trial.pieces.values():
        if piece.state == PieceState.RETURN_IN_TRANSIT and piece.return_shipped_at:
            yield Deadline(
                piece.return_shipped_at + trial.policy.return_receipt,
                f"Return of {piece.piece_id} due at the warehouse",
                partial(_lose_return, trial, piece.piece_id),
            )


def refund_window(trial: "Trial") -> Iterator[Deadline]:
    """After completion: the end of the time in which support may refund a charged piece."""
    until = trial.refunds_until
    if until is not None:
        yield Deadline(until, f"Refund window closes {until:%d %b %H:%M} UTC", partial(_close_refunds, trial))


def settlement_retries(trial: "Trial") -> Iterator[Deadline]:
    for s in trial.payments.settlements:
        if s.state == "waiting" and s.next_attempt_at:
            yield Deadline(s.next_attempt_at, f"Retry settlement {s.number}", partial(trial.payments.retry, s))


# ---------------------------------------------------------------------- what applying each one does


def _reject_unpaid(trial: "Trial", now: datetime) -> None:
    if isinstance(trial.in_flight, AuthorizeRequest):
        return  # the authorization under way may still succeed; its answer comes first
    trial.journal.notify(
        NotificationKind.TRIAL_REJECTED, ["shopper"],
        "No payment method could be authorized in time; the Style Trial was not opened.",
    )  # fmt: skip
    trial.end(now, TrialStatus.REJECTED, "No payment method was authorized within the fix window.")


def _overdue(reason: Attention, kind: NotificationKind, text: str) -> Callable[["Trial", datetime], None]:
    def flag(trial: "Trial", now: datetime) -> None:
        if reason in trial.sla_flagged:
            return
        trial.sla_flagged.add(reason)
        trial.journal.flag(reason, text)
        trial.journal.notify(kind, ["staff"], text)
        trial.journal.event(now, reason.value, text)

    return flag


_dispatch_overdue = _overdue(
    Attention.DISPATCH_OVERDUE, NotificationKind.DISPATCH_OVERDUE, "Not dispatched within the dispatch SLA."
)
_delivery_overdue = _overdue(
    Attention.DELIVERY_OVERDUE,
    NotificationKind.DELIVERY_OVERDUE,
    "Not every parcel was delivered within the delivery SLA.",
)

_reship_overdue = _overdue(
    Attention.RESHIP_OVERDUE,
    NotificationKind.RESHIP_OVERDUE,
    "The pieces of a lost parcel were not reshipped within the dispatch SLA.",
)


def _remind(trial: "Trial", number: int, now: datetime) -> None:
    ends = trial.trial_ends_at
    if ends is None or now >= ends:
        return  # a reminder that would arrive after the end is not sent
    trial.reminders_sent.add((number, ends))
    text = f"The Style Trial ends in {_hours(ends - now)} hours ({ends:%d %b %H:%M} UTC)."
    trial.journal.notify(NotificationKind.TRIAL_ENDING, ["client", "shopper"], text, about=ends)
    if trial.journal.tells_the_client:
        # In the audit trail (and so a `trial.reminder` event) only for trials since the client-messages
        # patch: for older ones it would be a change of view, so a projection their histories do not have.
        trial.journal.event(now, "reminded", f"Reminder sent: {text}")


def _keep_unreturned(trial: "Trial", now: datetime) -> None:
    late = [p for p in trial.pieces.values() if p.state == PieceState.AWAITING_RETURN]
    for piece in late:
        piece.move(Move.RETURN_WINDOW_CLOSED)
    if late:
        ids = [p.piece_id for p in late]
        text = f"{len(ids)} piece(s) not shipped back in time are kept."
        trial.journal.event(now, "return_window_closed", text, piece_ids=ids)


def _lose_return(trial: "Trial", piece_id: str, now: datetime) -> None:
    piece = trial.pieces[piece_id]
    piece.move(Move.RETURN_NOT_RECEIVED)
    trial.journal.flag(Attention.RETURN_LOST, "A return never reached the warehouse: open a carrier claim.")
    trial.journal.notify(
        NotificationKind.RETURN_LOST, ["staff"],
        f"Return {piece.return_tracking} of piece {piece_id} was not received within the receipt window.",
    )  # fmt: skip
    trial.journal.event(now, "return_lost", f"Return of {piece_id} not received; lost in return.", piece_ids=[piece_id])


def _close_refunds(trial: "Trial", now: datetime) -> None:
    trial.refund_window_closed = True


DEADLINES: tuple[Rule, ...] = (
    payment_fix_window,
    hold_expiry,
    reauthorization,
    dispatch_sla,
    delivery_sla,
    reship_sla,
    reminders,
    trial_end,
    return_window,
    return_receipt,
    settlement_retries,
    refund_window,
)
# Rules that still hold once the trial has a final status (the others name nothing then, or are ignored).
AFTER_THE_END: tuple[Rule, ...] = (refund_window,)
# Rules whose deadlines have no effect of their own (see the module's docstring).
WAKE_ONLY = frozenset({reauthorization})
