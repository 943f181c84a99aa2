"""Reports for client relations and buying, as the application offers them: the read model's report
queries (persistence/reports.py) bound to its database, and the date ranges they take."""

from datetime import datetime

from sqlalchemy import Engine

from persistence import reports as queries
from persistence.db import make_engine
from persistence.reports import (
    AttentionRow,
    DateRange,
    DecisionTimeRow,
    KeepRateBy,
    KeepRateRow,
    ReasonRow,
    ReasonsBy,
    VoiceRow,
    date_range,
)

__all__ = [
    "AttentionRow", "DateRange", "DecisionTimeRow", "KeepRateBy", "KeepRateRow", "ReasonRow", "ReasonsBy",
    "Reports", "VoiceRow", "date_range",
]  # fmt: skip


class Reports:
    """Each report over the trials opened in [since, until): blocking queries, for a thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def for_database(cls, url: str) -> "Reports":
        """For a tool with no API in front (`styletrial report`): the read model at `url`."""
        return cls(make_engine(url))

    def keep_rate(self, by: KeepRateBy, since: datetime, until: datetime) -> list[KeepRateRow]:
        return queries.keep_rate(self._engine, by, since, until)

    def return_reasons(self, by: ReasonsBy, since: datetime, until: datetime) -> list[ReasonRow]:
        return queries.return_reasons(self._engine, by, since, until)

    def voice(self, by: ReasonsBy, since: datetime, until: datetime, top: int | None = None) -> list[VoiceRow]:
        return queries.voice(self._engine, by, since, until, top=top)

    def decision_time(self, by: KeepRateBy, since: datetime, until: datetime) -> list[DecisionTimeRow]:
        return queries.decision_time(self._engine, by, since, until)

    def attention(self, since: datetime, until: datetime) -> list[AttentionRow]:
        return queries.attention(self._engine, since, until)
