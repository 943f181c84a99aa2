"""The histories that a worker failover left stuck before the history clock, and how they are recovered.

They were recorded by the fault campaign on the code before the fix (two workers SIGKILLed in turn, the UI's
queries answered meanwhile); each diverges right after a workflow task that timed out on a dead worker's
sticky queue (docs/durability.md). They stay committed as the record of the failure, and as the input of
the recovery procedure: find the first bad event, reset to the last workflow task that completed before it.
"""

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from application.recovery import diagnose
from security.codec import codec_from
from workflows.style_trial import StyleTrialWorkflow

HERE = Path(__file__).parents[1] / "histories" / "failover"
# The events at which each fails replay, as the campaign recorded them.
FAILS_AT = {
    "style-trial-rel-0047-86a1bf": 382,
    "style-trial-rel-0053-744e6a": 161,
    "style-trial-rel-0098-fa8cf8": 392,
    "style-trial-rel-0113-23475f": 357,
    # Found by `make soak` itself, run on the old clock (the fault campaign's own baseline); its own key.
    "style-trial-soak7s-f57aed03ae": 187,
    # Found by `make soak` on the history clock alone: a command that came with the delayed task was
    # ordered after what the query's replay had decided (the ordering variant; see docs/durability.md).
    "style-trial-soak1s-f2f767ed3a": 240,
    # Found by the CI fault campaign with the history clock and the history-length check: a timer fired, a
    # query reached the worker that held the trial before the timer's task did, its activation scheduled
    # the activity the deadline called for, and the update that came with the real task was accepted after
    # it (see `_require_a_later_task`). The same worker ran both tasks: no failover this time.
    "style-trial-soak11s-1528c07dd8": 34,
}
SAME_WORKER = {"style-trial-soak11s-1528c07dd8"}


def _converter(name: str) -> Any:
    # Each run's throwaway dev key: <history>.keys.json where the history has its own, else the shared one.
    own = HERE / f"{name}.keys.json"
    keys = json.loads((own if own.exists() else HERE / "throwaway-codec-keys.json").read_text())
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec_from(keys["keys"], keys["active"]))


def _history(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, (HERE / f"{name}.json").read_text())


@pytest.mark.parametrize("name", sorted(FAILS_AT))
async def test_a_failover_history_is_diagnosed_and_its_reset_point_replays(name: str):
    history = _history(name)
    found = await diagnose(history, [StyleTrialWorkflow], _converter(name))
    assert found.problem == "its history no longer replays on this code"
    assert found.bad_event == FAILS_AT[name]
    events = {e.event_id: e for e in history.events}
    assert found.reset_to is not None
    assert events[found.reset_to].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    # The bad command came from the task that completed at the reset point: for the failovers, the first
    # one a new worker ran after the trial's own worker died.
    started = events[found.reset_to].workflow_task_completed_event_attributes.started_event_id
    workers = [
        e.workflow_task_started_event_attributes.identity
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED and e.event_id <= started
    ]
    assert (workers[-1] == workers[-2]) == (name in SAME_WORKER)
    # Everything up to the reset point replays on today's code: the reset run starts from a good prefix.
    prefix = WorkflowHistory(history.workflow_id, [e for e in history.events if e.event_id <= found.reset_to])
    replay = await Replayer(workflows=[StyleTrialWorkflow], data_converter=_converter(name)).replay_workflow(
        prefix, raise_on_replay_failure=False
    )
    assert replay.replay_failure is None, replay.replay_failure


# Found by `make soak` on 2 Dec 2026 (Stripe adapter, seed 2). A worker ran the trial's tasks up to event 95,
# then lost it to another worker when the Temporal server restarted, and kept its run in cache. 38 s later
# the other worker died and the stale worker got the trial's next task with the whole history. Its cached
# run caught up over events the other worker had decided and failed the task (TMPRL1100 at event 99, an
# update the other worker had accepted). The retry, on a worker with nothing cached, replayed the history
# from the start and the trial completed with its money right. docs/durability.md has the timeline.
SELF_HEALED = "style-trial-soak2s-f6f026ec60"


async def test_a_task_a_stale_cache_failed_leaves_a_history_that_replays_whole_and_needs_no_recovery():
    history = _history(SELF_HEALED)
    found = await diagnose(history, [StyleTrialWorkflow], _converter(SELF_HEALED))
    assert found.problem is None, found.describe()
    failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
    assert len(failed) == 1 and "TMPRL1100" in failed[0].workflow_task_failed_event_attributes.failure.message
    assert list(history.events)[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
