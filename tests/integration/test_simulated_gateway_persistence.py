"""The simulated gateway keeps its holds in the engine's database: a restarted worker forgets nothing."""

import uuid
from datetime import UTC, datetime, timedelta

from temporalio.testing import WorkflowEnvironment

from activities.simulated_gateway import SimulatedGateway
from bootstrap import Adapters, build_worker
from domain import commands as cmd
from domain.examples import decisions, order, parcels
from domain.steps import AuthorizeRequest, CaptureRequest, ReleaseRequest
from persistence.db import make_engine
from persistence.simulated_book import SqlGatewayBook
from persistence.store import SqlStore
from tests.support import Harness

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TRIAL = "style-trial-restart"


def gateway_on(url: str) -> SimulatedGateway:
    return SimulatedGateway(SqlGatewayBook(make_engine(url)))


async def test_a_hold_survives_a_worker_restart_and_is_captured_once(db_url: str):
    before = gateway_on(db_url)
    auth_req = AuthorizeRequest(
        key=f"{TRIAL}-authorize-1", trial_id=TRIAL, amount=90_000, currency="GBP", payment_method="pm_card_visa",
        merchant_initiated=False, at=AT,
    )  # fmt: skip
    auth = await before.authorize(auth_req)

    after = gateway_on(db_url)  # a new process: nothing in memory
    assert after.held(TRIAL, AT + timedelta(days=6)) == 90_000
    assert after.held(TRIAL, AT + timedelta(days=7)) == 0, "the hold lapses at its expiry"
    assert await after.lookup(auth_req) == auth
    assert await after.authorize(auth_req) == auth, "the idempotency key is remembered too"
    cap = CaptureRequest(
        key=f"{TRIAL}-settlement-1-1", trial_id=TRIAL, authorization_id=auth.authorization_id or "", amount=40_000,
        currency="GBP", settlement=1, at=AT + timedelta(days=6),
    )  # fmt: skip
    paid = await after.capture(cap)
    assert paid.approved and paid.released == 50_000
    release = ReleaseRequest(
        key=f"{TRIAL}-release-1", trial_id=TRIAL, authorization_id=auth.authorization_id or "", currency="GBP",
        at=AT + timedelta(days=6),
    )  # fmt: skip
    assert (await gateway_on(db_url).release(release)).released == 0, "captured: nothing left to release"
    again = gateway_on(db_url)
    assert again.total(TRIAL, "capture") == 40_000 and again.held(TRIAL, AT) == 0
    assert [o.kind for o in again.operations] == ["authorization", "capture", "release"]


async def test_an_expired_hold_cannot_be_captured(db_url: str):
    gateway = gateway_on(db_url)
    req = AuthorizeRequest(
        key="t2-authorize-1", trial_id="t2", amount=5_000, currency="JPY", payment_method="pm_card_visa",
        merchant_initiated=True, at=AT,
    )  # fmt: skip
    auth = await gateway.authorize(req)
    late = CaptureRequest(
        key="t2-settlement-1-1", trial_id="t2", authorization_id=auth.authorization_id or "", amount=5_000,
        currency="JPY", settlement=1, at=AT + timedelta(days=4),
    )  # fmt: skip
    result = await gateway_on(db_url).capture(late)
    assert not result.approved and result.decline_code == "authorization_expired"


async def test_a_worker_restart_mid_trial_still_captures_from_the_hold_it_made(
    dev_env: WorkflowEnvironment, db_url: str
):
    """The first worker authorizes and stops; a new worker (new process state, same database) settles."""
    engine = make_engine(db_url)
    store = SqlStore(engine)
    queue = f"restart-{uuid.uuid4()}"
    o = order(3, order_id=f"restart-{uuid.uuid4().hex[:8]}")

    def fresh_adapters() -> Adapters:
        return Adapters(store=store, gateway=SimulatedGateway(SqlGatewayBook(make_engine(db_url))))

    first = fresh_adapters()
    async with build_worker(dev_env.client, queue, first):
        h = Harness(dev_env.client, queue, first, dev_env.sleep)
        trial = await h.start_accepted(o)
    # The first worker is gone; nothing of its memory survives but the database.
    second = fresh_adapters()
    async with build_worker(dev_env.client, queue, second):
        h2 = Harness(dev_env.client, queue, second, dev_env.sleep)
        h2.started.append(trial.handle)
        await trial.send("dispatch", parcels([["p1", "p2", "p3"]]))
        await trial.deliver_all()
        await trial.send("decide", decisions(keep=["p1"], ret=["p2", "p3"]))
        view = await trial.send("finish_early", cmd.FinishEarly(actor="client"))
        await h2.terminate_running()
    capture = next(m for m in view.movements if m.settlement == 1)
    assert (capture.kind, capture.outcome, capture.amount) == ("capture", "succeeded", 120_000)
    assert isinstance(second.gateway, SimulatedGateway)
    assert second.gateway.total(trial.trial_id, "capture") == 120_000
    engine.dispose()
