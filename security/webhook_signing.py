"""Webhook signatures as the Standard Webhooks specification defines them (standardwebhooks.com): HMAC-SHA256
over `<webhook-id>.<webhook-timestamp>.<body>` with the subscriber's secret, base64, prefixed `v1,`, signed
with the specification's reference package (`standardwebhooks`, PyPI).

A secret is `whsec_` and the base64 of at least 24 random bytes (`new_secret()` makes one). During a
rotation a subscriber has two secrets and each message carries both signatures, space-separated, so the
receiver may switch to the new secret at any moment and drop the old one afterwards.
"""

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook

PREFIX = "whsec_"
MIN_KEY_BYTES = 24


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def key_of(secret: str) -> bytes:
    """The signing key inside a secret; ValueError (without the secret in it) when it is not one."""
    if not secret.startswith(PREFIX):
        raise ValueError(f"a webhook secret starts with {PREFIX}")
    try:
        key = base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except ValueError:
        raise ValueError("a webhook secret is whsec_ and base64") from None
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"a webhook secret holds at least {MIN_KEY_BYTES} bytes")
    return key


def signature(secrets_: list[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: one `v1,<base64>` per secret, each made by the specification's own
    library (`standardwebhooks`), so what we sign is what every receiver's library checks."""
    at = datetime.fromtimestamp(timestamp, UTC)
    return " ".join(Webhook(key_of(s)).sign(message_id, at, body.decode()) for s in secrets_)


def headers(secrets_: list[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secrets_, message_id, timestamp, body),
        "content-type": "application/json",
    }
