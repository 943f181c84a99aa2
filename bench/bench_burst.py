"""A wave of starts against the clients' commands, this code side by side with another checkout: the burst of
`bench_open_loop` alone (10 decisions/s offered at Poisson arrivals for 20 s while 150 30-piece trials are
started at once), each round on fresh processes, the two interleaved A B A B so that the machine's drift
falls on both.

    .venv/bin/python -m bench.bench_burst [rounds] [baseline checkout]

The baseline is a checkout of another commit (`git worktree add /tmp/base <commit>`): its API and worker run
with it on PYTHONPATH, this run's driver and tools are this checkout's. Without one, both sides run this code
(the spread between identical sides). Prints each round (command p50 / p99, when the last start was answered)
and the medians, ending with `burst_p99_ms_this=`, `burst_p99_ms_baseline=` and `burst_p99_ratio=`.
"""

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.bench_open_loop import F, _offer, _open, p
from domain.examples import order
from soak.processes import Stack

STARTS = 150
RATE = 10.0
SECONDS = 20.0


async def _round(pythonpath: str | None, seed: int) -> tuple[float, float, float]:
    """One burst on fresh processes: command p50 and p99 (ms), and seconds until every start was answered."""
    saved = os.environ.get("PYTHONPATH")
    if pythonpath:
        os.environ["PYTHONPATH"] = pythonpath
    stack = Stack(Path(tempfile.mkdtemp(prefix="bench-burst-")), time_scale=1, workers=1)
    try:
        stack.start()
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    rng = random.Random(seed)
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=100)
    try:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=120, limits=limits) as api:
            trials = await _open(api, 30)
            await _offer(api, trials, 5, 3, rng)  # warm up
            starts = [order(30) for _ in range(STARTS)]
            answered = [0.0]

            async def wave() -> None:
                await asyncio.sleep(1)
                t0 = time.perf_counter()
                results = await asyncio.gather(
                    *(api.post("/v1/trials", json=o.model_dump(mode="json"), headers=F) for o in starts),
                    return_exceptions=True,
                )
                answered[0] = time.perf_counter() - t0
                refused = [r for r in results if isinstance(r, BaseException) or r.status_code != 201]
                assert not refused, refused[:1]

            starting = asyncio.create_task(wave())
            latencies = await _offer(api, trials, RATE, SECONDS, rng)
            await starting
            return statistics.median(latencies), p(latencies, 0.99), answered[0]
    finally:
        stack.stop()


async def main(rounds: int = 3, baseline: str | None = None) -> None:
    sides = {"this": None, "baseline": str(Path(baseline).resolve()) if baseline else None}
    rows: dict[str, list[tuple[float, float, float]]] = {name: [] for name in sides}
    print(f"{STARTS} starts at once, {RATE:g} decisions/s for {SECONDS:g} s; baseline: {baseline or 'this code'}")
    for r in range(rounds):
        for name, path in sides.items():
            row = await _round(path, 100 + r)
            rows[name].append(row)
            print(
                f"  round {r} {name:>8}: p50 {row[0]:6.0f} ms  p99 {row[1]:6.0f} ms  starts answered in {row[2]:5.1f} s"
            )
    med = {name: [statistics.median(x[i] for x in rs) for i in range(3)] for name, rs in rows.items()}
    for name, (p50, p99, answered) in med.items():
        print(f"  median {name:>8}: p50 {p50:6.0f} ms  p99 {p99:6.0f} ms  starts answered in {answered:5.1f} s")
    print(f"burst_p99_ms_this={med['this'][1]:.0f}")
    print(f"burst_p99_ms_baseline={med['baseline'][1]:.0f}")
    print(f"burst_p99_ratio={med['this'][1] / med['baseline'][1]:.2f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3, sys.argv[2] if len(sys.argv) > 2 else None))
