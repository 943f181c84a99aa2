"""A client's WhatsApp reply to a reminder becomes keep/return decisions on the trial, with actor `client`,
channel `whatsapp` and the message's id as reference, so the shopper sees it in the audit trail. A reply to
a collection offer (a slot's button, or "label") books the collection or the label instead.

The reply quotes our reminder (WhatsApp's `context`), whose id names the order (`client_messages`). It is
read by `domain.replies`; an ambiguous one gets a clarifying answer and changes nothing; a reply to a closed
trial gets a polite answer. The message id is also the command's update id: WhatsApp delivers a webhook
again when it is unsure, and the same id is the same decision, never a second one.

A reply counts only from the number the quoted message went to. Anyone may quote a message id (it is in
every screenshot of the chat); a reply from another number gets no decision and no answer at all, so it
learns nothing about the trial, and is logged by message id.

`Inbound` is the webhook's payload as a typed model: Meta's documented shape, each message read on its
own, so one malformed message (a string where an object belongs, a 100 KB id, a NUL) is ignored and
logged while the others in the same call are still read.
"""

import asyncio
import logging
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from activities.client_messages import WhatsAppCloud
from activities.messages import decisions_text, reply_text
from application.choices import choice_command
from application.trials import TrialService
from domain import commands as cmd
from domain.errors import DomainError, ErrorCode
from domain.replies import Ambiguous, read_exchange_request, read_extension_request, read_reply
from persistence.store import SqlStore
from security.fingerprint import Fingerprints, whatsapp_number

log = logging.getLogger("styletrial.replies")
CLOSED = {ErrorCode.TRIAL_CLOSED, ErrorCode.TRIAL_FINISHED}
# What one webhook call may cause: Meta batches a handful; a call with more is cut here (the rest logged
# and dropped), so that one call can never send a thousand answers.
MAX_MESSAGES = 10
MAX_STATUSES = 100

# A WhatsApp message id (`wamid.HBgM...`, about 60 characters): printable ASCII, bounded.
MessageId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[!-~]+$")]


M = TypeVar("M", bound=BaseModel)


class _Lenient(BaseModel):
    # Meta adds fields over time; only what is read here is checked.
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Text(_Lenient):
    body: Annotated[str, StringConstraints(max_length=4096)]


class _Button(_Lenient):
    payload: Annotated[str, StringConstraints(max_length=256)] | None = None
    text: Annotated[str, StringConstraints(max_length=256)] | None = None


class _Choice(_Lenient):
    id: Annotated[str, StringConstraints(max_length=256)] | None = None
    title: Annotated[str, StringConstraints(max_length=256)] | None = None


class _Interactive(_Lenient):
    button_reply: _Choice | None = None
    list_reply: _Choice | None = None


class _Context(_Lenient):
    id: MessageId | None = None


class InboundMessage(_Lenient):
    id: MessageId
    sender: Annotated[str, Field(alias="from", pattern=r"^[0-9]{6,15}$")]
    type: Annotated[str, StringConstraints(max_length=40)]
    context: _Context | None = None
    text: _Text | None = None
    button: _Button | None = None
    interactive: _Interactive | None = None

    def reply(self) -> str | None:
        """The words of the reply: a text, a template's quick-reply button, or an interactive choice."""
        if self.type == "text" and self.text is not None:
            return self.text.body
        if self.type == "button" and self.button is not None:
            return self.button.payload or self.button.text or ""
        if self.type == "interactive" and self.interactive is not None:
            chosen = self.interactive.button_reply or self.interactive.list_reply
            return (chosen.id or chosen.title or "") if chosen else None
        return None


class DeliveryStatus(_Lenient):
    id: MessageId
    status: Annotated[str, StringConstraints(max_length=40, pattern=r"^[a-z_]+$")]


class Inbound:
    """What one webhook call carries: its messages and delivery statuses, each validated on its own, up to
    the limits above. Anything that is not the documented shape is skipped, never an error: Meta retries
    what it thinks failed, and a retry would carry the same thing."""

    def __init__(self, payload: Any) -> None:
        self.messages: list[InboundMessage | None] = []  # None: one that was malformed
        self.statuses: list[DeliveryStatus] = []
        self.dropped = 0
        for value in _values(payload):
            for raw in _list(value.get("messages")):
                if len(self.messages) >= MAX_MESSAGES:
                    self.dropped += 1
                    continue
                self.messages.append(_parse(InboundMessage, raw))
            for raw in _list(value.get("statuses")):
                status = _parse(DeliveryStatus, raw) if len(self.statuses) < MAX_STATUSES else None
                if status is not None:
                    self.statuses.append(status)


def _values(payload: Any) -> list[dict[str, Any]]:
    entries = _list(payload.get("entry")) if isinstance(payload, dict) else []
    changes = [c for e in entries if isinstance(e, dict) for c in _list(e.get("changes"))]
    return [c["value"] for c in changes if isinstance(c, dict) and isinstance(c.get("value"), dict)]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _parse(model: type[M], raw: Any) -> M | None:
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


class Replies:
    def __init__(
        self, trials: TrialService, store: SqlStore, whatsapp: WhatsAppCloud, fingerprints: Fingerprints
    ) -> None:
        self.trials, self.store, self.whatsapp, self.fingerprints = trials, store, whatsapp, fingerprints

    async def handle(self, message: InboundMessage) -> str:
        """One inbound message from the webhook; returns what became of it (for the log, no content)."""
        message_id, sender = message.id, message.sender
        text = message.reply()
        if text is None:
            return "ignored (not a text or a button)"
        quoted = message.context.id if message.context else None
        sent = await asyncio.to_thread(self.store.message, quoted) if quoted else None
        if sent is None:
            await self._answer(sender, message_id, reply_text("which", "en"))
            return "asked which order"
        if not self.fingerprints.matches(whatsapp_number(sender), sent.recipient):
            # Silence: an answer would tell a stranger that the message they quote belongs to a trial.
            log.warning("whatsapp reply %s quotes %s but is not from its recipient: ignored", message_id, quoted)
            return "ignored (not from the order's number)"
        view = await asyncio.to_thread(self.store.view, sent.order_id)
        if view is None:
            await self._answer(sender, message_id, reply_text("which", sent.locale))
            return "asked which order"
        chosen = choice_command(text, "whatsapp")
        if chosen is not None:
            return await self._ask(chosen, sent.order_id, sent.locale, sender, message_id, "booked")
        piece_ids = [p.piece_id for p in view.pieces]
        read = read_reply(text, piece_ids)
        if isinstance(read, Ambiguous) and read_exchange_request(text):
            wanted = cmd.ExchangeRequest(words=text[:500], channel="whatsapp", reference=message_id)
            return await self._ask(wanted, sent.order_id, sent.locale, sender, message_id, "exchange asked")
        if isinstance(read, Ambiguous) and not isinstance(days := read_extension_request(text), Ambiguous):
            asked = cmd.ExtensionRequest(days=days, words=text[:500], channel="whatsapp", reference=message_id)
            return await self._ask(asked, sent.order_id, sent.locale, sender, message_id, "extension asked")
        if isinstance(read, Ambiguous):
            await self._answer(sender, message_id, reply_text("unclear", sent.locale, why=read.why))
            return "ambiguous"
        command = cmd.Decisions(decisions=read, actor="client", channel="whatsapp", reference=message_id)
        try:
            await self.trials.execute(sent.order_id, command, f"whatsapp:{message_id}")
        except DomainError as err:
            if err.code in CLOSED:
                await self._answer(sender, message_id, reply_text("closed", sent.locale, order=sent.order_id))
                return "trial closed"
            await self._answer(sender, message_id, reply_text("unclear", sent.locale, why=err.message))
            return f"refused ({err.code.value})"
        numbers: dict[str, list[int]] = {}
        for d in read:
            numbers.setdefault(d.decision, []).append(piece_ids.index(d.piece_id) + 1)
        noted = decisions_text(sent.locale, numbers)
        await self._answer(sender, message_id, reply_text("noted", sent.locale, order=sent.order_id, decisions=noted))
        return "decided"

    async def _ask(
        self, command: cmd.CollectionBooking | cmd.ReturnLabel | cmd.ExtensionRequest | cmd.ExchangeRequest,
        order_id: str, locale: str,
        sender: str, message_id: str, done: str,
    ) -> str:  # fmt: skip
        """What the client asked for as a command of theirs: a collection slot or the label chosen from our
        offer, or more time. The answer (the booking's carrier and tracking, the trial's new end, or that
        their shopper will answer) follows as its own message, from the trial."""
        try:
            await self.trials.execute(order_id, command, f"whatsapp:{message_id}")
        except DomainError as err:
            if err.code in CLOSED:
                await self._answer(sender, message_id, reply_text("closed", locale, order=order_id))
                return "trial closed"
            await self._answer(sender, message_id, reply_text("unclear", locale, why=err.message))
            return f"refused ({err.code.value})"
        return done

    async def _answer(self, to: str, replying_to: str, text: str) -> None:
        try:
            await self.whatsapp.send_text(to, text, replying_to)
        except Exception as err:  # the decision (or its absence) stands; the answer is a courtesy
            log.warning("could not answer WhatsApp message %s: %s", replying_to, type(err).__name__)
