"""A full trial, then the read model and the ledger must agree with the workflow, piece by piece and
penny by penny, on both databases."""

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment

from activities.simulated_gateway import SimulatedGateway
from bootstrap import Adapters, build_worker
from domain import commands as cmd
from domain.examples import decisions, order, parcels
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import SqlStore
from tests.support import Harness, activities_run

DAY = timedelta(days=1)


@pytest.fixture
def db_store(db_url: str) -> Iterator[SqlStore]:
    engine = make_engine(db_url)
    yield SqlStore(engine)
    engine.dispose()


async def test_read_model_and_ledger_agree_with_the_workflow_after_a_full_trial(
    time_skipping_env: WorkflowEnvironment, db_store: SqlStore
):
    queue = f"rm-{uuid.uuid4()}"
    adapters = Adapters(store=db_store, gateway=SimulatedGateway())
    async with build_worker(time_skipping_env.client, queue, adapters):
        h = Harness(time_skipping_env.client, queue, adapters, time_skipping_env.sleep)
        o = order(6, price=lambda i: i * 11_111)
        trial = await h.start_accepted(o)
        await trial.send("dispatch", parcels([["p1", "p2", "p3"], ["p4", "p5"]]))  # p6 unavailable
        await trial.deliver_all()
        await trial.send("decide", decisions(keep=["p1", "p2"], ret=["p3", "p4"]))
        await trial.send("waive", cmd.Waiver(piece_id="p2", reason="goodwill", actor="cr.amelia"))
        await trial.send("ship_return", cmd.ReturnShipped(piece_ids=["p3", "p4"], carrier="DHL", tracking_number="R1"))
        await trial.advance(7 * DAY + timedelta(minutes=1))
        await trial.wait_status("AWAITING_RETURNS")
        await trial.send("inspect", cmd.Inspection(piece_id="p3", condition="ok"))
        await trial.send("inspect", cmd.Inspection(piece_id="p4", condition="damaged"))
        await trial.advance(3 * DAY)
        final = await trial.result()
        await h.terminate_running()

    assert final.status == "COMPLETED"
    # The view GET serves was built from changes only (after the first projection): it is the whole trial.
    assert db_store.view(o.order_id) == final
    row = db_store.trial(o.order_id)
    assert row is not None
    assert (row.status, row.needs_attention, row.currency) == (final.status, final.needs_attention, final.currency)
    assert (row.value, row.authorized, row.charged, row.released) == (
        final.amounts.value, final.amounts.authorized, final.amounts.charged, final.amounts.released,
    )  # fmt: skip
    assert [(p.piece_id, p.state, p.decision, p.price, p.charged, p.settlement) for p in row.pieces] == [
        (p.piece_id, p.state, p.decision, p.price, p.charged, p.settlement) for p in final.pieces
    ]
    assert [(e.seq, e.kind, e.actor) for e in db_store.events(final.trial_id)] == [
        (e.seq, e.kind, e.actor) for e in final.events
    ]

    ledger = {m.idempotency_key: m for m in db_store.movements(final.trial_id)}
    assert set(ledger) == {m.key for m in final.movements}
    for m in final.movements:
        assert (ledger[m.key].kind, ledger[m.key].amount, ledger[m.key].status) == (m.kind, m.amount, m.outcome), m.key
    charged_in_ledger = sum(
        r.amount for r in ledger.values() if r.kind in ("capture", "charge") and r.status == "succeeded"
    )
    charged_pieces = sum(p.price for p in final.pieces if p.state in ("KEPT", "KEPT_UNRETURNED", "DAMAGED"))
    # p1 kept, p4 damaged, p5 never shipped back; p2 waived, p3 returned, p6 unavailable
    assert charged_in_ledger == final.amounts.charged == charged_pieces == 11_111 + 44_444 + 55_555
    assert not any(r.status == "pending" for r in ledger.values())


async def test_a_read_model_that_lost_the_trial_gets_it_whole_again(time_skipping_env: WorkflowEnvironment, tmp_path):
    """Restored from an older backup or rebuilt empty: the next change cannot be applied to what the read
    model holds, so the workflow sends the whole trial, and the read model is complete again."""
    url = f"sqlite:///{tmp_path / 'rm.sqlite'}"
    upgrade(url)
    store = SqlStore(make_engine(url))
    queue = f"rm-{uuid.uuid4()}"
    adapters = Adapters(store=store, gateway=SimulatedGateway())
    async with build_worker(time_skipping_env.client, queue, adapters):
        h = Harness(time_skipping_env.client, queue, adapters, time_skipping_env.sleep)
        o = order(3)
        trial = await h.start_accepted(o)
        await trial.send("dispatch", parcels([["p1", "p2", "p3"]]))
        with store.engine.begin() as conn:  # the read model loses the trial
            for table in ("pieces", "trial_events", "trials"):
                conn.execute(text(f"DELETE FROM {table}"))
        await trial.deliver_all()
        view = await trial.view()
        assert store.view(o.order_id) == view
        await trial.send("decide", decisions(keep=["p1"]))  # and changes flow again on top of it
        assert store.view(o.order_id) == await trial.view()
        await h.terminate_running()
    kinds = activities_run(await trial.handle.fetch_history())
    assert (
        "read_model.project_changes" in kinds and kinds.count("read_model.project") == 2
    )  # the first, and the fallback
