"""The whole lifecycle on Temporal's time-skipping test server, with the embedded adapters."""

from collections.abc import Callable
from datetime import timedelta

from activities.simulated_gateway import SimulatedGateway
from domain import commands as cmd
from domain.examples import decisions, order, parcels
from domain.status import Attention
from domain.view import TrialView
from tests.support import Harness

DAY = timedelta(days=1)


def declines_reach(n: int) -> Callable[[TrialView], bool]:
    return lambda v: v.settlements[1].declines == n


async def test_thirty_piece_trial_charges_exactly_the_kept_pieces(harness: Harness, gateway: SimulatedGateway):
    o = order(30, price=lambda i: 100_000 + i * 1_000)
    prices = {p.piece_id: p.price for p in o.pieces}
    ids = list(prices)
    trial = await harness.start_on_trial(o, groups=[ids[:10], ids[10:20], ids[20:]])
    keep, ret = ids[:12], ids[12:]
    await trial.send("decide", decisions(keep=keep, ret=ret))

    await trial.advance(7 * DAY + timedelta(minutes=1))
    view = await trial.wait_status("AWAITING_RETURNS")
    kept_total = sum(prices[p] for p in keep)
    assert view.amounts.charged == kept_total
    assert gateway.total(trial.trial_id, "capture") == kept_total

    await trial.send("ship_return", cmd.ReturnShipped(piece_ids=ret, carrier="DHL", tracking_number="RET1"))
    for pid in ret:
        await trial.send("inspect", cmd.Inspection(piece_id=pid, condition="ok"))
    result = await trial.result()
    assert result.status == "COMPLETED"
    assert result.amounts.charged == kept_total
    assert {p.piece_id: p.state for p in result.pieces} == {
        **dict.fromkeys(keep, "KEPT"),
        **dict.fromkeys(ret, "RETURNED"),
    }
    assert gateway.held(trial.trial_id) == 0
    assert gateway.total(trial.trial_id, "charge") == 0


async def test_everything_returned_charges_nothing_and_releases_the_authorization(
    harness: Harness, gateway: SimulatedGateway
):
    o = order(4)
    ids = [p.piece_id for p in o.pieces]
    trial = await harness.start_on_trial(o)
    await trial.send("decide", decisions(ret=ids))
    await trial.send("ship_return", cmd.ReturnShipped(piece_ids=ids, carrier="UPS", tracking_number="R1"))
    await trial.advance(7 * DAY + timedelta(minutes=1))
    await trial.wait_status("AWAITING_RETURNS")
    for pid in ids:
        await trial.send("inspect", cmd.Inspection(piece_id=pid, condition="ok"))
    result = await trial.result()
    assert result.status == "COMPLETED"
    assert result.amounts.charged == 0
    authorized = sum(m.amount for m in result.movements if m.kind == "authorization" and m.outcome == "succeeded")
    assert authorized >= o.value  # the 7-day hold was renewed once along the way
    assert result.amounts.released == authorized and result.amounts.authorized == 0
    assert gateway.total(trial.trial_id, "capture") + gateway.total(trial.trial_id, "charge") == 0
    assert gateway.held(trial.trial_id) == 0
    assert {p.state for p in result.pieces} == {"RETURNED"}


async def test_undecided_pieces_not_shipped_back_are_charged_after_the_return_window(
    harness: Harness, gateway: SimulatedGateway
):
    o = order(3, price=lambda i: i * 10_000)
    trial = await harness.start_on_trial(o)
    await trial.send("decide", decisions(keep=["p1"]))
    await trial.advance(7 * DAY + timedelta(minutes=1))
    view = await trial.wait_status("AWAITING_RETURNS")
    assert view.amounts.charged == 10_000
    assert {p.piece_id: p.state for p in view.pieces} == {
        "p1": "KEPT",
        "p2": "AWAITING_RETURN",
        "p3": "AWAITING_RETURN",
    }
    await trial.advance(3 * DAY)
    result = await trial.result()
    assert result.status == "COMPLETED"
    assert [p.state for p in result.pieces] == ["KEPT", "KEPT_UNRETURNED", "KEPT_UNRETURNED"]
    assert result.amounts.charged == 60_000
    # Stripe-shaped gateway: the first capture released the rest, so the second settlement is off-session.
    assert gateway.total(trial.trial_id, "capture") == 10_000
    assert gateway.total(trial.trial_id, "charge") == 50_000
    assert [m.kind for m in result.movements if m.settlement == 2] == ["charge"]


async def test_damaged_return_is_charged_and_a_lost_return_is_not_but_is_flagged(
    harness: Harness, gateway: SimulatedGateway
):
    o = order(3, price=lambda i: i * 10_000)
    trial = await harness.start_on_trial(o)
    await trial.send(
        "ship_return", cmd.ReturnShipped(piece_ids=["p1", "p2", "p3"], carrier="DHL", tracking_number="R1")
    )
    opened = cmd.Inspections(
        inspections=[cmd.Inspection(piece_id="p1", condition="damaged"), cmd.Inspection(piece_id="p2", condition="ok")]
    )
    await trial.send("inspect_returns", opened)  # one update for the whole return parcel
    await trial.advance(15 * DAY)
    # Completed, and waiting for staff to see to the lost return before its workflow ends.
    view = await trial.wait_status("COMPLETED")
    states = {p.piece_id: p.state for p in view.pieces}
    assert states == {"p1": "DAMAGED", "p2": "RETURNED", "p3": "LOST_IN_RETURN"}
    assert view.amounts.charged == 10_000
    assert view.needs_attention and "return_lost" in view.attention
    assert harness.notifier.of_kind(trial.trial_id, "return_lost")
    seen = cmd.Acknowledgement(reason=Attention.RETURN_LOST, note="Carrier claim filed", actor="cr.amelia")
    result = await trial.send("acknowledge_attention", seen)
    assert not result.needs_attention and (await trial.result()).status == "COMPLETED"


async def test_finishing_early_closes_the_trial_at_once(harness: Harness, gateway: SimulatedGateway):
    o = order(3)
    trial = await harness.start_on_trial(o)
    assert await trial.refused("finish_early", cmd.FinishEarly(actor="client")) == "undecided_pieces"
    await trial.send("decide", decisions(keep=["p1", "p2"], ret=["p3"], channel="app"))
    view = await trial.send("finish_early", cmd.FinishEarly(actor="client", channel="app"))
    assert view.status == "AWAITING_RETURNS"
    assert view.amounts.charged == 240_000, "the update answers after the first settlement ran"
    assert view.return_deadline is not None and view.closed_at is not None
    assert view.return_deadline - view.closed_at == 3 * DAY


async def test_extension_moves_the_trial_end_and_the_reminders(harness: Harness):
    trial = await harness.start_on_trial(order(2))
    before = (await trial.view()).trial_ends_at
    assert before is not None
    view = await trial.send("extend", cmd.Extension(days=5, reason="client travelling", actor="cr.amelia"))
    assert view.trial_ends_at == before + 5 * DAY
    await trial.advance(8 * DAY)
    view = await trial.view()
    assert view.status == "ON_TRIAL", "the original end passed but the extension holds"
    reminders = harness.notifier.of_kind(trial.trial_id, "trial_ending")
    assert len(reminders) == 0
    await trial.advance(2 * DAY + timedelta(hours=1))
    await trial.wait_for(lambda v: len(harness.notifier.of_kind(trial.trial_id, "trial_ending")) == 1, "48 h reminder")
    await trial.advance(DAY)
    await trial.wait_for(lambda v: len(harness.notifier.of_kind(trial.trial_id, "trial_ending")) == 2, "24 h reminder")
    await trial.advance(DAY)
    await trial.wait_status("AWAITING_RETURNS")


async def test_cancel_before_dispatch_releases_authorization_and_stock(harness: Harness, gateway: SimulatedGateway):
    o = order(3)
    trial = await harness.start_accepted(o)
    view = await trial.send("cancel", cmd.Cancel(reason="client changed plans", actor="cr.amelia"))
    assert view.status == "CANCELLED"
    result = await trial.result()
    assert result.status == "CANCELLED"
    assert result.amounts.released == o.value and result.amounts.charged == 0
    assert gateway.held(trial.trial_id) == 0
    assert not harness.stock.reserved.get(trial.trial_id)


async def test_pieces_in_no_parcel_are_unavailable_and_never_charged(harness: Harness, gateway: SimulatedGateway):
    o = order(4, price=lambda i: i * 10_000)
    trial = await harness.start_accepted(o)
    view = await trial.send("dispatch", parcels([["p1", "p2"]]))
    assert {p.piece_id: p.state for p in view.pieces} == {
        "p1": "IN_TRANSIT",
        "p2": "IN_TRANSIT",
        "p3": "UNAVAILABLE",
        "p4": "UNAVAILABLE",
    }
    await trial.deliver_all()
    await trial.send("decide", decisions(keep=["p1", "p2"]))
    await trial.advance(7 * DAY + timedelta(minutes=1))
    result = await trial.result()
    assert result.amounts.charged == 30_000
    assert harness.stock.reserved[trial.trial_id] == {"p1", "p2"}


async def test_a_dispatch_with_no_parcel_is_refused_and_changes_nothing(harness: Harness, gateway: SimulatedGateway):
    # It used to cancel the trial for good (every piece unavailable, the hold released).
    trial = await harness.start_accepted(order(2))
    assert await trial.refused("dispatch", cmd.Dispatch(parcels=[])) == "no_parcels"
    view = await trial.view()
    assert view.status == "AWAITING_DISPATCH" and {p.state for p in view.pieces} == {"RESERVED"}
    assert gateway.held(trial.trial_id) == view.amounts.authorized > 0


async def test_the_trial_clock_starts_when_the_last_of_three_parcels_arrives(harness: Harness):
    o = order(6)
    trial = await harness.start_accepted(o)
    await trial.send("dispatch", parcels([["p1", "p2"], ["p3", "p4"], ["p5", "p6"]]))
    await trial.send("deliver", cmd.Delivery(tracking_number="TRK1"))
    view = await trial.view()
    assert view.status == "IN_TRANSIT" and view.trial_ends_at is None
    # Decisions are allowed for delivered pieces before the rest arrive.
    await trial.send("decide", decisions(keep=["p1"]))
    assert await trial.refused("decide", decisions(keep=["p3"])) == "not_delivered"
    await trial.advance(DAY)
    await trial.send("deliver", cmd.Delivery(tracking_number="TRK2"))
    await trial.advance(2 * DAY)
    view = await trial.send("deliver", cmd.Delivery(tracking_number="TRK3"))
    last = max(p.delivered_at for p in view.parcels if p.delivered_at)
    assert view.status == "ON_TRIAL"
    assert view.trial_ends_at == last + 7 * DAY


async def test_declined_authorization_then_new_payment_method_within_the_fix_window_proceeds(
    harness: Harness, gateway: SimulatedGateway
):
    trial = await harness.start(order(2, payment_method="pm_card_chargeDeclined"))
    view = await trial.wait_for(lambda v: v.needs_attention, "decline flagged")
    assert view.status == "AUTHORIZING" and "authorization_declined" in view.attention
    assert harness.notifier.of_kind(trial.trial_id, "authorization_declined")
    await trial.advance(timedelta(hours=20))
    view = await trial.send("change_payment_method", cmd.NewPaymentMethod(payment_method="pm_card_visa", actor="ps-07"))
    assert view.status == "AWAITING_DISPATCH" and not view.needs_attention
    assert view.amounts.authorized == 240_000


async def test_declined_authorization_with_no_fix_is_rejected(harness: Harness, gateway: SimulatedGateway):
    trial = await harness.start(order(2, payment_method="pm_card_chargeDeclinedInsufficientFunds"))
    await trial.wait_for(lambda v: v.needs_attention, "decline flagged")
    # A second decline within the window does not restart the window.
    await trial.send(
        "change_payment_method", cmd.NewPaymentMethod(payment_method="pm_card_chargeDeclined", actor="ps-07")
    )
    result = await trial.result()  # time skips past the 24 h window
    assert result.status == "REJECTED"
    assert result.amounts.charged == 0 and result.amounts.released == 0
    assert [m.outcome for m in result.movements] == ["declined", "declined"]
    assert result.events[-1].kind == "rejected"
    assert not harness.stock.reserved.get(trial.trial_id)


async def test_a_long_trial_reauthorizes_before_each_hold_expires(harness: Harness, gateway: SimulatedGateway):
    o = order(2)
    trial = await harness.start_accepted(o)
    await trial.advance(6 * DAY + timedelta(hours=1))  # one day before the 7-day hold expires
    view = await trial.wait_for(
        lambda v: len([m for m in v.movements if m.kind == "authorization"]) == 2, "re-authorization"
    )
    kinds = [(m.kind, m.outcome) for m in view.movements]
    assert kinds == [("authorization", "succeeded"), ("authorization", "succeeded"), ("release", "succeeded")]
    assert view.amounts.authorized == o.value and gateway.held(trial.trial_id) == o.value
    await trial.send("dispatch", parcels([["p1", "p2"]]))
    await trial.deliver_all()
    await trial.send("decide", decisions(keep=["p1"], ret=["p2"]))
    # The merchant-initiated hold lasts 4 days: it is renewed again before the trial closes.
    await trial.advance(7 * DAY + timedelta(minutes=1))
    view = await trial.wait_status("AWAITING_RETURNS")
    auths = [m for m in view.movements if m.kind == "authorization"]
    assert len(auths) >= 3
    assert all(m.outcome == "succeeded" for m in auths)
    capture = next(m for m in view.movements if m.kind == "capture")
    assert capture.amount == 120_000
    # Never captured from an expired hold: the capture used the newest authorization.
    assert capture.at < max(a.expires_at for a in auths if a.expires_at)


async def test_a_failed_reauthorization_flags_the_trial_and_settles_off_session(
    harness: Harness, gateway: SimulatedGateway
):
    o = order(2)
    trial = await harness.start_accepted(o)
    gateway.decline_next("authorize", "card_declined")
    await trial.advance(6 * DAY + timedelta(hours=1))
    view = await trial.wait_for(lambda v: "reauthorization_failed" in v.attention, "flag")
    assert view.status == "AWAITING_DISPATCH", "a failed re-authorization never cancels the trial"
    await trial.send("dispatch", parcels([["p1", "p2"]]))
    await trial.deliver_all()
    await trial.send("decide", decisions(keep=["p1", "p2"]))
    await trial.advance(7 * DAY + timedelta(minutes=1))
    result = await trial.result()
    assert result.status == "COMPLETED"
    assert [m.kind for m in result.movements if m.settlement] == ["charge"]
    assert result.amounts.charged == o.value
    assert any(m.kind == "expiry" for m in result.movements)
    assert not any(m.kind == "capture" for m in result.movements)


async def test_declined_settlement_is_dunned_then_waits_for_staff_then_completes(
    harness: Harness, gateway: SimulatedGateway
):
    # The card authorizes with the client present but refuses merchant-initiated (off-session) charges.
    o = order(2, payment_method="pm_card_declinesOffSession")
    trial = await harness.start_on_trial(o)
    await trial.send("decide", decisions(keep=["p1"], ret=["p2"]))
    view = await trial.send("finish_early", cmd.FinishEarly(actor="client"))
    assert view.amounts.charged == 120_000, "the kept piece was captured from the valid hold"
    await trial.advance(3 * DAY + timedelta(minutes=1))  # p2 never shipped back: charged off-session -> declined
    view = await trial.wait_for(lambda v: "settlement_declined" in v.attention, "first decline")
    assert view.status == "SETTLING" and view.settlements[1].declines == 1
    for expected, gap in ((2, 1), (3, 2), (4, 4)):
        await trial.advance(gap * DAY)
        view = await trial.wait_for(declines_reach(expected), f"decline {expected}")
    assert view.status == "PAYMENT_ACTION_REQUIRED"
    assert "payment_action_required" in view.attention
    assert len(harness.notifier.of_kind(trial.trial_id, "payment_declined")) == 3
    await trial.advance(30 * DAY)
    assert (await trial.view()).status == "PAYMENT_ACTION_REQUIRED", "never dropped, never completed as if paid"
    view = await trial.send(
        "change_payment_method", cmd.NewPaymentMethod(payment_method="pm_card_visa", actor="cr.amelia")
    )
    assert view.status == "COMPLETED" and not view.needs_attention
    result = await trial.result()
    assert result.amounts.charged == 240_000
    assert gateway.total(trial.trial_id, "charge") == 120_000


async def test_a_waived_piece_is_never_charged(harness: Harness, gateway: SimulatedGateway):
    o = order(4, price=lambda i: i * 10_000)
    trial = await harness.start_on_trial(o)
    await trial.send("decide", decisions(keep=["p1", "p2", "p3"]))
    await trial.send("waive", cmd.Waiver(piece_id="p3", reason="late delivery goodwill", actor="cr.amelia"))
    await trial.advance(7 * DAY + timedelta(minutes=1))
    view = await trial.wait_status("AWAITING_RETURNS")
    assert view.amounts.charged == 30_000
    assert await trial.refused("waive", cmd.Waiver(piece_id="p1", reason="x", actor="y")) == "not_waivable"
    await trial.advance(3 * DAY)  # p4 never came back
    result = await trial.result()
    assert result.amounts.charged == 70_000
    assert [p.state for p in result.pieces] == ["KEPT", "KEPT", "WAIVED", "KEPT_UNRETURNED"]


async def test_missed_dispatch_and_delivery_slas_flag_the_trial_and_staff_can_record_delivery(harness: Harness):
    trial = await harness.start_accepted(order(2))
    await trial.advance(3 * DAY + timedelta(minutes=1))
    view = await trial.wait_for(lambda v: "dispatch_overdue" in v.attention, "dispatch SLA")
    assert view.status == "AWAITING_DISPATCH"
    view = await trial.send("dispatch", parcels([["p1", "p2"]]))
    assert "dispatch_overdue" not in view.attention
    await trial.advance(10 * DAY + timedelta(minutes=1))
    view = await trial.wait_for(lambda v: "delivery_overdue" in v.attention, "delivery SLA")
    assert await trial.refused("deliver", cmd.Delivery(tracking_number="TRK1", actor="cr.amelia")) == "reason_required"
    view = await trial.send(
        "deliver", cmd.Delivery(tracking_number="TRK1", actor="cr.amelia", reason="client confirmed by phone")
    )
    assert view.status == "ON_TRIAL" and not view.needs_attention
    assert view.parcels[0].recorded_by == "cr.amelia"


async def test_transient_gateway_failures_are_retried_without_moving_money_twice(
    harness: Harness, gateway: SimulatedGateway
):
    gateway.fail_next("authorize", 2)
    gateway.fail_next("capture", 2)
    trial = await harness.start_on_trial(order(2))
    await trial.send("decide", decisions(keep=["p1", "p2"]))
    result_view = await trial.send("finish_early", cmd.FinishEarly(actor="client"))
    assert result_view.amounts.charged == 240_000
    assert len([o for o in gateway.operations if o.trial_id == trial.trial_id and o.kind == "capture"]) == 1


async def test_a_parcel_lost_on_its_way_is_reshipped_and_its_first_units_written_off(
    harness: Harness, gateway: SimulatedGateway
):
    o = order(4)
    trial = await harness.start_accepted(o)
    await trial.send("dispatch", parcels([["p1", "p2"], ["p3", "p4"]]))
    await trial.send("deliver", cmd.Delivery(tracking_number="TRK1"))
    lost = cmd.LostParcel(tracking_number="TRK2", reason="Carrier confirmed the loss", actor="cr.amelia", reship=True)
    view = await trial.send("declare_parcel_lost", lost)
    assert view.status == "IN_TRANSIT" and view.trial_ends_at is None and "carrier_claim" in view.attention
    assert {p.piece_id: p.state for p in view.pieces}["p3"] == "AWAITING_RESHIP"
    assert await trial.refused("deliver", cmd.Delivery(tracking_number="TRK2")) == "parcel_lost"
    await trial.wait_for(lambda v: True, "the write-off")
    assert harness.stock.written_off[trial.trial_id] == {"p3", "p4"}

    replacement = cmd.Reshipment(parcels=parcels([["p3", "p4"]], tracking="NEW").parcels)
    view = await trial.send("reship", replacement)
    assert {p.piece_id: p.state for p in view.pieces}["p4"] == "IN_TRANSIT"
    assert harness.stock.reserved[trial.trial_id] >= {"p3", "p4"}
    view = await trial.send("deliver", cmd.Delivery(tracking_number="NEW1"))
    assert view.status == "ON_TRIAL"
    await trial.send("decide", decisions(keep=["p1", "p3"], ret=["p2", "p4"]))
    await trial.advance(7 * DAY + timedelta(minutes=1))
    view = await trial.wait_status("AWAITING_RETURNS")
    # The reship asked the client for nothing: no new client-present authorization (the hold is only renewed).
    assert view.amounts.charged == 240_000 and len([m for m in view.movements if "-authorize-" in m.key]) == 1


async def test_a_trial_whose_only_parcel_is_lost_is_cancelled_and_its_hold_released(
    harness: Harness, gateway: SimulatedGateway
):
    trial = await harness.start_accepted(order(2))
    await trial.send("dispatch", parcels([["p1", "p2"]]))
    await trial.send("declare_parcel_lost", cmd.LostParcel(tracking_number="TRK1", reason="Lost", actor="cr.amelia"))
    # Cancelled, its hold released, and still open for staff to see to the carrier claim.
    cancelled = await trial.wait_status("CANCELLED")
    assert "carrier_claim" in cancelled.attention and gateway.held(trial.trial_id) == 0
    claim = cmd.Acknowledgement(reason=Attention.CARRIER_CLAIM, note="Claim filed with DHL", actor="cr.amelia")
    await trial.send("acknowledge_attention", claim)
    result = await trial.result()
    assert result.status == "CANCELLED" and result.amounts.charged == 0
    assert {p.state for p in result.pieces} == {"LOST_IN_TRANSIT"}
    assert gateway.held(trial.trial_id) == 0
