"""Whole trials on the time-skipping server with each payment adapter, checked on the gateway's side:
the simulated gateway's book, and Stripe's PaymentIntents as localstripe holds them."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities.payments import PaymentActivities
from activities.simulated_gateway import SimulatedGateway
from domain import commands as cmd
from domain.examples import decisions, order, parcels
from domain.steps import AuthorizeRequest, CaptureRequest, ChargeRequest, PaymentResult, RefundRequest, RefundResult
from persistence.store import SqlStore
from tests.gateways import StripeUnderTest
from tests.support import Harness

DAY = timedelta(days=1)
AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
Gateway = Any  # SimulatedGateway | StripeUnderTest


@pytest.fixture(params=["simulated", "stripe"])
def gateway(request: pytest.FixtureRequest) -> Iterator[Gateway]:
    """Overrides conftest's gateway: the harness's worker uses this adapter."""
    if request.param == "simulated":
        yield SimulatedGateway()
    else:
        yield StripeUnderTest(request.getfixturevalue("localstripe_url"))


def unique(n: int, **kw: Any) -> Any:
    return order(n, order_id=f"pay-{uuid.uuid4().hex[:10]}", **kw)


async def test_thirty_pieces_kept_returned_damaged_and_unreturned_settle_exactly(harness: Harness, gateway: Gateway):
    o = unique(30, price=lambda i: 100_000 + i * 1_000)
    prices = {p.piece_id: p.price for p in o.pieces}
    ids = list(prices)
    trial = await harness.start_on_trial(o, groups=[ids[:10], ids[10:20], ids[20:]])
    keep, returned, damaged, unreturned = ids[:12], ids[12:27], ids[27:28], ids[28:]
    await trial.send("decide", decisions(keep=keep, ret=returned + damaged + unreturned))

    await trial.advance(7 * DAY + timedelta(minutes=1))
    view = await trial.wait_status("AWAITING_RETURNS")
    kept_total = sum(prices[p] for p in keep)
    assert view.amounts.charged == kept_total
    assert gateway.total(trial.trial_id, "capture") == kept_total, "the kept total was captured at trial close"
    assert gateway.held(trial.trial_id) == 0, "Stripe released the uncaptured rest with the capture"

    shipped = returned + damaged
    await trial.send("ship_return", cmd.ReturnShipped(piece_ids=shipped, carrier="DHL", tracking_number="RET-30"))
    for pid in shipped:
        await trial.send("inspect", cmd.Inspection(piece_id=pid, condition="damaged" if pid in damaged else "ok"))
    await trial.advance(3 * DAY)  # the two unreturned pieces pass the return deadline
    result = await trial.result()

    late_total = sum(prices[p] for p in damaged + unreturned)
    assert result.status == "COMPLETED"
    assert result.amounts.charged == kept_total + late_total
    assert gateway.total(trial.trial_id, "capture") == kept_total
    assert gateway.total(trial.trial_id, "charge") == late_total, "one later charge for the 3 late/damaged pieces"
    assert gateway.held(trial.trial_id) == 0, "nothing left authorized"
    assert [m.kind for m in result.movements if m.settlement and m.outcome == "succeeded"] == ["capture", "charge"]
    if isinstance(gateway, StripeUnderTest):
        intents = gateway.intents(trial.trial_id)
        holds = sorted(i["status"] for i in intents if i["capture_method"] == "manual")
        charges = [i["status"] for i in intents if i["capture_method"] != "manual"]
        # The hold was renewed once before it expired (the trial outlived 7 days), then captured once.
        assert holds == ["canceled", "succeeded"] and charges == ["succeeded"]


async def test_a_long_trial_renews_its_hold_before_expiry_and_releases_the_old_one_after(
    harness: Harness, gateway: Gateway
):
    o = unique(2)
    trial = await harness.start_accepted(o)
    await trial.advance(6 * DAY + timedelta(hours=1))  # a day before the 7-day hold expires
    view = await trial.wait_for(lambda v: len([m for m in v.movements if m.kind == "authorization"]) == 2, "renewal")
    first, second, released = view.movements
    assert [(m.kind, m.outcome) for m in (first, second, released)] == [
        ("authorization", "succeeded"), ("authorization", "succeeded"), ("release", "succeeded"),
    ]  # fmt: skip
    assert released.reference == first.reference and released.at >= second.at, "old hold released after the new"
    assert gateway.held(trial.trial_id) == o.value, "exactly one hold stands"

    await trial.send("dispatch", parcels([["p1", "p2"]]))
    await trial.deliver_all()
    await trial.send("decide", decisions(keep=["p1"], ret=["p2"]))
    await trial.advance(7 * DAY + timedelta(minutes=1))
    view = await trial.wait_status("AWAITING_RETURNS")
    capture = next(m for m in view.movements if m.kind == "capture")
    newest = [m for m in view.movements if m.kind == "authorization"][-1]
    assert capture.amount == 120_000 and capture.at < newest.expires_at  # type: ignore[operator]
    await trial.send("ship_return", cmd.ReturnShipped(piece_ids=["p2"], carrier="DHL", tracking_number="RET-2"))
    await trial.send("inspect", cmd.Inspection(piece_id="p2", condition="ok"))
    result = await trial.result()
    assert result.status == "COMPLETED"
    assert gateway.total(trial.trial_id, "capture") == 120_000 and gateway.total(trial.trial_id, "charge") == 0
    assert gateway.held(trial.trial_id) == 0


async def test_a_declined_renewal_settles_off_session_and_never_captures_the_expired_hold(
    harness: Harness, gateway: Gateway
):
    o = unique(2)
    trial = await harness.start_accepted(o)
    gateway.decline_next("authorize")  # the card fails from now on for merchant-initiated payments
    await trial.advance(6 * DAY + timedelta(hours=1))
    view = await trial.wait_for(lambda v: "reauthorization_failed" in v.attention, "flag")
    assert view.status == "AWAITING_DISPATCH"
    await trial.send("dispatch", parcels([["p1", "p2"]]))
    await trial.deliver_all()
    await trial.send("decide", decisions(keep=["p1", "p2"]))
    await trial.advance(7 * DAY + timedelta(minutes=1))
    result = await trial.result()
    assert result.status == "COMPLETED" and result.amounts.charged == o.value
    assert [m.kind for m in result.movements if m.settlement] == ["charge"]
    assert any(m.kind == "expiry" for m in result.movements)
    assert gateway.total(trial.trial_id, "capture") == 0, "the expired authorization was never captured"
    assert gateway.total(trial.trial_id, "charge") == o.value
    assert gateway.held(trial.trial_id) == 0


async def test_refunds_during_and_after_the_trial_go_back_once_each_from_the_payment_that_charged(
    harness: Harness, gateway: Gateway, store: SqlStore
):
    o = unique(3, price=100_000)
    trial = await harness.start_on_trial(o)
    await trial.send("decide", decisions(keep=["p1", "p2"], ret=["p3"]))
    await trial.advance(7 * DAY + timedelta(minutes=1))
    view = await trial.wait_status("AWAITING_RETURNS")
    capture = next(m for m in view.movements if m.kind == "capture")

    # A fault found after keeping, while p3's return is awaited: half of p1 back.
    goodwill = cmd.Refund(piece_id="p1", reason="Seam opened after a week", actor="cr.amelia", amount=50_000)
    view = await trial.send("refund", goodwill)
    p1 = next(p for p in view.pieces if p.piece_id == "p1")
    assert (p1.state, p1.refunded, view.amounts.refunded) == ("REFUNDED", 50_000, 50_000)
    refund = next(m for m in view.movements if m.kind == "refund")
    assert refund.outcome == "succeeded" and refund.settlement == capture.settlement
    assert await trial.refused("refund", goodwill) == "already_refunded"
    too_much = cmd.Refund(piece_id="p2", reason="r", actor="cr.amelia", amount=100_001)
    assert await trial.refused("refund", too_much) == "invalid_refund_amount"
    assert await trial.refused("refund", cmd.Refund(piece_id="p3", reason="r", actor="a")) == "not_refundable"

    await trial.send("ship_return", cmd.ReturnShipped(piece_ids=["p3"], carrier="DHL", tracking_number="R3"))
    view = await trial.send("inspect", cmd.Inspection(piece_id="p3", condition="ok"))
    assert view.status == "COMPLETED" and view.refunds_until is not None
    # Completed, and still open for the refund window: a late return accepted as goodwill.
    late = cmd.Refund(piece_id="p2", reason="Late return accepted as goodwill", actor="cr.amelia")
    view = await trial.send("refund", late)
    assert view.amounts.refunded == 150_000 and view.amounts.charged == 200_000
    assert await trial.refused("refund", late) == "already_refunded"
    assert await trial.refused("dispatch", parcels([["p1"]])) == "trial_finished"

    await trial.advance(30 * DAY)
    result = await trial.result()  # the workflow ends once the refund window closes
    assert result.refunds_until is None and result.amounts.refunded == 150_000
    assert gateway.total(trial.trial_id, "refund") == 150_000
    assert gateway.total(trial.trial_id, "capture") == 200_000, "refunds take nothing from what was captured"
    refunds = [(m.kind, m.status, m.amount) for m in store.movements(trial.trial_id) if m.kind == "refund"]
    assert refunds == [("refund", "succeeded", 50_000), ("refund", "succeeded", 100_000)]


# -- a worker dying between the gateway's answer and the ledger -------------------------------------


class DiesAfterTheCall:
    """Wraps an adapter: the call reaches the gateway and succeeds, then the worker dies (once per kind)."""

    def __init__(self, inner: Gateway) -> None:
        self.inner = inner
        self.pending = {"authorize", "capture", "charge", "refund"}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def _then_die(self, kind: str, result: Any) -> Any:
        if kind in self.pending:
            self.pending.remove(kind)
            raise ConnectionResetError("worker lost after the gateway answered")
        return result

    async def authorize(self, req: AuthorizeRequest) -> Any:
        return await self._then_die("authorize", await self.inner.authorize(req))

    async def capture(self, req: CaptureRequest) -> PaymentResult:
        return await self._then_die("capture", await self.inner.capture(req))  # type: ignore[no-any-return]

    async def charge(self, req: ChargeRequest) -> PaymentResult:
        return await self._then_die("charge", await self.inner.charge(req))  # type: ignore[no-any-return]

    async def refund(self, req: RefundRequest) -> RefundResult:
        return await self._then_die("refund", await self.inner.refund(req))  # type: ignore[no-any-return]


async def test_a_retry_after_a_crash_moves_no_money_twice_on_the_gateways_side(gateway: Gateway, store: SqlStore):
    if isinstance(gateway, SimulatedGateway):
        gateway = SimulatedGateway(honour_idempotency_keys=False)  # as forgetful as localstripe
    trial = f"style-trial-crash-{uuid.uuid4().hex[:10]}"
    activities = PaymentActivities(DiesAfterTheCall(gateway), store)
    env = ActivityEnvironment()
    auth_req = AuthorizeRequest(
        key=f"{trial}-authorize-1", trial_id=trial, amount=300_000, currency="EUR", payment_method="pm_card_visa",
        merchant_initiated=False, at=AT,
    )  # fmt: skip
    with pytest.raises(ConnectionResetError):
        await env.run(activities.authorize, auth_req)
    auth = await env.run(activities.authorize, auth_req)  # Temporal's retry
    assert auth.approved and gateway.held(trial, AT) == 300_000, "one hold, not two"

    cap_req = CaptureRequest(
        key=f"{trial}-settlement-1-1", trial_id=trial, authorization_id=auth.authorization_id, amount=200_000,
        currency="EUR", settlement=1, at=AT + DAY,
    )  # fmt: skip
    with pytest.raises(ConnectionResetError):
        await env.run(activities.capture, cap_req)
    captured = await env.run(activities.capture, cap_req)
    assert captured.approved and captured.amount == 200_000

    charge_req = ChargeRequest(
        key=f"{trial}-settlement-2-1", trial_id=trial, amount=50_000, currency="EUR", payment_method="pm_card_visa",
        settlement=2, at=AT + 2 * DAY,
    )  # fmt: skip
    with pytest.raises(ConnectionResetError):
        await env.run(activities.charge, charge_req)
    charged = await env.run(activities.charge, charge_req)
    assert charged.approved and await env.run(activities.charge, charge_req) == charged

    assert captured.reference is not None
    refund_req = RefundRequest(
        key=f"{trial}-refund-p1-1", trial_id=trial, piece_id="p1", payment_reference=captured.reference,
        amount=80_000, currency="EUR", settlement=1, at=AT + 3 * DAY,
    )  # fmt: skip
    with pytest.raises(ConnectionResetError):
        await env.run(activities.refund, refund_req)
    refunded = await env.run(activities.refund, refund_req)
    assert refunded.approved and refunded.amount == 80_000 and await env.run(activities.refund, refund_req) == refunded

    assert gateway.total(trial, "capture") == 200_000
    assert gateway.total(trial, "charge") == 50_000
    assert gateway.total(trial, "refund") == 80_000, "one refund, not two"
    assert [(m.kind, m.status) for m in store.movements(trial)] == [
        ("authorization", "succeeded"), ("capture", "succeeded"), ("charge", "succeeded"), ("refund", "succeeded"),
    ]  # fmt: skip
    if isinstance(gateway, StripeUnderTest):
        assert sorted(gateway.keys(trial)) == [f"{trial}-authorize-1", f"{trial}-settlement-2-1"], (
            "one PaymentIntent each"
        )
