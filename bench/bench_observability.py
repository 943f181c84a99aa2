"""What watching the API costs: GET one trial under wrk, without and with the observability layer.

    .venv/bin/python -m bench.bench_observability [rounds] [seconds]

Three API processes on the same read model, built the same way but for:
- `plain`: no request middleware (the baseline);
- `metrics`: the request middleware (X-Request-ID, the latency histogram by route; `api/observe.py`), as
  every deployment runs;
- `traced`: that, and the FastAPI tracing instrumentation with spans batched to an exporter that drops
  them: what a process with STYLETRIAL_OTLP_ENDPOINT pays before the collector.
They are measured in turn, rotating the order each round, `rounds` times for `seconds` each, with Debian's
wrk at 50 connections, so that drift on the shared machine hits all alike. Reports the medians and ends
with `observability_metrics_rps_ratio=` and `observability_traced_rps_ratio=` (against plain).
"""

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.stats import wrk
from domain.examples import order
from domain.policy import TrialPolicy
from domain.trial import Trial
from domain.view import view_of
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import SqlStore

TOKEN = "bench-read-token"
VARIANTS = ["plain", "metrics", "traced"]
SERVER = """
import sys, uvicorn
from typing import Any, cast
from api.app import create_app
from bootstrap import _settle_garbage_collector
from application.trials import TrialService
from application.door import Application
from domain.policy import PolicyTable, TrialPolicy
from persistence.db import make_engine
from persistence.store import SqlStore

url, port, variant, token = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
store = SqlStore(make_engine(url))
none = cast(Any, None)  # reads come from the read model: no Temporal needed
app = create_app(Application(none, TrialService(none, "bench", store), store, PolicyTable(base=TrialPolicy())),
                 tokens={token: "read"})
if variant == "traced":
    # As with STYLETRIAL_OTLP_ENDPOINT set, but exporting nowhere: what the process pays before the collector.
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from observability.tracing import instrument_api

    class Nowhere(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Nowhere()))
    instrument_api(app, provider)
if variant == "plain":
    app.user_middleware = [m for m in app.user_middleware if m.cls.__name__ != "RequestContext"]
_settle_garbage_collector(young_collections_rare=True)
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reads(port: int, script: Path, seconds: int) -> dict[str, float]:
    figures = wrk(
        f"http://127.0.0.1:{port}/", connections=50, seconds=seconds,
        options=["-s", str(script), "-H", f"Authorization: Bearer {TOKEN}"],
    )  # fmt: skip
    return {"rps": figures["rps"], "p50": figures["50%"], "p99": figures["99%"]}


def main(rounds: int = 5, seconds: int = 8) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    folder = Path(tempfile.mkdtemp(prefix="bench-obs-"))
    url = f"sqlite:///{folder / 'reads.sqlite'}"
    upgrade(url)
    store = SqlStore(make_engine(url))
    orders = []
    for _ in range(200):
        o = order(30)
        store.project(1, view_of(Trial(o, TrialPolicy(), datetime.now(UTC))))
        orders.append(o.order_id)
    script = folder / "reads.lua"
    paths = ", ".join(json.dumps(f"/v1/trials/{o}") for o in orders)
    script.write_text(
        f"local paths = {{{paths}}}\nrequest = function() return wrk.format('GET', paths[math.random(#paths)]) end\n"
    )
    servers = {}
    for name in VARIANTS:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-c", SERVER, url, str(port), name, TOKEN], start_new_session=True)
        servers[name] = (port, proc)
    try:
        for port, _ in servers.values():
            deadline = time.monotonic() + 30
            while True:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("an API did not start")
                time.sleep(0.2)
        for port, _ in servers.values():
            reads(port, script, 2)  # warm up
        results: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
        for i in range(rounds):
            for name in VARIANTS[i % 3 :] + VARIANTS[: i % 3]:
                results[name].append(reads(servers[name][0], script, seconds))
                r = results[name][-1]
                print(
                    f"  round {i + 1} {name:<8} {r['rps']:7.0f} req/s  p50 {r['p50']:5.1f} ms  p99 {r['p99']:5.1f} ms",
                    flush=True,
                )
    finally:
        for _, proc in servers.values():
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
    med = {n: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p99")} for n, rs in results.items()}
    for name, m in med.items():
        print(f"{name:<8} median {m['rps']:.0f} req/s, p50 {m['p50']:.1f} ms, p99 {m['p99']:.1f} ms")
    for name in ("metrics", "traced"):
        print(f"observability_{name}_rps_ratio={med[name]['rps'] / med['plain']['rps']:.3f}")
        print(f"observability_{name}_p99_ms={med[name]['p99']:.1f}")
    print(f"plain_read_p99_ms={med['plain']['p99']:.1f}")


if __name__ == "__main__":
    main(*[int(a) for a in sys.argv[1:3]])
