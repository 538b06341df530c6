"""`measures.previous_covered`: when a figure may be compared with the previous window (the one rule the
dashboard's deltas, reports and the analyses' previous-window comparisons share)."""

from __future__ import annotations

import datetime as dt

import pytest

from flowscope.analysis import measures
from flowscope.model import UTC

SINCE = dt.datetime(2026, 3, 8, tzinfo=UTC)
UNTIL = SINCE + dt.timedelta(days=7)
DAY = dt.timedelta(days=1)


@pytest.mark.parametrize("first, covered", [
    (None, False),                                     # no data at all
    (SINCE - 7 * DAY, True),                           # the whole previous week
    (SINCE - 30 * DAY, True),
    (SINCE - 7 * DAY * 0.9, True),                     # exactly 90% of it
    (SINCE - 7 * DAY * 0.9 + dt.timedelta(seconds=1), False),
    (SINCE - DAY, False),                              # one day of seven: no "+15,301"
    (SINCE, False),                                    # data begins with the window
    (SINCE + DAY, False),
])
def test_previous_covered(first, covered):
    assert measures.previous_covered(first, SINCE, UNTIL) is covered


def test_enormous_windows_do_not_overflow():
    since, until = dt.datetime(1970, 1, 1, tzinfo=UTC), dt.datetime(9999, 1, 1, tzinfo=UTC)
    assert measures.previous_covered(since, since, until) is False
    assert measures.previous_covered(dt.datetime(1, 1, 1, tzinfo=UTC), dt.datetime(5000, 1, 1, tzinfo=UTC),
                                     dt.datetime(9000, 1, 1, tzinfo=UTC)) is True
