"""Returns the client does not have to organise: a courier collection at their door, or a prepaid label.

A booking names the pieces going back. The trial asks the returns provider for it (`ReturnBookingRequest`,
one at a time, like every request) and keeps what comes back: the carrier and tracking number of the return
parcel, and the label's link for the client. From then on the carrier's scans of that tracking number move
the trial (`domain.carrier_scans`): the first scan ships the return, its delivery to the warehouse is its
receipt.

Rules, each refused with its own code before anything changes:
- only pieces the client sends back can be booked: decided "return" while on trial, or awaiting their
  return after the close; a piece is in at most one live booking (`piece_already_booked`);
- a collection is at the order's shipping address (`no_shipping_address` without one), in a slot of one to
  `MAX_SLOT` hours that starts in the future and ends before the return deadline (`invalid_slot`);
- one booking is asked of the provider at a time (`booking_under_way`), and a trial holds at most
  `MAX_BOOKINGS` (`too_many_bookings`): bookings cost money and each one is a message to the client.

A booked piece is safe from the return deadline: a carrier's scan reaches the engine some time after it
happens, so pieces in a booking are kept as unreturned only the policy's `scan_grace` after the deadline,
and a scan that happened before the deadline ships them (domain/deadlines.py, `return_window`).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from domain import commands as cmd
from domain.errors import ErrorCode, require
from domain.journal import Journal
from domain.order import TrialOrder
from domain.pieces import Piece, PieceState, described
from domain.steps import BookingKind, NotificationKind, ReturnBookingRequest, ReturnBookingResult

MAX_BOOKINGS = 6
MAX_SLOT = timedelta(hours=8)
MIN_SLOT = timedelta(hours=1)
# Collection slots are offered only with this much time left before the return deadline (a label otherwise).
OFFER_SLOTS_FROM = timedelta(days=3)

BookingState = Literal["requested", "booked", "failed", "shipped", "received"]


@dataclass
class ReturnBooking:
    number: int
    kind: BookingKind
    piece_ids: list[str]
    requested_at: datetime
    requested_by: str
    channel: cmd.Channel
    slot_starts_at: datetime | None = None
    slot_ends_at: datetime | None = None
    state: BookingState = "requested"
    carrier: str | None = None
    tracking_number: str | None = None
    # Where the client gets the label: a link that works without logging in. Only in the client's message
    # (and history, encrypted), never in the view: it opens a page with the client's address.
    label_url: str | None = None
    failure: str | None = None

    @property
    def live(self) -> bool:
        """Asked for or booked, and the carrier has not scanned it yet: its pieces are spoken for."""
        return self.state in ("requested", "booked")


def to_send_back(piece: Piece) -> bool:
    """A piece the client is sending back: decided return while on trial, or awaiting its return."""
    on_trial_returning = piece.state == PieceState.ON_TRIAL and piece.decision == "return"
    return on_trial_returning or piece.state == PieceState.AWAITING_RETURN


class ReturnBookings:
    def __init__(
        self, order: TrialOrder, pieces: Mapping[str, Piece], journal: Journal, require_piece: Callable[[str], Piece]
    ) -> None:
        self._order = order
        self._pieces = pieces
        self._journal = journal
        self._require_piece = require_piece
        self.bookings: list[ReturnBooking] = []
        # Whether the client was offered a collection (once per trial, trials that tell the return's journey).
        self.offered = False

    # ------------------------------------------------------------------ booking

    def check(
        self, kind: BookingKind, piece_ids: list[str] | None, now: datetime, return_deadline: datetime | None,
        slot: cmd.Slot | None = None,
    ) -> list[str]:  # fmt: skip
        """The pieces this booking would carry; raises when it may not be booked."""
        msg = "The order has no shipping address; a courier cannot collect and a label cannot be addressed."
        require(self._order.shipping_address is not None, ErrorCode.NO_SHIPPING_ADDRESS, msg)
        msg = "A return is already being booked for this trial; try again in a moment."
        require(all(b.state != "requested" for b in self.bookings), ErrorCode.BOOKING_UNDER_WAY, msg)
        msg = f"A trial holds at most {MAX_BOOKINGS} return bookings; this one has them all."
        require(len(self.bookings) < MAX_BOOKINGS, ErrorCode.TOO_MANY_BOOKINGS, msg)
        booked = self.booked_pieces()
        if piece_ids is None:
            pieces = [p.piece_id for p in self._pieces.values() if to_send_back(p) and p.piece_id not in booked]
            msg = "No piece is waiting to go back (decide return first); nothing to collect."
            require(bool(pieces), ErrorCode.NOTHING_TO_RETURN, msg)
        else:
            require(bool(piece_ids), ErrorCode.NOTHING_TO_RETURN, "Name at least one piece, or none for all.")
            require(len(set(piece_ids)) == len(piece_ids), ErrorCode.DUPLICATE_PIECE, "A piece is listed twice.")
            for pid in piece_ids:
                piece = self._require_piece(pid)
                msg = (
                    f"Piece {pid!r} is {described(piece.state)}"
                    + (", decided keep" if piece.decision == "keep" else "")
                    + "; only pieces going back (decided return, or awaiting their return) can be booked."
                )
                require(to_send_back(piece), ErrorCode.NOTHING_TO_RETURN, msg)
                msg = f"Piece {pid!r} is already in a booked return."
                require(pid not in booked, ErrorCode.PIECE_ALREADY_BOOKED, msg)
            pieces = list(piece_ids)
        if kind == "collection":
            assert slot is not None
            check_slot(slot, now, return_deadline)
        return pieces

    def book(
        self, kind: BookingKind, piece_ids: list[str], actor: str, channel: cmd.Channel, now: datetime,
        slot: cmd.Slot | None = None,
    ) -> ReturnBooking:  # fmt: skip
        booking = ReturnBooking(
            number=len(self.bookings) + 1, kind=kind, piece_ids=piece_ids, requested_at=now, requested_by=actor,
            channel=channel, slot_starts_at=slot.starts_at if slot else None, slot_ends_at=slot.ends_at if slot else None,
        )  # fmt: skip
        self.bookings.append(booking)
        # An offer still waiting for the client's day says nothing true any more once they have booked.
        self._journal.withdraw(NotificationKind.COLLECTION_OFFER, NotificationKind.LABEL_OFFER)
        what = "A courier collection" if kind == "collection" else "A prepaid return label"
        self._journal.event(
            now, "return_booking_requested", f"{what} requested for {len(piece_ids)} piece(s).", actor=actor,
            channel=channel, piece_ids=piece_ids,
        )  # fmt: skip
        return booking

    def booked_pieces(self) -> set[str]:
        return {pid for b in self.bookings if b.live for pid in b.piece_ids}

    def offer(self, now: datetime, return_deadline: datetime | None, tells_returns: bool) -> None:
        """Once the client has decided to send pieces back (every delivered piece decided, or the trial
        closed), they are offered a collection when the order has an address to collect from and
        `OFFER_SLOTS_FROM` is left before the deadline (three slots then fit), a prepaid label otherwise. The
        slots are chosen when the message is written, on the client's clock (activities/messages.py); a reply
        books one (application/replies.py), as staff's `book_collection` does."""
        if self.offered or not tells_returns or self._order.shipping_address is None or return_deadline is None:
            return
        undecided = any(p.state == PieceState.ON_TRIAL and p.decision is None for p in self._pieces.values())
        unbooked = [p for p in self._pieces.values() if to_send_back(p) and p.piece_id not in self.booked_pieces()]
        if undecided or not unbooked:
            return
        self.offered = True
        text = f"Offered the client a collection (or a label) for {len(unbooked)} piece(s)."
        facts = {"pieces": str(len(unbooked))}
        kind = (
            NotificationKind.COLLECTION_OFFER
            if return_deadline - now >= OFFER_SLOTS_FROM
            else NotificationKind.LABEL_OFFER
        )
        self._journal.tell_the_journey(kind, text, facts, about=return_deadline)

    # ------------------------------------------------------------------ the provider's answer

    def request(self, trial_id: str) -> ReturnBookingRequest | None:
        booking = next((b for b in self.bookings if b.state == "requested"), None)
        if booking is None:
            return None
        assert self._order.shipping_address is not None  # checked when it was booked
        return ReturnBookingRequest(
            key=f"{trial_id}-return-booking-{booking.number}", trial_id=trial_id, order_id=self._order.order_id,
            kind=booking.kind, piece_ids=list(booking.piece_ids), address=self._order.shipping_address,
            slot_starts_at=booking.slot_starts_at, slot_ends_at=booking.slot_ends_at,
        )  # fmt: skip

    def record(self, step: ReturnBookingRequest, result: ReturnBookingResult, now: datetime) -> None:
        booking = self.bookings[int(step.key.rsplit("-", 1)[1]) - 1]
        if not result.booked or not result.tracking_number:
            booking.state = "failed"
            booking.failure = result.failure_message or result.failure_code or "the provider refused it"
            text = f"Return booking {booking.number} ({booking.kind}) could not be made: {booking.failure}"
            self._journal.event(now, "return_booking_failed", text, piece_ids=booking.piece_ids)
            audience = self._journal.with_the_client(["shopper", "staff"], on_the_way=True)
            self._journal.notify(NotificationKind.RETURN_BOOKING_FAILED, audience, text, facts={"kind": booking.kind})
            return
        booking.state = "booked"
        booking.carrier, booking.tracking_number, booking.label_url = (
            result.carrier or "carrier", result.tracking_number, result.label_url,
        )  # fmt: skip
        text = (
            f"Return booked: {booking.kind} with {booking.carrier} ({booking.tracking_number}) for "
            f"{len(booking.piece_ids)} piece(s)."
        )
        self._journal.event(now, "return_booked", text, piece_ids=booking.piece_ids)
        facts = {
            "kind": booking.kind, "carrier": booking.carrier, "tracking": booking.tracking_number,
            "pieces": str(len(booking.piece_ids)), "label_url": booking.label_url or "",
            "slot_ends_at": booking.slot_ends_at.isoformat() if booking.slot_ends_at else "",
        }  # fmt: skip
        kind = (
            NotificationKind.COLLECTION_BOOKED if booking.kind == "collection" else NotificationKind.RETURN_LABEL_ISSUED
        )
        self._journal.tell_the_journey(kind, text, facts, about=booking.slot_starts_at)

    # ------------------------------------------------------------------ the carrier's scans

    def by_tracking(self, tracking_number: str) -> ReturnBooking | None:
        return next((b for b in self.bookings if b.tracking_number == tracking_number), None)


def check_slot(slot: cmd.Slot, now: datetime, return_deadline: datetime | None) -> None:
    start, end = slot.starts_at, slot.ends_at
    msg = "A collection slot's times must include a time zone."
    require(start.tzinfo is not None and end.tzinfo is not None, ErrorCode.INVALID_SLOT, msg)
    require(start > now, ErrorCode.INVALID_SLOT, "The collection slot has already started; choose a later one.")
    hours = MAX_SLOT.total_seconds() / 3600
    msg = f"A collection slot lasts from one to {hours:g} hours."
    require(MIN_SLOT <= end - start <= MAX_SLOT, ErrorCode.INVALID_SLOT, msg)
    if return_deadline is not None:
        msg = f"The collection must end by the return deadline, {return_deadline:%d %b %H:%M} UTC."
        require(end <= return_deadline, ErrorCode.INVALID_SLOT, msg)
