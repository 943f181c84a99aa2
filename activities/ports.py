"""The ports the activities depend on. Real adapters (Stripe, the database, a warehouse) implement these."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from domain.steps import (
    AuthorizationResult,
    AuthorizeRequest,
    CaptureRequest,
    ChargeRequest,
    Notification,
    PaymentResult,
    ReleaseRequest,
    ReleaseResult,
)
from domain.view import TrialView
from persistence.store import LedgerEntry


class TransientGatewayError(Exception):
    """Network trouble, a 5xx or a rate limit: safe to retry because every call has an idempotency key."""


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

    async def lookup(self, key: str) -> AuthorizationResult | PaymentResult | ReleaseResult | None:
        """What the gateway did under `key`, if anything (Stripe: a PaymentIntent's metadata). Used when
        an earlier attempt may have reached the gateway but died before the ledger heard the answer."""
        ...


class Ledger(Protocol):
    """The engine's own record of money movements, unique by idempotency key (persistence.store)."""

    def begin_movement(
        self, *, key: str, trial_id: str, kind: str, amount: int, currency: str, settlement: int | None = None
    ) -> "LedgerEntry": ...

    def complete_movement(
        self, *, key: str, status: str, amount: int, result: dict[str, Any], reference: str | None = None,
        expires_at: datetime | None = None, decline_code: str | None = None,
    ) -> None: ...  # fmt: skip


class ReadModel(Protocol):
    def project(self, revision: int, view: TrialView) -> bool: ...


class StockPort(Protocol):
    async def reserve(self, key: str, trial_id: str, piece_ids: list[str]) -> list[str]: ...

    async def release(self, key: str, trial_id: str, piece_ids: list[str]) -> list[str]: ...


class Notifier(Protocol):
    async def send(self, notification: Notification) -> bool: ...
