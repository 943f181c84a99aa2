"""The read model and the ledger on real databases (SQLite and PostgreSQL)."""

import itertools
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from activities.ports import ReadModelBehind
from domain import commands as cmd
from domain.examples import decisions, order, parcels
from domain.status import Attention, TrialStatus
from domain.view import TrialView, view_of
from persistence.db import make_engine
from persistence.models import (
    AttentionItemRecord,
    MoneyMovementRecord,
    PieceRecord,
    TrackingNumberRecord,
    TrialEventRecord,
)
from persistence.store import SqlStore
from tests.domain_support import Driver, view_changes


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    # As in production: projections through a non-durable engine, the ledger through a durable one.
    engine, projections = make_engine(db_url), make_engine(db_url, durable=False)
    yield SqlStore(engine, projections)
    engine.dispose()
    projections.dispose()


def test_only_projections_commit_before_the_disk_has_them(db_url: str):
    sql = "PRAGMA synchronous" if db_url.startswith("sqlite") else "SHOW synchronous_commit"
    # SQLite: 2 is FULL, 1 NORMAL (under WAL, a commit waits for no fsync). PostgreSQL: on / off.
    expected = {True: ("2", "on"), False: ("1", "off")}
    for durable in (True, False):
        engine = make_engine(db_url, durable=durable)
        with engine.connect() as conn:
            assert str(conn.execute(text(sql)).scalar_one()) in expected[durable]
        engine.dispose()


def snapshots() -> tuple[Driver, list[TrialView]]:
    """Views of one trial at successive moments of its life."""
    d = Driver(order(3, order_id=f"o-{datetime.now(UTC).timestamp()}"))
    views = [view_of(d.trial)]
    d.trial.dispatch(parcels([["p1", "p2", "p3"]]), d.now)
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    views.append(view_of(d.trial))
    d.trial.decide(decisions(keep=["p1"], ret=["p2"]), d.now)
    d.advance(timedelta(days=7, minutes=1))
    views.append(view_of(d.trial))
    return d, views


def test_a_projection_writes_the_trial_its_pieces_and_its_audit_trail(store: SqlStore):
    _, views = snapshots()
    latest = views[-1]
    assert store.project(1, latest)
    row = store.trial(latest.order_id)
    assert row is not None
    assert (row.status, row.charged, row.authorized, row.currency) == ("AWAITING_RETURNS", 120_000, 0, "GBP")
    assert row.trial_ends_at is not None and row.trial_ends_at == latest.trial_ends_at
    assert row.trial_ends_at.tzinfo is not None
    assert [(p.piece_id, p.state, p.decision) for p in row.pieces] == [
        (p.piece_id, p.state, p.decision) for p in latest.pieces
    ]
    assert [e.seq for e in store.events(latest.trial_id)] == [e.seq for e in latest.events]
    # What the API answers with, as stored: exactly the view, with nothing parsed on the way out.
    raw = store.view_json(latest.order_id)
    assert raw is not None and TrialView.model_validate_json(raw) == latest
    assert json.loads(raw) == latest.model_dump(mode="json")
    assert store.view_json("no-such-order") is None


def test_projections_are_idempotent_and_a_late_older_revision_changes_nothing(store: SqlStore):
    _, views = snapshots()
    assert store.project(1, views[0])
    assert store.project(3, views[2])
    assert not store.project(3, views[2]), "the same revision again is a no-op"
    assert not store.project(2, views[1]), "an older revision arriving late is ignored"
    row = store.trial(views[2].order_id)
    assert row is not None and row.revision == 3 and row.status == "AWAITING_RETURNS"
    assert len(store.events(views[2].trial_id)) == len(views[2].events)


def _rows(
    store: SqlStore, model: type, trial_id: str, order_id: str, *, skip: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """A table's rows of one trial, with its ids (also within keys) written as `T` and `O`, without `skip`."""
    table = model.__table__  # type: ignore[attr-defined]
    key = table.c.trial_id == trial_id if "trial_id" in table.c else table.c.order_id == order_id
    with store.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(table).where(key))]

    def unnamed(v: object) -> object:
        return v.replace(trial_id, "T").replace(order_id, "O") if isinstance(v, str) else v

    return sorted(([{k: unnamed(v) for k, v in r.items() if k not in skip} for r in rows]), key=repr)


def _life(order_id: str) -> list[TrialView]:
    """Views of a six-piece trial after each change: two parcels, each delivered, a decision at a time, the end."""
    d = Driver(order(6, order_id=order_id))
    ids = list(d.trial.pieces)
    life = [view_of(d.trial)]
    d.trial.dispatch(parcels([ids[:4], ids[4:]]), d.now)
    life.append(view_of(d.trial))
    for tracking in ("TRK1", "TRK2"):
        d.advance(timedelta(hours=5))
        d.trial.deliver(cmd.Delivery(tracking_number=tracking), d.now)
        life.append(view_of(d.trial))
    for i, piece in enumerate(ids):
        d.trial.decide(decisions(keep=[piece]) if i % 2 else decisions(ret=[piece]), d.now)
        life.append(view_of(d.trial))
    d.advance(timedelta(days=7, minutes=1))
    life.append(view_of(d.trial))
    return life


def test_what_changed_applied_step_by_step_leaves_every_table_as_the_whole_trial_would(store: SqlStore):
    # A change writes only the pieces that differ and takes the stored events and movements from the stored
    # view: after a whole life of changes the tables must hold exactly what projecting the whole trial gives.
    stamp = datetime.now(UTC).timestamp()
    a, b = _life(f"a-{stamp}"), _life(f"b-{stamp}")
    assert b[-1].movements
    store.project(1, a[0])
    for revision, (prev, cur) in enumerate(itertools.pairwise(a), start=2):
        assert store.project_changes(revision, revision - 1, view_changes(prev, cur))
    store.project(1, b[-1])

    for model, skip in [
        (PieceRecord, ()), (TrialEventRecord, ()), (MoneyMovementRecord, ("id", "gateway_reference")), (TrackingNumberRecord, ()),
        (AttentionItemRecord, ("since",)),
    ]:  # fmt: skip
        changed = _rows(store, model, a[-1].trial_id, a[-1].order_id, skip=skip)
        whole = _rows(store, model, b[-1].trial_id, b[-1].order_id, skip=skip)
        assert changed == whole, model.__name__
        assert changed or model is AttentionItemRecord, f"no {model.__name__}: the comparison would prove nothing"
    statuses = [store.status_of(v[-1].trial_id) for v in (a, b)]
    assert statuses == [b[-1].status.value] * 2


def test_movements_the_trial_derives_reach_the_ledger_without_duplicating_the_activities_rows(store: SqlStore):
    _, views = snapshots()
    view = views[-1]
    first = view.movements[0]
    store.begin_movement(key=first.key, trial_id=view.trial_id, kind=first.kind, amount=first.amount, currency="GBP")
    store.project(1, view)
    keys = [m.idempotency_key for m in store.movements(view.trial_id)]
    assert sorted(keys) == sorted(m.key for m in view.movements)


def test_the_ledger_claims_a_key_once_and_only_completes_a_pending_row(store: SqlStore):
    first = store.begin_movement(key="k-1", trial_id="t", kind="charge", amount=500, currency="EUR")
    again = store.begin_movement(key="k-1", trial_id="t", kind="charge", amount=999, currency="EUR")
    assert first.created and not again.created and again.status == "pending"
    store.complete_movement(key="k-1", status="succeeded", amount=500, result={"approved": True})
    store.complete_movement(key="k-1", status="declined", amount=500, result={"approved": False})
    [row] = store.movements("t")
    assert (row.status, row.amount, row.result) == ("succeeded", 500, {"approved": True})


def test_lists_are_filtered_newest_first_and_paginated(store: SqlStore):
    base = datetime(2026, 11, 1, tzinfo=UTC)
    _, views = snapshots()
    template = views[-1]
    for i in range(7):
        v = template.model_copy(
            update={
                "order_id": f"list-{i}", "trial_id": f"style-trial-list-{i}", "opened_at": base + timedelta(hours=i),
                "status": TrialStatus.ON_TRIAL if i % 2 else TrialStatus.AWAITING_RETURNS, "customer_id": "cus-A" if i < 3 else "cus-B",
                "needs_attention": i == 4, "trial_ends_at": base + timedelta(days=i), "closed_at": None,
            }
        )  # fmt: skip
        store.project(1, v)
    page = store.list_trials(limit=3)
    assert [t.order_id for t in page.items] == ["list-6", "list-5", "list-4"]
    page2 = store.list_trials(limit=3, after=page.next_cursor)
    assert [t.order_id for t in page2.items] == ["list-3", "list-2", "list-1"]
    page3 = store.list_trials(limit=3, after=page2.next_cursor)
    assert [t.order_id for t in page3.items] == ["list-0"] and page3.next_cursor is None
    assert [t.order_id for t in store.list_trials(status="ON_TRIAL").items] == ["list-5", "list-3", "list-1"]
    assert [t.order_id for t in store.list_trials(customer_id="cus-A").items] == ["list-2", "list-1", "list-0"]
    assert [t.order_id for t in store.list_trials(needs_attention=True).items] == ["list-4"]
    assert [t.order_id for t in store.list_trials(ending_before=base + timedelta(days=2)).items] == ["list-1", "list-0"]


def test_concurrent_claims_of_one_money_movement_leave_exactly_one_row(db_url: str):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serializes writers; the race that matters is on the production database")
    engine = make_engine(db_url)
    store = SqlStore(engine)
    threads, barrier, results, errors = 16, threading.Barrier(16), [], []

    def claim() -> None:
        try:
            barrier.wait()
            results.append(
                store.begin_movement(key="race-1", trial_id="t-race", kind="charge", amount=100, currency="GBP")
            )
        except Exception as err:  # pragma: no cover - the assertion below reports it
            errors.append(err)

    workers = [threading.Thread(target=claim) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert sum(1 for r in results if r.created) == 1 and len(results) == threads
    with engine.connect() as conn:
        assert (
            conn.scalar(
                select(func.count())
                .select_from(MoneyMovementRecord)
                .where(MoneyMovementRecord.idempotency_key == "race-1")
            )
            == 1
        )
    engine.dispose()


def test_concurrent_projections_of_one_trial_keep_the_newest(db_url: str):
    engine = make_engine(db_url)
    store = SqlStore(engine)
    _, views = snapshots()
    barrier = threading.Barrier(len(views) * 3)
    errors: list[Exception] = []

    def write(rev: int, view: TrialView) -> None:
        try:
            barrier.wait()
            store.project(rev, view)
        except Exception as err:  # pragma: no cover
            errors.append(err)

    workers = [threading.Thread(target=write, args=(i + 1, v)) for i, v in enumerate(views) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    row = store.trial(views[-1].order_id)
    assert row is not None and row.revision == len(views) and row.status == views[-1].status
    engine.dispose()


def test_concurrent_changes_from_one_base_apply_once_and_leave_the_tables_as_their_view(db_url: str):
    # Two attempts of one workflow task (a worker thought dead still running its projection) send changes
    # from the same base. Each decides what to write against the stored trial it read; the read is in the
    # writing transaction, so one applies and the others find the trial moved on.
    engine = make_engine(db_url)
    store = SqlStore(engine)
    stamp = datetime.now(UTC).timestamp()
    life = _life(f"race-{stamp}")
    store.project(1, life[3])
    # Each attempt decided a different piece (what the attempts saw differed), all from revision 1.
    attempts = [view_changes(life[3], life[4 + i]) for i in range(3)]
    barrier = threading.Barrier(len(attempts))
    outcomes: list[bool | str] = []
    errors: list[Exception] = []

    def apply(changes: TrialView) -> None:
        try:
            barrier.wait()
            outcomes.append(store.project_changes(2, 1, changes, replaces_below=3))
        except ReadModelBehind:
            outcomes.append("behind")
        except Exception as err:  # pragma: no cover - the assertion below reports it
            errors.append(err)

    workers = [threading.Thread(target=apply, args=(c,)) for c in attempts]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert outcomes.count(True) == 1 and len(outcomes) == len(attempts), outcomes
    stored = store.view(life[3].order_id)
    assert stored is not None
    with engine.connect() as conn:
        rows = conn.execute(
            select(PieceRecord.piece_id, PieceRecord.state, PieceRecord.decision).where(
                PieceRecord.trial_id == stored.trial_id
            )
        )
        assert sorted(tuple(r) for r in rows) == sorted((p.piece_id, p.state, p.decision) for p in stored.pieces)
    engine.dispose()


def test_the_failing_task_flag_is_set_and_cleared_without_touching_other_reasons(store: SqlStore):
    from domain.status import Attention
    from persistence.store import TASK_FAILING

    failing, _ = snapshots()
    other = Driver(order(1, order_id=f"o2-{datetime.now(UTC).timestamp()}"))
    other.trial.journal.attention[Attention.DISPATCH_OVERDUE] = "Dispatch is late."
    store.project(1, view_of(failing.trial))
    store.project(1, view_of(other.trial))
    store.mark_failing_tasks({failing.trial.trial_id: "It keeps failing."})
    flagged = store.view(failing.trial.order.order_id)
    assert flagged is not None and flagged.needs_attention and flagged.attention == {TASK_FAILING: "It keeps failing."}
    store.mark_failing_tasks({})
    cleared = store.view(failing.trial.order.order_id)
    assert cleared is not None and not cleared.needs_attention and cleared.attention == {}
    untouched = store.view(other.trial.order.order_id)
    assert untouched is not None and untouched.attention == {"dispatch_overdue": "Dispatch is late."}


def test_a_retried_task_replaces_what_a_dead_attempt_projected(store: SqlStore):
    """A workflow task whose worker died after its projection ran (a local activity) leaves a revision the
    workflow never recorded. The task's retry numbers its projection higher and sends it on the last base it
    knows: the store finds itself behind, the whole trial comes, and it replaces the dead attempt's rows,
    audit trail included (found by the fault campaign: a trial's read model kept the dead attempt's events)."""
    _, views = snapshots()
    assert store.project(3000, views[0])
    seen_by_the_dead = views[1].model_copy(
        update={"events": [*views[1].events[:-1], views[1].events[-1].model_copy(update={"kind": "not_what_happened"})]}
    )
    assert store.project(21000, seen_by_the_dead, whole=False)
    with pytest.raises(ReadModelBehind):
        store.project_changes(24000, 3000, views[1])
    assert store.project(24000, views[1])
    assert store.view(views[1].order_id) == views[1]
    assert [(e.seq, e.kind) for e in store.events(views[1].trial_id)] == [(e.seq, e.kind) for e in views[1].events]


def test_an_attempt_at_the_same_history_length_replaces_what_its_dead_twin_wrote(store: SqlStore):
    """A retried attempt of a workflow task records no event, so when the attempt after a dead one dies too,
    the next stands at the same history length and numbers its projections alike. The task's numbers are
    its own: the attempt that writes last replaces what the others wrote, even a higher number, while a
    late write from an earlier task changes nothing."""
    _, views = snapshots()
    task = 21
    below = (task + 1) * 1000
    assert store.project(3000, views[0], replaces_below=4000)
    dead = views[2]  # the dead attempt's clock was later: it saw the trial end
    assert store.project(21000, dead, whole=False, replaces_below=below)
    assert store.project(21001, dead, whole=False, replaces_below=below), "the dead attempt went one further"
    with pytest.raises(ReadModelBehind):
        store.project_changes(21000, 3000, views[1], replaces_below=below)
    assert store.project(21000, views[1], replaces_below=below)
    assert store.view(views[1].order_id) == views[1]
    with pytest.raises(ReadModelBehind, match="holds revision 21000"):
        store.project_changes(21000, 21000 - 1, views[1], replaces_below=below)
    assert not store.project(3000, views[0], replaces_below=4000), "a late write from an earlier task"
    assert not store.project_changes(3001, 3000, views[0], replaces_below=4000)
    assert store.view(views[1].order_id) == views[1]


def test_the_attention_queue_lists_reasons_oldest_first_by_owner_and_empties_as_they_clear(store: SqlStore):
    trials = []
    for n in range(3):
        d = Driver(order(2, order_id=f"queue-{n}-{datetime.now(UTC).timestamp()}"))
        d.now += timedelta(hours=n)  # flagged an hour apart: the oldest first
        d.trial.dispatch(parcels([["p1"], ["p2"]]), d.now)
        d.trial.declare_lost(cmd.LostParcel(tracking_number="TRK1", reason="stolen", actor="cr.amelia"), d.now)
        d.settle()
        store.project(1, view_of(d.trial))
        trials.append(d)
    ours = {d.trial.trial_id for d in trials}
    queue = [r for r in store.attention_queue(limit=500) if r.trial_id in ours]
    assert [r.trial_id for r in queue] == [d.trial.trial_id for d in trials] and {r.reason for r in queue} == {
        "carrier_claim"
    }
    first = trials[0]
    first.trial.assign_attention(cmd.AttentionAssignment(assignee="cr.anna", actor="lead.bo"), first.now)
    store.project(2, view_of(first.trial))
    (owned,) = store.attention_queue(assignee="cr.anna")
    assert owned.trial_id == first.trial.trial_id and owned.since == queue[0].since
    page = store.attention_queue(limit=1, after=(queue[0].since, queue[0].trial_id, queue[0].reason))
    assert page and (page[0].since, page[0].trial_id) >= (queue[0].since, queue[0].trial_id)
    seen = cmd.Acknowledgement(reason=Attention.CARRIER_CLAIM, note="Claim filed", actor="cr.anna")
    first.trial.acknowledge_attention(seen, first.now)
    store.project(3, view_of(first.trial))
    assert store.attention_queue(assignee="cr.anna") == []
    assert first.trial.trial_id not in {r.trial_id for r in store.attention_queue(limit=500)}
