"""Property: for random orders and random event sequences, money follows the pieces exactly.

Total charged = sum of prices of pieces in a charged fate; no piece is charged twice; a returned,
waived, unavailable or lost piece is never charged; nothing stays authorized at the end; and a refused
command changes nothing at all. With refunds: charged - refunded = what the pieces cost in the end (a
refunded piece its price less its refund); a piece is refunded at most once and never by more than it was
charged; the gateway gave back exactly what the ledger says. With exchanges: a replacement is charged only
if kept, an exchanged original never, each piece at most once, whatever happens to either.
"""

import contextlib
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from activities.simulated_gateway import SimulatedGateway
from domain import commands as cmd
from domain.errors import DomainError
from domain.order import Customer, OrderPiece, TrialOrder
from domain.pieces import CHARGED_FATES, NEVER_CHARGED, TERMINAL, PieceState
from domain.status import TrialStatus
from domain.view import view_of
from tests.domain_support import Driver

TOKENS = [
    "pm_card_visa", "pm_card_visa", "pm_card_visa", "pm_card_chargeDeclined", "pm_card_chargeCustomerFail",
    "pm_card_declinesOffSession",
]  # fmt: skip

orders = st.builds(
    lambda prices, token: TrialOrder(
        order_id="ord-prop",
        customer=Customer(id="cus-1", tier="EIP_PREMIUM", region="UK", personal_shopper_id="ps-1"),
        currency="EUR",
        pieces=[OrderPiece(piece_id=f"p{i}", sku=f"s{i}", description="d", price=p) for i, p in enumerate(prices)],
        payment_method=token,
    ),
    st.lists(st.integers(min_value=1, max_value=5_000_000), min_size=1, max_size=30),
    st.sampled_from(TOKENS),
)

# 0-29 map onto the order's pieces (modulo its size); 30 and 31 name pieces that are not in the order.
piece_index = st.integers(min_value=0, max_value=31)
actions = st.one_of(
    st.tuples(st.just("advance"), st.integers(min_value=1, max_value=24 * 12)),
    st.tuples(st.just("dispatch"), st.lists(st.integers(min_value=-1, max_value=2), min_size=30, max_size=30)),
    st.tuples(st.just("deliver"), st.integers(min_value=0, max_value=3)),
    st.tuples(
        st.just("decide"), st.lists(st.tuples(piece_index, st.sampled_from(["keep", "return"])), min_size=1, max_size=6)
    ),
    st.tuples(st.just("ship_return"), st.lists(piece_index, min_size=1, max_size=5, unique=True)),
    st.tuples(st.just("inspect"), piece_index, st.sampled_from(["ok", "damaged"])),
    st.tuples(st.just("waive"), piece_index),
    st.tuples(st.just("extend"), st.integers(min_value=0, max_value=9)),
    st.tuples(st.just("finish"), st.just(0)),
    st.tuples(st.just("cancel"), st.just(0)),
    st.tuples(st.just("new_payment_method"), st.sampled_from(TOKENS)),
    # A parcel lost on its way out (T0-T3, or a reshipped N0-N3), with or without replacements to follow.
    st.tuples(st.just("lose"), st.sampled_from(["T0", "T1", "T2", "T3", "N0", "N1"]), st.booleans()),
    # Replacements for pieces awaiting a reship, one parcel each slot (-1: not reshipped).
    st.tuples(st.just("reship"), st.lists(st.integers(min_value=-1, max_value=1), min_size=30, max_size=30)),
    # A piece exchanged for a replacement, cheaper or dearer (the hold then re-authorized), new or a taken id.
    st.tuples(st.just("exchange"), piece_index, st.integers(min_value=1, max_value=6_000_000), st.booleans()),
    # A refund of a piece: its whole price (None), one minor unit, half, all of it, or one more than it cost.
    st.tuples(st.just("refund"), piece_index, st.sampled_from([None, "one", "half", "all", "over"])),
)


def command_for(driver: Driver, action: tuple[Any, ...]) -> tuple[Any, Any] | None:
    """The (validate, apply) pair and the command for one random action, or None for a clock move."""
    t = driver.trial
    ids = list(t.pieces)

    def pid(i: int) -> str:
        return ids[i % len(ids)] if i < 30 else f"unknown-{i}"

    kind = action[0]
    if kind == "dispatch":
        groups: dict[int, list[str]] = {}
        for i, slot in enumerate(action[1][: len(ids)]):
            if slot >= 0:
                groups.setdefault(slot, []).append(ids[i])
        c: Any = cmd.Dispatch(
            parcels=[cmd.Parcel(carrier="DHL", tracking_number=f"T{k}", piece_ids=v) for k, v in sorted(groups.items())]
        )
        return t.dispatch, c
    if kind == "deliver":
        return t.deliver, cmd.Delivery(tracking_number=f"T{action[1]}")
    if kind == "decide":
        return t.decide, cmd.Decisions(
            # A reason on every other return and feedback on every third piece: money must not care.
            decisions=[
                cmd.PieceDecision(
                    piece_id=pid(i),
                    decision=d,
                    reason="too_small" if d == "return" and i % 2 else None,
                    feedback="wore it once" if i % 3 == 0 else None,
                )
                for i, d in action[1]
            ],
            actor="ps-1",
            channel="whatsapp",
        )
    if kind == "ship_return":
        return t.ship_return, cmd.ReturnShipped(
            piece_ids=[pid(i) for i in action[1]], carrier="UPS", tracking_number="R"
        )
    if kind == "inspect":
        return t.inspect, cmd.Inspection(piece_id=pid(action[1]), condition=action[2])
    if kind == "waive":
        return t.waive, cmd.Waiver(piece_id=pid(action[1]), reason="goodwill", actor="cr")
    if kind == "extend":
        return t.extend, cmd.Extension(days=action[1], reason="travel", actor="cr")
    if kind == "finish":
        return t.finish_early, cmd.FinishEarly(actor="client")
    if kind == "cancel":
        return t.cancel, cmd.Cancel(reason="changed mind", actor="cr")
    if kind == "lose":
        return t.declare_lost, cmd.LostParcel(tracking_number=action[1], reason="carrier", actor="cr", reship=action[2])
    if kind == "exchange":
        new = f"x{len(ids)}" if action[3] else ids[0]  # an id of its own, or one the order has (refused)
        replacement = OrderPiece(piece_id=new, sku=f"s-{new}", description="d", price=action[2], size="41")
        return t.exchange, cmd.Exchange(
            piece_id=pid(action[1]), replacement=replacement, reason="too_small", actor="ps-1", channel="whatsapp"
        )
    if kind == "reship":
        shipped: dict[int, list[str]] = {}
        for i, slot in enumerate(action[1][: len(ids)]):
            if (
                slot >= 0
                and t.pieces[ids[i]].state in (PieceState.AWAITING_RESHIP, PieceState.RESERVED)
                and (t.pieces[ids[i]].state == PieceState.AWAITING_RESHIP or t.pieces[ids[i]].exchange_of)
            ):
                shipped.setdefault(slot, []).append(ids[i])
        n = len(t.shipping.parcels)
        return t.reship, cmd.Reshipment(
            parcels=[cmd.Parcel(carrier="DHL", tracking_number=f"N{n + k}", piece_ids=v) for k, v in shipped.items()]
        )
    if kind == "refund":
        charged = [p.piece_id for p in t.pieces.values() if p.charged]
        if action[1] < 0 and charged:  # -1: whichever piece was charged first
            action = (kind, ids.index(charged[0]), action[2])
        piece = t.pieces.get(pid(action[1]))
        price = piece.price if piece else 1
        amount = {None: None, "one": 1, "half": max(1, price // 2), "all": price, "over": price + 1}[action[2]]
        return t.refund, cmd.Refund(piece_id=pid(action[1]), reason="goodwill", actor="cr", amount=amount)
    if kind == "new_payment_method":
        return t.change_payment_method, cmd.NewPaymentMethod(payment_method=action[1], actor="cr")
    return None


def check_money(driver: Driver) -> None:
    t = driver.trial
    charged_pieces = [p for p in t.pieces.values() if p.charged]
    assert t.payments.charged == sum(p.price for p in charged_pieces), (
        "money moved without pieces (or pieces without money)"
    )
    assert all(p.state in CHARGED_FATES or p.state == PieceState.REFUNDED for p in charged_pieces)
    assert t.payments.charged - t.payments.refunded == sum(p.net for p in charged_pieces), "refunds and pieces disagree"
    refunded = [r.piece_id for r in t.payments.refunds if r.state == "refunded"]
    assert len(refunded) == len(set(refunded)), "a piece was refunded twice"
    assert all(0 < (p.refunded or 0) <= p.price for p in t.pieces.values() if p.state == PieceState.REFUNDED)
    assert driver.gateway.total(t.trial_id, "refund") == t.payments.refunded, "the gateway refunded otherwise"
    assert not any(p.charged for p in t.pieces.values() if p.state in NEVER_CHARGED)
    assert not any(p.charged for p in t.pieces.values() if p.exchanged_for), "an exchanged original was charged"
    paid = [s for s in t.payments.settlements if s.state == "paid"]
    per_piece = [pid for s in paid for pid in s.piece_ids if t.pieces[pid].charged]
    assert len(per_piece) == len(set(per_piece)), "a piece was charged twice"
    gateway_moved = driver.gateway.total(t.trial_id, "capture") + driver.gateway.total(t.trial_id, "charge")
    assert gateway_moved == t.payments.charged, "the gateway and the trial disagree"


def drive_to_the_end(driver: Driver) -> None:
    t = driver.trial
    for _ in range(120):
        if t.finished:
            return
        drive_one_day(driver)
    raise AssertionError(f"trial never finished: {t.status}")


def drive_one_day(driver: Driver) -> None:
    """What fulfilment and staff would do next, then a day passes."""
    t = driver.trial
    status = t.status
    if status == TrialStatus.AWAITING_DISPATCH:
        reserved = [p.piece_id for p in t.pieces.values() if p.state.value == "RESERVED"]
        t.dispatch(
            cmd.Dispatch(
                parcels=[cmd.Parcel(carrier="DHL", tracking_number="FINAL", piece_ids=reserved)] if reserved else []
            ),
            driver.now,
        )
    elif status == TrialStatus.IN_TRANSIT:
        awaiting = [p.piece_id for p in t.pieces.values() if p.state == PieceState.AWAITING_RESHIP]
        if awaiting:
            tracking = f"N{len(t.shipping.parcels)}"
            t.reship(
                cmd.Reshipment(parcels=[cmd.Parcel(carrier="DHL", tracking_number=tracking, piece_ids=awaiting)]),
                driver.now,
            )
        for parcel in list(t.shipping.parcels.values()):
            if parcel.on_its_way:
                t.deliver(cmd.Delivery(tracking_number=parcel.tracking_number), driver.now)
    elif status == TrialStatus.PAYMENT_ACTION_REQUIRED:
        t.change_payment_method(cmd.NewPaymentMethod(payment_method="pm_card_visa", actor="cr"), driver.now)
    # Replacements of exchanges go out, and arrive the next day.
    unsent = [
        p.piece_id for p in t.pieces.values()
        if p.exchange_of and p.state in (PieceState.RESERVED, PieceState.AWAITING_RESHIP)
    ]  # fmt: skip
    if unsent and t.final_status is None:
        tracking = f"N{len(t.shipping.parcels)}"
        t.reship(
            cmd.Reshipment(parcels=[cmd.Parcel(carrier="DHL", tracking_number=tracking, piece_ids=unsent)]), driver.now
        )
    elif t.trial_ends_at is not None and t.final_status is None:
        for parcel in list(t.shipping.parcels.values()):
            if parcel.on_its_way:
                t.deliver(cmd.Delivery(tracking_number=parcel.tracking_number), driver.now)
    driver.settle()
    driver.advance(timedelta(days=1))
    check_money(driver)


# Random actions around the lifecycle's backbone (dispatch, deliveries, time passing), so that most
# examples reach decisions, returns and both settlements rather than stalling before dispatch.
random_actions = st.lists(actions, max_size=8)
scripts = st.builds(
    lambda a, dispatch, b, lose, exchange, decide, c, refund, d, e: [
        *a,
        dispatch,
        *b,
        lose,
        ("deliver", 0),
        ("deliver", 1),
        ("deliver", 2),
        exchange,
        decide,
        *c,
        ("advance", 24 * 7),
        refund,
        *d,
        ("advance", 24 * 3),
        *e,
    ],
    random_actions,
    st.tuples(
        st.just("dispatch"),
        st.lists(st.integers(min_value=-1, max_value=2), min_size=30, max_size=30).map(
            lambda s: [x if x >= 0 or i % 7 else -1 for i, x in enumerate(s)]
        ),
    ),
    random_actions,
    # One time in three a parcel goes missing, reshipped or not (a clock move otherwise).
    st.one_of(
        st.tuples(st.just("advance"), st.just(1)),
        st.tuples(st.just("advance"), st.just(2)),
        st.tuples(st.just("lose"), st.sampled_from(["T0", "T1", "T2"]), st.booleans()),
    ),
    # Half the time a piece is exchanged once the parcels are in, for a cheaper or a dearer one.
    st.one_of(
        st.tuples(st.just("advance"), st.just(1)),
        st.tuples(
            st.just("exchange"), st.integers(min_value=0, max_value=29), st.integers(1, 6_000_000), st.just(True)
        ),
    ),
    st.tuples(
        st.just("decide"),
        st.lists(
            st.tuples(st.integers(min_value=0, max_value=29), st.sampled_from(["keep", "return"])),
            min_size=1,
            max_size=12,
            unique_by=lambda d: d[0],
        ),
    ),
    random_actions,
    # A refund once the trial has closed (its kept pieces charged, returns still awaited).
    st.tuples(st.just("refund"), st.integers(min_value=-1, max_value=29), st.sampled_from([None, "half", "over"])),
    random_actions,
    random_actions,
)


# Exchanges at their centre: every parcel in, a few pieces exchanged (cheaper or dearer, some refused),
# decisions on originals and replacements alike, then anything, and time.
exchanging = st.builds(
    lambda swaps, decide, rest: [
        ("dispatch", [0] * 30), ("deliver", 0), *swaps, ("advance", 24), ("reship", [0] * 30), ("advance", 1),
        ("deliver", 1), decide, *rest, ("advance", 24 * 8),
    ],
    st.lists(st.tuples(st.just("exchange"), piece_index, st.integers(1, 6_000_000), st.booleans()), min_size=1, max_size=4),
    st.tuples(
        st.just("decide"),
        st.lists(st.tuples(st.integers(0, 29), st.sampled_from(["keep", "return"])), min_size=1, max_size=12),
    ),
    random_actions,
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    order=orders, script=st.one_of(scripts, exchanging, st.lists(actions, max_size=30)), multiple_captures=st.booleans()
)
def test_money_follows_the_pieces_for_any_order_and_any_events(
    order: TrialOrder, script: list[tuple[Any, ...]], multiple_captures: bool
):
    money_follows_the_pieces(Driver(order, gateway=SimulatedGateway(multiple_captures=multiple_captures)), script)


def money_follows_the_pieces(driver: Driver, script: list[tuple[Any, ...]]) -> None:
    t = driver.trial
    for action in script:
        if action[0] == "advance":
            driver.advance(timedelta(hours=action[1]))
        elif (pair := command_for(driver, action)) is not None:
            apply, command = pair
            before = view_of(t).model_dump()
            try:
                apply(command, driver.now)
                if action[0] in ("lose", "reship", "refund", "exchange"):
                    event(f"{action[0]} accepted")
            except DomainError as err:
                assert err.code and err.message
                assert view_of(t).model_dump() == before, f"refused {action[0]} ({err.code}) changed the trial"
                if action[0] == "refund":
                    event(f"refund refused: {err.code.value}")
            driver.settle()
        check_money(driver)

    drive_to_the_end(driver)
    check_money(driver)
    assert t.status in (TrialStatus.COMPLETED, TrialStatus.CANCELLED, TrialStatus.REJECTED)
    event(f"ended {t.status.value}")
    event(f"{'some' if t.payments.charged else 'no'} money charged")
    event(f"{len(t.payments.settlements)} settlement(s)")
    if any(p.state == PieceState.LOST_IN_TRANSIT for p in t.pieces.values()):
        event("a piece lost in transit")
    event(
        f"{sum(1 for m in t.payments.movements if m.outcome == 'declined')} declines"
        if any(m.outcome == "declined" for m in t.payments.movements)
        else "no declines"
    )
    assert driver.gateway.held(t.trial_id, driver.now) == 0, "something is still authorized at the end"
    assert t.payments.authorized == 0
    if t.status == TrialStatus.COMPLETED:
        assert all(p.state in TERMINAL for p in t.pieces.values())
        assert t.payments.charged - t.payments.refunded == sum(p.net for p in t.pieces.values())
    else:
        assert t.payments.charged == 0


# After completion: refunds of any piece, any amount, repeated, while the refund window is open.
after_completion = st.lists(
    st.tuples(
        st.just("refund"),
        st.integers(min_value=-1, max_value=31),
        st.sampled_from([None, "one", "half", "all", "over"]),
    ),
    max_size=12,
)


# A trial whose kept pieces are charged at its close, refunded while its returns are awaited and after.
charged_at_close = st.builds(
    lambda keep, during, rest: [
        ("dispatch", [0] * 30),
        ("deliver", 0),
        ("decide", [(i, "keep" if k else "return") for i, k in enumerate(keep)]),
        ("advance", 24 * 7),
        *during,
        *rest,
    ],
    st.lists(st.booleans(), min_size=1, max_size=30).filter(any),
    after_completion,
    random_actions,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=orders, script=st.one_of(scripts, charged_at_close), refunds=after_completion)
def test_refunds_after_completion_give_back_at_most_what_each_piece_was_charged(
    order: TrialOrder, script: list[tuple[Any, ...]], refunds: list[tuple[Any, ...]]
):
    driver = Driver(order, refunds_after_completion=True)
    t = driver.trial
    for action in script:
        if action[0] == "advance":
            driver.advance(timedelta(hours=action[1]))
        elif (pair := command_for(driver, action)) is not None:
            with contextlib.suppress(DomainError):
                pair[0](pair[1], driver.now)
                if action[0] == "refund":
                    event("a refund while the trial ran")
            driver.settle()
            check_money(driver)
    for _ in range(60):
        if t.final_status is not None:
            break
        drive_one_day(driver)
    if t.status != TrialStatus.COMPLETED:
        return
    window = t.refunds_until
    # The script's own advances may have outlived the window (days of them, after an early completion).
    assert t.completed_at is not None
    over = driver.now >= t.completed_at + t.policy.refund_window
    assert (window is None) == (t.payments.charged == 0 or over), (
        "a completed trial that charged keeps its refund window"
    )
    for action in refunds:
        apply, command = command_for(driver, action) or (None, None)
        assert apply is not None
        before = view_of(t).model_dump()
        try:
            apply(command, driver.now)
        except DomainError as err:
            assert err.code and err.message
            assert view_of(t).model_dump() == before, f"refused refund ({err.code}) changed the trial"
        driver.settle()
        check_money(driver)
        event("a refund after completion" if t.payments.refunded else "no refund")
    if window is not None:
        driver.advance(t.policy.refund_window)
        assert t.finished
        with pytest.raises(DomainError) as closed:
            t.refund(cmd.Refund(piece_id=next(iter(t.pieces)), reason="late", actor="cr"), driver.now)
        assert closed.value.code.value == "trial_finished"
    check_money(driver)
