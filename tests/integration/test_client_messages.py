"""Messages to the client: rendered in the client's language and time zone, sent on WhatsApp through a
stand-in of the Cloud API that answers as Meta documents (a message id, 400 for an unknown template, 429
when throttled) and by email to a real SMTP server (aiosmtpd) on loopback."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from activities.client_messages import ClientMessages, SmtpEmail, WhatsAppCloud
from activities.messages import LOCALES, TEMPLATES, money, render
from activities.notifications import RecordingNotifier
from domain.order import ClientContact
from domain.steps import Notification, NotificationKind
from tests.webhook_receiver import free_port

ENDS = datetime(2026, 12, 3, 17, 30, tzinfo=UTC)
NOW = ENDS - timedelta(hours=48)


def reminder(contact: ClientContact | None, audience: list[Any] | None = None) -> Notification:
    return Notification(
        key="style-trial-o-1-notification-3", trial_id="style-trial-o-1", kind=NotificationKind.TRIAL_ENDING,
        audience=audience or ["client", "shopper"], shopper_id="ps-1", message="The Style Trial ends in 48 hours.",
        order_id="o-1", contact=contact, about=ENDS, facts={"return_days": "3"},
    )  # fmt: skip


def test_a_reminder_reads_in_the_client_s_language_and_time_zone():
    rome = render(
        reminder(None), ClientContact(channel="email", address="a@b.it", locale="it", time_zone="Europe/Rome"), NOW
    )
    assert rome is not None and rome.language == "it" and rome.template == "style_trial_ending"
    # Dates as each language writes them (CLDR, through Babel), on the client's clock.
    assert "48 ore" in rome.text and "3 dic 2026, 18:30" in rome.text and "Europe/Rome" in rome.text
    assert "entro 3 giorni" in rome.text
    assert rome.parameters == ["48", "3 dic 2026, 18:30 (Europe/Rome)", "o-1", "3"]
    tokyo = render(
        reminder(None), ClientContact(channel="email", address="a@b.jp", locale="ja", time_zone="Asia/Tokyo"), NOW
    )
    assert tokyo is not None and "2026年12月4日 2:30" in tokyo.text
    new_york = ClientContact(channel="email", address="a@b.com", locale="en", time_zone="America/New_York")
    # CLDR's English puts a narrow no-break space before PM.
    assert "Dec 3, 2026, 12:30\u202fPM" in render(reminder(None), new_york, NOW).text  # type: ignore[union-attr]
    for locale in LOCALES:
        contact = ClientContact(channel="email", address="a@b.com", locale=locale, time_zone="America/New_York")
        message = render(reminder(None), contact, NOW)
        assert message is not None and message.language == locale and "o-1" in message.text and message.subject
    unknown_zone = ClientContact(channel="email", address="a@b.com", time_zone="Mars/Olympus_Mons")
    assert "(UTC)" in render(reminder(None), unknown_zone, NOW).text  # type: ignore[union-attr]


def test_the_confirmation_and_the_summary_read_in_every_language():
    for locale in LOCALES:
        contact = ClientContact(channel="email", address="a@b.com", locale=locale)
        confirmed = reminder(None).model_copy(
            update={
                "kind": NotificationKind.TRIAL_CONFIRMED,
                "about": None,
                "facts": {"pieces": "5", "value": "600000", "currency": "GBP", "days": "7"},
            }
        )
        summary = reminder(None).model_copy(
            update={"kind": NotificationKind.TRIAL_SUMMARY, "about": None,
                    "facts": {"kept": "3", "pieces": "5", "charged": "360000", "currency": "GBP"}}
        )  # fmt: skip
        first, last = render(confirmed, contact, NOW), render(summary, contact, NOW)
        assert first is not None and first.template == "style_trial_confirmed"
        assert first.parameters == ["5", "o-1", "7"] and "7" in first.text
        charged = money(360_000, "GBP", locale)  # £3,600.00 in English, 3.600,00 £ in German
        assert last is not None and last.parameters == ["o-1", "3", "5", charged] and charged in last.text


def test_the_refund_reads_in_every_language_with_amount_piece_and_order():
    for locale in LOCALES:
        contact = ClientContact(channel="whatsapp", address="+447700900123", locale=locale)
        refunded = reminder(None).model_copy(
            update={"kind": NotificationKind.REFUNDED, "about": None,
                    "facts": {"amount": "45000", "currency": "GBP", "piece": "Cashmere overcoat"}}
        )  # fmt: skip
        message = render(refunded, contact, NOW)
        assert message is not None and message.template == "style_trial_refunded" and message.language == locale
        assert message.parameters == [money(45_000, "GBP", locale), "Cashmere overcoat", "o-1"]
        assert all(part in message.text for part in message.parameters) and "{" not in message.subject


def test_a_contact_fits_its_channel():
    with pytest.raises(ValueError, match=r"E\.164"):
        ClientContact(channel="whatsapp", address="0151 123")
    with pytest.raises(ValueError, match="email"):
        ClientContact(channel="email", address="not-an-address")
    with pytest.raises(ValueError):
        ClientContact.model_validate({"channel": "email", "address": "a@b.com", "locale": "xx"})


def ours(caplog: Any) -> str:
    """What the engine logged (the SMTP server's own log shows the envelope, as a mail server's does)."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("activities"))


class CloudApi:
    """Meta's Graph API for messages, as documented: templates it knows, a message id per message."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []  # every message, templates and texts
        self.base = ""  # where it listens, once started (`start_cloud_api`)
        self.throttle_next = 0
        self.known_templates = {name for name, _ in TEMPLATES.values()}
        app = FastAPI()

        @app.post("/v21.0/{phone_number_id}/messages")
        async def messages(phone_number_id: str, request: Request) -> Response:
            if request.headers.get("authorization") != "Bearer wa-token":
                return Response(status_code=401)
            if self.throttle_next:
                self.throttle_next -= 1
                return Response(json.dumps({"error": {"code": 130429, "message": "Rate limit hit"}}), 429)
            body = await request.json()
            if body["type"] == "template" and body["template"]["name"] not in self.known_templates:
                error = {"error": {"code": 132001, "message": "Template name does not exist in the translation"}}
                return Response(json.dumps(error), 400)
            self.received.append({"phone_number_id": phone_number_id, **body})
            answer = {
                "messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": f"wamid.{len(self.received)}"}],
            }  # fmt: skip
            return Response(json.dumps(answer), 200, media_type="application/json")

        self.app = app

    def templates(self) -> list[dict[str, Any]]:
        return [m for m in self.received if m["type"] == "template"]

    def texts(self) -> list[str]:
        return [m["text"]["body"] for m in self.received if m["type"] == "text"]


async def start_cloud_api() -> tuple[CloudApi, WhatsAppCloud, Callable[[], Awaitable[None]]]:
    """The Cloud API stand-in on a free loopback port, the engine's sender pointed at it (`base` its API
    base), and what stops it."""
    api = CloudApi()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(api.app, host="127.0.0.1", port=port, log_level="error", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)

    async def stop() -> None:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task

    api.base = f"http://127.0.0.1:{port}/v21.0"
    return api, WhatsAppCloud(api.base, "1234567890", "wa-token"), stop


@pytest.fixture
async def cloud_api() -> AsyncIterator[tuple[CloudApi, str]]:
    api, _, stop = await start_cloud_api()
    yield api, api.base
    await stop()


async def test_a_reminder_goes_to_the_client_on_whatsapp_as_a_template(cloud_api, caplog):
    api, base = cloud_api
    whatsapp = ClientMessages(
        RecordingNotifier(), whatsapp=WhatsAppCloud(base, "1234567890", "wa-token"), clock=lambda: NOW
    )
    contact = ClientContact(channel="whatsapp", address="+393331234567", locale="it", time_zone="Europe/Rome")
    caplog.set_level("INFO")
    api.throttle_next = 1
    with pytest.raises(RuntimeError, match="429"):  # the activity retries
        await whatsapp.send(reminder(contact))
    assert await whatsapp.send(reminder(contact))
    [sent] = api.received
    assert sent["to"] == "393331234567" and sent["phone_number_id"] == "1234567890"
    assert sent["template"]["name"] == "style_trial_ending" and sent["template"]["language"] == {"code": "it"}
    assert sent["template"]["components"][0]["parameters"][0] == {"type": "text", "text": "48"}
    assert "393331234567" not in ours(caplog), "the client's number is never logged"

    api.known_templates.clear()  # a template not approved: refused for good, the trial goes on without it
    assert not await whatsapp.send(reminder(contact))
    assert "132001" in ours(caplog)


async def test_a_notification_retried_after_it_was_sent_is_not_sent_again(cloud_api, tmp_path):
    """The notification activity retried (its worker died after the send): the record of the first send
    (the provider's message id, in the database) stops a second one; another notification still goes."""
    from persistence.db import make_engine
    from persistence.migrate import upgrade
    from persistence.store import SqlStore

    api, base = cloud_api
    url = f"sqlite:///{tmp_path / 'sends.sqlite'}"
    upgrade(url)
    store = SqlStore(make_engine(url))
    contact = ClientContact(channel="whatsapp", address="+393331234567", locale="it", time_zone="Europe/Rome")
    notifier = ClientMessages(
        RecordingNotifier(), whatsapp=WhatsAppCloud(base, "1234567890", "wa-token"), clock=lambda: NOW, messages=store
    )
    assert await notifier.send(reminder(contact))
    assert await notifier.send(reminder(contact))  # the retry
    assert len(api.received) == 1 and store.sent_reference(reminder(contact).key) == "wamid.1"
    other = reminder(contact).model_copy(update={"key": "style-trial-o-1-notification-4"})
    assert await notifier.send(other)
    assert len(api.received) == 2


async def test_a_reminder_goes_to_the_client_by_email(mailbox, caplog):
    box, port = mailbox
    email = ClientMessages(
        RecordingNotifier(), email=SmtpEmail("127.0.0.1", port, "trials@example.com", starttls=False)
    )
    contact = ClientContact(channel="email", address="client@example.de", locale="de", time_zone="Europe/Berlin")
    caplog.set_level("INFO")
    assert await email.send(reminder(contact))
    [mail] = box.messages
    assert mail["To"] == "client@example.de" and mail["Subject"] == "Ihr Style Trial endet bald"
    assert mail["Message-ID"] == "<style-trial-o-1-notification-3@styletrial>"
    assert "3. Dez. 2026, 18:30" in mail.get_content()
    assert "client@example.de" not in ours(caplog)
    # An order id in another script: the Message-ID is ASCII (Python's email package refused the key itself).
    other = reminder(contact).model_copy(update={"key": "style-trial-注文-1-notification-3", "order_id": "注文-1"})
    assert await email.send(other)
    assert box.messages[-1]["Message-ID"] == "<style-trial-%E6%B3%A8%E6%96%87-1-notification-3@styletrial>"


async def test_staff_and_shopper_messages_and_clients_without_a_channel_are_recorded_only(mailbox):
    box, port = mailbox
    recorder = RecordingNotifier()
    notifier = ClientMessages(recorder, email=SmtpEmail("127.0.0.1", port, "trials@example.com", starttls=False))
    assert await notifier.send(reminder(None))  # no contact in the order
    assert await notifier.send(reminder(ClientContact(channel="email", address="c@example.com"), ["shopper"]))
    whatsapp_only = ClientContact(channel="whatsapp", address="+4915112345678")
    assert not await notifier.send(reminder(whatsapp_only))  # no WhatsApp configured: not sent, said so
    assert box.messages == [] and len(recorder.sent) == 1  # recorded once by key


async def test_the_shopper_and_staff_hear_by_email_where_an_address_is_configured(mailbox):
    box, port = mailbox
    team = {"ps-1": "shopper@maison.example", "staff": "client-relations@maison.example"}
    email = SmtpEmail("127.0.0.1", port, "trials@example.com", starttls=False)
    notifier = ClientMessages(RecordingNotifier(), email=email, team=team, clock=lambda: NOW)
    declined = reminder(None, ["shopper", "staff"]).model_copy(
        update={"kind": NotificationKind.PAYMENT_ACTION_REQUIRED, "message": "Charging failed after every retry."}
    )
    assert await notifier.send(declined)
    assert sorted(m["To"] for m in box.messages) == ["client-relations@maison.example", "shopper@maison.example"]
    assert all(m["Subject"] == "Style Trial o-1: payment action required" for m in box.messages)
    assert "Charging failed after every retry." in box.messages[0].get_content()
    away = ClientMessages(
        RecordingNotifier(), email=SmtpEmail("127.0.0.1", free_port(), "t@example.com", starttls=False), team=team
    )
    assert await away.send(declined), "a team email that cannot go is logged, never retried"
