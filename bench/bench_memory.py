"""Worker memory: RSS per 1,000 cached open trials, engine next to the bare workflow (bench/bare.py), and
the RSS of an engine worker holding 10,000 open trials under its default cache size, with the latency of a
command on a trial the cache has evicted (its history is replayed first).

Each worker runs in its own process (`python worker.py`, or `python -m bench.bare`) against one dev server;
its RSS is read from /proc. A trial is open once accepted (authorized, stock reserved, awaiting dispatch).

    .venv/bin/python -m bench.bench_memory [cached_trials] [open_trials]

Ends with `rss_kib_per_trial_engine=`, `rss_kib_per_trial_bare=`, `rss_ratio_engine_bare=`,
`rss_mib_10k=` (named for the default 10,000 open trials) and `evicted_command_p99_ms=`.
"""

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import text
from temporalio.client import Client

from application.trials import TrialService
from bench.bare import BareStart, BareTrial, Shape, Stage
from bench.dev import dev_server
from bench.stats import ms
from bootstrap import data_converter
from config import Settings
from domain.examples import order, parcels
from domain.status import TrialStatus
from domain.workflow_io import StartTrial
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import SqlStore

ROOT = Path(__file__).parents[1]
# What an open engine trial has done by the time it waits for dispatch: authorize and reserve, one
# projection, its deadline timer. The bare workflow does the same at its start.
OPEN_SHAPE = Shape(stages=[Stage(activities=2, local_activities=1, timers=1)])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class WorkerProcess:
    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def rss(self) -> float:
        return rss_mib(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


async def gather_bounded(n: int, concurrency: int, make: Callable[[int], Awaitable[object]]) -> list[float]:
    gate = asyncio.Semaphore(concurrency)
    times: list[float] = []

    async def one(i: int) -> None:
        async with gate:
            t0 = time.perf_counter()
            await make(i)
            times.append(time.perf_counter() - t0)

    await asyncio.gather(*(one(i) for i in range(n)))
    return times


async def settle(count: Callable[[], Awaitable[int]], want: int, timeout: float = 3600) -> None:
    deadline = time.monotonic() + timeout
    while (have := await count()) < want:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{have} of {want} trials accepted")
        await asyncio.sleep(0.5)
    await asyncio.sleep(2)  # let the last tasks finish and the cache settle


class Engine:
    def __init__(self, client: Client, settings: Settings, store: SqlStore) -> None:
        self.trials = TrialService(client, settings.task_queue, store)
        self.store, self.settings, self.started = store, settings, 0
        self.order_ids: list[str] = []
        # This run's orders, by prefix: `accepted` counts them alone. (It counted every accepted trial in the
        # database, so after the per-1,000 part a second run of trials read as opened before it was.)
        self.prefix = f"mem{uuid.uuid4().hex[:6]}-"

    def worker(self, cache_mib: int | None) -> WorkerProcess:
        env = {
            "STYLETRIAL_TEMPORAL_ADDRESS": self.settings.temporal_address,
            "STYLETRIAL_TASK_QUEUE": self.settings.task_queue,
            "STYLETRIAL_DATA_DIR": str(self.settings.data_dir),
        }
        if cache_mib is not None:
            env["STYLETRIAL_WORKER_CACHE_MIB"] = str(cache_mib)
        return WorkerProcess(["worker.py"], env)

    async def open(self, n: int) -> None:
        async def start(_: int) -> None:
            o = order(30, order_id=f"{self.prefix}{uuid.uuid4().hex[:10]}")
            self.order_ids.append(o.order_id)
            await self.trials.start(StartTrial(order=o))

        await gather_bounded(n, 50, start)
        self.started += n
        await settle(self.accepted, self.started)

    async def accepted(self) -> int:
        def count() -> int:
            with self.store.engine.connect() as conn:
                sql = text("SELECT count(*) FROM trials WHERE status = :s AND order_id LIKE :mine")
                found = conn.execute(sql, {"s": TrialStatus.AWAITING_DISPATCH.value, "mine": f"{self.prefix}%"})
                return int(found.scalar_one())

        return await asyncio.to_thread(count)


class Bare:
    def __init__(self, client: Client, settings: Settings) -> None:
        self.client, self.settings, self.queue = client, settings, f"bare-{uuid.uuid4()}"
        self.handles: list[object] = []

    def worker(self, cache_mib: int | None) -> WorkerProcess:
        env = {
            "STYLETRIAL_TEMPORAL_ADDRESS": self.settings.temporal_address,
            "STYLETRIAL_DATA_DIR": str(self.settings.data_dir),
        }
        return WorkerProcess(["-m", "bench.bare", self.queue, str(20_000)], env)

    async def open(self, n: int) -> None:
        async def start(_: int) -> None:
            o = order(30)
            handle = await self.client.start_workflow(
                BareTrial.run, BareStart(start=StartTrial(order=o), shape=OPEN_SHAPE), id=f"bare-{o.order_id}",
                task_queue=self.queue,
            )  # fmt: skip
            while await handle.query(BareTrial.status) != TrialStatus.AWAITING_DISPATCH:
                await asyncio.sleep(0.2)

        await gather_bounded(n, 50, start)
        await asyncio.sleep(2)


async def per_thousand(kind: Engine | Bare, n: int) -> float:
    """RSS growth of a worker per 1,000 open trials it holds in its cache (a cache large enough for all)."""
    worker = kind.worker(cache_mib=16_384)
    try:
        await kind.open(50)  # warm: imports, connections, the first sandbox
        before = worker.rss()
        await kind.open(n)
        after = worker.rss()
    finally:
        worker.stop()
    print(f"  {type(kind).__name__.lower()}: {before:.0f} MiB after 50 trials, {after:.0f} MiB after {n} more")
    return (after - before) / n * 1000


async def main(cached: int = 1000, open_trials: int = 10_000) -> None:
    folder = Path(tempfile.mkdtemp())
    env = await dev_server(data_converter(Settings(data_dir=folder)))
    try:
        address = env.client.service_client.config.target_host
        settings = Settings(data_dir=folder, temporal_address=address, task_queue=f"mem-{uuid.uuid4()}")
        upgrade(settings.resolved_database_url)
        store = SqlStore(make_engine(settings.resolved_database_url))
        engine_1k = bare_1k = float("nan")
        if cached:  # 0 skips this part
            print(f"worker RSS per {cached} cached open trials (each worker in its own process):")
            engine_1k = await per_thousand(Engine(env.client, settings, store), cached)
            bare_1k = await per_thousand(Bare(env.client, settings), cached)
            print(f"  engine {engine_1k:.0f} MiB, bare {bare_1k:.0f} MiB per 1,000; ratio {engine_1k / bare_1k:.2f}")

        settings = settings.model_copy(update={"task_queue": f"mem-{uuid.uuid4()}"})
        engine = Engine(env.client, settings, store)
        worker = engine.worker(cache_mib=None)  # the default cache size
        try:
            began = time.perf_counter()
            for done in range(0, open_trials, 1000):  # RSS as the open trials pile up past the cache size
                await engine.open(min(1000, open_trials - done))
                print(f"  {engine.started} open trials: worker RSS {worker.rss():.0f} MiB", flush=True)
            opened = time.perf_counter() - began
            rss = worker.rss()
            first = engine.order_ids[:50]  # the oldest: long gone from the cache

            async def dispatch(i: int) -> None:
                ids = [f"p{n}" for n in range(1, 31)]
                await engine.trials.send(first[i], parcels([ids[:15], ids[15:]]))

            evicted = await gather_bounded(len(first), 5, dispatch)
        finally:
            worker.stop()
    finally:
        await env.shutdown()
    print(f"engine worker with {open_trials} open trials, default cache: {rss:.0f} MiB (opened in {opened:.0f} s)")
    print(f"  dispatch on an evicted trial: p50 {ms(evicted, 0.5):.0f} ms  p99 {ms(evicted, 0.99):.0f} ms")
    print(f"rss_kib_per_trial_engine={engine_1k * 1024 / 1000:.0f}")
    print(f"rss_kib_per_trial_bare={bare_1k * 1024 / 1000:.0f}")
    print(f"rss_ratio_engine_bare={engine_1k / bare_1k:.2f}")
    print(f"rss_mib_open={rss:.0f}")
    print(f"open_trials={open_trials}")
    # The headline figure is named for 10,000 open trials; a smaller run does not claim it.
    print(f"rss_mib_10k={rss:.0f}" if open_trials == 10_000 else "rss_mib_10k=not measured (fewer open trials)")
    print(f"evicted_command_p99_ms={ms(evicted, 0.99):.0f}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*args))
