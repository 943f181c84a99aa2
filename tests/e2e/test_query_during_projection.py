"""A query answered while the read model's report (a local activity) runs, with an update arriving meanwhile.

The SDK (temporalio 1.35, its core) can hand the workflow a local activity's result one task *after* the
task that recorded it: when the worker answers a query attached to that task while the activity finishes,
it completes the task with the activity's marker and the query's answer, and asks the server for another
task, in which the workflow then receives the result. Any later replay receives the result in the first
task. A command the workflow makes right after the result is then ordered after an update that arrived in
between the first time, and before it on every replay: the trial fails every workflow task from then on
(`TMPRL1100 Timer machine does not handle this event: WorkflowExecutionUpdateAccepted`). The CI's small
fault campaign hit it once (docs/durability.md, "A query answered while the projection ran").

Since `timer-before-report` the workflow makes every command of a round (its deadline timer) before the
report, and none after it. This test makes the race happen on purpose, in one process, on the real dev
server:

1. a trial waits for dispatch; its dispatch SLA timer fires and the trial sends staff a notice (an
   activity, held by the test);
2. the only workflow worker is shut down, the notice is let through, and the task that will receive its
   result (and run the report) waits for a worker;
3. a query is sent, which the server attaches to that task;
4. a new workflow worker takes the task: it runs the report, and answers the query slowly (1 s, an
   interceptor); while it does, the report finishes and the test sends an update (the dispatch);
5. the update arrives in the task the worker asks for after it, with the report's result.

The trial must carry on with no workflow task failing, and its history must replay. With the timer after
the report (the patch's old path), the replay fails as the campaign's trial did (tried: 3 runs of 3).
"""

import asyncio
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import (
    HandleQueryInput,
    Interceptor,
    UnsandboxedWorkflowRunner,
    Worker,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from activities.fulfilment import InMemoryStock
from activities.notifications import RecordingNotifier
from activities.read_model import ReadModelActivities
from activities.simulated_gateway import SimulatedGateway
from bootstrap import Adapters, activities_of
from domain.examples import order, parcels
from domain.policy import TrialPolicy
from domain.steps import Notification
from domain.workflow_io import StartTrial
from persistence.store import SqlStore
from tests.support import assert_ran_clean_and_replays
from tests.waiting import eventually
from workflows.style_trial import StyleTrialWorkflow

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(120)]

QUERY_TAKES = 1.0  # seconds the slow worker spends answering a query: the report finishes meanwhile


class HeldNotifier(RecordingNotifier):
    """Holds every message sent after `hold()` until `let_through()`."""

    def __init__(self) -> None:
        super().__init__()
        self.held = asyncio.Event()
        self._gate: asyncio.Event | None = None

    def hold(self) -> None:
        self._gate = asyncio.Event()

    def let_through(self) -> None:
        assert self._gate is not None
        self._gate.set()

    async def send(self, notification: Notification) -> bool:
        if self._gate is not None:
            self.held.set()
            await self._gate.wait()
        return await super().send(notification)


class SlowQueries(Interceptor):
    """Answers each query `QUERY_TAKES` late, in the workflow's thread (the worker's event loop, where the
    local activity runs, goes on); `answering` is set when the first query begins."""

    def __init__(self) -> None:
        self.answering = threading.Event()

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        answering = self.answering

        class Inbound(WorkflowInboundInterceptor):
            def handle_query(self, input: HandleQueryInput) -> Any:
                answering.set()
                end = time.monotonic() + QUERY_TAKES
                while time.monotonic() < end:
                    pass
                return super().handle_query(input)

        return Inbound


def _workflow_worker(env: WorkflowEnvironment, queue: str, store: SqlStore, **extra: Any) -> Worker:
    """Trials and their local activities (the report) only: the other activities run elsewhere."""
    read_model = ReadModelActivities(store)
    return Worker(
        env.client, task_queue=queue, workflows=[StyleTrialWorkflow],
        activities=[read_model.project, read_model.project_changes], no_remote_activities=True,
        workflow_runner=UnsandboxedWorkflowRunner(), **extra,
    )  # fmt: skip


async def _events(handle: WorkflowHandle[Any, Any]) -> list[Any]:
    return list((await handle.fetch_history()).events)


async def _wait_for_event(handle: WorkflowHandle[Any, Any], kind: "EventType.ValueType", after: int = 0) -> int:
    async def seen() -> int | None:
        return next((e.event_id for e in await _events(handle) if e.event_type == kind and e.event_id > after), None)

    found: int = await eventually(seen, f"event {EventType.Name(kind)} after {after}", seconds=30, every=0.1)
    return found


async def test_an_update_that_arrives_while_a_query_is_answered_during_the_report_replays(
    dev_env: WorkflowEnvironment, store: SqlStore
) -> None:
    queue = f"tq-{uuid.uuid4()}"
    notifier = HeldNotifier()
    adapters = Adapters(store=store, gateway=SimulatedGateway(), stock=InMemoryStock(), notifier=notifier)
    the_rest = Worker(dev_env.client, task_queue=queue, activities=activities_of(adapters))
    first = _workflow_worker(dev_env, queue, store)
    slow = SlowQueries()
    the_order = order(order_id=f"race-{uuid.uuid4().hex[:8]}", n=2)
    policy = TrialPolicy(client_daytime=None, dispatch_sla=timedelta(seconds=4))
    async with the_rest:
        first_run = asyncio.create_task(first.run())
        handle = await dev_env.client.start_workflow(
            StyleTrialWorkflow.run, StartTrial(order=the_order, policy=policy),
            id=f"style-trial-{the_order.order_id}", task_queue=queue,
        )  # fmt: skip
        try:
            # 1. The trial is open and sleeping until its dispatch SLA; the notice it then sends is held.
            await _wait_for_event(handle, EventType.EVENT_TYPE_TIMER_STARTED)
            notifier.hold()
            await asyncio.wait_for(notifier.held.wait(), 30)
            # 2. No workflow worker while the notice's result waits for its task.
            await first.shutdown()
            await first_run
            held_since = (await _events(handle))[-1].event_id
            notifier.let_through()
            done = await _wait_for_event(handle, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, after=held_since)
            await _wait_for_event(handle, EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, after=done)
            # 3. A query now is buffered by the server and handed over with that task.
            query = asyncio.create_task(handle.query(StyleTrialWorkflow.view))
            await asyncio.sleep(1.0)
            # (One workflow worker per task queue in a process: the second is made once the first is gone.)
            async with _workflow_worker(dev_env, queue, store, interceptors=[slow]):
                # 4. The second worker takes the task, reports, and answers the query slowly; meanwhile
                # the dispatch arrives.
                while not slow.answering.is_set():  # set in the workflow's thread
                    await asyncio.sleep(0.01)
                dispatched = await handle.execute_update(
                    "dispatch", parcels([[p.piece_id for p in the_order.pieces]]), result_type=object
                )
                assert dispatched is not None
                await query
                view = await handle.query(StyleTrialWorkflow.view)
                assert view.status == "IN_TRANSIT"
        finally:
            await handle.terminate("test finished")
    history = await handle.fetch_history()
    # The race happened: the dispatch was accepted in the task right after the one that ran the report.
    kinds = [e.event_type for e in history.events]
    accepted = kinds.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
    task_before = max(i for i in range(accepted - 3) if kinds[i] == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    assert EventType.EVENT_TYPE_MARKER_RECORDED in kinds[task_before:accepted], "the race did not happen"
    await assert_ran_clean_and_replays(history, pydantic_data_converter)
