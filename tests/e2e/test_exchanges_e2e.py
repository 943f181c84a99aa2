"""An exchange end to end over HTTP on the dev server, with the engine's own adapters (SQLite read model,
ledger and stock; the simulated gateway): support exchanges a piece for a dearer size, the value is
re-authorized, fulfilment sends the replacement in a reship, the client keeps it and returns the original,
which is never charged. The ledger, the stock and the events subscribers receive say the same."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from bootstrap import build_api, build_worker, default_adapters
from config import Settings
from domain.examples import order
from domain.trial import trial_id_for
from persistence.migrate import upgrade
from persistence.models import MoneyMovementRecord, OutboxEventRecord, StockOperationRecord
from tests.waiting import eventually

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(180)]
F = {"Authorization": "Bearer tok-f"}
S = {"Authorization": "Bearer tok-s"}


async def test_a_piece_exchanged_for_a_dearer_size_is_re_authorized_sent_kept_and_the_original_never_charged(
    dev_env: WorkflowEnvironment, tmp_path
):
    settings = Settings(
        task_queue=f"exchange-{uuid.uuid4()}", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'x.sqlite'}",
        api_tokens={"tok-f": "fulfilment", "tok-s": "support"},
    )  # fmt: skip
    upgrade(settings.resolved_database_url)
    adapters = default_adapters(settings)
    o = order(2, price=100_000)
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
            parcel = {"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1", "p2"]}
            assert (await api.post(f"{base}/dispatch", json={"parcels": [parcel]}, headers=F)).status_code == 200
            assert (await api.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F)).status_code == 200

            swap: dict[str, Any] = {
                "piece_id": "p2", "reason": "too_small", "words": "The 40 pinches.", "actor": "cr.anna",
                "channel": "phone",
                "replacement": {"piece_id": "p2-41", "sku": "SKU-002-41", "description": "Loafer, 41",
                                "price": 150_000, "size": "41"},
            }  # fmt: skip
            r = await api.post(f"{base}/exchanges", json={**swap, "piece_id": "p9"}, headers=S)
            assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_piece"
            r = await api.post(f"{base}/exchanges", json=swap, headers=S)
            assert r.status_code == 200, r.text
            pieces = {p["piece_id"]: p for p in r.json()["pieces"]}
            assert pieces["p2"]["exchanged_for"] == "p2-41" and pieces["p2-41"]["state"] == "RESERVED"
            again = await api.post(
                f"{base}/exchanges",
                json={**swap, "replacement": {**swap["replacement"], "piece_id": "p2-42"}},
                headers=S,
            )
            assert again.status_code == 409 and again.json()["error"]["code"] == "piece_exchanged"
            # 250,000 may now be charged, more than the 200,000 held: re-authorized at once.
            view = await eventually(
                lambda: view_when(lambda v: v["amounts"]["authorized"] == 250_000), "the re-authorization"
            )
            assert view is not None
            sent = {"parcels": [{"carrier": "DHL", "tracking_number": "X1", "piece_ids": ["p2-41"]}]}
            assert (await api.post(f"{base}/reshipments", json=sent, headers=F)).status_code == 200
            assert (await api.post(f"{base}/delivery", json={"tracking_number": "X1"}, headers=F)).status_code == 200
            decided = {"decisions": [{"piece_id": "p1", "decision": "keep"}, {"piece_id": "p2-41", "decision": "keep"}],
                       "actor": "client", "channel": "app"}  # fmt: skip
            r = await api.post(f"{base}/decisions", json=decided, headers=F)
            assert r.status_code == 200, r.text
            r = await api.post(
                f"{base}/decisions", json={**decided, "decisions": [{"piece_id": "p2", "decision": "keep"}]}, headers=F
            )
            assert r.status_code == 409 and r.json()["error"]["code"] == "piece_exchanged"
            assert (await api.post(f"{base}/finish", json={}, headers=F)).status_code == 200
            back = {"piece_ids": ["p2"], "carrier": "DHL", "tracking_number": "R1"}
            assert (await api.post(f"{base}/returns", json=back, headers=F)).status_code == 200
            r = await api.post(f"{base}/inspections", json={"piece_id": "p2", "condition": "ok"}, headers=F)
            assert r.status_code == 200, r.text
            view = await eventually(lambda: view_when(lambda v: v["status"] == "COMPLETED"), "completion")
            assert view is not None
            states = {p["piece_id"]: (p["state"], p["charged"]) for p in view["pieces"]}
            assert states == {"p1": ("KEPT", True), "p2": ("EXCHANGED", False), "p2-41": ("KEPT", True)}
            assert view["amounts"]["charged"] == 250_000
    with adapters.store.engine.connect() as conn:
        types = set(conn.scalars(select(OutboxEventRecord.type).where(OutboxEventRecord.trial_id == trial_id)))
        moved = conn.execute(
            select(MoneyMovementRecord.kind, MoneyMovementRecord.amount).where(MoneyMovementRecord.trial_id == trial_id)
        ).all()
        stock = conn.execute(
            select(StockOperationRecord.action, StockOperationRecord.piece_ids).where(
                StockOperationRecord.trial_id == trial_id
            )
        ).all()
    assert "trial.exchanged" in types and "trial.completed" in types
    assert ("authorization", 250_000) in moved, moved
    assert sum(a for k, a in moved if k in ("capture", "charge")) == 250_000
    assert ("reserve", ["p2-41"]) in [(a, list(p)) for a, p in stock], stock
    adapters.store.engine.dispose()
