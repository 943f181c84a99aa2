"""The ledger-first payment activities: a retry never moves money twice, whatever the gateway does."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from temporalio.testing import ActivityEnvironment

from activities.payments import PaymentActivities
from activities.simulated_gateway import SimulatedGateway
from domain.steps import AuthorizeRequest, ChargeRequest, PaymentResult
from persistence.db import make_engine
from persistence.store import SqlStore

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class DiesAfterTheGateway(SimulatedGateway):
    """The gateway moves the money, then the worker dies before the activity can record it."""

    def __init__(self) -> None:
        super().__init__(honour_idempotency_keys=False)  # like localstripe: keys are ignored
        self.crashes = 1

    async def charge(self, req: ChargeRequest) -> PaymentResult:
        result = await super().charge(req)
        if self.crashes:
            self.crashes -= 1
            raise ConnectionResetError("worker lost mid-activity")
        return result


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    engine = make_engine(db_url)
    yield SqlStore(engine)
    engine.dispose()


def charge(key: str = "style-trial-o1-settlement-1-1") -> ChargeRequest:
    return ChargeRequest(
        key=key,
        trial_id="style-trial-o1",
        amount=120_000,
        currency="GBP",
        payment_method="pm_card_visa",
        settlement=1,
        at=NOW,
    )


async def test_a_charge_retried_after_a_crash_moves_money_once_even_if_the_gateway_ignores_keys(store: SqlStore):
    gateway = DiesAfterTheGateway()
    activities = PaymentActivities(gateway, store)
    env = ActivityEnvironment()
    with pytest.raises(ConnectionResetError):
        await env.run(activities.charge, charge())
    assert [m.status for m in store.movements("style-trial-o1")] == ["pending"]

    result = await env.run(activities.charge, charge())  # Temporal's retry
    again = await env.run(activities.charge, charge())  # and a replayed/duplicated one after success
    assert result.approved and again == result
    assert len([o for o in gateway.operations if o.kind == "charge"]) == 1, "the gateway saw one charge"
    [row] = store.movements("style-trial-o1")
    assert (row.status, row.amount, row.gateway_reference) == ("succeeded", 120_000, result.reference)


async def test_a_completed_movement_is_answered_from_the_ledger_without_calling_the_gateway(store: SqlStore):
    gateway = SimulatedGateway(honour_idempotency_keys=False)
    activities = PaymentActivities(gateway, store)
    req = AuthorizeRequest(
        key="style-trial-o2-authorize-1",
        trial_id="style-trial-o2",
        amount=50_000,
        currency="JPY",
        payment_method="pm_card_visa",
        merchant_initiated=False,
        at=NOW,
    )
    env = ActivityEnvironment()
    first = await env.run(activities.authorize, req)
    second = await env.run(activities.authorize, req)
    assert first == second and first.approved
    assert len(gateway.operations) == 1
    [row] = store.movements("style-trial-o2")
    assert row.expires_at == first.expires_at and row.currency == "JPY"


async def test_a_decline_is_recorded_as_such_and_repeated_from_the_ledger(store: SqlStore):
    gateway = SimulatedGateway()
    activities = PaymentActivities(gateway, store)
    req = charge("style-trial-o3-settlement-1-1").model_copy(
        update={"trial_id": "style-trial-o3", "payment_method": "pm_card_chargeDeclinedInsufficientFunds"}
    )
    env = ActivityEnvironment()
    result = await env.run(activities.charge, req)
    assert not result.approved and result.decline_code == "insufficient_funds"
    [row] = store.movements("style-trial-o3")
    assert (row.status, row.decline_code) == ("declined", "insufficient_funds")
