"""Carrier claims: a parcel the carrier lost (on its way out, or a client's return) is claimed from it, and the
trial needs staff until every lost parcel has its answer.

A claim is `filed` (with the carrier's claim reference), then `settled` (with the amount the carrier paid,
booked in the trial's ledger as a `claim_payout`: money from the carrier, never a charge to the client) or
`rejected`. The reason it needs staff (`carrier_claim` for a parcel lost on its way out, `return_lost` for a
return) says where each claim stands and clears once every lost parcel of its kind has its answer.
A lost return has two more ways out (`resolve`): `found` (it reached the warehouse after all; inspected, it
is returned, whatever its condition: the carrier had it, so damage is the carrier's, and a claim filed for it
is withdrawn) and `written_off` (staff close it without it). The client is never charged for a return the
carrier lost: its scan shipped it, so the value is recovered from the carrier, not from the client.

Refused, each with its code: a tracking number that is no lost parcel of this trial (`not_lost`), a step out
of order (`claim_out_of_order`), a filing without the carrier's reference or a settlement without its amount
(`missing_field`); a lost return resolved twice (`already_resolved`) or found without its condition
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
from domain.pieces import Move, Piece, PieceState
from domain.shipping import Shipping
from domain.status import Attention

ClaimState = Literal["filed", "settled", "rejected", "withdrawn"]


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
        # Lost returns staff closed without them (`written_off`), by tracking number: answered, never charged.
        self.written_off: set[str] = set()

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

    # ------------------------------------------------------------------ a lost return found, or written off

    def check_resolution(self, c: cmd.LostReturnResolution) -> None:
        tracking = c.tracking_number
        msg = f"No return of this trial with tracking number {tracking!r} was lost; there is nothing to resolve."
        require(self.lost().get(tracking) == Attention.RETURN_LOST, ErrorCode.NOT_LOST, msg)
        msg = f"The lost return {tracking!r} was written off already."
        require(tracking not in self.written_off, ErrorCode.ALREADY_RESOLVED, msg)
        if c.outcome == "found":
            msg = "A return found at the warehouse is inspected: give its condition (ok or damaged)."
            require(c.condition is not None, ErrorCode.MISSING_FIELD, msg)
        else:
            msg = "A return written off was not inspected: leave out its condition."
            require(c.condition is None, ErrorCode.MISSING_FIELD, msg)

    def resolve(self, c: cmd.LostReturnResolution, now: datetime) -> None:
        tracking = c.tracking_number
        ids = [
            p.piece_id
            for p in self._pieces.values()
            if p.state == PieceState.LOST_IN_RETURN and p.return_tracking == tracking
        ]
        claim = self.claims.get(tracking)
        if c.outcome == "found":
            for pid in ids:
                self._pieces[pid].move(Move.FOUND_LATE)
                self._pieces[pid].return_received_at = now
            damage = (
                " damaged in the carrier's hands (not the client's to pay)"
                if c.condition == "damaged"
                else " in good order"
            )
            text = f"Lost return {tracking} found at the warehouse,{damage}: {len(ids)} piece(s) returned."
            if claim is not None and claim.state == "filed":
                claim.state = "withdrawn"
                text += f" Claim {claim.reference} withdrawn."
            elif claim is not None and claim.state == "settled":
                text += f" The carrier paid claim {claim.reference} for it: tell the carrier it was found."
            self._journal.event(now, "return_found", text, actor=c.actor, reason=c.note, piece_ids=ids)
        else:
            self.written_off.add(tracking)
            text = f"Lost return {tracking} written off: {len(ids)} piece(s) never charged."
            self._journal.event(now, "return_written_off", text, actor=c.actor, reason=c.note, piece_ids=ids)
        self._update_attention(Attention.RETURN_LOST, now)

    def _update_attention(self, reason: Attention, now: datetime) -> None:
        """The reason says where its claims stand; it clears once each lost parcel of its kind has an answer
        (the carrier's, or staff's: written off)."""
        parcels = [t for t, r in self.lost().items() if r == reason and t not in self.written_off]
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
