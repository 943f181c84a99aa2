"""A return the carrier lost has a way out: staff record it found at the warehouse after all (inspected, it is
returned whatever its condition, and a claim filed for it is withdrawn) or write it off. The client is never
charged for it either way (the carrier's scan shipped it), the ledger never moves, and `return_lost` clears
once every lost return has an answer (the carrier's, or staff's). Refused with its code, changing nothing:
a tracking number that is no lost return, a second resolution, a found return without its condition, no
actor or note."""

from datetime import timedelta

import pytest

from domain import commands as cmd
from domain.errors import DomainError, ErrorCode
from domain.examples import decisions, order, parcels
from domain.pieces import PieceState
from domain.view import view_of
from tests.domain_support import Driver


def with_a_lost_return() -> Driver:
    """p1 kept, p2 and p3 shipped back in two parcels that never reach the warehouse."""
    d = Driver(order(3))
    d.trial.waits_for_staff = True  # as the workflow sets it (patch attention-keeps-open)
    d.trial.dispatch(parcels([["p1", "p2", "p3"]]), d.now)
    d.settle()
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.settle()
    d.trial.decide(decisions(keep=["p1"], ret=["p2", "p3"]), d.now)
    d.trial.finish_early(cmd.FinishEarly(), d.now)
    d.settle()
    for pid, tracking in (("p2", "RET-2"), ("p3", "RET-3")):
        d.trial.ship_return(cmd.ReturnShipped(piece_ids=[pid], carrier="DHL", tracking_number=tracking), d.now)
    d.settle()
    d.advance(timedelta(days=15))  # past the receipt window: neither arrived
    assert {d.trial.pieces[p].state for p in ("p2", "p3")} == {PieceState.LOST_IN_RETURN}
    assert "return_lost" in d.trial.journal.attention and not d.trial.finished, "it waits for staff"
    return d


def resolve(d: Driver, tracking: str, outcome: str, condition: str | None = None) -> None:
    c = cmd.LostReturnResolution(
        tracking_number=tracking, outcome=outcome, condition=condition, note="Found on the dock", actor="cr.anna"
    )
    d.trial.validate_lost_return(c, d.now)
    d.trial.resolve_lost_return(c, d.now)
    d.settle()


def test_one_found_and_one_written_off_close_the_trial_without_a_charge_for_either():
    d = with_a_lost_return()
    charged, movements = d.trial.payments.charged, len(view_of(d.trial).movements)
    resolve(d, "RET-2", "found", "damaged")
    p2 = d.trial.pieces["p2"]
    assert p2.state == PieceState.RETURNED and not p2.charged and p2.return_received_at == d.now
    assert "return_lost" in d.trial.journal.attention, "RET-3 still has no answer"
    resolve(d, "RET-3", "written_off")
    view = view_of(d.trial)
    assert d.trial.pieces["p3"].state == PieceState.LOST_IN_RETURN and not d.trial.pieces["p3"].charged
    assert not view.needs_attention and d.trial.finished
    assert d.trial.payments.charged == charged and len(view.movements) == movements, "the ledger never moved"
    found, written_off = [e for e in view.events if e.kind in ("return_found", "return_written_off")]
    assert "damaged in the carrier's hands" in found.detail and found.actor == "cr.anna"
    assert found.reason == "Found on the dock" and found.piece_ids == ["p2"]
    assert written_off.piece_ids == ["p3"]


def test_a_found_return_withdraws_its_filed_claim_and_a_claim_answered_counts_as_an_answer():
    d = with_a_lost_return()
    filed = cmd.CarrierClaim(tracking_number="RET-2", step="filed", reference="CLM-1", actor="cr.anna")
    d.trial.record_carrier_claim(filed, d.now)
    resolve(d, "RET-2", "found", "ok")
    assert view_of(d.trial).claims[0].state == "withdrawn"
    d.trial.record_carrier_claim(
        cmd.CarrierClaim(tracking_number="RET-3", step="filed", reference="CLM-2", actor="cr.anna"), d.now
    )
    d.trial.record_carrier_claim(
        cmd.CarrierClaim(tracking_number="RET-3", step="settled", amount=50_000, actor="cr.anna"), d.now
    )
    d.settle()
    assert not d.trial.journal.attention and d.trial.finished


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"tracking_number": "TRK1"}, ErrorCode.NOT_LOST),
        ({"tracking_number": "RET-9"}, ErrorCode.NOT_LOST),
        ({"outcome": "found", "condition": None}, ErrorCode.MISSING_FIELD),
        ({"outcome": "written_off", "condition": "ok"}, ErrorCode.MISSING_FIELD),
        ({"note": " "}, ErrorCode.REASON_REQUIRED),
        ({"actor": " "}, ErrorCode.ACTOR_REQUIRED),
    ],
    ids=["an outbound parcel", "unknown", "found without condition", "written off with one", "no note", "no actor"],
)
def test_a_resolution_that_breaks_a_rule_is_refused_and_changes_nothing(change, code):
    d = with_a_lost_return()
    before = view_of(d.trial)
    fields = {"tracking_number": "RET-2", "outcome": "written_off", "note": "n", "actor": "a", **change}
    with pytest.raises(DomainError) as err:
        d.trial.validate_lost_return(cmd.LostReturnResolution(**fields), d.now)
    assert err.value.code == code and view_of(d.trial) == before


def test_a_return_written_off_cannot_be_resolved_again_and_a_trial_that_ended_takes_no_more():
    d = with_a_lost_return()
    resolve(d, "RET-2", "written_off")
    again = cmd.LostReturnResolution(tracking_number="RET-2", outcome="found", condition="ok", note="n", actor="a")
    with pytest.raises(DomainError) as err:
        d.trial.validate_lost_return(again, d.now)
    assert err.value.code == ErrorCode.ALREADY_RESOLVED
    resolve(d, "RET-3", "found", "ok")
    assert d.trial.finished, "nothing more needs staff: the trial ends"
    with pytest.raises(DomainError) as err:
        d.trial.validate_lost_return(again, d.now)
    assert err.value.code == ErrorCode.TRIAL_FINISHED
