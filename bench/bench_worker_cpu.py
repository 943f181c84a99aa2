"""CPU per trial of the worker alone: the engine's worker (`worker.py`, as deployed: the trial workflow, its
activities, the read model's projections, the ledger, the simulated gateway's book, and the worker's own
background loops) next to the bare workflow's worker (`bench/bare.py`), each in its own process on one dev
server, with the load sent from this process.

    .venv/bin/python -m bench.bench_worker_cpu [rounds] [trials_per_batch] [concurrency]

`bench_engine_vs_bare` runs workers and load in one process, so its CPU per trial also counts the load:
the engine's clients reading the read model after every command and polling it until a trial is accepted,
which is a caller's work, not the engine's (and was about half of that process's event loop). Here each
worker's CPU is read from /proc before and after each batch. Each trial: start, wait until accepted (the
engine's from the read model, as the API reads it; the bare one's by an update that answers once its start
stage has run, one workflow task more for the bare worker), dispatch in 2 parcels, 2 deliveries, 30
decisions, finish early. Batches alternate engine, bare, engine, bare.

Ends with `worker_cpu_ms_engine=`, `worker_cpu_ms_bare=` and `worker_cpu_ratio_engine_bare=` (median of the
rounds' ratios).
"""

import asyncio
import os
import statistics
import sys
import tempfile
import uuid
from functools import partial
from pathlib import Path

from temporalio.client import Client

from application.trials import TrialService
from bench.bare import BareStart, BareTrial, Shape
from bench.bench_engine_vs_bare import batch, engine_trial, script
from bench.bench_memory import WorkerProcess
from bench.dev import dev_server
from bootstrap import data_converter, default_adapters
from config import Settings
from domain.examples import order
from domain.status import TrialStatus
from domain.workflow_io import StartTrial
from persistence.migrate import upgrade


def cpu_ms(pid: int) -> float:
    """CPU (user and system) a process has used so far, every thread of it."""
    utime, stime = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:13]
    return (int(utime) + int(stime)) * 1000 / os.sysconf("SC_CLK_TCK")


async def bare_trial(client: Client, queue: str, shape: Shape) -> None:
    o = order(30)
    handle = await client.start_workflow(
        BareTrial.run, BareStart(start=StartTrial(order=o), shape=shape), id=f"bare-{o.order_id}", task_queue=queue
    )
    await handle.execute_update("accepted", result_type=TrialStatus)
    for name, command in script([p.piece_id for p in o.pieces]):
        await handle.execute_update(name, command)


async def main(rounds: int = 5, n: int = 20, concurrency: int = 10) -> None:
    folder = Path(tempfile.mkdtemp())
    settings = Settings(data_dir=folder, task_queue=f"engine-{uuid.uuid4()}")
    upgrade(settings.resolved_database_url)
    env = await dev_server(data_converter(settings))
    address = env.client.service_client.config.target_host
    bare_queue = f"bare-{uuid.uuid4()}"
    common = {"STYLETRIAL_TEMPORAL_ADDRESS": address, "STYLETRIAL_DATA_DIR": str(folder)}
    engine = WorkerProcess(["worker.py"], {**common, "STYLETRIAL_TASK_QUEUE": settings.task_queue})
    bare = WorkerProcess(["-m", "bench.bare", bare_queue, "1000"], common)
    engine_cpu, bare_cpu = partial(cpu_ms, engine.proc.pid), partial(cpu_ms, bare.proc.pid)
    rows: list[tuple[float, float, float, float]] = []
    try:
        trials = TrialService(env.client, settings.task_queue, default_adapters(settings).store)
        first = await engine_trial(trials)  # also waits until the engine's worker runs
        shape = Shape.of(await env.client.get_workflow_handle(f"style-trial-{first}").fetch_history())
        await batch(lambda: bare_trial(env.client, bare_queue, shape), concurrency, concurrency, bare_cpu)
        await batch(lambda: engine_trial(trials), concurrency, concurrency, engine_cpu)  # warm both
        print(f"worker CPU per trial, {rounds} rounds of {n} trials, {concurrency} at a time (engine / bare):")
        for _ in range(rounds):
            e_rate, e_cpu = await batch(lambda: engine_trial(trials), n, concurrency, engine_cpu)
            b_rate, b_cpu = await batch(lambda: bare_trial(env.client, bare_queue, shape), n, concurrency, bare_cpu)
            rows.append((e_rate, b_rate, e_cpu, b_cpu))
            print(f"  engine {e_cpu:6.1f} ms ({e_rate:.2f} trials/s)  bare {b_cpu:6.1f} ms ({b_rate:.2f} trials/s)  "
                  f"ratio {e_cpu / b_cpu:.2f}")  # fmt: skip
    finally:
        engine.stop()
        bare.stop()
        await env.shutdown()
    print(f"worker_cpu_ms_engine={statistics.median(r[2] for r in rows):.1f}")
    print(f"worker_cpu_ms_bare={statistics.median(r[3] for r in rows):.1f}")
    print(f"worker_cpu_ratio_engine_bare={statistics.median(r[2] / r[3] for r in rows):.2f}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:4]]
    asyncio.run(main(*args))
