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
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import ResetStickyTaskQueueRequest
from temporalio.contrib.pydantic import pydantic_data_converter

from bootstrap import codec, connect
from config import Settings
from soak.processes import TOKENS, Stack
from tests.e2e.test_failover import _keep_querying
from tests.support import assert_ran_clean_and_replays
from tests.waiting import eventually

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(240)]
AS = {role: {"Authorization": f"Bearer {token}"} for token, role in TOKENS.items()}


F = AS["fulfilment"]


@dataclass
class World:
    stack: Stack
    client: Any
    http: httpx.AsyncClient
    oid: str

    @property
    def handle(self) -> Any:
        return self.client.get_workflow_handle(f"style-trial-{self.oid}")

    async def send(self, path: str, body: dict[str, Any], ok: tuple[int, ...] = (200,)) -> None:
        r = await self.http.post(f"/v1/trials/{self.oid}/{path}", json=body, headers=F)
        assert r.status_code in ok, (path, r.text)

    async def view(self) -> dict[str, Any]:
        return dict((await self.http.get(f"/v1/trials/{self.oid}", headers=AS["read"])).json())

    async def keep(self, piece: str, ok: tuple[int, ...] = (200,)) -> None:
        """The client keeps `piece` (a decision: one Temporal update)."""
        body = {"decisions": [{"piece_id": piece, "decision": "keep"}], "actor": "client", "channel": "app"}
        await self.send("decisions", body, ok)

    async def wait_decided(self, count: int) -> None:
        async def decided() -> bool:
            return sum(p["decision"] is not None for p in (await self.view()).get("pieces", [])) >= count

        await eventually(decided, f"{count} decisions", 90, every=0.5)

    def freeze_a_and_start_b(self) -> None:
        self.stack.stall_worker(0)
        self.stack.start_worker(1)

    def kill_b_and_thaw_a(self) -> None:
        self.stack.kill_worker(1)
        self.stack.resume_worker(0)


def _order(oid: str, pieces: list[str], price: int = 100_000) -> dict[str, Any]:
    return {
        "order_id": oid, "currency": "GBP", "payment_method": "pm_card_visa",
        "customer": {"id": "cus-1", "tier": "EIP", "region": "UK"},
        "pieces": [{"piece_id": p, "sku": f"SKU-{p}", "description": "Coat", "price": price} for p in pieces],
    }  # fmt: skip


@contextlib.asynccontextmanager
async def _trial_on_worker_a(tmp_path: Path, oid: str, pieces: list[str], day_seconds: float) -> AsyncIterator[World]:
    """The processes (dev server, API, worker A), and a trial of `pieces` opened, dispatched and delivered on A.
    Afterwards every workflow task of it must have succeeded, and its history must replay."""
    stack = Stack(tmp_path, time_scale=86_400 / day_seconds, workers=1)
    stack.start()
    try:
        client = await connect(Settings(data_dir=tmp_path, temporal_address=stack.address), patience=30)
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as http:
            world = World(stack, client, http, oid)
            assert (await http.post("/v1/trials", json=_order(oid, pieces), headers=F)).status_code == 201

            async def awaiting_dispatch() -> bool:
                return (await world.view()).get("status") == "AWAITING_DISPATCH"

            await eventually(awaiting_dispatch, "the trial to open", 60, every=0.2)
            await world.send(
                "dispatch", {"parcels": [{"carrier": "DHL", "tracking_number": "T1", "piece_ids": pieces}]}
            )
            await world.send("delivery", {"tracking_number": "T1"})
            yield world
        converter = dataclasses.replace(pydantic_data_converter, payload_codec=codec(Settings(data_dir=tmp_path)))
        await assert_ran_clean_and_replays(await world.handle.fetch_history(), converter)
    finally:
        stack.resume_worker(0)
        stack.stop()


async def test_a_worker_whose_cached_trial_went_stale_carries_it_on_without_a_failed_task(tmp_path: Path):
    # A long trial (days of a minute): only the commands move it.
    async with _trial_on_worker_a(tmp_path, "stale-1", ["p1", "p2", "p3"], day_seconds=60.0) as w:
        await _a_goes_stale_while_b_decides(w)
        await w.keep("p3")


async def _a_goes_stale_while_b_decides(w: World) -> None:
    """Steps 2 to 5: A frozen and forgotten, B keeps p1 and dies, A thawed; p2 then reaches A."""
    first = set(await _worker_identities(w.handle))
    # 2. A stops answering; the server forgets the trial's sticky worker; 3. B takes the next task from the
    # shared queue and accepts an update there.
    w.freeze_a_and_start_b()
    await _forget_sticky_worker(w.client, w.handle)
    await w.keep("p1")
    assert set(await _worker_identities(w.handle)) - first, "B ran a task"
    # 4. B dies; A comes back with its cache from before B.
    w.kill_b_and_thaw_a()
    # 5. The next task waits out B's sticky queue, then reaches A with the whole history.
    await w.keep("p2", ok=(200, 503))
    await w.wait_decided(2)


async def test_the_campaign_s_stale_cache_sequence_step_by_step(tmp_path: Path):
    """The fault campaign's case as its history tells it (tests/histories/failover/style-trial-soak2s-
    f6f026ec60.json): A decided and took a return; B, after the sticky queue was forgotten, inspected pieces
    (search attributes upserted), took another return and inspected again over five tasks; B died; the trial's
    timer fired meanwhile, and that task reached A with the whole history."""
    pieces = [f"p{i}" for i in range(1, 5)]
    # A day of 4 s: the trial ends 28 s after delivery, while B is dead.
    async with _trial_on_worker_a(tmp_path, "stale-2", pieces, day_seconds=4.0) as w:
        await w.send("decisions", {"decisions": [{"piece_id": p, "decision": "return"} for p in pieces],
                                   "actor": "client", "channel": "app"})  # fmt: skip
        await w.send("returns", {"piece_ids": ["p1", "p2"], "carrier": "DHL", "tracking_number": "R1"})
        w.freeze_a_and_start_b()
        await _forget_sticky_worker(w.client, w.handle)
        await w.send("inspections", {"piece_id": "p1", "condition": "ok"})
        await w.send("inspections", {"piece_id": "p2", "condition": "ok"})
        await w.send("returns", {"piece_ids": ["p3", "p4"], "carrier": "DHL", "tracking_number": "R2"})
        await w.send("inspections", {"piece_id": "p3", "condition": "ok"})
        w.kill_b_and_thaw_a()
        # Staff keep the trial open in the UI, which queries it: with B dead, the queries reach A.
        staff = asyncio.create_task(_keep_querying(w.handle))

        async def ended() -> bool:  # the trial's end (a timer) falls while B is dead
            return (await w.view()).get("status") not in ("ON_TRIAL", None)

        await eventually(ended, "the trial's end to be handled", 120, 0.5)
        staff.cancel()
        await w.send("inspections", {"piece_id": "p4", "condition": "ok"})


async def _worker_identities(handle: Any) -> list[str]:
    return _identities(await handle.fetch_history())


def _identities(history: Any) -> list[str]:
    """The worker of each workflow task that started, in order."""
    return [
        e.workflow_task_started_event_attributes.identity
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
    ]


async def _forget_sticky_worker(client: Any, handle: Any) -> None:
    """What a server restart does to a trial's sticky worker: its next task goes to the shared queue."""
    description = await handle.describe()
    await client.workflow_service.reset_sticky_task_queue(
        ResetStickyTaskQueueRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=handle.id, run_id=description.run_id)
        )
    )


async def test_a_worker_that_only_answered_a_query_carries_the_trial_on_without_a_failed_task(tmp_path: Path):
    """The fourth campaign's case: the failing worker C was a new process that had run no task of the trial,
    only answered a staff query for it (a query replays the trial and leaves it in C's cache); B then accepted
    updates and died, and the next task reached C with the whole history."""
    async with _trial_on_worker_a(tmp_path, "stale-3", ["p1", "p2", "p3"], day_seconds=60.0) as w:
        w.stack.start_worker(2)  # C
        await asyncio.sleep(3)  # C polls
        w.stack.kill_worker(0)  # A gone: its polls end with it
        await _forget_sticky_worker(w.client, w.handle)
        # A query reaches C, the only worker left, which replays the trial and keeps it cached.
        await asyncio.wait_for(w.handle.query("__temporal_workflow_metadata"), 30)
        # C stops answering. Trials opened now take C's outstanding polls, so the decision's task reaches B.
        assert w.stack.stall_worker(2), "C is running"
        try:
            for i in range(6):
                drain = _order(f"drain-{i}", ["p1"], price=100)
                assert (await w.http.post("/v1/trials", json=drain, headers=F)).status_code == 201
            await asyncio.sleep(2)
            before = set(await _worker_identities(w.handle))
            w.stack.start_worker(1)  # B
            await w.keep("p1")
            assert set(await _worker_identities(w.handle)) - before, "B ran a task"
            w.stack.kill_worker(1)
        finally:
            w.stack.resume_worker(2)
        # The next task waits out B's sticky queue, then reaches C with the whole history.
        await w.keep("p2", ok=(200, 503))
        await w.wait_decided(2)


async def test_a_worker_whose_last_task_was_a_refused_update_carries_the_trial_on(tmp_path: Path):
    """A second lead for the campaign's new worker with no task of the trial in its history: a refused update
    leaves no trace in history, yet the worker that refused it ran a (speculative) workflow task of the trial
    and keeps the run cached. A refuses a decision for an unknown piece; then as in the first variant."""
    async with _trial_on_worker_a(tmp_path, "stale-4", ["p1", "p2", "p3"], day_seconds=60.0) as w:
        await w.keep("nope", ok=(409, 422))  # refused by the workflow's validator on A
        await _a_goes_stale_while_b_decides(w)


async def test_a_worker_frozen_while_its_trial_s_reminder_fell_due_carries_it_on(tmp_path: Path):
    """The fifth campaign's case (Stripe, 7 Dec 2026): A ran the trial to a decision, then stopped answering
    (a stall, not a kill) while the server forgot its sticky worker; the trial's reminder timer fired and B
    took that task, sending the reminder (an activity: B's first command was not an update's); B died, and the
    next task reached A with the whole history. Staff query the trial all the while."""
    async with _trial_on_worker_a(tmp_path, "stale-5", ["p1", "p2", "p3"], day_seconds=4.0) as w:
        staff = asyncio.create_task(_keep_querying(w.handle))
        try:
            await w.keep("p1")
            before = set(await _worker_identities(w.handle))
            w.freeze_a_and_start_b()
            await _forget_sticky_worker(w.client, w.handle)

            async def b_sent_a_reminder() -> bool:  # 48 h before the end: 20 s after the delivery
                history = await w.handle.fetch_history()
                return bool(set(_identities(history)) - before) and any(
                    e.activity_task_scheduled_event_attributes.activity_type.name == "notifications.send"
                    for e in history.events
                    if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
                )

            await eventually(b_sent_a_reminder, "B to send the first reminder", 60, 0.5)
            w.kill_b_and_thaw_a()
            # The next task (this decision, or the trial's end if it comes first) reaches A.
            await w.keep("p2", ok=(200, 409, 503))

            async def ended() -> bool:
                return (await w.view()).get("status") not in ("ON_TRIAL", None)

            await eventually(ended, "the trial's end to be handled", 90, 0.5)
        finally:
            staff.cancel()
