"""AES-GCM payload encryption for everything the engine sends through Temporal.

Orders carry client data (the shipping address: a name, a street, a postcode). Temporal stores every
payload in its history, so every payload is encrypted before it leaves the process: histories, the UI
and the CLI show ciphertext unless they decode through this codec (in the UI: the codec server).

Keys have ids. The active key encrypts; every configured key decrypts, so rotation is: add a new key, make
it active, and keep the old one for as long as histories encrypted with it exist.
"""

import base64
import json
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        if active not in keys:
            raise ValueError(f"the active key {active!r} is not among the configured keys")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"key {key_id!r} must be 32 bytes (AES-256), not {len(key)}")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active = active

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self._ciphers[self._active]
        out = []
        for p in payloads:
            nonce = os.urandom(12)
            sealed = cipher.encrypt(nonce, p.SerializeToString(), self._active.encode())
            out.append(Payload(metadata={"encoding": ENCODING, KEY_ID: self._active.encode()}, data=nonce + sealed))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            if p.metadata.get("encoding") != ENCODING:
                out.append(p)  # written before encryption was on: readable as it is
                continue
            key_id = p.metadata[KEY_ID].decode()
            cipher = self._ciphers.get(key_id)
            if cipher is None:
                raise ValueError(f"payload encrypted with unknown key {key_id!r}: keep retired keys configured")
            out.append(Payload.FromString(cipher.decrypt(p.data[:12], p.data[12:], key_id.encode())))
        return out


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def decoded_keys(keys: dict[str, str], active: str | None) -> tuple[dict[str, bytes], str]:
    """Keys as configured (base64 by id) as bytes, and the active id (the last id when none is named)."""
    decoded = {key_id: base64.b64decode(value) for key_id, value in keys.items()}
    return decoded, active or sorted(decoded)[-1]


def codec_from(keys: dict[str, str], active: str | None) -> EncryptionCodec:
    return EncryptionCodec(*decoded_keys(keys, active))


def dev_keys(data_dir: Path) -> tuple[dict[str, str], str]:
    """The local stack's key, made once and kept in the (git-ignored) data folder with the history it
    protects. Production passes keys through settings instead."""
    path = data_dir / "codec-keys.json"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"active": "dev-1", "keys": {"dev-1": new_key()}}))
        path.chmod(0o600)
    stored = json.loads(path.read_text())
    return dict(stored["keys"]), str(stored["active"])
