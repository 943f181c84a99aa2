"""Exchanges: a piece on trial swapped for another (a size up). The replacement is reserved (its SKU with the
reservation), sent in a reship on the same authorization (re-authorized when the value rises), delivered and
decided like any piece, charged only if kept; the original goes back with the return and is never charged,
whatever comes back or does not. The trial's end waits for a replacement on its way, and gives a late one
its exchange days. Refused with a code, changing nothing: a piece not with the client, one exchanged
already, a replacement id the order has, too many exchanges, a trial past its end."""

from datetime import timedelta

import pytest

from domain import commands as cmd
from domain.errors import DomainError, ErrorCode
from domain.examples import decisions, order, parcels
from domain.order import ClientContact, OrderPiece
from domain.pieces import PieceState
from domain.policy import TrialPolicy
from domain.replies import read_exchange_request
from domain.status import Attention
from domain.view import view_of
from tests.domain_support import Driver

DAY = timedelta(days=1)
CONTACT = ClientContact(channel="whatsapp", address="+393331234567", locale="it", time_zone="Europe/Rome")


def on_trial(price: int = 100_000, policy: TrialPolicy | None = None) -> Driver:
    o = order(3, price=price)
    o = o.model_copy(update={"customer": o.customer.model_copy(update={"contact": CONTACT})})
    d = Driver(o, policy=policy, tells_the_client=True, tells_the_journey=True)
    d.trial.waits_for_staff = True
    d.trial.dispatch(parcels([["p1", "p2", "p3"]]), d.now)
    d.settle()
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.settle()
    return d


def swap(piece_id: str = "p2", new: str = "p2-41", price: int = 130_000, size: str = "41") -> cmd.Exchange:
    replacement = OrderPiece(piece_id=new, sku=f"SKU-{new}", description=f"Loafer, size {size}", price=price, size=size)
    return cmd.Exchange(
        piece_id=piece_id, replacement=replacement, reason="too_small", words="The 40 pinches.", actor="ps-07",
        channel="whatsapp",
    )  # fmt: skip


def exchange(d: Driver, c: cmd.Exchange) -> None:
    d.trial.validate_exchange(c, d.now)
    d.trial.exchange(c, d.now)
    d.settle()


def send(d: Driver, *piece_ids: str, tracking: str = "X1") -> None:
    d.trial.reship(
        cmd.Reshipment(parcels=[cmd.Parcel(carrier="DHL", tracking_number=tracking, piece_ids=list(piece_ids))]), d.now
    )
    d.settle()


def test_the_replacement_is_reserved_sent_re_authorized_and_charged_only_if_kept_the_original_never():
    d = on_trial()
    hold_before = d.trial.payments.hold
    assert hold_before is not None and hold_before.remaining == 300_000
    exchange(d, swap())
    original, replacement = d.trial.pieces["p2"], d.trial.pieces["p2-41"]
    assert (original.exchanged_for, original.decision, original.return_reason) == ("p2-41", "return", "too_small")
    assert (replacement.state, replacement.exchange_of) == (PieceState.RESERVED, "p2")
    assert d.stock.skus == {"p2-41": "SKU-p2-41"}, "the warehouse is told the replacement's SKU"
    # 100,000 + 130,000 + 100,000 may now be charged: more than the hold covered, so it was re-authorized.
    hold = d.trial.payments.hold
    assert hold is not None and hold is not hold_before and hold.remaining == 330_000
    send(d, "p2-41")
    d.advance(DAY)
    d.trial.deliver(cmd.Delivery(tracking_number="X1"), d.now)
    d.settle()
    assert replacement.state == PieceState.ON_TRIAL
    d.trial.decide(decisions(keep=["p1", "p2-41"], ret=["p3"]), d.now)
    d.trial.finish_early(cmd.FinishEarly(), d.now)
    d.settle()
    d.trial.ship_return(cmd.ReturnShipped(piece_ids=["p2", "p3"], carrier="DHL", tracking_number="R1"), d.now)
    inspected = [cmd.Inspection(piece_id="p2", condition="damaged"), cmd.Inspection(piece_id="p3", condition="ok")]
    d.trial.inspect_all(cmd.Inspections(inspections=inspected), d.now)
    d.settle()
    assert original.state == PieceState.EXCHANGED and not original.charged, "never charged, even damaged"
    assert d.trial.pieces["p2-41"].state == PieceState.KEPT and d.trial.pieces["p2-41"].charged
    assert d.trial.payments.charged == 230_000 and d.trial.final_status is not None
    view = view_of(d.trial)
    assert [e.kind for e in view.events if e.kind == "exchanged"] == ["exchanged"]
    told = [n.kind for n in d.notifier.sent.values() if "client" in n.audience]
    assert "exchange_confirmed" in told and "piece_damaged" not in told


def test_a_cheaper_replacement_needs_no_new_authorization_and_a_returned_one_is_never_charged():
    d = on_trial()
    hold = d.trial.payments.hold
    exchange(d, swap(price=80_000))
    assert d.trial.payments.hold is hold, "covered by the standing hold"
    send(d, "p2-41")
    d.trial.deliver(cmd.Delivery(tracking_number="X1"), d.now)
    d.trial.decide(decisions(keep=["p1", "p3"], ret=["p2-41"]), d.now)
    d.trial.finish_early(cmd.FinishEarly(), d.now)
    d.settle()
    assert d.trial.payments.charged == 200_000


def test_the_end_waits_for_a_replacement_on_its_way_and_gives_it_its_exchange_days():
    d = on_trial()
    ends = d.trial.trial_ends_at
    assert ends is not None
    d.advance(6 * DAY)
    exchange(d, swap())
    d.advance(2 * DAY)  # past the end: the replacement was never sent
    assert d.trial.closed_at is None and "exchange_pending" in d.trial.journal.attention
    send(d, "p2-41")
    d.advance(DAY)
    d.trial.deliver(cmd.Delivery(tracking_number="X1"), d.now)
    d.settle()
    assert "exchange_pending" not in d.trial.journal.attention
    assert d.trial.trial_ends_at == d.now + 3 * DAY, "three days to decide the replacement"
    d.advance(3 * DAY + timedelta(minutes=1))
    assert d.trial.closed_at is not None
    # Undecided, the replacement awaits its return like any piece; the original too.
    assert d.trial.pieces["p2-41"].state == PieceState.AWAITING_RETURN
    d.advance(4 * DAY)  # nothing sent back: the others are kept, the exchanged original is not
    assert d.trial.pieces["p2"].state == PieceState.EXCHANGED and not d.trial.pieces["p2"].charged
    assert d.trial.pieces["p2-41"].state == PieceState.KEPT_UNRETURNED
    assert "exchange_unreturned" in d.trial.journal.attention


def test_a_replacement_waived_lets_the_trial_close():
    d = on_trial()
    exchange(d, swap())
    d.advance(8 * DAY)
    assert d.trial.closed_at is None
    d.trial.waive(cmd.Waiver(piece_id="p2-41", reason="Out of stock after all", actor="cr.anna"), d.now)
    d.settle()
    assert d.trial.closed_at is not None and d.trial.pieces["p2-41"].state == PieceState.WAIVED


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"piece_id": "p9"}, ErrorCode.UNKNOWN_PIECE),
        ({"replacement_id": "p1"}, ErrorCode.DUPLICATE_PIECE),
        ({"actor": " "}, ErrorCode.ACTOR_REQUIRED),
        ({"after_end": True}, ErrorCode.NOT_EXCHANGEABLE),
        ({"twice": True}, ErrorCode.PIECE_EXCHANGED),
        ({"too_many": True}, ErrorCode.TOO_MANY_EXCHANGES),
        ({"price": 0}, ErrorCode.INVALID_PRICE),
        ({"price": -5_000}, ErrorCode.INVALID_PRICE),
    ],
    ids=["unknown piece", "id taken", "no actor", "after the end", "exchanged already", "too many", "free", "negative"],
)
def test_an_exchange_that_breaks_a_rule_is_refused_and_changes_nothing(change, code):
    d = on_trial(policy=TrialPolicy(max_exchanges=1) if change.get("too_many") else None)
    c = swap(
        piece_id=change.get("piece_id", "p2"),
        new=change.get("replacement_id", "p2-41"),
        price=change.get("price", 130_000),
    )
    if "actor" in change:
        c = c.model_copy(update={"actor": change["actor"]})
    if change.get("after_end"):
        d.advance(8 * DAY)
    if change.get("twice"):
        exchange(d, swap(new="p2-42"))
    if change.get("too_many"):
        exchange(d, swap(piece_id="p1", new="p1-b"))
    before = view_of(d.trial)
    with pytest.raises(DomainError) as err:
        d.trial.validate_exchange(c, d.now)
    assert err.value.code == code and view_of(d.trial) == before


def test_an_exchanged_original_cannot_be_kept_and_a_return_for_it_changes_nothing():
    d = on_trial()
    exchange(d, swap())
    with pytest.raises(DomainError) as err:
        d.trial.validate_decisions(decisions(keep=["p2"]), d.now)
    assert err.value.code == ErrorCode.PIECE_EXCHANGED
    original = d.trial.pieces["p2"].model_copy()
    d.trial.decide(decisions(ret=["p2"], keep=["p1"]), d.now)
    assert d.trial.pieces["p2"] == original and d.trial.pieces["p1"].decision == "keep"


@pytest.mark.parametrize(
    "text",
    ["Can I exchange the loafers for a 41?", "Kann ich die Schuhe umtauschen?", "Vorrei un cambio, taglia più grande",
     "Puis-je échanger la veste ?", "サイズ違いに交換できますか", "a size up please"],
)  # fmt: skip
def test_a_client_asking_for_an_exchange_in_any_language_is_read_as_one(text):
    assert read_exchange_request(text)


@pytest.mark.parametrize("text", ["keep 1, return 2", "Ho cambiato idea", "Can I have 3 more days?", "thanks!"])
def test_other_replies_are_not_exchange_requests(text):
    assert not read_exchange_request(text)


def test_a_client_s_request_asks_their_shopper_and_an_exchange_answers_it():
    d = on_trial()
    ask = cmd.ExchangeRequest(words="Can I have the 41 instead?", channel="whatsapp", reference="wamid.1")
    d.trial.validate_exchange_request(ask, d.now)
    d.trial.request_exchange(ask, d.now)
    d.settle()
    assert "Can I have the 41 instead?" in d.trial.journal.attention[Attention.EXCHANGE_REQUESTED]
    told = [n.kind for n in d.notifier.sent.values() if "client" in n.audience]
    assert "exchange_asked" in told
    exchange(d, swap())
    assert "exchange_requested" not in d.trial.journal.attention
    d.advance(8 * DAY)
    with pytest.raises(DomainError) as err:
        d.trial.validate_exchange_request(ask, d.now)
    assert err.value.code == ErrorCode.NOT_EXCHANGEABLE, "after the trial's end"
