"""Lost parcels and refunds end to end over HTTP on the dev server, with the engine's own adapters (SQLite read
model and ledger, the simulated gateway and stock in that database): the paths a fulfilment system and
support staff take, the ledger and stock rows they leave, and the events subscribers receive."""

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from bootstrap import build_api, build_worker, default_adapters
from config import Settings
from domain.examples import order
from domain.policy import TrialPolicy
from domain.trial import trial_id_for
from persistence.migrate import upgrade
from persistence.models import OutboxEventRecord, StockOperationRecord
from tests.waiting import eventually

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(180)]
F = {"Authorization": "Bearer tok-f"}
S = {"Authorization": "Bearer tok-s"}
DAY = timedelta(days=1)
# A day is 0.1 s: a 14-day trial lasts 1.4 s and a 20-day refund window 2 s.
SCALE = 864_000


def _parcel(tracking: str, *pieces: str) -> dict[str, Any]:
    return {"carrier": "DHL", "tracking_number": tracking, "piece_ids": list(pieces)}


async def test_a_lost_parcel_is_reshipped_and_a_kept_piece_refunded_after_completion(
    dev_env: WorkflowEnvironment, tmp_path
):
    settings = Settings(
        task_queue=f"lost-refund-{uuid.uuid4()}", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'e.sqlite'}",
        api_tokens={"tok-f": "fulfilment", "tok-s": "support"}, time_scale=SCALE,
        policy=TrialPolicy(trial_days=14, max_trial_days=14, refund_window=20 * DAY),
    )  # fmt: skip
    upgrade(settings.resolved_database_url)
    adapters = default_adapters(settings)
    o = order(3, price=100_000)
    base = f"/v1/trials/{o.order_id}"
    trial_id = trial_id_for(o.order_id)
    async with build_worker(dev_env.client, settings.task_queue, adapters):
        app = build_api(settings, dev_env.client, adapters.store)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
            assert (await api.post("/v1/trials", json=o.model_dump(mode="json"), headers=F)).status_code == 201

            async def status_is(*wanted: str) -> dict[str, Any] | None:
                view: dict[str, Any] = (await api.get(base, headers=F)).json()
                return view if view["status"] in wanted else None

            await eventually(lambda: status_is("AWAITING_DISPATCH"), "the trial to open")
            r = await api.post(
                f"{base}/dispatch", json={"parcels": [_parcel("T1", "p1"), _parcel("T2", "p2", "p3")]}, headers=F
            )
            assert r.status_code == 200, r.text
            assert (await api.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F)).status_code == 200

            # The carrier lost T2: staff declare it, replacements will follow.
            lost = {
                "tracking_number": "T2",
                "reason": "Carrier confirmed the loss",
                "actor": "cr.amelia",
                "reship": True,
            }
            r = await api.post(f"{base}/lost-parcels", json=lost, headers=S)
            assert r.status_code == 200, r.text
            view = r.json()
            assert [p["state"] for p in view["pieces"]] == ["ON_TRIAL", "AWAITING_RESHIP", "AWAITING_RESHIP"]
            assert "carrier_claim" in view["attention"] and view["trial_ends_at"] is None
            again = await api.post(f"{base}/lost-parcels", json=lost, headers=S)
            assert again.status_code == 409 and again.json()["error"]["code"] == "parcel_lost"
            # The claim is given to someone, then seen to: the queue shows its owner and age, then empties.
            take = {"assignee": "cr.anna", "actor": "lead.bo"}
            r = await api.post(f"{base}/attention-assignments", json=take, headers=S)
            assert r.status_code == 200, r.text
            # Only the claim is checked: on a slow machine the tenth-of-a-second days may already have flagged
            # the reship as overdue too, and an assignment takes every reason the trial needs staff for.
            (item,) = [i for i in r.json()["attention_items"] if i["reason"] == "carrier_claim"]
            assert (item["reason"], item["assignee"]) == ("carrier_claim", "cr.anna") and item["since"]
            queue = (await api.get("/v1/attention", params={"assignee": "cr.anna"}, headers=F)).json()
            claims = [(i["order_id"], i["reason"]) for i in queue["items"] if i["reason"] == "carrier_claim"]
            assert claims == [(o.order_id, "carrier_claim")]
            seen = {"reason": "carrier_claim", "note": "Claim DHL-77812 filed with the carrier.", "actor": "cr.anna"}
            r = await api.post(f"{base}/attention-acknowledgements", json=seen, headers=S)
            # Cleared (a tenth-of-a-second day may have flagged the reship as overdue meanwhile: that stays).
            assert r.status_code == 200 and "carrier_claim" not in r.json()["attention"], r.text
            r = await api.post(f"{base}/attention-acknowledgements", json=seen, headers=S)
            assert r.status_code == 409 and r.json()["error"]["code"] == "not_flagged"
            queue = (await api.get("/v1/attention", params={"assignee": "cr.anna"}, headers=F)).json()
            assert [i for i in queue["items"] if i["reason"] == "carrier_claim"] == []
            assert (await api.post(f"{base}/attention-assignments", json=take, headers=F)).status_code == 403
            r = await api.post(f"{base}/delivery", json={"tracking_number": "T2"}, headers=F)
            assert r.status_code == 409 and r.json()["error"]["code"] == "parcel_lost"
            r = await api.post(f"{base}/reshipments", json={"parcels": [_parcel("N1", "p2", "p3")]}, headers=S)
            assert r.status_code == 403, "a reship is fulfilment's to report"

            r = await api.post(f"{base}/reshipments", json={"parcels": [_parcel("N1", "p2", "p3")]}, headers=F)
            assert r.status_code == 200, r.text
            assert [p["state"] for p in r.json()["pieces"]] == ["ON_TRIAL", "IN_TRANSIT", "IN_TRANSIT"]
            view = (await api.post(f"{base}/delivery", json={"tracking_number": "N1"}, headers=F)).json()
            assert view["status"] == "ON_TRIAL"

            keep = [{"piece_id": p, "decision": "keep"} for p in ("p1", "p2", "p3")]
            decided = {"decisions": keep, "actor": "client", "channel": "app"}
            assert (await api.post(f"{base}/decisions", json=decided, headers=F)).status_code == 200
            await api.post(f"{base}/finish", json={"actor": "client"}, headers=F)
            view = await eventually(lambda: status_is("COMPLETED"), "the trial to complete")
            assert view["amounts"]["charged"] == 300_000 and view["refunds_until"] is not None

            # A fault found after keeping: support refunds half of p2 after the trial completed.
            refund = {"piece_id": "p2", "reason": "Seam opened", "actor": "cr.amelia", "amount": 50_000}
            r = await api.post(f"{base}/refunds", json=refund, headers=F)
            assert r.status_code == 403, "refunds are support's"
            r = await api.post(f"{base}/refunds", json={**refund, "amount": 100_001}, headers=S)
            assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_refund_amount"
            r = await api.post(f"{base}/refunds", json=refund, headers={**S, "Idempotency-Key": "refund-p2"})
            assert r.status_code == 200, r.text
            view = r.json()
            p2 = next(p for p in view["pieces"] if p["piece_id"] == "p2")
            assert (p2["state"], p2["refunded"], view["amounts"]["refunded"]) == ("REFUNDED", 50_000, 50_000)
            retried = await api.post(f"{base}/refunds", json=refund, headers={**S, "Idempotency-Key": "refund-p2"})
            assert retried.status_code == 200 and retried.json()["amounts"]["refunded"] == 50_000, "once, not twice"
            r = await api.post(f"{base}/refunds", json=refund, headers=S)
            assert r.status_code == 409 and r.json()["error"]["code"] == "already_refunded"
            # Buying sees it: the keep-rate report has the refund beside the revenue kept.
            (row,) = (await api.get("/v1/reports/keep-rate?by=tier", headers=F)).json()["items"]
            assert (row["revenue_kept"], row["refunded"]) == (300_000, 50_000)

            # Once the refund window closes the workflow ends; the trial takes no more refunds.
            await dev_env.client.get_workflow_handle(trial_id).result()
            r = await api.post(f"{base}/refunds", json={**refund, "piece_id": "p1"}, headers=S)
            assert r.status_code == 409 and r.json()["error"]["code"] == "trial_finished"
            assert (await api.get(base, headers=F)).json()["refunds_until"] is None

    ledger = [(m.kind, m.status, m.amount) for m in adapters.store.movements(trial_id) if m.kind == "refund"]
    assert ledger == [("refund", "succeeded", 50_000)]
    with adapters.store.engine.connect() as conn:
        types = list(conn.scalars(select(OutboxEventRecord.type).where(OutboxEventRecord.trial_id == trial_id)))
        written_off = conn.execute(
            select(StockOperationRecord.action, StockOperationRecord.piece_ids).where(
                StockOperationRecord.trial_id == trial_id, StockOperationRecord.action == "write_off"
            )
        ).all()
    assert {"trial.parcel_lost", "trial.reshipped", "settlement.refund_requested", "settlement.refunded"} <= set(types)
    assert [(a, sorted(p)) for a, p in written_off] == [("write_off", ["p2", "p3"])]
    adapters.store.engine.dispose()


async def test_a_trial_whose_parcels_were_all_lost_is_cancelled_and_its_refund_window_never_opens(
    dev_env: WorkflowEnvironment, tmp_path
):
    settings = Settings(
        task_queue=f"lost-all-{uuid.uuid4()}", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'e.sqlite'}",
        api_tokens={"tok-f": "fulfilment", "tok-s": "support"}, time_scale=SCALE,
    )  # fmt: skip
    upgrade(settings.resolved_database_url)
    adapters = default_adapters(settings)
    o = order(2)
    base = f"/v1/trials/{o.order_id}"
    async with build_worker(dev_env.client, settings.task_queue, adapters):
        app = build_api(settings, dev_env.client, adapters.store)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
            await api.post("/v1/trials", json=o.model_dump(mode="json"), headers=F)

            async def accepted() -> bool:
                return bool((await api.get(base, headers=F)).json()["status"] == "AWAITING_DISPATCH")

            await eventually(accepted, "the trial to open")
            await api.post(f"{base}/dispatch", json={"parcels": [_parcel("T1", "p1", "p2")]}, headers=F)
            lost = {"tracking_number": "T1", "reason": "Stolen from the van", "actor": "ops.bot"}
            r = await api.post(f"{base}/lost-parcels", json=lost, headers=F)
            assert r.status_code == 200, r.text
            view = r.json()
            assert view["status"] == "CANCELLED" and view["amounts"]["charged"] == 0
            assert view["amounts"]["released"] == o.value and view["refunds_until"] is None
            handle = dev_env.client.get_workflow_handle(trial_id_for(o.order_id))
            # Cancelled, and open for staff until the carrier claim is seen to; no refund, there is none to make.
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
            refund = {"piece_id": "p1", "reason": "r", "actor": "cr.amelia"}
            r = await api.post(f"{base}/refunds", json=refund, headers=S)
            assert r.status_code == 409 and r.json()["error"]["code"] == "trial_finished"
            claim = {"reason": "carrier_claim", "note": "Claim filed with the carrier", "actor": "cr.amelia"}
            r = await api.post(f"{base}/attention-acknowledgements", json=claim, headers=S)
            assert r.status_code == 200 and not r.json()["needs_attention"], r.text
            await handle.result()
            assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    adapters.store.engine.dispose()


async def test_lost_returns_are_found_or_written_off_and_the_trial_ends_without_charging_them(
    dev_env: WorkflowEnvironment, tmp_path
):
    settings = Settings(
        task_queue=f"lost-returns-{uuid.uuid4()}", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'e.sqlite'}",
        api_tokens={"tok-f": "fulfilment", "tok-s": "support"}, time_scale=SCALE,
        policy=TrialPolicy(refund_window=DAY),
    )  # fmt: skip
    upgrade(settings.resolved_database_url)
    adapters = default_adapters(settings)
    o = order(3, price=100_000)
    base = f"/v1/trials/{o.order_id}"
    trial_id = trial_id_for(o.order_id)
    async with build_worker(dev_env.client, settings.task_queue, adapters):
        app = build_api(settings, dev_env.client, adapters.store)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
            assert (await api.post("/v1/trials", json=o.model_dump(mode="json"), headers=F)).status_code == 201

            async def view_when(test: Any) -> dict[str, Any] | None:
                view: dict[str, Any] = (await api.get(base, headers=F)).json()
                return view if test(view) else None

            await eventually(lambda: view_when(lambda v: v["status"] == "AWAITING_DISPATCH"), "the trial to open")
            await api.post(f"{base}/dispatch", json={"parcels": [_parcel("T1", "p1", "p2", "p3")]}, headers=F)
            await api.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F)
            decided = {
                "decisions": [{"piece_id": "p1", "decision": "keep"}, {"piece_id": "p2", "decision": "return"},
                              {"piece_id": "p3", "decision": "return"}],
                "actor": "client", "channel": "app",
            }  # fmt: skip
            assert (await api.post(f"{base}/decisions", json=decided, headers=F)).status_code == 200
            assert (await api.post(f"{base}/finish", json={}, headers=F)).status_code == 200
            for pid, tracking in (("p2", "RET-2"), ("p3", "RET-3")):
                back = {"piece_ids": [pid], "carrier": "DHL", "tracking_number": tracking}
                assert (await api.post(f"{base}/returns", json=back, headers=F)).status_code == 200
            # Neither reaches the warehouse within the receipt window (14 days: 1.4 s).
            await eventually(
                lambda: view_when(lambda v: [p["state"] for p in v["pieces"]][1:] == ["LOST_IN_RETURN"] * 2),
                "both returns lost",
            )
            queue = (await api.get("/v1/attention", params={"reason": "return_lost"}, headers=S)).json()["items"]
            assert [i["order_id"] for i in queue] == [o.order_id]
            claim = {"tracking_number": "RET-2", "step": "filed", "reference": "DHL-CLM-1", "actor": "cr.anna"}
            assert (await api.post(f"{base}/carrier-claims", json=claim, headers=S)).status_code == 200
            found = {"tracking_number": "RET-2", "outcome": "found", "condition": "ok", "note": "On the dock",
                     "actor": "cr.anna"}  # fmt: skip
            assert (await api.post(f"{base}/lost-returns", json=found, headers=F)).status_code == 403
            r = await api.post(f"{base}/lost-returns", json={**found, "condition": None}, headers=S)
            assert r.status_code == 422 and r.json()["error"]["code"] == "missing_field", r.text
            r = await api.post(f"{base}/lost-returns", json=found, headers=S)
            assert r.status_code == 200, r.text
            view = r.json()
            assert view["pieces"][1]["state"] == "RETURNED" and view["claims"][0]["state"] == "withdrawn"
            assert "return_lost" in view["attention"], "RET-3 still has no answer"
            r = await api.post(f"{base}/lost-returns", json=found, headers=S)
            assert r.status_code == 422 and r.json()["error"]["code"] == "not_lost"
            off = {"tracking_number": "RET-3", "outcome": "written_off", "note": "Carrier cannot trace it",
                   "actor": "cr.anna"}  # fmt: skip
            r = await api.post(f"{base}/lost-returns", json=off, headers=S)
            assert r.status_code == 200 and not r.json()["needs_attention"], r.text
            assert r.json()["amounts"]["charged"] == 100_000, "only the kept piece"
            assert (await api.get("/v1/attention", headers=S)).json()["items"] == []
            handle = dev_env.client.get_workflow_handle(trial_id)
            await handle.result()  # nothing needs staff, the refund window (a day) closes: the trial ends
    with adapters.store.engine.connect() as conn:
        types = set(conn.scalars(select(OutboxEventRecord.type).where(OutboxEventRecord.trial_id == trial_id)))
    assert {"claim.filed", "trial.return_found", "trial.return_written_off", "trial.completed"} <= types
    adapters.store.engine.dispose()
