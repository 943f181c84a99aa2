"""How long one read-model projection (a 30-piece trial) and one ledger movement take on each database:
the whole trial (a trial's first projection, or when the read model is behind) and what changed (every
later one: the workflow sends the pieces that changed and the new events and movements).

    .venv/bin/python -m bench.bench_projection [rounds]

Uses a fresh SQLite file and a fresh PostgreSQL database on 127.0.0.1:5432 (dropped afterwards).
"""

import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.stats import ms
from domain import commands as cmd
from domain.examples import decisions, order, parcels
from domain.view import TrialView, view_of
from persistence.db import make_engine
from persistence.store import SqlStore
from tests.databases import postgres_database, sqlite_database
from tests.domain_support import Driver, view_changes


def views() -> list[TrialView]:
    d = Driver(order(30))
    ids = list(d.trial.pieces)
    out = [view_of(d.trial)]
    d.trial.dispatch(parcels([ids[:15], ids[15:]]), d.now)
    out.append(view_of(d.trial))
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.trial.deliver(cmd.Delivery(tracking_number="TRK2"), d.now)
    out.append(view_of(d.trial))
    d.trial.decide(decisions(keep=ids[:10], ret=ids[10:]), d.now)
    out.append(view_of(d.trial))
    d.advance(timedelta(days=7, minutes=1))
    out.append(view_of(d.trial))
    return out


def decided_one_by_one() -> list[TrialView]:
    """The trial after each change as the load makes them: dispatch, two deliveries, 30 decisions, the end."""
    d = Driver(order(30))
    ids = list(d.trial.pieces)
    out = [view_of(d.trial)]
    d.trial.dispatch(parcels([ids[:15], ids[15:]]), d.now)
    out.append(view_of(d.trial))
    for tracking in ("TRK1", "TRK2"):
        d.trial.deliver(cmd.Delivery(tracking_number=tracking), d.now)
        out.append(view_of(d.trial))
    for piece in ids:
        d.trial.decide(decisions(keep=[piece]), d.now)
        out.append(view_of(d.trial))
    d.advance(timedelta(days=7, minutes=1))
    out.append(view_of(d.trial))
    return out


def measure(url: str, rounds: int) -> str:
    engine = make_engine(url)
    store = SqlStore(engine)
    life = views()
    writes: list[float] = []
    ledger: list[float] = []
    for r in range(rounds):
        for rev, v in enumerate(life, start=1):
            v = v.model_copy(update={"trial_id": f"bench-{r}", "order_id": f"bench-{r}"})
            t0 = time.perf_counter()
            store.project(rev, v)
            writes.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        store.begin_movement(key=f"bench-{r}-charge", trial_id=f"bench-{r}", kind="charge", amount=1, currency="GBP")
        store.complete_movement(key=f"bench-{r}-charge", status="succeeded", amount=1, result={"approved": True})
        ledger.append(time.perf_counter() - t0)
    steps = decided_one_by_one()
    changed: list[float] = []
    for r in range(rounds // 3 or 1):
        named = [v.model_copy(update={"trial_id": f"steps-{r}", "order_id": f"steps-{r}"}) for v in steps]
        store.project(1, named[0])
        for rev in range(1, len(named)):
            what = view_changes(named[rev - 1], named[rev])
            t0 = time.perf_counter()
            store.project_changes(rev + 1, rev, what)
            changed.append(time.perf_counter() - t0)
    engine.dispose()
    return (
        f"projection of a 30-piece trial, whole: p50 {ms(writes, 0.5):.2f} ms, p99 {ms(writes, 0.99):.2f} ms "
        f"({len(writes)} writes); what changed: p50 {ms(changed, 0.5):.2f} ms, p99 {ms(changed, 0.99):.2f} ms "
        f"({len(changed)}); ledger claim+complete: p50 {ms(ledger, 0.5):.2f} ms, p99 {ms(ledger, 0.99):.2f} ms"
    )


def main(rounds: int = 100) -> None:
    with sqlite_database(Path(tempfile.mkdtemp())) as url:
        print("SQLite     ", measure(url, rounds))
    with postgres_database() as url:
        print("PostgreSQL ", measure(url, rounds))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
