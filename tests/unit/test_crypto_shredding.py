"""Crypto-shredding in the payload codec: a trial's payloads are sealed with a data key of its own (named in
the payload, kept wrapped by the configured key), so destroying that key leaves them unreadable, `[erased]`,
while every other trial reads on; payloads with no trial, and those sealed before, use the configured key.
And what erasing leaves of a trial's view: ids, states, dates and amounts, none of the words."""

import asyncio
import base64
import secrets
import time
from datetime import UTC, datetime

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import WorkflowSerializationContext

from domain import commands as cmd
from domain.erasure import ERASED, erased
from domain.examples import order, parcels
from domain.view import view_of
from security.codec import KEY_TTL, TRIAL_KEY, EncryptionCodec, _KeyCache
from tests.domain_support import Driver


class Keys:
    """The key store's port, in memory (persistence.erasure.SqlTrialKeys is the real one)."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, bytes] | None] = {}
        self.location = f"memory-{id(self)}"

    def get(self, trial_id: str) -> tuple[str, bytes] | bool | None:
        if trial_id not in self.rows:
            return None
        row = self.rows[trial_id]
        return False if row is None else row

    def put(self, trial_id: str, key_id: str, wrapped: bytes) -> tuple[str, bytes] | bool:
        self.rows.setdefault(trial_id, (key_id, wrapped))
        return self.get(trial_id)  # type: ignore[return-value]


def codec(keys: Keys) -> EncryptionCodec:
    return EncryptionCodec({"k1": secrets.token_bytes(32)}, "k1", store=keys, cache=_KeyCache())


def of(c: EncryptionCodec, trial: str) -> EncryptionCodec:
    return c.with_context(WorkflowSerializationContext(namespace="default", workflow_id=trial))


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


def test_destroying_a_trial_s_key_erases_its_payloads_and_no_other():
    keys = Keys()
    c = codec(keys)
    a, b = "style-trial-A-1", "style-trial-B-2"
    [sealed_a] = asyncio.run(of(c, a).encode([plain("Ada, 1 Mount St")]))
    [sealed_b] = asyncio.run(of(c, b).encode([plain("Grace, 2 Hill St")]))
    assert sealed_a.metadata[TRIAL_KEY] == a.encode() and b"Ada" not in sealed_a.data
    stored = keys.rows[a]
    assert stored is not None and stored[0] == "k1" and len(stored[1]) == 12 + 32 + 16, "wrapped by the key k1"
    assert asyncio.run(c.decode([sealed_a])) == [plain("Ada, 1 Mount St")]
    keys.rows[a] = None  # erased: the key is gone
    c.forget(a)
    assert asyncio.run(c.decode([sealed_a, sealed_b])) == [
        Payload(metadata={"encoding": b"json/plain"}, data=f'"{ERASED}"'.encode()), plain("Grace, 2 Hill St"),
    ]  # fmt: skip
    with pytest.raises(ValueError, match="erased"):
        asyncio.run(of(c, a).encode([plain("more")]))


def test_another_process_reads_the_stored_key_and_forgets_it_once_erased():
    keys = Keys()
    here, there = codec(keys), codec(keys)
    there._keys = here._keys  # the same configured key, as every process of a deployment has
    there._ciphers = here._ciphers
    [sealed] = asyncio.run(of(here, "style-trial-C-3").encode([plain("x")]))
    assert asyncio.run(there.decode([sealed])) == [plain("x")]
    keys.rows["style-trial-C-3"] = None
    there._cache.keys.clear()  # its cached key lapsed (KEY_TTL)
    assert asyncio.run(there.decode([sealed]))[0].data == f'"{ERASED}"'.encode()


def test_the_process_s_key_cache_keeps_only_the_keys_of_the_last_ttl(monkeypatch: pytest.MonkeyPatch):
    # A worker runs thousands of trials in its life: the cache must not keep a key for each of them.
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    keys = Keys()
    c = codec(keys)
    for i in range(50):
        asyncio.run(of(c, f"style-trial-E-{i}").encode([plain("x")]))
    assert len(c._cache.keys) == 50
    clock[0] += KEY_TTL + 1
    [sealed] = asyncio.run(of(c, "style-trial-F-1").encode([plain("y")]))
    assert list(c._cache.keys) == [(keys.location, "style-trial-F-1")], "the lapsed keys were dropped"
    keys.rows["style-trial-F-1"] = None
    c.forget("style-trial-F-1")
    clock[0] += KEY_TTL + 1
    asyncio.run(of(c, "style-trial-G-1").encode([plain("z")]))
    assert asyncio.run(c.decode([sealed]))[0].data == f'"{ERASED}"'.encode(), "the store still says erased"


def test_payloads_of_no_trial_use_the_configured_key():
    keys = Keys()
    c = codec(keys)
    schedule = c.with_context(WorkflowSerializationContext(namespace="default", workflow_id="buying-digest"))
    [sealed] = asyncio.run(schedule.encode([plain("week")]))
    assert TRIAL_KEY not in sealed.metadata and not keys.rows
    assert asyncio.run(c.decode([sealed])) == [plain("week")]


def test_a_key_store_is_needed_to_read_a_trial_s_own_key():
    keys = Keys()
    [sealed] = asyncio.run(of(codec(keys), "style-trial-D-4").encode([plain("x")]))
    bare = EncryptionCodec({"k1": base64.b64decode(base64.b64encode(secrets.token_bytes(32)))}, "k1")
    with pytest.raises(ValueError, match="no key store"):
        asyncio.run(bare.decode([sealed]))


def test_an_erased_view_keeps_ids_states_and_money_but_no_words():
    d = Driver(order(2))
    d.trial.dispatch(parcels([["p1", "p2"]]), d.now)
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.settle()
    said = [cmd.PieceDecision(piece_id="p1", decision="keep", feedback="For my daughter's graduation")]
    d.trial.decide(cmd.Decisions(decisions=said, actor="client", channel="whatsapp", reference="wamid.77"), d.now)
    d.trial.request_extension(
        cmd.ExtensionRequest(days=7, words="I am in hospital until Friday", channel="whatsapp"), d.now
    )
    before = view_of(d.trial)
    after = erased(before, datetime(2026, 12, 7, tzinfo=UTC))
    text = after.model_dump_json()
    assert "graduation" not in text and "hospital" not in text and "wamid.77" not in text
    assert after.amounts == before.amounts and [p.state for p in after.pieces] == [p.state for p in before.pieces]
    assert after.events[-1].kind == "erased" and len(after.events) == len(before.events) + 1
    assert after.attention["extension_requested"] == ERASED


def test_two_databases_with_a_trial_of_the_same_id_never_share_its_key():
    """One process, two deployments' key stores (two test stacks, say): the process's keys are per store."""
    one, two = Keys(), Keys()
    first = EncryptionCodec({"k1": secrets.token_bytes(32)}, "k1", store=one)  # the process's shared cache
    second = EncryptionCodec({"k1": secrets.token_bytes(32)}, "k1", store=two)
    [a] = asyncio.run(of(first, "style-trial-same-1").encode([plain("one")]))
    [b] = asyncio.run(of(second, "style-trial-same-1").encode([plain("two")]))
    assert asyncio.run(first.decode([a])) == [plain("one")] and asyncio.run(second.decode([b])) == [plain("two")]
