"""Builders and a small harness shared by the workflow tests."""

import asyncio
import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.worker import Replayer

from activities.fulfilment import InMemoryStock
from activities.notifications import RecordingNotifier
from bootstrap import Adapters
from domain import commands as cmd
from domain.examples import parcels
from domain.order import TrialOrder
from domain.policy import TrialPolicy
from domain.view import TrialView
from domain.workflow_io import StartTrial
from tests.waiting import eventually
from workflows.style_trial import Answer, StyleTrialWorkflow

STAFF = "cr.amelia"
_CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
}
_AT_REST = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_TIMER_STARTED,
    EventType.EVENT_TYPE_MARKER_RECORDED,  # the report's, after the timer since `timer-before-report`
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
}


async def real_clock_only(_: timedelta) -> None:
    """The `sleep` of a Harness on a server that does not skip time: a test there must never ask to."""
    raise AssertionError("this test runs on the real clock")


class TrialUnderTest:
    def __init__(self, handle: WorkflowHandle[Any, Any], harness: "Harness") -> None:
        self.handle = handle
        self.harness = harness

    @property
    def trial_id(self) -> str:
        return self.handle.id

    async def view(self) -> TrialView:
        return await self.handle.query(StyleTrialWorkflow.view)

    async def send(self, update: str, arg: Any) -> TrialView:
        """Run the command; the trial as it stands after it (the answer is small: see CommandOutcome)."""
        answer = await self.handle.execute_update(update, arg, result_type=Answer)  # type: ignore[call-overload]
        return answer if isinstance(answer, TrialView) else await self.view()

    async def refused(self, update: str, arg: Any) -> str:
        """Send a command that must be refused; return its error code after checking nothing changed."""
        before = await self.view()
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await self.handle.execute_update(update, arg)
        cause = info.value.cause
        assert isinstance(cause, ApplicationError), cause
        assert cause.message, "a refusal must carry a sentence"
        after = await self.view()
        assert after == before, "a refused command changed the trial"
        assert cause.type is not None
        return cause.type

    async def wait_for(self, predicate: Callable[[TrialView], bool], what: str = "condition") -> TrialView:
        """Poll the query until `predicate` holds (activities run in real time even when timers skip)."""

        async def met() -> TrialView | None:
            view = await self.view()
            return view if predicate(view) else None

        return await eventually(met, what, seconds=15, every=0.05)

    async def wait_status(self, status: str) -> TrialView:
        return await self.wait_for(lambda v: v.status == status, f"status {status}")

    async def advance(self, duration: timedelta) -> None:
        await self.harness.sleep(duration)

    async def deliver_all(self, at: datetime | None = None) -> TrialView:
        view = await self.view()
        for p in view.parcels:
            if p.delivered_at is None:
                view = await self.send("deliver", cmd.Delivery(tracking_number=p.tracking_number, delivered_at=at))
        return view

    async def result(self) -> TrialView:
        result: TrialView = await self.handle.result()
        return result


class Harness:
    """A worker with the embedded adapters on a fresh task queue, plus a way to start trials on it."""

    def __init__(self, client: Client, task_queue: str, adapters: Adapters, sleep: Callable[[timedelta], Any]) -> None:
        self.client = client
        self.task_queue = task_queue
        self.adapters = adapters
        self.sleep = sleep
        assert isinstance(adapters.notifier, RecordingNotifier) and isinstance(adapters.stock, InMemoryStock)
        self.notifier: RecordingNotifier = adapters.notifier
        self.stock: InMemoryStock = adapters.stock
        self.started: list[WorkflowHandle[Any, Any]] = []

    async def terminate_running(self) -> None:
        """A trial left running with no worker would lock the time-skipping server's clock for the next
        test (its timers fire, and the server waits for a workflow task nobody will take). Terminating one
        whose workflow task or activity is still in flight leaks that lock too, so wait until it rests."""
        for handle in self.started:
            for _ in range(100):
                # From the history, not describe(): the Java test server encodes datetime search
                # attributes in a form describe() cannot decode.
                events = (await handle.fetch_history()).events
                if events and events[-1].event_type in _CLOSED:
                    break
                if events and events[-1].event_type in _AT_REST:
                    await handle.terminate("test finished")
                    break
                await asyncio.sleep(0.05)

    async def start(self, trial_order: TrialOrder, policy: TrialPolicy | None = None) -> TrialUnderTest:
        handle = await self.client.start_workflow(
            StyleTrialWorkflow.run,
            # At any hour: the client's daytime would make a test depend on when it runs (tests/conftest.py).
            StartTrial(order=trial_order, policy=policy or TrialPolicy(client_daytime=None)),
            id=f"style-trial-{trial_order.order_id}",
            task_queue=self.task_queue,
        )
        self.started.append(handle)
        return TrialUnderTest(handle, self)

    async def start_accepted(self, trial_order: TrialOrder, policy: TrialPolicy | None = None) -> TrialUnderTest:
        trial = await self.start(trial_order, policy)
        await trial.wait_for(lambda v: v.status == "AWAITING_DISPATCH" and v.accepted_at is not None, "acceptance")
        return trial

    async def start_on_trial(
        self, trial_order: TrialOrder, groups: Sequence[Sequence[str]] | None = None, policy: TrialPolicy | None = None
    ) -> TrialUnderTest:
        trial = await self.start_accepted(trial_order, policy)
        ids = [p.piece_id for p in trial_order.pieces]
        await trial.send("dispatch", parcels(groups or [ids]))
        await trial.deliver_all()
        await trial.wait_status("ON_TRIAL")
        return trial


async def register_search_attributes(client: Client) -> None:
    """The time-skipping server has no start flag for them: register through the operator service.
    (An unregistered attribute would make every workflow task fail.)"""
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest

    from workflows import search_attributes

    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={key.name: int(key.indexed_value_type) for key in search_attributes.ALL},  # type: ignore[misc]
        )
    )


def activities_run(history: Any) -> list[str]:
    """The activity types a history ran, in order: regular activities (scheduled events) and local ones
    (markers, which record the result and the activity's type but not its input)."""
    kinds = []
    for e in history.events:
        if e.HasField("activity_task_scheduled_event_attributes"):
            kinds.append(e.activity_task_scheduled_event_attributes.activity_type.name)
        elif (
            e.HasField("marker_recorded_event_attributes")
            and "local_activity" in e.marker_recorded_event_attributes.marker_name
        ):
            data = e.marker_recorded_event_attributes.details["data"].payloads[0].data
            kinds.append(json.loads(data)["activity_type"])
    return kinds


async def assert_ran_clean_and_replays(history: WorkflowHistory, converter: DataConverter) -> None:
    """Every workflow task of the trial succeeded, and its history replays on today's code."""
    failed = [
        e.workflow_task_failed_event_attributes.failure.message
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    ]
    assert not failed, failed
    replay = await Replayer(workflows=[StyleTrialWorkflow], data_converter=converter).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert replay.replay_failure is None, replay.replay_failure
