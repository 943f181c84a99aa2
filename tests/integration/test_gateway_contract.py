"""One contract, every payment adapter: the simulated gateway (in memory and on the engine's database)
and the Stripe adapter against localstripe. The tests are the same; only the fixture differs."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from activities.ports import InvalidPaymentRequest, TransientGatewayError
from activities.simulated_gateway import SimulatedGateway
from domain.steps import AuthorizeRequest, CaptureRequest, ChargeRequest, RefundRequest, ReleaseRequest
from persistence.db import make_engine
from persistence.simulated_book import SqlGatewayBook
from tests.databases import sqlite_database
from tests.gateways import StripeUnderTest
from tests.machine import free_port

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
Gateway = Any  # SimulatedGateway | StripeUnderTest: the port plus held/total/decline_next


@pytest.fixture(params=["simulated", "simulated-db", "stripe"])
def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Gateway]:
    if request.param == "simulated":
        yield SimulatedGateway()
    elif request.param == "simulated-db":
        with sqlite_database(tmp_path) as url:
            engine = make_engine(url)
            yield SimulatedGateway(SqlGatewayBook(engine))
            engine.dispose()
    else:
        yield StripeUnderTest(request.getfixturevalue("localstripe_url"))


@pytest.fixture
def unreachable(adapter: Gateway) -> Gateway:
    """The same adapter with its network gone."""
    if isinstance(adapter, SimulatedGateway):
        for op in ("authorize", "capture", "charge", "release"):
            adapter.fail_next(op)
        return adapter
    return StripeUnderTest(f"http://127.0.0.1:{free_port()}")


@pytest.fixture
def trial() -> str:
    return f"style-trial-contract-{uuid.uuid4().hex[:10]}"


def authorize(trial: str, amount: int = 250_000, *, currency: str = "GBP", pm: str = "pm_card_visa",
              mit: bool = False, n: int = 1) -> AuthorizeRequest:  # fmt: skip
    return AuthorizeRequest(
        key=f"{trial}-authorize-{n}", trial_id=trial, amount=amount, currency=currency, payment_method=pm,
        merchant_initiated=mit, at=AT,
    )  # fmt: skip


def capture(trial: str, auth_id: str, amount: int, *, currency: str = "GBP", n: int = 1) -> CaptureRequest:
    return CaptureRequest(
        key=f"{trial}-settlement-{n}-1", trial_id=trial, authorization_id=auth_id, amount=amount, currency=currency,
        settlement=n, at=AT + timedelta(days=6),
    )  # fmt: skip


def charge(trial: str, amount: int, *, pm: str = "pm_card_visa", currency: str = "GBP", n: int = 2) -> ChargeRequest:
    return ChargeRequest(
        key=f"{trial}-settlement-{n}-1", trial_id=trial, amount=amount, currency=currency, payment_method=pm,
        settlement=n, at=AT + timedelta(days=9),
    )  # fmt: skip


def release(trial: str, auth_id: str, n: int = 1) -> ReleaseRequest:
    return ReleaseRequest(
        key=f"{trial}-release-{n}", trial_id=trial, authorization_id=auth_id, currency="GBP", at=AT + timedelta(days=1)
    )


def refund(trial: str, payment: str, amount: int, piece: str = "p1", n: int = 1) -> RefundRequest:
    return RefundRequest(
        key=f"{trial}-refund-{piece}-{n}", trial_id=trial, piece_id=piece, payment_reference=payment, amount=amount,
        currency="GBP", settlement=1, at=AT + timedelta(days=20),
    )  # fmt: skip


async def test_refunds_give_back_part_of_a_capture_and_of_a_charge_and_a_lookup_finds_them(
    adapter: Gateway, trial: str
):
    auth = await adapter.authorize(authorize(trial))
    captured = await adapter.capture(capture(trial, auth.authorization_id, 200_000))
    charged = await adapter.charge(charge(trial, 60_000))
    first = await adapter.refund(refund(trial, captured.reference, 120_000))
    second = await adapter.refund(refund(trial, charged.reference, 60_000, piece="p2"))
    assert (
        first.approved and first.amount == 120_000 and first.reference and first.payment_reference == captured.reference
    )
    assert second.approved and second.amount == 60_000
    assert adapter.total(trial, "refund") == 180_000
    assert adapter.total(trial, "capture") == 200_000 and adapter.total(trial, "charge") == 60_000
    # What an activity retried after its worker died asks first: the refund is found under its key.
    found = await adapter.lookup(refund(trial, captured.reference, 120_000))
    assert found is not None and found.approved and found.reference == first.reference
    assert await adapter.lookup(refund(trial, captured.reference, 1_000, piece="p9")) is None


async def test_a_refund_of_more_than_is_left_of_the_payment_is_declined(trial: str):
    # The simulated gateway, as Stripe does (localstripe does not check: the trial never asks for more).
    adapter = SimulatedGateway()
    auth = await adapter.authorize(authorize(trial))
    assert auth.authorization_id is not None
    captured = await adapter.capture(capture(trial, auth.authorization_id, 100_000))
    assert captured.reference is not None
    assert (await adapter.refund(refund(trial, captured.reference, 70_000))).approved
    over = await adapter.refund(refund(trial, captured.reference, 40_000, piece="p2"))
    assert not over.approved and over.decline_code == "refund_exceeds_payment"
    assert adapter.total(trial, "refund") == 70_000


async def test_a_client_present_authorization_holds_the_amount_for_seven_days(adapter: Gateway, trial: str):
    result = await adapter.authorize(authorize(trial))
    assert result.approved and result.authorization_id and result.amount == 250_000
    assert (
        result.expires_at
        == AT + timedelta(days=adapter.capabilities.customer_initiated_validity_days)
        == AT + timedelta(days=7)
    )
    assert adapter.held(trial, AT) == 250_000
    assert adapter.total(trial, "capture") == adapter.total(trial, "charge") == 0


async def test_a_merchant_initiated_reauthorization_holds_for_a_shorter_time(adapter: Gateway, trial: str):
    result = await adapter.authorize(authorize(trial, 90_000, mit=True))
    assert result.approved and result.amount == 90_000
    assert result.expires_at == AT + timedelta(days=adapter.capabilities.merchant_initiated_validity_days)
    assert adapter.capabilities.merchant_initiated_validity_days < adapter.capabilities.customer_initiated_validity_days


async def test_a_partial_capture_takes_the_kept_value_and_gives_back_the_rest(adapter: Gateway, trial: str):
    auth = await adapter.authorize(authorize(trial))
    assert not adapter.capabilities.multiple_captures, "both adapters are standard, single-capture holds"
    result = await adapter.capture(capture(trial, auth.authorization_id, 100_000))
    assert result.approved and result.amount == 100_000 and result.reference
    # The gateway says what it did with the rest; the workflow never assumes it.
    assert (result.remaining_authorized, result.released) == (0, 150_000)
    assert adapter.total(trial, "capture") == 100_000
    assert adapter.held(trial, AT) == 0


async def test_a_consumed_hold_refuses_a_second_capture_as_a_result_not_an_error(adapter: Gateway, trial: str):
    auth = await adapter.authorize(authorize(trial))
    await adapter.capture(capture(trial, auth.authorization_id, 100_000))
    again = await adapter.capture(capture(trial, auth.authorization_id, 50_000, n=2))
    assert not again.approved and again.decline_code == "authorization_not_capturable"
    assert adapter.total(trial, "capture") == 100_000


async def test_an_off_session_charge_takes_the_saved_payment_method(adapter: Gateway, trial: str):
    result = await adapter.charge(charge(trial, 60_000))
    assert result.approved and result.amount == 60_000 and result.reference
    assert adapter.total(trial, "charge") == 60_000 and adapter.held(trial, AT) == 0


async def test_release_gives_back_the_whole_hold_and_answers_the_same_when_repeated(adapter: Gateway, trial: str):
    auth = await adapter.authorize(authorize(trial))
    first = await adapter.release(release(trial, auth.authorization_id))
    assert first.released == 250_000 and adapter.held(trial, AT) == 0
    assert await adapter.release(release(trial, auth.authorization_id)) == first


async def test_a_captured_hold_has_nothing_left_to_release(adapter: Gateway, trial: str):
    auth = await adapter.authorize(authorize(trial))
    await adapter.capture(capture(trial, auth.authorization_id, 250_000))
    assert (await adapter.release(release(trial, auth.authorization_id))).released == 0
    assert adapter.total(trial, "capture") == 250_000


@pytest.mark.parametrize("token", ["pm_card_visa_chargeDeclined", "pm_card_chargeCustomerFail"])
async def test_stripe_test_cards_that_decline_do_so_as_results(adapter: Gateway, trial: str, token: str):
    auth = await adapter.authorize(authorize(trial, pm=token))
    assert not auth.approved and auth.authorization_id is None and auth.decline_code
    paid = await adapter.charge(charge(trial, 60_000, pm=token))
    assert not paid.approved and paid.decline_code
    assert adapter.held(trial, AT) == 0 and adapter.total(trial, "charge") == 0


async def test_a_zero_decimal_currency_moves_exactly_the_minor_units_given(adapter: Gateway, trial: str):
    auth = await adapter.authorize(authorize(trial, 1_500_000, currency="JPY"))  # 1,500,000 yen
    assert auth.approved and auth.amount == 1_500_000
    paid = await adapter.capture(capture(trial, auth.authorization_id, 480_000, currency="JPY"))
    assert paid.approved and (paid.amount, paid.released) == (480_000, 1_020_000)
    assert adapter.total(trial, "capture") == 480_000


async def test_a_three_decimal_currency_is_charged_in_its_minor_units(adapter: Gateway, trial: str):
    paid = await adapter.charge(charge(trial, 12_340, currency="KWD"))  # 12.340 KWD
    assert paid.approved and paid.amount == 12_340


@pytest.mark.parametrize(("amount", "currency"), [(0, "GBP"), (-100, "GBP"), (1000, "XYZ"), (1000, "gbp")])
async def test_an_invalid_amount_or_currency_is_refused_at_the_port_before_any_call(
    adapter: Gateway, trial: str, amount: int, currency: str
):
    with pytest.raises(InvalidPaymentRequest):
        await adapter.authorize(authorize(trial, amount, currency=currency))
    with pytest.raises(InvalidPaymentRequest):
        await adapter.charge(charge(trial, amount, currency=currency))
    assert adapter.held(trial, AT) == 0 and adapter.total(trial, "charge") == 0


async def test_an_amount_above_the_gateway_limit_is_declined_not_attempted(adapter: Gateway, trial: str):
    result = await adapter.authorize(authorize(trial, 100_000_000, currency="JPY"))
    assert not result.approved and result.decline_code == "amount_too_large"
    assert adapter.held(trial, AT) == 0


async def test_lookup_answers_what_an_earlier_attempt_did_under_the_same_key(adapter: Gateway, trial: str):
    req = authorize(trial)
    assert await adapter.lookup(req) is None, "nothing happened yet"
    auth = await adapter.authorize(req)
    assert await adapter.lookup(req) == auth
    declined = authorize(trial, pm="pm_card_chargeCustomerFail", n=2)
    refusal = await adapter.authorize(declined)
    found = await adapter.lookup(declined)
    assert found is not None and not found.approved and found.decline_code == refusal.decline_code
    paid = await adapter.charge(charge(trial, 60_000))
    assert await adapter.lookup(charge(trial, 60_000)) == paid


async def test_a_network_failure_raises_a_retryable_error_and_moves_nothing(unreachable: Gateway, trial: str):
    for call in (
        unreachable.authorize(authorize(trial)),
        unreachable.capture(capture(trial, "pi_or_simauth_1", 1_000)),
        unreachable.charge(charge(trial, 1_000)),
        unreachable.release(release(trial, "pi_or_simauth_1")),
    ):
        with pytest.raises(TransientGatewayError):
            await call


async def test_a_trial_whose_order_id_is_in_another_script_moves_money_like_any_other(adapter: Gateway):
    """Idempotency keys name the trial, and an order id may be any script's letters: the key travels in an
    HTTP header to Stripe (`Idempotency-Key`), which only ASCII can cross."""
    trial = f"style-trial-注文-٣٤-{uuid.uuid4().hex[:6]}"
    auth = await adapter.authorize(authorize(trial))
    assert auth.approved, auth
    captured = await adapter.capture(capture(trial, auth.authorization_id, 200_000))
    assert captured.approved and adapter.total(trial, "capture") == 200_000
    again = await adapter.capture(capture(trial, auth.authorization_id, 200_000))
    assert again.reference == captured.reference and adapter.total(trial, "capture") == 200_000, "once"
    back = await adapter.refund(refund(trial, captured.reference, 50_000))
    assert back.approved and adapter.total(trial, "refund") == 50_000
    found = await adapter.lookup(refund(trial, captured.reference, 50_000))
    assert found is not None and found.reference == back.reference
