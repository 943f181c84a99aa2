"""Record the histories the replay test checks: `python -m tests.record_histories [scenario ...]` (all of
them when none is named; name a new scenario alone to keep the others as the code before recorded them).

Run it when a workflow change is meant to be compatible, *before* making the change, to capture what
running trials look like today; the replay test then proves the new code still replays them. Add a
new scenario here whenever the workflow learns a new path.
"""

import asyncio
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bootstrap import Adapters, build_worker
from domain import commands as cmd
from domain.examples import decisions, order, parcels
from domain.order import ClientContact, OrderPiece
from domain.status import Attention
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import SqlStore
from tests.support import Harness, TrialUnderTest, register_search_attributes

HERE = Path(__file__).parent / "histories"
DAY = timedelta(days=1)


async def full_lifecycle(h: Harness) -> TrialUnderTest:
    """Several parcels, staff extension, keep/return/damaged/unreturned, re-authorization, two settlements."""
    # The client hears of it by email (confirmation, reminders, summary: patch client-messages).
    o = order(4, order_id="replay-full")
    contact = ClientContact(channel="email", address="client@example.com", locale="it", time_zone="Europe/Rome")
    t = await h.start_accepted(o.model_copy(update={"customer": o.customer.model_copy(update={"contact": contact})}))
    await t.send("dispatch", parcels([["p1", "p2"], ["p3", "p4"]]))
    await t.deliver_all()
    await t.send("decide", decisions(keep=["p1"], ret=["p2", "p3"]))
    await t.send("extend", cmd.Extension(days=2, reason="client travelling", actor="cr.amelia"))
    await t.send("ship_return", cmd.ReturnShipped(piece_ids=["p2", "p3"], carrier="DHL", tracking_number="R1"))
    await t.advance(9 * DAY + timedelta(minutes=1))
    await t.wait_status("AWAITING_RETURNS")
    await t.send("inspect", cmd.Inspection(piece_id="p2", condition="ok"))
    await t.send("inspect", cmd.Inspection(piece_id="p3", condition="damaged"))
    await t.advance(3 * DAY)
    await t.result()
    return t


async def rejected(h: Harness) -> TrialUnderTest:
    t = await h.start(order(2, order_id="replay-rejected", payment_method="pm_card_chargeDeclined"))
    await t.wait_for(lambda v: v.needs_attention, "decline")
    await t.result()
    return t


async def dunning(h: Harness) -> TrialUnderTest:
    t = await h.start_on_trial(order(2, order_id="replay-dunning", payment_method="pm_card_declinesOffSession"))
    await t.send("decide", decisions(keep=["p1", "p2"]))
    await t.advance(8 * DAY)  # the hold expired at day 7, so the settlement is charged off-session
    await t.advance(8 * DAY)
    await t.wait_status("PAYMENT_ACTION_REQUIRED")
    await t.send("change_payment_method", cmd.NewPaymentMethod(payment_method="pm_card_visa", actor="cr.amelia"))
    await t.result()
    return t


async def cancelled(h: Harness) -> TrialUnderTest:
    t = await h.start_accepted(order(1, order_id="replay-cancelled"))
    await t.send("cancel", cmd.Cancel(reason="client changed plans", actor="cr.amelia"))
    await t.result()
    return t


async def cancel_requested_in_temporal(h: Harness) -> TrialUnderTest:
    """The UI's "Request Cancellation" after dispatch: refused in the audit trail; the trial goes on to the end."""
    t = await h.start_accepted(order(2, order_id="replay-ui-cancel"))
    await t.send("dispatch", parcels([["p1", "p2"]]))
    await t.handle.cancel()
    await t.wait_for(lambda v: any(e.kind == "cancellation_refused" for e in v.events), "the refusal")
    await t.deliver_all()
    await t.send("decide", decisions(keep=["p1"], ret=["p2"]))
    await t.send("finish_early", cmd.FinishEarly(actor="client"))
    await t.send("ship_return", cmd.ReturnShipped(piece_ids=["p2"], carrier="DHL", tracking_number="R1"))
    await t.send("inspect", cmd.Inspection(piece_id="p2", condition="ok"))
    await t.result()
    return t


async def lost_reshipped_refunded(h: Harness) -> TrialUnderTest:
    """A parcel lost and reshipped, a kept piece refunded while returns are awaited and another after
    completion (the refund window: patch refund-window)."""
    t = await h.start_accepted(order(4, order_id="replay-lost-refunded"))
    await t.send("dispatch", parcels([["p1", "p2"], ["p3", "p4"]]))
    await t.send("deliver", cmd.Delivery(tracking_number="TRK1"))
    lost = cmd.LostParcel(tracking_number="TRK2", reason="carrier lost it", actor="cr.amelia", reship=True)
    await t.send("declare_parcel_lost", lost)
    await t.send("reship", cmd.Reshipment(parcels=parcels([["p3", "p4"]], tracking="NEW").parcels))
    await t.send("deliver", cmd.Delivery(tracking_number="NEW1"))
    await t.send("decide", decisions(keep=["p1", "p2", "p3"], ret=["p4"]))
    await t.advance(7 * DAY + timedelta(minutes=1))
    await t.wait_status("AWAITING_RETURNS")
    await t.send("refund", cmd.Refund(piece_id="p1", reason="seam opened", actor="cr.amelia", amount=60_000))
    await t.send("ship_return", cmd.ReturnShipped(piece_ids=["p4"], carrier="DHL", tracking_number="R1"))
    await t.send("inspect", cmd.Inspection(piece_id="p4", condition="ok"))
    await t.wait_status("COMPLETED")
    await t.send("refund", cmd.Refund(piece_id="p2", reason="late return accepted", actor="cr.amelia"))
    await t.send("assign_attention", cmd.AttentionAssignment(assignee="cr.anna", actor="cr.amelia"))
    claim = cmd.Acknowledgement(reason=Attention.CARRIER_CLAIM, note="Claim settled by DHL", actor="cr.anna")
    await t.send("acknowledge_attention", claim)
    await t.result()
    return t


async def all_lost(h: Harness) -> TrialUnderTest:
    """The only parcel lost, nothing to reship: cancelled, the hold released."""
    t = await h.start_accepted(order(2, order_id="replay-all-lost"))
    await t.send("dispatch", parcels([["p1", "p2"]]))
    await t.send("declare_parcel_lost", cmd.LostParcel(tracking_number="TRK1", reason="stolen", actor="cr.amelia"))
    # Cancelled, and waiting for staff to see to the carrier claim (patch attention-keeps-open).
    await t.wait_status("CANCELLED")
    claim = cmd.Acknowledgement(reason=Attention.CARRIER_CLAIM, note="Claim filed with DHL", actor="cr.amelia")
    await t.send("acknowledge_attention", claim)
    await t.result()
    return t


async def carrier_returns(h: Harness) -> TrialUnderTest:
    """After dispatch no fulfilment call but the inspection: the carrier's scans deliver the parcel, the client
    asks for more time, books a collection, the carrier collects and delivers the return (patch return-journey:
    the client hears the return is with the carrier)."""
    o = order(3, order_id="replay-carriers")
    contact = ClientContact(channel="whatsapp", address="+393331234567", locale="it", time_zone="Europe/Rome")
    t = await h.start_accepted(o.model_copy(update={"customer": o.customer.model_copy(update={"contact": contact})}))
    view = await t.send("dispatch", parcels([["p1", "p2", "p3"]]))
    assert view.dispatched_at is not None
    delivered = cmd.CarrierScan(tracking_number="TRK1", status="delivered", occurred_at=view.dispatched_at)
    view = await t.send("record_carrier_scan", delivered)
    await t.send("decide", decisions(keep=["p1", "p3"], ret=["p2"]))
    # The client asks for two more days (within the policy: granted at once, and told).
    view = await t.send("request_extension", cmd.ExtensionRequest(days=2, words="two more days?", channel="whatsapp"))
    assert view.trial_ends_at is not None
    slot = cmd.Slot(starts_at=view.trial_ends_at - 2 * DAY, ends_at=view.trial_ends_at - 2 * DAY + timedelta(hours=4))
    view = await t.send("book_collection", cmd.CollectionBooking(slot=slot, actor="client", channel="whatsapp"))
    tracking = view.return_bookings[0].tracking_number
    assert tracking is not None
    await t.advance(7 * DAY + timedelta(hours=2))  # past the slot (the trial now ends two days later)
    view = await t.view()
    at = slot.starts_at + timedelta(hours=1)
    await t.send("record_carrier_scan", cmd.CarrierScan(tracking_number=tracking, status="in_transit", occurred_at=at))
    at += timedelta(hours=20)
    await t.advance(DAY)
    await t.send("record_carrier_scan", cmd.CarrierScan(tracking_number=tracking, status="delivered", occurred_at=at))
    await t.send("inspect", cmd.Inspection(piece_id="p2", condition="ok"))
    await t.advance(3 * DAY)
    await t.result()
    return t


async def staff_loop(h: Harness) -> TrialUnderTest:
    """The staff's loop: a piece exchanged for a dearer size (re-authorized, sent in a reship, kept), the
    original back and never charged, a client's request for an exchange answered, a lost return written
    off, what the trial needs staff for assigned; it ends once nothing needs them."""
    o = order(3, order_id="replay-staff-loop", price=100_000)
    t = await h.start_accepted(o)
    await t.send("dispatch", parcels([["p1", "p2", "p3"]]))
    await t.send("deliver", cmd.Delivery(tracking_number="TRK1"))
    await t.send("request_exchange", cmd.ExchangeRequest(words="Can I have the 41?", channel="whatsapp"))
    replacement = OrderPiece(piece_id="p2-41", sku="SKU-002-41", description="Loafer, 41", price=150_000, size="41")
    swap = cmd.Exchange(piece_id="p2", replacement=replacement, reason="too_small", actor="ps-07", channel="phone")
    await t.send("exchange", swap)
    sent = cmd.Reshipment(parcels=[cmd.Parcel(carrier="DHL", tracking_number="X1", piece_ids=["p2-41"])])
    await t.send("reship", sent)
    await t.send("deliver", cmd.Delivery(tracking_number="X1"))
    await t.send("decide", decisions(keep=["p1", "p2-41"], ret=["p3"]))
    await t.send("finish_early", cmd.FinishEarly())
    await t.send("ship_return", cmd.ReturnShipped(piece_ids=["p2"], carrier="DHL", tracking_number="R1"))
    await t.send("ship_return", cmd.ReturnShipped(piece_ids=["p3"], carrier="DHL", tracking_number="R2"))
    await t.send("inspect", cmd.Inspection(piece_id="p2", condition="ok"))
    await t.advance(15 * DAY)  # R2 never arrives: lost in return
    await t.send("assign_attention", cmd.AttentionAssignment(assignee="cr.anna", actor="lead.bo"))
    off = cmd.LostReturnResolution(tracking_number="R2", outcome="written_off", note="Untraceable", actor="cr.anna")
    await t.send("resolve_lost_return", off)
    await t.advance(31 * DAY)  # the refund window closes: nothing more to do
    await t.result()
    return t


SCENARIOS: dict[str, Callable[[Harness], Awaitable[TrialUnderTest]]] = {
    "full_lifecycle": full_lifecycle,
    "rejected": rejected,
    "dunning": dunning,
    "cancelled": cancelled,
    "cancel_requested_in_temporal": cancel_requested_in_temporal,
    "lost_reshipped_refunded": lost_reshipped_refunded,
    "all_lost": all_lost,
    "carrier_returns": carrier_returns,
    "staff_loop": staff_loop,
}


async def main() -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
    )
    await register_search_attributes(env.client)
    folder = Path(tempfile.mkdtemp())
    try:
        wanted = sys.argv[1:] or list(SCENARIOS)
        for name, scenario in ((n, SCENARIOS[n]) for n in wanted):
            queue = f"record-{uuid.uuid4()}"
            url = f"sqlite:///{folder / (name + '.sqlite')}"
            upgrade(url)
            adapters = Adapters(store=SqlStore(make_engine(url)))
            async with build_worker(env.client, queue, adapters):
                trial = await scenario(Harness(env.client, queue, adapters, env.sleep))
                history = await trial.handle.fetch_history()
            (HERE / f"{name}.json").write_text(history.to_json())  # earlier eras keep their own prefix
            print(f"recorded {name}: {len(history.events)} events")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
