"""Unit tests of the pure domain: no Temporal, no database."""

from datetime import timedelta

import pytest

from activities.simulated_gateway import SimulatedGateway
from domain import commands as cmd
from domain.errors import DomainError
from domain.examples import decisions, order, parcels
from domain.money import format_money, is_currency
from domain.order import validate_order
from domain.pieces import PieceState
from domain.policy import TrialPolicy
from domain.status import TrialStatus
from domain.steps import CaptureRequest, ChargeRequest, PaymentResult
from domain.trial import Trial
from domain.view import view_of
from tests.domain_support import T0, Driver

DAY = timedelta(days=1)


def on_trial(n: int = 3, **kw) -> Driver:
    d = Driver(order(n, **kw))
    ids = list(d.trial.pieces)
    d.trial.dispatch(parcels([ids]), d.now)
    d.settle()
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.settle()
    return d


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (4_820_000, "GBP", "48,200.00 GBP"),
        (120_000, "JPY", "120,000 JPY"),
        (1_234_567, "BHD", "1,234.567 BHD"),
        (5, "EUR", "0.05 EUR"),
    ],
)
def test_money_is_formatted_in_the_currency_s_minor_units(amount, currency, text):
    assert format_money(amount, currency) == text


def test_only_iso_currencies_are_accepted():
    assert is_currency("GBP") and is_currency("JPY") and not is_currency("gbp") and not is_currency("XYZ")


def test_a_scaled_policy_divides_every_duration_and_keeps_counts():
    p = TrialPolicy().scaled(86_400)
    assert p.day == timedelta(seconds=1) and p.trial_days == 7
    assert p.dunning_schedule == (timedelta(seconds=1), timedelta(seconds=3), timedelta(seconds=7))
    assert p.reminders_before_end == (timedelta(seconds=2), timedelta(seconds=1))


def test_a_valid_order_passes_and_an_eip_premium_client_is_eligible():
    validate_order(order(30, tier="EIP_PREMIUM"), TrialPolicy())


def test_an_accepted_trial_holds_the_consignment_value_and_reserves_the_stock():
    d = Driver(order(3))
    assert d.trial.status == TrialStatus.AWAITING_DISPATCH
    assert d.trial.payments.authorized == 360_000
    assert d.stock.reserved[d.trial.trial_id] == {"p1", "p2", "p3"}


def test_the_seven_day_clock_runs_from_the_last_delivery_even_when_reported_late():
    d = Driver(order(2))
    d.trial.dispatch(parcels([["p1"], ["p2"]]), d.now)
    d.advance(2 * DAY)
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1", delivered_at=T0 + DAY), d.now)
    d.trial.deliver(cmd.Delivery(tracking_number="TRK2", delivered_at=T0 + DAY + timedelta(hours=5)), d.now)
    assert d.trial.trial_ends_at == T0 + 8 * DAY + timedelta(hours=5)


def test_decisions_record_actor_channel_and_reference_and_may_change_until_close():
    d = on_trial()
    d.trial.decide(decisions(keep=["p1"]), d.now)
    d.trial.decide(
        cmd.Decisions(decisions=[cmd.PieceDecision(piece_id="p1", decision="return")], actor="client", channel="app"),
        d.now,
    )
    p1 = d.trial.pieces["p1"]
    assert (p1.decision, p1.decided_by, p1.decided_via, p1.decision_reference) == ("return", "client", "app", None)
    assert [e.kind for e in d.trial.journal.events].count("decided") == 2


def test_a_piece_waived_after_its_charge_was_declined_drops_out_of_the_retry():
    d = on_trial(2, payment_method="pm_card_declinesOffSession")
    d.trial.decide(decisions(keep=["p1"]), d.now)
    d.advance(7 * DAY + timedelta(minutes=1))  # hold expired at day 7: the kept piece is charged off-session
    s = d.trial.payments.settlements[0]
    assert s.state == "waiting" and s.declines == 1
    d.trial.waive(cmd.Waiver(piece_id="p1", reason="goodwill", actor="cr"), d.now)
    assert d.trial.payments.settlements[0].state == "void"
    assert d.trial.payments.charged == 0


def test_a_piece_being_charged_cannot_be_waived_until_the_charge_answers():
    d = on_trial(1)
    d.trial.decide(decisions(keep=["p1"]), d.now)
    d.now += 7 * DAY
    d.trial.tick(d.now)
    step = d.trial.next_step(d.now)
    assert isinstance(step, CaptureRequest | ChargeRequest)
    d.trial.begin(step)
    with pytest.raises(DomainError) as info:
        d.trial.validate_waiver(cmd.Waiver(piece_id="p1", reason="r", actor="a"), d.now)
    assert info.value.code == "not_waivable"


def test_a_capture_refused_on_a_hold_falls_back_to_an_off_session_charge_without_dunning():
    d = on_trial(1)
    d.trial.decide(decisions(keep=["p1"]), d.now)
    d.advance(2 * DAY)
    d.trial.finish_early(cmd.FinishEarly(actor="client"), d.now)
    capture = d.trial.next_step(d.now)
    assert isinstance(capture, CaptureRequest)
    d.trial.begin(capture)
    d.trial.record(capture, PaymentResult(approved=False, decline_code="authorization_expired"), d.now)
    charge = d.trial.next_step(d.now)
    assert isinstance(charge, ChargeRequest) and charge.key.endswith("settlement-1-2")
    assert d.trial.payments.settlements[0].declines == 0


def test_the_ledger_refuses_a_second_movement_under_the_same_key():
    d = on_trial(1)
    with pytest.raises(ValueError, match="recorded twice"):
        d.trial.payments.movement(d.trial.payments.movements[0].key, "charge", 1, d.now)


def test_reminders_go_to_client_and_shopper_48_and_24_hours_before_the_end():
    d = on_trial(1)
    d.advance(5 * DAY + timedelta(minutes=1))
    d.advance(DAY)
    reminders = d.notifier.of_kind(d.trial.trial_id, "trial_ending")
    assert [r.message.split(" (")[0] for r in reminders] == [
        "The Style Trial ends in 48 hours",
        "The Style Trial ends in 24 hours",
    ]
    assert all(r.audience == ["client", "shopper"] and r.shopper_id == "ps-07" for r in reminders)


def test_the_next_deadline_names_what_the_timer_waits_for():
    d = on_trial(1)
    when, label = d.trial.next_deadline(d.now)  # type: ignore[misc]
    assert label == "Reminder 48 h before the trial ends" and when == d.trial.trial_ends_at - 2 * DAY  # type: ignore[operator]


def test_a_multicapture_gateway_keeps_the_hold_for_the_second_settlement():
    d = Driver(order(2), gateway=SimulatedGateway(multiple_captures=True))
    d.trial.dispatch(parcels([["p1", "p2"]]), d.now)
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.trial.decide(decisions(keep=["p1"], ret=["p2"]), d.now)
    d.trial.finish_early(cmd.FinishEarly(actor="client"), d.now)
    d.settle()
    assert d.trial.payments.hold is not None and d.trial.payments.hold.remaining == 120_000
    d.trial.ship_return(cmd.ReturnShipped(piece_ids=["p2"], carrier="DHL", tracking_number="R"), d.now)
    d.trial.inspect(cmd.Inspection(piece_id="p2", condition="damaged"), d.now)
    d.settle()
    assert d.trial.status == TrialStatus.COMPLETED
    assert [m.kind for m in d.trial.payments.movements if m.settlement] == ["capture", "capture"]
    assert d.trial.pieces["p2"].state == PieceState.DAMAGED and d.trial.payments.charged == 240_000


def test_refusals_carry_a_code_and_a_sentence():
    t = Trial(order(1), TrialPolicy(), T0)
    with pytest.raises(DomainError) as info:
        t.validate_dispatch(parcels([["p1"]]), T0)
    assert info.value.code == "not_ready_for_dispatch"
    assert info.value.message.endswith(".")


def test_a_return_parcel_is_inspected_in_one_command_with_one_audit_line_per_piece():
    d = on_trial(3)
    d.trial.ship_return(cmd.ReturnShipped(piece_ids=["p1", "p2"], carrier="DHL", tracking_number="R1"), d.now)
    opened = cmd.Inspections(
        inspections=[cmd.Inspection(piece_id="p1", condition="ok"), cmd.Inspection(piece_id="p2", condition="damaged")]
    )
    d.trial.inspect_all(opened, d.now)
    assert [d.trial.pieces[p].state for p in ("p1", "p2")] == [PieceState.RETURNED, PieceState.DAMAGED]
    assert [e.piece_ids for e in d.trial.journal.events if e.kind == "inspected"] == [["p1"], ["p2"]]


def test_a_return_carries_its_reason_and_any_piece_the_client_s_words():
    d = on_trial(3)
    d.trial.decide(cmd.Decisions(decisions=[
        cmd.PieceDecision(piece_id="p1", decision="keep", feedback="Wore it to dinner; perfect."),
        cmd.PieceDecision(piece_id="p2", decision="return", reason="too_small", feedback="Sleeves short."),
        cmd.PieceDecision(piece_id="p3", decision="return"),
    ], actor="client", channel="whatsapp", reference="wamid.1"), d.now)  # fmt: skip
    view = view_of(d.trial)
    pieces = {p.piece_id: p for p in view.pieces}
    assert (pieces["p1"].return_reason, pieces["p1"].feedback) == (None, "Wore it to dinner; perfect.")
    assert (pieces["p2"].return_reason, pieces["p2"].feedback) == ("too_small", "Sleeves short.")
    assert (pieces["p3"].return_reason, pieces["p3"].feedback) == (None, None)
    decided = view.events[-1]
    assert decided.kind == "decided" and decided.actor == "client" and decided.channel == "whatsapp"
    assert decided.detail == "Decisions: p1=keep, p2=return (too_small), p3=return."
    # A change of mind replaces the decision, its reason included.
    d.trial.decide(cmd.Decisions(decisions=[cmd.PieceDecision(piece_id="p2", decision="keep")], actor="client",
                                 channel="app"), d.now)  # fmt: skip
    assert {p.piece_id: p.return_reason for p in view_of(d.trial).pieces}["p2"] is None
