"""The CI fault campaign on the Stripe adapter: localstripe behind a proxy that delays and drops payment
calls, while workers are SIGKILLed (see tests/e2e/test_soak.py for the simulated gateway's part)."""

from pathlib import Path

import pytest

from soak.campaign import Campaign, run

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(900)]


async def test_the_stripe_adapter_through_a_proxy_that_delays_and_drops_payment_calls(tmp_path: Path):
    campaign = Campaign(
        trials=8, in_flight=8, day_seconds=2.0, worker_kill_every=(5.0, 12.0), server_faults=(), api_kills=0, worker_stalls=0,
        seed=12, payments="stripe",
    )  # fmt: skip
    outcome = await run(campaign, tmp_path)
    print(outcome.table())
    print(outcome.summary())
    assert any(kind.startswith("gateway") for kind in outcome.faults)
    assert outcome.ok, outcome.table()
