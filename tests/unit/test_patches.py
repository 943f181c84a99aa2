"""What the patch report reads from a history: the markers of the patches a trial took, from the committed
histories of each era (each era predates one more patch)."""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from application.patches import PATCHES, recorded_patches

HISTORIES = Path(__file__).parents[1] / "histories"
# Each era's histories were recorded before the patch named, and after every patch before it.
ERAS = [("v1_before_read_model", 0), ("v2_before_search_attributes", 1), ("v3_before_history_clock", 2),
        ("v4_before_cancel_request", 3), ("v5_before_lean_projection", 4), ("v6_before_lean_events", 5),
        ("v7_before_client_messages", 6), ("v8_before_refund_window", 7), ("v9_before_client_journey", 8), ("v10_before_return_journey", 9), ("v11_before_attention_keeps_open", 10)]  # fmt: skip


def _events(path: Path) -> list:  # type: ignore[type-arg]
    return list(WorkflowHistory.from_json("style-trial-x", path.read_text()).events)


@pytest.mark.parametrize(("era", "taken"), ERAS, ids=[e for e, _ in ERAS])
def test_a_trial_of_each_era_took_the_patches_before_it_and_none_after(era: str, taken: int):
    [path, *_] = sorted(HISTORIES.glob(f"{era}_*full_lifecycle.json"))
    assert recorded_patches(_events(path)) == set(PATCHES[:taken])


def test_a_trial_on_the_current_code_took_every_patch():
    assert recorded_patches(_events(HISTORIES / "full_lifecycle.json")) == set(PATCHES)
