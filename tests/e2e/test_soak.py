"""The fault campaign, small enough for every CI run: separate processes, random trials over HTTP, workers
SIGKILLed, the Temporal server and the API killed and restarted, the UI's queries meanwhile. `make soak` runs
the full one (200 trials on the simulated gateway, 60 on Stripe's). Any lost, duplicated or stuck trial, or any 5xx but a 503, fails it.
The Stripe adapter's part is tests/e2e/test_soak_stripe.py: each is a module of its own, so that the two
test processes start one each (tests/conftest.py)."""

from pathlib import Path

import pytest

from soak.campaign import Campaign, run

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(900)]


async def test_a_small_fault_campaign_loses_duplicates_and_strands_nothing(tmp_path: Path):
    campaign = Campaign(
        trials=24, in_flight=24, day_seconds=2.0, worker_kill_every=(5.0, 12.0), server_faults=("SIGKILL",),
        api_kills=1, seed=11, worker_stalls=0,
    )  # fmt: skip
    outcome = await run(campaign, tmp_path)
    print(outcome.table())
    print(outcome.summary())
    assert sum(outcome.faults.values()) >= 3
    assert outcome.ok, outcome.table()
