"""One rule makes a moment UTC (`base.utc_stamp`): a naive moment is read as UTC (the store's are), an aware one
converted. The run page's times (`runs.seen_running`, `runs.since`) read it as a pandas Timestamp; findings and
literals (`to_utc`, `utc`) and a query's moments (`tables._ts`) as a datetime, a missing one None (or, for `utc`,
an error). `runs` had its own copy of the rule and `tables` another: these tables pin what each caller reads for
every kind of moment it is given."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from flowscope.analysis import runs
from flowscope.analysis import tables as q
from flowscope.analysis.base import to_utc, utc, utc_stamp
from flowscope.model import C, Status

NOON = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)

MOMENTS = [
    (dt.datetime(2026, 3, 1, 12), NOON),                                                   # naive: read as UTC
    (dt.datetime(2026, 3, 1, 13, tzinfo=ZoneInfo("Europe/Paris")), NOON),                 # another zone
    (dt.datetime(2026, 3, 1, 7, tzinfo=dt.timezone(dt.timedelta(hours=-5))), NOON),       # a fixed offset
    (dt.datetime(2026, 3, 1, 12, 0, 0, 7, tzinfo=dt.timezone.utc), NOON + dt.timedelta(microseconds=7)),
    (pd.Timestamp("2026-03-01 12:00"), NOON),                                               # pandas, naive
    (pd.Timestamp("2026-03-01 21:00", tz="Asia/Tokyo"), NOON),                              # pandas, aware
    (pd.Timestamp("2026-03-01 12:00", tz="UTC").as_unit("us"), NOON),                       # as the store reads it
]
"""Datetimes and timestamps, as every caller passes them, and the UTC moment each is."""

MISSING = [None, float("nan"), np.nan, pd.NaT]


@pytest.mark.parametrize(("value", "moment"), MOMENTS)
def test_utc_stamp_is_a_utc_timestamp(value, moment):
    stamp = utc_stamp(value)
    assert type(stamp) is pd.Timestamp and stamp == moment and str(stamp.tz) == "UTC"


@pytest.mark.parametrize(("value", "moment"), [
    ("2026-03-01T13:00:00+01:00", NOON),                                                    # text, with its offset
    ("2026-03-01 12:00", NOON),                                                             # text, naive
    (np.datetime64("2026-03-01T12:00"), NOON),
])
def test_utc_stamp_reads_what_pandas_reads(value, moment):
    assert utc_stamp(value) == moment


def test_utc_stamp_keeps_nanoseconds_and_a_missing_moment_is_nat():
    assert utc_stamp(pd.Timestamp("2026-03-01 12:00:00.000000001")).nanosecond == 1
    assert utc_stamp(None) is pd.NaT and utc_stamp(pd.NaT) is pd.NaT


@pytest.mark.parametrize(("value", "moment"), MOMENTS)
def test_to_utc_and_utc_are_utc_datetimes(value, moment):
    for converted in (to_utc(value), utc(value)):
        assert type(converted) is dt.datetime and converted == moment and converted.tzinfo is dt.timezone.utc


@pytest.mark.parametrize("value", MISSING)
def test_a_missing_moment_is_none_to_to_utc_and_an_error_to_utc(value):
    assert to_utc(value) is None
    with pytest.raises(ValueError, match="expected a timestamp"):
        utc(value)


@pytest.mark.parametrize("value", ["2026-03-01", dt.date(2026, 3, 1), np.datetime64("2026-03-01T12:00"), 5])
def test_to_utc_returns_anything_but_a_datetime_as_it_is(value):
    assert to_utc(value) is value


@pytest.mark.parametrize(("value", "moment"), [*MOMENTS, (np.datetime64("2026-03-01T12:00"), NOON),
                                               *((m, None) for m in [*MISSING, np.datetime64("NaT"), pd.NA])])
def test_a_querys_moment_is_a_utc_datetime_or_none(value, moment):
    converted = q._ts(value)
    assert converted == moment and (moment is None or type(converted) is dt.datetime)


def test_the_run_page_reads_timestamps_and_timedeltas():
    """The run page draws its Gantt to `seen_running(...).to_pydatetime()`: a datetime has no such method."""
    row = {C.status: Status.RUNNING.value, C.started_at: dt.datetime(2026, 3, 1, 11), C.collected_at: None}
    seen = runs.seen_running(row, dt.datetime(2026, 3, 1, 13, tzinfo=ZoneInfo("Europe/Paris")))
    assert type(seen) is pd.Timestamp and seen == NOON
    age = runs.since(row[C.started_at], seen)
    assert type(age) is pd.Timedelta and age == pd.Timedelta(hours=1)
