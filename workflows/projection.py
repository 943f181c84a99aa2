"""Reporting the trial to the read model (the projection), from the workflow.

After every change the workflow sends the read model what changed since the last time, numbered by
revision: the whole view once, then a few pieces, the new events and movements. A read model that is
behind (restored from a backup) asks for the whole trial again. What was sent is remembered as digests and
counts, not as a copy of the view.
"""

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.read_model import READ_MODEL_BEHIND, ProjectChanges, ProjectTrial, ReadModelActivities
    from domain.view import TrialView
    from workflows.calls import RETRY, TIMEOUT, task_failure
    from workflows.patches import PATCH_LEAN_PROJECTION, PATCH_READ_MODEL

# Room for projections within one workflow task before the next task's revisions (`Projection._next_revision`).
_REVISIONS_PER_TASK = 1000


class _ReadModelBehind(Exception):
    pass


def _digest(model: BaseModel) -> bytes:
    """A fingerprint of what the read model was sent, to know what changed without keeping a copy."""
    return hashlib.blake2b(model.model_dump_json().encode(), digest_size=16).digest()


class Projection:
    def __init__(self, lean_events: bool, shield: Callable[[Awaitable[Any]], Awaitable[Any]]) -> None:
        # With lean events the projection is a local activity, numbered by history length (`_next_revision`).
        self._lean_events = lean_events
        # Awaits an activity that a cancellation request must not interrupt (the workflow's `_uncancelled`).
        self._shield = shield
        # What the read model was last sent, as digests and counts rather than a copy of the view: the whole
        # view, each piece, and how many events and movements (both lists only grow).
        self._projected: bytes | None = None
        self._projected_pieces: dict[str, bytes] = {}
        self._projected_events = 0
        self._projected_movements = 0
        # The last revision sent; 0: never (a run started before the read model existed).
        self.revision = 0
        # Below which stored revision the current one replaces what the read model holds (lean events: the
        # end of this workflow task's numbers; see `_next_revision`); None: below itself.
        self._replaces_below: int | None = None

    async def report(self, view: TrialView) -> None:
        """Report the trial to the read model whenever it changed, numbered by revision: after the first
        time, only what changed (a few pieces, the new events and movements), so that the history grows
        with what happened rather than with the size of the trial at every change."""
        if not workflow.patched(PATCH_READ_MODEL):
            return
        digest = _digest(view)
        if digest == self._projected:
            return
        previous = self.revision
        self.revision, self._replaces_below = self._next_revision()
        pieces = {p.piece_id: _digest(p) for p in view.pieces}
        lean = previous > 0 and workflow.patched(PATCH_LEAN_PROJECTION)
        if not (lean and await self._project_changes(view, pieces, previous)):
            request = ProjectTrial(revision=self.revision, view=view, replaces_below=self._replaces_below)
            await self._run_projection(ReadModelActivities.project, request, "the trial")
        self._projected = digest
        self._projected_pieces = pieces
        self._projected_events, self._projected_movements = len(view.events), len(view.movements)

    def _next_revision(self) -> tuple[int, int | None]:
        """The number of the next projection, and below which stored number it replaces what the read model
        holds. With lean events the numbers grow with the history, `_REVISIONS_PER_TASK` to a workflow task:
        a task that never completed (its worker died) may still have run its projection, a local activity,
        and written what it saw; the task's next attempt may see more (a command that arrived meanwhile, a
        later clock) and must replace it. An attempt that stands at a longer history numbers higher; one at
        the same length (a retried attempt records no event) numbers alike, and replaces whatever its task
        wrote, since a task's attempts run one after the other. Within one task: one more each time."""
        if not self._lean_events:
            return self.revision + 1, None
        length = workflow.info().get_current_history_length()
        return max(self.revision + 1, length * _REVISIONS_PER_TASK), (length + 1) * _REVISIONS_PER_TASK

    async def _project_changes(self, view: TrialView, pieces: dict[str, bytes], base: int) -> bool:
        """False when the read model is behind (restored from a backup, say): then the whole trial goes."""
        changes = view.model_copy(
            update={
                "pieces": [p for p in view.pieces if self._projected_pieces.get(p.piece_id) != pieces[p.piece_id]],
                "events": view.events[self._projected_events :],
                "movements": view.movements[self._projected_movements :],
            }
        )
        request = ProjectChanges(
            revision=self.revision, base_revision=base, changes=changes, replaces_below=self._replaces_below
        )
        try:
            await self._run_projection(ReadModelActivities.project_changes, request, "what changed")
        except _ReadModelBehind:
            return False
        return True

    async def _run_projection(self, activity: Any, request: Any, what: str) -> None:
        summary = f"Record revision {self.revision} in the read model ({what})"
        # A local activity (lean events) is one marker in the task that asked for it; a regular one is three
        # events and another workflow task. Both retry without limit; the local one on this worker.
        run = workflow.execute_local_activity_method if self._lean_events else workflow.execute_activity_method
        try:
            await self._shield(
                run(activity, request, start_to_close_timeout=TIMEOUT, retry_policy=RETRY, summary=summary)
            )
        except (ActivityError, ApplicationError) as err:
            # A local activity's failure arrives as the activity's own ApplicationError, not wrapped in an
            # ActivityError; left to propagate it would fail the whole trial.
            cause = err.cause if isinstance(err, ActivityError) else err
            if isinstance(cause, ApplicationError) and cause.type == READ_MODEL_BEHIND:
                raise _ReadModelBehind() from err
            raise task_failure("projection", err) from err
