"""The ports the activities depend on. Real adapters (Stripe, the database, a warehouse) implement these."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from domain.bounds import MAX_AMOUNT
from domain.money import is_currency
from domain.steps import (
    AuthorizationResult,
    AuthorizeRequest,
    CaptureRequest,
    ChargeRequest,
    Notification,
    PaymentResult,
    RefundRequest,
    RefundResult,
    ReleaseRequest,
    ReleaseResult,
)
from domain.view import TrialView


class TransientGatewayError(Exception):
    """Network trouble, a 5xx or a rate limit: safe to retry because every call has an idempotency key."""


class InvalidPaymentRequest(ValueError):
    """A request no gateway should ever see (a bug upstream, not a decline): it fails loudly, never retried."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


# MAX_AMOUNT, the largest amount either adapter accepts in one movement: Stripe's eight digits of minor
# units, for every currency (99,999,999 JPY as much as 999,999.99 GBP). A larger movement is declined, not
# attempted. It lives with the other input bounds, since no single price may exceed it either.


def over_limit(amount: int) -> str | None:
    """The decline code for an amount above `MAX_AMOUNT`, the same on every adapter; None when within it."""
    return "amount_too_large" if amount > MAX_AMOUNT else None


def check_amount(amount: int, currency: str) -> None:
    """The port's rule for every amount: a positive whole number of minor units of an ISO-4217 currency.

    Minor units follow ISO 4217 and Stripe alike: JPY and KRW have none (1500 means 1,500 yen), GBP two,
    BHD three. So an amount crosses the port unchanged; no adapter multiplies or divides.
    """
    if not is_currency(currency):
        raise InvalidPaymentRequest("unknown_currency", f"{currency!r} is not an ISO-4217 currency code.")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidPaymentRequest("invalid_amount", f"{amount!r} is not a positive whole number of minor units.")


AnyRequest = AuthorizeRequest | CaptureRequest | ChargeRequest | ReleaseRequest | RefundRequest
AnyResult = AuthorizationResult | PaymentResult | ReleaseResult | RefundResult


@dataclass(frozen=True)
class GatewayCapabilities:
    # A standard Stripe PaymentIntent releases the uncaptured remainder on its first capture; a gateway
    # with multicapture keeps the rest of the hold for a later capture.
    multiple_captures: bool
    customer_initiated_validity_days: int
    merchant_initiated_validity_days: int


class PaymentGateway(Protocol):
    @property
    def capabilities(self) -> GatewayCapabilities: ...

    async def authorize(self, req: AuthorizeRequest) -> AuthorizationResult: ...

    async def capture(self, req: CaptureRequest) -> PaymentResult: ...

    async def charge(self, req: ChargeRequest) -> PaymentResult: ...

    async def release(self, req: ReleaseRequest) -> ReleaseResult: ...

    async def refund(self, req: RefundRequest) -> RefundResult:
        """Give back part or all of a capture or charge. A refund larger than what is left of the payment
        is declined (`refund_exceeds_payment`), never carried out."""
        ...

    async def lookup(self, req: AnyRequest) -> AnyResult | None:
        """What the gateway already did for `req` (under its idempotency key), if anything; Stripe finds it
        by the PaymentIntent's metadata. Asked when an earlier attempt may have reached the gateway but died
        before the ledger heard the answer."""
        ...


@dataclass(frozen=True)
class LedgerEntry:
    key: str
    status: str  # pending | succeeded | declined
    result: dict[str, Any] | None
    # False when the row already existed: an earlier attempt may have reached the gateway.
    created: bool


class Ledger(Protocol):
    """The engine's own record of money movements, unique by idempotency key (persistence.store)."""

    def begin_movement(
        self, *, key: str, trial_id: str, kind: str, amount: int, currency: str, settlement: int | None = None
    ) -> LedgerEntry: ...

    def complete_movement(
        self, *, key: str, status: str, amount: int, result: dict[str, Any], reference: str | None = None,
        expires_at: datetime | None = None, decline_code: str | None = None,
    ) -> None: ...  # fmt: skip


class ReadModel(Protocol):
    def project(self, revision: int, view: TrialView, *, replaces_below: int | None = None) -> bool: ...

    def project_changes(
        self, revision: int, base_revision: int, changes: TrialView, *, replaces_below: int | None = None
    ) -> bool: ...


class ReadModelBehind(Exception):
    """The read model does not hold the revision a change was computed against (restored from a backup,
    say): the workflow sends the whole trial instead."""


class StockPort(Protocol):
    async def reserve(
        self, key: str, trial_id: str, piece_ids: list[str], skus: dict[str, str] | None = None
    ) -> list[str]:
        """Hold the units of these pieces for the trial. `skus` names the SKU of pieces that joined the trial
        after its order (an exchange's replacement), which the warehouse cannot look up by the order."""
        ...

    async def release(self, key: str, trial_id: str, piece_ids: list[str]) -> list[str]: ...

    async def write_off(self, key: str, trial_id: str, piece_ids: list[str]) -> list[str]:
        """The units left the warehouse and are gone (a parcel lost in transit): the reservation ends and
        they never return to stock. Answers the pieces written off."""
        ...


class Notifier(Protocol):
    async def send(self, notification: Notification) -> bool: ...


# ---------------------------------------------------------------------- the simulated gateway's own port
# Where the embedded gateway keeps the bank's side: in memory for pure tests, the engine's database when
# it runs (persistence.simulated_book).


@dataclass
class SimulatedAuthorization:
    id: str
    trial_id: str
    amount: int
    remaining: int
    currency: str
    expires_at: datetime
    state: str  # "authorized", "captured", "released"


@dataclass(frozen=True)
class GatewayOperation:
    """What a real gateway's dashboard would show: one row per call that moved or held money."""

    key: str
    kind: str
    trial_id: str
    amount: int
    approved: bool
    reference: str | None
    result: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


class GatewayBook(Protocol):
    """Where the simulated gateway keeps its state."""

    # True when calls wait on I/O (a database): the gateway then runs them off the event loop.
    blocking: bool

    def answers(self, key: str) -> list[GatewayOperation]:
        """Every call recorded under `key`, oldest first."""
        ...

    def record(self, op: GatewayOperation) -> None: ...

    def authorization(self, authorization_id: str) -> SimulatedAuthorization | None: ...

    def save(self, auth: SimulatedAuthorization) -> None: ...

    def authorizations(self, trial_id: str) -> list[SimulatedAuthorization]: ...

    def operations(self, trial_id: str | None = None) -> list[GatewayOperation]: ...


# ---------------------------------------------------------------------- the returns adapters' own ports
# Where the embedded returns provider keeps its labels, and the EasyPost adapter its progress: in memory for
# pure tests, the engine's database when it runs (persistence/return_labels.py).


@dataclass(frozen=True)
class StoredLabel:
    """A label (and, for a collection, its booked slot) as the embedded adapter keeps it."""

    key: str
    order_id: str
    kind: str
    carrier: str
    tracking_number: str
    # The label's link is /v1/return-labels/<token>: a capability the client opens without logging in.
    token: str
    pdf: bytes
    created_at: datetime
    slot_starts_at: datetime | None = None
    slot_ends_at: datetime | None = None


class LabelBook(Protocol):
    """Where the embedded adapter keeps labels: memory for pure tests, the engine's database when it runs
    (persistence/return_labels.py)."""

    blocking: bool

    def by_key(self, key: str) -> StoredLabel | None: ...

    def add(self, label: StoredLabel) -> StoredLabel:
        """Keep `label`; when one with its key exists already (a retry racing the first attempt), answer
        that one instead."""
        ...

    def by_token(self, token: str) -> StoredLabel | None: ...


@dataclass
class Progress:
    shipment_id: str | None = None
    pickup_id: str | None = None
    result: dict[str, Any] | None = None


class BookingProgress(Protocol):
    """How far the adapter got with a booking (persistence/return_labels.py keeps it in the database)."""

    blocking: bool

    def get(self, key: str) -> Progress: ...

    def put(self, key: str, progress: Progress) -> None: ...
