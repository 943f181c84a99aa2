"""Projection of each trial into the read model and the ledger's derived movements."""

import asyncio

from pydantic import BaseModel
from temporalio import activity

from activities.ports import ReadModel
from domain.view import TrialView


class ProjectTrial(BaseModel):
    """The trial as the workflow sees it, numbered: a retried or late projection never overwrites a newer one."""

    revision: int
    view: TrialView


class ReadModelActivities:
    def __init__(self, read_model: ReadModel) -> None:
        self._read_model = read_model

    @activity.defn(name="read_model.project")
    async def project(self, req: ProjectTrial) -> bool:
        return await asyncio.to_thread(self._read_model.project, req.revision, req.view)
