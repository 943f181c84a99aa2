"""The reports on the read model, on SQLite and PostgreSQL: trials driven through the domain, projected as
the workflow projects them, then counted by shopper, region, tier, designer and SKU, per currency."""

from datetime import timedelta

import pytest

from domain import commands as cmd
from domain.examples import order, parcels
from domain.order import TrialOrder
from domain.view import view_of
from persistence.db import make_engine
from persistence.reports import attention, decision_time, keep_rate, return_reasons
from persistence.store import SqlStore
from tests.domain_support import T0, Driver

HOUR = timedelta(hours=1)


def designed(o: TrialOrder, designers: list[str | None], *, region: str = "UK", tier: str = "EIP") -> TrialOrder:
    pieces = [p.model_copy(update={"designer": d}) for p, d in zip(o.pieces, designers, strict=True)]
    customer = o.customer.model_copy(update={"region": region, "tier": tier})
    return o.model_copy(update={"pieces": pieces, "customer": customer})


def decided(o: TrialOrder, choices: list[tuple[str, cmd.ReturnReason | None]], after: timedelta) -> Driver:
    """A trial of `o` delivered, then decided `after` later: ("keep", None) or ("return", reason) per piece."""
    d = Driver(o)
    ids = list(d.trial.pieces)
    d.trial.dispatch(parcels([ids]), d.now)
    d.settle()
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.settle()
    d.now += after
    d.trial.decide(cmd.Decisions(decisions=[
        cmd.PieceDecision(piece_id=pid, decision="keep" if what == "keep" else "return", reason=reason)
        for pid, (what, reason) in zip(ids, choices, strict=True)
    ], actor="client", channel="app"), d.now)  # fmt: skip
    return d


@pytest.fixture
def store(db_url: str) -> SqlStore:
    return SqlStore(make_engine(db_url))


def test_keep_rate_reasons_time_and_attention_by_group_and_currency(store: SqlStore):
    uk = decided(
        designed(order(3, price=100_000, shopper="ps-1"), ["Loro Piana", "Loro Piana", "The Row"]),
        [("keep", None), ("return", "too_small"), ("keep", None)], 2 * HOUR,
    )  # fmt: skip
    jp = decided(
        designed(order(2, price=50_000, currency="JPY", shopper="ps-2"), ["Loro Piana", None], region="JP",
                 tier="EIP_PREMIUM"),
        [("return", "colour"), ("return", None)], 4 * HOUR,
    )  # fmt: skip
    open_only = Driver(designed(order(1, shopper="ps-1"), ["The Row"], region="JP"))  # undecided, still open
    for d in (uk, jp, open_only):
        store.project(1, view_of(d.trial))
    since, until = T0 - timedelta(days=1), T0 + timedelta(days=1)

    by_designer = {(r.key, r.currency): r for r in keep_rate(store.engine, "designer", since, until)}
    assert (by_designer["Loro Piana", "GBP"].decided, by_designer["Loro Piana", "GBP"].kept) == (2, 1)
    assert (
        by_designer["Loro Piana", "GBP"].keep_rate == 0.5 and by_designer["Loro Piana", "GBP"].revenue_kept == 100_000
    )
    assert (by_designer["Loro Piana", "JPY"].kept, by_designer["Loro Piana", "JPY"].revenue_kept) == (0, 0)
    assert by_designer["The Row", "GBP"].keep_rate == 1.0
    assert by_designer["(no designer)", "JPY"].decided == 1
    by_shopper = {(r.key, r.currency): (r.decided, r.kept) for r in keep_rate(store.engine, "shopper", since, until)}
    assert by_shopper == {("ps-1", "GBP"): (3, 2), ("ps-2", "JPY"): (2, 0)}
    by_tier = {r.key for r in keep_rate(store.engine, "tier", since, until)}
    assert by_tier == {"EIP", "EIP_PREMIUM"}

    reasons = {(r.key, r.reason): r.returned for r in return_reasons(store.engine, "designer", since, until)}
    assert reasons == {("Loro Piana", "too_small"): 1, ("Loro Piana", "colour"): 1, ("(no designer)", "not_given"): 1}
    by_sku = {(r.key, r.reason) for r in return_reasons(store.engine, "sku", since, until)}
    assert ("SKU-002", "too_small") in by_sku

    hours = {r.key: (r.decided, r.average_hours) for r in decision_time(store.engine, "region", since, until)}
    assert hours == {"UK": (3, 2.0), "JP": (2, 4.0)}

    hubs = {r.hub: (r.needing_attention, r.open_trials) for r in attention(store.engine, since, until)}
    assert hubs["JP"][1] == 2 and hubs["UK"][1] == 1  # every trial here is still open (returns pending)

    # Outside the range: nothing.
    later = T0 + timedelta(days=2)
    assert keep_rate(store.engine, "designer", later, later + timedelta(days=1)) == []


def test_the_keep_rate_says_what_support_refunded_of_the_kept_pieces(store: SqlStore):
    d = decided(
        designed(order(3, price=100_000), ["Loro Piana", "Loro Piana", "The Row"]),
        [("keep", None), ("keep", None), ("return", "fit")], HOUR,
    )  # fmt: skip
    d.advance(timedelta(days=8))  # the trial ends and the kept pieces are charged
    first, second, _ = list(d.trial.pieces)
    d.trial.refund(cmd.Refund(piece_id=first, reason="a seam opened", actor="cr-1", amount=30_000), d.now)
    d.settle()
    assert d.trial.pieces[first].refunded == 30_000 and d.trial.pieces[second].refunded is None
    store.project(1, view_of(d.trial))

    rows = {r.key: r for r in keep_rate(store.engine, "designer", T0 - timedelta(days=1), T0 + timedelta(days=1))}
    assert (rows["Loro Piana"].revenue_kept, rows["Loro Piana"].refunded) == (200_000, 30_000)
    assert (rows["The Row"].revenue_kept, rows["The Row"].refunded) == (0, 0)
