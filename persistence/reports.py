"""Reports for client relations and buying, from the read model (never from Temporal's visibility).

Every report covers the trials *opened* in a date range [since, until) and groups money by currency: no
amount is ever converted (there is no silent FX), so a designer sold in two currencies has two rows.

- `keep_rate`: of the pieces with a decision, how many were kept, the price of those kept, and what
  support refunded of them after the charge (goodwill, a fault found later), by personal shopper, region,
  tier, designer or SKU. revenue kept - refunded is what the kept pieces brought in the end.
- `return_reasons`: why returned pieces went back, by SKU or designer ("not given" when the client did
  not say).
- `decision_time`: the average time from a piece's delivery to its (last) decision, by the same groups as
  the keep rate.
- `attention`: trials needing staff by hub (region), with the open trials beside them.
- `voice`: the voice of the customer, by SKU or designer: pieces decided, kept, returned and exchanged, the reasons
  returned pieces went back with their counts, and the clients' own words (the newest few, verbatim, with
  the piece's size, decision and reason), the most returned first.
- `size_fit`: by designer and size, pieces decided, kept, and returned too small or too large: where a
  house runs small or large.
- `keep_totals`: pieces decided and kept over the range, for a week against the week before.

The piece reports read the pieces table alone: each piece carries its trial's opening time, currency, tier,
region and shopper (they never change), so a date range is one range scan of the index on
`trial_opened_at` with no join. Measured at 1,000,000 trials by bench/bench_reports.py.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, and_, case, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from domain.status import FINAL_STATUSES
from persistence.models import PieceRecord, TrialRecord

KeepRateBy = Literal["shopper", "region", "tier", "designer", "sku"]
ReasonsBy = Literal["sku", "designer"]
NOT_GIVEN = "not_given"
NO_DESIGNER = "(no designer)"
NO_SHOPPER = "(no shopper)"
DEFAULT_DAYS = 30
MAX_DAYS = 3660
# The days a range may name. Outside them a day's arithmetic overflows Python's dates (a request for
# 0001-01-01 was a 500 once); no trial opened before 2000 or will after 2999.
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)


@dataclass(frozen=True)
class DateRange:
    """Whole UTC days, `first` to `last` included, by the day a trial opened; [start, end) as instants."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last, time(), UTC) + timedelta(days=1)


def date_range(since: date | None, until: date | None, today: date) -> DateRange:
    """The range a report covers: the last 30 days to `until` (today) by default, at most ten years.
    Raises ValueError with the sentence to show when the range cannot be."""
    for name, day in (("since", since), ("until", until)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise ValueError(f"{name} must lie between {EARLIEST} and {LATEST}.")
    last = until or today
    first = since or max(EARLIEST, last - timedelta(days=DEFAULT_DAYS - 1))
    if first > last:
        raise ValueError("since must not be after until.")
    if (last - first).days >= MAX_DAYS:
        raise ValueError(f"A report covers at most {MAX_DAYS} days.")
    return DateRange(first, last)


@dataclass(frozen=True)
class KeepRateRow:
    key: str
    currency: str
    decided: int
    kept: int
    keep_rate: float
    revenue_kept: int  # minor units of `currency`
    refunded: int  # of these pieces, what support gave back after charging them (minor units)


@dataclass(frozen=True)
class ReasonRow:
    key: str
    reason: str
    returned: int


@dataclass(frozen=True)
class DecisionTimeRow:
    key: str
    decided: int
    average_hours: float


@dataclass(frozen=True)
class Quote:
    words: str
    decision: str
    reason: str | None
    size: str | None
    decided_at: datetime | None


@dataclass(frozen=True)
class VoiceRow:
    key: str
    decided: int
    kept: int
    returned: int
    exchanged: int  # of the returned, exchanged for another piece (a size, a colour): a buying signal
    reasons: dict[str, int]  # why the returned ones went back, most frequent first
    quotes: list[Quote]  # the clients' own words, newest first


@dataclass(frozen=True)
class SizeFitRow:
    designer: str
    size: str
    decided: int
    kept: int
    too_small: int
    too_large: int


@dataclass(frozen=True)
class AttentionRow:
    hub: str
    needing_attention: int
    open_trials: int


def _group(by: str) -> ColumnElement[Any]:
    columns: dict[str, Any] = {
        "shopper": func.coalesce(PieceRecord.personal_shopper_id, literal(NO_SHOPPER)),
        "region": PieceRecord.region,
        "tier": PieceRecord.tier,
        "designer": func.coalesce(PieceRecord.designer, literal(NO_DESIGNER)),
        "sku": PieceRecord.sku,
    }
    labelled: ColumnElement[Any] = columns[by].label("key")
    return labelled


# What a range is of: the trials opened in it (every report), or the pieces decided in it (the weekly digest:
# what clients said that week, whenever their trial opened). Both columns are indexed.
On = Literal["opened", "decided"]


def _in_range(since: datetime, until: datetime, on: On = "opened") -> ColumnElement[bool]:
    column = PieceRecord.trial_opened_at if on == "opened" else PieceRecord.decided_at
    return and_(column >= since, column < until)


def keep_rate(engine: Engine, by: KeepRateBy, since: datetime, until: datetime) -> list[KeepRateRow]:
    key = _group(by)
    kept = func.sum(case((PieceRecord.decision == "keep", 1), else_=0))
    revenue = func.sum(case((PieceRecord.decision == "keep", PieceRecord.price), else_=0))
    refunded = func.coalesce(func.sum(PieceRecord.refunded), 0)
    query = (
        select(
            key,
            PieceRecord.currency,
            func.count().label("decided"),
            kept.label("kept"),
            revenue.label("revenue"),
            refunded.label("refunded"),
        )
        .where(_in_range(since, until), PieceRecord.decision.is_not(None))
        .group_by(key, PieceRecord.currency)
        .order_by(PieceRecord.currency, key)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        KeepRateRow(
            r.key,
            r.currency,
            r.decided,
            int(r.kept),
            round(int(r.kept) / r.decided, 4),
            int(r.revenue),
            int(r.refunded),
        )
        for r in rows
    ]


def return_reasons(
    engine: Engine, by: ReasonsBy, since: datetime, until: datetime, on: On = "opened"
) -> list[ReasonRow]:
    key = _group(by)
    reason = func.coalesce(PieceRecord.return_reason, literal(NOT_GIVEN)).label("reason")
    query = (
        select(key, reason, func.count().label("returned"))
        .where(_in_range(since, until, on), PieceRecord.decision == "return")
        .group_by(key, reason)
        .order_by(key, func.count().desc(), reason)
    )
    with engine.connect() as conn:
        return [ReasonRow(r.key, r.reason, r.returned) for r in conn.execute(query).all()]


def voice(
    engine: Engine,
    by: ReasonsBy,
    since: datetime,
    until: datetime,
    *,
    quotes: int = 5,
    top: int | None = None,
    on: On = "opened",
) -> list[VoiceRow]:
    """The most returned groups first (`top` of them, or all), each with its reasons and newest `quotes`."""
    key = _group(by)
    returned = func.sum(case((PieceRecord.decision == "return", 1), else_=0))
    kept = func.sum(case((PieceRecord.decision == "keep", 1), else_=0))
    exchanged = func.sum(case((PieceRecord.exchanged_for.is_not(None), 1), else_=0))
    totals = (
        select(
            key,
            func.count().label("decided"),
            kept.label("kept"),
            returned.label("returned"),
            exchanged.label("exchanged"),
        )
        .where(_in_range(since, until, on), PieceRecord.decision.is_not(None))
        .group_by(key)
        .order_by(returned.desc(), key)
    )
    # The newest words of each group: numbered within the group by when they were said.
    newest = func.row_number().over(partition_by=key, order_by=(PieceRecord.decided_at.desc(), PieceRecord.trial_id))
    said = (
        select(key, PieceRecord.feedback, PieceRecord.decision, PieceRecord.return_reason, PieceRecord.size,
               PieceRecord.decided_at, newest.label("n"))
        .where(_in_range(since, until, on), PieceRecord.feedback.is_not(None), PieceRecord.decision.is_not(None))
    )  # fmt: skip
    with engine.connect() as conn:
        groups = conn.execute(totals.limit(top) if top else totals).all()
        keys = [g.key for g in groups]
        if top:  # the words of the groups shown only: a year's words of every group is a long sort
            said = said.where(key.element.in_(keys))
        words_of = said.subquery()
        reasons: dict[str, dict[str, int]] = {k: {} for k in keys}
        words: dict[str, list[Quote]] = {k: [] for k in keys}
        for r in return_reasons(engine, by, since, until, on):
            if r.key in reasons:
                reasons[r.key][r.reason] = r.returned
        for q in conn.execute(select(words_of).where(words_of.c.n <= quotes).order_by(words_of.c.key, words_of.c.n)):
            if q.key in words:
                words[q.key].append(Quote(q.feedback, q.decision, q.return_reason, q.size, q.decided_at))
    return [
        VoiceRow(g.key, g.decided, int(g.kept), int(g.returned), int(g.exchanged), reasons[g.key], words[g.key])
        for g in groups
    ]


def size_fit(engine: Engine, since: datetime, until: datetime, on: On = "opened") -> list[SizeFitRow]:
    """By designer and size (pieces with a size and a decision): where a house runs small or large."""
    designer = func.coalesce(PieceRecord.designer, literal(NO_DESIGNER)).label("designer")

    def count(condition: ColumnElement[bool]) -> Any:
        return func.sum(case((condition, 1), else_=0))

    query = (
        select(
            designer, PieceRecord.size, func.count().label("decided"),
            count(PieceRecord.decision == "keep").label("kept"),
            count(PieceRecord.return_reason == "too_small").label("too_small"),
            count(PieceRecord.return_reason == "too_large").label("too_large"),
        )
        .where(_in_range(since, until, on), PieceRecord.decision.is_not(None), PieceRecord.size.is_not(None))
        .group_by(designer, PieceRecord.size)
        .order_by(designer, PieceRecord.size)
    )  # fmt: skip
    with engine.connect() as conn:
        return [
            SizeFitRow(r.designer, r.size, r.decided, int(r.kept), int(r.too_small), int(r.too_large))
            for r in conn.execute(query)
        ]


def keep_totals(engine: Engine, since: datetime, until: datetime, on: On = "opened") -> tuple[int, int]:
    """Pieces decided, and of those kept, of the trials opened in the range."""
    query = select(func.count(), func.sum(case((PieceRecord.decision == "keep", 1), else_=0))).where(
        _in_range(since, until, on), PieceRecord.decision.is_not(None)
    )
    with engine.connect() as conn:
        decided, kept = conn.execute(query).one()
    return int(decided), int(kept or 0)


def decision_time(engine: Engine, by: KeepRateBy, since: datetime, until: datetime) -> list[DecisionTimeRow]:
    key = _group(by)
    seconds = _seconds_between(engine, PieceRecord.delivered_at, PieceRecord.decided_at)
    query = (
        select(key, func.count().label("decided"), func.avg(seconds).label("seconds"))
        .where(_in_range(since, until), PieceRecord.decided_at.is_not(None), PieceRecord.delivered_at.is_not(None))
        .group_by(key)
        .order_by(key)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [DecisionTimeRow(r.key, r.decided, round(float(r.seconds or 0) / 3600, 2)) for r in rows]


def attention(engine: Engine, since: datetime, until: datetime) -> list[AttentionRow]:
    open_trial = TrialRecord.status.not_in([s.value for s in FINAL_STATUSES])
    query = (
        select(
            TrialRecord.region.label("hub"),
            func.sum(case((TrialRecord.needs_attention.is_(True), 1), else_=0)).label("needing"),
            func.sum(case((open_trial, 1), else_=0)).label("open"),
        )
        .where(TrialRecord.opened_at >= since, TrialRecord.opened_at < until)
        .group_by(TrialRecord.region)
        .order_by(TrialRecord.region)
    )
    with engine.connect() as conn:
        return [AttentionRow(r.hub, int(r.needing), int(r.open)) for r in conn.execute(query).all()]


def _seconds_between(engine: Engine, start: Any, end: Any) -> ColumnElement[Any]:
    # SQLite keeps timestamps as ISO text (julianday reads it, offset included); PostgreSQL as timestamptz.
    if engine.dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)
