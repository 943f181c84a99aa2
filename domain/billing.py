"""The pieces' side of the money: which pieces a settlement charges, a piece waived before it is charged,
a charged piece refunded, and what each answer from the gateway means for the pieces it was about.

`Billing` books on the pieces what `Payments` (`domain.payments`: holds, settlements, the ledger) decides for
money, and writes each step to the `Journal`. The trial decides whether it takes the command at all
(`domain.trial.Trial`).
"""

import json
from collections.abc import Callable, Mapping
from datetime import datetime

from domain import commands as cmd
from domain.errors import ErrorCode, require
from domain.journal import Journal
from domain.money import format_money
from domain.payments import Paid, Payments
from domain.pieces import CHARGED_FATES, TERMINAL, Move, Piece, PieceState, check_refundable, check_waivable
from domain.status import Attention
from domain.steps import (
    AuthorizeRequest,
    CaptureRequest,
    ChargeRequest,
    NotificationKind,
    PaymentResult,
    RefundRequest,
    RefundResult,
    Step,
)


class Billing:
    def __init__(
        self, pieces: Mapping[str, Piece], payments: Payments, journal: Journal, require_piece: Callable[[str], Piece]
    ) -> None:
        self._pieces = pieces
        self._payments = payments
        self._journal = journal
        self._require_piece = require_piece
        # Whether the last settlement, of the pieces charged after the close, has been planned.
        self.final_settlement_planned = False

    def _fmt(self, amount: int) -> str:
        return format_money(amount, self._payments.currency)

    @property
    def outstanding(self) -> int:
        """Value that may still be charged: pieces neither charged nor in a never-charged fate."""
        return sum(p.price for p in self._pieces.values() if p.chargeable)

    def plan_settlement(self, piece_ids: list[str]) -> None:
        """A new settlement charges these pieces (at the trial's close, or once every piece has its fate)."""
        number = self._payments.plan(piece_ids)
        for pid in piece_ids:
            self._pieces[pid].settlement = number

    def plan_final(self, now: datetime) -> None:
        """Once every piece has its final fate after the close: the pieces charged since (kept unreturned,
        damaged) go into one last settlement."""
        if self.final_settlement_planned or not all(p.state in TERMINAL for p in self._pieces.values()):
            return
        self.final_settlement_planned = True
        late = [p.piece_id for p in self._pieces.values() if p.state in CHARGED_FATES and p.settlement is None]
        if late:
            self.plan_settlement(late)
        self._journal.event(now, "all_pieces_settled", "Every piece has its final fate.")

    def completed(self, now: datetime) -> None:
        """The trial completed: its money is settled. The audit trail and the client hear what it came to."""
        self._journal.clear(
            Attention.REAUTHORIZATION_FAILED, Attention.SETTLEMENT_DECLINED, Attention.PAYMENT_ACTION_REQUIRED
        )
        p = self._payments
        self._journal.event(
            now, "completed", f"Completed: charged {self._fmt(p.charged)}, released {self._fmt(p.released)}."
        )
        kept = sum(1 for piece in self._pieces.values() if piece.state in CHARGED_FATES)
        # Amounts in minor units with their currency: each language writes money its own way.
        facts = {"kept": str(kept), "pieces": str(len(self._pieces)), "charged": str(p.charged), "currency": p.currency}
        self._journal.tell_the_client(
            NotificationKind.TRIAL_SUMMARY, f"The Style Trial is complete: {kept} pieces kept.", facts
        )

    # ------------------------------------------------------------------ the payment method

    def authorized(self, step: AuthorizeRequest, now: datetime, ended: bool, days: int) -> None:
        """The consignment value is held on the client's card: the trial of `days` days is confirmed (or,
        ended meanwhile, the hold goes back)."""
        if ended:
            self._journal.event(now, "authorized", "Authorized after the trial ended; the hold is released.")
            return
        self._journal.event(now, "authorized", f"Authorized {self._fmt(step.amount)}; awaiting dispatch.")
        value = self._payments.value_of(list(self._pieces))
        self._journal.tell_the_client(
            NotificationKind.TRIAL_CONFIRMED,
            f"The Style Trial of {len(self._pieces)} pieces is confirmed.",
            {
                "pieces": str(len(self._pieces)),
                "value": str(value),
                "currency": self._payments.currency,
                "days": str(days),
            },
        )

    def check_payment_method(self, c: cmd.NewPaymentMethod) -> None:
        require(bool(c.actor.strip()), ErrorCode.ACTOR_REQUIRED, "A payment method change must name the actor.")
        require(
            bool(c.payment_method.strip()),
            ErrorCode.INVALID_PAYMENT_METHOD,
            "The new payment method must not be empty.",
        )

    def change_payment_method(self, c: cmd.NewPaymentMethod, now: datetime) -> None:
        self._payments.new_payment_method(c.payment_method)
        self._journal.event(now, "payment_method_changed", "A new payment method was supplied.", actor=c.actor)

    # ------------------------------------------------------------------ waivers

    def check_waiver(self, c: cmd.Waiver, in_flight: Step | None) -> None:
        check_waivable(self._require_piece(c.piece_id), self._payments.being_charged(c.piece_id, in_flight))

    def waive(self, c: cmd.Waiver, now: datetime) -> None:
        self._pieces[c.piece_id].move(Move.WAIVED)
        self._journal.event(
            now, "waived", f"Piece {c.piece_id} waived.", actor=c.actor, reason=c.reason, piece_ids=[c.piece_id]
        )

    # ------------------------------------------------------------------ refunds

    def check_refund(self, c: cmd.Refund) -> None:
        piece = self._require_piece(c.piece_id)
        amount = piece.price if c.amount is None else c.amount
        check_refundable(piece, amount, self._payments.being_refunded(piece.piece_id))
        msg = f"The gateway gave no reference for the payment of piece {c.piece_id!r}; refund it at the gateway."
        require(self._payments.payment_reference(piece.settlement) is not None, ErrorCode.NOT_REFUNDABLE, msg)

    def refund(self, c: cmd.Refund, now: datetime) -> None:
        """Support gives back a charged piece's price, or part of it; the gateway is asked next."""
        piece = self._pieces[c.piece_id]
        amount = piece.price if c.amount is None else c.amount
        assert piece.settlement is not None
        self._payments.refund(piece.piece_id, amount, piece.settlement)
        self._journal.event(
            now, "refund_requested", f"Refund of {self._fmt(amount)} for {piece.piece_id} requested.",
            actor=c.actor, reason=c.reason, piece_ids=[piece.piece_id],
        )  # fmt: skip

    # ------------------------------------------------------------------ the gateway's answers

    def record_payment(self, step: CaptureRequest | ChargeRequest, r: PaymentResult, now: datetime) -> None:
        if self._payments.record_payment(step, r, now) != Paid.PAID:
            return
        s = self._payments.settlements[step.settlement - 1]
        for pid in s.piece_ids:
            if self._pieces[pid].state != PieceState.WAIVED:
                self._pieces[pid].charged = True
        kind = "capture" if isinstance(step, CaptureRequest) else "charge"
        charged = [p for p in s.piece_ids if self._pieces[p].charged]
        text = f"Settlement {s.number}: {kind} of {self._fmt(step.amount)} succeeded."
        self._journal.event(now, "charged", text, piece_ids=charged)
        # An itemised receipt to the client: each piece charged and its price, and the total (minor units).
        items = json.dumps([[self._pieces[p].description, self._pieces[p].price] for p in charged])
        facts = {
            "items": items, "total": str(step.amount), "currency": self._payments.currency,
            "card": self._payments.card_last4 or "",
        }  # fmt: skip
        self._journal.tell_the_journey(NotificationKind.RECEIPT, f"Receipt: {text}", facts)

    def record_refund(self, step: RefundRequest, r: RefundResult, now: datetime) -> None:
        piece = self._pieces[step.piece_id]
        if self._payments.record_refund(step, r, now):
            piece.refunded = step.amount
            piece.move(Move.REFUNDED)
            text = f"Refunded {self._fmt(step.amount)} for {piece.piece_id}."
            self._journal.event(now, "refunded", text, reference=r.reference, piece_ids=[piece.piece_id])
            # The client hears of it too (trials since the client-messages patch, as every client message).
            audience = self._journal.with_the_client(["shopper"])
            facts = {"amount": str(step.amount), "currency": self._payments.currency, "piece": piece.description}
            self._journal.notify(NotificationKind.REFUNDED, audience, text, facts=facts)
            self._journal.clear(Attention.REFUND_DECLINED)
            return
        text = f"The gateway declined the refund of {self._fmt(step.amount)} for {piece.piece_id} ({r.decline_code})."
        self._journal.event(now, "refund_declined", text, piece_ids=[piece.piece_id])
        self._journal.flag(
            Attention.REFUND_DECLINED, f"{text} Look at the payment at the gateway, then refund again.", now
        )
        self._journal.notify(NotificationKind.REFUND_DECLINED, ["staff"], text)
