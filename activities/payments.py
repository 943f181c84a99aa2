"""Payment activities: the ledger first, then the gateway, then the ledger again.

1. Claim the idempotency key in the engine's ledger (a `pending` row).
2. If the row was already complete, return the recorded answer: the gateway is not called again.
3. If an earlier attempt left it pending, it may have reached the gateway before dying: ask the gateway
   what happened under this key, and only call it if nothing did.
4. Call the gateway, then record its answer.

So a retried settlement never moves money twice, even through a gateway that ignores idempotency keys.
Declines come back as results (they drive dunning); transient errors raise and Temporal retries them; an
invalid request is a bug and fails without retry.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.ports import AnyRequest, InvalidPaymentRequest, Ledger, PaymentGateway
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

R = TypeVar("R", AuthorizationResult, PaymentResult, ReleaseResult, RefundResult)


class PaymentActivities:
    def __init__(self, gateway: PaymentGateway, ledger: Ledger) -> None:
        self._gateway = gateway
        self._ledger = ledger

    @activity.defn(name="payments.authorize")
    async def authorize(self, req: AuthorizeRequest) -> AuthorizationResult:
        return await self._once(
            req, "authorization", req.amount, None, AuthorizationResult, lambda: self._gateway.authorize(req)
        )

    @activity.defn(name="payments.capture")
    async def capture(self, req: CaptureRequest) -> PaymentResult:
        return await self._once(
            req, "capture", req.amount, req.settlement, PaymentResult, lambda: self._gateway.capture(req)
        )

    @activity.defn(name="payments.charge")
    async def charge(self, req: ChargeRequest) -> PaymentResult:
        return await self._once(
            req, "charge", req.amount, req.settlement, PaymentResult, lambda: self._gateway.charge(req)
        )

    @activity.defn(name="payments.release")
    async def release(self, req: ReleaseRequest) -> ReleaseResult:
        # The amount released is whatever the hold still had; the ledger learns it from the answer.
        return await self._once(req, "release", 0, None, ReleaseResult, lambda: self._gateway.release(req))

    @activity.defn(name="payments.refund")
    async def refund(self, req: RefundRequest) -> RefundResult:
        return await self._once(
            req, "refund", req.amount, req.settlement, RefundResult, lambda: self._gateway.refund(req)
        )

    async def _once(
        self, req: AnyRequest, kind: str, amount: int, settlement: int | None, result_type: type[R],
        call: Callable[[], Awaitable[R]],
    ) -> R:  # fmt: skip
        key = req.key
        entry = await asyncio.to_thread(
            self._ledger.begin_movement, key=key, trial_id=req.trial_id, kind=kind, amount=amount,
            currency=req.currency, settlement=settlement,
        )  # fmt: skip
        if entry.status != "pending":
            assert entry.result is not None
            return result_type.model_validate(entry.result)
        result: R | None = None
        if not entry.created:
            found = await self._gateway.lookup(req)
            result = found if isinstance(found, result_type) else None
        if result is None:
            try:
                result = await call()
            except InvalidPaymentRequest as err:
                raise ApplicationError(str(err), type="invalid_payment_request", non_retryable=True) from err
        await asyncio.to_thread(self._record, key, amount, result)
        return result

    def _record(self, key: str, amount: int, result: BaseModel) -> None:
        approved = getattr(result, "approved", True)
        moved = result.released if isinstance(result, ReleaseResult) else amount
        self._ledger.complete_movement(
            key=key, status="succeeded" if approved else "declined", amount=moved,
            result=result.model_dump(mode="json"), reference=getattr(result, "reference", None) or getattr(result, "authorization_id", None),
            expires_at=getattr(result, "expires_at", None), decline_code=getattr(result, "decline_code", None),
        )  # fmt: skip
