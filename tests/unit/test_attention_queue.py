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
