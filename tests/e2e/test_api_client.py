"""The typed HTTP client (`api_client`) against the real API, worker and dev server: a whole trial through it,
errors as `ApiError`, and its retries: a lost answer is retried with the same Idempotency-Key and the
command applies once; a 503 is retried after Retry-After; a 4xx is never sent twice."""

import uuid
from collections import Counter

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.notifications import RecordingNotifier
from api_client import ApiError, StyleTrialApi, models
from bootstrap import Adapters, build_api, build_worker
from config import Settings
from domain.examples import order
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import SqlStore
from tests.waiting import eventually

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(120)]
TOKENS = {"tok-fulfil": "fulfilment"}


class Unreliable(httpx.AsyncBaseTransport):
    """In front of the API: for the paths in `lose_answer`, the first request reaches the API and its answer
    is lost (the API acted); for those in `busy`, the first is answered 503 without reaching it."""

    def __init__(self, inner: httpx.AsyncBaseTransport, lose_answer: set[str], busy: set[str]) -> None:
        self.inner = inner
        self.lose_answer = lose_answer
        self.busy = busy
        self.sent: Counter[str] = Counter()
        self.keys: dict[str, list[str]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.sent[path] += 1
        self.keys.setdefault(path, []).append(request.headers.get("Idempotency-Key", ""))
        if path in self.busy and self.sent[path] == 1:
            return httpx.Response(
                503,
                headers={"Retry-After": "0"},
                json={"error": {"code": "temporarily_unavailable", "message": "busy"}},
            )
        response = await self.inner.handle_async_request(request)
        if path in self.lose_answer and self.sent[path] == 1:
            await response.aread()
            raise httpx.ReadError("connection reset after the API answered", request=request)
        return response


async def test_a_whole_trial_through_the_client_with_lost_answers_and_busy_answers(
    dev_env: WorkflowEnvironment, tmp_path
):
    url = f"sqlite:///{tmp_path / 'client.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    store = SqlStore(engine)
    settings = Settings(task_queue=f"client-{uuid.uuid4()}", api_tokens=TOKENS, data_dir=tmp_path)
    o = order(3)
    # What a fulfilment system sends: the client's own wire model, built from the same example order.
    sent = models.TrialOrder.model_validate(o.model_dump(mode="json", exclude_none=True))
    base = f"/v1/trials/{o.order_id}"
    try:
        async with build_worker(
            dev_env.client, settings.task_queue, Adapters(store=store, notifier=RecordingNotifier())
        ):
            app = build_api(settings, dev_env.client, store)
            wire = Unreliable(
                httpx.ASGITransport(app=app), lose_answer={f"{base}/decisions", "/v1/trials"}, busy={f"{base}/dispatch"}
            )
            async with StyleTrialApi("http://api", "tok-fulfil", transport=wire, backoff=0.01) as api:
                started = await api.start_trial(sent)
                # The first start's answer was lost: the retry finds the trial the first one opened.
                assert started.created is False and started.view.order_id == o.order_id
                assert wire.sent["/v1/trials"] == 2
                again = await api.start_trial(sent)
                assert again.created is False

                async def accepted() -> bool:
                    return (await api.get_trial(o.order_id)).status == "AWAITING_DISPATCH"

                await eventually(accepted, "the trial to open")
                parcel = models.Parcel(carrier="DHL", tracking_number="T1", piece_ids=["p1", "p2", "p3"])
                view = await api.dispatch(o.order_id, models.Dispatch(parcels=[parcel]))
                assert view.status == "IN_TRANSIT" and wire.sent[f"{base}/dispatch"] == 2  # the 503, then it
                view = await api.record_delivery(o.order_id, models.Delivery(tracking_number="T1"))
                assert view.status == "ON_TRIAL"

                decisions = models.Decisions(
                    decisions=[models.PieceDecision(piece_id="p1", decision="keep"),
                               models.PieceDecision(piece_id="p2", decision="return"),
                               models.PieceDecision(piece_id="p3", decision="return")],
                    actor="client", channel="app",
                )  # fmt: skip
                view = await api.record_decisions(o.order_id, decisions)
                # Sent twice with one key (the first answer was lost): applied once.
                keys = wire.keys[f"{base}/decisions"]
                assert len(keys) == 2 and keys[0] == keys[1] and keys[0]
                assert [p.decision for p in view.pieces] == ["keep", "return", "return"]
                assert sum(1 for e in view.events if e.kind == "decided") == 1, [e.kind for e in view.events]

                await api.finish_early(o.order_id, models.FinishEarly(actor="client", channel="app"))
                await api.record_return(
                    o.order_id, models.ReturnShipped(piece_ids=["p2", "p3"], carrier="DHL", tracking_number="R1")
                )
                view = await api.record_inspection(
                    o.order_id,
                    models.Inspections(
                        inspections=[models.Inspection(piece_id=p, condition="ok") for p in ("p2", "p3")]
                    ),
                )

                async def completed() -> bool:
                    return (await api.get_trial(o.order_id)).status == "COMPLETED"

                await eventually(completed, "the trial to complete")
                assert (await api.get_trial(o.order_id)).amounts.charged == o.pieces[0].price

                # Errors: the API's code and sentence, and the request id to quote; a 4xx is sent once.
                with pytest.raises(ApiError) as missing:
                    await api.get_trial("NO-SUCH-ORDER")
                assert missing.value.status == 404 and missing.value.code == "unknown_order"
                assert missing.value.request_id
                with pytest.raises(ApiError) as closed:
                    await api.dispatch(o.order_id, models.Dispatch(parcels=[parcel]))
                assert closed.value.status == 409
                assert wire.sent[f"{base}/dispatch"] == 3  # not retried

                # Pages: every trial the filter matches, one per page.
                listed = [t.order_id async for t in api.all_trials(status="COMPLETED", limit=1)]
                assert listed == [o.order_id]
    finally:
        engine.dispose()


async def test_the_client_gives_up_after_its_attempts_and_needs_no_temporal():
    """Without an API at all: every attempt fails to connect, and the last error is raised."""
    async with StyleTrialApi("http://127.0.0.1:1", "t", attempts=3, backoff=0.01) as api:
        with pytest.raises(httpx.ConnectError):
            await api.get_trial("A-1")
    import subprocess
    import sys

    probe = (
        "import sys, api_client; print(sorted(m for m in ('temporalio', 'fastapi', 'sqlalchemy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
