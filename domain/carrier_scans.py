"""What a carrier's scan means for a trial: the same changes fulfilment makes by hand, read from tracking.

An outbound parcel's "delivered" is its delivery (`deliver`); any earlier status changes nothing. A return
parcel, booked through the engine (`domain.return_bookings`) or posted by fulfilment with its tracking
number, is shipped by its first scan (its pieces stop counting towards a charge, as of the scan's time) and
received when the carrier delivers it to the warehouse (the receipt window is met; inspection follows).

Scans arrive late, twice and out of order. Reading one is pure and answers the changes it makes now; a scan
that would change nothing (the same scan again, "in transit" after "delivered") is refused with
`scan_changes_nothing`, so it never reaches history. A "delivered" with no earlier scan does both steps.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from domain import commands as cmd
from domain.errors import DomainError, ErrorCode, require
from domain.parcels import check_delivery_time, parcel_to_deliver
from domain.pieces import Piece, PieceState, check_returnable
from domain.return_bookings import ReturnBooking, ReturnBookings
from domain.shipping import Shipping


@dataclass(frozen=True)
class Deliver:
    tracking_number: str
    at: datetime


@dataclass(frozen=True)
class ShipReturn:
    piece_ids: list[str]
    carrier: str
    tracking_number: str
    at: datetime
    booking: ReturnBooking | None


@dataclass(frozen=True)
class ReceiveReturn:
    piece_ids: list[str]
    tracking_number: str
    at: datetime
    booking: ReturnBooking | None


Change = Deliver | ShipReturn | ReceiveReturn


def read_scan(
    scan: cmd.CarrierScan, now: datetime, shipping: Shipping, bookings: ReturnBookings, pieces: Mapping[str, Piece],
    return_deadline: datetime | None,
) -> list[Change]:  # fmt: skip
    """The changes `scan` makes to the trial now; raises when it makes none or cannot be read."""
    at, tracking = scan.occurred_at, scan.tracking_number
    require(at.tzinfo is not None, ErrorCode.INVALID_SCAN_TIME, "occurred_at must include a time zone.")
    require(at <= now, ErrorCode.INVALID_SCAN_TIME, "occurred_at is in the future.")
    parcel = shipping.parcels.get(tracking)
    if parcel is not None:
        assert shipping.dispatched_at is not None
        require(scan.status == "delivered", ErrorCode.SCAN_CHANGES_NOTHING, _unchanged(tracking, "is on its way"))
        require(parcel.delivered_at is None, ErrorCode.SCAN_CHANGES_NOTHING, _unchanged(tracking, "was delivered"))
        parcel_to_deliver(shipping.parcels, tracking)  # a parcel declared lost: staff decide (parcel_lost)
        check_delivery_time(at, now, shipping.dispatched_at)
        return [Deliver(tracking, at)]
    booking = bookings.by_tracking(tracking)
    on_it = [p.piece_id for p in pieces.values() if p.return_tracking == tracking]
    if booking is None and not on_it:
        raise DomainError(ErrorCode.UNKNOWN_PARCEL, f"No parcel of this order has tracking number {tracking!r}.")
    changes: list[Change] = []
    shipping_now: list[str] = []
    if booking is not None and booking.state == "booked":
        window_closed = return_deadline is not None and at >= return_deadline
        shipping_now = _shippable(booking, pieces, window_closed)
        carrier = booking.carrier or scan.carrier or "carrier"
        changes.append(ShipReturn(shipping_now, carrier, tracking, at, booking))
    if scan.status == "delivered":
        in_transit = [pid for pid in on_it if pieces[pid].state == PieceState.RETURN_IN_TRANSIT]
        arriving = [pid for pid in [*in_transit, *shipping_now] if pieces[pid].return_received_at is None]
        if arriving:
            changes.append(ReceiveReturn(arriving, tracking, at, booking))
    require(bool(changes), ErrorCode.SCAN_CHANGES_NOTHING, _unchanged(tracking, "already shows this"))
    return changes


def _shippable(booking: ReturnBooking, pieces: Mapping[str, Piece], window_closed: bool) -> list[str]:
    """The booking's pieces that can still go back. When none can, the first one's refusal says why."""
    shippable, refusal = [], None
    for pid in booking.piece_ids:
        try:
            check_returnable(pieces[pid], window_closed=window_closed)
            shippable.append(pid)
        except DomainError as err:
            refusal = refusal or err
    if not shippable:
        assert refusal is not None
        raise refusal
    return shippable


def _unchanged(tracking: str, why: str) -> str:
    return f"Parcel {tracking!r} {why}; this scan changes nothing."
