"""Every refusal of the trial's rules, one case each: the command is refused with its code and a sentence,
and the trial is exactly as it was. Pure domain, no server (the workflow's own refusal tests check that
these reach the caller through update validators)."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from domain import commands as cmd
from domain.errors import DomainError
from domain.examples import decisions, order, parcels
from domain.trial import Trial
from domain.view import view_of
from tests.domain_support import Driver

DAY = timedelta(days=1)


def accepted() -> Driver:
    return Driver(order(4))


def dispatched() -> Driver:
    d = accepted()
    d.trial.dispatch(parcels([["p1", "p2"], ["p3", "p4"]]), d.now)
    d.settle()
    return d


def on_trial() -> Driver:
    d = dispatched()
    for tracking in ("TRK1", "TRK2"):
        d.trial.deliver(cmd.Delivery(tracking_number=tracking), d.now)
    d.settle()
    return d


def extended_to_the_limit() -> Driver:
    d = on_trial()
    for days in (7, 7):
        d.trial.extend(cmd.Extension(days=days, reason="travel", actor="cr.amelia"), d.now)
    return d


def p2_shipped_back() -> Driver:
    d = on_trial()
    d.trial.ship_return(cmd.ReturnShipped(piece_ids=["p2"], carrier="DHL", tracking_number="R1"), d.now)
    d.settle()
    return d


def p4_waived() -> Driver:
    d = on_trial()
    d.trial.waive(cmd.Waiver(piece_id="p4", reason="goodwill", actor="cr.amelia"), d.now)
    d.settle()
    return d


def trk2_lost_to_reship() -> Driver:
    """TRK1 delivered; TRK2 lost, its pieces (p3, p4) awaiting replacements."""
    d = dispatched()
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.trial.declare_lost(
        cmd.LostParcel(tracking_number="TRK2", reason="carrier", actor="cr.amelia", reship=True), d.now
    )
    d.settle()
    return d


def closed() -> Driver:
    d = on_trial()
    d.advance(7 * DAY + timedelta(minutes=1))
    return d


def return_window_over() -> Driver:
    """p1 was never shipped back (kept); p3's return is still on its way, so the trial is open."""
    d = closed()
    d.trial.ship_return(cmd.ReturnShipped(piece_ids=["p3"], carrier="DHL", tracking_number="R3"), d.now)
    d.advance(3 * DAY)
    return d


def _reship(groups: list[list[str]], tracking: str) -> cmd.Reshipment:
    return cmd.Reshipment(parcels=parcels(groups, tracking=tracking).parcels)


def _sent(t: Trial) -> datetime:
    assert t.shipping.dispatched_at is not None
    return t.shipping.dispatched_at


Command = Callable[[Trial], tuple[Callable[[Any, Any], None], Any]]
CASES: list[tuple[Callable[[], Driver], Command, str]] = [
    (accepted, lambda t: (t.deliver, cmd.Delivery(tracking_number="TRK1")), "not_dispatched"),
    (accepted, lambda t: (t.decide, decisions(keep=["p1"])), "not_delivered"),
    (accepted, lambda t: (t.dispatch, parcels([["p1", "p2"], ["p2", "p3"]])), "piece_in_two_parcels"),
    (accepted, lambda t: (t.dispatch, parcels([["p1", "nope"]])), "unknown_piece"),
    (accepted, lambda t: (t.dispatch, parcels([["p1"], []])), "empty_parcel"),
    (accepted, lambda t: (t.dispatch, cmd.Dispatch(parcels=[
        cmd.Parcel(carrier="DHL", tracking_number="T", piece_ids=["p1"]),
        cmd.Parcel(carrier="DHL", tracking_number="T", piece_ids=["p2"]),
     ])), "duplicate_tracking_number"),
    (accepted, lambda t: (t.cancel, cmd.Cancel(reason="", actor="cr.amelia")), "reason_required"),
    (accepted, lambda t: (t.cancel, cmd.Cancel(reason="changed mind", actor="")), "actor_required"),
    (accepted, lambda t: (t.extend, cmd.Extension(days=2, reason="r", actor="a")), "not_on_trial"),
    (accepted, lambda t: (t.finish_early, cmd.FinishEarly(actor="client")), "not_on_trial"),
    (dispatched, lambda t: (t.dispatch, parcels([["p1", "p2", "p3", "p4"]])), "already_dispatched"),
    (dispatched, lambda t: (t.cancel, cmd.Cancel(reason="changed mind", actor="cr.amelia")), "not_cancellable"),
    (dispatched, lambda t: (t.deliver, cmd.Delivery(tracking_number="NOPE")), "unknown_parcel"),
    (dispatched, lambda t: (t.deliver, cmd.Delivery(tracking_number="TRK1", delivered_at=_sent(t) + 30 * DAY)),
     "invalid_delivery_time"),
    (dispatched, lambda t: (t.deliver, cmd.Delivery(tracking_number="TRK1", delivered_at=_sent(t) - DAY)),
     "invalid_delivery_time"),
    (dispatched, lambda t: (t.deliver, cmd.Delivery(tracking_number="TRK1", actor="cr.amelia")), "reason_required"),
    (on_trial, lambda t: (t.deliver, cmd.Delivery(tracking_number="TRK1")), "already_delivered"),
    (accepted, lambda t: (t.declare_lost, cmd.LostParcel(tracking_number="TRK1", reason="r", actor="a")), "not_dispatched"),
    (dispatched, lambda t: (t.declare_lost, cmd.LostParcel(tracking_number="NOPE", reason="r", actor="a")),
     "unknown_parcel"),
    (dispatched, lambda t: (t.declare_lost, cmd.LostParcel(tracking_number="TRK1", reason=" ", actor="a")),
     "reason_required"),
    (dispatched, lambda t: (t.declare_lost, cmd.LostParcel(tracking_number="TRK1", reason="r", actor="")),
     "actor_required"),
    (on_trial, lambda t: (t.declare_lost, cmd.LostParcel(tracking_number="TRK1", reason="r", actor="a")),
     "already_delivered"),
    (dispatched, lambda t: (t.reship, _reship([["p1"]], "NEW")), "nothing_to_reship"),
    (trk2_lost_to_reship, lambda t: (t.declare_lost, cmd.LostParcel(tracking_number="TRK2", reason="r", actor="a")),
     "parcel_lost"),
    (trk2_lost_to_reship, lambda t: (t.deliver, cmd.Delivery(tracking_number="TRK2")), "parcel_lost"),
    (trk2_lost_to_reship, lambda t: (t.reship, _reship([["p1"]], "NEW")), "not_awaiting_reship"),
    (trk2_lost_to_reship, lambda t: (t.reship, _reship([["p3"]], "TRK")), "duplicate_tracking_number"),
    (trk2_lost_to_reship, lambda t: (t.reship, _reship([["p3"], ["p3"]], "NEW")), "piece_in_two_parcels"),
    (trk2_lost_to_reship, lambda t: (t.decide, decisions(keep=["p3"])), "not_delivered"),
    (on_trial, lambda t: (t.decide, decisions(keep=["ghost"])), "unknown_piece"),
    (on_trial, lambda t: (t.decide, cmd.Decisions(decisions=[], actor="ps-07", channel="app")), "no_decisions"),
    (on_trial, lambda t: (t.decide, decisions(keep=["p1"], actor=" ")), "actor_required"),
    (on_trial, lambda t: (t.decide, decisions(keep=["p1"], ret=["p1"])), "duplicate_decision"),
    (on_trial, lambda t: (t.decide, cmd.Decisions(
        decisions=[cmd.PieceDecision(piece_id="p1", decision="keep", reason="too_small")], actor="client", channel="app",
     )), "return_reason_on_keep"),
    (on_trial, lambda t: (t.finish_early, cmd.FinishEarly(actor="client")), "undecided_pieces"),
    (on_trial, lambda t: (t.inspect, cmd.Inspection(piece_id="p1", condition="ok")), "return_not_shipped"),
    (on_trial, lambda t: (t.ship_return, cmd.ReturnShipped(piece_ids=["p1", "p1"], carrier="DHL", tracking_number="R")),
     "duplicate_piece"),
    (on_trial, lambda t: (t.ship_return, cmd.ReturnShipped(piece_ids=[], carrier="DHL", tracking_number="R")),
     "missing_field"),
    (on_trial, lambda t: (t.extend, cmd.Extension(days=2, reason="", actor="cr.amelia")), "reason_required"),
    (on_trial, lambda t: (t.extend, cmd.Extension(days=2, reason="travel", actor="")), "actor_required"),
    (on_trial, lambda t: (t.extend, cmd.Extension(days=8, reason="travel", actor="cr.amelia")), "invalid_extension"),
    (on_trial, lambda t: (t.change_payment_method, cmd.NewPaymentMethod(payment_method=" ", actor="a")),
     "invalid_payment_method"),
    (on_trial, lambda t: (t.waive, cmd.Waiver(piece_id="ghost", reason="goodwill", actor="cr.amelia")), "unknown_piece"),
    (extended_to_the_limit, lambda t: (t.extend, cmd.Extension(days=1, reason="travel", actor="cr.amelia")),
     "extension_limit"),
    (p2_shipped_back, lambda t: (t.decide, decisions(keep=["p2"])), "return_already_shipped"),
    (p2_shipped_back, lambda t: (t.ship_return, cmd.ReturnShipped(piece_ids=["p2"], carrier="DHL", tracking_number="R2")),
     "not_returnable"),
    (p2_shipped_back, lambda t: (t.inspect_all, cmd.Inspections(inspections=[
        cmd.Inspection(piece_id="p2", condition="ok"), cmd.Inspection(piece_id="p1", condition="ok"),
     ])), "return_not_shipped"),
    (p2_shipped_back, lambda t: (t.inspect_all, cmd.Inspections(inspections=[
        cmd.Inspection(piece_id="p2", condition="ok"), cmd.Inspection(piece_id="p2", condition="damaged"),
     ])), "duplicate_piece"),
    (p2_shipped_back, lambda t: (t.inspect_all, cmd.Inspections(inspections=[])), "missing_field"),
    (p4_waived, lambda t: (t.waive, cmd.Waiver(piece_id="p4", reason="goodwill", actor="cr.amelia")), "not_waivable"),
    (p4_waived, lambda t: (t.decide, decisions(keep=["p4"])), "piece_not_decidable"),
    (closed, lambda t: (t.decide, decisions(keep=["p1"])), "trial_closed"),
    (closed, lambda t: (t.finish_early, cmd.FinishEarly(actor="client")), "trial_closed"),
    (closed, lambda t: (t.extend, cmd.Extension(days=1, reason="travel", actor="cr.amelia")), "trial_closed"),
    (return_window_over, lambda t: (t.ship_return, cmd.ReturnShipped(piece_ids=["p1"], carrier="DHL", tracking_number="R3")),
     "return_window_closed"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("stage", "command", "code"), CASES, ids=[f"{code} when {stage.__name__}" for stage, _, code in CASES]
)
def test_a_refused_command_names_its_code_and_changes_nothing(stage: Callable[[], Driver], command: Command, code: str):
    d = stage()
    apply, c = command(d.trial)
    before = view_of(d.trial).model_dump()
    with pytest.raises(DomainError) as refused:
        apply(c, d.now)
    assert refused.value.code.value == code and refused.value.message
    assert view_of(d.trial).model_dump() == before


def test_a_finished_trial_takes_no_more_commands():
    d = accepted()
    d.trial.cancel(cmd.Cancel(reason="changed mind", actor="cr.amelia"), d.now)
    d.settle()
    with pytest.raises(DomainError) as refused:
        d.trial.dispatch(parcels([["p1"]]), d.now)
    assert refused.value.code.value == "trial_finished"
