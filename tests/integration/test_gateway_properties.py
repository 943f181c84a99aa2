"""A property both adapters must keep, whatever order captures, releases and retries arrive in: every
minor unit of a hold ends up exactly once as still held, captured or released, and a call repeated under
its key answers the same and moves nothing more."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities.simulated_gateway import SimulatedGateway
from domain.steps import AuthorizeRequest, CaptureRequest, ReleaseRequest
from tests.gateways import StripeUnderTest

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

# One step: ("capture", amount) | ("release",) | ("repeat",) — the last call again, under its key.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("capture"), st.integers(min_value=1, max_value=600_000)),
        st.tuples(st.just("release")),
        st.tuples(st.just("repeat")),
    ),
    max_size=6,
)


async def play(gateway: Any, authorized: int, script: list[tuple[Any, ...]]) -> None:
    trial = f"style-trial-prop-{uuid.uuid4().hex[:12]}"
    first = AuthorizeRequest(
        key=f"{trial}-authorize-1", trial_id=trial, amount=authorized, currency="EUR",
        payment_method="pm_card_visa", merchant_initiated=False, at=AT,
    )  # fmt: skip
    auth = await gateway.authorize(first)
    assert auth.approved and auth.authorization_id
    released = captured = approvals = 0
    last: tuple[Any, Any] | None = None
    last_result: Any = None
    for n, step in enumerate(script, start=1):
        if step[0] == "repeat":
            if last is None:
                continue
            call, req = last
            assert await call(req) == last_result, "a repeated call answers the same"
        else:
            at = AT + timedelta(days=1, minutes=n)
            if step[0] == "capture":
                req = CaptureRequest(
                    key=f"{trial}-settlement-{n}-1", trial_id=trial, authorization_id=auth.authorization_id,
                    amount=step[1], currency="EUR", settlement=n, at=at,
                )  # fmt: skip
                call = gateway.capture
            else:
                req = ReleaseRequest(
                    key=f"{trial}-release-{n}", trial_id=trial, authorization_id=auth.authorization_id,
                    currency="EUR", at=at,
                )  # fmt: skip
                call = gateway.release
            last_result = await call(req)
            last = (call, req)
            if step[0] == "capture" and last_result.approved:
                approvals += 1
                assert last_result.amount == step[1] <= authorized
                captured += last_result.amount
                released += last_result.released
            elif step[0] == "release":
                released += last_result.released
        held = gateway.held(trial, AT + timedelta(days=2))
        assert held + captured + released == authorized, "every unit held, captured or released, once"
        assert gateway.total(trial, "capture") == captured
        assert approvals <= 1, "a standard hold is captured at most once"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(authorized=st.integers(min_value=1, max_value=500_000), script=steps)
def test_simulated_gateway_conserves_every_hold(authorized: int, script: list[tuple[Any, ...]]):
    asyncio.run(play(SimulatedGateway(), authorized, script))


@pytest.mark.timeout(300)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(authorized=st.integers(min_value=100, max_value=500_000), script=steps)
def test_stripe_adapter_conserves_every_hold(localstripe_url: str, authorized: int, script: list[tuple[Any, ...]]):
    asyncio.run(play(StripeUnderTest(localstripe_url), authorized, script))
