"""A worker whose cached trial went stale while another worker ran it (docs/durability.md, "A stale cache
after a server restart"), reproduced step by step instead of waiting for a fault campaign to hit it:

1. worker A runs the trial and keeps it cached;
2. A stops answering (SIGSTOP), and the server forgets the trial's sticky worker (`ResetStickyTaskQueue`,
   what a server restart does);
3. worker B takes the next task from the shared queue, accepts an update (a decision) and runs the trial on;
4. B is killed, and A comes back with its cache as it was before B;
5. the next task waits out B's sticky queue and reaches A with the whole history.

The trial must go on with no workflow task failing, and its history must replay.
"""

import asyncio
import contextlib
import dataclasses
import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import ResetStickyTaskQueueRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from bootstrap import codec, connect
from config import Settings
from soak.processes import TOKENS, Stack
from tests.waiting import eventually
from workflows.style_trial import StyleTrialWorkflow

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(240)]
AS = {role: {"Authorization": f"Bearer {token}"} for token, role in TOKENS.items()}


async def _view(http: httpx.AsyncClient, oid: str) -> dict[str, Any]:
    return dict((await http.get(f"/v1/trials/{oid}", headers=AS["read"])).json())


async def _worker_identities(handle: Any) -> list[str]:
    history = await handle.fetch_history()
    return [
        e.workflow_task_started_event_attributes.identity
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
    ]


async def test_a_worker_whose_cached_trial_went_stale_carries_it_on_without_a_failed_task(tmp_path: Path):
    # A long trial (days of a minute): only the commands move it.
    stack = Stack(tmp_path, time_scale=1440.0, workers=1)
    stack.start()
    a = stack.worker_procs[0]
    assert a is not None
    try:
        client = await connect(Settings(data_dir=tmp_path, temporal_address=stack.address), patience=30)
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as http:
            oid = "stale-1"
            order = {
                "order_id": oid, "currency": "GBP", "payment_method": "pm_card_visa",
                "customer": {"id": "cus-1", "tier": "EIP", "region": "UK"},
                "pieces": [{"piece_id": f"p{i}", "sku": f"SKU-{i}", "description": "Coat", "price": 100_000}
                           for i in range(1, 4)],
            }  # fmt: skip
            assert (await http.post("/v1/trials", json=order, headers=AS["fulfilment"])).status_code == 201
            await eventually(lambda: _awaiting(http, oid), "the trial to open", 60, every=0.2)
            base = f"/v1/trials/{oid}"
            parcel = {"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1", "p2", "p3"]}
            assert (
                await http.post(f"{base}/dispatch", json={"parcels": [parcel]}, headers=AS["fulfilment"])
            ).is_success
            delivered = await http.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=AS["fulfilment"])
            assert delivered.is_success, delivered.text
            handle = client.get_workflow_handle(f"style-trial-{oid}")
            first = set(await _worker_identities(handle))

            # 2. A stops answering; the server forgets the trial's sticky worker.
            os.kill(a.pid, signal.SIGSTOP)
            await _forget_sticky_worker(client, handle)
            # 3. B takes the next task from the shared queue and accepts an update there.
            stack.start_worker(1)

            def decide(piece: str) -> dict[str, Any]:
                return {"decisions": [{"piece_id": piece, "decision": "keep"}], "actor": "client", "channel": "app"}

            r = await http.post(f"{base}/decisions", json=decide("p1"), headers=AS["fulfilment"])
            assert r.status_code == 200, r.text
            assert set(await _worker_identities(handle)) - first, "B ran a task"
            # 4. B dies; A comes back with its cache from before B.
            stack.kill_worker(1)
            os.kill(a.pid, signal.SIGCONT)
            # 5. The next task waits out B's sticky queue, then reaches A with the whole history.
            r = await http.post(f"{base}/decisions", json=decide("p2"), headers=AS["fulfilment"])
            assert r.status_code in (200, 503), r.text
            await eventually(lambda: _decided(http, oid, 2), "the second decision", 90, every=0.5)
            r = await http.post(f"{base}/decisions", json=decide("p3"), headers=AS["fulfilment"])
            assert r.status_code == 200, r.text

        history = await handle.fetch_history()
        failed = _failed_tasks(history)
        assert not failed, failed
        converter = dataclasses.replace(pydantic_data_converter, payload_codec=codec(Settings(data_dir=tmp_path)))
        replay = await Replayer(workflows=[StyleTrialWorkflow], data_converter=converter).replay_workflow(
            history, raise_on_replay_failure=False
        )
        assert replay.replay_failure is None, replay.replay_failure
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(a.pid, signal.SIGCONT)
        stack.stop()


async def _forget_sticky_worker(client: Any, handle: Any) -> None:
    """What a server restart does to a trial's sticky worker: its next task goes to the shared queue."""
    description = await handle.describe()
    await client.workflow_service.reset_sticky_task_queue(
        ResetStickyTaskQueueRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=handle.id, run_id=description.run_id)
        )
    )


def _failed_tasks(history: Any) -> list[str]:
    return [
        e.workflow_task_failed_event_attributes.failure.message
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    ]


async def _awaiting(http: httpx.AsyncClient, oid: str) -> bool:
    r = await http.get(f"/v1/trials/{oid}", headers=AS["read"])
    return r.status_code == 200 and r.json()["status"] == "AWAITING_DISPATCH"


async def _decided(http: httpx.AsyncClient, oid: str, count: int) -> bool:
    view = await _view(http, oid)
    return sum(p["decision"] is not None for p in view.get("pieces", [])) >= count


async def test_the_campaign_s_stale_cache_sequence_step_by_step(tmp_path: Path):
    """The fault campaign's case as its history tells it (tests/histories/failover/style-trial-soak2s-
    f6f026ec60.json): A decided and took a return; B, after the sticky queue was forgotten, inspected pieces
    (search attributes upserted), took another return and inspected again over five tasks; B died; the trial's
    timer fired meanwhile, and that task reached A with the whole history."""
    day = 4.0  # seconds: the trial ends 28 s after delivery, while B is dead
    stack = Stack(tmp_path, time_scale=86_400 / day, workers=1)
    stack.start()
    a = stack.worker_procs[0]
    assert a is not None
    try:
        client = await connect(Settings(data_dir=tmp_path, temporal_address=stack.address), patience=30)
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as http:
            oid = "stale-2"
            pieces = [f"p{i}" for i in range(1, 5)]
            order = {
                "order_id": oid, "currency": "GBP", "payment_method": "pm_card_visa",
                "customer": {"id": "cus-1", "tier": "EIP", "region": "UK"},
                "pieces": [{"piece_id": p, "sku": f"SKU-{p}", "description": "Coat", "price": 100_000} for p in pieces],
            }  # fmt: skip
            F = AS["fulfilment"]
            assert (await http.post("/v1/trials", json=order, headers=F)).status_code == 201
            await eventually(lambda: _awaiting(http, oid), "the trial to open", 60, every=0.2)
            base = f"/v1/trials/{oid}"

            async def send(path: str, body: dict[str, Any]) -> None:
                r = await http.post(f"{base}/{path}", json=body, headers=F)
                assert r.status_code == 200, (path, r.text)

            await send("dispatch", {"parcels": [{"carrier": "DHL", "tracking_number": "T1", "piece_ids": pieces}]})
            await send("delivery", {"tracking_number": "T1"})
            await send("decisions", {"decisions": [{"piece_id": p, "decision": "return"} for p in pieces],
                                     "actor": "client", "channel": "app"})  # fmt: skip
            await send("returns", {"piece_ids": ["p1", "p2"], "carrier": "DHL", "tracking_number": "R1"})
            handle = client.get_workflow_handle(f"style-trial-{oid}")
            os.kill(a.pid, signal.SIGSTOP)
            await _forget_sticky_worker(client, handle)
            stack.start_worker(1)
            await send("inspections", {"piece_id": "p1", "condition": "ok"})
            await send("inspections", {"piece_id": "p2", "condition": "ok"})
            await send("returns", {"piece_ids": ["p3", "p4"], "carrier": "DHL", "tracking_number": "R2"})
            await send("inspections", {"piece_id": "p3", "condition": "ok"})
            stack.kill_worker(1)
            os.kill(a.pid, signal.SIGCONT)
            # Staff keep the trial open in the UI, which queries it: with B dead, the queries reach A.
            staff = asyncio.create_task(_keep_querying(handle))
            # The trial's end (a timer) falls while B is dead; its task reaches A once B's sticky queue times out.
            await eventually(lambda: _status_not(http, oid, "ON_TRIAL"), "the trial's end to be handled", 120, 0.5)
            staff.cancel()
            await send("inspections", {"piece_id": "p4", "condition": "ok"})

        history = await handle.fetch_history()
        failed = _failed_tasks(history)
        assert not failed, failed
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(a.pid, signal.SIGCONT)
        stack.stop()


async def _keep_querying(handle: Any) -> None:
    while True:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(handle.query("__temporal_workflow_metadata"), 15)
        await asyncio.sleep(0.3)


async def _status_not(http: httpx.AsyncClient, oid: str, status: str) -> bool:
    return (await _view(http, oid)).get("status") not in (status, None)
