"""The real payment adapter: Stripe PaymentIntents through the official SDK.

| the port            | Stripe                                                                             |
|---------------------|------------------------------------------------------------------------------------|
| authorize           | PaymentIntent, `capture_method=manual`, confirmed (off-session when merchant-initiated) |
| capture             | capture with `amount_to_capture` (its metadata names the settlement); Stripe releases the uncaptured rest at once |
| charge              | PaymentIntent confirmed off-session on the saved PaymentMethod, captured at once     |
| release             | cancel the PaymentIntent (its metadata names the release that did it)              |
| refund              | a Refund on the PaymentIntent that captured or charged the piece, `amount` given    |
| lookup              | the PaymentIntent (or Refund) whose metadata carries the idempotency key            |

A standard PaymentIntent can be captured once, so `capabilities.multiple_captures` is False and every capture
answers `remaining_authorized=0`: the trial then charges later settlements off-session. Re-authorizing is an
`authorize` with `merchant_initiated=True`; the workflow cancels the old hold only after the new one stands.

Errors: a card decline is a result (it drives dunning); network errors, 5xx, rate limits and a refused API
key raise `TransientGatewayError` and Temporal retries them with backoff; a request Stripe calls invalid is a
bug (`InvalidPaymentRequest`, not retried). Every create carries the movement's idempotency key twice: as
Stripe's `Idempotency-Key` (honoured for 24 hours) and in the metadata, where `lookup` finds it later.

Off-session payments need the PaymentMethod saved on a Customer. Fulfilment should pass one already saved
at checkout (a SetupIntent with `usage=off_session`); a PaymentMethod on no Customer (Stripe's test
tokens) is saved on a new Customer that carries only the trial id.
"""

import asyncio
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import stripe

from activities.headers import ascii_header
from activities.ports import (
    AnyRequest,
    AnyResult,
    GatewayCapabilities,
    InvalidPaymentRequest,
    TransientGatewayError,
    check_amount,
    over_limit,
)
from domain.bounds import MAX_AMOUNT
from domain.money import exponent
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

KEY = "styletrial_key"  # metadata: the movement's idempotency key
TRIAL = "styletrial_trial"  # metadata: the trial id (never personal data)
RELEASE = "styletrial_release"  # metadata: the key of the release that cancelled the hold
CAPTURE = "styletrial_capture"  # metadata: the key of the settlement that captured the hold
_CANCELLABLE = frozenset({"requires_payment_method", "requires_confirmation", "requires_action", "requires_capture"})


class _Declined(Exception):
    """A decline found anywhere in a call; the call turns it into its result."""

    def __init__(self, code: str, message: str | None) -> None:
        super().__init__(code)
        self.code, self.message = code, message

    def authorization(self) -> AuthorizationResult:
        return AuthorizationResult(approved=False, decline_code=self.code, decline_message=self.message)

    def payment(self, reference: str | None = None) -> PaymentResult:
        return PaymentResult(approved=False, reference=reference, decline_code=self.code, decline_message=self.message)


class StripeGateway:
    def __init__(
        self,
        api_key: str,
        api_base: str = "https://api.stripe.com",
        *,
        customer_initiated_validity: timedelta = timedelta(days=7),
        merchant_initiated_validity: timedelta = timedelta(days=4),
        timeout_seconds: float = 20,
    ) -> None:
        # The SDK logs every request (path, ids, amounts) at INFO, and prints it to stderr when STRIPE_LOG
        # is set: neither belongs in our logs, which carry trial ids and nothing of the client's.
        if os.environ.get("STRIPE_LOG"):
            raise ValueError("STRIPE_LOG makes the Stripe SDK print every request to stderr; unset it.")
        logging.getLogger("stripe").setLevel(logging.WARNING)
        stripe.log = None
        # No SDK retries: Temporal retries the activity with backoff, and every call is idempotent.
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base},
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=timeout_seconds),
        )
        self._validity = {False: customer_initiated_validity, True: merchant_initiated_validity}
        self._search: bool | None = None  # does the server have the Search API? (localstripe does not)

    @property
    def capabilities(self) -> GatewayCapabilities:
        return GatewayCapabilities(
            multiple_captures=False,
            customer_initiated_validity_days=self._validity[False].days,
            merchant_initiated_validity_days=self._validity[True].days,
        )

    # -- the port -----------------------------------------------------------------------------------
    # The SDK is synchronous; each call runs in a thread so the worker's event loop stays free.

    async def authorize(self, req: AuthorizeRequest) -> AuthorizationResult:
        return await asyncio.to_thread(self._authorize, req)

    async def capture(self, req: CaptureRequest) -> PaymentResult:
        return await asyncio.to_thread(self._capture, req)

    async def charge(self, req: ChargeRequest) -> PaymentResult:
        return await asyncio.to_thread(self._charge, req)

    async def release(self, req: ReleaseRequest) -> ReleaseResult:
        return await asyncio.to_thread(self._release, req)

    async def refund(self, req: RefundRequest) -> RefundResult:
        return await asyncio.to_thread(self._refund, req)

    async def lookup(self, req: AnyRequest) -> AnyResult | None:
        # Captures and releases act on an existing PaymentIntent whose state answers a retry by itself.
        if isinstance(req, AuthorizeRequest | ChargeRequest):
            return await asyncio.to_thread(self._lookup, req)
        if isinstance(req, RefundRequest):
            found = await asyncio.to_thread(self._find_refund, req)
            return _refunded(found, req) if found is not None else None
        return None

    # -- calls --------------------------------------------------------------------------------------

    def _authorize(self, req: AuthorizeRequest) -> AuthorizationResult:
        try:
            _check_stripe_amount(req.amount, req.currency)
            customer, payment_method = self._saved_payment_method(req.payment_method, req)
            params: dict[str, Any] = {
                "amount": req.amount, "currency": req.currency.lower(), "customer": customer,
                "payment_method": payment_method, "capture_method": "manual", "confirm": True,
                "metadata": {KEY: req.key, TRIAL: req.trial_id}, "expand": ["latest_charge"],
            }  # fmt: skip
            if req.merchant_initiated:
                params["off_session"] = True
            with _errors():
                intent = self._client.v1.payment_intents.create(
                    params=params,  # type: ignore[arg-type]
                    options={"idempotency_key": ascii_header(req.key)},
                )
            return self._authorization(intent, req)
        except _Declined as d:
            return d.authorization()

    def _capture(self, req: CaptureRequest) -> PaymentResult:
        """Capture once, saying in the hold's metadata which settlement did it: a retry of that capture
        answers what it took; any other capture of a consumed, cancelled or expired hold is refused."""
        check_amount(req.amount, req.currency)
        intents = self._client.v1.payment_intents
        with _errors():
            intent = intents.retrieve(req.authorization_id)
        if intent.status == "requires_capture":
            try:
                with _errors():
                    intents.update(intent.id, params={"metadata": {CAPTURE: req.key}})
                    intent = intents.capture(
                        intent.id,
                        params={"amount_to_capture": req.amount},
                        options={"idempotency_key": ascii_header(req.key)},
                    )
            except _Declined as d:
                return d.payment()
            except InvalidPaymentRequest:
                with _errors():  # it changed under us (expired, cancelled): read what it is now
                    intent = intents.retrieve(req.authorization_id)
        mine = metadata(intent, CAPTURE) == req.key
        received = _received(intent)
        if not (intent.status == "succeeded" and mine and received == req.amount):
            return PaymentResult(approved=False, decline_code="authorization_not_capturable")
        return PaymentResult(
            approved=True, reference=intent.id, amount=received, remaining_authorized=0,
            released=intent.amount - received,
        )  # fmt: skip

    def _charge(self, req: ChargeRequest) -> PaymentResult:
        try:
            _check_stripe_amount(req.amount, req.currency)
            customer, payment_method = self._saved_payment_method(req.payment_method, req)
            params = {
                "amount": req.amount, "currency": req.currency.lower(), "customer": customer,
                "payment_method": payment_method, "confirm": True, "off_session": True,
                "metadata": {KEY: req.key, TRIAL: req.trial_id, "styletrial_settlement": str(req.settlement)},
            }  # fmt: skip
            with _errors():
                intent = self._client.v1.payment_intents.create(
                    params=params,  # type: ignore[arg-type]
                    options={"idempotency_key": ascii_header(req.key)},
                )
            return _payment(intent)
        except _Declined as d:
            return d.payment()

    def _release(self, req: ReleaseRequest) -> ReleaseResult:
        """Cancel the hold, saying in its metadata which release did it: a retry of that release answers
        what it released, and any other caller (a second release, or Stripe's own expiry) answers 0."""
        intents = self._client.v1.payment_intents
        with _errors():
            intent = intents.retrieve(req.authorization_id)
        if intent.status in _CANCELLABLE:
            with _errors():
                intents.update(intent.id, params={"metadata": {RELEASE: req.key}})
                intent = intents.cancel(intent.id, options={"idempotency_key": ascii_header(req.key)})
        mine = metadata(intent, RELEASE) == req.key
        return ReleaseResult(released=intent.amount - _received(intent) if intent.status == "canceled" and mine else 0)

    def _refund(self, req: RefundRequest) -> RefundResult:
        """A Refund on the PaymentIntent, its metadata naming the movement. Stripe refuses more than is left
        of the payment (`charge_already_refunded`, or an amount too large): a declined result, not a bug."""
        check_amount(req.amount, req.currency)
        params = {
            "payment_intent": req.payment_reference, "amount": req.amount,
            "metadata": {KEY: req.key, TRIAL: req.trial_id},
        }  # fmt: skip
        try:
            with _errors():
                refund = self._client.v1.refunds.create(
                    params=params,  # type: ignore[arg-type]
                    options={"idempotency_key": ascii_header(req.key)},
                )
        except _Declined as d:
            return RefundResult(
                approved=False, payment_reference=req.payment_reference, decline_code=d.code, decline_message=d.message
            )
        return _refunded(refund, req)

    def _find_refund(self, req: RefundRequest) -> stripe.Refund | None:
        with _errors():
            pages = self._client.v1.refunds.list(
                params={"payment_intent": req.payment_reference, "limit": 100}
            ).auto_paging_iter()
            return next((r for r in pages if (r.to_dict().get("metadata") or {}).get(KEY) == req.key), None)

    def _lookup(self, req: AuthorizeRequest | ChargeRequest) -> AuthorizationResult | PaymentResult | None:
        intent = self._find(req.key)
        if intent is None:
            return None
        if isinstance(req, ChargeRequest):
            return _payment(intent)
        try:
            return self._authorization(intent, req)
        except _Declined as d:
            return d.authorization()

    # -- helpers ------------------------------------------------------------------------------------

    def _authorization(self, intent: stripe.PaymentIntent, req: AuthorizeRequest) -> AuthorizationResult:
        if intent.status == "requires_capture":
            # Card networks hold a client-present authorization 7 days and a merchant-initiated one less;
            # counted from the request's time, which is the workflow's clock.
            expires_at = req.at + self._validity[req.merchant_initiated]
            return AuthorizationResult(
                approved=True,
                authorization_id=intent.id,
                amount=intent.amount,
                expires_at=_earliest(expires_at, intent),
                card_last4=_last4(intent),
            )
        if intent.status == "requires_action":
            # Give the hold back at once: nobody is present to authenticate it.
            with _errors():
                self._client.v1.payment_intents.cancel(intent.id)
            raise _authentication_required()
        raise _declined_intent(intent)

    def _saved_payment_method(self, token: str, req: AuthorizeRequest | ChargeRequest) -> tuple[str, str]:
        """(customer, payment method) for an off-session-capable payment."""
        methods = self._client.v1.payment_methods
        try:
            with _errors():
                method = methods.retrieve(token)
            if method.customer:
                return _id(method.customer), method.id
            token = method.id
        except InvalidPaymentRequest:
            # Not retrievable as such (Stripe's test tokens are accepted where a PaymentMethod is used,
            # not always fetched): attaching it below either works or says the method is unknown.
            pass
        with _errors():
            customer = self._client.v1.customers.create(
                params={"metadata": {TRIAL: req.trial_id}},
                options={"idempotency_key": ascii_header(f"{req.key}-customer")},
            )
        try:
            with _errors():
                method = methods.attach(
                    token,
                    params={"customer": customer.id},
                    options={"idempotency_key": ascii_header(f"{req.key}-attach")},
                )
        except InvalidPaymentRequest as err:
            raise _Declined("invalid_payment_method", "Stripe does not know this payment method.") from err
        return customer.id, method.id

    def _find(self, key: str) -> stripe.PaymentIntent | None:
        """The newest PaymentIntent created under `key`. Stripe's Search API where there is one (it can lag
        by a minute; the create's Idempotency-Key covers that window); else a scan of the list."""
        intents = self._client.v1.payment_intents
        if self._search is not False:
            try:
                with _errors():
                    found = intents.search(params={"query": f"metadata['{KEY}']:'{_quoted(key)}'", "limit": 10})
                self._search = True
                return max(found.data, key=lambda i: i.created, default=None)
            except InvalidPaymentRequest:
                self._search = False
        with _errors():
            pages = intents.list(params={"limit": 100}).auto_paging_iter()
            matches = [i for i in pages if metadata(i, KEY) == key]
        return max(matches, key=lambda i: i.created, default=None)


# Stripe's error codes for a request that is well formed but that Stripe will not carry out as asked.
_REFUSED_AS_ASKED = frozenset({
    "amount_too_small", "amount_too_large", "invalid_charge_amount", "charge_already_refunded", "charge_disputed", "payment_method_unactivated",
    "payment_method_not_available", "payment_method_unexpected_state", "payment_intent_incompatible_payment_method",
})  # fmt: skip


@contextmanager
def _errors() -> Iterator[None]:
    """Stripe's error classes, sorted into the port's taxonomy."""
    try:
        yield
    except stripe.CardError as err:
        body: dict[str, Any] = err.json_body if isinstance(err.json_body, dict) else {}
        error: dict[str, Any] = body.get("error") or {}
        code = error.get("decline_code") or err.code or "card_declined"
        raise _Declined(code, err.user_message) from err
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as err:
        raise TransientGatewayError(f"Stripe unavailable ({type(err).__name__}, HTTP {err.http_status})") from err
    except (stripe.AuthenticationError, stripe.PermissionError) as err:
        # A wrong or revoked key: retried with backoff until an operator fixes the configuration.
        raise TransientGatewayError(f"Stripe refused the API key (HTTP {err.http_status})") from err
    except stripe.InvalidRequestError as err:
        if err.code in _REFUSED_AS_ASKED:
            # Valid on our side, but not a payment Stripe will make (below its minimum, say): a decline
            # the trial can act on, never a workflow task stuck on a "bug".
            raise _Declined(err.code or "invalid_request", err.user_message) from err
        raise InvalidPaymentRequest("stripe_invalid_request", f"HTTP {err.http_status}: {err.user_message}") from err
    except stripe.IdempotencyError as err:
        raise InvalidPaymentRequest("stripe_idempotency", f"HTTP {err.http_status}: {err.user_message}") from err


def _check_stripe_amount(amount: int, currency: str) -> None:
    check_amount(amount, currency)
    if code := over_limit(amount):
        raise _Declined(code, f"Stripe takes at most {MAX_AMOUNT:,} minor units in one payment.")
    if exponent(currency) == 3 and amount % 10:
        # Stripe charges three-decimal currencies (BHD, KWD, …) in multiples of 10 minor units.
        raise _Declined("invalid_amount", "Stripe takes three-decimal currencies in multiples of 10 minor units.")


def _authentication_required() -> _Declined:
    # The bank wants the client present (3-D Secure), which an engine charging on its own can't arrange.
    return _Declined("authentication_required", "The bank asked for the client to authenticate.")


def _last4(intent: stripe.PaymentIntent) -> str | None:
    """The card's last four digits, from the hold's charge (expanded), when Stripe gives them."""
    charge = intent.to_dict().get("latest_charge")
    card = ((charge or {}).get("payment_method_details") or {}).get("card") if isinstance(charge, dict) else None
    last4 = card.get("last4") if isinstance(card, dict) else None
    return last4 if isinstance(last4, str) and len(last4) == 4 and last4.isdigit() else None


def _payment(intent: stripe.PaymentIntent) -> PaymentResult:
    if intent.status == "succeeded":
        return PaymentResult(approved=True, reference=intent.id, amount=_received(intent))
    if intent.status == "requires_action":
        return _authentication_required().payment(intent.id)
    return _declined_intent(intent).payment(intent.id)


def _refunded(refund: stripe.Refund, req: RefundRequest) -> RefundResult:
    # A pending refund is on its way (some payment methods take days); only a failed or cancelled one is not.
    status = refund.to_dict().get("status")
    if status in ("failed", "canceled"):
        code = refund.to_dict().get("failure_reason") or f"refund_{status}"
        return RefundResult(
            approved=False, reference=refund.id, payment_reference=req.payment_reference, decline_code=code
        )
    return RefundResult(
        approved=True, reference=refund.id, amount=int(refund.amount), payment_reference=req.payment_reference
    )


def _declined_intent(intent: stripe.PaymentIntent) -> _Declined:
    # Stripe omits empty fields, so read the plain dict rather than attributes.
    error = intent.to_dict().get("last_payment_error") or {}
    code = error.get("decline_code") or error.get("code") or f"payment_{intent.status}"
    return _Declined(code, error.get("message"))


def metadata(intent: stripe.PaymentIntent, name: str) -> str | None:
    """One metadata value; Stripe omits empty fields, so read the plain dict rather than attributes."""
    value = (intent.to_dict().get("metadata") or {}).get(name)
    return str(value) if value is not None else None


def _received(intent: stripe.PaymentIntent) -> int:
    return received_amount(intent.to_dict())


def received_amount(data: dict[str, Any]) -> int:
    """What a PaymentIntent has taken. Stripe says `amount_received`; localstripe only shows its charge."""
    if "amount_received" in data:
        return int(data["amount_received"])
    charge = data.get("latest_charge")
    if isinstance(charge, dict) and charge.get("captured") and charge.get("status") == "succeeded":
        return int(charge["amount"]) - int(charge.get("amount_refunded") or 0)
    return 0


def _earliest(expires_at: datetime, intent: stripe.PaymentIntent) -> datetime:
    """Stripe may say when the hold ends (`capture_before` on the charge); never trust a later date."""
    charge = intent.to_dict().get("latest_charge")
    details = charge.get("payment_method_details") if isinstance(charge, dict) else None
    card = (details or {}).get("card") or {}
    before = card.get("capture_before")
    if isinstance(before, int):
        return min(expires_at, datetime.fromtimestamp(before, tz=expires_at.tzinfo))
    return expires_at


def _id(value: Any) -> str:
    return value if isinstance(value, str) else str(value.id)


def _quoted(key: str) -> str:
    return key.replace("\\", "\\\\").replace("'", "\\'")
