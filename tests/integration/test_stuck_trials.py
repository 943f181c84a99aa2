"""A trial whose workflow task keeps failing is never silent, and it can be recovered with its money right.

On the real dev server (which marks such workflows with TemporalReportedProblems): a read model that fails
for good once the trial is in transit (a bug: the kind a DataError in the projection was) stops the trial's
workflow task; the watcher flags it in the read model; `recover` finds the activity that failed and resets
to the last good task on a worker with the bug fixed, and the trial carries on.
"""

import asyncio
import uuid
from datetime import datetime, timedelta

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from application.failing_tasks import flag_failing_tasks
from application.recovery import diagnose, reset
from bootstrap import Adapters, build_worker
from domain import commands as cmd
from domain.examples import order, parcels
from domain.policy import TrialPolicy
from domain.view import TrialView
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import TASK_FAILING, SqlStore
from tests.support import Harness, real_clock_only
from tests.waiting import eventually
from workflows.style_trial import StyleTrialWorkflow as W

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(180)]


class ProjectionWithABug(SqlStore):
    def project(
        self, revision: int, view: TrialView, now: datetime | None = None, *, whole: bool = True,
        replaces_below: int | None = None, before: TrialView | None = None,
    ) -> bool:  # fmt: skip
        if view.status == "AWAITING_DISPATCH":
            raise ApplicationError("a bug in the projection", non_retryable=True)
        return super().project(revision, view, now, whole=whole, replaces_below=replaces_below, before=before)


async def test_a_failing_trial_is_flagged_then_recovered_with_its_money_right(dev_env: WorkflowEnvironment, tmp_path):
    url = f"sqlite:///{tmp_path / 'stuck.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    store = SqlStore(engine)
    queue = f"stuck-{uuid.uuid4()}"
    client = dev_env.client
    broken = Adapters(store=ProjectionWithABug(engine))
    async with build_worker(client, queue, broken):
        # A one-second refund window: the workflow ends a moment after the trial completes (its result below).
        quick = TrialPolicy(refund_window=timedelta(seconds=1))
        t = await Harness(client, queue, broken, real_clock_only).start(order(2, price=50_000), quick)
        oid = t.handle.id.removeprefix("style-trial-")

        async def flagged() -> bool:
            await flag_failing_tasks(client, store)
            view = store.view(oid)
            return view is not None and TASK_FAILING in view.attention

        await eventually(flagged, "the failing task to be flagged", 60, every=0.5)
        # It never reported (its first projection is what fails): the watcher entered it as it opened.
        view = store.view(oid)
        assert view is not None and view.needs_attention and view.status == "AUTHORIZING"
        listed = store.list_trials(needs_attention=True, limit=200).items
        assert oid in [r.order_id for r in listed]

    fixed = Adapters(store=store, gateway=broken.gateway, stock=broken.stock, notifier=broken.notifier)
    async with build_worker(client, queue, fixed):
        history = await t.handle.fetch_history()
        found = await diagnose(history, [W], client.data_converter)
        assert found.problem == "an activity failed for good" and found.reset_to is not None
        await reset(client, found, "test: the projection bug is fixed")
        handle = client.get_workflow_handle(t.handle.id, result_type=TrialView)

        async def healthy() -> bool:
            await flag_failing_tasks(client, store)
            view = store.view(oid)
            return view is not None and not view.needs_attention and view.status == "AWAITING_DISPATCH"

        await eventually(healthy, "the flag to clear once the trial runs again", 60, every=0.5)
        # The trial goes on to the end with the money right: one authorization, one charge, nothing twice.
        _ = await handle.execute_update("dispatch", parcels([["p1", "p2"]]))
        _ = await handle.execute_update("deliver", cmd.Delivery(tracking_number="TRK1"))
        _ = await handle.execute_update("decide", cmd.Decisions(
            decisions=[cmd.PieceDecision(piece_id="p1", decision="keep"), cmd.PieceDecision(piece_id="p2", decision="return")],
            actor="client", channel="app",
        ))  # fmt: skip
        _ = await handle.execute_update(
            "ship_return", cmd.ReturnShipped(piece_ids=["p2"], carrier="DHL", tracking_number="R1")
        )
        _ = await handle.execute_update("finish_early", cmd.FinishEarly(actor="client"))
        _ = await handle.execute_update("inspect", cmd.Inspection(piece_id="p2", condition="ok"))
        result = await asyncio.wait_for(handle.result(), 60)
        assert result.status == "COMPLETED"
        assert result.amounts.charged == 50_000 and result.amounts.authorized == 0
        assert [m.amount for m in store.movements(result.trial_id) if m.kind in ("capture", "charge")] == [50_000]
    engine.dispose()
