"""What a trial needs staff for can be taken and seen to: each reason has its age (since its first flag)
and, once assigned, its owner; staff acknowledge a reason with a note and it clears, while what the trial
itself waits for goes on. Refused, with its code and nothing changed: a reason the trial is not flagged for,
no actor or note, a trial that has ended for good."""

from datetime import timedelta

import pytest

from domain import commands as cmd
from domain.errors import DomainError, ErrorCode
from domain.examples import order, parcels
from domain.status import Attention
from domain.view import view_of
from tests.domain_support import Driver


def with_a_lost_parcel() -> Driver:
    d = Driver(order(2))
    d.trial.dispatch(parcels([["p1"], ["p2"]]), d.now)
    d.settle()
    d.advance(timedelta(hours=5))
    d.trial.declare_lost(cmd.LostParcel(tracking_number="TRK1", reason="stolen", actor="cr.amelia"), d.now)
    d.settle()
    return d


def test_each_reason_shows_its_age_and_owner_and_an_acknowledgement_clears_it():
    d = with_a_lost_parcel()
    flagged = d.now
    d.advance(timedelta(days=11))  # the other parcel is overdue too
    (claim, overdue) = sorted(view_of(d.trial).attention_items, key=lambda i: i.reason)
    assert (claim.reason, claim.since, claim.assignee) == ("carrier_claim", flagged, None)
    assert overdue.reason == "delivery_overdue" and overdue.since is not None and overdue.since > flagged
    d.trial.assign_attention(cmd.AttentionAssignment(assignee="cr.anna", actor="lead.bo"), d.now)
    assert {i.assignee for i in view_of(d.trial).attention_items} == {"cr.anna"}
    note = "Claim DHL-77812 filed; the carrier pays in 30 days."
    d.trial.acknowledge_attention(
        cmd.Acknowledgement(reason=Attention.CARRIER_CLAIM, note=note, actor="cr.anna"), d.now
    )
    view = view_of(d.trial)
    assert "carrier_claim" not in view.attention and [i.reason for i in view.attention_items] == ["delivery_overdue"]
    seen = [e for e in view.events if e.kind == "attention_acknowledged"]
    assert seen[-1].actor == "cr.anna" and seen[-1].reason == note
    d.trial.deliver(cmd.Delivery(tracking_number="TRK2"), d.now)  # the awaited event clears its own reason
    assert not view_of(d.trial).needs_attention


def test_a_reason_assigned_alone_keeps_the_others_unowned():
    d = with_a_lost_parcel()
    d.advance(timedelta(days=11))
    d.trial.assign_attention(
        cmd.AttentionAssignment(assignee="cr.anna", reasons=[Attention.DELIVERY_OVERDUE], actor="lead.bo"), d.now
    )
    owners = {i.reason: i.assignee for i in view_of(d.trial).attention_items}
    assert owners == {"carrier_claim": None, "delivery_overdue": "cr.anna"}


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (cmd.Acknowledgement(reason=Attention.RETURN_LOST, note="n", actor="a"), ErrorCode.NOT_FLAGGED),
        (cmd.Acknowledgement(reason=Attention.CARRIER_CLAIM, note=" ", actor="a"), ErrorCode.REASON_REQUIRED),
        (cmd.Acknowledgement(reason=Attention.CARRIER_CLAIM, note="n", actor=" "), ErrorCode.ACTOR_REQUIRED),
        (cmd.AttentionAssignment(assignee="x", reasons=[Attention.REFUND_DECLINED], actor="a"), ErrorCode.NOT_FLAGGED),
        (cmd.AttentionAssignment(assignee=" ", actor="a"), ErrorCode.MISSING_FIELD),
    ],
    ids=["not flagged", "no note", "no actor", "assign a reason not flagged", "no assignee"],
)
def test_a_command_about_attention_that_breaks_a_rule_changes_nothing(command, code):
    d = with_a_lost_parcel()
    before = view_of(d.trial)
    validate = (
        d.trial.validate_acknowledgement if isinstance(command, cmd.Acknowledgement) else d.trial.validate_assignment
    )
    with pytest.raises(DomainError) as err:
        validate(command, d.now)
    assert err.value.code == code and view_of(d.trial) == before


def test_a_trial_that_needs_no_one_has_nothing_to_assign():
    d = Driver(order(1))
    with pytest.raises(DomainError) as err:
        d.trial.validate_assignment(cmd.AttentionAssignment(assignee="cr.anna", actor="a"), d.now)
    assert err.value.code == ErrorCode.NOT_FLAGGED


def test_a_carrier_claim_is_filed_then_settled_into_the_ledger_as_what_it_is_and_the_reason_clears():
    d = with_a_lost_parcel()
    charged_before = d.trial.payments.charged
    filed = cmd.CarrierClaim(tracking_number="TRK1", step="filed", reference="DHL-CLM-77812", actor="cr.anna")
    d.trial.record_carrier_claim(filed, d.now)
    assert d.trial.journal.attention[Attention.CARRIER_CLAIM] == "Await the carrier's answer for TRK1."
    paid = cmd.CarrierClaim(tracking_number="TRK1", step="settled", amount=120_000, actor="cr.anna", note="by transfer")
    d.trial.record_carrier_claim(paid, d.now)
    view = view_of(d.trial)
    assert "carrier_claim" not in view.attention
    (claim,) = view.claims
    assert (claim.state, claim.reference, claim.amount) == ("settled", "DHL-CLM-77812", 120_000)
    (payout,) = [m for m in view.movements if m.kind == "claim_payout"]
    assert payout.amount == 120_000 and payout.reference == "DHL-CLM-77812"
    assert d.trial.payments.charged == charged_before and view.amounts.charged == charged_before, "never a charge"


@pytest.mark.parametrize(
    ("claim", "code"),
    [
        (cmd.CarrierClaim(tracking_number="TRK2", step="filed", reference="R", actor="a"), ErrorCode.NOT_LOST),
        (cmd.CarrierClaim(tracking_number="TRK1", step="settled", amount=1, actor="a"), ErrorCode.CLAIM_OUT_OF_ORDER),
        (cmd.CarrierClaim(tracking_number="TRK1", step="filed", actor="a"), ErrorCode.MISSING_FIELD),
        (cmd.CarrierClaim(tracking_number="TRK1", step="rejected", actor="a"), ErrorCode.CLAIM_OUT_OF_ORDER),
    ],
    ids=["a parcel not lost", "settled before filed", "filed without a reference", "rejected before filed"],
)
def test_a_claim_step_out_of_place_is_refused_and_changes_nothing(claim, code):
    d = with_a_lost_parcel()
    before = view_of(d.trial)
    with pytest.raises(DomainError) as err:
        d.trial.validate_carrier_claim(claim, d.now)
    assert err.value.code == code and view_of(d.trial) == before


def test_a_rejected_claim_and_a_filed_one_twice():
    d = with_a_lost_parcel()
    d.trial.record_carrier_claim(
        cmd.CarrierClaim(tracking_number="TRK1", step="filed", reference="R1", actor="a"), d.now
    )
    with pytest.raises(DomainError) as err:
        d.trial.validate_carrier_claim(
            cmd.CarrierClaim(tracking_number="TRK1", step="filed", reference="R2", actor="a"), d.now
        )
    assert err.value.code == ErrorCode.CLAIM_OUT_OF_ORDER
    d.trial.record_carrier_claim(
        cmd.CarrierClaim(tracking_number="TRK1", step="rejected", actor="a", note="no proof"), d.now
    )
    view = view_of(d.trial)
    assert "carrier_claim" not in view.attention and view.claims[0].state == "rejected"
    assert not [m for m in view.movements if m.kind == "claim_payout"]


def test_the_temporal_ui_s_details_show_each_reason_with_its_age_and_owner():
    from workflows.presentation import details_markdown

    d = with_a_lost_parcel()
    flagged = d.now
    assert f"(since {flagged:%d %b %H:%M} UTC, unassigned)" in details_markdown(view_of(d.trial))
    d.trial.assign_attention(cmd.AttentionAssignment(assignee="cr.anna", actor="lead.bo"), d.now)
    line = next(x for x in details_markdown(view_of(d.trial)).splitlines() if "carrier claim" in x)
    assert line.endswith(f"(since {flagged:%d %b %H:%M} UTC, cr.anna has it)"), line
