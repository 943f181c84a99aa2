"""Beyond one worker: three `styletrial worker` processes on one dev server share the trials (each trial's
workflow tasks run where the server hands them, and the sticky cache keeps a trial on the worker that has
it), and when one of them dies the others carry its trials to completion, money right. As separate
processes, over HTTP, as a deployment runs."""

import asyncio
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from bootstrap import connect
from config import Settings
from domain.examples import order
from domain.trial import trial_id_for
from soak.processes import TOKENS, Stack
from tests.waiting import eventually

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(240)]
AS = {role: {"Authorization": f"Bearer {token}"} for token, role in TOKENS.items()}
F = AS["fulfilment"]
TRIALS = 12


async def _status(api: httpx.AsyncClient, order_id: str, wanted: str) -> dict[str, Any] | None:
    r = await api.get(f"/v1/trials/{order_id}", headers=AS["read"])
    return r.json() if r.status_code == 200 and r.json()["status"] == wanted else None


async def test_three_workers_share_the_trials_and_finish_them_when_one_dies(tmp_path: Path):
    stack = Stack(tmp_path, time_scale=1, workers=3)
    stack.start()
    try:
        orders = [order(3, price=100_000) for _ in range(TRIALS)]
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as api:
            for o in orders:
                r = await api.post("/v1/trials", json=o.model_dump(mode="json"), headers=F)
                assert r.status_code == 201, r.text
            for o in orders:
                await eventually(partial(_status, api, o.order_id, "AWAITING_DISPATCH"), "the trials to open", 60)
                base = f"/v1/trials/{o.order_id}"
                parcel = {"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1", "p2", "p3"]}
                assert (await api.post(f"{base}/dispatch", json={"parcels": [parcel]}, headers=F)).status_code == 200
            stack.kill_worker(0)  # one worker dies with trials in its cache; the other two go on
            for o in orders:
                base = f"/v1/trials/{o.order_id}"
                assert (
                    await api.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F)
                ).status_code == 200
                decided = {"decisions": [{"piece_id": p, "decision": "keep"} for p in ("p1", "p2", "p3")],
                           "actor": "client", "channel": "app"}  # fmt: skip
                assert (await api.post(f"{base}/decisions", json=decided, headers=F)).status_code == 200
                assert (await api.post(f"{base}/finish", json={}, headers=F)).status_code == 200
            for o in orders:
                done = await eventually(partial(_status, api, o.order_id, "COMPLETED"), "every trial to complete", 90)
                assert done is not None and done["amounts"]["charged"] == 300_000
        # Which worker ran each trial's workflow tasks, from the histories: all three took a share.
        client = await connect(Settings(data_dir=tmp_path, temporal_address=stack.address), patience=10)
        identities: set[str] = set()
        for o in orders:
            history = await client.get_workflow_handle(trial_id_for(o.order_id)).fetch_history()
            identities |= {
                e.workflow_task_completed_event_attributes.identity
                for e in history.events
                if e.HasField("workflow_task_completed_event_attributes")
            }
        assert len(identities) == 3, identities
    finally:
        stack.stop()
        await asyncio.sleep(0)
