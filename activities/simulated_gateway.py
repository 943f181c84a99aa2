"""The embedded payment gateway: deterministic, shaped like Stripe, its state in a `GatewayBook`.

The book is the engine's database in the running engine (persistence.simulated_book), so a worker restart
forgets no hold; tests of pure logic use the in-memory book.

Payment-method tokens are Stripe's test PaymentMethods, so the same fixtures work on both adapters:

| token                                          | behaviour on both adapters                                  |
|------------------------------------------------|-------------------------------------------------------------|
| `pm_card_visa`, `pm_card_mastercard`, …        | everything succeeds                                         |
| `pm_card_visa_chargeDeclined`                  | every authorization and charge is declined (`card_declined`) |
| `pm_card_chargeCustomerFail`                   | the card can be saved, but every payment is declined (`card_declined`) |

and, on the simulated gateway only (localstripe does not know them):

| token                                          | behaviour                                                   |
|------------------------------------------------|-------------------------------------------------------------|
| `pm_card_chargeDeclined`                       | every authorization and charge is declined (`generic_decline`) |
| `pm_card_chargeDeclinedInsufficientFunds`      | declined with `insufficient_funds`                          |
| `pm_card_declinesOffSession`                   | the client-present authorization succeeds; every merchant-initiated payment (re-authorization, off-session charge) is declined (`card_declined`): a card that fails during the trial |

Time comes from the request (`at`), which the workflow sets from its own deterministic clock: an
authorization made at `at` expires `at + validity`, and a capture at or after expiry is refused. That keeps
the simulation honest on Temporal's time-skipping test server, where days pass in milliseconds.
"""

import asyncio
import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel

from activities.ports import (
    AnyRequest,
    AnyResult,
    GatewayBook,
    GatewayCapabilities,
    GatewayOperation,
    SimulatedAuthorization,
    TransientGatewayError,
    check_amount,
    over_limit,
)
from domain.bounds import MAX_AMOUNT
from domain.steps import (
    AuthorizationResult,
    AuthorizeRequest,
    CaptureRequest,
    ChargeRequest,
    PaymentResult,
    RefundRequest,
    RefundResult,
    ReleaseRequest,
    ReleaseResult,
)

_R = TypeVar("_R", AuthorizationResult, PaymentResult, ReleaseResult, RefundResult)
_A = TypeVar("_A")
_T = TypeVar("_T")

_DECLINES = {
    "pm_card_visa_chargeDeclined": "card_declined",
    "pm_card_chargeCustomerFail": "card_declined",
    "pm_card_chargeDeclined": "generic_decline",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
}
_MERCHANT_INITIATED_DECLINES = {"pm_card_declinesOffSession": "card_declined"}
_RESULT_TYPES: dict[str, type[BaseModel]] = {
    "authorization": AuthorizationResult,
    "capture": PaymentResult,
    "charge": PaymentResult,
    "release": ReleaseResult,
    "refund": RefundResult,
}


class MemoryBook:
    blocking = False

    def __init__(self) -> None:
        self._auths: dict[str, SimulatedAuthorization] = {}
        self._ops: list[GatewayOperation] = []

    def answers(self, key: str) -> list[GatewayOperation]:
        return [o for o in self._ops if o.key == key]

    def record(self, op: GatewayOperation) -> None:
        self._ops.append(op)

    def authorization(self, authorization_id: str) -> SimulatedAuthorization | None:
        return self._auths.get(authorization_id)

    def save(self, auth: SimulatedAuthorization) -> None:
        self._auths[auth.id] = auth

    def authorizations(self, trial_id: str) -> list[SimulatedAuthorization]:
        return [a for a in self._auths.values() if a.trial_id == trial_id]

    def operations(self, trial_id: str | None = None) -> list[GatewayOperation]:
        return [o for o in self._ops if trial_id is None or o.trial_id == trial_id]


class SimulatedGateway:
    def __init__(
        self,
        book: GatewayBook | None = None,
        *,
        multiple_captures: bool = False,
        honour_idempotency_keys: bool = True,
        customer_initiated_validity: timedelta = timedelta(days=7),
        merchant_initiated_validity: timedelta = timedelta(days=4),
    ) -> None:
        self.book: GatewayBook = book if book is not None else MemoryBook()
        self._multiple_captures = multiple_captures
        # localstripe, for one, ignores idempotency keys; this switch lets tests prove the ledger copes.
        self._honour_keys = honour_idempotency_keys
        self._validity = {False: customer_initiated_validity, True: merchant_initiated_validity}
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
        """Make the next new `operation` call ("authorize", "charge" or "refund") decline with `code` (for tests)."""
        self._forced_declines.setdefault(operation, []).append(code)

    # -- the port -----------------------------------------------------------------------------------

    async def authorize(self, req: AuthorizeRequest) -> AuthorizationResult:
        return await self._run(self._authorize, req)

    def _authorize(self, req: AuthorizeRequest) -> AuthorizationResult:
        self._begin("authorize", req)
        check_amount(req.amount, req.currency)
        answered = self.book.answers(req.key)
        if (kept := self._kept(answered, AuthorizationResult)) is not None:
            return kept
        decline = (
            over_limit(req.amount)
            or self._forced("authorize")
            or _decline_for(req.payment_method, merchant_initiated=req.merchant_initiated)
        )
        if decline:
            result = AuthorizationResult(approved=False, decline_code=decline, decline_message=_message(decline))
        else:
            auth_id = self._id("simauth", req.key, len(answered))
            expires_at = req.at + self._validity[req.merchant_initiated]
            self.book.save(
                SimulatedAuthorization(
                    auth_id, req.trial_id, req.amount, req.amount, req.currency, expires_at, "authorized"
                )
            )
            result = AuthorizationResult(
                approved=True, authorization_id=auth_id, amount=req.amount, expires_at=expires_at,
                card_last4=TEST_CARDS.get(req.payment_method),
            )  # fmt: skip
        return self._answer(req, "authorization", req.amount, result.authorization_id, result)

    async def capture(self, req: CaptureRequest) -> PaymentResult:
        return await self._run(self._capture, req)

    def _capture(self, req: CaptureRequest) -> PaymentResult:
        self._begin("capture", req)
        check_amount(req.amount, req.currency)
        answered = self.book.answers(req.key)
        if (kept := self._kept(answered, PaymentResult)) is not None:
            return kept
        auth = self.book.authorization(req.authorization_id)
        if auth is None or auth.state != "authorized":
            result = PaymentResult(approved=False, decline_code="authorization_not_capturable")
        elif req.at >= auth.expires_at:
            result = PaymentResult(approved=False, decline_code="authorization_expired")
        elif req.amount > auth.remaining:
            result = PaymentResult(approved=False, decline_code="amount_too_large")
        else:
            auth.remaining -= req.amount
            released = 0
            if not self._multiple_captures or auth.remaining == 0:
                released, auth.remaining, auth.state = auth.remaining, 0, "captured"
            self.book.save(auth)
            result = PaymentResult(
                approved=True, reference=self._id("simcap", req.key, len(answered)), amount=req.amount,
                remaining_authorized=auth.remaining, released=released,
            )  # fmt: skip
        return self._answer(req, "capture", req.amount, result.reference, result)

    async def charge(self, req: ChargeRequest) -> PaymentResult:
        return await self._run(self._charge, req)

    def _charge(self, req: ChargeRequest) -> PaymentResult:
        self._begin("charge", req)
        check_amount(req.amount, req.currency)
        answered = self.book.answers(req.key)
        if (kept := self._kept(answered, PaymentResult)) is not None:
            return kept
        decline = (
            over_limit(req.amount)
            or self._forced("charge")
            or _decline_for(req.payment_method, merchant_initiated=True)
        )
        if decline:
            result = PaymentResult(approved=False, decline_code=decline, decline_message=_message(decline))
        else:
            result = PaymentResult(
                approved=True, reference=self._id("simch", req.key, len(answered)), amount=req.amount
            )
        return self._answer(req, "charge", req.amount, result.reference, result)

    async def release(self, req: ReleaseRequest) -> ReleaseResult:
        return await self._run(self._release, req)

    def _release(self, req: ReleaseRequest) -> ReleaseResult:
        self._begin("release", req)
        answered = self.book.answers(req.key)
        if (kept := self._kept(answered, ReleaseResult)) is not None:
            return kept
        auth = self.book.authorization(req.authorization_id)
        released = 0
        if auth is not None and auth.state == "authorized":
            released, auth.remaining, auth.state = auth.remaining, 0, "released"
            self.book.save(auth)
        return self._answer(req, "release", released, req.authorization_id, ReleaseResult(released=released))

    async def refund(self, req: RefundRequest) -> RefundResult:
        return await self._run(self._refund, req)

    def _refund(self, req: RefundRequest) -> RefundResult:
        """From the capture or charge named, never more than is left of it."""
        self._begin("refund", req)
        check_amount(req.amount, req.currency)
        answered = self.book.answers(req.key)
        if (kept := self._kept(answered, RefundResult)) is not None:
            return kept
        ops = self.book.operations(req.trial_id)
        paid = sum(
            o.amount
            for o in ops
            if o.kind in ("capture", "charge") and o.approved and o.reference == req.payment_reference
        )
        refunded = sum(
            o.amount for o in ops
            if o.kind == "refund" and o.approved and o.result.get("payment_reference") == req.payment_reference
        )  # fmt: skip
        decline = self._forced("refund") or (
            "payment_not_found" if paid == 0 else "refund_exceeds_payment" if req.amount > paid - refunded else None
        )
        if decline:
            result = RefundResult(
                approved=False, payment_reference=req.payment_reference, decline_code=decline,
                decline_message=_message(decline),
            )  # fmt: skip
        else:
            result = RefundResult(
                approved=True, reference=self._id("simre", req.key, len(answered)), amount=req.amount,
                payment_reference=req.payment_reference,
            )  # fmt: skip
        return self._answer(req, "refund", req.amount, result.reference, result)

    async def lookup(self, req: AnyRequest) -> AnyResult | None:
        answers = await self._run(self.book.answers, req.key)
        if not answers:
            return None
        latest = answers[-1]
        found = _RESULT_TYPES[latest.kind].model_validate(latest.result)
        assert isinstance(found, AuthorizationResult | PaymentResult | ReleaseResult | RefundResult)
        return found

    # -- what tests and the dashboard read ----------------------------------------------------------

    @property
    def operations(self) -> list[GatewayOperation]:
        return self.book.operations()

    def total(self, trial_id: str, kind: str) -> int:
        return sum(o.amount for o in self.book.operations(trial_id) if o.kind == kind and o.approved)

    def held(self, trial_id: str, at: datetime | None = None) -> int:
        """What is still on hold for a trial at `at` (default: the time of the latest request seen)."""
        when = at or self._clock
        return sum(
            a.remaining
            for a in self.book.authorizations(trial_id)
            if a.state == "authorized" and (when is None or a.expires_at > when)
        )

    # -- internals ----------------------------------------------------------------------------------

    async def _run(self, call: Callable[[_A], _T], arg: _A) -> _T:
        # A database book would stall the worker's event loop: its calls go to a thread. An in-memory
        # book answers at once, and a thread per call would cost more than the call.
        return await asyncio.to_thread(call, arg) if self.book.blocking else call(arg)

    def _begin(self, operation: str, req: AnyRequest) -> None:
        if self._failures.get(operation, 0) > 0:
            self._failures[operation] -= 1
            raise TransientGatewayError(f"simulated network failure during {operation}")
        if self._clock is None or req.at > self._clock:
            self._clock = req.at

    def _kept(self, answered: list[GatewayOperation], result_type: type[_R]) -> _R | None:
        """The first answer given under the call's key, when the gateway honours idempotency keys."""
        if not self._honour_keys or not answered:
            return None
        return result_type.model_validate(answered[0].result)

    def _answer(self, req: AnyRequest, kind: str, amount: int, reference: str | None, result: _R) -> _R:
        approved = getattr(result, "approved", True)
        self.book.record(
            GatewayOperation(req.key, kind, req.trial_id, amount, approved, reference, result.model_dump(mode="json"))
        )
        return result

    @staticmethod
    def _id(prefix: str, key: str, n: int) -> str:
        # Derived from the key and how often it was used (`n`), so the simulation is deterministic and a
        # restarted worker never reuses an id.
        return f"{prefix}_{hashlib.sha256(f'{key}#{n}'.encode()).hexdigest()[:20]}"

    def _forced(self, operation: str) -> str | None:
        queue = self._forced_declines.get(operation)
        return queue.pop(0) if queue else None


# The last four digits of Stripe's test cards, as a real gateway would report them.
TEST_CARDS = {
    "pm_card_visa": "4242",
    "pm_card_mastercard": "4444",
    "pm_card_amex": "8431",
    "pm_card_visa_debit": "5556",
}


def _decline_for(payment_method: str, *, merchant_initiated: bool) -> str | None:
    if payment_method in _DECLINES:
        return _DECLINES[payment_method]
    if merchant_initiated:
        return _MERCHANT_INITIATED_DECLINES.get(payment_method)
    return None


def _message(code: str) -> str:
    return {
        "generic_decline": "The card was declined.",
        "insufficient_funds": "The card has insufficient funds.",
        "card_declined": "The card was declined.",
        "amount_too_large": f"The amount is above the gateway's limit of {MAX_AMOUNT:,} minor units.",
        "refund_exceeds_payment": "The refund is larger than what is left of the payment.",
        "payment_not_found": "The gateway has no such payment.",
    }.get(code, "The payment was declined.")
