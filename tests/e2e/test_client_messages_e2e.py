"""Messages to the client end to end on the dev server: a 5-piece trial whose order asks for WhatsApp in
Italian, in Rome's time zone, sends the 48 h and 24 h reminders through the Cloud API stand-in as approved
templates, with the trial's end written as Rome's clock shows it; the number appears in no log line."""

import asyncio
import contextlib
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from temporalio.testing import WorkflowEnvironment

from activities.client_messages import ClientMessages, WhatsAppCloud
from activities.notifications import RecordingNotifier
from bootstrap import Adapters, build_api, build_worker
from config import Settings
from domain.examples import order
from domain.order import ClientContact
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import SqlStore
from tests.integration.test_client_messages import CloudApi
from tests.waiting import eventually
from tests.webhook_receiver import free_port

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(180)]
TOKENS = {"tok-fulfil": "fulfilment", "tok-read": "read"}
F, R = ({"Authorization": f"Bearer {t}"} for t in TOKENS)
NUMBER = "+393339876543"


async def test_the_client_hears_of_the_trial_ending_on_whatsapp_in_italian(
    dev_env: WorkflowEnvironment, tmp_path, caplog
):
    cloud = CloudApi()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(cloud.app, host="127.0.0.1", port=port, log_level="error", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    url = f"sqlite:///{tmp_path / 'messages.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    store = SqlStore(engine)
    queue = f"messages-{uuid.uuid4()}"
    settings = Settings(task_queue=queue, api_tokens=TOKENS, data_dir=tmp_path, time_scale=86_400 / 0.4)
    notifier = ClientMessages(
        RecordingNotifier(), whatsapp=WhatsAppCloud(f"http://127.0.0.1:{port}/v21.0", "1234567890", "wa-token")
    )
    caplog.set_level("INFO")
    try:
        async with build_worker(dev_env.client, queue, Adapters(store=store, notifier=notifier)):
            api = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=build_api(settings, dev_env.client, store)), base_url="http://api"
            )
            o = order(5)
            contact = ClientContact(channel="whatsapp", address=NUMBER, locale="it", time_zone="Europe/Rome")
            o = o.model_copy(update={"customer": o.customer.model_copy(update={"contact": contact})})
            body = o.model_dump(mode="json", exclude_none=True)
            base = f"/v1/trials/{o.order_id}"
            assert (await api.post("/v1/trials", json=body, headers=F)).status_code == 201

            async def status_is(status: str) -> bool:
                r = await api.get(base, headers=R)
                return r.status_code == 200 and r.json()["status"] == status

            await eventually(lambda: status_is("AWAITING_DISPATCH"), "the trial to open")
            parcel = {"carrier": "DHL", "tracking_number": "T1", "piece_ids": [f"p{i}" for i in range(1, 6)]}
            assert (await api.post(f"{base}/dispatch", json={"parcels": [parcel]}, headers=F)).status_code == 200
            assert (await api.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F)).status_code == 200

            async def two_reminders() -> bool:
                return len(cloud.received) >= 2

            await eventually(two_reminders, "the 48 h and 24 h reminders on WhatsApp", seconds=30)
            ends = datetime.fromisoformat((await api.get(base, headers=R)).json()["trial_ends_at"])
            rome = ends.astimezone(ZoneInfo("Europe/Rome")).strftime("%d/%m/%Y, ore %H:%M")
            for sent in cloud.received[:2]:
                assert sent["to"] == NUMBER.removeprefix("+") and sent["template"]["name"] == "style_trial_ending"
                assert sent["template"]["language"] == {"code": "it"}
                parameters = [p["text"] for p in sent["template"]["components"][0]["parameters"]]
                assert parameters[1] == f"{rome} (Europe/Rome)" and parameters[2] == o.order_id
            await api.aclose()
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        engine.dispose()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert NUMBER.removeprefix("+") not in logged and NUMBER not in logged, "the client's number is never logged"
