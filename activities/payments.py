"""Payment activities: thin, idempotent wrappers around the payment port."""

from collections.abc import Awaitable
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.ports import PaymentGateway
from domain.steps import (
    AuthorizationResult,
    AuthorizeRequest,
    CaptureRequest,
    ChargeRequest,
    PaymentResult,
    ReleaseRequest,
    ReleaseResult,
)

T = TypeVar("T")


class PaymentActivities:
    """Declines come back as results (they drive business decisions); transient errors raise and are
    retried by Temporal; an invalid request is a bug and fails without retry."""

    def __init__(self, gateway: PaymentGateway) -> None:
        self._gateway = gateway

    @activity.defn(name="payments.authorize")
    async def authorize(self, req: AuthorizeRequest) -> AuthorizationResult:
        return await _guard(self._gateway.authorize(req))

    @activity.defn(name="payments.capture")
    async def capture(self, req: CaptureRequest) -> PaymentResult:
        return await _guard(self._gateway.capture(req))

    @activity.defn(name="payments.charge")
    async def charge(self, req: ChargeRequest) -> PaymentResult:
        return await _guard(self._gateway.charge(req))

    @activity.defn(name="payments.release")
    async def release(self, req: ReleaseRequest) -> ReleaseResult:
        return await _guard(self._gateway.release(req))


async def _guard(call: Awaitable[T]) -> T:
    try:
        return await call
    except ValueError as err:
        raise ApplicationError(str(err), type="invalid_payment_request", non_retryable=True) from err
