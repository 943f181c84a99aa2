"""A client's whole story, and a personal shopper's open trials: what the people who look after EIP clients
read before they write to one.

Built from the read model's rows (persistence/customers.py) by two pure functions, `story_of` and
`open_trials_of`, so the rules are tested without a database:

- **Keep rate** is of the pieces with a decision, those decided keep (as the reports count it). **Spend
  kept** is what the client paid in the end for what they kept: the price of pieces in a charged fate, less
  what support refunded; per currency, never converted.
- **Sizes** are the client's sizes per designer, kept and returned (the pieces with a decision and a size).
- **Words** are the client's own, on each piece, with the reason a returned piece went back: newest first.
- **Open holds** are what stands authorized on the client's card in trials still open.
- A shopper's trial **needs a nudge** when the client has pieces undecided and the trial ends within
  `DECIDE_NUDGE` (48 hours), or pieces still to send back and the return deadline within `RETURN_NUDGE`
  (24 hours): those come first, then the rest by when they end.
"""

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from domain.pieces import CHARGED_FATES, PieceState
from persistence.customers import OPEN_STATUSES, PieceRow, TrialRow

# How many of a client's trials the story reads (their most recent), and of their words it shows.
STORY_TRIALS = 500
STORY_WORDS = 200
# How many open trials of one shopper are listed (a shopper looks after a few dozen clients).
SHOPPER_TRIALS = 500
DECIDE_NUDGE = timedelta(hours=48)
RETURN_NUDGE = timedelta(hours=24)
_OPEN = frozenset(OPEN_STATUSES)


class Money(BaseModel):
    currency: str
    amount: int


class StoryTrial(BaseModel):
    """One trial of the client, in a line."""

    order_id: str
    status: str
    opened_at: datetime
    currency: str
    value: int
    charged: int
    pieces: int
    kept: int
    returned: int
    needs_attention: bool


class StoryMonth(BaseModel):
    """The client's trials opened in one month (UTC): how much they kept, and what they paid for it."""

    month: str
    trials: int
    decided: int
    kept: int
    keep_rate: float | None
    spend_kept: list[Money]


class SizeLine(BaseModel):
    designer: str
    size: str
    kept: int
    returned: int


class ReasonCount(BaseModel):
    reason: str
    count: int


class ClientWords(BaseModel):
    """What the client said of a piece (their own words), and why it went back if it did."""

    order_id: str
    piece_id: str
    sku: str
    designer: str | None
    size: str | None
    decision: str | None
    reason: str | None
    words: str | None
    decided_at: datetime | None


class OpenHold(BaseModel):
    order_id: str
    currency: str
    amount: int


class CustomerStory(BaseModel):
    """Every trial of a client, with what they kept, returned and said."""

    customer_id: str
    tier: str
    region: str
    personal_shopper_id: str | None
    trials_total: int
    first_trial_at: datetime
    decided: int
    kept: int
    keep_rate: float | None
    spend_kept: list[Money]
    open_trials: list[StoryTrial]
    open_holds: list[OpenHold]
    trials: list[StoryTrial]
    by_month: list[StoryMonth]
    sizes: list[SizeLine]
    return_reasons: list[ReasonCount]
    words: list[ClientWords]
    truncated: bool


class ShopperTrial(BaseModel):
    """An open trial of the shopper's client: who has not decided, and who needs a nudge."""

    order_id: str
    customer_id: str
    status: str
    trial_ends_at: datetime | None
    return_deadline: datetime | None
    pieces: int
    undecided: int
    to_send_back: int
    needs_attention: bool
    nudge: Literal["decide", "send_back"] | None


class ShopperTrials(BaseModel):
    shopper_id: str
    trials: list[ShopperTrial]
    undecided_clients: int
    to_nudge: int
    truncated: bool


def _money(amounts: dict[str, int]) -> list[Money]:
    return [Money(currency=c, amount=a) for c, a in sorted(amounts.items())]


def _net(p: PieceRow) -> int:
    """What the client paid in the end for the piece (a charged fate, less a refund)."""
    if p.state in CHARGED_FATES:
        return p.price
    return p.price - (p.refunded or 0) if p.state == PieceState.REFUNDED else 0


def _rate(kept: int, decided: int) -> float | None:
    return round(kept / decided, 4) if decided else None


def story_of(customer_id: str, trials: list[TrialRow], pieces: list[PieceRow], truncated: bool) -> CustomerStory:
    """The story of a client with at least one trial; `trials` newest first."""
    by_trial: dict[str, list[PieceRow]] = defaultdict(list)
    for p in pieces:
        by_trial[p.trial_id].append(p)
    currency = {t.trial_id: t.currency for t in trials}
    lines = [
        StoryTrial(
            order_id=t.order_id, status=t.status, opened_at=t.opened_at, currency=t.currency, value=t.value,
            charged=t.charged, pieces=len(by_trial[t.trial_id]),
            kept=sum(1 for p in by_trial[t.trial_id] if p.decision == "keep"),
            returned=sum(1 for p in by_trial[t.trial_id] if p.decision == "return"),
            needs_attention=t.needs_attention,
        )
        for t in trials
    ]  # fmt: skip
    open_ = [line for line, t in zip(lines, trials, strict=True) if t.status in _OPEN]
    holds = [
        OpenHold(order_id=t.order_id, currency=t.currency, amount=t.authorized)
        for t in trials
        if t.status in _OPEN and t.authorized
    ]
    months: dict[str, list[TrialRow]] = defaultdict(list)
    for t in trials:
        months[f"{t.opened_at:%Y-%m}"].append(t)
    by_month = []
    for month, ts in sorted(months.items()):
        ps = [p for t in ts for p in by_trial[t.trial_id]]
        decided, kept = _counts(ps)
        spend: dict[str, int] = defaultdict(int)
        for p in ps:
            if _net(p):
                spend[currency[p.trial_id]] += _net(p)
        by_month.append(
            StoryMonth(month=month, trials=len(ts), decided=decided, kept=kept, keep_rate=_rate(kept, decided),
                       spend_kept=_money(spend))
        )  # fmt: skip
    decided, kept = _counts(pieces)
    spend_all: dict[str, int] = defaultdict(int)
    for p in pieces:
        if _net(p):
            spend_all[currency[p.trial_id]] += _net(p)
    sizes: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for p in pieces:
        if p.size and p.decision:
            sizes[(p.designer or "(no designer)", p.size)][0 if p.decision == "keep" else 1] += 1
    reasons = Counter(p.return_reason or "not_given" for p in pieces if p.decision == "return")
    order_of = {t.trial_id: t.order_id for t in trials}
    said = sorted(
        (p for p in pieces if p.feedback or p.return_reason),
        key=lambda p: (p.decided_at is not None, p.decided_at or datetime.min),
        reverse=True,
    )
    latest = trials[0]
    return CustomerStory(
        customer_id=customer_id, tier=latest.tier, region=latest.region,
        personal_shopper_id=latest.personal_shopper_id, trials_total=len(trials),
        first_trial_at=trials[-1].opened_at, decided=decided, kept=kept, keep_rate=_rate(kept, decided),
        spend_kept=_money(spend_all), open_trials=open_, open_holds=holds, trials=lines, by_month=by_month,
        sizes=[SizeLine(designer=d, size=s, kept=k, returned=r) for (d, s), (k, r) in sorted(sizes.items())],
        return_reasons=[ReasonCount(reason=r, count=n) for r, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0]))],
        words=[
            ClientWords(order_id=order_of[p.trial_id], piece_id=p.piece_id, sku=p.sku, designer=p.designer,
                        size=p.size, decision=p.decision, reason=p.return_reason, words=p.feedback,
                        decided_at=p.decided_at)
            for p in said[:STORY_WORDS]
        ],
        truncated=truncated,
    )  # fmt: skip


def _counts(pieces: list[PieceRow]) -> tuple[int, int]:
    decided = sum(1 for p in pieces if p.decision is not None)
    return decided, sum(1 for p in pieces if p.decision == "keep")


def open_trials_of(
    shopper_id: str, trials: list[TrialRow], pieces: list[PieceRow], now: datetime, truncated: bool
) -> ShopperTrials:
    """A shopper's open trials: those to nudge first, then by when they end."""
    by_trial: dict[str, list[PieceRow]] = defaultdict(list)
    for p in pieces:
        by_trial[p.trial_id].append(p)
    out = []
    for t in trials:
        ps = by_trial[t.trial_id]
        undecided = sum(1 for p in ps if p.state == PieceState.ON_TRIAL and p.decision is None)
        to_send = sum(1 for p in ps if p.state == PieceState.AWAITING_RETURN)
        nudge: Literal["decide", "send_back"] | None = None
        if undecided and t.trial_ends_at is not None and t.trial_ends_at - now <= DECIDE_NUDGE:
            nudge = "decide"
        elif to_send and t.return_deadline is not None and t.return_deadline - now <= RETURN_NUDGE:
            nudge = "send_back"
        out.append(
            ShopperTrial(
                order_id=t.order_id, customer_id=t.customer_id, status=t.status, trial_ends_at=t.trial_ends_at,
                return_deadline=t.return_deadline, pieces=len(ps), undecided=undecided, to_send_back=to_send,
                needs_attention=t.needs_attention, nudge=nudge,
            )
        )  # fmt: skip
    out.sort(key=lambda s: (s.nudge is None, s.trial_ends_at is None, s.trial_ends_at or now))
    return ShopperTrials(
        shopper_id=shopper_id, trials=out, undecided_clients=len({s.customer_id for s in out if s.undecided}),
        to_nudge=sum(1 for s in out if s.nudge), truncated=truncated,
    )  # fmt: skip
