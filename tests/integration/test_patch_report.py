"""The patch report on the real dev server: a trial started on today's code takes every patch, so it is on
no patch's old path once it has changed once after opening (`styletrial patches`, application/patches.py)."""

import uuid

import pytest
from temporalio.testing import WorkflowEnvironment

from application.patches import PATCHES, PatchUse, patch_use
from bootstrap import Adapters, build_worker
from domain.examples import order, parcels
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import SqlStore
from tests.support import Harness, real_clock_only
from tests.waiting import eventually
from workflows.patches import PATCH_LEAN_PROJECTION

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(120)]


def _old_paths_of(uses: list[PatchUse], trial_id: str) -> list[str]:
    return [u.patch for u in uses if any(tid == trial_id for _, tid in u.old_path)]


async def test_a_trial_on_today_s_code_is_on_no_patch_s_old_path(dev_env: WorkflowEnvironment, tmp_path):
    url = f"sqlite:///{tmp_path / 'patches.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    queue = f"patches-{uuid.uuid4()}"
    adapters = Adapters(store=SqlStore(engine))
    try:
        async with build_worker(dev_env.client, queue, adapters):
            trial = await Harness(dev_env.client, queue, adapters, real_clock_only).start(order(2))

            async def accepted() -> bool:
                return (await trial.view()).status == "AWAITING_DISPATCH"

            await eventually(accepted, "the trial to be accepted", 60, every=0.2)

            # A trial that has not changed since it opened has not asked for the lean projection yet (it is
            # asked at the second projection): it counts as on that old path until it does, the safe side.
            async def listed_young() -> bool:  # visibility lists a run a moment after it starts
                return _old_paths_of(await patch_use(dev_env.client), trial.trial_id) == [PATCH_LEAN_PROJECTION]

            await eventually(listed_young, "the report to list the trial", 30, every=0.5)
            uses = await patch_use(dev_env.client)
            assert [u.patch for u in uses] == list(PATCHES)
            assert all(u.old_path == sorted(u.old_path) for u in uses)
            await trial.send("dispatch", parcels([["p1", "p2"]]))
            assert _old_paths_of(await patch_use(dev_env.client), trial.trial_id) == []
            await trial.handle.terminate("test over")
    finally:
        engine.dispose()
