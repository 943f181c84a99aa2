"""Command latency as users feel it: an open-loop load (Poisson arrivals at an offered rate, each command sent
when it is due, whether or not the earlier ones have answered), on the engine as separate processes (the dev
server, one `styletrial worker`, the API), quiet and while a burst of trials is started at once.

    .venv/bin/python -m bench.bench_open_loop [seconds per rate] [burst starts]

A closed loop of N clients measures the machine's capacity, not latency (latency = clients / throughput);
fulfilment traffic arrives at its own rate. Each command is a keep/return decision on a piece of one of the
30-piece trials opened (and delivered) before the run: an update through the trial's workflow, validated,
applied and projected, answered with the trial. Rates 5, 10, 15, 20, 30 commands/s, `seconds` each; then 10
commands/s while `burst` trials (default 150) are started at once. Prints the curve (p50 / p99 per rate) and
ends with `capacity_commands_per_s=` (the highest offered rate whose p99 stays under 300 ms) and
`burst_command_p99_ms=`.
"""

import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from domain.examples import order
from soak.processes import TOKENS, Stack

F = {"Authorization": f"Bearer {next(t for t, r in TOKENS.items() if r == 'fulfilment')}"}
RATES = (5, 10, 15, 20, 30)
P99_GOAL_MS = 300.0


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


async def _open(api: httpx.AsyncClient, n: int) -> list[str]:
    """`n` 30-piece trials, authorized, dispatched and delivered: on trial, ready for decisions."""
    orders = [order(30) for _ in range(n)]
    for o in orders:
        r = await api.post("/v1/trials", json=o.model_dump(mode="json"), headers=F)
        assert r.status_code == 201, r.text
    for o in orders:
        base = f"/v1/trials/{o.order_id}"
        for _ in range(600):
            if (await api.get(base, headers=F)).json()["status"] == "AWAITING_DISPATCH":
                break
            await asyncio.sleep(0.1)
        parcel = {"carrier": "DHL", "tracking_number": "T1", "piece_ids": [f"p{i}" for i in range(1, 31)]}
        assert (await api.post(f"{base}/dispatch", json={"parcels": [parcel]}, headers=F)).status_code == 200
        assert (await api.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F)).status_code == 200
    return [o.order_id for o in orders]


async def _offer(
    api: httpx.AsyncClient, trials: list[str], rate: float, seconds: float, rng: random.Random
) -> list[float]:
    """Commands at Poisson arrivals of `rate` per second for `seconds`; each answered one's latency in ms."""
    latencies: list[float] = []

    async def one(oid: str, piece: str, decision: str) -> None:
        body = {"decisions": [{"piece_id": piece, "decision": decision}], "actor": "client", "channel": "app"}
        t0 = time.perf_counter()
        try:
            r = await api.post(f"/v1/trials/{oid}/decisions", json=body, headers=F)
        except httpx.HTTPError:  # a keep-alive connection the server closed as it was reused: not counted
            return
        if r.status_code == 200:
            latencies.append((time.perf_counter() - t0) * 1000)

    tasks = []
    start = time.perf_counter()
    at = 0.0
    while True:
        at += rng.expovariate(rate)
        if at > seconds:
            break
        await asyncio.sleep(max(0.0, start + at - time.perf_counter()))
        oid, piece = rng.choice(trials), f"p{rng.randint(1, 30)}"
        tasks.append(asyncio.create_task(one(oid, piece, rng.choice(["keep", "return"]))))
    await asyncio.gather(*tasks)
    return latencies


async def main(seconds: float = 15, burst: int = 150) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-open-loop-"))
    stack = Stack(root, time_scale=1, workers=1)
    stack.start()
    rng = random.Random(3)
    try:
        limits = httpx.Limits(max_connections=400, max_keepalive_connections=100)
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=60, limits=limits) as api:
            trials = await _open(api, 30)
            await _offer(api, trials, 5, 3, rng)  # warm up
            print(f"open loop on {len(trials)} trials on trial, {seconds:g} s per rate (decisions, one piece each)")
            capacity = 0
            for rate in RATES:
                lat = await _offer(api, trials, rate, seconds, rng)
                p50, p99 = statistics.median(lat), p(lat, 0.99)
                print(f"  quiet {rate:>3}/s: {len(lat):>5} commands  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms")
                if p99 < P99_GOAL_MS:
                    capacity = rate
            # A burst: `burst` trials started at once (a warehouse wave), commands at 10/s meanwhile.
            starts = [order(30) for _ in range(burst)]

            async def start_all() -> None:
                await asyncio.sleep(1)
                await asyncio.gather(
                    *(api.post("/v1/trials", json=o.model_dump(mode="json"), headers=F) for o in starts)
                )

            burster = asyncio.create_task(start_all())
            lat = await _offer(api, trials, 10, max(seconds, 20), rng)
            await burster
            burst_p99 = p(lat, 0.99)
            print(
                f"  burst  10/s with {burst} starts: {len(lat):>5} commands  p50 {statistics.median(lat):7.1f} ms  p99 {burst_p99:7.1f} ms"
            )
            print(f"capacity_commands_per_s={capacity}")
            print(f"burst_command_p99_ms={burst_p99:.0f}")
    finally:
        stack.stop()


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(float(args[0]) if args else 15, int(args[1]) if len(args) > 1 else 150))
