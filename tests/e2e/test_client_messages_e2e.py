"""Messages to the client end to end on the dev server: a 5-piece trial whose order asks for WhatsApp in
Italian, in Rome's time zone, sends the 48 h and 24 h reminders through the Cloud API stand-in as approved
templates, with the trial's end written as Rome's clock shows it; the number appears in no log line."""

import hashlib
import hmac
import json
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.client_messages import ClientMessages
from activities.messages import when
from activities.notifications import RecordingNotifier
from application.replies import MAX_MESSAGES
from bootstrap import Adapters, build_api, build_worker, fingerprints
from config import Settings
from domain.examples import order
from domain.order import ClientContact
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import SqlStore
from tests.integration.test_client_messages import start_cloud_api
from tests.waiting import eventually

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(180)]
TOKENS = {"tok-fulfil": "fulfilment", "tok-read": "read", "tok-support": "support"}
F, R, S = ({"Authorization": f"Bearer {t}"} for t in TOKENS)
NUMBER = "+393339876543"


async def test_the_client_hears_of_the_trial_ending_on_whatsapp_in_italian(
    dev_env: WorkflowEnvironment, tmp_path, caplog
):
    cloud, sender, stop_cloud = await start_cloud_api()
    url = f"sqlite:///{tmp_path / 'messages.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    store = SqlStore(engine)
    queue = f"messages-{uuid.uuid4()}"
    # A trial "day" lasts 1.5 s: the reminders come 7.5 s and 9 s after delivery, the end 1.5 s after them.
    settings = Settings(task_queue=queue, api_tokens=TOKENS, data_dir=tmp_path, time_scale=86_400 / 1.5)
    notifier = ClientMessages(RecordingNotifier(), whatsapp=sender)
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

            def named(name: str) -> list[dict]:  # type: ignore[type-arg]
                return [m for m in cloud.templates() if m["template"]["name"] == name]

            async def two_reminders() -> bool:
                return len(named("style_trial_ending")) >= 2

            await eventually(two_reminders, "the 48 h and 24 h reminders on WhatsApp", seconds=30)
            assert len(cloud.templates()) == len(cloud.received)
            # The confirmation, the parcel on its way, the trial's start, then the reminders.
            assert [m["template"]["name"] for m in cloud.received[:5]] == [
                "style_trial_confirmed", "style_trial_dispatched", "style_trial_started", "style_trial_ending",
                "style_trial_ending",
            ]  # fmt: skip
            confirmed, reminders = cloud.received[0], named("style_trial_ending")
            [dispatched] = named("style_trial_dispatched")
            assert [p["text"] for p in dispatched["template"]["components"][0]["parameters"]] == [
                o.order_id,
                "5",
                "DHL",
                "T1",
                "https://www.dhl.com/global-en/home/tracking.html?tracking-id=T1",  # DHL's page for it
            ]
            assert [p["text"] for p in confirmed["template"]["components"][0]["parameters"]] == ["5", o.order_id, "7"]
            ends = datetime.fromisoformat((await api.get(base, headers=R)).json()["trial_ends_at"])
            rome = when(ends, ZoneInfo("Europe/Rome"), "it")
            for sent in reminders:
                assert sent["to"] == NUMBER.removeprefix("+") and sent["template"]["name"] == "style_trial_ending"
                assert sent["template"]["language"] == {"code": "it"}
                parameters = [p["text"] for p in sent["template"]["components"][0]["parameters"]]
                assert parameters[1] == f"{rome} (Europe/Rome)" and parameters[2] == o.order_id
                assert parameters[3] == "3"  # the days to send back after the end: the policy's return window
            # The client keeps three pieces and finishes: the summary follows the final charge.
            keep = [{"piece_id": f"p{i}", "decision": "keep" if i <= 3 else "return"} for i in range(1, 6)]
            decided = {"decisions": keep, "actor": "client", "channel": "app"}
            assert (await api.post(f"{base}/decisions", json=decided, headers=F)).status_code == 200
            assert (
                await api.post(f"{base}/finish", json={"actor": "client", "channel": "app"}, headers=F)
            ).status_code == 200
            back = {"piece_ids": ["p4", "p5"], "carrier": "DHL", "tracking_number": "R1"}
            assert (await api.post(f"{base}/returns", json=back, headers=F)).status_code == 200
            checked = {"inspections": [{"piece_id": "p4", "condition": "ok"}, {"piece_id": "p5", "condition": "ok"}]}
            assert (await api.post(f"{base}/inspections", json=checked, headers=F)).status_code == 200

            async def summed_up() -> bool:
                return any(m["template"]["name"] == "style_trial_summary" for m in cloud.templates())

            await eventually(summed_up, "the closing summary", seconds=30)
            summary = cloud.templates()[-1]
            assert [p["text"] for p in summary["template"]["components"][0]["parameters"]][:3] == [o.order_id, "3", "5"]
            assert [m["template"]["name"] for m in cloud.templates()].count("style_trial_ending") == 2
            # A fault found after keeping: support refunds p1 in the refund window, and the client hears of it.
            refund = {"piece_id": "p1", "reason": "a seam opened", "actor": "cr-1", "amount": 25_000}
            r = await api.post(f"{base}/refunds", json=refund, headers=S)
            assert r.status_code == 200, r.text

            async def refunded() -> bool:
                return bool(cloud.templates()[-1]["template"]["name"] == "style_trial_refunded")

            await eventually(refunded, "the refund notice", seconds=30)
            told = cloud.templates()[-1]
            assert told["template"]["language"] == {"code": "it"}
            assert [p["text"] for p in told["template"]["components"][0]["parameters"]][2] == o.order_id
            await api.aclose()
    finally:
        await stop_cloud()
        engine.dispose()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert NUMBER.removeprefix("+") not in logged and NUMBER not in logged, "the client's number is never logged"


APP_SECRET = "test-app-secret"  # a throwaway for this test, not a real app's


def _wrapped(value: object) -> dict[str, object]:
    return {"object": "whatsapp_business_account", "entry": [{"id": "waba", "changes": [{"value": value}]}]}


_GOOD = {"from": "393339876543", "id": "wamid.m", "type": "text", "text": {"body": "tengo 1"}}
# The outside probe's signed payloads that were 500s, and a few more of the kind.
MALFORMED: list[object] = [
    _wrapped("a string"),
    _wrapped({"statuses": {"id": "wamid.s"}}),
    _wrapped({"messages": {"id": "wamid.m"}}),
    _wrapped({"messages": ["a message as a string"]}),
    _wrapped({"statuses": [42]}),
    _wrapped({"messages": [{**_GOOD, "context": "wamid.1"}]}),
    _wrapped({"messages": [{**_GOOD, "text": "tengo 1"}]}),
    _wrapped({"messages": [{**_GOOD, "type": "button", "button": ["keep"]}]}),
    _wrapped({"messages": [{**_GOOD, "id": "w" * 100_000}]}),
    _wrapped({"messages": [{**_GOOD, "id": "wamid.\x00"}]}),
    _wrapped({"messages": [{**_GOOD, "id": "wamid.\nnewline"}]}),
    {"entry": "nothing"},
    {"entry": [{"changes": [None, 1, {"value": None}]}]},
    [1, 2, 3],
]


def inbound(message_id: str, text: str, quoting: str | None, sender: str = NUMBER) -> bytes:
    message: dict[str, object] = {
        "from": sender.removeprefix("+"), "id": message_id, "timestamp": "1764000000", "type": "text",
        "text": {"body": text},
    }  # fmt: skip
    if quoting:
        message["context"] = {"from": "15550001111", "id": quoting}
    change = {"field": "messages", "value": {"messaging_product": "whatsapp", "messages": [message]}}
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "waba", "changes": [change]}]}).encode()


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": signature, "Content-Type": "application/json"}


async def test_a_client_s_whatsapp_reply_becomes_decisions_in_the_audit_trail(dev_env: WorkflowEnvironment, tmp_path):
    cloud, sender, stop_cloud = await start_cloud_api()
    url = f"sqlite:///{tmp_path / 'replies.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    store = SqlStore(engine)
    queue = f"replies-{uuid.uuid4()}"
    settings = Settings(
        task_queue=queue, api_tokens=TOKENS, data_dir=tmp_path, time_scale=86_400 / 1.0,
        whatsapp_app_secret=APP_SECRET, whatsapp_verify_token="verify-me",
    )  # fmt: skip
    notifier = ClientMessages(
        RecordingNotifier(), whatsapp=sender, messages=store, fingerprint=fingerprints(settings).of
    )
    try:
        async with build_worker(dev_env.client, queue, Adapters(store=store, notifier=notifier)):
            api = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=build_api(settings, dev_env.client, store, sender)),
                base_url="http://api",
            )
            handshake = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
            assert (await api.get("/v1/whatsapp/webhook", params=handshake)).text == "1158201444"
            o = order(5)
            contact = ClientContact(channel="whatsapp", address=NUMBER, locale="it", time_zone="Europe/Rome")
            o = o.model_copy(update={"customer": o.customer.model_copy(update={"contact": contact})})
            base = f"/v1/trials/{o.order_id}"
            assert (
                await api.post("/v1/trials", json=o.model_dump(mode="json", exclude_none=True), headers=F)
            ).status_code == 201

            async def view() -> dict[str, object]:
                return dict((await api.get(base, headers=R)).json())

            await eventually(lambda: _status(api, base, "AWAITING_DISPATCH"), "the trial to open")
            parcel = {"carrier": "DHL", "tracking_number": "T1", "piece_ids": [f"p{i}" for i in range(1, 6)]}
            await api.post(f"{base}/dispatch", json={"parcels": [parcel]}, headers=F)
            await api.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F)

            async def reminded() -> bool:
                return bool(cloud.templates())

            await eventually(reminded, "the 48 h reminder", seconds=30)
            reminder_id = "wamid.1"

            # A forged call changes nothing.
            forged = inbound("wamid.in0", "tengo 1, 3; rendo 2", reminder_id)
            assert (
                await api.post("/v1/whatsapp/webhook", content=forged, headers=signed(forged, "other"))
            ).status_code == 401
            # A signed reply from another number, quoting the client's reminder, decides nothing and gets
            # no answer: it would otherwise have recorded "keep" for the client's pieces (actor client).
            answered = len(cloud.received)
            stranger = inbound("wamid.in-x", "tengo tutti", reminder_id, sender="+447700900123")
            assert (await api.post("/v1/whatsapp/webhook", content=stranger, headers=signed(stranger))).json() == {
                "received": ["ignored (not from the order's number)"]
            }
            assert len(cloud.received) == answered, "nothing is sent to a stranger"
            assert all(p["decision"] is None for p in (await view())["pieces"])  # type: ignore[attr-defined]
            # Signed but malformed payloads are 200 and change nothing (Meta retries a 5xx for a day).
            for malformed in MALFORMED:
                raw = json.dumps(malformed).encode()
                answer = await api.post("/v1/whatsapp/webhook", content=raw, headers=signed(raw))
                assert answer.status_code == 200, (malformed, answer.text[:200])
            for raw in (b"not json", b"[" * 100_000):
                assert (await api.post("/v1/whatsapp/webhook", content=raw, headers=signed(raw))).status_code == 200
            # One call can cause only so much: 20 changes of 50 messages each are read up to the limit.
            flood_messages = [
                {"from": "447700900123", "id": f"wamid.f{i}", "type": "text", "text": {"body": "keep 1"}}
                for i in range(50)
            ]
            flood = json.dumps({"entry": [{"changes": [{"value": {"messages": flood_messages}}] * 20}]}).encode()
            answer = await api.post("/v1/whatsapp/webhook", content=flood, headers=signed(flood))
            assert answer.status_code == 200 and len(answer.json()["received"]) == MAX_MESSAGES
            assert len(cloud.received) <= answered + MAX_MESSAGES
            assert all(p["decision"] is None for p in (await view())["pieces"])  # type: ignore[attr-defined]
            # An ambiguous reply gets a question and changes nothing.
            unclear = inbound("wamid.in1", "forse il 2", reminder_id)
            assert (await api.post("/v1/whatsapp/webhook", content=unclear, headers=signed(unclear))).json() == {
                "received": ["ambiguous"]
            }
            assert cloud.texts()[-1].startswith("Ci scusi")
            # The reply decides, once, however often WhatsApp delivers it.
            reply = inbound("wamid.in2", "Tengo 1, 3; rendo 2", reminder_id)
            for _ in range(2):
                answer = await api.post("/v1/whatsapp/webhook", content=reply, headers=signed(reply))
                assert answer.json() == {"received": ["decided"]}
            trial = await view()
            decisions = {p["piece_id"]: (p["decision"], p["decided_via"]) for p in trial["pieces"]}  # type: ignore[attr-defined]
            assert decisions["p1"] == decisions["p3"] == ("keep", "whatsapp") and decisions["p2"] == (
                "return",
                "whatsapp",
            )
            assert decisions["p4"] == (None, None)
            decided = [e for e in trial["events"] if e["kind"] == "decided"]  # type: ignore[attr-defined]
            assert len(decided) == 1 and decided[0]["actor"] == "client" and decided[0]["reference"] == "wamid.in2"
            assert cloud.texts()[-1] == f"Grazie, registrato per l'ordine {o.order_id}: tengo 1, 3; rendo 2."
            # A reply quoting nothing of ours: which order?  A reply to a closed trial: a polite answer.
            stray = inbound("wamid.in3", "tengo 4", None)
            assert (await api.post("/v1/whatsapp/webhook", content=stray, headers=signed(stray))).json() == {
                "received": ["asked which order"]
            }
            await api.post(f"{base}/decisions", json={"decisions": [
                {"piece_id": "p4", "decision": "keep"}, {"piece_id": "p5", "decision": "keep"}],
                "actor": "ps-07", "channel": "phone"}, headers=F)  # fmt: skip
            await api.post(f"{base}/finish", json={"actor": "client", "channel": "app"}, headers=F)
            late = inbound("wamid.in4", "rendo 4", reminder_id)
            assert (await api.post("/v1/whatsapp/webhook", content=late, headers=signed(late))).json() == {
                "received": ["trial closed"]
            }
            assert "chiusa" in cloud.texts()[-1]
            await api.aclose()
    finally:
        await stop_cloud()
        engine.dispose()


async def _status(api: httpx.AsyncClient, base: str, status: str) -> bool:
    r = await api.get(base, headers=R)
    return r.status_code == 200 and r.json()["status"] == status
