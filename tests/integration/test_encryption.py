"""Client data is encrypted in every payload; the codec server decodes it for staff, and only for them."""

import base64
import json
import uuid
import zlib
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bootstrap import Adapters, build_api, build_worker, codec, data_converter
from config import Settings
from domain.examples import order
from domain.workflow_io import StartTrial
from persistence.migrate import upgrade
from security.codec import (
    COMPRESSION,
    ENCODING,
    INFLATED_MAX,
    EncryptionCodec,
    codec_from,
    dev_keys,
    new_key,
)
from tests.support import Harness

NAME, STREET = "Client Name", "1 Mount St"  # the shipping address of tests.support.order


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


async def test_the_codec_encrypts_with_the_active_key_and_decrypts_with_every_configured_key():
    old, new = new_key(), new_key()
    before = codec_from({"k1": old}, "k1")
    [sealed_before] = await before.encode([plain(NAME)])
    assert NAME.encode() not in sealed_before.data and sealed_before.metadata["encryption-key-id"] == b"k1"
    rotated = codec_from({"k1": old, "k2": new}, "k2")
    [sealed_after] = await rotated.encode([plain(NAME)])
    assert sealed_after.metadata["encryption-key-id"] == b"k2"
    assert [p.data for p in await rotated.decode([sealed_before, sealed_after, plain("clear")])] == [
        json.dumps(NAME).encode(), json.dumps(NAME).encode(), json.dumps("clear").encode(),
    ]  # fmt: skip
    with pytest.raises(ValueError, match="unknown key"):
        await codec_from({"k2": new}, "k2").decode([sealed_before])
    tampered = Payload(metadata=sealed_after.metadata, data=sealed_after.data[:-1] + bytes([sealed_after.data[-1] ^ 1]))
    with pytest.raises(Exception):  # noqa: B017 - AES-GCM refuses a payload that was altered
        await rotated.decode([tampered])
    with pytest.raises(ValueError, match="32 bytes"):
        EncryptionCodec({"short": b"x" * 16}, "short")


async def test_large_payloads_are_compressed_before_sealing_and_payloads_sealed_before_compression_still_open():
    key = new_key()
    c = codec_from({"k1": key}, "k1")
    view = plain(json.dumps([{"piece_id": f"p{i}", "state": "with_client", "decision": None} for i in range(30)]))
    small = plain(NAME)
    [big, little] = await c.encode([view, small])
    assert big.metadata[COMPRESSION] == b"zlib" and len(big.data) < len(view.SerializeToString()) / 4
    assert COMPRESSION not in little.metadata
    assert await c.decode([big, little]) == [view, small]
    # Sealed as every payload was before compression (no compression entry): still opens as it is.
    cipher, nonce = AESGCM(base64.b64decode(key)), b"\x00" * 12
    old = Payload(
        metadata={"encoding": ENCODING, "encryption-key-id": b"k1"},
        data=nonce + cipher.encrypt(nonce, view.SerializeToString(), b"k1"),
    )
    assert await c.decode([old]) == [view]
    # A payload that inflates beyond any payload Temporal takes is refused, not inflated.
    bomb = Payload(
        metadata={"encoding": ENCODING, "encryption-key-id": b"k1", COMPRESSION: b"zlib"},
        data=nonce + cipher.encrypt(nonce, zlib.compress(b"\x00" * (INFLATED_MAX + 1)), b"k1"),
    )
    with pytest.raises(ValueError, match="inflates to more than"):
        await c.decode([bomb])
    unknown = Payload(metadata={**old.metadata, COMPRESSION: b"lz4"}, data=old.data)
    with pytest.raises(ValueError, match="unknown 'lz4'"):
        await c.decode([unknown])


def test_the_local_stack_keeps_one_key_in_its_data_folder(tmp_path: Path):
    first = dev_keys(tmp_path)
    assert first == dev_keys(tmp_path) and (tmp_path / "codec-keys.json").stat().st_mode & 0o077 == 0


async def test_raw_history_never_contains_the_client_s_name_or_address(
    time_skipping_env: WorkflowEnvironment, store, tmp_path: Path
):
    settings = Settings(data_dir=tmp_path)
    upgrade(settings.resolved_database_url)  # the trials' own data keys are kept there
    config = time_skipping_env.client.config()
    config["data_converter"] = data_converter(settings)
    client = Client(**config)
    queue = f"enc-{uuid.uuid4()}"
    adapters = Adapters(store=store)
    async with build_worker(client, queue, adapters):
        h = Harness(client, queue, adapters, time_skipping_env.sleep)
        o = order(2)
        trial = await h.start_accepted(o)
        history = await trial.handle.fetch_history()
        raw = history.to_json()
        assert NAME not in raw and STREET not in raw and "trial-key" in raw, "sealed with the trial's own key"
        # ... while the engine itself reads it back whole.
        started = history.events[0].workflow_execution_started_event_attributes
        [decoded] = await client.data_converter.decode(started.input.payloads, [StartTrial])
        assert decoded.order.shipping_address is not None and decoded.order.shipping_address.name == NAME
        assert (await trial.view()).status == "AWAITING_DISPATCH"
        await h.terminate_running()


async def test_the_codec_server_decodes_for_staff_only(dev_env: WorkflowEnvironment, store, tmp_path: Path):
    settings = Settings(
        data_dir=tmp_path,
        api_tokens={"tok-s": "support", "tok-r": "read", "tok-f": "fulfilment"},
        codec_ui_key="ui-key-123",
        temporal_ui_port=8233,
    )
    app = build_api(settings, dev_env.client, store)
    [sealed] = await codec(settings).encode([plain(NAME)])
    body = json_format.MessageToJson(Payloads(payloads=[sealed]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        for path, headers in (("/codec/decode", {"Authorization": "Bearer tok-s"}), ("/codec/ui-key-123/decode", {})):
            r = await http.post(path, content=body, headers={"content-type": "application/json", **headers})
            assert r.status_code == 200, r.text
            [payload] = r.json()["payloads"]
            assert base64.b64decode(payload["data"]) == json.dumps(NAME).encode()
        for path, headers in (
            ("/codec/decode", {}),
            ("/codec/decode", {"Authorization": "Bearer nope"}),
            ("/codec/wrong/decode", {}),
        ):
            r = await http.post(path, content=body, headers={"content-type": "application/json", **headers})
            assert r.status_code == 401 and NAME not in r.text
        for token in ("tok-r", "tok-f"):  # valid tokens of roles that don't act on trials
            r = await http.post("/codec/decode", content=body, headers={
                "content-type": "application/json", "Authorization": f"Bearer {token}"})  # fmt: skip
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden" and NAME not in r.text
        r = await http.post(
            "/codec/ui-key-123/decode", content="not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 422
        ok = await http.options(
            "/codec/ui-key-123/decode",
            headers={
                "Origin": "http://localhost:8233",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-namespace",
            },
        )
        assert ok.headers.get("access-control-allow-origin") == "http://localhost:8233"
        evil = await http.options(
            "/codec/ui-key-123/decode",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in evil.headers
