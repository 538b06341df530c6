"""A synchronized-retries finding lists its delays by retry number, not in the order the engine returned
its groups (that order changed with DuckDB's thread count: the findings' JSON changed with it)."""

from __future__ import annotations

import datetime as dt

import pytest

from flowscope.analysis import analyze, retries
from tests.analysis.helpers import T0
from tests.analysis.test_analyses import storm_world

DAY = dt.timedelta(days=1)


@pytest.mark.parametrize("step", [1, -1])
def test_synchronized_retries_list_their_delays_in_retry_order_whatever_order_the_engine_returns(monkeypatch, step):
    real = retries.execute
    monkeypatch.setattr(retries, "execute", lambda expr, **kw: real(expr, **kw).iloc[::step].reset_index(drop=True))
    df = analyze(storm_world(jitter=False).tables(), since=T0, until=T0 + 2 * DAY, now=T0 + 2 * DAY)
    found = df[df["kind"] == "synchronized_retries"]
    assert len(found) == 1
    delays = found.iloc[0].evidence["delays_by_attempt"]
    assert list(delays) == sorted(delays, key=int) and len(delays) == 3
