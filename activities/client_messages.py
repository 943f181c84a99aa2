"""Messages to the client on the channel the order names: WhatsApp (the Cloud API, template messages) or email
(SMTP). Staff and shoppers keep the recorded notification (ids only in the log) until their own channels
are configured.

The client's number or address is personal data: it arrives inside the notification (encrypted in
history), goes to the channel, and is never logged; failures are logged with the notification's key and
the channel's error code only.
"""

import asyncio
import logging
import smtplib
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, Protocol

import httpx

from activities.headers import ascii_header
from activities.messages import Rendered, render
from activities.ports import Notifier
from domain.order import ClientContact
from domain.steps import Notification
from security.fingerprint import whatsapp_number

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10.0


class Refused(Exception):
    """The channel refused this message for good (an unknown template, a number not on WhatsApp): retrying
    the same message would not help, and the trial goes on without it."""


class Channel(Protocol):
    async def send(self, key: str, to: str, message: Rendered) -> str: ...


class WhatsAppCloud:
    """The WhatsApp Business Cloud API: POST /{phone-number-id}/messages with a template message."""

    def __init__(self, api_base: str, phone_number_id: str, token: str, http: httpx.AsyncClient | None = None) -> None:
        self._url = f"{api_base.rstrip('/')}/{phone_number_id}/messages"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._http = http or httpx.AsyncClient()

    async def send(self, key: str, to: str, message: Rendered) -> str:
        body = {
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": to.removeprefix("+"),
            "type": "template",
            "template": {
                "name": message.template, "language": {"code": message.language},
                "components": [
                    {"type": "body", "parameters": [{"type": "text", "text": p} for p in message.parameters]},
                    # Quick replies: the template names each button; the payload says what tapping it chose.
                    *({"type": "button", "sub_type": "quick_reply", "index": str(i),
                       "parameters": [{"type": "payload", "payload": payload}]}
                      for i, payload in enumerate(message.buttons)),
                ],
            },
        }  # fmt: skip
        answer = await self._http.post(self._url, json=body, headers=self._headers, timeout=TIMEOUT_SECONDS)
        if answer.status_code == 429 or answer.status_code >= 500:
            raise RuntimeError(f"WhatsApp answered {answer.status_code}; trying again")  # the activity retries
        data: Any = answer.json() if answer.content else {}
        if not answer.is_success:
            code = data.get("error", {}).get("code") if isinstance(data, dict) else None
            raise Refused(f"WhatsApp refused {key} ({answer.status_code}, error {code})")
        return str(data["messages"][0]["id"])

    async def send_text(self, to: str, text: str, replying_to: str | None = None) -> str:
        """A free-form text, allowed within the 24 hours after the client wrote (an answer to a reply)."""
        body: dict[str, Any] = {
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": to.removeprefix("+"),
            "type": "text", "text": {"preview_url": False, "body": text},
        }  # fmt: skip
        if replying_to:
            body["context"] = {"message_id": replying_to}
        answer = await self._http.post(self._url, json=body, headers=self._headers, timeout=TIMEOUT_SECONDS)
        if not answer.is_success:
            raise Refused(f"WhatsApp refused an answer ({answer.status_code})")
        return str(answer.json()["messages"][0]["id"])


class SmtpEmail:
    """Email over SMTP (STARTTLS and a login when configured), one message per notification; its
    Message-ID comes from the notification's key, so a message sent twice is recognisably the same."""

    def __init__(
        self, host: str, port: int, sender: str, username: str | None = None, password: str | None = None,
        starttls: bool = True,
    ) -> None:  # fmt: skip
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.starttls = username, password, starttls

    async def send(self, key: str, to: str, message: Rendered) -> str:
        email = EmailMessage()
        email["From"], email["To"], email["Subject"] = self.sender, to, message.subject
        email["Message-ID"] = f"<{ascii_header(key)}@styletrial>"
        email["Content-Language"] = message.language
        email.set_content(message.text)
        await asyncio.to_thread(self._send, email)
        return str(email["Message-ID"])

    async def send_mail(self, key: str, to: list[str], subject: str, text: str, html: str) -> str:
        """A message to the team (the weekly digest): plain text with an HTML alternative."""
        email = EmailMessage()
        email["From"], email["To"], email["Subject"] = self.sender, ", ".join(to), subject
        email["Message-ID"] = f"<{ascii_header(key)}@styletrial>"
        email.set_content(text)
        email.add_alternative(html, subtype="html")
        await asyncio.to_thread(self._send, email)
        return str(email["Message-ID"])

    def _send(self, email: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username and self.password:
                    smtp.login(self.username, self.password)
                smtp.send_message(email)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as err:
            raise Refused(f"the mail server refused {email['Message-ID']} ({type(err).__name__})") from None


class MessageRecord(Protocol):
    """Where the notifier records what it sent to clients (persistence.store.SqlStore)."""

    def remember_message(
        self, message_id: str, order_id: str, kind: str, locale: str, recipient: str | None = None,
        notification_key: str | None = None,
    ) -> None: ...  # fmt: skip

    def sent_reference(self, notification_key: str) -> str | None: ...


class ClientMessages:
    """The notifier the engine runs with: every notification is recorded (ids only in the log); one
    addressed to the client also goes to the client on the order's channel, and one addressed to the
    shopper or to staff goes by email to the addresses configured for them (`team`: a shopper's id, or
    "staff", to an address)."""

    def __init__(
        self, record: Notifier, whatsapp: Channel | None = None, email: Channel | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        messages: MessageRecord | None = None, team: dict[str, str] | None = None,
        fingerprint: Callable[[str], str] | None = None,
        links: Callable[[str, str, datetime, str, str], str] | None = None,
        tracking_pages: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        self._tracking_pages = tracking_pages
        self._record = record
        # By email, an offer's choices are links the client opens (security/links.py, `Links.url`).
        self._links = links
        self._team = team or {}
        self._clock = clock
        # Each message sent to a client, by its provider id, with the notification it carried: a retry after a
        # crash finds it and sends nothing, and a WhatsApp reply that quotes it finds its trial and counts only
        # from the number it went to (application/replies.py; the number's fingerprint, never the number).
        self._messages = messages
        self._fingerprint = fingerprint
        self._channels: dict[str, Channel | None] = {"whatsapp": whatsapp, "email": email}

    async def send(self, notification: Notification) -> bool:
        await self._record.send(notification)
        await self._to_team(notification)
        contact = notification.contact
        if "client" not in notification.audience or contact is None:
            return True
        return await self._to_client(notification, contact)

    async def _to_team(self, notification: Notification) -> None:
        """The shopper's and staff's copy, in English, by email. Best effort: a failure is logged and not
        retried (the notification is recorded, and the trial shows staff what needs them), so that a retry
        never sends the client's message twice."""
        names = {"shopper": notification.shopper_id or "", "staff": "staff"}
        addressed = [(who, self._team.get(names[who])) for who in ("shopper", "staff") if who in notification.audience]
        email = self._channels["email"]
        for who, address in addressed:
            if address is None:
                continue
            if email is None:
                log.warning("no email channel configured: %s not sent to the %s", notification.key, who)
                continue
            order = notification.order_id or notification.trial_id
            message = Rendered(
                template="", language="en", parameters=[], text=f"{notification.message}\n\nOrder {order}.",
                subject=f"Style Trial {order}: {notification.kind.value.replace('_', ' ')}",
            )  # fmt: skip
            try:
                await email.send(f"{notification.key}-{who}", address, message)
            except Exception as err:
                log.warning("%s not sent to the %s: %s", notification.key, who, type(err).__name__)

    async def _to_client(self, notification: Notification, contact: ClientContact) -> bool:
        link = None
        if self._links is not None and contact.channel == "email":
            links = self._links

            def link(order: str, choice: str, until: datetime) -> str:
                return links(order, choice, until, contact.locale, contact.time_zone)

        message = render(notification, contact, self._clock(), link, self._tracking_pages)
        if message is None:
            return True
        channel = self._channels[contact.channel]
        if channel is None:
            log.warning("no %s channel configured: %s not sent to the client", contact.channel, notification.key)
            return False
        if self._messages is not None:
            earlier = await asyncio.to_thread(self._messages.sent_reference, notification.key)
            if earlier is not None:
                log.info("%s was sent to the client before (%s): not again", notification.key, earlier)
                return True
        try:
            reference = await channel.send(notification.key, contact.address, message)
        except Refused as refused:
            log.warning("%s", refused)
            return False
        if self._messages is not None and notification.order_id:
            # At most once in practice: only a crash between the provider's answer and this line sends twice.
            of = self._fingerprint if contact.channel == "whatsapp" else None
            recipient = of(whatsapp_number(contact.address)) if of is not None else None
            await asyncio.to_thread(
                self._messages.remember_message, reference, notification.order_id, notification.kind.value,
                message.language, recipient, notification.key,
            )  # fmt: skip
        log.info("sent %s to the client by %s (%s)", notification.key, contact.channel, reference)
        return True
