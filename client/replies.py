"""A client's WhatsApp reply to a reminder becomes keep/return decisions on the trial, with actor `client`,
channel `whatsapp` and the message's id as reference, so the shopper sees it in the audit trail.

The reply quotes our reminder (WhatsApp's `context`), whose id names the order (`client_messages`). It is
read by `domain.replies`; an ambiguous one gets a clarifying answer and changes nothing; a reply to a closed
trial gets a polite answer. The message id is also the command's update id: WhatsApp delivers a webhook
again when it is unsure, and the same id is the same decision, never a second one.
"""

import asyncio
import logging
from typing import Any

from activities.client_messages import WhatsAppCloud
from activities.messages import decisions_text, reply_text
from client.trials import TrialClient
from domain import commands as cmd
from domain.errors import DomainError, ErrorCode
from domain.replies import Ambiguous, read_reply
from persistence.store import SqlStore
from workflows.style_trial import StyleTrialWorkflow as W

log = logging.getLogger("styletrial.replies")
CLOSED = {ErrorCode.TRIAL_CLOSED, ErrorCode.TRIAL_FINISHED}


class Replies:
    def __init__(self, trials: TrialClient, store: SqlStore, whatsapp: WhatsAppCloud) -> None:
        self.trials, self.store, self.whatsapp = trials, store, whatsapp

    async def handle(self, message: dict[str, Any]) -> str:
        """One inbound message from the webhook; returns what became of it (for the log, no content)."""
        message_id, sender = str(message.get("id", "")), str(message.get("from", ""))
        text = _text_of(message)
        if not message_id or not sender or text is None:
            return "ignored (not a text or a button)"
        quoted = (message.get("context") or {}).get("id")
        sent = await asyncio.to_thread(self.store.message, quoted) if quoted else None
        if sent is None:
            await self._answer(sender, message_id, reply_text("which", "en"))
            return "asked which order"
        view = await asyncio.to_thread(self.store.view, sent.order_id)
        if view is None:
            await self._answer(sender, message_id, reply_text("which", sent.locale))
            return "asked which order"
        piece_ids = [p.piece_id for p in view.pieces]
        read = read_reply(text, piece_ids)
        if isinstance(read, Ambiguous):
            await self._answer(sender, message_id, reply_text("unclear", sent.locale, why=read.why))
            return "ambiguous"
        command = cmd.Decisions(decisions=read, actor="client", channel="whatsapp", reference=message_id)
        try:
            await self.trials.execute(sent.order_id, W.decide, command, f"whatsapp:{message_id}")
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

    async def _answer(self, to: str, replying_to: str, text: str) -> None:
        try:
            await self.whatsapp.send_text(to, text, replying_to)
        except Exception as err:  # the decision (or its absence) stands; the answer is a courtesy
            log.warning("could not answer WhatsApp message %s: %s", replying_to, type(err).__name__)


def _text_of(message: dict[str, Any]) -> str | None:
    kind = message.get("type")
    if kind == "text":
        return str((message.get("text") or {}).get("body", ""))
    if kind == "button":  # a quick-reply button of a template
        return str((message.get("button") or {}).get("payload") or (message.get("button") or {}).get("text", ""))
    if kind == "interactive":
        reply = message.get("interactive") or {}
        chosen = reply.get("button_reply") or reply.get("list_reply") or {}
        return str(chosen.get("id") or chosen.get("title") or "")
    return None
