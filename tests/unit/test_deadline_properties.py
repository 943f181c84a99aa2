"""Property: `tick` and `next_deadline` read the same table of deadlines.

For random trials at random moments of their life: ticking at any moment before the next deadline changes
nothing, and ticking at the next deadline changes something (state, a message, or the request the trial
makes next). If the two ever drift, the workflow would sleep through a deadline or wake for nothing.
"""

import contextlib
import copy
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities.simulated_gateway import SimulatedGateway
from domain import commands as cmd
from domain.errors import DomainError
from domain.order import TrialOrder
from domain.status import TrialStatus
from domain.trial import Trial
from domain.view import view_of
from tests.domain_support import Driver
from tests.unit.test_money_properties import actions, command_for, orders, scripts


def observed(trial: Trial, now: datetime) -> tuple[Any, ...]:
    """Everything the passing of time could change that anyone would notice, including the request the
    trial makes next (re-authorizing is due at a deadline without changing state). A request's `at` is the
    moment it is asked for, not part of what is asked."""
    step = trial.next_step(now)
    return (
        view_of(trial).model_dump(),
        [n.key for n in trial.journal.outbox],
        sorted(trial.clock.reminders_sent),
        sorted(trial.shipping.sla_flagged),
        step.model_dump(exclude={"at"}) if step is not None else None,
    )


def ticked(trial: Trial, at: datetime) -> tuple[Any, ...]:
    twin = copy.deepcopy(trial)
    twin.tick(at)
    return observed(twin, at)


def check_the_next_deadline(driver: Driver, fraction: float) -> bool:
    trial, now = driver.trial, driver.now
    upcoming = trial.next_deadline(now)
    if upcoming is None:
        # No deadline ahead: then no amount of waiting changes anything (only a command can).
        assert ticked(trial, now + timedelta(days=400)) == observed(trial, now), "a deadline is missing"
        return False
    due, label = upcoming
    assert due > now, label
    before = now + (due - now) * fraction
    as_it_is = observed(trial, now)
    if before < due:
        assert ticked(trial, before) == as_it_is, f"time passing before {label!r} changed the trial"
    assert ticked(trial, due) != as_it_is, f"{label!r} fell due and nothing changed"
    return True


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    order=orders,
    script=st.one_of(scripts, st.lists(actions, max_size=25)),
    fractions=st.lists(st.floats(min_value=0, max_value=0.999), min_size=1, max_size=5),
)
def test_nothing_happens_before_the_next_deadline_and_something_happens_at_it(
    order: TrialOrder, script: list[tuple[Any, ...]], fractions: list[float]
):
    driver = Driver(order, gateway=SimulatedGateway())
    for i, action in enumerate(script):
        check_the_next_deadline(driver, fractions[i % len(fractions)])
        if action[0] == "advance":
            driver.advance(timedelta(hours=action[1]))
        elif (pair := command_for(driver, action)) is not None:
            apply, command = pair
            with contextlib.suppress(DomainError):
                apply(command, driver.now)
            driver.settle()
    # Then follow the deadlines themselves to the end of the trial, paying up when asked to.
    for _ in range(60):
        if not check_the_next_deadline(driver, fractions[0]):
            if driver.trial.status != TrialStatus.PAYMENT_ACTION_REQUIRED:
                break
            new_method = cmd.NewPaymentMethod(payment_method="pm_card_visa", actor="cr")
            driver.trial.change_payment_method(new_method, driver.now)
            driver.settle()
            continue
        upcoming = driver.trial.next_deadline(driver.now)
        assert upcoming is not None
        driver.advance(upcoming[0] - driver.now)
