"""The money property of tests/unit/test_money_properties.py with every step answered by the Stripe adapter
against localstripe, and the gateway's side read from its PaymentIntents."""

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.order import TrialOrder
from tests.domain_support import Driver
from tests.gateways import StripeUnderTest
from tests.unit.test_money_properties import actions, money_follows_the_pieces, orders, scripts


@pytest.mark.timeout(300)
@settings(
    max_examples=12, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)  # fmt: skip
@given(order=orders, script=st.one_of(scripts, st.lists(actions, max_size=30)))
def test_money_follows_the_pieces_through_the_stripe_adapter(
    localstripe_url: str, order: TrialOrder, script: list[tuple[Any, ...]]
):
    """The same property with every step answered by the Stripe adapter against localstripe, and the
    gateway's side read from its PaymentIntents: fewer examples, each a few seconds of real HTTP."""
    unique = order.model_copy(update={"order_id": f"ord-prop-{uuid.uuid4().hex[:12]}"})
    money_follows_the_pieces(Driver(unique, gateway=StripeUnderTest(localstripe_url)), script)
