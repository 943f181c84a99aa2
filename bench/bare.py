"""A bare workflow of the engine's shape, for comparison: the same input, the same updates with the same
command types and answers, and in each stage the same number of activities, local activities and timers as
the engine's own history shows for that stage (`Shape.of`), but with no domain, no read model, no search
attributes and activities that do nothing. What the engine costs beyond this is the price of its logic.
"""

import asyncio
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from domain import commands as cmd
    from domain.status import TrialStatus
    from domain.workflow_io import CommandOutcome, StartTrial

_TIMER = timedelta(days=7)
_TIMEOUT = timedelta(seconds=30)


class Stage(BaseModel):
    """What the engine did between one command's arrival and the next: the start is stage 0."""

    activities: int = 0
    local_activities: int = 0
    timers: int = 0


class Shape(BaseModel):
    stages: list[Stage]

    @classmethod
    def of(cls, history: WorkflowHistory) -> "Shape":
        """Read the stages off an engine trial's history, so the bare workflow follows the engine as it is."""
        stages = [Stage()]
        for e in history.events:
            kind = e.event_type
            if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
                stages.append(Stage())
            elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                stages[-1].activities += 1
            elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
                stages[-1].timers += 1
            elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
                marker = e.marker_recorded_event_attributes
                if "local_activity" in marker.marker_name:
                    stages[-1].local_activities += 1
        return cls(stages=stages)


class BareStart(BaseModel):
    start: StartTrial
    shape: Shape


@activity.defn(name="bare.noop")
async def noop(what: str) -> None:
    return None


@workflow.defn(name="BareTrial")
class BareTrial:
    @workflow.init
    def __init__(self, start: BareStart) -> None:
        self._shape = start.shape
        self._next = 0
        self._status = TrialStatus.AUTHORIZING
        self._timer: asyncio.Future[None] | None = None
        self._done = False

    @workflow.run
    async def run(self, start: BareStart) -> None:
        await self._stage()
        self._status = TrialStatus.AWAITING_DISPATCH
        await workflow.wait_condition(lambda: self._done or self._next >= len(self._shape.stages))
        if self._timer is not None:
            self._timer.cancel()
        await workflow.wait_condition(workflow.all_handlers_finished)

    async def _stage(self) -> None:
        stage = self._shape.stages[self._next] if self._next < len(self._shape.stages) else Stage()
        self._next += 1
        for n in range(stage.activities):
            await workflow.execute_activity(noop, f"step {n}", start_to_close_timeout=_TIMEOUT)
        for n in range(stage.local_activities):
            await workflow.execute_local_activity(noop, f"local {n}", start_to_close_timeout=_TIMEOUT)
        for _ in range(stage.timers):
            if self._timer is not None:
                self._timer.cancel()
            self._timer = asyncio.ensure_future(workflow.sleep(_TIMER))

    async def _answer(self, order_id: str) -> CommandOutcome:
        await self._stage()
        return CommandOutcome(order_id=order_id, status=self._status, revision=self._next)

    @workflow.query(name="status")
    def status(self) -> TrialStatus:
        return self._status

    @workflow.update(name="accepted")
    async def accepted(self) -> TrialStatus:
        """Answers once the start stage has run: a caller waits for acceptance without polling this worker."""
        await workflow.wait_condition(lambda: self._status != TrialStatus.AUTHORIZING)
        return self._status

    @workflow.update(name="dispatch")
    async def dispatch(self, c: cmd.Dispatch) -> CommandOutcome:
        self._status = TrialStatus.IN_TRANSIT
        return await self._answer("bare")

    @workflow.update(name="deliver")
    async def deliver(self, c: cmd.Delivery) -> CommandOutcome:
        self._status = TrialStatus.ON_TRIAL
        return await self._answer("bare")

    @workflow.update(name="decide")
    async def decide(self, c: cmd.Decisions) -> CommandOutcome:
        return await self._answer("bare")

    @workflow.update(name="finish_early")
    async def finish_early(self, c: cmd.FinishEarly) -> CommandOutcome:
        self._status = TrialStatus.AWAITING_RETURNS
        answer = await self._answer("bare")
        self._done = True
        return answer


def bare_worker(client: Client, task_queue: str, **options: Any) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[BareTrial], activities=[noop], **options)


async def _serve(queue: str, max_cached: int) -> None:
    """A bare worker in its own process, for bench_memory: `python -m bench.bare <queue> <max_cached>`."""
    from bootstrap import data_converter
    from config import Settings

    settings = Settings()
    client = await Client.connect(settings.temporal_address, data_converter=data_converter(settings))
    async with bare_worker(client, queue, max_cached_workflows=max_cached):
        await asyncio.Event().wait()


if __name__ == "__main__":
    import sys

    asyncio.run(_serve(sys.argv[1], int(sys.argv[2])))
