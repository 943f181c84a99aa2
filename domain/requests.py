"""What a trial asks of the outside world next, in order of precedence: a message waiting to go out, a
return the client asked to be booked (a collection or a label), a stale hold to release, a refund, stock to give back; then, while the trial runs, its authorization, its
stock reservation, and the payments it owes (`domain.payments`). Reads only; the trial runs the request
through the workflow and books the answer (`Trial.record`).
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from domain.journal import Journal
from domain.order import TrialOrder
from domain.payments import Payments
from domain.pieces import Piece
from domain.return_bookings import ReturnBookings
from domain.status import TrialStatus
from domain.steps import Step
from domain.stock import Stock


class Facts(Protocol):
    """What the precedence reads of a trial (domain.trial.Trial has all of it)."""

    @property
    def pieces(self) -> Mapping[str, Piece]: ...
    def chargeable(self) -> int: ...
    def ready_to_complete(self) -> bool: ...

    order: TrialOrder
    trial_id: str
    journal: Journal
    bookings: ReturnBookings
    payments: Payments
    stock: Stock
    final_status: TrialStatus | None
    opened_at: datetime
    accepted_at: datetime | None


def pending_step(trial: Facts, now: datetime | None) -> Step | None:
    """The request due now; `now` is None only when asking whether anything at all remains (see
    `Trial.finished`)."""
    message = trial.journal.due(now)
    if message is not None:
        return message
    booking = trial.bookings.request(trial.trial_id)
    if booking is not None:
        return booking
    ended = trial.final_status is not None
    release = trial.payments.stale_release(ended, now or trial.opened_at)
    if release is not None:
        return release
    refund = trial.payments.refund_request(now or trial.opened_at)
    if refund is not None:
        return refund
    release_stock = trial.stock.release_request()
    if release_stock is not None:
        return release_stock
    if ended or now is None:
        return None
    if trial.accepted_at is None:
        return trial.payments.authorization(trial.order.value, now)
    reserve = trial.stock.reserve_request(list(trial.pieces))
    if reserve is not None:
        return reserve
    return trial.payments.next_request(now, trial.chargeable, complete=trial.ready_to_complete())
