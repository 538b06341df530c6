"""A run still running is timed to when it was last seen running, by one rule (`runs.seen_running`, its SQL
form `runs.ELAPSED_MS`): its row's `collected_at`, never past the window's end; a row without one, to the
window's end. A row without `collected_at` was timed to the clock, so its time so far and its place in
"longest first" grew between two loads of one window, and the search and the run page disagreed."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from flowscope.analysis import runs
from flowscope.analysis import tables as q
from flowscope.model import C, Status
from tests.analysis.helpers import World, at, tables_from_rows

HOUR = 3_600_000


@pytest.fixture(scope="module")
def world():
    w = World()
    wf = w.workflow("orders")
    w.execution(wf, at(hours=0), status=Status.RUNNING, name="unseen")                      # no collected_at
    w.execution(wf, at(hours=1), status=Status.RUNNING, name="seen", collected_at=at(hours=2))
    w.execution(wf, at(hours=1), status=Status.RUNNING, name="late", collected_at=at(hours=9))
    w.execution(wf, at(hours=2), duration_ms=int(1.5 * HOUR), name="done")
    return w


@pytest.fixture(scope="module")
def con(world):
    return tables_from_rows(world.rows)["executions"]._find_backend().con


UNTIL = at(hours=4)


def _elapsed(con) -> dict[str, float]:
    rows, _ = runs.search_executions(con, q.Filters(at(days=-1), UNTIL), sort="longest first")
    return dict(zip(rows["workflow"].map(str), rows[C.duration_ms], strict=True))


def test_search_times_running_runs_to_the_window_end_not_the_clock(con):
    assert _elapsed(con) == {"unseen": 4 * HOUR, "seen": 1 * HOUR, "late": 3 * HOUR, "done": 1.5 * HOUR}
    rows, _ = runs.search_executions(con, q.Filters(at(days=-1), UNTIL), sort="longest first")
    assert list(rows["workflow"]) == ["unseen", "late", "done", "seen"]


def test_the_run_page_reads_the_search_figure(world):
    """`seen_running` (the run page, Compare runs) and the search agree, whatever the clock says."""
    for row in world.rows["executions"]:
        if row[C.status] == Status.RUNNING:
            seen = runs.seen_running(row, UNTIL)
            expected = {"unseen": UNTIL, "seen": at(hours=2), "late": UNTIL}[row[C.workflow_name]]
            assert seen == pd.Timestamp(expected), row[C.workflow_name]
            assert runs.last_seen_running(row, UNTIL) == seen
    done = next(r for r in world.rows["executions"] if r[C.workflow_name] == "done")
    assert runs.last_seen_running(done, UNTIL) is None


def test_a_naive_window_end_reads_as_utc():
    row = {C.status: Status.RUNNING.value, C.started_at: at(), C.collected_at: None}
    assert runs.seen_running(row, dt.datetime(2026, 3, 1, 4)) == pd.Timestamp(at(hours=4))


def test_a_run_started_after_the_window_end_has_run_no_time_not_a_negative_one():
    """A run a link opens from a sync newer than the page's window read "Still running after -5 min"."""
    row = {C.status: Status.RUNNING.value, C.started_at: at(hours=5), C.collected_at: at(hours=6)}
    seen = runs.last_seen_running(row, UNTIL)
    assert runs.since(row[C.started_at], seen) == pd.Timedelta(0)


def test_the_sentence_says_which_time_it_is(world):
    """A run capped at the window's end (collected later, or never stamped) said "when last collected" beside
    a time no sync had."""
    said = {r[C.workflow_name]: runs.seen_running_when(r, UNTIL) for r in world.rows["executions"]
            if r[C.status] == Status.RUNNING}
    assert said == {"unseen": "at the window's end", "seen": "when last collected", "late": "at the window's end"}
