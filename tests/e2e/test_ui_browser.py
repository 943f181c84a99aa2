"""The Temporal UI as staff use it, in headless Debian Chromium driven by Playwright (never a downloaded
browser): find a trial by StyleTrialStatus, open it, read its summary, its per-piece details and its
search attributes, and see the order's payload decoded only because the UI calls our codec server."""

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.examples import order
from tests.machine import ensure_debian_package, free_port
from tests.waiting import eventually

pytestmark = pytest.mark.devserver
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "ui"
TOKENS = {"ui-f": "fulfilment", "ui-s": "support"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    ensure_debian_package("chromium", CHROMIUM)
    port, ui, api = free_port(), free_port(), free_port()
    env = {
        **os.environ, "STYLETRIAL_DATA_DIR": str(tmp_path_factory.mktemp("ui") / "data"),
        "STYLETRIAL_TEMPORAL_ADDRESS": f"127.0.0.1:{port}", "STYLETRIAL_TEMPORAL_UI_PORT": str(ui),
        "STYLETRIAL_API_PORT": str(api), "STYLETRIAL_API_TOKENS": json.dumps(TOKENS), "STYLETRIAL_TASK_QUEUE": "ui",
    }  # fmt: skip
    proc = subprocess.Popen(
        [str(BIN / "styletrial"), "dev"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    while not (line := proc.stdout.readline()).startswith("Ctrl-C"):
        assert line, "styletrial dev exited early"
    yield {"api": f"http://127.0.0.1:{api}", "ui": f"http://127.0.0.1:{ui}", "temporal": f"127.0.0.1:{port}"}
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)


async def trial_on_trial(api: str) -> str:
    o = order(3)
    headers = {"Authorization": "Bearer ui-f"}
    async with httpx.AsyncClient(base_url=api, headers=headers) as http:

        async def healthy() -> bool:
            try:
                return (await http.get("/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        async def accepted() -> bool:
            return bool((await http.get(f"/v1/trials/{o.order_id}")).json()["status"] == "AWAITING_DISPATCH")

        await eventually(healthy, "the API")
        assert (await http.post("/v1/trials", json=o.model_dump(mode="json"))).status_code == 201
        await eventually(accepted, "acceptance")
        await http.post(
            f"/v1/trials/{o.order_id}/dispatch",
            json={"parcels": [{"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1", "p2", "p3"]}]},
        )
        view = (await http.post(f"/v1/trials/{o.order_id}/delivery", json={"tracking_number": "T1"})).json()
        assert view["status"] == "ON_TRIAL"
    return o.order_id


async def all_text(page: Page) -> str:
    """The page's text including its frames (the UI renders markdown details in sandboxed iframes)."""
    texts = []
    for frame in page.frames:
        try:
            texts.append(await frame.evaluate("document.body ? document.body.innerText : ''"))
        except Exception:  # a frame that navigated away meanwhile
            continue
    return "\n".join(texts)


async def eventually_text(page: Page, *needles: str, seconds: float = 20) -> str:
    async def shown() -> str | None:
        text = await all_text(page)
        return text if all(n in text for n in needles) else None

    return await eventually(shown, f"{needles} on screen", seconds, every=0.25)


async def test_staff_find_and_read_a_trial_in_the_temporal_ui(stack: dict[str, str]):
    oid = await trial_on_trial(stack["api"])
    wid = f"style-trial-{oid}"
    OUTPUT.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-gpu",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = await browser.new_page(viewport={"width": 1500, "height": 1000})

        # Visibility is eventually consistent: reload the filtered list until the trial shows. The list renders
        # a moment after the page loads, so each load waits a few seconds for the link before reloading.
        async def listed() -> bool:
            await page.goto(f"{stack['ui']}/namespaces/default/workflows?query=StyleTrialStatus%3D%22ON_TRIAL%22")
            try:
                await page.get_by_role("link", name=wid).first.wait_for(timeout=5_000)
            except PlaywrightTimeoutError:
                return False
            return True

        await eventually(listed, "the trial in the filtered list", seconds=60, every=0.5)
        await page.screenshot(path=str(OUTPUT / "1-filtered-list.png"))
        await page.get_by_role("link", name=wid).first.click()

        # The input is encrypted in history (checked below); the UI shows the order decoded only because it
        # calls our codec server. (The address lines sit below the fold of a virtualized editor.)
        await eventually_text(page, f'"order_id": "{oid}"', '"tier": "EIP"', '"personal_shopper_id": "ps-07"')
        await page.get_by_role("tab", name="User Metadata").click()
        text = await eventually_text(
            page, f"Order {oid} · 3 pieces · 3,600.00 GBP · EIP", "Current Details", "ON_TRIAL", "Piece 2"
        )
        assert "1,200.00 GBP" in text
        await page.screenshot(path=str(OUTPUT / "2-trial-details.png"))
        await page.get_by_role("tab", name="Search Attributes").click()
        await eventually_text(
            page,
            '"StyleTrialStatus": "ON_TRIAL"',
            '"CustomerId": "cus-0042"',
            '"NeedsAttention": false',
            '"TrialEndsAt"',
        )
        await page.screenshot(path=str(OUTPUT / "3-search-attributes.png"))
        await browser.close()

    # Without the codec, the same history shows ciphertext only: no name, no street.
    plain = await Client.connect(stack["temporal"], data_converter=pydantic_data_converter)
    raw = (await plain.get_workflow_handle(wid).fetch_history()).to_json()
    assert "Client Name" not in raw
    assert "1 Mount St" not in raw
    assert "trial-key" in raw  # sealed with the trial's own data key (metadata names are not base64 in proto JSON)
    if os.environ.get("STYLETRIAL_UPDATE_SCREENSHOT"):
        shutil.copy(
            OUTPUT / "2-trial-details.png", Path(__file__).resolve().parents[2] / "docs" / "temporal-ui-trial.png"
        )


async def test_the_api_docs_render_offline_with_every_route(stack: dict[str, str]):
    """/docs needs nothing but the API: every request to another host is refused, and the page still lists the
    routes (it used to load Swagger UI from a CDN)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []

    async def healthy() -> bool:
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"{stack['api']}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(healthy, "the API")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = await browser.new_page(viewport={"width": 1300, "height": 1000})

        async def only_loopback(route: Any) -> None:
            if route.request.url.startswith(stack["api"]):
                await route.continue_()
            else:
                outside.append(route.request.url)
                await route.abort()

        await page.route("**/*", only_loopback)
        await page.goto(f"{stack['api']}/docs")
        # Swagger UI marks each operation with its path (and breaks the shown path with zero-width spaces).
        await page.locator('[data-path="/v1/trials/{order_id}/decisions"]').first.wait_for(timeout=15_000)
        text = (await all_text(page)).replace("\u200b", "")
        await page.screenshot(path=str(OUTPUT / "api-docs.png"))
        await browser.close()
    for route in ("/v1/trials", "/v1/trials/{order_id}", "/v1/trials/{order_id}/dispatch", "/v1/webhooks", "/readyz"):
        assert route in text, route
    assert "Style Trial" in text
    assert not outside, outside
