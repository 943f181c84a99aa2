"""The weekly digest for the Head of EIP Buying: the voice of the customer, delivered.

A digest covers one week of decisions (Monday to Sunday, UTC): the designers and SKUs clients sent back most,
each with why (the reasons and their counts) and what clients said (their words, verbatim); where a house
runs small or large (by designer and size); and the keep rate against the week before. What it is made of
is read from the read model (persistence/digest.py); this module says what a digest holds and the rules
that are not a query.
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel

# A size runs small (or large) when at least this many of its decided pieces went back for it, and they are
# at least this share of them: one client's "too small" is an anecdote, not a pattern.
SIZE_PATTERN_MIN = 2
SIZE_PATTERN_SHARE = 0.3


class DigestQuote(BaseModel):
    words: str
    decision: str
    reason: str | None
    size: str | None


class DigestGroup(BaseModel):
    """A designer or SKU: how its pieces were decided, why the returned ones went back, and what was said."""

    key: str
    decided: int
    kept: int
    returned: int
    exchanged: int
    reasons: dict[str, int]
    quotes: list[DigestQuote]


class SizePattern(BaseModel):
    designer: str
    size: str
    decided: int
    too_small: int
    too_large: int
    verdict: Literal["runs small", "runs large"]


class KeepRate(BaseModel):
    decided: int
    kept: int

    @property
    def rate(self) -> float | None:
        return self.kept / self.decided if self.decided else None


class Digest(BaseModel):
    week_starts: date
    week_ending: date  # the week's last day, included
    this_week: KeepRate
    week_before: KeepRate
    designers: list[DigestGroup]
    skus: list[DigestGroup]
    sizes: list[SizePattern]

    @property
    def empty(self) -> bool:
        return self.this_week.decided == 0


def week_ending_before(day: date) -> date:
    """The last day (a Sunday) of the latest whole week that ended before `day`."""
    return day - timedelta(days=day.weekday() + 1)


def week_bounds(week_ending: date) -> tuple[datetime, datetime]:
    """[start, end) of the seven days ending with `week_ending`, in UTC."""
    end = datetime.combine(week_ending + timedelta(days=1), time(), UTC)
    return end - timedelta(days=7), end


def size_pattern(
    designer: str, size: str, decided: int, too_small: int, too_large: int
) -> SizePattern | None:  # fmt: skip
    """A size that runs small or large, or None when its returns for fit are too few to say."""
    for count, verdict in ((too_small, "runs small"), (too_large, "runs large")):
        if count >= SIZE_PATTERN_MIN and count >= SIZE_PATTERN_SHARE * decided:
            return SizePattern(
                designer=designer, size=size, decided=decided, too_small=too_small, too_large=too_large,
                verdict=verdict,
            )  # fmt: skip
    return None
