"""What only the Stripe adapter has: its error taxonomy over HTTP, what it sends, and its settings.

localstripe cannot answer 5xx, 429 or 401, so those come from a tiny HTTP server that answers every request
with one canned Stripe error body: the SDK and the adapter run unchanged against it.
"""

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from activities.ports import InvalidPaymentRequest, TransientGatewayError
from activities.simulated_gateway import SimulatedGateway
from activities.stripe_gateway import KEY, TRIAL, StripeGateway
from bootstrap import default_adapters
from config import Settings
from domain.steps import AuthorizeRequest, ChargeRequest, ReleaseRequest
from persistence.simulated_book import SqlGatewayBook
from tests.databases import sqlite_database
from tests.gateways import StripeUnderTest
from tests.machine import QuietHandler, http_server

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def authorize(trial: str, pm: str = "pm_card_visa") -> AuthorizeRequest:
    return AuthorizeRequest(
        key=f"{trial}-authorize-1", trial_id=trial, amount=10_000, currency="GBP", payment_method=pm,
        merchant_initiated=False, at=AT,
    )  # fmt: skip


@pytest.fixture
def canned() -> Iterator[tuple[str, list[Any]]]:
    """A server answering with the status in `answers[0]` and a Stripe-shaped error body; yields its URL."""
    answers: list[Any] = [500, "x"]  # status, Stripe error code
    seen: list[dict[str, str]] = []

    class Handler(QuietHandler):
        def _answer(self) -> None:
            seen.append(dict(self.headers))
            status = answers[0]
            kind = {402: "card_error", 429: "rate_limit_error", 401: "invalid_request_error"}.get(status, "api_error")
            if status == 400:
                kind = "invalid_request_error"
            body = json.dumps({"error": {"type": kind, "code": answers[1], "message": f"canned {status}"}}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = _answer

    with http_server(Handler) as url:
        yield url, answers


@pytest.mark.parametrize("status", [500, 502, 503, 429, 401])
async def test_server_errors_rate_limits_and_a_refused_key_are_retryable(canned: tuple[str, list[Any]], status: int):
    url, answers = canned
    answers[0] = status
    gateway = StripeGateway("sk_test_canned", url)
    with pytest.raises(TransientGatewayError):
        await gateway.authorize(authorize("style-trial-canned"))


async def test_a_request_stripe_calls_invalid_is_a_bug_not_retried(canned: tuple[str, list[Any]]):
    url, answers = canned
    answers[0] = 400
    gateway = StripeGateway("sk_test_canned", url)
    with pytest.raises(InvalidPaymentRequest):
        await gateway.release(ReleaseRequest(key="k", trial_id="t", authorization_id="pi_1", currency="GBP", at=AT))


async def test_a_payment_stripe_will_not_make_as_asked_is_a_decline_not_a_stuck_trial(canned: tuple[str, list[Any]]):
    url, answers = canned
    answers[:] = [400, "amount_too_small"]  # e.g. a late charge below Stripe's minimum for the currency
    gateway = StripeGateway("sk_test_canned", url)
    result = await gateway.charge(
        ChargeRequest(key="k3", trial_id="t", amount=20, currency="GBP", payment_method="pm_x", settlement=2, at=AT)
    )
    assert not result.approved and result.decline_code == "amount_too_small"


async def test_a_card_error_from_stripe_is_a_decline_with_its_code(canned: tuple[str, list[Any]]):
    url, answers = canned
    answers[0] = 402
    gateway = StripeGateway("sk_test_canned", url)
    result = await gateway.charge(
        ChargeRequest(key="k2", trial_id="t", amount=1_000, currency="GBP", payment_method="pm_x", settlement=2, at=AT)
    )
    assert not result.approved and result.decline_code == "x"


async def test_every_payment_intent_carries_its_key_and_trial_and_nothing_personal(localstripe_url: str):
    gateway = StripeUnderTest(localstripe_url)
    trial = f"style-trial-meta-{uuid.uuid4().hex[:8]}"
    await gateway.authorize(authorize(trial))
    [intent] = gateway.intents(trial)
    assert intent["metadata"] == {KEY: f"{trial}-authorize-1", TRIAL: trial}
    assert intent["capture_method"] == "manual" and intent["currency"] == "gbp" and intent["amount"] == 10_000


async def test_an_unknown_payment_method_is_a_decline_the_trial_can_recover_from(localstripe_url: str):
    gateway = StripeUnderTest(localstripe_url)
    result = await gateway.authorize(authorize(f"style-trial-pm-{uuid.uuid4().hex[:8]}", pm="pm_does_not_exist"))
    assert not result.approved and result.decline_code == "invalid_payment_method"


def test_the_gateway_comes_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with sqlite_database(tmp_path) as url:
        simulated = default_adapters(Settings(database_url=url)).gateway
        assert isinstance(simulated, SimulatedGateway) and isinstance(simulated.book, SqlGatewayBook)

        monkeypatch.setenv("STYLETRIAL_PAYMENTS", "stripe")
        monkeypatch.setenv("STYLETRIAL_STRIPE_API_KEY", "sk_test_from_env")
        monkeypatch.setenv("STYLETRIAL_STRIPE_API_BASE", "http://127.0.0.1:9")
        settings = Settings(database_url=url)
        assert isinstance(default_adapters(settings).gateway, StripeGateway)
        assert "sk_test_from_env" not in repr(settings), "the key never reaches logs"

        monkeypatch.delenv("STYLETRIAL_STRIPE_API_KEY")
        with pytest.raises(ValueError, match="STYLETRIAL_STRIPE_API_KEY"):
            default_adapters(Settings(database_url=url))
