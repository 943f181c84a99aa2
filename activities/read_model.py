"""Projection of each trial into the read model and the ledger's derived movements."""

import asyncio
from datetime import UTC, datetime

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.ports import ReadModel, ReadModelBehind
from domain.view import TrialView
from observability.metrics import PROJECTION_LAG_SECONDS

# The error type the changes activity fails with when the read model is behind; the workflow then sends the
# whole trial.
READ_MODEL_BEHIND = "read_model_behind"


class ProjectTrial(BaseModel):
    """The trial as the workflow sees it, numbered: a retried or late projection never overwrites a newer one."""

    revision: int
    view: TrialView
    # A stored revision below this is replaced (default: below `revision`); see `SqlStore.project`.
    replaces_below: int | None = None


class ProjectChanges(BaseModel):
    """What changed since `base_revision`: the trial's own fields, parcels and settlements whole, and of the
    pieces, events and movements only the changed and new ones (see `domain.view.merged`)."""

    revision: int
    base_revision: int
    changes: TrialView
    replaces_below: int | None = None


class ReadModelActivities:
    def __init__(self, read_model: ReadModel) -> None:
        self._read_model = read_model

    @activity.defn(name="read_model.project")
    async def project(self, req: ProjectTrial) -> bool:
        stored = await asyncio.to_thread(
            self._read_model.project, req.revision, req.view, replaces_below=req.replaces_below
        )
        _observe_lag("whole")
        return stored

    @activity.defn(name="read_model.project_changes")
    async def project_changes(self, req: ProjectChanges) -> bool:
        try:
            stored = await asyncio.to_thread(
                self._read_model.project_changes,
                req.revision,
                req.base_revision,
                req.changes,
                replaces_below=req.replaces_below,
            )
        except ReadModelBehind as err:
            raise ApplicationError(str(err), type=READ_MODEL_BEHIND, non_retryable=True) from err
        _observe_lag("changes")
        return stored


def _observe_lag(kind: str) -> None:
    """From the workflow scheduling the projection (its first attempt) to the commit: how far the read model
    trailed the workflow. A commit after retries counts the whole wait: that is what an operator needs to see."""
    scheduled = activity.info().scheduled_time
    PROJECTION_LAG_SECONDS.labels(kind).observe(max(0.0, (datetime.now(UTC) - scheduled).total_seconds()))
