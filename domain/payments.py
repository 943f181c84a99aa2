"""The money half of a trial: holds on the client's card, settlements, dunning and the ledger.

`Payments` owns this state and its rules; the trial owns pieces. The trial asks it for the next payment
request and hands it each answer; `Payments` books it, tells people what they need to know through the
trial's journal (attention, notifications, the audit trail), and says what happened to a settlement so the
trial can mark its pieces charged. It never looks at pieces: what a settlement is worth comes from the
`value_of` function the trial gives it, so it can be tested alone.

Rules that live here:
- every movement of money has an idempotency key, and the ledger refuses a second movement under one key;
- a settlement is captured from the standing hold when the hold is usable and covers it, otherwise charged
  off-session; an expired hold is never captured;
- a hold is re-authorized `reauthorize_before_expiry` before it expires while value is still chargeable;
- a declined settlement is retried on the dunning schedule counted from its first decline, then waits for
  a new payment method (action required);
- a refund gives back part or all of what one piece was charged, from the payment that charged it, under a
  key of its own; the trial refuses a second one for the piece, and the ledger a second movement.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

from domain.journal import Journal
from domain.money import format_money
from domain.policy import TrialPolicy
from domain.status import Attention
from domain.steps import (
    AuthorizationResult,
    AuthorizeRequest,
    CaptureRequest,
    ChargeRequest,
    NotificationKind,
    PaymentResult,
    RefundRequest,
    RefundResult,
    ReleaseRequest,
    ReleaseResult,
    Step,
)

HoldState = Literal["active", "consumed", "released", "expired", "failed"]
SettlementState = Literal["due", "waiting", "action_required", "paid", "void"]
# claim_payout: money a carrier paid on a claim for a parcel it lost (domain/claims.py); never the client's.
MovementKind = Literal["authorization", "capture", "charge", "release", "expiry", "refund", "claim_payout"]
Outcome = Literal["succeeded", "declined"]


@dataclass
class Hold:
    """One authorization on the client's card."""

    number: int
    authorization_id: str
    amount: int
    remaining: int
    authorized_at: datetime
    expires_at: datetime
    state: HoldState = "active"
    reauth_attempts: int = 0
    reauth_failed: bool = False

    def usable(self, now: datetime) -> bool:
        return self.state == "active" and now < self.expires_at


@dataclass
class Settlement:
    """One charge: number 1 at trial close (kept pieces), number 2 when every piece is terminal."""

    number: int
    piece_ids: list[str]
    state: SettlementState = "due"
    tries: int = 0
    declines: int = 0
    first_declined_at: datetime | None = None
    next_attempt_at: datetime | None = None
    amount_paid: int = 0
    reference: str | None = None


@dataclass
class Movement:
    key: str
    kind: MovementKind
    amount: int
    outcome: Outcome
    at: datetime
    reference: str | None = None
    expires_at: datetime | None = None
    settlement: int | None = None
    decline_code: str | None = None


@dataclass
class Refund:
    """Money given back for one piece, from the payment of the settlement that charged it."""

    piece_id: str
    amount: int
    settlement: int
    payment_reference: str
    attempt: int
    state: Literal["due", "refunded", "declined"] = "due"


class Paid(StrEnum):
    """What a capture or charge answer did to its settlement."""

    PAID = "paid"
    # A capture refused on a hold believed valid: the hold is no longer trusted and the settlement is
    # charged off-session at once (not the client's decline, so no dunning).
    HOLD_REFUSED = "hold refused"
    RETRY_SCHEDULED = "retry scheduled"
    ACTION_REQUIRED = "action required"


@dataclass
class Payments:
    trial_id: str
    currency: str
    payment_method: str
    policy: TrialPolicy
    # What the given pieces of a settlement are worth now (a waived piece counts nothing).
    value_of: Callable[[Sequence[str]], int]
    journal: Journal
    auth_attempts: int = 0
    awaiting_payment_method: bool = False
    fix_window_ends_at: datetime | None = None
    # The last four digits of the card the hold is on, when the gateway said (the client's receipt names it).
    card_last4: str | None = None
    holds: list[Hold] = field(default_factory=list)
    settlements: list[Settlement] = field(default_factory=list)
    movements: list[Movement] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    # An exchange raised what may be charged above what the hold covers: re-authorized from then, at once.
    cover_wanted_at: datetime | None = None

    # ------------------------------------------------------------------ derived

    @property
    def hold(self) -> Hold | None:
        """The current authorization, if one still stands."""
        return next((h for h in reversed(self.holds) if h.state == "active"), None)

    @property
    def authorized(self) -> int:
        hold = self.hold
        return hold.remaining if hold else 0

    @property
    def charged(self) -> int:
        return sum(m.amount for m in self.movements if m.kind in ("capture", "charge") and m.outcome == "succeeded")

    @property
    def refunded(self) -> int:
        return sum(m.amount for m in self.movements if m.kind == "refund" and m.outcome == "succeeded")

    @property
    def released(self) -> int:
        return sum(m.amount for m in self.movements if m.kind == "release" and m.outcome == "succeeded")

    @property
    def settled(self) -> bool:
        return all(s.state in ("paid", "void") for s in self.settlements)

    @property
    def action_required(self) -> bool:
        return any(s.state == "action_required" for s in self.settlements)

    @property
    def dunning(self) -> bool:
        return any(s.state in ("waiting", "action_required") for s in self.settlements)

    def amount(self, settlement: Settlement) -> int:
        return self.value_of(settlement.piece_ids)

    def reauth_at(self, hold: Hold, chargeable: Callable[[], int]) -> datetime | None:
        """When to re-authorize the value still `chargeable`, or None when no re-authorization is due.
        (`chargeable` is asked last: it sums every piece, and most holds are ruled out before that.)"""
        if hold is not self.hold or hold.reauth_failed or chargeable() <= 0:
            return None
        if self.cover_wanted_at is not None:
            return self.cover_wanted_at
        at = hold.expires_at - self.policy.reauthorize_before_expiry
        # A hold so short-lived that it is due for renewal the moment it stands would renew forever.
        return at if at > hold.authorized_at else None

    def cover(self, outstanding: int, now: datetime) -> bool:
        """Whether the standing hold covers `outstanding` (what may still be charged, an exchange having
        changed it); when it does not, a re-authorization of the whole is due now."""
        hold = self.hold
        if hold is None or outstanding <= hold.remaining:
            return True
        self.cover_wanted_at = now
        return False

    # ------------------------------------------------------------------ requests

    def authorization(self, amount: int, now: datetime) -> AuthorizeRequest | None:
        """The client-present authorization of the consignment value, unless a new method is awaited."""
        if self.awaiting_payment_method:
            return None
        return AuthorizeRequest(
            key=f"{self.trial_id}-authorize-{self.auth_attempts + 1}", trial_id=self.trial_id, amount=amount,
            currency=self.currency, payment_method=self.payment_method, merchant_initiated=False, at=now,
        )  # fmt: skip

    def stale_release(self, ended: bool, at: datetime) -> ReleaseRequest | None:
        """Holds of an ended trial, and holds replaced by a re-authorization, are given back first."""
        current = self.hold
        for old in self.holds:
            if old.state == "active" and old.remaining > 0 and (ended or old is not current):
                return self._release(old, at)
        return None

    def next_request(self, now: datetime, chargeable: Callable[[], int], complete: bool) -> Step | None:
        """Re-authorization when due, then the first due settlement, then (when the trial is `complete`)
        the release of what is left on the hold."""
        hold = self.hold
        if hold is not None:
            reauth_at = self.reauth_at(hold, chargeable)
            if reauth_at is not None and now >= reauth_at:
                return AuthorizeRequest(
                    key=f"{self.trial_id}-reauthorize-{hold.number}-{hold.reauth_attempts + 1}",
                    trial_id=self.trial_id, amount=chargeable(), currency=self.currency,
                    payment_method=self.payment_method, merchant_initiated=True, at=now,
                )  # fmt: skip
        due = next((s for s in self.settlements if s.state == "due"), None)
        if due is not None:
            return self._settle(due, hold, now)
        if complete and hold is not None and hold.remaining > 0:
            return self._release(hold, now)
        return None

    def _settle(self, s: Settlement, hold: Hold | None, now: datetime) -> CaptureRequest | ChargeRequest:
        amount = self.amount(s)
        key = f"{self.trial_id}-settlement-{s.number}-{s.tries + 1}"
        if hold is not None and hold.usable(now) and amount <= hold.remaining:
            return CaptureRequest(
                key=key, trial_id=self.trial_id, authorization_id=hold.authorization_id, amount=amount,
                currency=self.currency, settlement=s.number, at=now,
            )  # fmt: skip
        # No standing hold covers it (expired, consumed by a first capture, or too small): charge the saved
        # payment method off-session. An expired authorization is never captured.
        return ChargeRequest(
            key=key, trial_id=self.trial_id, amount=amount, currency=self.currency,
            payment_method=self.payment_method, settlement=s.number, at=now,
        )  # fmt: skip

    def _release(self, hold: Hold, at: datetime) -> ReleaseRequest:
        return ReleaseRequest(
            key=f"{self.trial_id}-release-{hold.number}", trial_id=self.trial_id,
            authorization_id=hold.authorization_id, currency=self.currency, at=at,
        )  # fmt: skip

    def payment_reference(self, settlement: int | None) -> str | None:
        """The gateway's reference for the payment of a paid settlement, which a refund gives back from."""
        paid = self.settlements[settlement - 1] if settlement else None
        return paid.reference if paid is not None and paid.state == "paid" else None

    def being_refunded(self, piece_id: str) -> bool:
        return any(r.piece_id == piece_id and r.state == "due" for r in self.refunds)

    def refund(self, piece_id: str, amount: int, settlement: int) -> None:
        """Ask for a refund of `amount` for a piece charged by `settlement` (the trial has checked it)."""
        reference = self.payment_reference(settlement)
        assert reference is not None
        attempt = 1 + sum(1 for r in self.refunds if r.piece_id == piece_id)
        self.refunds.append(Refund(piece_id, amount, settlement, reference, attempt))

    def refund_request(self, at: datetime) -> RefundRequest | None:
        """The first refund not yet made: asked for even after the trial has completed."""
        due = next((r for r in self.refunds if r.state == "due"), None)
        if due is None:
            return None
        return RefundRequest(
            key=f"{self.trial_id}-refund-{due.piece_id}-{due.attempt}", trial_id=self.trial_id,
            piece_id=due.piece_id, payment_reference=due.payment_reference, amount=due.amount,
            currency=self.currency, settlement=due.settlement, at=at,
        )  # fmt: skip

    def record_refund(self, step: RefundRequest, r: RefundResult, now: datetime) -> bool:
        """Books the answer; True when the money went back."""
        refund = next(x for x in self.refunds if x.state == "due" and x.piece_id == step.piece_id)
        refund.state = "refunded" if r.approved else "declined"
        self.movement(
            step.key, "refund", step.amount, now, outcome="succeeded" if r.approved else "declined",
            reference=r.reference, settlement=step.settlement, decline_code=r.decline_code,
        )  # fmt: skip
        return r.approved

    def being_charged(self, piece_id: str, in_flight: Step | None) -> bool:
        if isinstance(in_flight, CaptureRequest | ChargeRequest):
            return piece_id in self.settlements[in_flight.settlement - 1].piece_ids
        return False

    # ------------------------------------------------------------------ answers

    def record_authorization(self, step: AuthorizeRequest, r: AuthorizationResult, now: datetime) -> Hold | None:
        """Books the answer; returns the new hold when one was granted."""
        self.movement(
            step.key, "authorization", step.amount, now, outcome="succeeded" if r.approved else "declined",
            reference=r.authorization_id, expires_at=r.expires_at, decline_code=r.decline_code,
        )  # fmt: skip
        if step.merchant_initiated:
            return self._record_reauthorization(step, r, now)
        self.auth_attempts += 1
        self.awaiting_payment_method = not r.approved
        if r.approved:
            self.journal.clear(Attention.AUTHORIZATION_DECLINED)
            self.card_last4 = r.card_last4
            return self._add_hold(r, now)
        if self.fix_window_ends_at is None:
            self.fix_window_ends_at = now + self.policy.payment_fix_window
        until = f"{self.fix_window_ends_at:%d %b %H:%M} UTC"
        self.journal.flag(
            Attention.AUTHORIZATION_DECLINED,
            f"The payment method was declined ({r.decline_code}); a new one is needed by {until}.",
            now,
        )
        self.journal.notify(
            NotificationKind.AUTHORIZATION_DECLINED, ["shopper"],
            f"Authorization of {self._fmt(step.amount)} was declined ({r.decline_code}). Supply another payment method by {until}.",
        )  # fmt: skip
        self.journal.event(now, "authorization_declined", f"Authorization declined: {r.decline_code}.")
        return None

    def _record_reauthorization(self, step: AuthorizeRequest, r: AuthorizationResult, now: datetime) -> Hold | None:
        old = self.hold
        self.cover_wanted_at = None  # answered: approved, it covers; declined, settlement charges off-session
        if old is not None:
            old.reauth_attempts += 1
        if r.approved:
            new = self._add_hold(r, now)
            self.journal.clear(Attention.REAUTHORIZATION_FAILED)
            until = f"{new.expires_at:%d %b %H:%M} UTC"
            self.journal.event(
                now, "reauthorized", f"Re-authorized the outstanding {self._fmt(step.amount)} until {until}."
            )
            return new
        if old is not None:
            old.reauth_failed = True
        self.journal.flag(
            Attention.REAUTHORIZATION_FAILED,
            f"Re-authorization was declined ({r.decline_code}); settlement will charge off-session.",
            now,
        )
        self.journal.notify(
            NotificationKind.REAUTHORIZATION_FAILED, ["shopper", "staff"],
            f"Re-authorizing {self._fmt(step.amount)} was declined ({r.decline_code}).",
        )  # fmt: skip
        self.journal.event(now, "reauthorization_declined", f"Re-authorization declined: {r.decline_code}.")
        return None

    def _add_hold(self, r: AuthorizationResult, now: datetime) -> Hold:
        assert r.authorization_id is not None and r.expires_at is not None
        hold = Hold(len(self.holds) + 1, r.authorization_id, r.amount, r.amount, now, r.expires_at)
        self.holds.append(hold)
        return hold

    def record_payment(self, step: CaptureRequest | ChargeRequest, r: PaymentResult, now: datetime) -> Paid:
        """Books the answer and, unless it paid, tells people; on PAID the trial marks the pieces charged."""
        s = self.settlements[step.settlement - 1]
        s.tries += 1
        kind: MovementKind = "capture" if isinstance(step, CaptureRequest) else "charge"
        self.movement(
            step.key, kind, step.amount, now, outcome="succeeded" if r.approved else "declined",
            reference=r.reference, settlement=s.number, decline_code=r.decline_code,
        )  # fmt: skip
        hold = next(
            (h for h in self.holds if isinstance(step, CaptureRequest) and h.authorization_id == step.authorization_id),
            None,
        )
        if r.approved:
            if hold is not None:
                hold.remaining = r.remaining_authorized
                if r.released:
                    self.movement(f"{step.key}-remainder", "release", r.released, now, reference=hold.authorization_id)
                if hold.remaining == 0:
                    hold.state = "consumed"
            s.state, s.amount_paid, s.reference = "paid", step.amount, r.reference
            if not self.dunning:
                self.journal.clear(Attention.SETTLEMENT_DECLINED, Attention.PAYMENT_ACTION_REQUIRED)
            return Paid.PAID
        if hold is not None:
            hold.state = "failed"
            text = f"Capture on authorization {hold.number} refused ({r.decline_code}); charging off-session."
            self.journal.event(now, "capture_refused", text)
            return Paid.HOLD_REFUSED
        s.declines += 1
        if s.first_declined_at is None:
            s.first_declined_at = now
        schedule = self.policy.dunning_schedule
        if s.declines <= len(schedule):
            s.state, s.next_attempt_at = "waiting", s.first_declined_at + schedule[s.declines - 1]
            self._retry_scheduled(s, step.amount, r.decline_code, now)
            return Paid.RETRY_SCHEDULED
        s.state, s.next_attempt_at = "action_required", None
        self._retries_exhausted(s, step.amount, now)
        return Paid.ACTION_REQUIRED

    def _retry_scheduled(self, s: Settlement, amount: int, decline_code: str | None, now: datetime) -> None:
        retry = f"{s.next_attempt_at:%d %b %H:%M} UTC"
        self.journal.flag(
            Attention.SETTLEMENT_DECLINED,
            f"Settlement {s.number} was declined ({decline_code}); retrying {retry}.",
            now,
        )
        self.journal.notify(
            NotificationKind.PAYMENT_DECLINED, ["shopper"],
            f"Charging {self._fmt(amount)} was declined ({decline_code}); it will be retried {retry}.",
        )  # fmt: skip
        tries = len(self.policy.dunning_schedule)
        text = f"Settlement {s.number} declined ({decline_code}); retry {s.declines} of {tries} scheduled."
        self.journal.event(now, "charge_declined", text)

    def _retries_exhausted(self, s: Settlement, amount: int, now: datetime) -> None:
        self.journal.clear(Attention.SETTLEMENT_DECLINED)
        self.journal.flag(
            Attention.PAYMENT_ACTION_REQUIRED,
            f"Settlement {s.number} ({self._fmt(amount)}) is still declined after every retry: supply a new payment method.",
            now,
        )
        self.journal.notify(
            NotificationKind.PAYMENT_ACTION_REQUIRED, ["shopper", "staff"],
            f"Charging {self._fmt(amount)} failed after every retry; a new payment method is needed.",
        )  # fmt: skip
        text = f"Settlement {s.number} declined after {s.declines} attempts; waiting for staff."
        self.journal.event(now, "payment_action_required", text)

    def record_release(self, step: ReleaseRequest, r: ReleaseResult, now: datetime) -> None:
        hold = next(h for h in self.holds if h.authorization_id == step.authorization_id)
        self.movement(step.key, "release", r.released, now, reference=hold.authorization_id)
        hold.state, hold.remaining = "released", 0
        self.journal.event(now, "released", f"Released {self._fmt(r.released)} of authorization {hold.number}.")

    # ------------------------------------------------------------------ changes

    def expire(self, hold: Hold, now: datetime) -> None:
        """The hold lapsed unused at the gateway (a deadline: see domain.deadlines)."""
        hold.state = "expired"
        key = f"{self.trial_id}-hold-{hold.number}-expired"
        self.movement(key, "expiry", hold.remaining, now, reference=hold.authorization_id)
        text = f"Authorization {hold.number} expired unused ({self._fmt(hold.remaining)})."
        self.journal.event(now, "authorization_expired", text)
        hold.remaining = 0

    def retry(self, s: Settlement, now: datetime) -> None:
        """Its dunning delay is over: try the settlement again."""
        s.state = "due"

    def plan(self, piece_ids: list[str]) -> int:
        """A new settlement for these pieces; returns its number."""
        number = len(self.settlements) + 1
        self.settlements.append(Settlement(number, piece_ids))
        return number

    def void_worthless(self) -> None:
        for s in self.settlements:
            if s.state not in ("paid", "void") and self.amount(s) == 0:
                s.state = "void"  # every piece in it was waived

    def new_payment_method(self, payment_method: str) -> None:
        """A new method retries at once whatever was waiting on the old one."""
        self.payment_method = payment_method
        self.awaiting_payment_method = False
        self.card_last4 = None  # another card: its digits are not known
        hold = self.hold
        if hold is not None:
            hold.reauth_failed = False
        for s in self.settlements:
            if s.state in ("waiting", "action_required"):
                s.state, s.next_attempt_at = "due", None

    def movement(
        self, key: str, kind: MovementKind, amount: int, now: datetime, *, outcome: Outcome = "succeeded",
        reference: str | None = None, expires_at: datetime | None = None, settlement: int | None = None,
        decline_code: str | None = None,
    ) -> None:  # fmt: skip
        # The trial's own ledger refuses a second movement under one key, whatever the gateway does.
        if any(m.key == key for m in self.movements):
            raise ValueError(f"money movement {key!r} recorded twice")
        self.movements.append(
            Movement(key, kind, amount, outcome, now, reference, expires_at, settlement, decline_code)
        )

    def _fmt(self, amount: int) -> str:
        return format_money(amount, self.currency)
