"""Drives a `Trial` without Temporal: steps are answered by the real simulated gateway and adapters."""

import asyncio
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from activities.fulfilment import InMemoryStock
from activities.notifications import RecordingNotifier
from activities.returns import InMemoryLabelBook, LocalReturns
from activities.simulated_gateway import SimulatedGateway
from activities.steps import kind_of
from domain.order import TrialOrder
from domain.policy import TrialPolicy
from domain.steps import Step, StepResult
from domain.trial import Trial
from domain.view import TrialView
from tests.gateways import StripeUnderTest

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Driver:
    def __init__(
        self,
        order: TrialOrder,
        policy: TrialPolicy | None = None,
        gateway: SimulatedGateway | StripeUnderTest | None = None,
        tells_the_client: bool = False,
        refunds_after_completion: bool = False,
        tells_the_journey: bool = False,
        notifier: Callable[["Driver"], RecordingNotifier] | None = None,
        start: datetime = T0,
    ) -> None:
        self.now = start
        self.gateway = gateway or SimulatedGateway()
        self.stock = InMemoryStock()
        self.notifier = notifier(self) if notifier else RecordingNotifier()
        self.labels = InMemoryLabelBook()
        labels = itertools.count(1)
        self.returns = LocalReturns(
            self.labels, "http://styletrial.test", now=lambda: self.now, token=lambda: f"label-{next(labels):04d}"
        )
        self.trial = Trial(order, policy or TrialPolicy(), self.now)
        self.trial.journal.tells_the_client = tells_the_client  # as the workflow sets it (patch client-messages)
        self.trial.refunds_after_completion = refunds_after_completion  # (patch refund-window)
        self.trial.journal.tells_the_journey = tells_the_journey  # (patches client-journey and return-journey)
        self.trial.returns.tells_returns = tells_the_journey
        self.settle()

    def settle(self) -> None:
        """What the workflow loop does between waits: tick, then run every requested step."""
        for _ in range(1000):
            self.trial.tick(self.now)
            step = self.trial.next_step(self.now)
            if step is None:
                return
            self.trial.begin(step)
            self.trial.record(step, asyncio.run(self._answer(step)), self.now)
        raise AssertionError("the trial kept asking for steps")

    def advance(self, delta: timedelta) -> None:
        """Move the clock, stopping at every deadline on the way as the workflow's timers would."""
        end = self.now + delta
        while True:
            deadline = self.trial.next_deadline(self.now)
            if deadline is None or deadline[0] > end:
                break
            self.now = deadline[0]
            self.settle()
        self.now = end
        self.settle()

    def clock(self) -> datetime:
        """Where the notifier runs, the driver's time (a message in the client's night waits)."""
        return self.now

    async def _answer(self, step: Step) -> StepResult:
        return await kind_of(step).call(self, step)


def view_changes(before: TrialView, after: TrialView) -> TrialView:
    """What the workflow sends the read model after a change (workflows/projection.py): the pieces that
    changed, the new events and movements, the trial's own fields whole."""
    was = {p.piece_id: p for p in before.pieces}
    return after.model_copy(
        update={
            "pieces": [p for p in after.pieces if was.get(p.piece_id) != p],
            "events": after.events[len(before.events) :],
            "movements": after.movements[len(before.movements) :],
        }
    )
