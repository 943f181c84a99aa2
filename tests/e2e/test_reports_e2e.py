"""Reporting end to end: trials driven over HTTP on the dev server (designers in the order, reasons in the
decisions), then the reports as JSON, from the command line as CSV, and as the charts page in Chromium with
every request to another host refused."""

import asyncio
import contextlib
import csv
import io
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import async_playwright
from temporalio.testing import WorkflowEnvironment

from activities.notifications import RecordingNotifier
from bootstrap import Adapters, build_api, build_worker
from config import Settings
from domain.examples import order
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import SqlStore
from tests.machine import ensure_debian_package, free_port
from tests.waiting import eventually

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(180)]
TOKENS = {"tok-f": "fulfilment", "tok-r": "read"}
F, R = ({"Authorization": f"Bearer {t}"} for t in TOKENS)
CHROMIUM = "/usr/bin/chromium"
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "reports"
DESIGNERS = ["Loro Piana", "The Row", "Loro Piana"]


async def decided_trial(api: httpx.AsyncClient, region: str, choices: list[dict[str, Any]]) -> None:
    o = order(3)
    body = o.model_dump(mode="json", exclude_none=True)
    for piece, designer in zip(body["pieces"], DESIGNERS, strict=True):
        piece["designer"] = designer
    body["customer"]["region"] = region
    base = f"/v1/trials/{o.order_id}"
    assert (await api.post("/v1/trials", json=body, headers=F)).status_code == 201

    async def accepted() -> bool:
        return bool((await api.get(base, headers=R)).json()["status"] == "AWAITING_DISPATCH")

    await eventually(accepted, "the trial to open")
    parcel = {"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1", "p2", "p3"]}
    assert (await api.post(f"{base}/dispatch", json={"parcels": [parcel]}, headers=F)).status_code == 200
    assert (await api.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F)).status_code == 200
    decided = {"decisions": [{"piece_id": f"p{i}", **c} for i, c in enumerate(choices, 1)], "actor": "client",
               "channel": "app"}  # fmt: skip
    r = await api.post(f"{base}/decisions", json=decided, headers=F)
    assert r.status_code == 200, r.text


async def test_reports_over_http_from_the_cli_and_as_charts_in_the_browser(dev_env: WorkflowEnvironment, tmp_path):
    ensure_debian_package("chromium", CHROMIUM)
    url = f"sqlite:///{tmp_path / 'reports.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    store = SqlStore(engine)
    settings = Settings(task_queue=f"reports-{uuid.uuid4()}", api_tokens=TOKENS, data_dir=tmp_path)
    port = free_port()
    try:
        async with build_worker(
            dev_env.client, settings.task_queue, Adapters(store=store, notifier=RecordingNotifier())
        ):
            app = build_api(settings, dev_env.client, store)
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
            serving = asyncio.create_task(server.serve())
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as api:
                    await eventually(lambda: _up(api), "the API")
                    keep, small, ret = (
                        {"decision": "keep"},
                        {"decision": "return", "reason": "too_small", "feedback": "Tight at the <waist>."},
                        {"decision": "return"},
                    )
                    await decided_trial(api, "UK", [keep, small, keep])
                    await decided_trial(api, "JP", [{"decision": "return", "reason": "colour"}, keep, ret])

                    report = (await api.get("/v1/reports/keep-rate?by=designer", headers=R)).json()
                    rows = {(i["key"], i["currency"]): (i["decided"], i["kept"]) for i in report["items"]}
                    assert rows == {("Loro Piana", "GBP"): (4, 2), ("The Row", "GBP"): (2, 1)}
                    reasons = (await api.get("/v1/reports/return-reasons?by=designer", headers=R)).json()["items"]
                    assert {(i["reason"], i["returned"]) for i in reasons} == {
                        ("too_small", 1),
                        ("colour", 1),
                        ("not_given", 1),
                    }
                    # The voice of the customer: the reasons with their counts, and the clients' words verbatim.
                    voice = (await api.get("/v1/reports/voice?by=designer", headers=R)).json()["items"]
                    loro, row = (next(i for i in voice if i["key"] == k) for k in ("Loro Piana", "The Row"))
                    assert (loro["decided"], loro["returned"], loro["reasons"]) == (4, 2, {"colour": 1, "not_given": 1})
                    assert (row["returned"], row["reasons"]) == (1, {"too_small": 1})
                    assert [q["words"] for q in row["quotes"]] == ["Tight at the <waist>."] and not loro["quotes"]
                    times = (await api.get("/v1/reports/decision-time?by=region", headers=R)).json()["items"]
                    assert {i["key"] for i in times} == {"UK", "JP"} and all(i["average_hours"] >= 0 for i in times)
                    hubs = (await api.get("/v1/reports/attention", headers=R)).json()["items"]
                    assert {i["hub"]: i["open_trials"] for i in hubs} == {"JP": 1, "UK": 1}
                    wrong = await api.get("/v1/reports/keep-rate?since=2026-11-30&until=2026-11-01", headers=R)
                    assert wrong.status_code == 422
                    edge = await api.get("/v1/reports/attention?until=0001-01-01", headers=R)
                    assert edge.status_code == 422 and edge.json()["error"]["code"] == "invalid_request"
                    assert (await api.get("/v1/reports/keep-rate?by=colour", headers=R)).status_code == 422
                    assert (await api.get("/v1/reports/keep-rate")).status_code == 401

                    # The same from the command line, as CSV.
                    cli = subprocess.run(
                        [str(Path(sys.executable).parent / "styletrial"), "report", "keep-rate", "--by", "designer", "--csv"],
                        env={**os.environ, "STYLETRIAL_DATABASE_URL": url}, capture_output=True, text=True, timeout=60,
                    )  # fmt: skip
                    assert cli.returncode == 0, cli.stderr
                    table = list(csv.DictReader(io.StringIO(cli.stdout)))
                    assert {(t["key"], t["kept"]) for t in table} == {("Loro Piana", "2"), ("The Row", "1")}
                    said = subprocess.run(
                        [str(Path(sys.executable).parent / "styletrial"), "report", "voice", "--csv"],
                        env={**os.environ, "STYLETRIAL_DATABASE_URL": url}, capture_output=True, text=True, timeout=60,
                    )  # fmt: skip
                    rows_said = {t["key"]: t for t in csv.DictReader(io.StringIO(said.stdout))}
                    assert rows_said["The Row"]["quotes"] == '"Tight at the <waist>."', said.stdout

                # The charts page, in Chromium, with every request to another host refused.
                OUTPUT.mkdir(parents=True, exist_ok=True)
                outside: list[str] = []
                async with async_playwright() as p:
                    browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
                    page = await browser.new_page(viewport={"width": 1000, "height": 1800})
                    await page.set_extra_http_headers(R)

                    async def only_here(route: Any) -> None:
                        if route.request.url.startswith(f"http://127.0.0.1:{port}"):
                            await route.continue_()
                        else:
                            outside.append(route.request.url)
                            await route.abort()

                    await page.route("**/*", only_here)
                    await page.goto(f"http://127.0.0.1:{port}/reports")
                    charts = await page.locator("figure.chart svg").count()
                    names = await page.locator("figure.chart").evaluate_all("els => els.map(e => e.dataset.chart)")
                    bars = await page.locator("figure[data-chart=keep-rate] svg .rect").count()
                    text = await page.locator("body").inner_text()
                    await page.screenshot(path=str(OUTPUT / "reports.png"), full_page=True)
                    await browser.close()
                assert names == ["keep-rate", "revenue", "reasons", "decision-time", "attention"] and charts == 5
                assert bars >= 2, "a bar per designer"
                assert "Keep rate by designer (GBP)" in text and "Return reasons by designer" in text
                assert "Loro Piana: 2 of 4 returned (colour 1, not given 1)" in text
                assert "\u201cTight at the <waist>.\u201d" in text, "the client's words, shown as written"
                assert not outside, outside
            finally:
                server.should_exit = True
                with contextlib.suppress(asyncio.CancelledError):
                    await serving
    finally:
        engine.dispose()


async def _up(api: httpx.AsyncClient) -> bool:
    try:
        return (await api.get("/healthz")).status_code == 200
    except httpx.TransportError:
        return False
