"""The embedded payment gateway: deterministic, in memory, shaped like Stripe.

Payment-method tokens mirror Stripe's test PaymentMethods so the same fixtures work on both adapters:

| token                                    | behaviour                                                        |
|------------------------------------------|------------------------------------------------------------------|
| `pm_card_visa`, `pm_card_mastercard`, …  | everything succeeds                                              |
| `pm_card_chargeDeclined`                 | every authorization and charge is declined (`generic_decline`)   |
| `pm_card_chargeDeclinedInsufficientFunds`| declined with `insufficient_funds`                               |
| `pm_card_chargeCustomerFail`             | the client-present first authorization succeeds; merchant-initiated re-authorizations and off-session charges are declined (`card_declined`) |

Time comes from the request (`at`), which the workflow sets from its own deterministic clock: an
authorization made at `at` expires `at + validity`, and a capture at or after expiry is refused. That
keeps the simulation honest on Temporal's time-skipping test server, where days pass in milliseconds.
"""

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from activities.ports import GatewayCapabilities, TransientGatewayError
from domain.money import is_currency
from domain.steps import (
    AuthorizationResult,
    AuthorizeRequest,
    CaptureRequest,
    ChargeRequest,
    PaymentResult,
    ReleaseRequest,
    ReleaseResult,
)

_R = TypeVar("_R", AuthorizationResult, PaymentResult, ReleaseResult)


_DECLINES = {
    "pm_card_chargeDeclined": "generic_decline",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
}
_MERCHANT_INITIATED_DECLINES = {"pm_card_chargeCustomerFail": "card_declined"}


@dataclass
class SimulatedAuthorization:
    id: str
    trial_id: str
    amount: int
    remaining: int
    currency: str
    expires_at_iso: str
    state: str  # "authorized", "captured", "released"


@dataclass
class GatewayOperation:
    """What a real gateway's dashboard would show: one row per call that moved or held money."""

    key: str
    kind: str
    trial_id: str
    amount: int
    approved: bool
    reference: str | None


class SimulatedGateway:
    def __init__(
        self,
        *,
        multiple_captures: bool = False,
        honour_idempotency_keys: bool = True,
        customer_initiated_validity: timedelta = timedelta(days=7),
        merchant_initiated_validity: timedelta = timedelta(days=4),
    ) -> None:
        self._multiple_captures = multiple_captures
        # localstripe, for one, ignores idempotency keys; this switch lets tests prove the ledger copes.
        self._honour_keys = honour_idempotency_keys
        self._validity = {False: customer_initiated_validity, True: merchant_initiated_validity}
        self.authorizations: dict[str, SimulatedAuthorization] = {}
        self.operations: list[GatewayOperation] = []
        self._results: dict[str, object] = {}
        self._ids = itertools.count(1)
        self._failures: dict[str, int] = {}
        self._clock: datetime | None = None  # the latest `at` of any request: the gateway's "now"
        self._forced_declines: dict[str, list[str]] = {}

    @property
    def capabilities(self) -> GatewayCapabilities:
        return GatewayCapabilities(
            multiple_captures=self._multiple_captures,
            customer_initiated_validity_days=self._validity[False].days,
            merchant_initiated_validity_days=self._validity[True].days,
        )

    def fail_next(self, operation: str, times: int = 1) -> None:
        """Make the next `times` calls of `operation` fail as a network error would (for tests)."""
        self._failures[operation] = self._failures.get(operation, 0) + times

    def decline_next(self, operation: str, code: str = "card_declined") -> None:
        """Make the next new `operation` call ("authorize" or "charge") decline with `code` (for tests)."""
        self._forced_declines.setdefault(operation, []).append(code)

    # -- the port -----------------------------------------------------------------------------------

    async def authorize(self, req: AuthorizeRequest) -> AuthorizationResult:
        self._maybe_fail("authorize")
        self._tick(req.at)
        if self._honour_keys and (cached := self._results.get(req.key)) is not None:
            assert isinstance(cached, AuthorizationResult)
            return cached
        _check_amount(req.amount, req.currency)
        decline = self._forced("authorize") or self._decline_for(
            req.payment_method, merchant_initiated=req.merchant_initiated
        )
        if decline:
            result = AuthorizationResult(approved=False, decline_code=decline, decline_message=_message(decline))
        else:
            auth_id = f"simauth_{next(self._ids)}"
            expires_at = req.at + self._validity[req.merchant_initiated]
            self.authorizations[auth_id] = SimulatedAuthorization(
                auth_id, req.trial_id, req.amount, req.amount, req.currency, expires_at.isoformat(), "authorized"
            )
            result = AuthorizationResult(
                approved=True, authorization_id=auth_id, amount=req.amount, expires_at=expires_at
            )
        self._remember(req.key, "authorization", req.trial_id, req.amount, result.approved, result.authorization_id)
        return self._keep(req.key, result)

    async def capture(self, req: CaptureRequest) -> PaymentResult:
        self._maybe_fail("capture")
        self._tick(req.at)
        if self._honour_keys and (cached := self._results.get(req.key)) is not None:
            assert isinstance(cached, PaymentResult)
            return cached
        _check_amount(req.amount, req.currency)
        auth = self.authorizations.get(req.authorization_id)
        if auth is None or auth.state != "authorized":
            result = PaymentResult(approved=False, decline_code="authorization_not_capturable")
        elif req.at.isoformat() >= auth.expires_at_iso:
            result = PaymentResult(approved=False, decline_code="authorization_expired")
        elif req.amount > auth.remaining:
            result = PaymentResult(approved=False, decline_code="amount_too_large")
        else:
            auth.remaining -= req.amount
            released = 0
            if not self._multiple_captures or auth.remaining == 0:
                released, auth.remaining, auth.state = auth.remaining, 0, "captured"
            result = PaymentResult(
                approved=True, reference=f"simcap_{next(self._ids)}", amount=req.amount,
                remaining_authorized=auth.remaining, released=released,
            )  # fmt: skip
        self._remember(req.key, "capture", req.trial_id, req.amount, result.approved, result.reference)
        return self._keep(req.key, result)

    async def charge(self, req: ChargeRequest) -> PaymentResult:
        self._maybe_fail("charge")
        self._tick(req.at)
        if self._honour_keys and (cached := self._results.get(req.key)) is not None:
            assert isinstance(cached, PaymentResult)
            return cached
        _check_amount(req.amount, req.currency)
        decline = self._forced("charge") or self._decline_for(req.payment_method, merchant_initiated=True)
        if decline:
            result = PaymentResult(approved=False, decline_code=decline, decline_message=_message(decline))
        else:
            result = PaymentResult(approved=True, reference=f"simch_{next(self._ids)}", amount=req.amount)
        self._remember(req.key, "charge", req.trial_id, req.amount, result.approved, result.reference)
        return self._keep(req.key, result)

    async def release(self, req: ReleaseRequest) -> ReleaseResult:
        self._maybe_fail("release")
        self._tick(req.at)
        if self._honour_keys and (cached := self._results.get(req.key)) is not None:
            assert isinstance(cached, ReleaseResult)
            return cached
        auth = self.authorizations.get(req.authorization_id)
        released = 0
        if auth is not None and auth.state == "authorized":
            released, auth.remaining, auth.state = auth.remaining, 0, "released"
        result = ReleaseResult(released=released)
        self._remember(req.key, "release", req.trial_id, released, True, req.authorization_id)
        return self._keep(req.key, result)

    async def lookup(self, key: str) -> AuthorizationResult | PaymentResult | ReleaseResult | None:
        found = self._results.get(key)
        assert found is None or isinstance(found, AuthorizationResult | PaymentResult | ReleaseResult)
        return found

    # -- what tests and the dashboard read ----------------------------------------------------------

    def total(self, trial_id: str, kind: str) -> int:
        return sum(o.amount for o in self.operations if o.trial_id == trial_id and o.kind == kind and o.approved)

    def held(self, trial_id: str, at: datetime | None = None) -> int:
        """What is still on hold for a trial at `at` (default: the time of the latest request seen)."""
        when = at or self._clock
        moment = when.isoformat() if when else ""
        return sum(
            a.remaining
            for a in self.authorizations.values()
            if a.trial_id == trial_id and a.state == "authorized" and a.expires_at_iso > moment
        )

    # -- internals ----------------------------------------------------------------------------------

    def _keep(self, key: str, result: _R) -> _R:
        if self._honour_keys:
            kept = self._results.setdefault(key, result)
            assert isinstance(kept, type(result))
            return kept
        self._results[key] = result
        return result

    def _tick(self, at: datetime) -> None:
        if self._clock is None or at > self._clock:
            self._clock = at

    def _maybe_fail(self, operation: str) -> None:
        if self._failures.get(operation, 0) > 0:
            self._failures[operation] -= 1
            raise TransientGatewayError(f"simulated network failure during {operation}")

    def _forced(self, operation: str) -> str | None:
        queue = self._forced_declines.get(operation)
        return queue.pop(0) if queue else None

    @staticmethod
    def _decline_for(payment_method: str, *, merchant_initiated: bool) -> str | None:
        if payment_method in _DECLINES:
            return _DECLINES[payment_method]
        if merchant_initiated:
            return _MERCHANT_INITIATED_DECLINES.get(payment_method)
        return None

    def _remember(self, key: str, kind: str, trial_id: str, amount: int, approved: bool, ref: str | None) -> None:
        if key not in self._results or not self._honour_keys:
            self.operations.append(GatewayOperation(key, kind, trial_id, amount, approved, ref))


def _check_amount(amount: int, currency: str) -> None:
    if amount <= 0 or not is_currency(currency):
        # A bug upstream, not a decline: refuse loudly rather than move a nonsensical amount.
        raise ValueError(f"invalid amount {amount} {currency}")


def _message(code: str) -> str:
    return {
        "generic_decline": "The card was declined.",
        "insufficient_funds": "The card has insufficient funds.",
        "card_declined": "The card was declined for a merchant-initiated payment.",
    }.get(code, "The payment was declined.")
