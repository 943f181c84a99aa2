"""A client's whole story and a shopper's open trials, read from real databases (SQLite and PostgreSQL) after
the projection wrote real trials: keep rate and spend kept (less a refund), sizes per designer, the client's
words and reasons, open holds and open trials; the shopper's trials that need a nudge first, and another
shopper's client never among them."""

from collections.abc import Iterator
from datetime import timedelta

import pytest

from application.door import customer_story_from, shopper_trials_from
from domain import commands as cmd
from domain.examples import order, parcels
from domain.order import TrialOrder
from domain.view import view_of
from persistence.db import make_engine
from persistence.store import SqlStore
from tests.domain_support import Driver


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    engine = make_engine(db_url)
    yield SqlStore(engine)
    engine.dispose()


def sized(o: TrialOrder, *specs: tuple[str, str]) -> TrialOrder:
    pieces = [p.model_copy(update={"designer": d, "size": s}) for p, (d, s) in zip(o.pieces, specs, strict=True)]
    return o.model_copy(update={"pieces": pieces})


def on_trial(o: TrialOrder) -> Driver:
    d = Driver(o, refunds_after_completion=True)
    d.trial.dispatch(parcels([[p.piece_id for p in o.pieces]]), d.now)
    d.settle()
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.settle()
    return d


def test_a_client_s_story_and_their_shopper_s_open_trials(store: SqlStore):
    client = "cus-story-1"
    first = on_trial(
        sized(order(3, customer_id=client, price=100_000), ("Loro Piana", "IT 40"), ("Loro Piana", "IT 42"),
              ("Brioni", "50"))
    )  # fmt: skip
    said = [
        cmd.PieceDecision(piece_id="p1", decision="keep", feedback="Perfect on the shoulders."),
        cmd.PieceDecision(piece_id="p2", decision="return", reason="too_small", feedback="Tight at the waist."),
        cmd.PieceDecision(piece_id="p3", decision="return", reason="fit"),
    ]
    first.trial.decide(cmd.Decisions(decisions=said, actor="client", channel="whatsapp"), first.now)
    first.trial.finish_early(cmd.FinishEarly(), first.now)
    first.settle()
    first.trial.ship_return(cmd.ReturnShipped(piece_ids=["p2", "p3"], carrier="DHL", tracking_number="R1"), first.now)
    first.trial.inspect_all(
        cmd.Inspections(inspections=[cmd.Inspection(piece_id=p, condition="ok") for p in ("p2", "p3")]), first.now
    )
    first.settle()
    first.trial.refund(cmd.Refund(piece_id="p1", amount=20_000, reason="goodwill", actor="cr.anna"), first.now)
    first.settle()
    assert first.trial.final_status is not None and first.trial.pieces["p1"].refunded == 20_000

    # A second trial, opened a month later, on trial with nothing decided: it ends within 48 hours.
    second_order = sized(order(2, customer_id=client, price=50_000), ("Loro Piana", "IT 40"), ("Brioni", "52"))
    second = Driver(second_order, refunds_after_completion=True, start=first.now + timedelta(days=30))
    second.trial.dispatch(parcels([["p1", "p2"]]), second.now)
    second.trial.deliver(cmd.Delivery(tracking_number="TRK1"), second.now)
    second.settle()
    second.advance(timedelta(days=5, hours=12))
    # Another shopper's client: never in ps-07's list.
    other = on_trial(order(1, customer_id="cus-story-2", shopper="ps-09"))
    for revision, d in enumerate((first, second, other), start=1):
        store.project(revision, view_of(d.trial))

    story = customer_story_from(store.engine, client)
    assert story is not None and story.trials_total == 2 and not story.truncated
    assert [t.order_id for t in story.trials] == [second_order.order_id, first.trial.order.order_id], "newest first"
    assert (story.decided, story.kept, story.keep_rate) == (3, 1, 0.3333)
    assert [(m.currency, m.amount) for m in story.spend_kept] == [("GBP", 80_000)], "the kept piece, less its refund"
    assert [t.order_id for t in story.open_trials] == [second_order.order_id]
    assert [(h.order_id, h.amount) for h in story.open_holds] == [(second_order.order_id, 100_000)]
    assert [(s.designer, s.size, s.kept, s.returned) for s in story.sizes] == [
        ("Brioni", "50", 0, 1), ("Loro Piana", "IT 40", 1, 0), ("Loro Piana", "IT 42", 0, 1),
    ]  # fmt: skip
    assert [(r.reason, r.count) for r in story.return_reasons] == [("fit", 1), ("too_small", 1)]
    assert {(w.piece_id, w.reason, w.words) for w in story.words} == {
        ("p1", None, "Perfect on the shoulders."), ("p2", "too_small", "Tight at the waist."), ("p3", "fit", None),
    }  # fmt: skip
    assert [(m.trials, m.decided, m.kept) for m in story.by_month] == [(1, 3, 1), (1, 0, 0)]
    assert story.by_month[1].keep_rate is None
    assert customer_story_from(store.engine, "cus-nobody") is None

    mine = shopper_trials_from(store.engine, "ps-07", second.now)
    (open_,) = mine.trials
    assert (open_.order_id, open_.undecided, open_.nudge) == (second_order.order_id, 2, "decide")
    assert (mine.undecided_clients, mine.to_nudge) == (1, 1)
    assert shopper_trials_from(store.engine, "ps-07", second.now - timedelta(days=3)).trials[0].nudge is None
    assert [t.customer_id for t in shopper_trials_from(store.engine, "ps-09", second.now).trials] == ["cus-story-2"]
