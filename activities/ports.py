"""The ports the activities depend on. Real adapters (Stripe, the database, a warehouse) implement these."""

from dataclasses import dataclass
from typing import Protocol

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


class StockPort(Protocol):
    async def reserve(self, key: str, trial_id: str, piece_ids: list[str]) -> list[str]: ...

    async def release(self, key: str, trial_id: str, piece_ids: list[str]) -> list[str]: ...


class Notifier(Protocol):
    async def send(self, notification: Notification) -> bool: ...
