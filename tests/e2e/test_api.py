"""The HTTP API against the real dev server and a real worker: every route, every role, every refusal
code, idempotent and conflicting starts, and a whole trial driven only through HTTP."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from bootstrap import Adapters, build_api, build_worker
from config import Settings
from domain.examples import order
from domain.policy import TrialPolicy
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.models import PieceRecord
from persistence.store import SqlStore
from tests.waiting import eventually

pytestmark = pytest.mark.devserver
TOKENS = {"tok-fulfil": "fulfilment", "tok-support": "support", "tok-read": "read"}
AS = {role: {"Authorization": f"Bearer {token}"} for token, role in TOKENS.items()}
F, S, R = AS["fulfilment"], AS["support"], AS["read"]


class Stack:
    def __init__(self, app: FastAPI, fast_app: FastAPI, store: SqlStore) -> None:
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
        # The same engine with a time scale: a trial "day" lasts 0.4 s.
        self.fast = httpx.AsyncClient(transport=httpx.ASGITransport(app=fast_app), base_url="http://api")
        self.store = store


@pytest.fixture(scope="module")
def api_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlStore]:
    url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'api.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    yield SqlStore(engine)
    engine.dispose()


@pytest.fixture(scope="module")
async def stack(
    dev_env: WorkflowEnvironment, api_store: SqlStore, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    queue = f"api-{uuid.uuid4()}"
    settings = Settings(task_queue=queue, api_tokens=TOKENS, data_dir=tmp_path_factory.mktemp("keys"))
    fast = settings.model_copy(update={"time_scale": 86_400 / 0.4})
    async with build_worker(dev_env.client, queue, Adapters(store=api_store)):
        s = Stack(build_api(settings, dev_env.client, api_store), build_api(fast, dev_env.client, api_store), api_store)
        yield s
        await s.http.aclose()
        await s.fast.aclose()


def body(**kw: Any) -> dict[str, Any]:
    return order(**kw).model_dump(mode="json", exclude_none=True)


def error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    err = response.json()["error"]
    assert set(err) == {"code", "message"} and err["message"].strip()
    return str(err["code"])


async def started(stack: Stack, client: httpx.AsyncClient | None = None, **kw: Any) -> str:
    b = body(**kw)
    r = await (client or stack.http).post("/v1/trials", json=b, headers=F)
    assert r.status_code == 201, r.text
    oid = str(b["order_id"])
    await wait_for(stack, oid, lambda v: v["status"] == "AWAITING_DISPATCH")
    return oid


async def wait_for(stack: Stack, oid: str, predicate: Any, what: str = "", seconds: float = 20) -> dict[str, Any]:
    async def met() -> dict[str, Any] | None:
        view = (await stack.http.get(f"/v1/trials/{oid}", headers=R)).json()
        return dict(view) if predicate(view) else None

    return await eventually(met, what or f"{oid} to change", seconds)


# --------------------------------------------------------------------------- auth and roles

ROUTES = [
    ("POST", "/v1/trials", {"fulfilment"}),
    ("GET", "/v1/trials/X", {"fulfilment", "support", "read"}),
    ("GET", "/v1/trials", {"fulfilment", "support", "read"}),
    ("POST", "/v1/trials/X/dispatch", {"fulfilment"}),
    ("POST", "/v1/trials/X/delivery", {"fulfilment", "support"}),
    ("POST", "/v1/trials/X/decisions", {"fulfilment", "support"}),
    ("POST", "/v1/trials/X/finish", {"fulfilment", "support"}),
    ("POST", "/v1/trials/X/returns", {"fulfilment"}),
    ("POST", "/v1/trials/X/inspections", {"fulfilment"}),
    ("POST", "/v1/trials/X/extension", {"support"}),
    ("POST", "/v1/trials/X/waivers", {"support"}),
    ("POST", "/v1/trials/X/payment-method", {"support"}),
    ("POST", "/v1/trials/X/cancel", {"fulfilment", "support"}),
]


@pytest.mark.parametrize(("method", "path", "allowed"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
async def test_every_route_needs_a_known_token_and_an_allowed_role(
    stack: Stack, method: str, path: str, allowed: set[str]
):
    assert error(await stack.http.request(method, path, json={}), 401) == "unauthenticated"
    bad = {"Authorization": "Bearer not-a-token"}
    assert error(await stack.http.request(method, path, json={}, headers=bad), 401) == "unauthenticated"
    for role, headers in AS.items():
        r = await stack.http.request(method, path, json={}, headers=headers)
        if role in allowed:
            assert r.status_code not in (401, 403), (role, r.text)
        else:
            assert error(r, 403) == "forbidden"


async def test_health_readiness_and_docs(stack: Stack):
    assert (await stack.http.get("/healthz")).json() == {"status": "ok", "checks": {}}
    ready = (await stack.http.get("/readyz")).json()
    assert ready == {"status": "ok", "checks": {"temporal": "ok", "database": "ok"}}
    assert (await stack.http.get("/docs")).status_code == 200
    paths = (await stack.http.get("/openapi.json")).json()["paths"]
    assert {p.replace("{order_id}", "X") for p in paths} >= {path for _, path, _ in ROUTES}


# --------------------------------------------------------------------------- starting


async def test_start_is_201_then_200_for_the_same_body_and_409_for_a_different_one(stack: Stack):
    b = body(n=2)
    first = await stack.http.post("/v1/trials", json=b, headers=F)
    assert first.status_code == 201 and first.json()["order_id"] == b["order_id"]
    assert first.json()["amounts"]["authorized"] in (0, 240_000)  # minor units, authorization under way
    again = await stack.http.post("/v1/trials", json=b, headers=F)
    assert again.status_code == 200 and again.json()["trial_id"] == first.json()["trial_id"]
    assert error(await stack.http.post("/v1/trials", json={**b, "currency": "EUR"}, headers=F), 409) == "order_conflict"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda b: {**b, "pieces": []}, "no_pieces"),
        (lambda b: {**b, "pieces": [{**b["pieces"][0], "piece_id": f"x{i}"} for i in range(31)]}, "too_many_pieces"),
        (lambda b: {**b, "pieces": [b["pieces"][0], b["pieces"][0]]}, "duplicate_piece"),
        (lambda b: {**b, "pieces": [{**b["pieces"][0], "price": 0}]}, "invalid_price"),
        (lambda b: {**b, "currency": "XYZ"}, "invalid_currency"),
        (lambda b: {**b, "customer": {**b["customer"], "tier": "STANDARD"}}, "ineligible_tier"),
        (lambda b: {**b, "gift_wrap": True}, "invalid_request"),
        (lambda b: {**b, "pieces": [{**b["pieces"][0], "price": 12.5}]}, "invalid_request"),
        (lambda b: {k: v for k, v in b.items() if k != "customer"}, "invalid_request"),
    ],
    ids=["no_pieces", "too_many", "duplicate", "price", "currency", "tier", "unknown_field", "float_price", "missing"],
)
async def test_a_bad_order_is_refused_with_its_code_and_starts_nothing(stack: Stack, change: Any, code: str):
    b = change(body(n=2))
    assert error(await stack.http.post("/v1/trials", json=b, headers=F), 422) == code
    oid = b.get("order_id", "none")
    assert error(await stack.http.get(f"/v1/trials/{oid}", headers=R), 404) == "unknown_order"


# --------------------------------------------------------------------------- commands and their refusals


async def test_every_bad_event_is_refused_over_http_and_the_trial_carries_on(stack: Stack):
    http = stack.http
    oid = await started(stack, n=3)
    base = f"/v1/trials/{oid}"
    parcels = {
        "parcels": [
            {"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1", "p2"]},
            {"carrier": "DHL", "tracking_number": "T2", "piece_ids": ["p3"]},
        ]
    }

    def decide(d: list[dict[str, str]]) -> dict[str, Any]:
        return {"decisions": d, "actor": "ps-07", "channel": "whatsapp"}

    assert error(await http.post("/v1/trials/nope/dispatch", json=parcels, headers=F), 404) == "unknown_order"
    assert (
        error(await http.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F), 409) == "not_dispatched"
    )
    assert (
        error(
            await http.post(f"{base}/decisions", json=decide([{"piece_id": "p1", "decision": "keep"}]), headers=F), 409
        )
        == "not_delivered"
    )
    two = {
        "parcels": [
            {"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1"]},
            {"carrier": "DHL", "tracking_number": "T2", "piece_ids": ["p1"]},
        ]
    }
    assert error(await http.post(f"{base}/dispatch", json=two, headers=F), 422) == "piece_in_two_parcels"
    ghost = {"parcels": [{"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["ghost"]}]}
    assert error(await http.post(f"{base}/dispatch", json=ghost, headers=F), 422) == "unknown_piece"
    assert (
        error(await http.post(f"{base}/extension", json={"days": 2, "reason": "r", "actor": "a"}, headers=S), 409)
        == "not_on_trial"
    )

    assert (await http.post(f"{base}/dispatch", json=parcels, headers=F)).json()["status"] == "IN_TRANSIT"
    assert error(await http.post(f"{base}/dispatch", json=parcels, headers=F), 409) == "already_dispatched"
    assert (
        error(await http.post(f"{base}/cancel", json={"reason": "changed mind", "actor": "cr"}, headers=S), 409)
        == "not_cancellable"
    )
    assert (
        error(await http.post(f"{base}/delivery", json={"tracking_number": "NOPE"}, headers=F), 422) == "unknown_parcel"
    )
    assert (
        error(await http.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=S), 422) == "actor_required"
    )
    assert (
        error(await http.post(f"{base}/delivery", json={"tracking_number": "T1", "actor": "cr"}, headers=S), 422)
        == "reason_required"
    )
    staff = {"tracking_number": "T1", "actor": "cr.amelia", "reason": "client confirmed by phone"}
    assert (await http.post(f"{base}/delivery", json=staff, headers=S)).json()["parcels"][0][
        "recorded_by"
    ] == "cr.amelia"
    assert (
        error(await http.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F), 409)
        == "already_delivered"
    )
    assert (await http.post(f"{base}/delivery", json={"tracking_number": "T2"}, headers=F)).json()[
        "status"
    ] == "ON_TRIAL"

    assert (
        error(
            await http.post(f"{base}/decisions", json=decide([{"piece_id": "p1", "decision": "maybe"}]), headers=F), 422
        )
        == "invalid_request"
    )
    assert (
        error(await http.post(f"{base}/decisions", json={**decide([]), "channel": "fax"}, headers=F), 422)
        == "invalid_request"
    )
    assert error(await http.post(f"{base}/finish", json={}, headers=F), 409) == "undecided_pieces"
    assert (
        error(await http.post(f"{base}/extension", json={"days": 8, "reason": "travel", "actor": "cr"}, headers=S), 422)
        == "invalid_extension"
    )
    assert (
        error(await http.post(f"{base}/extension", json={"days": 2, "reason": "", "actor": "cr"}, headers=S), 422)
        == "reason_required"
    )
    await http.post(f"{base}/extension", json={"days": 7, "reason": "travel", "actor": "cr"}, headers=S)
    await http.post(f"{base}/extension", json={"days": 7, "reason": "travel", "actor": "cr"}, headers=S)
    assert (
        error(await http.post(f"{base}/extension", json={"days": 1, "reason": "travel", "actor": "cr"}, headers=S), 409)
        == "extension_limit"
    )
    assert (
        error(await http.post(f"{base}/inspections", json={"piece_id": "p2", "condition": "ok"}, headers=F), 409)
        == "return_not_shipped"
    )
    await http.post(f"{base}/returns", json={"piece_ids": ["p2"], "carrier": "DHL", "tracking_number": "R1"}, headers=F)
    assert (
        error(
            await http.post(f"{base}/decisions", json=decide([{"piece_id": "p2", "decision": "keep"}]), headers=S), 409
        )
        == "return_already_shipped"
    )
    await http.post(f"{base}/waivers", json={"piece_id": "p3", "reason": "goodwill", "actor": "cr"}, headers=S)
    assert (
        error(
            await http.post(f"{base}/waivers", json={"piece_id": "p3", "reason": "again", "actor": "cr"}, headers=S),
            409,
        )
        == "not_waivable"
    )
    assert (
        error(await http.post(f"{base}/payment-method", json={"payment_method": " ", "actor": "cr"}, headers=S), 422)
        == "invalid_payment_method"
    )

    # and the trial is unharmed: decide, finish, settle
    await http.post(f"{base}/decisions", json=decide([{"piece_id": "p1", "decision": "keep"}]), headers=S)
    view = (await http.post(f"{base}/finish", json={"actor": "client", "channel": "app"}, headers=F)).json()
    assert view["status"] == "AWAITING_RETURNS" and view["amounts"]["charged"] == 120_000
    assert (
        error(
            await http.post(f"{base}/decisions", json=decide([{"piece_id": "p1", "decision": "return"}]), headers=F),
            409,
        )
        == "trial_closed"
    )
    await http.post(f"{base}/inspections", json={"piece_id": "p2", "condition": "ok"}, headers=F)
    final = await wait_for(stack, oid, lambda v: v["status"] == "COMPLETED", "completion")
    assert final["amounts"] == {**final["amounts"], "charged": 120_000, "authorized": 0}
    assert (
        error(
            await http.post(f"{base}/waivers", json={"piece_id": "p1", "reason": "late", "actor": "cr"}, headers=S), 409
        )
        == "trial_finished"
    )


async def test_cancel_before_dispatch_over_http(stack: Stack):
    oid = await started(stack, n=1)
    view = (
        await stack.http.post(f"/v1/trials/{oid}/cancel", json={"reason": "client request", "actor": "cr"}, headers=F)
    ).json()
    assert view["status"] == "CANCELLED"


async def test_a_return_reason_and_the_client_s_words_reach_the_view_and_the_read_model(stack: Stack):
    oid = await started(stack, n=3)
    base = f"/v1/trials/{oid}"
    parcel = {"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1", "p2", "p3"]}
    assert (await stack.http.post(f"{base}/dispatch", json={"parcels": [parcel]}, headers=F)).status_code == 200
    assert (await stack.http.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F)).status_code == 200
    wrong = {"decisions": [{"piece_id": "p1", "decision": "keep", "reason": "too_small"}], "actor": "client",
             "channel": "app"}  # fmt: skip
    assert error(await stack.http.post(f"{base}/decisions", json=wrong, headers=F), 422) == "return_reason_on_keep"
    unknown = {"decisions": [{"piece_id": "p1", "decision": "return", "reason": "ugly"}], "actor": "client",
               "channel": "app"}  # fmt: skip
    assert error(await stack.http.post(f"{base}/decisions", json=unknown, headers=F), 422) == "invalid_request"
    decided = {"decisions": [
        {"piece_id": "p1", "decision": "keep", "feedback": "Perfect for the opera."},
        {"piece_id": "p2", "decision": "return", "reason": "not_as_pictured", "feedback": "Darker than online."},
        {"piece_id": "p3", "decision": "return", "reason": "too_large"},
    ], "actor": "ps-07", "channel": "whatsapp", "reference": "wamid.77"}  # fmt: skip
    view = (await stack.http.post(f"{base}/decisions", json=decided, headers=S)).json()
    pieces = {p["piece_id"]: (p["return_reason"], p["feedback"]) for p in view["pieces"]}
    assert pieces == {"p1": (None, "Perfect for the opera."), "p2": ("not_as_pictured", "Darker than online."),
                      "p3": ("too_large", None)}  # fmt: skip
    audit = [e for e in view["events"] if e["kind"] == "decided"]
    assert audit[-1]["detail"] == "Decisions: p1=keep, p2=return (not_as_pictured), p3=return (too_large)."
    assert audit[-1]["actor"] == "ps-07" and audit[-1]["channel"] == "whatsapp"
    with stack.store.engine.connect() as conn:
        rows = dict(
            conn.execute(
                select(PieceRecord.piece_id, PieceRecord.return_reason).where(PieceRecord.trial_id == view["trial_id"])
            ).all()
        )
    assert rows == {"p1": None, "p2": "not_as_pictured", "p3": "too_large"}


# --------------------------------------------------------------------------- a whole trial, and the lists


async def test_a_whole_trial_driven_only_through_http_on_a_fast_clock(stack: Stack):
    http = stack.fast
    customer = f"cus-{uuid.uuid4().hex[:6]}"
    b = body(n=4, price=lambda i: i * 10_000)
    b["customer"]["id"] = customer
    assert (await http.post("/v1/trials", json=b, headers=F)).status_code == 201
    oid = b["order_id"]
    base = f"/v1/trials/{oid}"
    await wait_for(stack, oid, lambda v: v["status"] == "AWAITING_DISPATCH")
    await http.post(
        f"{base}/dispatch",
        json={"parcels": [{"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1", "p2", "p3", "p4"]}]},
        headers=F,
    )
    await http.post(f"{base}/delivery", json={"tracking_number": "T1"}, headers=F)
    d = {
        "decisions": [
            {"piece_id": "p1", "decision": "keep"},
            {"piece_id": "p2", "decision": "return"},
            {"piece_id": "p3", "decision": "return"},
        ],
        "actor": "ps-07",
        "channel": "phone",
        "reference": "call-1",
    }
    assert (await http.post(f"{base}/decisions", json=d, headers=S)).status_code == 200
    await http.post(
        f"{base}/returns", json={"piece_ids": ["p2", "p3"], "carrier": "DHL", "tracking_number": "R1"}, headers=F
    )
    # seven trial "days" pass (2.8 s): p1 is charged at close, p4 (undecided) awaits its return
    view = await wait_for(
        stack, oid, lambda v: v["status"] == "AWAITING_RETURNS" and v["amounts"]["charged"] == 10_000, "trial close"
    )
    # The return parcel is opened and both pieces inspected in one command.
    parcel = {"inspections": [{"piece_id": "p2", "condition": "ok"}, {"piece_id": "p3", "condition": "damaged"}]}
    assert (await http.post(f"{base}/inspections", json=parcel, headers=F)).status_code == 200
    view = await wait_for(stack, oid, lambda v: v["status"] == "COMPLETED", "the return window and final settlement")
    assert {p["piece_id"]: p["state"] for p in view["pieces"]} == {
        "p1": "KEPT",
        "p2": "RETURNED",
        "p3": "DAMAGED",
        "p4": "KEPT_UNRETURNED",
    }
    assert view["amounts"]["charged"] == 10_000 + 30_000 + 40_000 and view["amounts"]["authorized"] == 0
    assert [p["decision"] for p in view["pieces"]] == ["keep", "return", "return", None]

    listed = (await http.get("/v1/trials", params={"customer_id": customer}, headers=R)).json()
    assert [t["order_id"] for t in listed["items"]] == [oid] and listed["items"][0]["charged"] == 80_000
    assert listed["items"][0]["status"] == "COMPLETED", "the read model is written before a command answers"


async def test_lists_filter_and_page_newest_first(stack: Stack):
    customer = f"cus-{uuid.uuid4().hex[:6]}"
    oids = []
    for _ in range(3):
        b = body(n=1)
        b["customer"]["id"] = customer
        assert (await stack.http.post("/v1/trials", json=b, headers=F)).status_code == 201
        oids.append(b["order_id"])
        await wait_for(stack, b["order_id"], lambda v: v["status"] == "AWAITING_DISPATCH")

    # A start is not a command that answers after the projection: wait for the read model to have all three.
    async def all_three() -> bool:
        params = {"customer_id": customer, "status": "AWAITING_DISPATCH"}
        return len((await stack.http.get("/v1/trials", params=params, headers=R)).json()["items"]) == 3

    await eventually(all_three, "all three trials in the list")
    first = (await stack.http.get("/v1/trials", params={"customer_id": customer, "limit": 2}, headers=R)).json()
    assert [t["order_id"] for t in first["items"]] == oids[::-1][:2] and first["next_cursor"]
    rest = (
        await stack.http.get(
            "/v1/trials", params={"customer_id": customer, "limit": 2, "cursor": first["next_cursor"]}, headers=R
        )
    ).json()
    assert [t["order_id"] for t in rest["items"]] == [oids[0]] and rest["next_cursor"] is None
    status = (
        await stack.http.get("/v1/trials", params={"customer_id": customer, "status": "AWAITING_DISPATCH"}, headers=R)
    ).json()
    assert len(status["items"]) == 3
    attention = (
        await stack.http.get("/v1/trials", params={"customer_id": customer, "needs_attention": "true"}, headers=R)
    ).json()
    assert attention["items"] == []
    assert error(await stack.http.get("/v1/trials", params={"cursor": "garbage"}, headers=R), 422) == "invalid_request"
    assert error(await stack.http.get("/v1/trials", params={"limit": 500}, headers=R), 422) == "invalid_request"


def test_policy_and_time_scale_come_from_settings(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("STYLETRIAL_POLICY__TRIAL_DAYS", "10")
    monkeypatch.setenv("STYLETRIAL_POLICY__RETURN_WINDOW", "P5D")
    monkeypatch.setenv("STYLETRIAL_TIME_SCALE", "86400")
    monkeypatch.setenv("STYLETRIAL_API_TOKENS", '{"abc": "support"}')
    s = Settings()
    assert s.api_tokens == {"abc": "support"} and "abc" not in repr(s)
    p = s.resolved_policy
    assert p.trial_days == 10 and p.return_window.total_seconds() == 5 and p.day.total_seconds() == 1
    assert p == TrialPolicy(trial_days=10, return_window=TrialPolicy().return_window * 5 / 3).scaled(86_400)


# --------------------------------------------------------------------------- reads and outages


async def test_reads_come_from_the_read_model_and_need_no_worker(
    dev_env: WorkflowEnvironment, api_store: SqlStore, tmp_path: Any
):
    """With no worker on the queue, a new trial reads as it opened, and a projected one as last projected."""
    settings = Settings(task_queue=f"no-worker-{uuid.uuid4()}", api_tokens=TOKENS, data_dir=tmp_path)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_api(settings, dev_env.client, api_store)), base_url="http://api"
    ) as http:
        b = body()
        r = await http.post("/v1/trials", json=b, headers=F)
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "AUTHORIZING" and r.json()["amounts"]["charged"] == 0
        got = await asyncio.wait_for(http.get(f"/v1/trials/{b['order_id']}", headers=R), 5)
        assert got.status_code == 200 and got.json()["status"] == "AUTHORIZING"
        # Read off the history's first event alone: opened when Temporal started it, its pieces as ordered.
        started = await dev_env.client.get_workflow_handle(f"style-trial-{b['order_id']}").describe()
        assert datetime.fromisoformat(got.json()["opened_at"]) == started.start_time
        assert [p["piece_id"] for p in got.json()["pieces"]] == [p["piece_id"] for p in b["pieces"]]
        assert error(await http.get("/v1/trials/never-started", headers=R), 404) == "unknown_order"


async def test_temporal_unreachable_is_a_503_with_retry_after_and_the_connection_stays_usable(
    api_store: SqlStore, tmp_path: Any
):
    """The API connected to a Temporal server that then died: every call that needs Temporal is a 503."""
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter

    from cli.devserver import start_dev_server
    from tests.machine import free_port

    port = free_port()
    server = start_dev_server(tmp_path / "temporal", port, free_port())
    try:
        client = await Client.connect(f"127.0.0.1:{port}", data_converter=pydantic_data_converter)
    finally:
        server.kill()
        server.wait()
    settings = Settings(task_queue="q", api_tokens=TOKENS, data_dir=tmp_path)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_api(settings, client, api_store)), base_url="http://api"
    ) as http:
        # At once: each waits out the SDK's retries (about 10 s) before it answers.
        answers = await asyncio.gather(
            *(
                http.request(method, path, json=payload, headers=who)
                for method, path, payload, who in (
                    ("POST", "/v1/trials", body(), F),
                    ("GET", "/v1/trials/not-projected-anywhere", None, R),
                    ("POST", "/v1/trials/x/finish", {}, F),
                )
            )
        )
        for r in answers:
            assert error(r, 503) == "temporarily_unavailable"
            assert r.headers["retry-after"].isdigit()
        assert (await http.get("/v1/trials", headers=R)).status_code == 200  # lists need only the database


class _BrokenReadModel(SqlStore):
    def view(self, order_id: str) -> Any:
        raise RuntimeError("a bug in the read model")


async def test_after_a_500_or_503_the_same_keep_alive_connection_serves_the_next_request(
    dev_env: WorkflowEnvironment, api_store: SqlStore, tmp_path: Any
):
    """Over a real socket and a real uvicorn: the error is answered in the error shape and the server keeps
    the connection, so a client's pool is not torn down by one bad answer."""
    import uvicorn

    from tests.machine import free_port

    settings = Settings(task_queue="q", api_tokens=TOKENS, data_dir=tmp_path)
    app = build_api(settings, dev_env.client, _BrokenReadModel(api_store.engine))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answers = []
        for path in ("/v1/trials/some-order", "/healthz"):
            writer.write(f"GET {path} HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer tok-read\r\n\r\n".encode())
            await writer.drain()
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            length = int(next(h for h in head.split("\r\n") if h.lower().startswith("content-length")).split(":")[1])
            answers.append((head.split()[1], head.lower(), (await reader.readexactly(length)).decode()))
        writer.close()
        (status, head, body), (second, _, _) = answers
        assert status == "500" and '"code":"internal_error"' in body and "connection: close" not in head
        assert second == "200", "the same connection served the next request"
    finally:
        server.should_exit = True
        await serving
