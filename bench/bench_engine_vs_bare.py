"""Throughput of the engine next to a bare workflow of the same shape (bench/bare.py), on one dev server.

Both run with the production wiring: the codec, the engine's SQLite read model and simulated gateway, one
worker each in this process. Each trial: start, wait until it is accepted, dispatch in 2 parcels, 2
deliveries, 30 decisions, finish early (and the settlement that follows). Batches alternate engine, bare,
engine, bare... so that drift on a shared machine hits both alike; the ratio is taken per pair.

    .venv/bin/python -m bench.bench_engine_vs_bare [pairs] [trials_per_batch] [concurrency]

A third batch in each round runs the engine in the SDK's workflow sandbox, to show what the sandbox costs.

Where each one's CPU goes is read per thread from /proc and summed by kind of thread: the event loop (the
load, the workers' async activities, the codec, the API's in-place reads), the default executor (`asyncio_`:
the activities' database work in threads), the SDK's workflow threads and its Rust core (`tokio-rt-worker`).

Ends with `engine_trials_per_s=`, `bare_trials_per_s=` and `ratio_engine_bare=` (median of the pairs).
"""

import asyncio
import collections
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic import BaseModel
from temporalio.client import Client

from application.trials import TrialService
from bench.bare import BareStart, BareTrial, Shape, bare_worker
from bench.dev import dev_server
from bootstrap import build_worker, data_converter, default_adapters
from config import Settings
from domain import commands as cmd
from domain.examples import decisions, order, parcels
from domain.status import TrialStatus
from domain.workflow_io import StartTrial
from persistence.migrate import upgrade


def script(ids: list[str]) -> list[tuple[str, BaseModel]]:
    return [
        ("dispatch", parcels([ids[:15], ids[15:]])),
        ("deliver", cmd.Delivery(tracking_number="TRK1")),
        ("deliver", cmd.Delivery(tracking_number="TRK2")),
        ("decide", decisions(keep=ids[:10], ret=ids[10:])),
        ("finish_early", cmd.FinishEarly(actor="client")),
    ]


async def engine_trial(trials: TrialService) -> str:
    """Through the calls the HTTP API makes: reads and answers are the read model's JSON as stored (`read_json`,
    `send_json`), which the API sends without validating it again. (Until 7 Dec 2026 this load validated
    the whole view after every command and on every poll, which is a client's choice, not the engine's work:
    about a quarter of the engine batch's CPU.)"""
    o = order(30)
    await trials.start(StartTrial(order=o))
    while json.loads(await trials.read_json(o.order_id))["status"] != TrialStatus.AWAITING_DISPATCH:
        await asyncio.sleep(0.01)
    for _, command in script([p.piece_id for p in o.pieces]):
        await trials.send_json(o.order_id, command)
    return o.order_id


async def bare_trial(client: Client, queue: str, shape: Shape) -> None:
    o = order(30)
    handle = await client.start_workflow(
        BareTrial.run, BareStart(start=StartTrial(order=o), shape=shape), id=f"bare-{o.order_id}", task_queue=queue
    )
    while await handle.query(BareTrial.status) != TrialStatus.AWAITING_DISPATCH:
        await asyncio.sleep(0.01)
    for name, command in script([p.piece_id for p in o.pieces]):
        await handle.execute_update(name, command)


def thread_cpu() -> collections.Counter[str]:
    """CPU milliseconds so far of each kind of thread in this process (Linux /proc), by the thread's name without
    its number: what a batch adds to each tells where its CPU went."""
    tick = os.sysconf("SC_CLK_TCK")
    names = {t.native_id: t.name for t in threading.enumerate()}
    used: collections.Counter[str] = collections.Counter()
    for tid in os.listdir("/proc/self/task"):
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
            comm = Path(f"/proc/self/task/{tid}/comm").read_text().strip()
        except FileNotFoundError:
            continue  # the thread ended meanwhile
        utime, stime = stat.rsplit(")", 1)[1].split()[11:13]
        name = "event loop" if int(tid) == os.getpid() else names.get(int(tid), comm)
        used[name.rstrip("0123456789_-").removesuffix("ThreadPoolExecutor-")] += (
            (int(utime) + int(stime)) * 1000 // tick
        )
    return used


def process_cpu_ms() -> float:
    return time.process_time() * 1000


async def batch(
    trial: Callable[[], Awaitable[object]], n: int, concurrency: int, cpu_ms: Callable[[], float] = process_cpu_ms
) -> tuple[float, float]:
    """Trials per second, and CPU milliseconds per trial as `cpu_ms` counts them (by default this process's:
    workers and clients)."""
    gate = asyncio.Semaphore(concurrency)

    async def guarded() -> None:
        async with gate:
            await trial()

    began, cpu = time.perf_counter(), cpu_ms()
    await asyncio.gather(*(guarded() for _ in range(n)))
    return n / (time.perf_counter() - began), (cpu_ms() - cpu) / n


async def main(pairs: int = 5, n: int = 20, concurrency: int = 10) -> None:
    folder = Path(tempfile.mkdtemp())
    settings = Settings(data_dir=folder)
    upgrade(settings.resolved_database_url)
    env = await dev_server(data_converter(settings))
    engine_queue, bare_queue = f"engine-{uuid.uuid4()}", f"bare-{uuid.uuid4()}"
    sandboxed_queue = f"sandboxed-{uuid.uuid4()}"
    rows: list[tuple[float, float, float, float]] = []
    threads: dict[str, collections.Counter[str]] = {"engine": collections.Counter(), "bare": collections.Counter()}
    in_sandbox: list[tuple[float, float]] = []
    try:
        adapters = default_adapters(settings)
        async with (
            build_worker(env.client, engine_queue, adapters),
            build_worker(env.client, sandboxed_queue, adapters, sandboxed=True),
            bare_worker(env.client, bare_queue),
        ):
            trials = TrialService(env.client, engine_queue, adapters.store)
            sandboxed = TrialService(env.client, sandboxed_queue, adapters.store)
            # The bare workflow copies the engine's shape from a trial of the engine run just now.
            first = await engine_trial(trials)
            shape = Shape.of(await env.client.get_workflow_handle(f"style-trial-{first}").fetch_history())
            print("the shape both follow (activities, local activities, timers per stage):")
            print("  " + ", ".join(f"{s.activities}/{s.local_activities}/{s.timers}" for s in shape.stages))
            await batch(lambda: bare_trial(env.client, bare_queue, shape), concurrency, concurrency)  # warm-up
            for _ in range(pairs):
                before = thread_cpu()
                engine, engine_cpu = await batch(lambda: engine_trial(trials), n, concurrency)
                middle = thread_cpu()
                bare, bare_cpu = await batch(lambda: bare_trial(env.client, bare_queue, shape), n, concurrency)
                threads["engine"] += middle - before
                threads["bare"] += thread_cpu() - middle
                boxed, boxed_cpu = await batch(lambda: engine_trial(sandboxed), n, concurrency)
                rows.append((engine, bare, engine_cpu, bare_cpu))
                in_sandbox.append((boxed, boxed_cpu))
                print(f"  engine {engine:.2f} trials/s ({engine_cpu:.0f} ms CPU each), "
                      f"bare {bare:.2f} trials/s ({bare_cpu:.0f} ms CPU each), ratio {engine / bare:.2f}; "
                      f"engine in the sandbox {boxed:.2f} trials/s ({boxed_cpu:.0f} ms CPU each)")  # fmt: skip
    finally:
        await env.shutdown()
    ratio = statistics.median(e / b for e, b, _, _ in rows)
    cpu_ratio = statistics.median(ec / bc for _, _, ec, bc in rows)
    print(f"engine vs bare, {pairs} interleaved pairs of {n} trials, {concurrency} at a time:")
    print(f"  median ratio of throughput {ratio:.2f}; CPU per trial engine/bare {cpu_ratio:.2f}")
    print(f"  the engine in the workflow sandbox: median {statistics.median(b for b, _ in in_sandbox):.2f} trials/s, "
          f"CPU per trial {statistics.median(c for _, c in in_sandbox):.0f} ms "
          f"(unsandboxed {statistics.median(r[2] for r in rows):.0f} ms)")  # fmt: skip
    print("CPU per trial by kind of thread (ms), all rounds:")
    for kind in sorted(set(threads["engine"]) | set(threads["bare"]), key=lambda k: -threads["engine"][k]):
        engine_ms, bare_ms = (threads[side][kind] / (pairs * n) for side in ("engine", "bare"))
        if engine_ms + bare_ms >= 0.5:
            print(f"  {kind:28s} engine {engine_ms:6.1f}  bare {bare_ms:6.1f}")
    print(f"engine_trials_per_s={statistics.median(r[0] for r in rows):.2f}")
    print(f"bare_trials_per_s={statistics.median(r[1] for r in rows):.2f}")
    print(f"cpu_ratio_engine_bare={cpu_ratio:.2f}")
    print(f"ratio_engine_bare={ratio:.2f}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:4]]
    asyncio.run(main(*args))
