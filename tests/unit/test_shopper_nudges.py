"""Which of a shopper's open trials need a nudge: pieces undecided within 48 hours of the trial's end
(`decide`), pieces still to send back within 24 hours of the return deadline (`send_back`); those first,
the rest by when they end; a trial with nothing to ask for is never nudged."""

from datetime import UTC, datetime, timedelta

from application.customers import open_trials_of
from persistence.customers import PieceRow, TrialRow

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
H = timedelta(hours=1)


def trial(order_id: str, status: str, ends_in: timedelta | None, returns_in: timedelta | None = None) -> TrialRow:
    return TrialRow(
        order_id=order_id, trial_id=f"style-trial-{order_id}", status=status, customer_id=f"cus-{order_id}",
        tier="EIP", region="UK", personal_shopper_id="ps-07", currency="GBP", value=100, authorized=100, charged=0,
        needs_attention=False, opened_at=NOW - 7 * 24 * H, trial_ends_at=NOW + ends_in if ends_in else None,
        return_deadline=NOW + returns_in if returns_in else None,
    )  # fmt: skip


def piece(order_id: str, state: str, decision: str | None = None) -> PieceRow:
    return PieceRow(
        trial_id=f"style-trial-{order_id}", piece_id="p1", sku="S", designer=None, size=None, price=100,
        state=state, decision=decision, decided_at=None, return_reason=None, feedback=None, refunded=None,
    )  # fmt: skip


def test_nudges_come_first_and_only_where_the_client_has_something_to_do():
    trials = [
        trial("far", "ON_TRIAL", 5 * 24 * H),  # undecided, but days to go
        trial("decided", "ON_TRIAL", 10 * H),  # ends soon, everything decided
        trial("soon", "ON_TRIAL", 30 * H),  # undecided, ends within 48 h
        trial("back", "AWAITING_RETURNS", -3 * 24 * H, 20 * H),  # a piece to send back within 24 h
        trial("transit", "IN_TRANSIT", None),
    ]
    pieces = [
        piece("far", "ON_TRIAL"), piece("decided", "ON_TRIAL", "keep"), piece("soon", "ON_TRIAL"),
        piece("back", "AWAITING_RETURN", "return"), piece("transit", "IN_TRANSIT"),
    ]  # fmt: skip
    listed = open_trials_of("ps-07", trials, pieces, NOW, truncated=False)
    assert [(t.order_id, t.nudge) for t in listed.trials] == [
        ("back", "send_back"), ("soon", "decide"), ("decided", None), ("far", None), ("transit", None),
    ]  # fmt: skip
    assert (listed.to_nudge, listed.undecided_clients) == (2, 2)
    assert listed.trials[0].to_send_back == 1
