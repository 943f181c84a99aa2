"""The date range of a report: defaults, limits, and days at the edges of the calendar refused with a
sentence instead of overflowing (the fuzzer's `until=0001-01-01` was a 500)."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from persistence.reports import EARLIEST, LATEST, MAX_DAYS, date_range

TODAY = date(2026, 12, 2)


def test_the_last_thirty_days_by_default():
    r = date_range(None, None, TODAY)
    assert (r.first, r.last) == (TODAY - timedelta(days=29), TODAY)
    assert r.end - r.start == timedelta(days=30)


@pytest.mark.parametrize(
    "since, until, sentence",
    [
        (date(2026, 11, 30), date(2026, 11, 1), "since must not be after until."),
        (date(2010, 1, 1), date(2026, 1, 1), f"A report covers at most {MAX_DAYS} days."),
        (None, date(1, 1, 1), "until must lie between 2000-01-01 and 2999-12-31."),
        (date(9999, 12, 31), None, "since must lie between 2000-01-01 and 2999-12-31."),
    ],
)
def test_a_range_that_cannot_be_is_refused_with_its_sentence(since, until, sentence):
    with pytest.raises(ValueError) as info:
        date_range(since, until, TODAY)
    assert str(info.value) == sentence


@given(st.one_of(st.none(), st.dates()), st.one_of(st.none(), st.dates()))
def test_any_days_give_a_range_or_a_sentence_never_an_overflow(since, until):
    try:
        r = date_range(since, until, TODAY)
    except ValueError as err:
        assert str(err).endswith(".")
        return
    assert EARLIEST <= r.first <= r.last <= LATEST and r.start < r.end
