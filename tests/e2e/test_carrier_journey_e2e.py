"""The client's whole journey on the dev server, driven by the carrier: after dispatch, fulfilment makes no
call but the warehouse's inspection. EasyPost's signed tracking events deliver the parcel; the client
decides on WhatsApp, asks for two more days (granted within their policy), is offered collection slots and
taps one; the courier's tracking number is the
return's, whose scans ship it and bring it to the warehouse; the client finishes on the site; the kept pieces
are charged, the returned one never. Every message reaches the client in Italian, as WhatsApp templates, in
this order; the label's link opens a PDF; duplicated and late carrier events change nothing."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.client_messages import ClientMessages, SmtpEmail
from activities.notifications import RecordingNotifier
from activities.returns import LocalReturns
from bootstrap import Adapters, build_api, build_worker, client_links, fingerprints
from config import Settings
from domain.examples import order
from domain.order import ClientContact
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.return_labels import SqlLabelBook
from persistence.store import SqlStore
from tests.e2e.test_client_messages_e2e import APP_SECRET, NUMBER, inbound, signed
from tests.easypost_standin import signed as signed_by_easypost
from tests.easypost_standin import tracker_event
from tests.integration.test_client_messages import CloudApi, start_cloud_api
from tests.waiting import eventually

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(180)]
TOKENS = {"tok-fulfil": "fulfilment", "tok-read": "read", "tok-support": "support"}
F, R = {"Authorization": "Bearer tok-fulfil"}, {"Authorization": "Bearer tok-read"}
EASYPOST_SECRET = "test-easypost-webhook-secret"  # a throwaway for this test


def button(message_id: str, payload: str, quoting: str) -> bytes:
    """A client tapping a template's quick-reply button, as WhatsApp's webhook carries it."""
    message = {
        "from": NUMBER.removeprefix("+"), "id": message_id, "timestamp": "1764000000", "type": "button",
        "button": {"payload": payload, "text": "1"}, "context": {"from": "15550001111", "id": quoting},
    }  # fmt: skip
    change = {"field": "messages", "value": {"messaging_product": "whatsapp", "messages": [message]}}
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "waba", "changes": [change]}]}).encode()


async def test_a_whole_trial_moved_by_the_carrier_and_the_client(dev_env: WorkflowEnvironment, tmp_path):
    cloud, sender, stop_cloud = await start_cloud_api()
    url = f"sqlite:///{tmp_path / 'journey.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    store = SqlStore(engine)
    queue = f"journey-{uuid.uuid4()}"
    settings = Settings(
        task_queue=queue, api_tokens=TOKENS, data_dir=tmp_path, whatsapp_app_secret=APP_SECRET,
        whatsapp_verify_token="verify-me", easypost_webhook_secret=EASYPOST_SECRET, public_url="http://api",
    )  # fmt: skip
    notifier = ClientMessages(
        RecordingNotifier(), whatsapp=sender, messages=store, fingerprint=fingerprints(settings).of
    )
    returns = LocalReturns(SqlLabelBook(engine), "http://api")
    try:
        async with build_worker(dev_env.client, queue, Adapters(store=store, notifier=notifier, returns=returns)):
            api = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=build_api(settings, dev_env.client, store, sender)),
                base_url="http://api",
            )

            async def carrier(tracking: str, status: str, at: datetime) -> str:
                body, headers = signed_by_easypost(tracker_event(tracking, status, at), EASYPOST_SECRET)
                answer = await api.post("/v1/carriers/easypost/webhook", content=body, headers=headers)
                assert answer.status_code == 200, answer.text
                return str(answer.json()["outcome"])

            async def whatsapp(body: bytes) -> list[str]:
                return list(
                    (await api.post("/v1/whatsapp/webhook", content=body, headers=signed(body))).json()["received"]
                )

            async def view() -> dict:  # type: ignore[type-arg]
                return dict((await api.get(base, headers=R)).json())

            def sent(name: str) -> list[dict]:  # type: ignore[type-arg]
                return [m for m in cloud.templates() if m["template"]["name"] == name]

            o = order(3)
            contact = ClientContact(channel="whatsapp", address=NUMBER, locale="it", time_zone="Europe/Rome")
            o = o.model_copy(update={"customer": o.customer.model_copy(update={"contact": contact})})
            base = f"/v1/trials/{o.order_id}"
            assert (
                await api.post("/v1/trials", json=o.model_dump(mode="json", exclude_none=True), headers=F)
            ).status_code == 201
            await eventually(lambda: _status(api, base, "AWAITING_DISPATCH"), "the trial to open")
            parcel = {"carrier": "DHL", "tracking_number": "JD0146", "piece_ids": ["p1", "p2", "p3"]}
            assert (await api.post(f"{base}/dispatch", json={"parcels": [parcel]}, headers=F)).status_code == 200

            # The carrier delivers: no fulfilment call from here on but the inspection.
            now = datetime.now(UTC)
            assert await carrier("JD0146", "in_transit", now - timedelta(minutes=1)) == "unchanged"
            assert await carrier("JD0146", "delivered", now) == "moved"
            assert await carrier("JD0146", "delivered", now) == "unchanged", "EasyPost sent it twice"
            assert await carrier("JD0146", "out_for_delivery", now - timedelta(seconds=30)) == "unchanged", "late"
            assert await carrier("NOT-OURS-1", "delivered", now) == "unknown"
            assert (await view())["status"] == "ON_TRIAL"
            await eventually(lambda: _true(bool(sent("style_trial_started"))), "the trial-started message")

            # The client decides on WhatsApp, replying to the message that said the trial started.
            started = _id_of(cloud, sent("style_trial_started")[0])
            assert await whatsapp(inbound("wamid.in1", "tengo 1, 3; rendo 2", started)) == ["decided"]
            await eventually(lambda: _true(bool(sent("style_trial_collection_offer"))), "the collection offer")
            offer = sent("style_trial_collection_offer")[0]
            payloads = [c["parameters"][0]["payload"] for c in offer["template"]["components"] if c["type"] == "button"]
            assert len(payloads) == 4 and payloads[-1] == "label" and payloads[0].startswith("collect:")
            body_text = " ".join(p["text"] for p in offer["template"]["components"][0]["parameters"])
            assert "Europe/Rome" in body_text and "1)" in body_text and "3)" in body_text

            # The client asks for more time on WhatsApp: within their policy, granted at once.
            ends = (await view())["trial_ends_at"]
            assert await whatsapp(inbound("wamid.in1b", "Posso avere altri 2 giorni?", started)) == ["extension asked"]
            await eventually(lambda: _true(bool(sent("style_trial_extended"))), "the new end")
            assert (await view())["extension_days"] == 2 and (await view())["trial_ends_at"] > ends

            # ... and for another size: their shopper is asked with their words, and the client told so.
            asked = inbound("wamid.in1c", "Vorrei un cambio: la taglia più grande?", started)
            assert await whatsapp(asked) == ["exchange asked"]
            await eventually(lambda: _true(bool(sent("style_trial_exchange_asked"))), "the answer to the request")
            assert "Vorrei un cambio" in (await view())["attention"]["exchange_requested"]
            seen = {"reason": "exchange_requested", "note": "Client keeps the 40 after all", "actor": "ps-07"}
            support = {"Authorization": "Bearer tok-support"}
            r = await api.post(f"{base}/attention-acknowledgements", json=seen, headers=support)
            assert r.status_code == 200 and "exchange_requested" not in r.json()["attention"], r.text

            # The client taps the first slot: a courier collection, booked once however often WhatsApp retries.
            tap = button("wamid.in2", payloads[0], _id_of(cloud, offer))
            assert await whatsapp(tap) == ["booked"]
            assert await whatsapp(tap) == ["booked"]
            await eventually(lambda: _true(bool(sent("style_trial_collection_booked"))), "the booking's message")
            (booking,) = (await view())["return_bookings"]
            assert (booking["kind"], booking["state"], booking["piece_ids"]) == ("collection", "booked", ["p2"])
            tracking = booking["tracking_number"]
            booked = sent("style_trial_collection_booked")[0]["template"]["components"][0]["parameters"]
            label_url = booked[-1]["text"]
            assert tracking in [p["text"] for p in booked] and label_url.startswith("http://api/v1/return-labels/")
            label = await api.get(label_url.removeprefix("http://api"))
            assert label.status_code == 200 and label.content.startswith(b"%PDF-")
            assert label.headers["cache-control"] == "private, no-store"

            # The courier collects, and delivers the return to the warehouse; events come twice and out of order.
            collected = datetime.now(UTC)
            assert await carrier(tracking, "in_transit", collected) == "moved"
            assert await carrier(tracking, "in_transit", collected) == "unchanged"
            assert await carrier(tracking, "delivered", datetime.now(UTC)) == "moved"
            assert await carrier(tracking, "out_for_delivery", collected) == "unchanged"
            p2 = next(p for p in (await view())["pieces"] if p["piece_id"] == "p2")
            assert p2["state"] == "RETURN_IN_TRANSIT" and p2["return_received_at"] and p2["return_tracking"] == tracking

            # The warehouse inspects; the client finishes on the site; the kept pieces are charged.
            inspection = {"piece_id": "p2", "condition": "ok"}
            assert (await api.post(f"{base}/inspections", json=inspection, headers=F)).status_code == 200
            finish = {"actor": "client", "channel": "site"}
            assert (await api.post(f"{base}/finish", json=finish, headers=F)).status_code == 200
            await eventually(lambda: _status(api, base, "COMPLETED"), "completion", seconds=30)
            trial = await view()
            assert trial["amounts"]["charged"] == 2 * 120_000
            assert {p["piece_id"]: p["state"] for p in trial["pieces"]} == {
                "p1": "KEPT",
                "p2": "RETURNED",
                "p3": "KEPT",
            }
            await eventually(lambda: _true(bool(sent("style_trial_summary"))), "the summary")
            names = [m["template"]["name"] for m in cloud.templates()]
            assert names == [
                "style_trial_confirmed", "style_trial_dispatched", "style_trial_started",
                "style_trial_collection_offer", "style_trial_extended", "style_trial_exchange_asked",
                "style_trial_collection_booked",
                "style_trial_return_shipped",
                "style_trial_return_received", "style_trial_receipt", "style_trial_summary",
            ], names  # fmt: skip
            assert {m["template"]["language"]["code"] for m in cloud.templates()} == {"it"}
            await api.aclose()
    finally:
        await stop_cloud()
        engine.dispose()


def _id_of(cloud: CloudApi, message: dict) -> str:  # type: ignore[type-arg]
    """The id the Cloud API stand-in answered for `message` (wamid.<its position>)."""
    return f"wamid.{cloud.received.index(message) + 1}"


async def _true(value: bool) -> bool:
    return value


async def _status(api: httpx.AsyncClient, base: str, status: str) -> bool:
    r = await api.get(base, headers=R)
    return r.status_code == 200 and r.json()["status"] == status


async def test_an_email_client_books_a_collection_by_the_link_in_the_offer(
    dev_env: WorkflowEnvironment, tmp_path, mailbox
):
    """By email the offer's choices are links: opening one shows what it books and changes nothing (mail
    scanners open every link); its button books it, once however often it is posted; a link changed by a
    character is refused."""
    box, smtp_port = mailbox
    url = f"sqlite:///{tmp_path / 'links.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    store = SqlStore(engine)
    queue = f"links-{uuid.uuid4()}"
    settings = Settings(task_queue=queue, api_tokens=TOKENS, data_dir=tmp_path, public_url="http://api")
    email = SmtpEmail("127.0.0.1", smtp_port, "trials@example.com", starttls=False)
    notifier = ClientMessages(RecordingNotifier(), email=email, messages=store, links=client_links(settings).url)
    try:
        async with build_worker(
            dev_env.client,
            queue,
            Adapters(store=store, notifier=notifier, returns=LocalReturns(SqlLabelBook(engine), "http://api")),
        ):
            api = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=build_api(settings, dev_env.client, store)), base_url="http://api"
            )
            o = order(2)
            contact = ClientContact(
                channel="email", address="client@example.com", locale="fr", time_zone="Europe/Paris"
            )
            o = o.model_copy(update={"customer": o.customer.model_copy(update={"contact": contact})})
            base = f"/v1/trials/{o.order_id}"
            assert (
                await api.post("/v1/trials", json=o.model_dump(mode="json", exclude_none=True), headers=F)
            ).status_code == 201
            await eventually(lambda: _status(api, base, "AWAITING_DISPATCH"), "the trial to open")
            parcel = {"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1", "p2"]}
            await api.post(f"{base}/dispatch", json={"parcels": [parcel]}, headers=F)
            await api.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F)
            both = {"decisions": [{"piece_id": "p1", "decision": "keep"}, {"piece_id": "p2", "decision": "return"}],
                    "actor": "client", "channel": "site"}  # fmt: skip
            assert (await api.post(f"{base}/decisions", json=both, headers=F)).status_code == 200

            def offers() -> list:  # type: ignore[type-arg]
                return [m for m in box.messages if "coursier" in m.get_content()]

            await eventually(lambda: _true(bool(offers())), "the offer by email")
            text = offers()[0].get_content()
            links = [w.rstrip(".,;") for w in text.split() if w.startswith("http://api/v1/client-choices/")]
            assert len(links) == 4, text  # three slots and the label
            first = links[0].removeprefix("http://api")
            page = await api.get(first)
            assert page.status_code == 200 and "Réserver" in page.text and "Europe/Paris" in page.text
            assert (await api.get(base, headers=R)).json()["return_bookings"] == [], "opening a link books nothing"
            for _ in range(2):
                booked = await api.post(first)
                assert booked.status_code == 200 and "C&#39;est réservé" in booked.text, booked.text
            (booking,) = (await api.get(base, headers=R)).json()["return_bookings"]
            assert (booking["kind"], booking["requested_by"], booking["piece_ids"]) == ("collection", "client", ["p2"])
            changed = first[:-1] + ("0" if first[-1] != "0" else "1")
            assert (await api.get(changed)).status_code == 404
            assert (await api.post(links[-1].removeprefix("http://api"))).status_code == 409, "p2 is booked already"
            await api.aclose()
    finally:
        engine.dispose()
