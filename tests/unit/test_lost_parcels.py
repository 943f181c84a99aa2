"""A parcel lost on its way to the client: its pieces are never charged and their units written off, the
trial goes on with what arrived (or waits for replacements), and a trial to which nothing arrived is
cancelled with its hold released. Pure domain, answered by the real simulated gateway and stock."""

from datetime import timedelta

from domain import commands as cmd
from domain.examples import decisions, order, parcels
from domain.pieces import PieceState
from domain.status import TrialStatus
from tests.domain_support import Driver

DAY = timedelta(days=1)


def lost(tracking: str, reship: bool = False) -> cmd.LostParcel:
    return cmd.LostParcel(
        tracking_number=tracking, reason="Carrier confirmed the loss", actor="cr.amelia", reship=reship
    )


def reship(groups: list[list[str]], tracking: str = "NEW") -> cmd.Reshipment:
    return cmd.Reshipment(parcels=parcels(groups, tracking=tracking).parcels)


def dispatched_in_two() -> Driver:
    d = Driver(order(4))
    d.trial.dispatch(parcels([["p1", "p2"], ["p3", "p4"]]), d.now)
    d.settle()
    return d


def status(d: Driver) -> TrialStatus:
    return d.trial.status


def attention(d: Driver) -> dict[str, str]:
    return {k.value: v for k, v in d.trial.journal.attention.items()}


def states(d: Driver) -> dict[str, PieceState]:
    return {pid: p.state for pid, p in d.trial.pieces.items()}


def test_the_trial_goes_on_with_what_arrived_and_never_charges_the_lost_pieces():
    d = dispatched_in_two()
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.advance(DAY)
    declared_at = d.now
    d.trial.declare_lost(lost("TRK2"), d.now)
    d.settle()
    t = d.trial
    assert states(d) == {"p1": "ON_TRIAL", "p2": "ON_TRIAL", "p3": "LOST_IN_TRANSIT", "p4": "LOST_IN_TRANSIT"}
    assert "carrier_claim" in attention(d) and "TRK2" in attention(d)["carrier_claim"]
    assert d.stock.written_off[t.trial_id] == {"p3", "p4"}
    # The client was waiting for the rest until now: the seven days run from the declaration.
    assert status(d) == TrialStatus.ON_TRIAL and t.trial_ends_at == declared_at + 7 * DAY
    assert t.billing.outstanding == 2 * 120_000

    t.decide(decisions(keep=["p1", "p2"]), d.now)
    d.advance(7 * DAY + timedelta(minutes=1))
    assert status(d) == TrialStatus.COMPLETED
    assert (
        t.payments.charged
        == 2 * 120_000
        == d.gateway.total(t.trial_id, "capture") + d.gateway.total(t.trial_id, "charge")
    )
    assert not t.pieces["p3"].charged and not t.pieces["p4"].charged
    assert d.gateway.held(t.trial_id, d.now) == 0
    kinds = [e.kind for e in t.journal.events]
    assert "parcel_lost" in kinds and kinds.index("parcel_lost") < kinds.index("trial_started")


def test_a_trial_to_which_nothing_arrived_is_cancelled_with_its_hold_released():
    d = dispatched_in_two()
    d.trial.declare_lost(lost("TRK1"), d.now)
    d.settle()
    assert status(d) == TrialStatus.IN_TRANSIT  # TRK2 is still on its way
    d.trial.declare_lost(lost("TRK2"), d.now)
    d.settle()
    t = d.trial
    assert status(d) == TrialStatus.CANCELLED and t.finished
    assert all(p.state == PieceState.LOST_IN_TRANSIT for p in t.pieces.values())
    assert t.payments.charged == 0 and d.gateway.held(t.trial_id, d.now) == 0
    assert t.payments.released == 4 * 120_000
    assert d.stock.written_off[t.trial_id] == {"p1", "p2", "p3", "p4"}
    assert not d.stock.reserved[t.trial_id]


def test_replacements_are_reshipped_on_the_same_authorization_and_the_clock_waits_for_them():
    d = Driver(order(2))
    d.trial.dispatch(parcels([["p1", "p2"]]), d.now)
    d.settle()
    d.trial.declare_lost(lost("TRK1", reship=True), d.now)
    d.settle()
    t = d.trial
    assert states(d) == {"p1": "AWAITING_RESHIP", "p2": "AWAITING_RESHIP"}
    assert status(d) == TrialStatus.IN_TRANSIT and t.trial_ends_at is None
    authorizations = len(t.payments.holds)

    d.advance(DAY)
    t.reship(reship([["p1", "p2"]]), d.now)
    d.settle()
    assert states(d) == {"p1": "IN_TRANSIT", "p2": "IN_TRANSIT"}
    assert d.stock.reserved[t.trial_id] == {"p1", "p2"}  # the replacement units, reserved again
    assert len(t.payments.holds) == authorizations  # no new authorization
    d.advance(2 * DAY)
    delivered_at = d.now
    t.deliver(cmd.Delivery(tracking_number="NEW1"), d.now)
    d.settle()
    assert t.trial_ends_at == delivered_at + 7 * DAY

    t.decide(decisions(keep=["p1"], ret=["p2"]), d.now)
    d.advance(7 * DAY + timedelta(minutes=1))
    t.ship_return(cmd.ReturnShipped(piece_ids=["p2"], carrier="DHL", tracking_number="R1"), d.now)
    t.inspect(cmd.Inspection(piece_id="p2", condition="ok"), d.now)
    d.settle()
    assert status(d) == TrialStatus.COMPLETED and t.payments.charged == 120_000


def test_a_piece_left_out_of_the_reship_is_lost_for_good():
    d = dispatched_in_two()
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.trial.declare_lost(lost("TRK2", reship=True), d.now)
    d.settle()
    d.trial.reship(reship([["p3"]]), d.now)
    d.settle()
    assert states(d)["p3"] == "IN_TRANSIT" and states(d)["p4"] == "LOST_IN_TRANSIT"
    assert d.trial.trial_ends_at is None  # NEW1 is on its way


def test_a_reship_that_does_not_come_flags_the_trial_and_never_cancels_it():
    d = Driver(order(2))
    d.trial.dispatch(parcels([["p1", "p2"]]), d.now)
    d.settle()
    d.trial.declare_lost(lost("TRK1", reship=True), d.now)
    d.settle()
    d.advance(4 * DAY)
    t = d.trial
    assert "reship_overdue" in attention(d) and status(d) == TrialStatus.IN_TRANSIT
    # Nothing more to send after all: an empty reship loses the pieces for good, and nothing arrived.
    t.reship(cmd.Reshipment(parcels=[]), d.now)
    d.settle()
    assert status(d) == TrialStatus.CANCELLED and "reship_overdue" not in attention(d)
    assert d.gateway.held(t.trial_id, d.now) == 0


def test_the_delivery_sla_of_a_reship_counts_from_the_reship():
    d = Driver(order(2))
    d.trial.dispatch(parcels([["p1", "p2"]]), d.now)
    d.settle()
    d.advance(8 * DAY)
    d.trial.declare_lost(lost("TRK1", reship=True), d.now)
    d.trial.reship(reship([["p1", "p2"]]), d.now)
    d.settle()
    d.advance(3 * DAY)  # 11 days after dispatch, 3 after the reship
    assert "delivery_overdue" not in d.trial.journal.attention
    d.advance(8 * DAY)
    assert "delivery_overdue" in d.trial.journal.attention


def test_waiving_the_last_piece_awaiting_a_reship_lets_the_trial_go_on():
    d = dispatched_in_two()
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.trial.declare_lost(lost("TRK2", reship=True), d.now)
    for pid in ("p3", "p4"):
        d.trial.waive(cmd.Waiver(piece_id=pid, reason="replacement out of stock", actor="cr.amelia"), d.now)
    d.settle()
    assert status(d) == TrialStatus.ON_TRIAL and states(d)["p4"] == "WAIVED"
    d.advance(4 * DAY)
    assert "reship_overdue" not in attention(d)


def test_waiving_every_piece_awaiting_a_reship_when_nothing_arrived_cancels_the_trial():
    d = Driver(order(1))
    d.trial.dispatch(parcels([["p1"]]), d.now)
    d.trial.declare_lost(lost("TRK1", reship=True), d.now)
    d.trial.waive(cmd.Waiver(piece_id="p1", reason="goodwill", actor="cr.amelia"), d.now)
    d.settle()
    assert status(d) == TrialStatus.CANCELLED and d.gateway.held(d.trial.trial_id, d.now) == 0


def test_a_waiver_before_dispatch_changes_nothing_else():
    d = Driver(order(2))
    d.trial.waive(cmd.Waiver(piece_id="p1", reason="goodwill", actor="cr.amelia"), d.now)
    d.settle()
    assert status(d) == TrialStatus.AWAITING_DISPATCH
