"""Which open trials still run the old path of each `workflow.patched` id: what decides when a patch may be
deprecated and then removed (docs/architecture.md, "Retiring a patch").

A trial records a patch's marker (`core_patch`, its id in the details) the first time its code asks
`workflow.patched(id)` outside a replay, and asks it for the rest of its run with the same answer. A trial
started before the patch existed asked while replaying a history without the marker: it keeps the old path,
and its history never gets the marker. So an open trial whose history lacks a patch's marker is on that
patch's old path, with one exception: a trial so young that it has not reached the patch's first call yet
(every patch is first asked in the trial's first workflow tasks). Such a trial is counted until it does,
which errs on the safe side: a patch is retired only when the count is 0.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from workflows.patches import PATCHES as PATCHES
from workflows.style_trial import WORKFLOW_NAME

# Oldest first, as docs/architecture.md lists them.

_MARKER = "core_patch"


def recorded_patches(events: Iterable[HistoryEvent]) -> set[str]:
    """The patch ids whose markers a history holds (plain JSON in the marker, never encrypted)."""
    found = set()
    for e in events:
        if e.event_type != EventType.EVENT_TYPE_MARKER_RECORDED:
            continue
        marker = e.marker_recorded_event_attributes
        if marker.marker_name != _MARKER:
            continue
        for payloads in marker.details.values():
            for payload in payloads.payloads:
                found.add(str(json.loads(payload.data)["id"]))
    return found


@dataclass
class PatchUse:
    patch: str
    # The open trials whose history lacks the marker: their ids and when they started, oldest first.
    old_path: list[tuple[datetime, str]] = field(default_factory=list)

    @property
    def retirable(self) -> bool:
        return not self.old_path


async def patch_use(client: Client) -> list[PatchUse]:
    """Per patch, the open trials on its old path. Reads every open trial's history (about 65 KB each):
    an operator's occasional question, not a dashboard's."""
    uses = {patch: PatchUse(patch) for patch in PATCHES}
    query = f'WorkflowType = "{WORKFLOW_NAME}" AND ExecutionStatus = "Running"'
    async for run in client.list_workflows(query):
        history = await client.get_workflow_handle(run.id, run_id=run.run_id).fetch_history()
        recorded = recorded_patches(history.events)
        for patch in PATCHES:
            if patch not in recorded:
                uses[patch].old_path.append((run.start_time, run.id))
    for use in uses.values():
        use.old_path.sort()
    return [uses[patch] for patch in PATCHES]
