"""The weekly digest's figures from the read model (domain/digest.py says what a digest holds), and the
record of the digests sent, so that a retried sending never mails the same week twice."""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from domain.digest import Digest, DigestGroup, DigestQuote, KeepRate, size_pattern, week_bounds
from persistence import reports
from persistence.models import DigestSentRecord

# How many designers and SKUs the digest names, and how many of their clients' words it quotes.
TOP = 5
QUOTES = 3


def weekly_digest(engine: Engine, week_ending: date) -> Digest:
    """The digest of the pieces decided in the seven days ending with `week_ending`."""
    start, end = week_bounds(week_ending)
    before = (start - timedelta(days=7), start)

    def groups(by: reports.ReasonsBy) -> list[DigestGroup]:
        rows = reports.voice(engine, by, start, end, quotes=QUOTES, top=TOP, on="decided")
        return [
            DigestGroup(
                key=r.key, decided=r.decided, kept=r.kept, returned=r.returned, exchanged=r.exchanged, reasons=r.reasons,
                quotes=[DigestQuote(words=q.words, decision=q.decision, reason=q.reason, size=q.size) for q in r.quotes],
            )
            for r in rows
            if r.returned
        ]  # fmt: skip

    sizes = [
        pattern
        for r in reports.size_fit(engine, start, end, on="decided")
        if (pattern := size_pattern(r.designer, r.size, r.decided, r.too_small, r.too_large)) is not None
    ]
    this_week = reports.keep_totals(engine, start, end, on="decided")
    week_before = reports.keep_totals(engine, *before, on="decided")
    return Digest(
        week_starts=start.date(), week_ending=week_ending,
        this_week=KeepRate(decided=this_week[0], kept=this_week[1]),
        week_before=KeepRate(decided=week_before[0], kept=week_before[1]),
        designers=groups("designer"), skus=groups("sku"),
        sizes=sorted(sizes, key=lambda s: (-(s.too_small + s.too_large), s.designer, s.size)),
    )  # fmt: skip


class SqlDigestBook:
    """Which digests were sent (by key: the week and the recipients), in the read model's database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def sent(self, key: str) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(select(DigestSentRecord.key).where(DigestSentRecord.key == key)).first() is not None

    def mark_sent(self, key: str) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(DigestSentRecord).values(key=key, sent_at=datetime.now(UTC)))
        except IntegrityError:
            pass  # marked by an earlier attempt


class SqlDigestSource:
    """The digest's figures from the read model behind `engine` (activities.digest.DigestSource)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def weekly(self, week_ending: date) -> Digest:
        return weekly_digest(self._engine, week_ending)
