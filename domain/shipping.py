"""The outbound journey of a trial's pieces: parcels dispatched, delivered, lost on their way, reshipped, and
the shipping SLAs flagged to staff.

`Shipping` owns the parcels, when the order was dispatched and when the latest parcel left, and which
shipping SLAs have been flagged. It moves the pieces it ships through the transition table
(`domain.pieces`), books their units with `Stock`, and writes what happened to the `Journal`. What follows
for the whole trial (the trial's clock starts, or nothing arrived and the trial is cancelled) it answers to
the trial, which decides (`domain.trial.Trial`).
"""

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Literal

from domain import commands as cmd
from domain.errors import ErrorCode, require, require_actor_and_reason
from domain.journal import Journal
from domain.parcels import ParcelRecord, check_delivery_time, check_parcels, parcel_to_declare_lost, parcel_to_deliver
from domain.pieces import Move, Piece, PieceState, described
from domain.status import Attention
from domain.steps import NotificationKind
from domain.stock import Stock

# What each overdue flag sends staff, and the sentence.
OVERDUE: dict[Attention, tuple[NotificationKind, str]] = {
    Attention.DISPATCH_OVERDUE: (NotificationKind.DISPATCH_OVERDUE, "Not dispatched within the dispatch SLA."),
    Attention.DELIVERY_OVERDUE: (
        NotificationKind.DELIVERY_OVERDUE, "Not every parcel was delivered within the delivery SLA."
    ),
    Attention.RESHIP_OVERDUE: (
        NotificationKind.RESHIP_OVERDUE, "The pieces of a lost parcel were not reshipped within the dispatch SLA."
    ),
}  # fmt: skip


class Shipping:
    def __init__(
        self, pieces: Mapping[str, Piece], stock: Stock, journal: Journal, require_piece: Callable[[str], Piece]
    ) -> None:
        self._pieces = pieces
        self._stock = stock
        self._journal = journal
        self._require_piece = require_piece
        self.parcels: dict[str, ParcelRecord] = {}
        self.dispatched_at: datetime | None = None
        # When the latest parcel left the warehouse: the dispatch, or a reship of lost pieces since.
        self.shipped_at: datetime | None = None
        self.sla_flagged: set[Attention] = set()

    # ------------------------------------------------------------------ dispatch

    @staticmethod
    def require_a_parcel(c: cmd.Dispatch) -> None:
        """A dispatch with no parcel used to cancel the trial for good (every piece unavailable); a careless
        empty body must not do that, so a new one is refused, and a trial with nothing to send is cancelled
        by `cancel`. An empty dispatch accepted before keeps the rules it was accepted by (its replay)."""
        require(
            bool(c.parcels), ErrorCode.NO_PARCELS,
            "A dispatch needs at least one parcel; to give up a trial with nothing to send, cancel it.",
        )  # fmt: skip

    def require_undispatched(self) -> None:
        require(self.dispatched_at is None, ErrorCode.ALREADY_DISPATCHED, "This order has already been dispatched.")

    def check_parcels(self, c: cmd.Dispatch | cmd.Reshipment) -> None:
        check_parcels(c.parcels, self._require_piece)

    def dispatch(self, c: cmd.Dispatch, now: datetime) -> bool:
        """The order left the warehouse; pieces in no parcel are unavailable. False when no parcel went."""
        self.dispatched_at = self.shipped_at = now
        self._journal.clear(Attention.DISPATCH_OVERDUE)
        for parcel in c.parcels:
            self.parcels[parcel.tracking_number] = ParcelRecord(
                parcel.carrier, parcel.tracking_number, list(parcel.piece_ids)
            )
            for pid in parcel.piece_ids:
                piece = self._pieces[pid]
                piece.parcel = parcel.tracking_number
                if piece.state == PieceState.RESERVED:
                    piece.move(Move.DISPATCHED)
        unavailable = [p.piece_id for p in self._pieces.values() if p.state == PieceState.RESERVED]
        for pid in unavailable:
            self._pieces[pid].move(Move.LEFT_OUT)
        self._stock.release(unavailable)
        self._journal.event(
            now,
            "dispatched",
            f"Dispatched in {len(c.parcels)} parcel(s); {len(unavailable)} piece(s) unavailable.",
            piece_ids=unavailable,
        )
        self._tell_parcels_sent(c.parcels)
        return bool(self.parcels)

    def _tell_parcels_sent(self, parcels: list[cmd.Parcel]) -> None:
        """The client hears of each parcel on its way: carrier, tracking number, how many pieces."""
        for parcel in parcels:
            facts = {
                "carrier": parcel.carrier,
                "tracking": parcel.tracking_number,
                "pieces": str(len(parcel.piece_ids)),
            }
            text = f"Parcel {parcel.tracking_number} ({parcel.carrier}) is on its way with {len(parcel.piece_ids)} piece(s)."
            self._journal.tell_the_journey(NotificationKind.PARCEL_DISPATCHED, text, facts)

    # ------------------------------------------------------------------ delivery

    def check_delivery(self, c: cmd.Delivery, now: datetime) -> None:
        require(self.dispatched_at is not None, ErrorCode.NOT_DISPATCHED, "Nothing has been dispatched yet.")
        parcel_to_deliver(self.parcels, c.tracking_number)
        if c.actor is not None or c.reason is not None:
            require_actor_and_reason(c.actor, c.reason, "A delivery recorded by staff")
        assert self.dispatched_at is not None
        check_delivery_time(c.delivered_at or now, now, self.dispatched_at)

    def deliver(self, c: cmd.Delivery, now: datetime) -> datetime | None:
        """One parcel delivered. When nothing is awaited any more: when the last parcel arrived."""
        parcel = self.parcels[c.tracking_number]
        parcel.delivered_at = c.delivered_at or now
        parcel.recorded_by = c.actor
        for pid in parcel.piece_ids:
            if self._pieces[pid].state == PieceState.IN_TRANSIT:
                self._pieces[pid].move(Move.DELIVERED)
        self._journal.event(
            now,
            "delivered",
            f"Parcel {parcel.tracking_number} ({parcel.carrier}) delivered at {parcel.delivered_at:%d %b %H:%M} UTC.",
            actor=c.actor,
            reason=c.reason,
            piece_ids=list(parcel.piece_ids),
        )
        if self.awaiting():
            return None
        return max(p.delivered_at for p in self.parcels.values() if p.delivered_at is not None)

    def awaiting(self) -> bool:
        """A parcel is still on its way, or lost pieces wait for their reship: the clock cannot start."""
        return any(p.on_its_way for p in self.parcels.values()) or any(
            p.state == PieceState.AWAITING_RESHIP for p in self._pieces.values()
        )

    @property
    def reship_awaited_since(self) -> datetime | None:
        """When the pieces now awaiting a reship were lost (the earliest loss); None when none waits."""
        lost = [
            self.parcels[p.parcel].lost_at
            for p in self._pieces.values()
            if p.state == PieceState.AWAITING_RESHIP and p.parcel is not None
        ]
        return min((at for at in lost if at is not None), default=None)

    # ------------------------------------------------------------------ a parcel lost on its way out

    def check_lost(self, c: cmd.LostParcel) -> None:
        require(self.dispatched_at is not None, ErrorCode.NOT_DISPATCHED, "Nothing has been dispatched yet.")
        parcel_to_declare_lost(self.parcels, c.tracking_number)

    def declare_lost(self, c: cmd.LostParcel, now: datetime) -> None:
        """The parcel's pieces are never charged and their units written off; with `reship` replacements are
        awaited, and a carrier claim is flagged either way."""
        if c.reship and self.reship_awaited_since is None:
            self.sla_flagged.discard(Attention.RESHIP_OVERDUE)  # a new wait for a reship: its SLA starts again
        parcel = self.parcels[c.tracking_number]
        parcel.lost_at = now
        lost = [pid for pid in parcel.piece_ids if self._pieces[pid].state == PieceState.IN_TRANSIT]
        for pid in lost:
            self._pieces[pid].move(Move.LOST_TO_RESHIP if c.reship else Move.LOST)
        self._stock.write_off(lost)
        then = "replacements will be reshipped" if c.reship else "its pieces will not be charged"
        text = f"Parcel {parcel.tracking_number} ({parcel.carrier}) lost in transit; {then}."
        self._journal.event(now, "parcel_lost", text, actor=c.actor, reason=c.reason, piece_ids=lost)
        claim = f"Parcel {parcel.tracking_number} ({parcel.carrier}) was lost in transit: file a carrier claim."
        self._journal.flag(Attention.CARRIER_CLAIM, claim, now)
        # The client hears of it too (trials since the client-journey patch).
        audience = self._journal.with_the_client(["shopper", "staff"], on_the_way=True)
        facts = {"tracking": parcel.tracking_number, "carrier": parcel.carrier}
        self._journal.notify(NotificationKind.PARCEL_LOST, audience, text, facts=facts)

    def _to_send(self) -> set[str]:
        """Pieces a reship may carry: those of a lost parcel, and the replacements of exchanges not sent yet."""
        return {
            p.piece_id for p in self._pieces.values()
            if p.state == PieceState.AWAITING_RESHIP or (p.state == PieceState.RESERVED and p.exchange_of is not None)
        }  # fmt: skip

    def check_reship(self, c: cmd.Reshipment) -> None:
        awaiting = self._to_send()
        require(bool(awaiting), ErrorCode.NOTHING_TO_RESHIP, "No piece of this order is waiting to be sent.")
        self.check_parcels(c)
        for parcel in c.parcels:
            msg = f"Tracking number {parcel.tracking_number!r} is already used by a parcel of this order."
            require(parcel.tracking_number not in self.parcels, ErrorCode.DUPLICATE_TRACKING_NUMBER, msg)
            for pid in parcel.piece_ids:
                state = described(self._pieces[pid].state)
                msg = (
                    f"Piece {pid!r} is {state}; only pieces of a lost parcel awaiting a reship, or an exchange's "
                    "replacements, can be sent in a reship."
                )
                require(pid in awaiting, ErrorCode.NOT_AWAITING_RESHIP, msg)

    def reship(self, c: cmd.Reshipment, now: datetime) -> None:
        """Replacements left the warehouse on the same authorization. A piece awaiting a reship in none of
        the parcels is lost for good."""
        shipped = [pid for parcel in c.parcels for pid in parcel.piece_ids]
        # A lost piece's units were written off: reserved again. An exchange's replacement was reserved when
        # it was exchanged, and leaves as a first dispatch.
        lost = [pid for pid in shipped if self._pieces[pid].state == PieceState.AWAITING_RESHIP]
        for parcel in c.parcels:
            self.parcels[parcel.tracking_number] = ParcelRecord(
                parcel.carrier, parcel.tracking_number, list(parcel.piece_ids)
            )
            for pid in parcel.piece_ids:
                piece = self._pieces[pid]
                piece.parcel = parcel.tracking_number
                piece.move(Move.DISPATCHED if piece.state == PieceState.RESERVED else Move.RESHIPPED)
        left_out = [p.piece_id for p in self._pieces.values() if p.state == PieceState.AWAITING_RESHIP]
        for pid in left_out:
            self._pieces[pid].move(Move.NOT_RESHIPPED)
        self._stock.reserve_again(lost)
        if shipped:
            self.shipped_at = now
            self.sla_flagged.discard(Attention.DELIVERY_OVERDUE)
        self._journal.clear(Attention.RESHIP_OVERDUE)
        text = f"Reshipped {len(shipped)} piece(s) in {len(c.parcels)} parcel(s); {len(left_out)} not reshipped."
        self._journal.event(now, "reshipped", text, piece_ids=shipped)
        self._tell_parcels_sent(c.parcels)

    def after_transit_change(self) -> Literal["start", "cancel"] | None:
        """Once nothing is on its way any more after a loss, a reship or a waiver: the trial starts with what
        arrived, or, when nothing did, is cancelled. None while something is still awaited."""
        if self.awaiting():
            return None
        return "start" if any(p.delivered_at is not None for p in self.parcels.values()) else "cancel"

    # ------------------------------------------------------------------ SLAs

    def flag_overdue(self, reason: Attention, now: datetime) -> None:
        """A shipping SLA passed: staff are told once, and the trial needs attention until it is met."""
        if reason in self.sla_flagged:
            return
        kind, text = OVERDUE[reason]
        self.sla_flagged.add(reason)
        self._journal.flag(reason, text, now)
        self._journal.notify(kind, ["staff"], text)
        self._journal.event(now, reason.value, text)
