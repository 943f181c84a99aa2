"""Erasure on request end to end, on the dev server with the engine's encrypting data converter: before it, the
codec server shows staff a closed trial's history in clear; after `POST /v1/customers/{id}/erasure`, the same
history decodes to `[erased]` (its trial's data key is destroyed), the read model keeps ids, states and
amounts but none of the client's words, notes or message references, the messages sent to the client are
forgotten, and subscribers get `trial.erased`. A trial still running waits, and is erased once it closes.
The ledger keeps its amounts."""

import base64
import json
import os
import subprocess
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from sqlalchemy import func, select
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from application.erasure import Erasure
from bootstrap import Adapters, build_api, build_worker, data_converter, default_adapters
from config import Settings
from domain.examples import order
from domain.policy import TrialPolicy
from domain.trial import trial_id_for
from persistence.migrate import upgrade
from persistence.models import ClientMessageRecord, MoneyMovementRecord, OutboxEventRecord, PieceRecord
from soak.processes import BIN
from tests.waiting import eventually

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(180)]
F = {"Authorization": "Bearer tok-f"}
S = {"Authorization": "Bearer tok-s"}
NAME = "Ada Lovelace-Erasmus"


async def decoded(http: httpx.AsyncClient, payloads: Any) -> list[bytes]:
    """A history's payloads as the Temporal UI shows them to support: through the codec server."""
    body = json_format.MessageToJson(Payloads(payloads=list(payloads)))
    r = await http.post("/codec/decode", content=body, headers={"content-type": "application/json", **S})
    assert r.status_code == 200, r.text
    return [base64.b64decode(p["data"]) for p in r.json()["payloads"]]


async def test_a_client_is_erased_from_the_read_model_and_from_temporal_s_histories(
    dev_env: WorkflowEnvironment, tmp_path
):
    settings = Settings(
        task_queue=f"erase-{uuid.uuid4()}", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'e.sqlite'}",
        api_tokens={"tok-f": "fulfilment", "tok-s": "support"},
        policy=TrialPolicy(refund_window=timedelta(seconds=1)),
    )  # fmt: skip
    upgrade(settings.resolved_database_url)
    config = dev_env.client.config()
    config["data_converter"] = data_converter(settings)
    client = Client(**config)
    adapters: Adapters = default_adapters(settings)
    customer = f"cus-erase-{uuid.uuid4().hex[:6]}"
    closed, running = order(2, customer_id=customer), order(1, customer_id=customer)
    closed = closed.model_copy(update={"shipping_address": closed.shipping_address.model_copy(update={"name": NAME})})  # type: ignore[union-attr]
    async with build_worker(client, settings.task_queue, adapters):
        app = build_api(settings, client, adapters.store)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
            for o in (closed, running):
                assert (await api.post("/v1/trials", json=o.model_dump(mode="json"), headers=F)).status_code == 201

            async def status_of(order_id: str, wanted: str) -> bool:
                return bool((await api.get(f"/v1/trials/{order_id}", headers=F)).json()["status"] == wanted)

            base = f"/v1/trials/{closed.order_id}"
            await eventually(lambda: status_of(closed.order_id, "AWAITING_DISPATCH"), "the trial to open")
            parcel = {"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1", "p2"]}
            assert (await api.post(f"{base}/dispatch", json={"parcels": [parcel]}, headers=F)).status_code == 200
            assert (await api.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F)).status_code == 200
            said = {
                "decisions": [
                    {"piece_id": "p1", "decision": "keep", "feedback": "I wore it to my sister Maria's wedding."},
                    {"piece_id": "p2", "decision": "return", "reason": "too_small"},
                ],
                "actor": "client", "channel": "whatsapp", "reference": "wamid.HBgLMzkzMzM5",
            }  # fmt: skip
            assert (await api.post(f"{base}/decisions", json=said, headers=F)).status_code == 200
            assert (await api.post(f"{base}/finish", json={}, headers=F)).status_code == 200
            back = {"piece_ids": ["p2"], "carrier": "DHL", "tracking_number": "R1"}
            assert (await api.post(f"{base}/returns", json=back, headers=F)).status_code == 200
            assert (
                await api.post(f"{base}/inspections", json={"piece_id": "p2", "condition": "ok"}, headers=F)
            ).status_code == 200
            handle = client.get_workflow_handle(trial_id_for(closed.order_id))
            await handle.result()  # completed, and its (one-second) refund window closed: the workflow ended

            history = await handle.fetch_history()
            started = history.events[0].workflow_execution_started_event_attributes.input.payloads
            assert b"trial-key" in started[0].SerializeToString() and NAME.encode() not in started[0].data
            [before] = await decoded(api, started)
            assert NAME.encode() in before, "support reads the closed trial's history before the erasure"

            r = await api.post(f"/v1/customers/{customer}/erasure", headers=F)
            assert r.status_code == 403
            r = await api.post(f"/v1/customers/{customer}/erasure", headers=S)
            assert r.status_code == 202, r.text
            states = {t["order_id"]: t["state"] for t in r.json()["trials"]}
            assert states == {closed.order_id: "erased", running.order_id: "waiting"}
            assert (await api.post("/v1/customers/cus-nobody/erasure", headers=S)).status_code == 404

            [after] = await decoded(api, started)
            assert after == b'"[erased]"', "the history Temporal still holds no longer reads"
            view = (await api.get(base, headers=F)).json()
            assert view["status"] == "COMPLETED" and view["amounts"]["charged"] == 120_000, "the money stays"
            assert all(p["feedback"] is None for p in view["pieces"])
            assert view["events"][-1]["kind"] == "erased"
            assert all(e["reference"] is None for e in view["events"])
            assert "Maria" not in json.dumps(view) and "wamid" not in json.dumps(view)

            # The trial still running is erased once it closes: here, cancelled before dispatch.
            rbase = f"/v1/trials/{running.order_id}"
            await eventually(lambda: status_of(running.order_id, "AWAITING_DISPATCH"), "the other trial to open")
            cancel = {"reason": "Client asked to be forgotten", "actor": "cr.anna"}
            assert (await api.post(f"{rbase}/cancel", json=cancel, headers=S)).status_code == 200
            await client.get_workflow_handle(trial_id_for(running.order_id)).result()
            assert await Erasure(client, adapters.store).sweep() == [trial_id_for(running.order_id)]
            status = (await api.get(f"/v1/customers/{customer}/erasure", headers=S)).json()
            assert {t["state"] for t in status["trials"]} == {"erased"}
            r = await api.get(rbase, headers=F)
            assert r.json()["events"][-1]["kind"] == "erased" and "forgotten" not in r.text, "staff's note went too"

    with adapters.store.engine.connect() as conn:
        erased_events = conn.scalar(
            select(func.count()).select_from(OutboxEventRecord).where(
                OutboxEventRecord.type == "trial.erased",
                OutboxEventRecord.trial_id.in_([trial_id_for(closed.order_id), trial_id_for(running.order_id)]),
            )
        )  # fmt: skip
        words = conn.scalar(select(func.count()).select_from(PieceRecord).where(PieceRecord.feedback.is_not(None)))
        messages = conn.scalar(
            select(func.count()).select_from(ClientMessageRecord).where(ClientMessageRecord.order_id == closed.order_id)
        )
        captured = conn.scalar(
            select(func.sum(MoneyMovementRecord.amount)).where(
                MoneyMovementRecord.trial_id == trial_id_for(closed.order_id), MoneyMovementRecord.kind == "capture"
            )
        )
    assert (erased_events, words, messages) == (2, 0, 0) and captured == 120_000

    # From a terminal: asked about a client with nothing left to erase again, it says what it would do.
    env = {
        **os.environ,
        "STYLETRIAL_DATABASE_URL": settings.resolved_database_url,
        "STYLETRIAL_DATA_DIR": str(tmp_path),
    }
    dry = subprocess.run(
        [str(BIN / "styletrial"), "customer", "forget", customer], env=env, capture_output=True, text=True, timeout=60
    )
    assert dry.returncode == 0 and "Would erase client" in dry.stdout and "--yes" in dry.stdout
    adapters.store.engine.dispose()
