"""What an operator watches, on the real dev server: one trace from `POST .../decisions` through the update to
the projection activity; Prometheus scrapes during a trial (the engine's figures and the SDK's); and a whole
trial's JSON logs, scanned for the client's personal data and for secrets."""

import io
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.client_messages import ClientMessages
from activities.notifications import RecordingNotifier
from bootstrap import Adapters, build_api, build_worker, engine_metrics, sdk_runtime
from config import Settings
from domain.examples import order
from domain.order import ClientContact, TrialOrder
from domain.policy import TrialPolicy
from domain.trial import trial_id_for
from observability.logs import JsonFormatter
from observability.metrics import API_REQUEST_SECONDS
from observability.tracing import temporal_interceptor, tracer_provider
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import SqlStore
from tests.waiting import eventually
from tests.webhook_receiver import free_port

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(180)]
TOKENS = {"tok-fulfil-0123456789": "fulfilment", "tok-read-0123456789": "read"}
F, R = ({"Authorization": f"Bearer {t}"} for t in TOKENS)


@dataclass
class Stack:
    api: httpx.AsyncClient
    store: SqlStore
    settings: Settings


@asynccontextmanager
async def stack(
    client: Client, tmp_path, provider: TracerProvider | None = None, **settings: object
) -> AsyncIterator[Stack]:
    url = f"sqlite:///{tmp_path / f'obs-{uuid.uuid4().hex[:6]}.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    store = SqlStore(engine)
    config = Settings(task_queue=f"obs-{uuid.uuid4()}", api_tokens=TOKENS, data_dir=tmp_path, **settings)  # type: ignore[arg-type]
    notifier = ClientMessages(RecordingNotifier())
    try:
        async with build_worker(client, config.task_queue, Adapters(store=store, notifier=notifier)):
            app = build_api(config, client, store, tracer_provider=provider)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
                yield Stack(api, store, config)
    finally:
        engine.dispose()


def with_contact(o: TrialOrder) -> TrialOrder:
    contact = ClientContact(channel="email", address="maria.rossi@example.com", locale="it", time_zone="Europe/Rome")
    customer = o.customer.model_copy(update={"contact": contact})
    assert o.shipping_address is not None
    address = o.shipping_address.model_copy(update={"name": "Maria Rossi", "line1": "Via Condotti 12"})
    return o.model_copy(update={"customer": customer, "shipping_address": address})


async def run_trial(api: httpx.AsyncClient, o: TrialOrder, on_trial: Callable[[], object] | None = None) -> None:
    """A 3-piece trial from the order to its charge: keep p1, return p2 and p3."""
    base = f"/v1/trials/{o.order_id}"
    r = await api.post("/v1/trials", json=o.model_dump(mode="json", exclude_none=True), headers=F)
    assert r.status_code == 201, r.text

    async def status_is(status: str) -> bool:
        got = await api.get(base, headers=R)
        return got.status_code == 200 and got.json()["status"] == status

    await eventually(lambda: status_is("AWAITING_DISPATCH"), "the trial to open")
    parcel = {"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1", "p2", "p3"]}
    assert (await api.post(f"{base}/dispatch", json={"parcels": [parcel]}, headers=F)).status_code == 200
    assert (await api.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F)).status_code == 200
    if on_trial is not None:
        await on_trial()  # type: ignore[misc]
    decisions = [{"piece_id": "p1", "decision": "keep"}, {"piece_id": "p2", "decision": "return"},
                 {"piece_id": "p3", "decision": "return"}]  # fmt: skip
    body = {"decisions": decisions, "actor": "client", "channel": "app"}
    assert (await api.post(f"{base}/decisions", json=body, headers=F)).status_code == 200
    assert (await api.post(f"{base}/finish", json={"actor": "client"}, headers=F)).status_code == 200
    back = {"piece_ids": ["p2", "p3"], "carrier": "DHL", "tracking_number": "R1"}
    assert (await api.post(f"{base}/returns", json=back, headers=F)).status_code == 200
    checked = {"inspections": [{"piece_id": p, "condition": "ok"} for p in ("p2", "p3")]}
    assert (await api.post(f"{base}/inspections", json=checked, headers=F)).status_code == 200
    await eventually(lambda: status_is("COMPLETED"), "the trial to complete", seconds=30)


async def test_one_trace_runs_from_the_decisions_request_through_the_update_to_the_projection(
    dev_env: WorkflowEnvironment, tmp_path
):
    exporter = InMemorySpanExporter()
    provider = tracer_provider("test", SimpleSpanProcessor(exporter))
    client = Client(**{**dev_env.client.config(), "interceptors": [temporal_interceptor(provider)]})  # type: ignore[arg-type]
    async with stack(client, tmp_path, provider) as s:
        await run_trial(s.api, order(3))
    spans = exporter.get_finished_spans()
    (request,) = [
        sp for sp in spans
        if sp.name == "POST /v1/trials/{order_id}/decisions" and sp.kind.name == "SERVER"
    ]  # fmt: skip
    trace = [sp for sp in spans if sp.context.trace_id == request.context.trace_id]
    names = {sp.name for sp in trace}
    assert "StartWorkflowUpdate:decide" in names, names
    assert "HandleUpdate:decide" in names, names
    assert {"StartActivity:read_model.project_changes", "RunActivity:read_model.project_changes"} <= names, names
    # One tree: every span of the trace descends from the request's.
    by_id = {sp.context.span_id: sp for sp in trace}
    for sp in trace:
        node = sp
        while node.parent is not None and node.parent.span_id in by_id:
            node = by_id[node.parent.span_id]
        assert node is request, f"{sp.name} is not under the request"
    # Span attributes carry ids, never the body (a decision's actor is a client's choice of words).
    for sp in trace:
        assert "Maria" not in json.dumps(dict(sp.attributes or {}), default=str)


def dispatched() -> float:
    """Dispatch requests answered so far in this process, read without a scrape (which would cache the
    read model's figures for 5 s)."""
    (family,) = API_REQUEST_SECONDS.collect()
    labels = {"route": "/v1/trials/{order_id}/dispatch", "method": "POST", "status": "200"}
    return sum(x.value for x in family.samples if x.name.endswith("_count") and x.labels == labels)


def scrape(port: int) -> dict[str, float]:
    """name{labels} -> value, from a Prometheus text page, with each series' labels in alphabetical order."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            name, _, labels = series.partition("{")
            pairs = sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels))
            key = name + ("{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}" if pairs else "")
            samples[key] = float(value)
    return samples


async def test_prometheus_scrapes_the_engine_and_the_sdk_during_a_trial(dev_env: WorkflowEnvironment, tmp_path):
    metrics, sdk = free_port(), free_port()
    config = Settings(metrics_port=metrics, sdk_metrics_port=sdk)
    # A client on a runtime of its own, as `serve` makes for a worker: the SDK serves its metrics from it.
    client = await Client.connect(
        dev_env.client.service_client.config.target_host, runtime=sdk_runtime(config),
        data_converter=dev_env.client.data_converter,
    )  # fmt: skip
    # A one-second refund window, so that the trial's workflow completes (the SDK's completion metric).
    quick = TrialPolicy(refund_window=timedelta(seconds=1))
    async with stack(client, tmp_path, metrics_port=metrics, policy=quick) as s:
        stop = engine_metrics(s.settings, s.store)
        try:
            o = order(3, currency="EUR", price=150_000)
            route = 'method="POST",route="/v1/trials/{order_id}/dispatch",status="200"'
            dispatches = f"styletrial_api_request_duration_seconds_count{{{route}}}"
            before = dispatched()  # the process's histograms are shared by the tests

            async def while_on_trial() -> None:
                seen = scrape(metrics)
                assert seen['styletrial_trials{status="ON_TRIAL"}'] == 1
                assert seen['styletrial_trials{status="COMPLETED"}'] == 0
                assert seen[dispatches] == before + 1
                assert seen['styletrial_projection_lag_seconds_count{kind="changes"}'] >= 1
                assert seen["process_resident_memory_bytes"] > 0

            await run_trial(s.api, o, while_on_trial)

            async def settled() -> bool:
                seen = scrape(metrics)
                return seen.get('styletrial_settlements_charged_minor_units_total{currency="EUR"}') == 150_000

            # The read model's figures are cached for 5 s: the charge shows up within that.
            await eventually(settled, "the charge in the metrics", seconds=15)
            seen = scrape(metrics)
            assert seen['styletrial_settlements_charged_total{currency="EUR"}'] == 1
            assert seen['styletrial_trials{status="COMPLETED"}'] == 1
            assert seen["styletrial_trials_needing_attention"] == 0
            assert seen["styletrial_dunning_in_progress"] == 0
            # No order id or other per-trial value in any series' labels.
            page = httpx.get(f"http://127.0.0.1:{metrics}/metrics").text
            assert o.order_id not in page
            await client.get_workflow_handle(trial_id_for(o.order_id)).result()
        finally:
            stop()
    sdk_page = httpx.get(f"http://127.0.0.1:{sdk}/metrics", timeout=10).text
    # The names the dashboard and docs/operations.md use: seconds, with Prometheus's suffixes.
    for name in ("temporal_workflow_completed_total", "temporal_activity_execution_latency_seconds_bucket",
                 "temporal_workflow_task_schedule_to_start_latency_seconds_bucket", "temporal_sticky_cache_hit_total"):  # fmt: skip
        assert re.search(rf"^{name}\b", sdk_page, re.M), name


SECRETS_AND_PERSONAL = re.compile(
    r"Maria|Rossi|maria\.rossi@example\.com|Via Condotti|tok-(fulfil|read)-0123456789|pm_card_visa|sk_(test|live)_"
    r"|whsec_|Bearer ",
    re.I,
)


async def test_a_whole_trial_s_json_logs_carry_ids_and_no_personal_data_or_secrets(
    dev_env: WorkflowEnvironment, tmp_path
):
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    # Everything the SDK, uvicorn, SQLAlchemy and our code log, at DEBUG: the most a misconfiguration shows.
    try:
        async with stack(dev_env.client, tmp_path) as s:
            o = with_contact(order(3))
            await run_trial(s.api, o)
            r = await s.api.get(f"/v1/trials/{o.order_id}", headers={**R, "X-Request-ID": "req-from-the-caller-1"})
            assert r.headers["X-Request-ID"] == "req-from-the-caller-1"
            r = await s.api.get(f"/v1/trials/{o.order_id}", headers={**R, "X-Request-ID": "bad id;" * 30})
            assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-ID"])  # a new one, not the caller's
            r = await s.api.get("/v1/nowhere", headers={**R, "X-Request-ID": "req-2"})
            assert r.status_code == 404 and r.headers["X-Request-ID"] == "req-2"
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    records = [json.loads(line) for line in lines.getvalue().splitlines()]  # every line is one JSON object
    assert len(records) > 20
    leaks = [r for r in records if SECRETS_AND_PERSONAL.search(json.dumps(r, ensure_ascii=False))]
    assert not leaks, leaks[:3]
    sent = [r for r in records if r["logger"] == "activities.client_messages" or r["logger"].startswith("activities.")]
    assert sent, "the activities log their work"
    for r in sent:
        assert r["trial_id"].endswith(o.order_id) and r["run_id"] and r["attempt"] >= 1 and r["activity"]
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)


class _Collector:
    """An OTLP/HTTP trace receiver on loopback: what a collector would get from the engine."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        self.spans: list[str] = []
        spans = self.spans

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/v1/traces":
                    request = ExportTraceServiceRequest.FromString(body)
                    spans.extend(s.name for r in request.resource_spans for ss in r.scope_spans for s in ss.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "_Collector":
        import threading

        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()


@pytest.mark.timeout(120)
def test_styletrial_dev_exports_its_traces_to_an_otlp_collector(tmp_path):
    """The wiring of `serve`: with STYLETRIAL_OTLP_ENDPOINT set, the API's and the workflow's spans reach a
    collector over OTLP/HTTP."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from tests.waiting import eventually_sync

    bin_dir = Path(sys.executable).parent
    port, ui, api = free_port(), free_port(), free_port()
    with _Collector() as collector:
        env = {
            **os.environ, "STYLETRIAL_DATA_DIR": str(tmp_path / "data"), "STYLETRIAL_TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
            "STYLETRIAL_TEMPORAL_UI_PORT": str(ui), "STYLETRIAL_API_PORT": str(api),
            "STYLETRIAL_API_TOKENS": json.dumps(TOKENS), "STYLETRIAL_OTLP_ENDPOINT": collector.url,
        }  # fmt: skip
        dev = subprocess.Popen(
            [str(bin_dir / "styletrial"), "dev"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            assert dev.stdout is not None
            while not (line := dev.stdout.readline()).startswith("Ctrl-C"):
                assert line, "styletrial dev exited early"
            o = order(2)

            def started() -> bool:
                try:
                    r = httpx.post(f"http://127.0.0.1:{api}/v1/trials", json=o.model_dump(mode="json"), headers=F)
                except httpx.TransportError:
                    return False
                return r.status_code in (200, 201)

            eventually_sync(started, "the trial to start", 30)

            def exported() -> bool:
                names = set(collector.spans)
                return {"POST /v1/trials", "StartWorkflow:StyleTrial", "RunWorkflow:StyleTrial"} <= names

            eventually_sync(exported, "the spans at the collector (batched: a few seconds)", 30)
        finally:
            dev.send_signal(signal.SIGINT)
            dev.wait(timeout=30)
