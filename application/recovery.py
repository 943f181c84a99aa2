"""Recover a trial whose workflow task keeps failing: find the last good workflow task and reset to it.

Two kinds of trial get stuck this way:
- its history no longer replays on the deployed code (TMPRL1100, non-determinism): the failover bug
  that the history clock fixed left such histories behind (docs/durability.md);
- an activity failed for good (a bug, not a decline), and every retry of the task fails on it again.

Either way the history holds a first bad event: the command the code would no longer make, or the activity
that failed. Resetting to the last workflow task that completed *before* it discards that event and what
followed, and runs the task again on the deployed code. Nothing is lost or moved twice: every payment,
stock and notification call carries an idempotency key, so a call made again gets its first answer from the
gateway and the ledger; commands accepted after the reset point are re-applied by Temporal's reset.
"""

import re
import uuid
from dataclasses import dataclass
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from workflows.style_trial import ACTIVITY_FAILED_FOR_GOOD

_NDE_EVENT = re.compile(r"HistoryEvent\(id: (\d+)")


@dataclass(frozen=True)
class Diagnosis:
    trial_id: str
    problem: str | None  # None: nothing to recover
    bad_event: int | None = None
    reset_to: int | None = None  # a WORKFLOW_TASK_COMPLETED event id

    def describe(self) -> str:
        if self.problem is None:
            return f"{self.trial_id}: its history replays and no activity failed for good; nothing to recover."
        return (
            f"{self.trial_id}: {self.problem} (event {self.bad_event}). Reset to workflow task {self.reset_to}, "
            "the last one that completed before it."
        )


async def diagnose(history: WorkflowHistory, workflows: list[type[Any]], data_converter: Any) -> Diagnosis:
    """Replay `history` on `workflows` and find the first bad event, if any."""
    result = await Replayer(workflows=workflows, data_converter=data_converter).replay_workflow(
        history, raise_on_replay_failure=False
    )
    events = list(history.events)
    if result.replay_failure is not None:
        found = _NDE_EVENT.search(str(result.replay_failure))
        if found is None:
            return Diagnosis(history.workflow_id, f"replay fails: {str(result.replay_failure)[:200]}")
        bad = int(found.group(1))
        return _reset_before(history.workflow_id, events, bad, "its history no longer replays on this code")
    if not _task_failing(events):
        return Diagnosis(history.workflow_id, None)
    failed = [e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED]
    if failed:
        scheduled = failed[-1].activity_task_failed_event_attributes.scheduled_event_id
        return _reset_before(history.workflow_id, events, scheduled, "an activity failed for good")
    # A local activity (the read-model projection) fails inside the workflow task and leaves no event: the
    # task's own failure names it. Resetting to the task before runs it again at once on the fixed worker.
    task = [e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED][-1]
    if task.workflow_task_failed_event_attributes.failure.message.startswith(ACTIVITY_FAILED_FOR_GOOD):
        return _reset_before(history.workflow_id, events, task.event_id, "an activity failed for good")
    return Diagnosis(history.workflow_id, None)


def _task_failing(events: list[HistoryEvent]) -> bool:
    """True when the last workflow task to finish failed (or the server holds failing retries unwritten)."""
    finished = [
        e for e in events
        if e.event_type in (EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)
    ]  # fmt: skip
    return bool(finished) and finished[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED


def _reset_before(trial_id: str, events: list[HistoryEvent], bad: int, problem: str) -> Diagnosis:
    completed = [
        e.event_id for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and e.event_id < bad
    ]
    return Diagnosis(trial_id, problem, bad, completed[-1] if completed else None)


async def reset(client: Client, diagnosis: Diagnosis, reason: str) -> str:
    """Reset the trial's current run to `diagnosis.reset_to`; returns the new run's id."""
    assert diagnosis.reset_to is not None, "nothing to reset to"
    response = await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=diagnosis.trial_id),
            reason=reason,
            workflow_task_finish_event_id=diagnosis.reset_to,
            request_id=str(uuid.uuid4()),
        )
    )
    return str(response.run_id)
