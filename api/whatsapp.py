"""The WhatsApp Business webhook: Meta's verification handshake, and the messages clients send, each checked
against `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with the app secret) before anything is read.

A reply to a reminder becomes decisions (application/replies.py). The webhook answers 200 to every signed call,
whatever its messages held (malformed, too many, from a stranger): Meta retries what it thinks failed, and a
retry would carry the same thing. Delivery statuses and replies are logged by message id only.
"""

import hashlib
import hmac
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic_core import from_json

from api.auth import ApiError
from application.replies import MAX_MESSAGES, Inbound, Replies

log = logging.getLogger("styletrial.api")


def whatsapp_router(replies: Replies, app_secret: str, verify_token: str) -> APIRouter:
    router = APIRouter(prefix="/v1/whatsapp", tags=["whatsapp"], include_in_schema=True)

    @router.get("/webhook", summary="Meta's subscription handshake")
    async def verify_whatsapp_webhook(
        mode: Annotated[str, Query(alias="hub.mode", max_length=20)],
        token: Annotated[str, Query(alias="hub.verify_token", max_length=200)],
        challenge: Annotated[str, Query(alias="hub.challenge", max_length=200)],
    ) -> Response:
        if mode != "subscribe" or not hmac.compare_digest(token.encode(), verify_token.encode()):
            raise ApiError(403, "forbidden", "The verify token does not match.")
        return Response(challenge, media_type="text/plain")

    @router.post("/webhook", summary="Messages and statuses from WhatsApp (signed by Meta)")
    async def whatsapp_webhook(request: Request) -> dict[str, Any]:
        body = await request.body()
        given = request.headers.get("x-hub-signature-256", "")
        expected = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise ApiError(401, "unauthenticated", "The X-Hub-Signature-256 header does not match the body.")
        try:
            # pydantic-core's parser, not the standard library's: it refuses nesting past 200 levels with a
            # ValueError, where json.loads recursed in Python until the interpreter's limit, and a collection
            # or a finalizer that ran at that depth failed on its own (a full test run saw a RecursionError so).
            payload = from_json(body)
        except ValueError:
            payload = None
            log.warning("whatsapp webhook: a signed call whose body is not JSON, ignored")
        inbound = Inbound(payload)
        for status in inbound.statuses:
            log.info("whatsapp message %s: %s", status.id, status.status)
        outcomes: list[str] = []
        for message in inbound.messages:
            if message is None:
                log.warning("whatsapp webhook: a message that is not WhatsApp's shape, ignored")
                outcomes.append("ignored (malformed)")
                continue
            outcome = await replies.handle(message)
            log.info("whatsapp reply %s: %s", message.id, outcome)
            outcomes.append(outcome)
        if inbound.dropped:
            log.warning("whatsapp webhook: %d messages beyond the %d a call may carry, dropped", inbound.dropped,
                        MAX_MESSAGES)  # fmt: skip
        return {"received": outcomes}

    return router
