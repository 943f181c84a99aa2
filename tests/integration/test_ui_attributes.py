"""What staff see in the Temporal UI, on the real dev server: search attributes kept current at every
transition, the static summary, the current details, and never a name or an address."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from application.trials import TrialService
from bootstrap import build_worker, default_adapters
from config import Settings
from domain import commands as cmd
from domain.examples import decisions, order, parcels
from domain.policy import TrialPolicy
from domain.workflow_io import StartTrial
from persistence.migrate import upgrade
from tests.waiting import eventually
from workflows import search_attributes as sa

pytestmark = pytest.mark.devserver
PERSONAL = ("Client Name", "1 Mount St", "W1K")  # the shipping address of tests.support.order


@pytest.fixture
async def trials(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[TrialService]:
    queue = f"ui-{uuid.uuid4()}"
    settings = Settings(data_dir=tmp_path)
    upgrade(settings.resolved_database_url)
    async with build_worker(dev_env.client, queue, default_adapters(settings)):
        yield TrialService(dev_env.client, queue)


async def attributes(handle: WorkflowHandle[Any, Any]) -> dict[str, Any]:
    found = (await handle.describe()).typed_search_attributes
    return {key.name: found.get(key) for key in sa.ALL}


async def _has(handle: WorkflowHandle[Any, Any], name: str, value: Any) -> bool:
    return bool((await attributes(handle))[name] == value)


async def _reached(trials: TrialService, order_id: str, status: str) -> bool:
    return (await trials.view(order_id)).status == status


async def test_every_search_attribute_is_current_after_each_transition(trials: TrialService):
    o = order(3, price=lambda i: i * 10_000)
    oid = o.order_id
    handle, _ = await trials.start(StartTrial(order=o, policy=TrialPolicy().scaled(86_400 / 0.5)))
    # Acceptance is published once the workflow is at rest, a moment after the view shows it.
    await eventually(lambda: _has(handle, "StyleTrialStatus", "AWAITING_DISPATCH"), "acceptance published")
    a = await attributes(handle)
    assert a == {
        "StyleTrialStatus": "AWAITING_DISPATCH", "CustomerId": "cus-0042", "CustomerTier": "EIP", "Region": "UK",
        "PersonalShopper": "ps-07", "TrialEndsAt": None, "ReturnDeadline": None, "NeedsAttention": False,
        "PiecesKept": 0, "PiecesReturned": 0,
    }  # fmt: skip

    await trials.send(oid, parcels([["p1", "p2"], ["p3"]]))
    assert (await attributes(handle))["StyleTrialStatus"] == "IN_TRANSIT"
    await trials.send(oid, cmd.Delivery(tracking_number="TRK1"))
    view = await trials.send(oid, cmd.Delivery(tracking_number="TRK2"))
    a = await attributes(handle)
    assert a["StyleTrialStatus"] == "ON_TRIAL"
    assert a["TrialEndsAt"] == view.trial_ends_at and a["ReturnDeadline"] == view.return_deadline

    await trials.send(oid, decisions(keep=["p1"], ret=["p2", "p3"]))
    await trials.send(oid, cmd.ReturnShipped(piece_ids=["p2", "p3"], carrier="DHL", tracking_number="R"))
    view = await trials.send(oid, cmd.FinishEarly(actor="client"))
    a = await attributes(handle)
    assert (a["StyleTrialStatus"], a["PiecesKept"], a["ReturnDeadline"]) == (
        "AWAITING_RETURNS",
        1,
        view.return_deadline,
    )

    await trials.send(oid, cmd.Inspection(piece_id="p2", condition="ok"))
    await trials.send(oid, cmd.Inspection(piece_id="p3", condition="damaged"))
    # Completed (its workflow then waits out the refund window: 15 s at this scale, so not its end).
    await eventually(lambda: _has(handle, "StyleTrialStatus", "COMPLETED"), "completion published")
    a = await attributes(handle)
    assert (a["StyleTrialStatus"], a["PiecesKept"], a["PiecesReturned"], a["NeedsAttention"]) == (
        "COMPLETED",
        2,
        1,
        False,
    )


async def test_needs_attention_is_searchable_and_staff_queries_find_trials(
    trials: TrialService, dev_env: WorkflowEnvironment
):
    o = order(2, payment_method="pm_card_chargeDeclined")
    handle, _ = await trials.start(StartTrial(order=o))
    await eventually(lambda: _has(handle, "NeedsAttention", True), "needs-attention published")
    assert (await attributes(handle))["StyleTrialStatus"] == "AUTHORIZING"
    query = f'NeedsAttention = true AND CustomerId = "cus-0042" AND StyleTrialStatus = "AUTHORIZING" AND WorkflowId = "{handle.id}"'

    async def listed() -> list[str] | None:  # visibility is eventually consistent
        return [w.id async for w in dev_env.client.list_workflows(query)] or None

    assert await eventually(listed, "the trial in a visibility query") == [handle.id]
    await handle.terminate("test finished")


async def test_staff_read_a_summary_and_a_per_piece_table_and_never_personal_data(trials: TrialService):
    o = order(3)
    handle, _ = await trials.start(StartTrial(order=o))
    await eventually(lambda: _reached(trials, o.order_id, "AWAITING_DISPATCH"), "acceptance")
    await trials.send(o.order_id, parcels([["p1", "p2", "p3"]]))
    desc = await handle.describe()
    summary, details = await desc.static_summary(), await desc.static_details()
    assert summary == f"Order {o.order_id} · 3 pieces · 3,600.00 GBP · EIP" and len(summary.encode()) <= 400
    assert details is not None and "| p1 | SKU-001 | Piece 1 | 1,200.00 GBP |" in details
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    current = metadata.current_details
    assert "| p2 | Piece 2 | IN_TRANSIT | – | 1,200.00 GBP |" in current and "in transit" in current
    assert {d.name for d in metadata.definition.update_definitions} >= {
        "dispatch",
        "decide",
        "extend",
        "waive",
        "change_payment_method",
        "declare_parcel_lost",
        "reship",
        "refund",
    }
    assert all(d.description for d in metadata.definition.update_definitions)
    shown = [summary, details, current, str(desc.typed_search_attributes), str(await desc.memo())]
    for secret in PERSONAL:
        assert not any(secret in text for text in shown), secret
    await handle.terminate("test finished")
