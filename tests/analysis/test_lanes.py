"""The analyses in two lanes (`flowscope.analysis.lanes`, issue 15): the same findings as one lane, a
failure in either lane is the run's failure, an early end of the first lane stops the second, and a
shared result is computed once whichever lane asks first."""

from __future__ import annotations

import datetime as dt
import threading
import time

import duckdb
import ibis
import pandas as pd
import pytest

from flowscope.analysis import base, lanes, suite
from flowscope.analysis.run import analyze_store
from flowscope.analysis.suite import build_context, findings_to_records
from tests.analysis.helpers import DEMO_END, T0, World, at

END = DEMO_END
WINDOW = {"since": END - dt.timedelta(days=14), "until": END, "now": END}


@pytest.fixture
def lanes_opened(monkeypatch) -> list[bool]:
    """Records, per run, whether it had a second lane."""
    opened: list[bool] = []
    real = lanes.second_lane

    def spy(tables):
        lane = real(tables)
        opened.append(lane is not None)
        return lane

    monkeypatch.setattr(lanes, "second_lane", spy)
    return opened


def test_two_lanes_find_what_one_lane_finds(demo_store, lanes_opened, monkeypatch):
    two = findings_to_records(analyze_store(demo_store, **WINDOW))
    assert lanes_opened == [True]
    monkeypatch.setattr(lanes, "second_lane", lambda tables: None)
    one = findings_to_records(analyze_store(demo_store, **WINDOW))
    assert len(one) > 5
    assert {f["kind"] for f in one} & {"retry_storm", "slow_step", "stuck_execution"}, \
        "the demo must give the second lane something to find"
    assert two == one


def test_tables_a_cursor_cannot_see_run_in_one_lane(lanes_opened):
    w = World()
    wf = w.workflow("orders")
    ex = w.execution(wf, at(hours=1))
    w.step(ex, "Charge", at(hours=1))
    found = suite.analyze(w.tables(), since=T0, until=T0 + dt.timedelta(days=1), now=T0 + dt.timedelta(days=1))
    assert lanes_opened == [False]       # Arrow registered on one connection: a cursor cannot read it
    assert isinstance(found, pd.DataFrame)


def _failing(ctx):
    raise RuntimeError("the second lane broke")


def test_a_failure_in_the_second_lane_fails_the_run(demo_store, monkeypatch):
    monkeypatch.setattr(suite, "ANALYSES", (*suite.ANALYSES, _failing))
    monkeypatch.setattr(suite, "SECOND_LANE", suite.SECOND_LANE | {_failing})
    with pytest.raises(RuntimeError, match="the second lane broke"):
        analyze_store(demo_store, **WINDOW)


def test_a_failure_in_the_first_lane_fails_the_run_and_stops_the_second(demo_store):
    tables = demo_store.tables(["steps"])
    lane = lanes.second_lane(tables)
    assert lane is not None
    started = threading.Event()
    ran: list[int] = []

    def second() -> None:
        started.set()
        for i in range(10_000):
            base.execute(tables["steps"].count().as_table())
            ran.append(i)

    def first() -> None:
        started.wait(5)
        raise RuntimeError("the first lane broke")

    with pytest.raises(RuntimeError, match="the first lane broke"):
        lanes.run_two(first, second, lane)
    assert len(ran) < 10_000          # stopped at its next query, not run to its end


def test_an_interruption_of_the_first_lane_interrupts_the_second_lanes_query(demo_store):
    """The dashboard's worker preempts a job by raising in its main thread (a BaseException): the second
    lane's running query is interrupted, so the preemption does not wait for it."""
    tables = demo_store.tables(["steps"])
    lane = lanes.second_lane(tables)
    assert lane is not None
    started = threading.Event()
    ended: list[BaseException] = []
    n = ibis.memtable({"i": list(range(2_000))})
    heavy = n.cross_join(n.view().rename(j="i")).cross_join(n.view().rename(k="i"))
    heavy = heavy.aggregate(s=(heavy.i * heavy.j + heavy.k).sum())      # 8e9 rows: ~25 s uninterrupted

    def second() -> None:
        started.set()
        try:
            base.execute(heavy)
        except BaseException as exc:
            ended.append(exc)
            raise

    class Preempted(BaseException):
        pass

    def first() -> None:
        started.wait(5)
        time.sleep(0.5)                # the heavy query is running by now
        raise Preempted

    with pytest.raises(Preempted):
        lanes.run_two(first, second, lane)
    assert len(ended) == 1 and isinstance(ended[0], duckdb.InterruptException), ended


def test_a_shared_result_is_computed_once_whichever_lane_asks_first():
    ctx = build_context(World().tables(), since=T0, until=T0 + dt.timedelta(days=1), now=T0 + dt.timedelta(days=1))
    calls: list[int] = []
    both_in = threading.Barrier(2)

    def compute() -> int:
        calls.append(1)
        time.sleep(0.2)                # the other thread asks meanwhile
        return 42

    def ask() -> int:
        both_in.wait(5)
        return ctx.cached("shared", compute)

    got = lanes.run_two(ask, ask, lanes._Lane(None, duckdb.connect().cursor()))
    assert got == (42, 42)
    assert calls == [1]
