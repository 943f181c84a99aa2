"""Every bad input is refused with its code before it touches state, and the trial goes on."""

from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from application.trials import TrialService
from domain import commands as cmd
from domain.errors import DomainError
from domain.examples import decisions, order, parcels
from domain.order import OrderPiece
from domain.policy import TrialPolicy
from domain.workflow_io import StartTrial
from tests.support import Harness

DAY = timedelta(days=1)
# Temporal's event for an update its validator refused: refused commands must never reach history.
UPDATE_REJECTED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED


def _with(o: Any, **changes: Any) -> Any:
    return o.model_copy(update=changes)


BAD_ORDERS = {
    "no_pieces": lambda o: _with(o, pieces=[]),
    "too_many_pieces": lambda o: _with(
        o, pieces=[OrderPiece(piece_id=f"x{i}", sku="s", description="d", price=1) for i in range(31)]
    ),
    "duplicate_piece": lambda o: _with(o, pieces=[o.pieces[0], o.pieces[0]]),
    "invalid_price": lambda o: _with(o, pieces=[_with(o.pieces[0], price=0)]),
    "invalid_currency": lambda o: _with(o, currency="XYZ"),
    "ineligible_tier": lambda o: _with(o, customer=_with(o.customer, tier="STANDARD")),
    "invalid_trial_days": lambda o: _with(o, trial_days=30),
}


@pytest.mark.parametrize("code", sorted(BAD_ORDERS))
async def test_an_invalid_order_fails_the_workflow_at_once_with_its_code(harness: Harness, code: str):
    bad = BAD_ORDERS[code](order(2))
    trial = await harness.start(bad)
    with pytest.raises(WorkflowFailureError) as info:
        await trial.result()
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == code and cause.message


async def test_the_trial_client_refuses_an_invalid_order_before_it_reaches_temporal(harness: Harness):
    client = TrialService(harness.client, harness.task_queue)
    with pytest.raises(DomainError) as info:
        await client.start(StartTrial(order=BAD_ORDERS["ineligible_tier"](order(2))))
    assert info.value.code == "ineligible_tier"


async def test_unknown_fields_fail_the_workflow_instead_of_wedging_a_workflow_task(harness: Harness):
    payload = StartTrial(order=order(1)).model_dump(mode="json")
    payload["order"]["gift_wrap"] = True
    handle = await harness.client.start_workflow(
        "StyleTrial", payload, id=f"style-trial-{payload['order']['order_id']}", task_queue=harness.task_queue
    )
    harness.started.append(handle)
    with pytest.raises(WorkflowFailureError):
        await handle.result()


async def test_starting_the_same_order_twice_is_idempotent_and_a_different_payload_conflicts(harness: Harness):
    client = TrialService(harness.client, harness.task_queue)
    o = order(2)
    first, created = await client.start(StartTrial(order=o))
    harness.started.append(first)
    again, created_again = await client.start(StartTrial(order=o))
    assert created and not created_again and again.id == first.id
    with pytest.raises(DomainError) as info:
        await client.start(StartTrial(order=_with(o, pieces=o.pieces[:1])))
    assert info.value.code == "order_conflict"


async def test_commands_for_an_unknown_order_are_refused(harness: Harness):
    client = TrialService(harness.client, harness.task_queue)
    with pytest.raises(DomainError) as info:
        await client.send("no-such-order", cmd.Cancel(reason="r", actor="a"))
    assert info.value.code == "unknown_order"
    with pytest.raises(DomainError) as info:
        await client.view("no-such-order")
    assert info.value.code == "unknown_order"


async def test_refusals_reach_the_caller_with_their_code_and_the_trial_carries_on(harness: Harness):
    """Each rule is tested in the domain (tests/unit/test_refusals.py); here, that a refusal comes back from
    the update validator with its code, never reaches history, and that the deadline-driven ones hold on
    the workflow's own clock."""
    o = order(4)
    trial = await harness.start_accepted(o)
    refused = trial.refused
    assert await refused("deliver", cmd.Delivery(tracking_number="TRK1")) == "not_dispatched"
    assert await refused("dispatch", parcels([["p1", "p2"], ["p2", "p3"]])) == "piece_in_two_parcels"
    await trial.send("dispatch", parcels([["p1", "p2"], ["p3", "p4"]]))
    assert await refused("cancel", cmd.Cancel(reason="changed mind", actor="cr.amelia")) == "not_cancellable"
    await trial.deliver_all()
    assert await refused("decide", decisions(keep=["p1"], ret=["p1"])) == "duplicate_decision"
    await trial.send("ship_return", cmd.ReturnShipped(piece_ids=["p2"], carrier="DHL", tracking_number="R1"))
    assert await refused("decide", decisions(keep=["p2"])) == "return_already_shipped"
    await trial.send("inspect", cmd.Inspection(piece_id="p2", condition="ok"))
    await trial.send("waive", cmd.Waiver(piece_id="p4", reason="goodwill", actor="cr.amelia"))
    history = [e.event_type for e in (await trial.handle.fetch_history()).events]

    # After the trial's own timer closes it, and after the return window's.
    await trial.advance(7 * DAY + timedelta(minutes=1))
    await trial.wait_status("AWAITING_RETURNS")
    assert await refused("decide", decisions(keep=["p1"])) == "trial_closed"
    await trial.send("ship_return", cmd.ReturnShipped(piece_ids=["p3"], carrier="DHL", tracking_number="R3"))
    await trial.advance(3 * DAY)
    await trial.wait_for(lambda v: v.pieces[0].state == "KEPT_UNRETURNED", "return window")
    assert (
        await refused("ship_return", cmd.ReturnShipped(piece_ids=["p1"], carrier="DHL", tracking_number="R4"))
        == "return_window_closed"
    )
    # ... and after all that, the trial still settles correctly
    await trial.send("inspect", cmd.Inspection(piece_id="p3", condition="ok"))
    result = await trial.result()
    assert result.status == "COMPLETED"
    assert {p.piece_id: p.state for p in result.pieces} == {
        "p1": "KEPT_UNRETURNED", "p2": "RETURNED", "p3": "RETURNED", "p4": "WAIVED",
    }  # fmt: skip
    assert result.amounts.charged == 120_000
    assert UPDATE_REJECTED not in history, "a refused command reached history"


async def test_a_malformed_command_is_rejected_without_reaching_history(harness: Harness):
    trial = await harness.start_accepted(order(1))
    with pytest.raises(WorkflowUpdateFailedError):
        await trial.handle.execute_update("dispatch", {"parcels": "not-a-list"})
    history = await trial.handle.fetch_history()
    accepted = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]
    assert accepted == []
    assert not any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED for e in history.events)
    assert (await trial.view()).status == "AWAITING_DISPATCH"


async def test_a_policy_travels_in_the_input(harness: Harness):
    policy = TrialPolicy(trial_days=3)
    trial = await harness.start_on_trial(order(1), policy=policy)
    view = await trial.view()
    assert view.trial_ends_at is not None and view.parcels[0].delivered_at is not None
    assert view.trial_ends_at - view.parcels[0].delivered_at == 3 * DAY
