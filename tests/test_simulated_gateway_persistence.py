"""The simulated gateway keeps its holds in the engine's database: a restarted worker forgets nothing."""

from datetime import UTC, datetime, timedelta

from activities.simulated_gateway import SimulatedGateway
from domain.steps import AuthorizeRequest, CaptureRequest, ReleaseRequest
from persistence.db import make_engine
from persistence.simulated_book import SqlGatewayBook

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
