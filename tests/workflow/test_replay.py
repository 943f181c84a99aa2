"""Trials that started on earlier code must replay on this code: a non-deterministic change fails here.

A change that breaks this test needs `workflow.patched` (see docs/architecture.md, "Changing the workflow").
"""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.style_trial import StyleTrialWorkflow

HISTORIES = sorted((Path(__file__).parents[1] / "histories").glob("*.json"))


def test_there_are_recorded_histories_to_replay():
    # One set per era of the workflow: v1 predates the read-model projection, v2 the search attributes,
    # v3 the history clock, v4 Temporal cancellation as a command, v5 the projection of changes only, v6 the
    # kept deadline timer and the projection as a local activity, v7 the messages to the client, v8 the
    # refund window, v9 the client's journey, v10 the return's journey, v11 trials that wait for staff (each replays through its patch); the unprefixed set is the
    # current code.
    eras = ("v1_", "v2_", "v3_", "v4_", "v5_", "v6_", "v7_", "v8_", "v9_", "v10_", "v11_")
    for era in eras:
        assert len([p for p in HISTORIES if p.stem.startswith(era)]) >= 4, era
    assert len([p for p in HISTORIES if not p.stem.startswith(eras)]) >= 4


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_trial_replays_on_current_code(path: Path):
    history = WorkflowHistory.from_json(f"style-trial-{path.stem}", path.read_text())
    assert history.events, "empty history"
    replayer = Replayer(workflows=[StyleTrialWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
