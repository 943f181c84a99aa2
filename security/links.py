"""Links a client opens from a message to act without logging in: book the collection slot they chose, or
get a prepaid label. Each link carries what it does (the order and the choice), until when, and an HMAC
over both, under a key derived from the payload encryption key (as the fingerprints are, under another
purpose): every process that holds the codec keys makes and checks them; nobody else can forge one, and a
link changed by a character is refused.

A link only ever does what it says, for its own order, once (the command's update id is the link itself).
"""

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime

_PURPOSE = b"styletrial client link v1"


@dataclass(frozen=True)
class Link:
    order_id: str
    choice: str
    locale: str
    zone: str


MAX_TOKEN = 400


class Links:
    def __init__(self, keys: dict[str, bytes], active: str, public_url: str) -> None:
        if active not in keys:
            raise ValueError(f"the active key {active!r} is not among the configured keys")
        self._keys = {key_id: hmac.new(key, _PURPOSE, hashlib.sha256).digest() for key_id, key in keys.items()}
        self._active = active
        self._base = public_url.rstrip("/")

    def url(self, order_id: str, choice: str, until: datetime, locale: str = "en", zone: str = "UTC") -> str:
        return f"{self._base}/v1/client-choices/{self.token(order_id, choice, until, locale, zone)}"

    def token(self, order_id: str, choice: str, until: datetime, locale: str = "en", zone: str = "UTC") -> str:
        """`locale` and `zone` say how the page the link opens is written (the client's language and clock)."""
        fields = [order_id, choice, int(until.timestamp()), locale, zone]
        body = base64.urlsafe_b64encode(json.dumps(fields, separators=(",", ":")).encode()).decode().rstrip("=")
        return f"{body}.{self._active}.{self._mac(self._active, body)}"

    def read(self, token: str, now: datetime) -> Link | None:
        """What a link carries; None when it is not ours, was changed, or has expired."""
        if len(token) > MAX_TOKEN or token.count(".") != 2:
            return None
        body, key_id, mac = token.split(".")
        if key_id not in self._keys or not hmac.compare_digest(self._mac(key_id, body), mac):
            return None
        try:
            order_id, choice, until, locale, zone = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, TypeError):
            return None
        if not all(isinstance(v, str) for v in (order_id, choice, locale, zone)) or not isinstance(until, int):
            return None
        return Link(order_id, choice, locale, zone) if now.timestamp() <= until else None

    def _mac(self, key_id: str, body: str) -> str:
        return hmac.new(self._keys[key_id], body.encode(), hashlib.sha256).hexdigest()[:32]
