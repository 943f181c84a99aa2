"""The client's side of a trial, piece by piece: keep or return decisions, returns shipped back, their
inspection at the warehouse, and what the return deadlines do to the pieces still out.

`Returns` holds the rules about pieces that the trial's state does not decide (a piece decided twice, a
return for a piece that cannot go back, a piece inspected twice) and moves pieces through the transition
table (`domain.pieces`), writing each step to the `Journal`. The trial decides what depends on the whole
trial: whether it is open, closed or past its end, and what follows (`domain.trial.Trial`).
"""

from collections.abc import Callable, Mapping
from datetime import datetime

from domain import commands as cmd
from domain.errors import ErrorCode, require
from domain.exchanges import Exchanges
from domain.journal import Journal
from domain.pieces import Move, Piece, PieceState, check_decision, check_inspectable, check_returnable
from domain.status import Attention
from domain.steps import NotificationKind


class Returns:
    def __init__(
        self, pieces: Mapping[str, Piece], journal: Journal, require_piece: Callable[[str], Piece], currency: str
    ) -> None:
        self._pieces = pieces
        self._currency = currency
        self._journal = journal
        self._require_piece = require_piece
        # Whether the client was told of the last day to send back (the `return_due` deadline).
        self.return_due_told = False
        # Whether the client hears that a return is with the carrier: set by the workflow, since trials
        # started before it did not (their histories have no such message to replay).
        self.tells_returns = False

    # ------------------------------------------------------------------ decisions

    def check_decisions(self, c: cmd.Decisions) -> None:
        seen: set[str] = set()
        for d in c.decisions:
            piece = self._require_piece(d.piece_id)
            require(
                d.piece_id not in seen,
                ErrorCode.DUPLICATE_DECISION,
                f"Piece {d.piece_id!r} has two decisions in one request.",
            )
            seen.add(d.piece_id)
            check_decision(piece, d.decision)
            require(
                d.reason is None or d.decision == "return",
                ErrorCode.RETURN_REASON_ON_KEEP,
                f"Piece {d.piece_id!r} is kept; a return reason goes with a return (say how it wore as feedback).",
            )

    def decide(self, c: cmd.Decisions, now: datetime) -> None:
        changed = []
        for d in c.decisions:
            piece = self._pieces[d.piece_id]
            if piece.state != PieceState.ON_TRIAL or piece.exchanged_for is not None:
                continue  # a "return" for a piece already shipped back (or exchanged) changes nothing
            piece.decision = d.decision
            piece.decided_by, piece.decided_via, piece.decided_at = c.actor, c.channel, now
            piece.decision_reference = c.reference
            piece.return_reason = d.reason
            piece.feedback = d.feedback
            changed.append(d.piece_id)
        # As before when no reason is given: the audit trail of trials decided earlier reads the same.
        summary = ", ".join(f"{d.piece_id}={d.decision}" + (f" ({d.reason})" if d.reason else "") for d in c.decisions)
        self._journal.event(
            now, "decided", f"Decisions: {summary}.", actor=c.actor, channel=c.channel,
            reference=c.reference, piece_ids=changed,
        )  # fmt: skip

    def require_all_decided(self) -> None:
        """Before the client finishes early: every piece on trial has a decision."""
        undecided = [p.piece_id for p in self._pieces.values() if p.state == PieceState.ON_TRIAL and p.decision is None]
        require(
            not undecided,
            ErrorCode.UNDECIDED_PIECES,
            f"Every piece needs a decision before finishing early; undecided: {', '.join(undecided)}.",
        )

    # ------------------------------------------------------------------ returns and inspections

    def check_return(self, c: cmd.ReturnShipped, window_closed: bool) -> None:
        require(bool(c.piece_ids), ErrorCode.MISSING_FIELD, "A return must list the pieces it carries.")
        require(
            bool(c.carrier.strip()) and bool(c.tracking_number.strip()),
            ErrorCode.MISSING_FIELD,
            "A return needs a carrier and a tracking number.",
        )
        require(len(set(c.piece_ids)) == len(c.piece_ids), ErrorCode.DUPLICATE_PIECE, "A piece is listed twice.")
        for pid in c.piece_ids:
            check_returnable(self._require_piece(pid), window_closed=window_closed)

    def ship_return(self, c: cmd.ReturnShipped, now: datetime, shipped_at: datetime | None = None) -> None:
        """The carrier has the return: its pieces stop counting towards a charge as of `shipped_at` (the
        scan's time, when a carrier's scan reported it; now otherwise)."""
        for pid in c.piece_ids:
            piece = self._pieces[pid]
            piece.move(Move.RETURN_SHIPPED)
            piece.decision = "return"
            piece.return_tracking, piece.return_shipped_at = c.tracking_number, shipped_at or now
        self._journal.event(
            now, "return_shipped", f"Return shipped with {c.carrier} ({c.tracking_number}).",
            piece_ids=list(c.piece_ids),
        )  # fmt: skip
        if self.tells_returns:
            text = f"Return {c.tracking_number} ({c.carrier}) is with the carrier: {len(c.piece_ids)} piece(s)."
            facts = {"carrier": c.carrier, "tracking": c.tracking_number, "pieces": str(len(c.piece_ids))}
            self._journal.tell_the_journey(NotificationKind.RETURN_SHIPPED, text, facts)

    def received(self, piece_ids: list[str], tracking_number: str, at: datetime, now: datetime) -> None:
        """The carrier delivered a return to the warehouse: the receipt window is met, inspection follows.
        The client hears that it arrived (once: not again when it is inspected)."""
        for pid in piece_ids:
            self._pieces[pid].return_received_at = at
        text = f"Return {tracking_number} delivered to the warehouse: {len(piece_ids)} piece(s) to inspect."
        self._journal.event(now, "return_received", text, piece_ids=list(piece_ids))
        self._tell_received(len(piece_ids))

    def check_inspection(self, c: cmd.Inspection) -> None:
        check_inspectable(self._require_piece(c.piece_id))

    def check_inspections(self, c: cmd.Inspections) -> None:
        """All or nothing: one piece that cannot be inspected refuses the whole parcel."""
        require(bool(c.inspections), ErrorCode.MISSING_FIELD, "Send at least one inspection.")
        ids = [i.piece_id for i in c.inspections]
        require(len(set(ids)) == len(ids), ErrorCode.DUPLICATE_PIECE, "A piece is inspected twice in one request.")
        for pid in ids:
            check_inspectable(self._require_piece(pid))

    def receive(self, inspections: list[cmd.Inspection], now: datetime) -> None:
        """Returned pieces inspected at the warehouse, in one command (a parcel opened). The client hears that
        their return arrived, once per command, then of each piece found damaged, which is charged."""
        # Pieces whose arrival a carrier's scan already told the client of are not told again.
        untold = [c for c in inspections if self._pieces[c.piece_id].return_received_at is None]
        for c in inspections:
            piece = self._pieces[c.piece_id]
            piece.move(Exchanges.back_move(piece, c.condition))
            piece.return_received_at = piece.return_received_at or now
            self._journal.event(
                now, "inspected", f"Return of {c.piece_id} received: {c.condition}.", piece_ids=[c.piece_id]
            )
        if untold:
            self._tell_received(len(untold))
        for c in inspections:
            if self._pieces[c.piece_id].state == PieceState.DAMAGED:  # charged (an exchanged one is not)
                piece = self._pieces[c.piece_id]
                facts = {
                    "piece": piece.description, "amount": str(piece.price), "currency": self._currency,
                    "damage": c.note or "",
                }  # fmt: skip
                text = f"Returned piece {c.piece_id} arrived damaged; it is charged."
                self._journal.tell_the_journey(NotificationKind.PIECE_DAMAGED, text, facts)

    def _tell_received(self, pieces: int) -> None:
        """The client hears their return arrived: once per parcel, at its delivery scan or its inspection."""
        text = f"Return of {pieces} piece(s) received at the warehouse."
        self._journal.tell_the_journey(NotificationKind.RETURN_RECEIVED, text, {"pieces": str(pieces)})

    def tell_return_due(self, deadline: datetime) -> None:
        """The last day to send back: pieces still with the client are charged after `deadline`."""
        self.return_due_told = True
        waiting = len(self.awaiting_return())
        text = f"Last day to send back {waiting} piece(s); after {deadline:%d %b %H:%M} UTC they are charged."
        self._journal.tell_the_journey(NotificationKind.RETURN_DUE, text, {"pieces": str(waiting)}, about=deadline)

    # ------------------------------------------------------------------ the trial's close and the return deadlines

    def awaiting_return(self) -> list[Piece]:
        """Pieces the client still has to send back (not shipped yet)."""
        return [p for p in self._pieces.values() if p.state == PieceState.AWAITING_RETURN]

    def close(self, now: datetime, returns_due: datetime | None) -> list[str]:
        """The trial closed: pieces decided keep are kept, every other piece on trial awaits its return
        (due by `returns_due`). The ids of those kept."""
        kept = []
        for piece in self._pieces.values():
            if piece.state != PieceState.ON_TRIAL:
                continue
            keep = piece.decision == "keep"
            piece.move(Move.CLOSED_KEEP if keep else Move.CLOSED_RETURN)
            if keep:
                kept.append(piece.piece_id)
        self._journal.event(
            now, "trial_closed",
            f"Trial closed: {len(kept)} piece(s) kept; returns due by {returns_due:%d %b %H:%M} UTC.",
            piece_ids=kept,
        )  # fmt: skip
        return kept

    def keep_unreturned(
        self, now: datetime, spare: set[str] | None, exchanged: Callable[[Piece, datetime], None]
    ) -> None:
        """The return window closed: pieces not sent back are kept (and charged), except those in `spare`
        (booked with a carrier, whose scan may still be on its way to the engine) and exchanged ones, which are
        never kept (`exchanged` sees to them: their replacement is the piece decided and charged)."""
        waiting = [p for p in self.awaiting_return() if p.piece_id not in (spare or set())]
        late = [p for p in waiting if p.exchanged_for is None]
        for piece in waiting:
            if piece.exchanged_for is not None:
                exchanged(piece, now)
        for piece in late:
            piece.move(Move.RETURN_WINDOW_CLOSED)
        if late:
            ids = [p.piece_id for p in late]
            text = f"{len(ids)} piece(s) not shipped back in time are kept."
            self._journal.event(now, "return_window_closed", text, piece_ids=ids)

    def lose_return(self, piece_id: str, now: datetime) -> None:
        piece = self._pieces[piece_id]
        if piece.return_received_at is not None:
            # At the warehouse (the carrier's delivery scan), never inspected: the retailer has it, so it is
            # returned, and staff hear that an inspection was missed.
            piece.move(Exchanges.back_move(piece, "ok"))
            text = f"Return of {piece_id} reached the warehouse and was not inspected in time: taken as returned."
            self._journal.event(now, "inspected", text, piece_ids=[piece_id])
            self._journal.notify(NotificationKind.INSPECTION_MISSED, ["staff"], text)
            return
        piece.move(Move.RETURN_NOT_RECEIVED)
        self._journal.flag(Attention.RETURN_LOST, "A return never reached the warehouse: open a carrier claim.", now)
        self._journal.notify(
            NotificationKind.RETURN_LOST, ["staff"],
            f"Return {piece.return_tracking} of piece {piece_id} was not received within the receipt window.",
        )  # fmt: skip
        text = f"Return of {piece_id} not received; lost in return."
        self._journal.event(now, "return_lost", text, piece_ids=[piece_id])
