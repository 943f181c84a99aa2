"""Hostile and careless input over HTTP: each case gets its 4xx and code, never a 5xx, and a trial that
already exists is exactly as it was afterwards. Commands retried with an Idempotency-Key apply once.

The corpus runs on both databases (a NUL is a fine SQLite string and a PostgreSQL error), against a real dev
server and worker, with the WhatsApp webhook configured. Each case found by an outside probe stays here."""

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.client_messages import WhatsAppCloud
from bootstrap import Adapters, build_api, build_worker, fingerprints
from config import Settings
from persistence.db import make_engine
from persistence.store import SqlStore
from security.fingerprint import Fingerprints
from tests.databases import database
from tests.e2e.test_api import TOKENS, F, R, S, Stack, body, error, started, wait_for

pytestmark = pytest.mark.devserver
APP_SECRET = "hostile-app-secret"  # a throwaway for this test
EASYPOST_SECRET = "hostile-easypost-secret"  # a throwaway too


class HostileStack(Stack):
    fingerprints: Fingerprints  # the deployment's, to remember a WhatsApp message as the worker does


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlStore]:
    with database(request.param, tmp_path_factory.mktemp("hostile")) as url:
        engine = make_engine(url)
        yield SqlStore(engine, subscribers=["oms"])
        engine.dispose()


@pytest.fixture(scope="module")
async def stack(
    dev_env: WorkflowEnvironment, api_store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator["HostileStack"]:
    queue = f"hostile-{uuid.uuid4()}"
    keys: Path = tmp_path_factory.mktemp("keys")
    settings = Settings(
        task_queue=queue, api_tokens=TOKENS, data_dir=keys, whatsapp_app_secret=APP_SECRET,
        whatsapp_verify_token="verify-me", easypost_webhook_secret=EASYPOST_SECRET,
    )  # fmt: skip
    fast = settings.model_copy(update={"time_scale": 86_400 / 0.4})
    # Nothing listens there: an answer the webhook would send fails, is logged, and changes nothing.
    nowhere = WhatsAppCloud("http://127.0.0.1:9/v21.0", "1234567890", "wa-token")
    async with build_worker(dev_env.client, queue, Adapters(store=api_store)):
        s = HostileStack(
            build_api(settings, dev_env.client, api_store, nowhere), build_api(fast, dev_env.client, api_store),
            api_store,
        )  # fmt: skip
        s.fingerprints = fingerprints(settings)
        yield s
        await s.http.aclose()
        await s.fast.aclose()


def _cursor(raw: str) -> str:
    import base64

    return base64.urlsafe_b64encode(raw.encode()).decode()


def _exchange(**replacement: Any) -> dict[str, Any]:
    """An exchange of p1 whose replacement has `replacement`'s fields changed."""
    piece = {"piece_id": "p9", "sku": "S", "description": "d", "price": 1, **replacement}
    return {"piece_id": "p1", "actor": "a", "channel": "phone", "replacement": piece}


def _order(**change: Any) -> dict[str, Any]:
    b = body(n=2)
    for dotted, value in change.items():
        target: Any = b
        *path, last = dotted.split(".")
        for key in path:
            target = target[int(key)] if key.isdigit() else target[key]
        target[last] = value
    return b


BAD_ORDERS: list[tuple[str, dict[str, Any], int, str]] = [
    ("order id at Temporal's id limit", _order(order_id="o" * 988), 422, "invalid_request"),
    ("order id with a slash", _order(order_id="a/b"), 422, "invalid_request"),
    ("order id climbing out", _order(order_id="../x"), 422, "invalid_request"),
    ("order id with a NUL", _order(order_id="o\x00"), 422, "invalid_request"),
    ("order id with a space", _order(order_id="o 1"), 422, "invalid_request"),
    # A trial no client could reach: /v1/trials/.. is normalised away before it is sent.
    ("order id .", _order(order_id="."), 422, "invalid_request"),
    ("order id ..", _order(order_id=".."), 422, "invalid_request"),
    ("empty order id", _order(order_id=""), 422, "invalid_request"),
    ("price 2^63", _order(**{"pieces.0.price": 2**63}), 422, "invalid_request"),
    ("price 10^30", _order(**{"pieces.0.price": 10**30}), 422, "invalid_request"),
    ("price above the gateway maximum", _order(**{"pieces.0.price": 100_000_000}), 422, "invalid_request"),
    ("price true", _order(**{"pieces.0.price": True}), 422, "invalid_request"),
    ("price as a string", _order(**{"pieces.0.price": "1200"}), 422, "invalid_request"),
    ("price 12.5", _order(**{"pieces.0.price": 12.5}), 422, "invalid_request"),
    ("price zero", _order(**{"pieces.0.price": 0}), 422, "invalid_price"),
    ("piece id of 121 characters", _order(**{"pieces.0.piece_id": "p" * 121}), 422, "invalid_request"),
    ("piece id of 1 MB", _order(**{"pieces.0.piece_id": "p" * 1_000_000}), 413, "body_too_large"),
    ("description with control characters", _order(**{"pieces.0.description": "silk\x1b[31m"}), 422, "invalid_request"),
    ("description of 10,000 characters", _order(**{"pieces.0.description": "d" * 10_000}), 422, "invalid_request"),
    ("customer id of 200 characters", _order(**{"customer.id": "c" * 200}), 422, "invalid_request"),
    ("tier with a NUL", _order(**{"customer.tier": "EIP\x00"}), 422, "invalid_request"),
    ("a thousand pieces", {**body(n=2), "pieces": [body(n=1)["pieces"][0]] * 1000}, 422, "invalid_request"),
    ("31 pieces", body(n=31), 422, "too_many_pieces"),
    ("unknown field", {**body(n=1), "discount": 5}, 422, "invalid_request"),
    ("trial_days true", _order(trial_days=True), 422, "invalid_request"),
]


@pytest.mark.parametrize(("what", "payload", "status", "code"), BAD_ORDERS, ids=[c[0] for c in BAD_ORDERS])
async def test_a_hostile_order_is_refused_with_its_code(stack: Stack, what: str, payload: Any, status: int, code: str):
    r = await stack.http.post("/v1/trials", json=payload, headers=F)
    assert error(r, status) == code, what


async def test_hostile_requests_never_get_a_5xx_and_leave_an_existing_trial_intact(stack: Stack):
    oid = await started(stack, n=2)
    before = (await stack.http.get(f"/v1/trials/{oid}", headers=R)).json()
    base = f"/v1/trials/{oid}"
    huge = "x" * (20 * 1024 * 1024)
    cases: list[tuple[str, str, Any, dict[str, str], int]] = [
        (
            "POST",
            f"{base}/dispatch",
            {"parcels": [{"carrier": "DHL", "tracking_number": "T\x00", "piece_ids": ["p1"]}]},
            F,
            422,
        ),
        (
            "POST",
            f"{base}/dispatch",
            {"parcels": [{"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p" * 1_000_000]}]},
            F,
            413,
        ),
        (
            "POST",
            f"{base}/dispatch",
            {"parcels": [{"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1"] * 1000}]},
            F,
            422,
        ),
        ("POST", f"{base}/decisions", {"decisions": [], "actor": "a" * 121, "channel": "app"}, S, 422),
        ("POST", f"{base}/extension", {"days": True, "reason": "r", "actor": "a"}, S, 422),
        ("POST", f"{base}/extension", {"days": 2**70, "reason": "r", "actor": "a"}, S, 422),
        ("POST", f"{base}/waivers", {"piece_id": "p1", "reason": "r\x00", "actor": "a"}, S, 422),
        ("POST", f"{base}/cancel", {"reason": "r" * 600, "actor": "a"}, S, 422),
        ("POST", f"{base}/payment-method", {"payment_method": "pm\n", "actor": "a"}, S, 422),
        ("POST", "/v1/trials/..%2F..%2Fetc/cancel", {"reason": "r", "actor": "a"}, S, 404),
        ("GET", "/v1/trials/a/b", None, R, 404),
        ("DELETE", base, None, S, 405),
        ("POST", f"/v1/trials/{'o' * 988}/cancel", {"reason": "r", "actor": "a"}, S, 422),
        ("GET", f"/v1/trials/{'o' * 988}", None, R, 422),
        ("GET", "/v1/trials/o%00", None, R, 422),
        ("GET", "/v1/trials?ending_before=0001-01-01T00:00:00%2B14:00", None, R, 422),
        ("GET", "/v1/trials?ending_before=9999-12-31T23:59:59-14:00", None, R, 422),
        ("GET", "/v1/trials?ending_before=2026-01-01T00:00:00", None, R, 422),
        ("GET", f"/v1/trials?customer_id={'c' * 500}", None, R, 422),
        ("GET", f"/v1/trials?cursor={'c' * 1000}", None, R, 422),
        ("GET", "/v1/trials?cursor=bm90LWEtY3Vyc29y", None, R, 422),
        # NUL reached PostgreSQL from each of these (psycopg.DataError, a 500); SQLite answered 200/404.
        ("GET", "/v1/trials?customer_id=%00", None, R, 422),
        ("GET", "/v1/trials?customer_id=c%00", None, R, 422),
        ("GET", "/v1/webhooks?subscriber=%00", None, R, 422),
        ("GET", "/v1/webhooks?trial_id=%00", None, R, 422),
        ("GET", "/v1/webhooks?trial_id=style-trial-%00", None, R, 422),
        ("GET", "/v1/trials?cursor=" + _cursor("2026-01-01T00:00:00+00:00|style-trial-\x00"), None, R, 422),
        ("POST", "/v1/webhooks/a%00b/replay", None, S, 422),
        ("POST", "/v1/webhooks/evt_x_1/replay?subscriber=%00", None, S, 422),
        # Returns, carriers and the client's own requests (each bounded, each refusal its own code).
        (
            "POST",
            f"{base}/collections",
            {"slot": {"starts_at": "soon", "ends_at": "later"}, "actor": "a", "channel": "phone"},
            S,
            422,
        ),
        (
            "POST",
            f"{base}/collections",
            {"slot": {"starts_at": "2026-12-09T09:00:00Z"}, "actor": "a", "channel": "phone"},
            S,
            422,
        ),
        ("POST", f"{base}/return-labels", {"actor": "a", "channel": "phone", "piece_ids": ["p1"] * 100}, S, 422),
        ("POST", f"{base}/return-labels", {"actor": "client", "channel": "pigeon"}, S, 422),
        ("POST", f"{base}/return-labels", {"actor": "client", "channel": "phone"}, S, 409),  # nothing to return
        (
            "POST",
            f"{base}/carrier-scans",
            {"tracking_number": "T\x00", "status": "delivered", "occurred_at": "2026-12-07T09:00:00Z"},
            F,
            422,
        ),
        (
            "POST",
            f"{base}/carrier-scans",
            {"tracking_number": "T1", "status": "lost", "occurred_at": "2026-12-07T09:00:00Z"},
            F,
            422,
        ),
        (
            "POST",
            f"{base}/carrier-scans",
            {"tracking_number": "NOT-OURS", "status": "delivered", "occurred_at": "2026-12-07T09:00:00Z"},
            F,
            422,
        ),
        (
            "POST",
            f"{base}/carrier-scans",
            {"tracking_number": "T1", "status": "delivered", "occurred_at": "2026-12-07T09:00:00Z"},
            S,
            403,
        ),
        ("POST", f"{base}/extension-requests", {"days": 2**70, "channel": "whatsapp"}, S, 422),
        ("POST", f"{base}/extension-requests", {"words": "w" * 600, "channel": "whatsapp"}, S, 422),
        ("POST", f"{base}/extension-requests", {"channel": "whatsapp"}, S, 409),  # not on trial yet
        ("GET", "/v1/return-labels/%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00", None, R, 422),
        ("GET", "/v1/return-labels/" + "a" * 32, None, R, 404),
        ("GET", "/v1/return-labels/" + "a" * 500, None, R, 422),
        ("GET", "/v1/client-choices/" + "%00" * 30, None, R, 422),
        ("GET", "/v1/client-choices/" + "a" * 500, None, R, 422),
        ("POST", "/v1/carriers/easypost/webhook", {"description": "tracker.updated"}, R, 401),  # unsigned
        # The attention queue's filters and cursor, like the trial list's.
        ("GET", "/v1/attention?assignee=%00", None, R, 422),
        ("GET", "/v1/attention?reason=nothing_of_ours", None, R, 422),
        (
            "GET",
            "/v1/attention?cursor=" + _cursor("2026-01-01T00:00:00+00:00|style-trial-\x00|carrier_claim"),
            None,
            R,
            422,
        ),
        (
            "GET",
            "/v1/attention?cursor=" + _cursor("2026-01-01T00:00:00+00:00|style-trial-a|not_a_reason"),
            None,
            R,
            422,
        ),
        ("GET", "/v1/attention?cursor=" + _cursor("2026-01-01T00:00:00+00:00|style-trial-a"), None, R, 422),
        # A client's story, a shopper's list, an erasure: ids in the path, roles, a client with no trial.
        ("GET", "/v1/customers/%00", None, S, 422),
        ("GET", "/v1/customers/a%20b", None, S, 422),
        ("GET", "/v1/customers/" + "c" * 65, None, S, 422),
        ("GET", "/v1/customers/cus-nobody", None, S, 404),
        ("GET", "/v1/customers/cus-nobody", None, R, 403),
        ("GET", "/v1/shoppers/%00/trials", None, S, 422),
        ("GET", "/v1/shoppers/ps-07/trials", None, F, 403),
        ("POST", "/v1/customers/%00/erasure", None, S, 422),
        ("POST", "/v1/customers/cus-nobody/erasure", None, S, 404),
        ("POST", "/v1/customers/cus-0042/erasure", None, F, 403),
        ("GET", "/v1/customers/cus-nobody/erasure", None, S, 404),
        ("GET", "/v1/reports/voice?by=colour", None, R, 422),
        ("GET", "/v1/reports/voice?since=0001-01-01", None, R, 422),
        # An exchange, a client's request for one, a lost return's answer: malformed bodies change nothing.
        ("POST", f"{base}/exchanges", _exchange(piece_id="x\x00"), S, 422),
        ("POST", f"{base}/exchanges", _exchange(price=0), S, 422),
        ("POST", f"{base}/exchanges", {"piece_id": "p1", "actor": "a", "channel": "phone"}, S, 422),
        ("POST", f"{base}/exchange-requests", {"words": "w" * 501, "channel": "whatsapp"}, F, 422),
        (
            "POST",
            f"{base}/lost-returns",
            {"tracking_number": "R1", "outcome": "vanished", "note": "n", "actor": "a"},
            S,
            422,
        ),
        # An empty dispatch once cancelled the trial for good (every piece unavailable, hold released).
        ("POST", f"{base}/dispatch", {"parcels": []}, F, 422),
        # A machine's token must say who acts.
        ("POST", f"{base}/cancel", {"reason": "r"}, S, 422),
        ("POST", f"{base}/extension", {"days": 2, "reason": "r"}, S, 422),
        # Bodies the JSON parser gives up on are invalid requests like any other (they were 400 http_error).
        ("POST", f"{base}/cancel", "[" * 100_000 + "]" * 100_000, S, 422),
        ("POST", f"{base}/cancel", '{"reason": "r", "actor": "a", "x": 1' + "0" * 4300 + "}", S, 422),
        ("POST", f"{base}/cancel", b'{"reason": "\xff\xfe", "actor": "a"}', S, 422),
        # No redirect built from the Host header; the route has no trailing slash.
        ("GET", "/v1/trials/", None, {**R, "Host": "evil.example"}, 404),
        ("POST", "/v1/trials", huge, F, 413),
    ]
    for method, path, payload, who, status in cases:
        if isinstance(payload, str | bytes):
            r = await stack.http.request(
                method, path, content=payload, headers={**who, "content-type": "application/json"}
            )
        else:
            r = await stack.http.request(method, path, json=payload, headers=who)
        assert r.status_code == status, (method, path[:80], r.status_code, r.text[:300])
        assert set(r.json()["error"]) == {"code", "message"}
        assert "location" not in r.headers, "no redirect"
        assert r.headers["x-content-type-options"] == "nosniff"
        if status == 422 and "/v1/trials/" in path and path.endswith("/cancel") and isinstance(payload, str):
            assert r.json()["error"]["code"] == "invalid_request"

    # A body that says it is small and then streams more than the limit is cut off too.
    async def stream() -> Any:
        for _ in range(64):
            yield b"x" * 8192

    r = await stack.http.post("/v1/trials", content=stream(), headers={**F, "content-type": "application/json"})
    assert error(r, 413) == "body_too_large"
    after = (await stack.http.get(f"/v1/trials/{oid}", headers=R)).json()
    assert after == before


async def test_a_command_retried_with_its_idempotency_key_applies_once_and_answers_the_same(stack: Stack):
    oid = await started(stack, n=2)
    base = f"/v1/trials/{oid}"
    dispatch = {"parcels": [{"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1", "p2"]}]}
    key = {"Idempotency-Key": f"dispatch-{oid}"}
    first = await stack.http.post(f"{base}/dispatch", json=dispatch, headers={**F, **key})
    again = await stack.http.post(f"{base}/dispatch", json=dispatch, headers={**F, **key})
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json()
    # Without the key a second dispatch is the real conflict it is.
    assert error(await stack.http.post(f"{base}/dispatch", json=dispatch, headers=F), 409) == "already_dispatched"
    await stack.http.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F)
    ext = {"days": 3, "reason": "travelling", "actor": "cr.amelia"}
    key = {"Idempotency-Key": "ext-1"}
    for _ in range(3):
        r = await stack.http.post(f"{base}/extension", json=ext, headers={**S, **key})
        assert r.status_code == 200, r.text
    view = (await stack.http.get(base, headers=R)).json()
    assert view["extension_days"] == 3, "three retries of one extension extend once"
    assert (
        error(
            await stack.http.post(
                f"{base}/extension", json=ext, headers={**S, "Idempotency-Key": "a key/with a slash"}
            ),
            422,
        )
        == "invalid_request"
    )


async def test_ids_in_other_scripts_and_with_hashes_are_accepted(stack: Stack):
    """The bounds refuse what breaks things, not real data: piece ids like 'p03-鞋', tracking 'RT#47.6'."""
    b = body(n=2)
    b["order_id"] = f"注文-{b['order_id']}"
    b["pieces"][0]["piece_id"] = "p03-鞋"
    b["pieces"][1]["piece_id"] = "p10-é"
    r = await stack.http.post("/v1/trials", json=b, headers=F)
    assert r.status_code == 201, r.text
    oid = b["order_id"]
    await wait_for(stack, oid, lambda v: v["status"] == "AWAITING_DISPATCH", "acceptance")
    parcel = {"carrier": "Yamato", "tracking_number": "RT#47.6", "piece_ids": ["p03-鞋", "p10-é"]}
    r = await stack.http.post(f"/v1/trials/{oid}/dispatch", json={"parcels": [parcel]}, headers=F)
    assert r.status_code == 200, r.text


async def test_the_refusals_found_by_the_outside_probe_say_what_they_are(stack: Stack):
    oid = await started(stack, n=2)
    base = f"/v1/trials/{oid}"
    assert error(await stack.http.post(f"{base}/dispatch", json={"parcels": []}, headers=F), 422) == "no_parcels"
    assert error(await stack.http.post(f"{base}/cancel", json={"reason": "r"}, headers=S), 422) == "actor_required"
    view = (await stack.http.get(base, headers=R)).json()
    assert view["status"] == "AWAITING_DISPATCH" and {p["state"] for p in view["pieces"]} == {"RESERVED"}


async def test_an_idempotency_key_reused_for_another_command_is_refused_and_applies_nothing(stack: Stack):
    """It used to answer with the first command's result and silently drop the second."""
    oid = await started(stack, n=2)
    base = f"/v1/trials/{oid}"
    dispatch = {"parcels": [{"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1", "p2"]}]}
    assert (await stack.http.post(f"{base}/dispatch", json=dispatch, headers=F)).status_code == 200
    await stack.http.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F)
    key = {"Idempotency-Key": f"ext-{oid}"}
    first = {"days": 2, "reason": "travelling", "actor": "cr.amelia"}
    assert (await stack.http.post(f"{base}/extension", json=first, headers={**S, **key})).status_code == 200
    # The same command again, even with its fields in another order, is the same command.
    again = dict(reversed(first.items()))
    assert (await stack.http.post(f"{base}/extension", json=again, headers={**S, **key})).status_code == 200
    other = {**first, "days": 5}
    r = await stack.http.post(f"{base}/extension", json=other, headers={**S, **key})
    assert error(r, 422) == "idempotency_key_reused"
    assert (await stack.http.get(base, headers=R)).json()["extension_days"] == 2
    # The same key on another command or another trial is a key of its own.
    waive = {"piece_id": "p1", "reason": "gift", "actor": "cr.amelia"}
    assert (await stack.http.post(f"{base}/waivers", json=waive, headers={**S, **key})).status_code == 200


async def test_the_html_pages_allow_no_script_from_anywhere_but_their_own(stack: Stack):
    docs = await stack.http.get("/docs")
    policy = docs.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self' 'sha256-" in policy and "unsafe-eval" not in policy
    assert docs.headers["x-content-type-options"] == "nosniff"
    page = await stack.http.get("/reports", headers=R)
    assert page.status_code == 200 and "script-src" not in page.headers["content-security-policy"]
    assert "<script" not in page.text


def _signed(payload: object) -> tuple[bytes, dict[str, str]]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"X-Hub-Signature-256": signature, "Content-Type": "application/json"}


async def test_signed_but_malformed_whatsapp_payloads_are_200_and_change_nothing(stack: Stack):
    """Meta retries a 5xx for a day; each of these was one (11 cases from the outside probe, and more)."""
    from tests.e2e.test_client_messages_e2e import MALFORMED

    quoting_nul = {"entry": [{"changes": [{"value": {"messages": [
        {"from": "393339876543", "id": "wamid.q", "type": "text", "text": {"body": "keep 1"},
         "context": {"id": "wamid.\x00"}}]}}]}]}  # fmt: skip
    for payload in [*MALFORMED, quoting_nul, b"\xff\xfe", b"[" * 100_000]:
        raw, headers = _signed(payload)
        r = await stack.http.post("/v1/whatsapp/webhook", content=raw, headers=headers)
        assert r.status_code == 200, (str(payload)[:120], r.status_code, r.text[:200])
    raw, headers = _signed(MALFORMED[0])
    forged = {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64}
    assert error(await stack.http.post("/v1/whatsapp/webhook", content=raw, headers=forged), 401) == "unauthenticated"


async def test_signed_but_malformed_carrier_events_are_200_and_change_nothing(stack: Stack):
    """EasyPost retries what it thinks failed: whatever a signed call holds is a 200, and moves no trial."""
    oid = await started(stack, n=2)
    before = (await stack.http.get(f"/v1/trials/{oid}", headers=R)).json()
    tracker = {"tracking_code": "T1", "status": "delivered", "carrier": "DHL"}
    for payload in [
        {"description": "tracker.updated", "result": {**tracker, "tracking_details": "x"}},
        {"description": "tracker.updated", "result": {**tracker, "tracking_code": "T\x00"}},
        {"description": "tracker.updated", "result": {**tracker, "tracking_code": "t" * 100_000}},
        {"description": "tracker.updated", "result": {**tracker, "updated_at": "2026-12-07T09:00:00"}},  # no zone
        {"description": "tracker.updated", "result": "a string"},
        {"description": "batch.created", "result": tracker},
        {"description": ["x"]},
        [1, 2, 3],
        "text",
        None,
        {
            "description": "tracker.updated",
            "result": {**tracker, "status": "return_to_sender", "updated_at": "2026-12-07T09:00:00Z"},
        },
    ]:
        raw = json.dumps(payload).encode()
        signature = "hmac-sha256-hex=" + hmac.new(EASYPOST_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        headers = {"X-Hmac-Signature": signature, "Content-Type": "application/json"}
        r = await stack.http.post("/v1/carriers/easypost/webhook", content=raw, headers=headers)
        assert r.status_code == 200 and r.json()["outcome"] in ("malformed", "ignored"), (str(payload)[:80], r.text)
    for raw in (b"\xff\xfe", b"[" * 100_000):
        signature = "hmac-sha256-hex=" + hmac.new(EASYPOST_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        r = await stack.http.post("/v1/carriers/easypost/webhook", content=raw, headers={"X-Hmac-Signature": signature})
        assert r.status_code == 200, r.text
    forged = {"X-Hmac-Signature": "hmac-sha256-hex=" + "0" * 64}
    assert (
        error(await stack.http.post("/v1/carriers/easypost/webhook", content=b"{}", headers=forged), 401)
        == "unauthenticated"
    )
    assert (await stack.http.get(f"/v1/trials/{oid}", headers=R)).json() == before
    page = await stack.http.get("/v1/client-choices/" + "a" * 40)
    assert page.status_code == 404 and "text/html" in page.headers["content-type"], "a link not ours: a page saying so"


async def test_a_signed_reply_from_another_number_decides_nothing_and_the_client_s_own_decides(stack: HostileStack):
    """The reply quotes the client's reminder, as a screenshot would let anyone do: from another number it
    changes nothing (it once recorded `keep` as the client); from the order's number it decides."""
    oid = await started(stack, n=2)
    base = f"/v1/trials/{oid}"
    parcel = {"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1", "p2"]}
    assert (await stack.http.post(f"{base}/dispatch", json={"parcels": [parcel]}, headers=F)).status_code == 200
    assert (await stack.http.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F)).status_code == 200
    reminder = f"wamid.reminder-{oid}"
    # What the worker records when it sends the reminder to the client's number.
    stack.store.remember_message(reminder, oid, "trial_ending", "en", stack.fingerprints.of("393339876543"))

    def reply(message_id: str, sender: str, body: str = "keep 1, 2") -> dict[str, Any]:
        message = {"from": sender, "id": message_id, "type": "text", "text": {"body": body},
                   "context": {"id": reminder}}  # fmt: skip
        return {"entry": [{"changes": [{"value": {"messages": [message]}}]}]}

    raw, headers = _signed(reply(f"wamid.x-{oid}", "447700900123"))
    r = await stack.http.post("/v1/whatsapp/webhook", content=raw, headers=headers)
    assert r.json() == {"received": ["ignored (not from the order's number)"]}
    # Nor does a stranger's request for an exchange reach the client's shopper.
    raw, headers = _signed(reply(f"wamid.y-{oid}", "447700900123", "Can I exchange it for a 41?"))
    r = await stack.http.post("/v1/whatsapp/webhook", content=raw, headers=headers)
    assert r.json() == {"received": ["ignored (not from the order's number)"]}
    after = (await stack.http.get(base, headers=R)).json()
    assert all(p["decision"] is None for p in after["pieces"]) and "exchange_requested" not in after["attention"]
    raw, headers = _signed(reply(f"wamid.c-{oid}", "393339876543"))
    assert (await stack.http.post("/v1/whatsapp/webhook", content=raw, headers=headers)).json() == {
        "received": ["decided"]
    }
    view = (await stack.http.get(base, headers=R)).json()
    assert {p["decision"] for p in view["pieces"]} == {"keep"}
