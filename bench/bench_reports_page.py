"""`/healthz` while the charts page renders: the API in its own process (uvicorn), this load generator in
another, on a SQLite read model made as the outside probe made it (trials of 30 pieces, each piece by a
designer of its own, so the page has hundreds of designers).

    .venv/bin/python -m bench.bench_reports_page [trials] [rounds]

Three conditions, interleaved round by round (A B C A B C ...), each round 6 s of `/healthz` every 20 ms:
- `idle`: nothing else;
- `page`: 8 readers asking for `/reports` again and again, each for a range of its own so that no cached
  page answers (the worst case: every request a render, one at a time on a thread);
- `on_loop`: the same 8 readers on `/bench/reports-on-loop`, the page as it was rendered before: every
  designer, on the event loop (the bench's server mounts it; it is not a route of the product).

Reports p50/p99 of `/healthz` per condition and the pages rendered, and ends with
`healthz_p99_ms_under_reports=` (the `page` condition).
"""

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx

from bench.stats import ms

AUTH = {"Authorization": "Bearer bench-token"}
READERS = 8
ROUND_SECONDS = 6.0
PROBE_EVERY = 0.02


def _fill(url: str, trials: int) -> None:
    from domain.examples import order
    from domain.view import view_of
    from persistence.db import make_engine
    from persistence.migrate import upgrade
    from persistence.store import SqlStore
    from tests.integration.test_reports import decided, designed

    upgrade(url)
    engine = make_engine(url)
    store = SqlStore(engine)
    for i in range(trials):
        o = designed(order(30, order_id=f"b-{i}"), [f"house-{i}-{j}" for j in range(30)])
        choices = [("keep", None) if j % 3 else ("return", "fit") for j in range(30)]
        store.project(1, view_of(decided(o, choices, timedelta(hours=5)).trial))  # type: ignore[arg-type]
    engine.dispose()


def serve(url: str, port: int) -> None:
    """The API process: the product's app (no Temporal needed for these routes), plus the old page."""
    from typing import Any, cast

    import uvicorn
    from fastapi.responses import HTMLResponse

    from api import reports
    from api.app import create_app
    from application.door import Application
    from application.reports import Reports
    from domain.policy import PolicyTable, TrialPolicy
    from persistence.db import make_engine
    from persistence.store import SqlStore

    store = SqlStore(make_engine(url))
    none = cast(Any, None)
    app = create_app(Application(none, none, store, PolicyTable(base=TrialPolicy())), tokens={"bench-token": "read"})

    @app.get("/bench/reports-on-loop")
    async def on_loop(since: date, until: date) -> HTMLResponse:
        first, last, start, end = reports._range(since, until)
        # Every designer (no top N) and on the loop: the page before this release.
        return HTMLResponse(reports.render_page(Reports(store.engine), first, last, start, end, top=100_000))

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


async def _round(http: httpx.AsyncClient, path: str | None, offset: int) -> tuple[list[float], int]:
    stop = time.perf_counter() + ROUND_SECONDS
    rendered = 0

    async def reader(n: int) -> None:
        nonlocal rendered
        k = 0
        while time.perf_counter() < stop:
            k += 1
            since = date(2020, 1, 1) + timedelta(days=(offset * 10_000 + n * 1000 + k) % 2000)
            params = {"since": since.isoformat(), "until": "2030-01-01"}
            r = await http.get(path or "", params=params, headers=AUTH, timeout=120)
            r.raise_for_status()
            rendered += 1

    readers = [asyncio.create_task(reader(n)) for n in range(READERS)] if path else []
    latencies = []
    while time.perf_counter() < stop:
        began = time.perf_counter()
        (await http.get("/healthz", timeout=60)).raise_for_status()
        latencies.append(time.perf_counter() - began)
        await asyncio.sleep(PROBE_EVERY)
    await asyncio.gather(*readers)
    return latencies, rendered


async def measure(base: str, rounds: int) -> dict[str, tuple[list[float], int]]:
    conditions = {"idle": None, "page": "/reports", "on_loop": "/bench/reports-on-loop"}
    results: dict[str, tuple[list[float], int]] = {name: ([], 0) for name in conditions}
    async with httpx.AsyncClient(base_url=base, limits=httpx.Limits(max_connections=32)) as http:
        for i in range(rounds):
            for name, path in conditions.items():
                latencies, rendered = await _round(http, path, i)
                before = results[name]
                results[name] = (before[0] + latencies, before[1] + rendered)
    return results


def main() -> int:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    from bench.bench_api import free_port

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'reports.sqlite'}"
        _fill(url, trials)
        port = free_port()
        code = f"from bench.bench_reports_page import serve; serve({url!r}, {port})"
        server = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": os.getcwd()})
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            page = httpx.get(f"{base}/reports", headers=AUTH, timeout=120)
            old = httpx.get(f"{base}/bench/reports-on-loop", params={"since": "2020-01-01", "until": "2030-01-01"},
                            headers=AUTH, timeout=120)  # fmt: skip
            print(f"{trials} trials of 30 pieces, {trials * 30} designers; page {len(page.content) / 1024:.0f} KiB "
                  f"(before: {len(old.content) / 1024:.0f} KiB)")  # fmt: skip
            results = asyncio.run(measure(base, rounds))
        finally:
            server.terminate()
            server.wait(10)
    print(f"{'condition':<10} {'probes':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'pages':>6}")
    for name, (latencies, rendered) in results.items():
        print(f"{name:<10} {len(latencies):>7} {statistics.median(latencies) * 1000:>8.1f} {ms(latencies, 0.99):>8.1f} "
              f"{max(latencies) * 1000:>8.1f} {rendered:>6}")  # fmt: skip
    print(f"healthz_p99_ms_under_reports={ms(results['page'][0], 0.99):.1f}")
    print(f"healthz_p99_ms_under_reports_on_loop={ms(results['on_loop'][0], 0.99):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
