"""Which activity carries out each request the trial makes: the one table of step kinds.

The workflow runs a row's `activity` and labels it in the Temporal UI with its `summary`; the domain's
test driver and benchmark answer a request with the row's `call` straight on the ports (gateway, stock,
notifier, returns), without Temporal or the ledger. The aggregate's own table (`domain.trial._RECORDERS`) says
which answer each request takes.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from activities.fulfilment import FulfilmentActivities, move_stock
from activities.notifications import NotificationActivities, deliver
from activities.payments import PaymentActivities
from activities.ports import Notifier, PaymentGateway, StockPort
from activities.returns import ReturnsActivities, ReturnsProvider
from domain.steps import (
    AuthorizeRequest,
    CaptureRequest,
    ChargeRequest,
    Notification,
    NotificationResult,
    RefundRequest,
    ReleaseRequest,
    ReturnBookingRequest,
    Step,
    StepResult,
    StockRequest,
    StockResult,
)

Money = Callable[[int], str]


class Ports(Protocol):
    @property
    def gateway(self) -> PaymentGateway: ...
    @property
    def stock(self) -> StockPort: ...
    @property
    def notifier(self) -> Notifier: ...
    @property
    def returns(self) -> ReturnsProvider: ...
    # The time where the notifier runs: a message in the client's night waits for their day.
    def clock(self) -> datetime: ...


@dataclass(frozen=True)
class StepKind:
    activity: Callable[..., Awaitable[Any]]
    summary: Callable[[Any, Money], str]
    call: Callable[[Ports, Any], Awaitable[StepResult]]


async def _stock(ports: Ports, step: StockRequest) -> StockResult:
    return StockResult(piece_ids=await move_stock(ports.stock, step))


async def _notify(ports: Ports, step: Notification) -> NotificationResult:
    return await deliver(ports.notifier, step, ports.clock())


def _authorize_summary(step: AuthorizeRequest, money: Money) -> str:
    return f"{'Re-authorize' if step.merchant_initiated else 'Authorize'} {money(step.amount)}"


STEP_KINDS: dict[type, StepKind] = {
    AuthorizeRequest: StepKind(
        PaymentActivities.authorize, _authorize_summary, lambda ports, step: ports.gateway.authorize(step)
    ),
    CaptureRequest: StepKind(
        PaymentActivities.capture,
        lambda step, money: f"Capture {money(step.amount)} (settlement {step.settlement})",
        lambda ports, step: ports.gateway.capture(step),
    ),
    ChargeRequest: StepKind(
        PaymentActivities.charge,
        lambda step, money: f"Charge {money(step.amount)} off-session (settlement {step.settlement})",
        lambda ports, step: ports.gateway.charge(step),
    ),
    ReleaseRequest: StepKind(
        PaymentActivities.release,
        lambda step, money: "Release what is left of the authorization",
        lambda ports, step: ports.gateway.release(step),
    ),
    RefundRequest: StepKind(
        PaymentActivities.refund,
        lambda step, money: f"Refund {money(step.amount)} for piece {step.piece_id}",
        lambda ports, step: ports.gateway.refund(step),
    ),
    StockRequest: StepKind(
        FulfilmentActivities.stock,
        lambda step, money: f"{step.action.replace('_', ' ').capitalize()} stock for {len(step.piece_ids)} piece(s)",
        _stock,
    ),
    Notification: StepKind(
        NotificationActivities.send,
        lambda step, money: f"Notify {' and '.join(step.audience)}: {step.kind.value.replace('_', ' ')}",
        _notify,
    ),
    ReturnBookingRequest: StepKind(
        ReturnsActivities.book,
        lambda step, money: f"Book a return {step.kind} for {len(step.piece_ids)} piece(s)",
        lambda ports, step: ports.returns.book(step),
    ),
}


def kind_of(step: Step) -> StepKind:
    return STEP_KINDS[type(step)]
