"""A deadline that falls due while the trial's worker is dead, and a query (as the Temporal UI makes when
staff open a trial) answered meanwhile by another worker: the trial must carry on, and its history replay.

This is the failover that stopped about one trial in seven with TMPRL1100 before the history clock (see
docs/durability.md): the worker that answered the query applied the fired timer at the clock of the last
task that had started, kept that state, and sent its commands when the real task reached it.
"""

import asyncio
import contextlib
import dataclasses
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from bootstrap import codec, connect
from config import Settings
from soak.processes import TOKENS, Stack
from tests.waiting import eventually
from workflows.style_trial import StyleTrialWorkflow

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(240)]
AS = {role: {"Authorization": f"Bearer {token}"} for token, role in TOKENS.items()}
DAY = 1.0  # one policy day, in seconds


async def _wait(http: httpx.AsyncClient, oid: str, status: str, seconds: float = 60) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        r = await http.get(f"/v1/trials/{oid}", headers=AS["read"])
        return dict(r.json()) if r.status_code == 200 and r.json()["status"] == status else None

    return await eventually(reached, f"{oid} to reach {status}", seconds, every=0.2)


async def _keep_querying(handle: Any) -> None:
    while True:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(handle.query("__temporal_workflow_metadata"), 15)
        await asyncio.sleep(0.3)


async def _sleep_until(moment: datetime) -> None:
    await asyncio.sleep(max(0.0, (moment - datetime.now(moment.tzinfo)).total_seconds()))


@pytest.mark.parametrize(
    "command_meanwhile", [False, True], ids=["deadline only", "a command arrives with the delayed task"]
)
async def test_a_deadline_during_failover_with_a_query_on_another_worker(tmp_path: Path, command_meanwhile: bool):
    """With a command meanwhile, the query's replay used to split the delayed task in two: the command was
    ordered after what that replay decided, while a later replay orders it first (found by the soak)."""
    stack = Stack(tmp_path, time_scale=86_400 / DAY, workers=1)
    stack.start()
    try:
        client = await connect(Settings(data_dir=tmp_path, temporal_address=stack.address), patience=30)
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=40) as http:
            oid = "failover-1"
            order = {
                "order_id": oid, "currency": "GBP", "payment_method": "pm_card_visa",
                "customer": {"id": "cus-1", "tier": "EIP", "region": "UK"},
                "pieces": [
                    {"piece_id": "p1", "sku": "SKU-1", "description": "Coat", "price": 250_000},
                    {"piece_id": "p2", "sku": "SKU-2", "description": "Scarf", "price": 40_000},
                ],
            }  # fmt: skip
            assert (await http.post("/v1/trials", json=order, headers=AS["fulfilment"])).status_code == 201
            await _wait(http, oid, "AWAITING_DISPATCH")
            base = f"/v1/trials/{oid}"
            parcel = {"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1", "p2"]}
            await http.post(f"{base}/dispatch", json={"parcels": [parcel]}, headers=AS["fulfilment"])
            await http.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=AS["fulfilment"])
            decide = {
                "decisions": [{"piece_id": "p1", "decision": "keep"}, {"piece_id": "p2", "decision": "return"}],
                "actor": "client", "channel": "app",
            }  # fmt: skip
            view = (await http.post(f"{base}/decisions", json=decide, headers=AS["fulfilment"])).json()
            ends = datetime.fromisoformat(view["trial_ends_at"])

            # The trial's worker dies shortly before the trial ends; another worker is up. Staff keep the
            # trial open in the UI, which queries it: the queries reach the new worker while the tasks for
            # the timers that fire meanwhile still wait on the dead worker's queue.
            await _sleep_until(ends - timedelta(seconds=1.5))
            handle = client.get_workflow_handle(f"style-trial-{oid}")
            stack.kill_worker(0)
            stack.start_worker(1)
            staff = asyncio.create_task(_keep_querying(handle))
            if command_meanwhile:
                # The return is scanned just after the trial ended, while the task waits on the dead queue.
                await _sleep_until(ends + timedelta(seconds=0.5))
                sent = {"piece_ids": ["p2"], "carrier": "DHL", "tracking_number": "R1"}
                r = await http.post(f"{base}/returns", json=sent, headers=AS["fulfilment"])
                assert r.status_code == 200, r.text
                inspected = {"piece_id": "p2", "condition": "ok"}
                assert (await http.post(f"{base}/inspections", json=inspected, headers=AS["fulfilment"])).is_success
            done = await _wait(http, oid, "COMPLETED", 90)
            staff.cancel()
            owed = 250_000 if command_meanwhile else 290_000  # p2 unreturned is kept when never shipped
            assert done["amounts"]["charged"] == owed and done["amounts"]["authorized"] == 0

        history = await handle.fetch_history()
        failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
        assert not [e for e in failed if "Nondeterminism" in e.workflow_task_failed_event_attributes.failure.message]
        converter = dataclasses.replace(pydantic_data_converter, payload_codec=codec(Settings(data_dir=tmp_path)))
        replay = await Replayer(workflows=[StyleTrialWorkflow], data_converter=converter).replay_workflow(
            history, raise_on_replay_failure=False
        )
        assert replay.replay_failure is None, replay.replay_failure
    finally:
        stack.stop()
