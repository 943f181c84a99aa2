"""Beyond one worker: three `styletrial worker` processes on one dev server share the trials (each trial's
workflow tasks run where the server hands them, and the sticky cache keeps a trial on the worker that has
it), and when one of them dies the others carry its trials to completion, money right. As separate
processes, over HTTP, as a deployment runs.

Which worker takes a trial's first task is the server's choice, so the test does not demand that every
worker got one (with 12 trials one of three gets none a few times in a hundred runs); it waits until all
three poll, kills the worker that holds the most trials, and reads from the histories that the trials
were spread and that the dead worker's trials were finished by the others."""

import asyncio
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

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


async def _pollers(client: Client, settings: Settings) -> set[str] | None:
    """The identities of the workers polling the trials' workflow task queue, once there are three."""
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=settings.temporal_namespace,
            task_queue=TaskQueue(name=settings.task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    identities = {p.identity for p in described.pollers}
    return identities if len(identities) == 3 else None


async def _workers_of(client: Client, order_id: str) -> list[str]:
    """The identity of the worker that completed each workflow task of a trial, in history order."""
    history = await client.get_workflow_handle(trial_id_for(order_id)).fetch_history()
    return [
        e.workflow_task_completed_event_attributes.identity
        for e in history.events
        if e.HasField("workflow_task_completed_event_attributes")
    ]


async def test_three_workers_share_the_trials_and_finish_them_when_one_dies(tmp_path: Path):
    stack = Stack(tmp_path, time_scale=1, workers=3)
    stack.start()
    try:
        settings = Settings(data_dir=tmp_path, temporal_address=stack.address)
        client = await connect(settings, patience=10)
        pollers = await eventually(partial(_pollers, client, settings), "all three workers to poll", 60)
        assert pollers is not None
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
            # Who holds each trial now: the worker that completed its latest task (the sticky cache keeps it).
            holder = {o.order_id: (await _workers_of(client, o.order_id))[-1] for o in orders}
            assert len(set(holder.values())) >= 2, f"the server gave every trial to one worker: {holder}"
            [(busiest, _)] = Counter(holder.values()).most_common(1)
            victim = next(i for i, proc in enumerate(stack.worker_procs) if proc and busiest.startswith(f"{proc.pid}@"))
            stack.kill_worker(victim)  # it dies with trials in its cache; the other two go on
            orphans = [order_id for order_id, identity in holder.items() if identity == busiest]
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
        # The dead worker's trials were finished elsewhere: their last task was completed by another worker.
        for order_id in orphans:
            finisher = (await _workers_of(client, order_id))[-1]
            assert finisher != busiest and finisher in pollers, (order_id, finisher)
    finally:
        stack.stop()
        await asyncio.sleep(0)
