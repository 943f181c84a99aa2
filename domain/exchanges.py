"""Exchanges: "the 40 is too small, can I have the 41?", the most common luxury return.

A piece on trial is exchanged for a replacement (its own piece id, SKU, price and size). From then on:
- the **original** is decided `return` (with the reason and the client's words), goes back with the return
  like any returned piece, and is **never charged**: back at the warehouse it is EXCHANGED, whatever its
  condition; not sent back by the return deadline it is EXCHANGED too, and staff are asked to chase it
  (`exchange_unreturned`). No decision can change it (`piece_exchanged`).
- the **replacement** joins the trial: reserved at the warehouse (its SKU travels with the reservation),
  sent by fulfilment with a reship (`POST /v1/trials/{id}/reshipments`, on the same authorization), and,
  once delivered, decided like any piece, charged only if kept. It has at least `policy.exchange_days`
  from its delivery: the trial's end moves later when it arrives late, and the trial does not close while
  a replacement is still on its way (staff are told at the end: `exchange_pending`; waiving the replacement
  lets the trial close).
- the **money**: what may still be charged loses the original's price and gains the replacement's. When
  that rises above what the standing authorization covers, the value is re-authorized at once (merchant
  initiated); declined, the settlement charges off-session, as for any re-authorization.

Refused, with their codes: a piece not on trial or the trial not running (`not_exchangeable`), a piece
exchanged already (`piece_exchanged`), a replacement id the order already has (`duplicate_piece`), more than
`policy.max_exchanges` (`too_many_exchanges`).
"""

from collections.abc import Callable, MutableMapping
from datetime import datetime

from domain import commands as cmd
from domain.errors import ErrorCode, require
from domain.journal import Journal
from domain.money import format_money
from domain.order import check_pieces
from domain.payments import Payments
from domain.pieces import Move, Piece, PieceState, described
from domain.policy import TrialPolicy
from domain.status import Attention
from domain.steps import NotificationKind
from domain.stock import Stock

_NOT_ARRIVED = (PieceState.RESERVED, PieceState.IN_TRANSIT, PieceState.AWAITING_RESHIP)


class Exchanges:
    def __init__(
        self, pieces: MutableMapping[str, Piece], stock: Stock, payments: Payments, journal: Journal,
        require_piece: Callable[[str], Piece], policy: TrialPolicy,
    ) -> None:  # fmt: skip
        self._pieces = pieces
        self._stock = stock
        self._payments = payments
        self._journal = journal
        self._require_piece = require_piece
        self._policy = policy
        self.pending_flagged = False

    @property
    def made(self) -> int:
        return sum(1 for p in self._pieces.values() if p.exchange_of is not None)

    def pending(self) -> list[Piece]:
        """Replacements not delivered yet (reserved, on their way, or lost on it and awaiting a reship): the
        trial's end waits for them."""
        return [p for p in self._pieces.values() if p.exchange_of is not None and p.state in _NOT_ARRIVED]

    def check(self, c: cmd.Exchange, on_trial: bool) -> None:
        check_pieces([c.replacement])  # a piece as an order's: an id, a positive price
        piece = self._require_piece(c.piece_id)
        msg = "A piece is exchanged while the trial runs (every parcel delivered, not yet closed)."
        require(on_trial, ErrorCode.NOT_EXCHANGEABLE, msg)
        msg = f"Piece {c.piece_id!r} was exchanged already, for {piece.exchanged_for!r}."
        require(piece.exchanged_for is None, ErrorCode.PIECE_EXCHANGED, msg)
        msg = f"Piece {c.piece_id!r} is {described(piece.state)}; only a piece with the client can be exchanged."
        require(piece.state == PieceState.ON_TRIAL, ErrorCode.NOT_EXCHANGEABLE, msg)
        new = c.replacement.piece_id
        msg = f"The order already has a piece {new!r}; give the replacement an id of its own."
        require(new not in self._pieces, ErrorCode.DUPLICATE_PIECE, msg)
        most = self._policy.max_exchanges
        msg = f"A trial takes at most {most} exchanges; this one has had {self.made}."
        require(self.made < most, ErrorCode.TOO_MANY_EXCHANGES, msg)
        require(bool(c.actor.strip()), ErrorCode.ACTOR_REQUIRED, "An exchange must say who asked (actor).")

    def check_request(self, c: cmd.ExchangeRequest, on_trial: bool) -> None:
        if c.piece_id is not None:
            self._require_piece(c.piece_id)
        msg = "A piece is exchanged while the trial runs (every parcel delivered, not yet closed)."
        require(on_trial, ErrorCode.NOT_EXCHANGEABLE, msg)
        require(bool(c.words.strip()), ErrorCode.MISSING_FIELD, "Say what the client asked for (words).")

    def request(self, c: cmd.ExchangeRequest, now: datetime) -> None:
        """The client asked for an exchange: their shopper is asked with the client's words (needs attention
        until an exchange is made, or staff acknowledge it), and the client told their shopper will answer."""
        piece = f" piece {c.piece_id}" if c.piece_id else " a piece"
        text = f'The client asks to exchange{piece}: "{c.words}".'
        self._journal.event(
            now, "exchange_requested", text, actor="client", channel=c.channel, reference=c.reference,
            piece_ids=[c.piece_id] if c.piece_id else [],
        )  # fmt: skip
        self._journal.flag(Attention.EXCHANGE_REQUESTED, f"{text} Arrange it (exchange), or tell the client.", now)
        self._journal.notify(NotificationKind.EXCHANGE_REQUESTED, ["shopper", "staff"], text)
        self._journal.tell_the_client(
            NotificationKind.EXCHANGE_ASKED, "The client was told their shopper will answer.", {}
        )

    def exchange(self, c: cmd.Exchange, now: datetime) -> None:
        original, r = self._pieces[c.piece_id], c.replacement
        original.exchanged_for = r.piece_id
        original.decision, original.return_reason = "return", c.reason
        original.feedback = c.words or original.feedback
        original.decided_by, original.decided_via, original.decided_at = c.actor, c.channel, now
        self._pieces[r.piece_id] = Piece(
            piece_id=r.piece_id, sku=r.sku, description=r.description, price=r.price, designer=r.designer,
            size=r.size, exchange_of=original.piece_id,
        )  # fmt: skip
        self._stock.reserve_again([r.piece_id], skus={r.piece_id: r.sku})
        covered = self._payments.cover(self.outstanding(), now)
        size = f" (size {r.size})" if r.size else ""
        money = format_money(r.price, self._payments.currency)
        text = f"Piece {original.piece_id} exchanged for {r.piece_id}: {r.description}{size}, {money}."
        if not covered:
            text += " The value rose: it is re-authorized."
        self._journal.event(
            now, "exchanged", text, actor=c.actor, channel=c.channel, reason=c.reason,
            piece_ids=[original.piece_id, r.piece_id],
        )  # fmt: skip
        self._journal.notify(NotificationKind.EXCHANGE_REQUESTED, ["shopper", "staff"], f"{text} Send the replacement.")
        self._journal.clear(Attention.EXCHANGE_REQUESTED)  # the client's request, if any, is answered
        facts = {"piece": original.description, "replacement": r.description, "size": r.size or ""}
        self._journal.tell_the_journey(NotificationKind.EXCHANGE_CONFIRMED, text, facts)

    def outstanding(self) -> int:
        return sum(p.price for p in self._pieces.values() if p.chargeable)

    def arrived(self, piece_ids: list[str]) -> bool:
        """Whether a delivery brought a replacement (its decision time then starts)."""
        return any(self._pieces[p].exchange_of is not None for p in piece_ids)

    def flag_pending(self, now: datetime) -> None:
        """The trial's end came while a replacement is still awaited: it waits, and staff are told once."""
        if self.pending_flagged:
            return
        self.pending_flagged = True
        ids = ", ".join(p.piece_id for p in self.pending())
        text = f"The trial's end waits for the replacement {ids}, not delivered yet: send it, or waive it."
        self._journal.flag(Attention.EXCHANGE_PENDING, text, now)
        self._journal.notify(NotificationKind.EXCHANGE_PENDING, ["shopper", "staff"], text)

    def clear_pending(self) -> None:
        if not self.pending():
            self._journal.clear(Attention.EXCHANGE_PENDING)

    # ------------------------------------------------------------------ the original, on its way back

    @staticmethod
    def back_move(piece: Piece, condition: cmd.Condition) -> Move:
        """How a returned piece ends at the warehouse: an exchanged original is EXCHANGED, whatever its state."""
        if piece.exchanged_for is not None:
            return Move.EXCHANGE_RETURNED
        return Move.INSPECTED_OK if condition == "ok" else Move.INSPECTED_DAMAGED

    def not_sent_back(self, piece: Piece, now: datetime) -> None:
        """An exchanged original the client did not send back: never charged; staff chase it."""
        piece.move(Move.EXCHANGE_NOT_RETURNED)
        text = f"Exchanged piece {piece.piece_id} was not sent back by the return deadline: chase it with the client."
        self._journal.flag(Attention.EXCHANGE_UNRETURNED, text, now)
        self._journal.notify(NotificationKind.EXCHANGE_UNRETURNED, ["shopper", "staff"], text)
        self._journal.event(now, "exchange_unreturned", text, piece_ids=[piece.piece_id])
