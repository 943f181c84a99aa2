"""Parcels out to the client: what a dispatch may list and when a delivery may be recorded."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from domain import commands as cmd
from domain.errors import DomainError, ErrorCode, require


@dataclass
class ParcelRecord:
    carrier: str
    tracking_number: str
    piece_ids: list[str]
    delivered_at: datetime | None = None
    recorded_by: str | None = None
    # Declared lost in transit by staff: it will never be delivered (a carrier claim is open for it).
    lost_at: datetime | None = None

    @property
    def on_its_way(self) -> bool:
        return self.delivered_at is None and self.lost_at is None


def check_parcels(parcels: list[cmd.Parcel], require_piece: Callable[[str], object]) -> None:
    """Every parcel has a carrier, a tracking number of its own and pieces of this order, each in one parcel.
    A piece in no parcel is not an error: it was unavailable at pick time."""
    seen_pieces: set[str] = set()
    seen_tracking: set[str] = set()
    for parcel in parcels:
        tracking = parcel.tracking_number
        msg = "Every parcel needs a carrier and a tracking number."
        require(bool(tracking.strip()) and bool(parcel.carrier.strip()), ErrorCode.MISSING_FIELD, msg)
        msg = f"Tracking number {tracking!r} is used for two parcels."
        require(tracking not in seen_tracking, ErrorCode.DUPLICATE_TRACKING_NUMBER, msg)
        seen_tracking.add(tracking)
        msg = f"Parcel {tracking!r} has no pieces; leave unavailable pieces out of every parcel."
        require(bool(parcel.piece_ids), ErrorCode.EMPTY_PARCEL, msg)
        for pid in parcel.piece_ids:
            require_piece(pid)
            require(
                pid not in seen_pieces,
                ErrorCode.PIECE_IN_TWO_PARCELS,
                f"Piece {pid!r} is listed in more than one parcel.",
            )
            seen_pieces.add(pid)


def _parcel(parcels: dict[str, ParcelRecord], tracking_number: str) -> ParcelRecord:
    parcel = parcels.get(tracking_number)
    if parcel is None:
        raise DomainError(ErrorCode.UNKNOWN_PARCEL, f"No parcel of this order has tracking number {tracking_number!r}.")
    return parcel


def parcel_to_deliver(parcels: dict[str, ParcelRecord], tracking_number: str) -> ParcelRecord:
    parcel = _parcel(parcels, tracking_number)
    msg = f"Parcel {tracking_number!r} was already delivered."
    require(parcel.delivered_at is None, ErrorCode.ALREADY_DELIVERED, msg)
    msg = f"Parcel {tracking_number!r} was declared lost in transit; its pieces can no longer be delivered."
    require(parcel.lost_at is None, ErrorCode.PARCEL_LOST, msg)
    return parcel


def parcel_to_declare_lost(parcels: dict[str, ParcelRecord], tracking_number: str) -> ParcelRecord:
    """Only a parcel still on its way can be lost: one delivered reached the client."""
    parcel = _parcel(parcels, tracking_number)
    msg = f"Parcel {tracking_number!r} was delivered; a delivered parcel cannot be lost in transit."
    require(parcel.delivered_at is None, ErrorCode.ALREADY_DELIVERED, msg)
    msg = f"Parcel {tracking_number!r} was already declared lost."
    require(parcel.lost_at is None, ErrorCode.PARCEL_LOST, msg)
    return parcel


def check_delivery_time(when: datetime, now: datetime, dispatched_at: datetime) -> None:
    """A delivery reported late may carry its real time, but never one in the future or before dispatch."""
    require(when.tzinfo is not None, ErrorCode.INVALID_DELIVERY_TIME, "delivered_at must include a time zone.")
    require(when <= now, ErrorCode.INVALID_DELIVERY_TIME, "delivered_at is in the future.")
    msg = "delivered_at is before the order was dispatched."
    require(when >= dispatched_at, ErrorCode.INVALID_DELIVERY_TIME, msg)
