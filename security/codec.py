"""AES-GCM payload encryption for everything the engine sends through Temporal.

Orders carry client data (the shipping address: a name, a street, a postcode). Temporal stores every
payload in its history, so every payload is encrypted before it leaves the process: histories, the UI
and the CLI show ciphertext unless they decode through this codec (in the UI: the codec server).

Keys have ids. The active key encrypts; every configured key decrypts, so rotation is: add a new key, make
it active, and keep the old one for as long as histories encrypted with it exist.

A payload of `COMPRESS_FROM` bytes or more is compressed (zlib) before it is encrypted: a trial's view is JSON
that repeats its field names thirty times and shrinks tenfold, and the worker's SDK keeps every local
activity's input in memory for as long as the trial is cached. Compressing before encrypting can leak, by
the sealed size, how alike a secret is to text an attacker adds to the same payload, but only to someone who
sees the sizes and chooses that text over many tries; nobody outside Temporal's own storage sees the sizes.
"""

import asyncio
import base64
import copy
import json
import os
import secrets
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec, SerializationContext, WithSerializationContext

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
TRIAL_KEY = "trial-key"  # the trial whose data key sealed the payload
TRIAL_PREFIX = "style-trial-"
ERASED = Payload(metadata={"encoding": b"json/plain"}, data=b'"[erased]"')
KEY_TTL = 30.0
COMPRESSION = "compression"  # b"zlib": the sealed bytes are the serialized payload compressed, then encrypted
# Below this, zlib's own header and the metadata entry cost about what compressing saves.
COMPRESS_FROM = 512
# What a payload may inflate to: Temporal refuses payloads above 2 MB by default, and the codec server
# decodes what a UI user sends, which must not inflate without bound.
INFLATED_MAX = 4 * 1024 * 1024


class TrialKeys(Protocol):
    """Where each trial's data key is kept, wrapped by a configured key (persistence.erasure.SqlTrialKeys)."""

    # Which store this is (its database): two stores of one database hold the same keys.
    location: str

    def get(self, trial_id: str) -> tuple[str, bytes] | bool | None:
        """(wrapping key id, wrapped key); None when the trial has none yet; False once it was erased."""
        ...

    def put(self, trial_id: str, key_id: str, wrapped: bytes) -> tuple[str, bytes] | bool:
        """Keep this key unless the trial has one already: the one kept (or False: erased)."""
        ...


class _KeyCache:
    """Data keys a process holds, each for `KEY_TTL` seconds; an erased trial is remembered as such.

    Entries past their time are dropped every `KEY_TTL` seconds: a worker touches every trial it ever runs,
    and without that the cache grew by a key for each of them for the life of the process. An erased trial's
    mark goes too, after the same time: the key store then answers that it was erased."""

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], tuple[float, AESGCM | None]] = {}  # by (store, trial): (until, key)
        self._next_prune = 0.0

    def get(self, slot: tuple[str, str]) -> tuple[bool, AESGCM | None]:
        """(known, key): the key while it is fresh; None for an erased trial, whatever its time."""
        cached = self.keys.get(slot)
        if cached is None or (cached[1] is not None and cached[0] <= time.monotonic()):
            return False, None
        return True, cached[1]

    def keep(self, slot: tuple[str, str], cipher: AESGCM | None) -> None:
        now = time.monotonic()
        self.keys[slot] = (now + KEY_TTL, cipher)
        if now >= self._next_prune:
            self._next_prune = now + KEY_TTL
            for stale in [s for s, (until, _) in self.keys.items() if until <= now]:
                del self.keys[stale]


# One per process, shared by every codec in it (the client's, the codec server's): an erasure made here is
# forgotten by all of them at once; other processes forget within KEY_TTL.
_PROCESS_KEYS = _KeyCache()


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    def __init__(
        self, keys: dict[str, bytes], active: str, store: TrialKeys | None = None, trial_id: str | None = None,
        cache: _KeyCache | None = None,
    ) -> None:  # fmt: skip
        if active not in keys:
            raise ValueError(f"the active key {active!r} is not among the configured keys")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"key {key_id!r} must be 32 bytes (AES-256), not {len(key)}")
        self._keys = keys
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active = active
        self._store = store
        self._trial = trial_id
        self._cache = cache or _PROCESS_KEYS

    def with_context(self, context: SerializationContext) -> "EncryptionCodec":
        """Bound to the trial whose payloads these are (its own data key), when a key store is configured."""
        workflow_id = getattr(context, "workflow_id", None)
        if self._store is None or not workflow_id or not workflow_id.startswith(TRIAL_PREFIX):
            return self
        # Called for every payload conversion: a shallow copy shares the ciphers (building them is not free).
        bound = copy.copy(self)
        bound._trial = workflow_id
        return bound

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if self._trial is not None:
            cipher = await self._trial_cipher(self._trial, create=True)
            if cipher is None:
                raise ValueError(f"{self._trial} was erased: nothing more is written for it")
            return [self._seal(cipher, p, {TRIAL_KEY: self._trial.encode()}, self._trial) for p in payloads]
        cipher = self._ciphers[self._active]
        return [self._seal(cipher, p, {KEY_ID: self._active.encode()}, self._active) for p in payloads]

    @staticmethod
    def _seal(cipher: AESGCM, p: Payload, names: dict[str, bytes], aad: str) -> Payload:
        plain = p.SerializeToString()
        metadata = {"encoding": ENCODING, **names}
        if len(plain) >= COMPRESS_FROM:
            plain = zlib.compress(plain, 1)  # the fastest level: a 19.5 KB view to 1.9 KB; level 6: 1.7 KB, 3x the time
            metadata[COMPRESSION] = b"zlib"
        nonce = os.urandom(12)
        return Payload(metadata=metadata, data=nonce + cipher.encrypt(nonce, plain, aad.encode()))

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            if p.metadata.get("encoding") != ENCODING:
                out.append(p)  # written before encryption was on: readable as it is
                continue
            if TRIAL_KEY in p.metadata:
                trial = p.metadata[TRIAL_KEY].decode()
                cipher = await self._trial_cipher(trial, create=False)
                out.append(ERASED if cipher is None else _opened(p, cipher, trial))
                continue
            key_id = p.metadata[KEY_ID].decode()
            known = self._ciphers.get(key_id)
            if known is None:
                raise ValueError(f"payload encrypted with unknown key {key_id!r}: keep retired keys configured")
            out.append(_opened(p, known, key_id))
        return out

    def forget(self, trial: str) -> None:
        """This process stops using the trial's data key at once (its key was just destroyed)."""
        if self._store is not None:
            self._cache.keep((self._store.location, trial), None)

    async def _trial_cipher(self, trial: str, create: bool) -> AESGCM | None:
        """The trial's data key (made on first use when `create`), or None once it was erased."""
        if self._store is None:
            raise ValueError(f"a payload of {trial} is sealed with its own key, and no key store is configured")
        store = self._store
        slot = (store.location, trial)
        known, cached = self._cache.get(slot)
        if known:
            return cached
        found = await asyncio.to_thread(store.get, trial)
        if found is None:
            if not create:
                raise ValueError(f"no data key for {trial}")
            key = secrets.token_bytes(32)
            nonce = os.urandom(12)
            wrapped = nonce + self._ciphers[self._active].encrypt(nonce, key, trial.encode())
            found = await asyncio.to_thread(store.put, trial, self._active, wrapped)
        if found is False:
            self._cache.keep(slot, None)
            return None
        assert isinstance(found, tuple)
        key_id, wrapped = found
        wrapping = self._ciphers.get(key_id)
        if wrapping is None:
            raise ValueError(f"the data key of {trial} is wrapped by unknown key {key_id!r}: keep retired keys")
        cipher = AESGCM(wrapping.decrypt(wrapped[:12], wrapped[12:], trial.encode()))
        self._cache.keep(slot, cipher)
        return cipher


def _opened(p: Payload, cipher: AESGCM, aad: str) -> Payload:
    plain = cipher.decrypt(p.data[:12], p.data[12:], aad.encode())
    compression = p.metadata.get(COMPRESSION)
    if compression is not None:
        if compression != b"zlib":
            raise ValueError(f"payload compressed with unknown {compression.decode(errors='replace')!r}")
        inflate = zlib.decompressobj()
        plain = inflate.decompress(plain, INFLATED_MAX)
        if inflate.unconsumed_tail or not inflate.eof:
            raise ValueError(f"payload inflates to more than {INFLATED_MAX} bytes, or is cut short")
    return Payload.FromString(plain)


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
