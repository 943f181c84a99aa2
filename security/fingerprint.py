"""Keyed fingerprints of personal data the engine must recognise but never keep: the number a WhatsApp
message went to, so that only a reply from that number decides anything (application/replies.py).

A fingerprint is `<key id>:<HMAC-SHA256 hex>`, under a key derived from the payload encryption key of that
id (security/codec.py): every process that can read a trial's payloads can recognise its client, and
nobody without the keys can turn a fingerprint back into a number (a plain hash of a phone number can be
reversed by trying every number). Keys rotate as the codec's do: new fingerprints use the active key, old
ones are checked with the key they name, for as long as it is configured.
"""

import hashlib
import hmac

# What the derived key is for, so that it is never the encryption key itself.
_PURPOSE = b"styletrial fingerprint v1"


class Fingerprints:
    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        if active not in keys:
            raise ValueError(f"the active key {active!r} is not among the configured keys")
        self._keys = {key_id: hmac.new(key, _PURPOSE, hashlib.sha256).digest() for key_id, key in keys.items()}
        self._active = active

    def of(self, value: str) -> str:
        return f"{self._active}:{self._digest(self._active, value)}"

    def matches(self, value: str, fingerprint: str | None) -> bool:
        """Whether `value` is what `fingerprint` was made of; False for none, or a retired key's."""
        key_id, _, digest = (fingerprint or "").partition(":")
        if key_id not in self._keys or not digest:
            return False
        return hmac.compare_digest(self._digest(key_id, value), digest)

    def _digest(self, key_id: str, value: str) -> str:
        return hmac.new(self._keys[key_id], value.encode(), hashlib.sha256).hexdigest()


def whatsapp_number(number: str) -> str:
    """A WhatsApp number as the Cloud API writes it in a message's `from` (digits, no +): the form we
    fingerprint, whichever form the order or the webhook carries."""
    return number.strip().removeprefix("+")
