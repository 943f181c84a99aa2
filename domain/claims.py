"""Carrier claims: a parcel the carrier lost (on its way out, or a client's return) is claimed from it, and the
trial needs staff until every claim has its answer.

A claim is `filed` (with the carrier's claim reference), then `settled` (with the amount the carrier paid,
booked in the trial's ledger as a `claim_payout`: money from the carrier, never a charge to the client) or
`rejected`. The reason it needs staff (`carrier_claim` for a parcel lost on its way out, `return_lost` for a
return) says where each claim stands and clears once every lost parcel of its kind has its answer.
Refused, each with its code: a tracking number that is no lost parcel of this trial (`not_lost`), a step out
of order (`claim_out_of_order`), a filing without the carrier's reference or a settlement without its amount
(`missing_field`).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from domain import commands as cmd
from domain.errors import ErrorCode, require
from domain.journal import Journal
from domain.money import format_money
from domain.payments import Payments
from domain.pieces import Piece, PieceState
from domain.shipping import Shipping
from domain.status import Attention

ClaimState = Literal["filed", "settled", "rejected"]


@dataclass
class Claim:
    tracking_number: str
    reason: Attention  # carrier_claim (outbound) or return_lost
    state: ClaimState
    reference: str
    amount: int | None = None


class CarrierClaims:
    def __init__(self, shipping: Shipping, pieces: Mapping[str, Piece], payments: Payments, journal: Journal) -> None:
        self._shipping = shipping
        self._pieces = pieces
        self._payments = payments
        self._journal = journal
        self.claims: dict[str, Claim] = {}

    def lost(self) -> dict[str, Attention]:
        """Every parcel the carrier lost, by tracking number, with the reason it needs staff for."""
        out = {t: Attention.CARRIER_CLAIM for t, p in self._shipping.parcels.items() if p.lost_at is not None}
        back = {
            p.return_tracking: Attention.RETURN_LOST
            for p in self._pieces.values()
            if p.state == PieceState.LOST_IN_RETURN and p.return_tracking
        }
        return {**out, **back}

    def check(self, c: cmd.CarrierClaim) -> None:
        tracking = c.tracking_number
        msg = f"No parcel of this trial with tracking number {tracking!r} was lost; there is nothing to claim."
        require(tracking in self.lost(), ErrorCode.NOT_LOST, msg)
        claim = self.claims.get(tracking)
        if c.step == "filed":
            msg = f"The claim for {tracking!r} was filed already ({claim.state if claim else ''})."
            require(claim is None, ErrorCode.CLAIM_OUT_OF_ORDER, msg)
            msg = "A claim is filed with the carrier's reference for it."
            require(bool(c.reference and c.reference.strip()), ErrorCode.MISSING_FIELD, msg)
            return
        msg = f"The claim for {tracking!r} must be filed before the carrier's answer."
        require(claim is not None and claim.state == "filed", ErrorCode.CLAIM_OUT_OF_ORDER, msg)
        if c.step == "settled":
            msg = "A settled claim says what the carrier paid (amount, minor units)."
            require(c.amount is not None, ErrorCode.MISSING_FIELD, msg)

    def record(self, c: cmd.CarrierClaim, now: datetime) -> None:
        reason = self.lost()[c.tracking_number]
        if c.step == "filed":
            assert c.reference is not None
            self.claims[c.tracking_number] = Claim(c.tracking_number, reason, "filed", c.reference.strip())
            text = f"Claim {c.reference} filed with the carrier for parcel {c.tracking_number}."
        else:
            claim = self.claims[c.tracking_number]
            claim.state = c.step
            if c.step == "settled":
                assert c.amount is not None
                claim.amount = c.amount
                self._payments.movement(
                    f"{self._payments.trial_id}-claim-{c.tracking_number}", "claim_payout", c.amount, now,
                    outcome="succeeded", reference=claim.reference,
                )  # fmt: skip
                paid = format_money(c.amount, self._payments.currency)
                text = f"Claim {claim.reference} for parcel {c.tracking_number} settled: the carrier paid {paid}."
            else:
                text = f"Claim {claim.reference} for parcel {c.tracking_number} rejected by the carrier."
        self._journal.event(now, f"claim_{c.step}", text, actor=c.actor, reason=c.note)
        self._update_attention(reason, now)

    def _update_attention(self, reason: Attention, now: datetime) -> None:
        """The reason says where its claims stand; it clears once each lost parcel of its kind has an answer."""
        parcels = [t for t, r in self.lost().items() if r == reason]
        open_ = [t for t in parcels if self.claims.get(t) is None or self.claims[t].state == "filed"]
        if not open_:
            self._journal.clear(reason)
            return
        waiting = [t for t in open_ if t in self.claims]
        unfiled = [t for t in open_ if t not in self.claims]
        parts = [f"file a carrier claim for {', '.join(unfiled)}"] if unfiled else []
        parts += [f"await the carrier's answer for {', '.join(waiting)}"] if waiting else []
        text = "; ".join(parts)
        self._journal.flag(reason, f"{text[0].upper()}{text[1:]}.", now)
