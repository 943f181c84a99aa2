"""A cancellation requested in Temporal (the UI's "Request Cancellation", `temporal workflow cancel`) is sent
here exactly as they send it, through the client's cancel: it is the domain's cancel before dispatch, and a
refusal written to the audit trail after; the workflow itself is never cancelled, so no hold is left behind."""

from temporalio.api.enums.v1 import EventType

from domain import commands as cmd
from domain.examples import order, parcels
from tests.support import Harness, TrialUnderTest


async def test_before_dispatch_it_cancels_the_trial_and_releases_the_hold(harness: Harness):
    t = await harness.start_accepted(order(2, price=40_000))
    await t.handle.cancel()
    result = await t.result()
    assert result.status == "CANCELLED"
    assert result.amounts.authorized == 0 and result.amounts.released == 80_000 and result.amounts.charged == 0
    asked = [e for e in result.events if e.kind == "cancel_requested"]
    assert asked and asked[0].actor == "temporal-ui-or-cli"
    assert await _last_event(t) == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, "completed, not CANCELED"
    assert harness.stock.reserved[result.trial_id] == set(), "the reserved stock went back too"


async def test_after_dispatch_it_is_refused_in_the_audit_trail_and_the_trial_goes_on(harness: Harness):
    t = await harness.start_accepted(order(2, price=40_000))
    await t.send("dispatch", parcels([["p1", "p2"]]))
    await t.handle.cancel()
    view = await t.wait_for(lambda v: any(e.kind == "cancellation_refused" for e in v.events), "the refusal")
    refused = next(e for e in view.events if e.kind == "cancellation_refused")
    assert "dispatched" in refused.detail and refused.actor == "temporal-ui-or-cli"
    assert view.status == "IN_TRANSIT" and view.amounts.authorized == 80_000
    view = await t.send("deliver", cmd.Delivery(tracking_number="TRK1"))
    assert view.status == "ON_TRIAL", "the trial takes commands as before"
    assert await _last_event(t) != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED


async def _last_event(t: TrialUnderTest) -> int:
    # From the history, not describe(): the Java test server's datetime search attributes don't decode.
    return int((await t.handle.fetch_history()).events[-1].event_type)
