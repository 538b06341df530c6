"""Issue 9: a running execution's age is measured from when it was last seen running (its row's
collected_at: the sync or import that wrote it), never from another workflow's newer timestamps; an
imported snapshot is said to be one."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from flowscope.analysis import analyze
from flowscope.model import C, Source, Status
from tests.analysis.helpers import World, at

NOW = at(days=14)
H = 3_600_000


def world(*, collected_hours: float | None, source: str | None, other_days: float | None) -> tuple[World, dict]:
    """`approve` finishes in a minute (50 runs); one run started at +2 h is RUNNING when collected.
    Optionally another workflow ran much later (`other_days`)."""
    w = World()
    wf = w.workflow("approve")
    for i in range(50):
        w.execution(wf, at(minutes=10 * i), duration_ms=60_000)
    running = w.execution(wf, at(hours=2), status=Status.RUNNING, source=source,
                          collected_at=None if collected_hours is None else at(hours=collected_hours))
    w.step(running, "WaitForHuman", at(hours=2), duration_ms=None, status=Status.RUNNING)
    if other_days is not None:
        other = w.workflow("nightly")
        for d in range(int(other_days)):
            w.execution(other, at(days=d + 1), duration_ms=1000)
    return w, running


CASES = [
    # (name, collected at (hours), source, other workflow until day, expected: None or (age h, snapshot))
    ("live run collected 8 h after its start", 10, str(Source.API), None, (8.0, False)),
    ("imported snapshot", 10, str(Source.IMPORT), None, (8.0, True)),
    ("other workflow's newer timestamps do not age it", 10, str(Source.API), 13, (8.0, False)),
    ("other workflow's newer timestamps do not age a snapshot", 10, str(Source.IMPORT), 13, (8.0, True)),
    ("seen running 2 min after start: not stuck, whatever else ran later", 2 + 2 / 60, str(Source.API), 13, None),
    ("snapshot taken 2 min after start: not stuck", 2 + 2 / 60, str(Source.IMPORT), 13, None),
]


@pytest.mark.parametrize("name,collected,source,other,expected", CASES, ids=[c[0] for c in CASES])
def test_stuck_age_is_measured_at_collection(name, collected, source, other, expected):
    w, running = world(collected_hours=collected, source=source, other_days=other)
    df = analyze(w.tables(), since=at(), until=NOW, now=NOW)
    s = df[df["kind"] == "stuck_execution"]
    if expected is None:
        assert s.empty
        return
    age_h, snapshot = expected
    assert len(s) == 1
    row = s.iloc[0]
    assert row.sample_execution_ids == [running[C.execution_id]]
    assert row.evidence["max_age_ms"] == pytest.approx(age_h * H)
    assert row.evidence["as_of"] == at(hours=collected).isoformat()
    assert row.evidence["snapshot"] is snapshot
    if snapshot:
        assert "RUNNING in a snapshot imported at 2026-03-01 10:00 UTC; age at that time 8 h" in row.title
        assert "running for" not in row.title
    else:
        assert "running for up to 8 h" in row.title and "snapshot" not in row.title


def test_without_collected_at_the_age_runs_to_the_window_end_as_the_executions_search_times_it():
    """Rows written before collected_at existed were aged to their own workflow's latest start or end here,
    while the executions search and the run page (`runs.seen_running`, `runs.ELAPSED_MS`) timed the same
    run to the window's end: one run, two ages. One rule now (`runs.seen_running_expr`): to the window's end
    (or now, if sooner), and the title says so; never another workflow's timestamps."""
    from flowscope.analysis import runs
    from flowscope.analysis import tables as q
    from tests.analysis.helpers import tables_from_rows

    w, running = world(collected_hours=None, source=None, other_days=13)
    df = analyze(w.tables(), since=at(), until=NOW, now=NOW)
    row = df[df["kind"] == "stuck_execution"].iloc[0]
    assert row.sample_execution_ids == [running[C.execution_id]]
    assert row.evidence["max_age_ms"] == pytest.approx((NOW - at(hours=2)).total_seconds() * 1000)
    assert row.evidence["snapshot"] is False and row.evidence["age_measured_to"] == "window_end"
    assert "at the window's end (2026-03-15 00:00 UTC)" in row.title, row.title
    con = tables_from_rows(w.rows)["executions"]._find_backend().con
    found, _ = runs.search_executions(con, q.Filters(at(), NOW), statuses=(Status.RUNNING.value,))
    assert list(found[C.duration_ms]) == [row.evidence["max_age_ms"]]
    assert runs.seen_running(running, NOW) - running[C.started_at] == dt.timedelta(
        milliseconds=row.evidence["max_age_ms"])


def test_a_window_that_ends_before_the_collection_says_the_age_is_at_its_end():
    """Measured to the window's end (it is earlier than the collection), the age was said to be "when
    last collected", which was a day later: the title and `age_measured_to` say the window's end."""
    w, _ = world(collected_hours=34, source=str(Source.API), other_days=None)
    found = analyze(w.tables(), since=at(), until=at(hours=10), now=NOW)
    [stuck] = found[found["kind"] == "stuck_execution"].to_dict("records")
    assert stuck["evidence"]["max_age_ms"] == pytest.approx(8 * H)
    assert stuck["evidence"]["age_measured_to"] == "window_end"
    assert f"running for up to 8 h at the window's end ({at(hours=10):%Y-%m-%d %H:%M} UTC)" in stuck["title"]
    later = analyze(w.tables(), since=at(), until=NOW, now=NOW)
    [stuck] = later[later["kind"] == "stuck_execution"].to_dict("records")
    assert "when last collected" in stuck["title"] and stuck["evidence"]["age_measured_to"] == "collected_at"


def redriven_world(redriven_hours: float | None, collected_hours: float) -> tuple[World, dict]:
    """`approve` finishes in a minute (50 runs); one run started at +2 h failed in Charge a second later and
    was redriven at `redriven_hours` (Step Functions keeps its start date), RUNNING in its redriven Charge
    when collected; None: redriven with no step of its new life read yet."""
    w = World()
    wf = w.workflow("approve")
    for i in range(50):
        w.execution(wf, at(minutes=10 * i), duration_ms=60_000)
    running = w.execution(wf, at(hours=2), status=Status.RUNNING, collected_at=at(hours=collected_hours))
    running[C.redrive_count] = 1
    w.step(running, "Validate", at(hours=2), duration_ms=200)
    w.step(running, "Charge", at(hours=2, seconds=1), duration_ms=500, status=Status.FAILED, error="Boom")
    if redriven_hours is not None:
        w.step(running, "Charge", at(hours=redriven_hours), duration_ms=None, status=Status.RUNNING)
    return w, running


@pytest.mark.parametrize("redriven, collected, expected_age_h", [
    (50, 50 + 2 / 60, None),          # redriven two days later, seen 2 minutes into its new life: not stuck
    (50, 58, 8.0),                    # 8 h into its new life: stuck, 8 h old (it read 56 h)
    (None, 58, 58 - (2 + 1.5 / 3600)),  # no step of the new life read: aged from its previous life's end
])
def test_a_redriven_run_is_aged_from_its_redrive(redriven, collected, expected_age_h):
    """A redrive keeps the run's start date: a run redriven after two days and running normally for two
    minutes was 'stuck, running for up to 2 d', aged from its first life's start."""
    w, running = redriven_world(redriven, collected)
    df = analyze(w.tables(), since=at(), until=NOW, now=NOW)
    s = df[df["kind"] == "stuck_execution"]
    if expected_age_h is None:
        assert s.empty
        return
    assert len(s) == 1 and s.iloc[0].sample_execution_ids == [running[C.execution_id]]
    assert s.iloc[0].evidence["max_age_ms"] == pytest.approx(expected_age_h * H)


@pytest.mark.parametrize("redriven, collected", [(50, 50 + 2 / 60), (50, 58), (None, 58)])
def test_the_run_page_dates_a_redriven_runs_current_life_as_the_stuck_check_does(redriven, collected):
    """The stuck check aged a redriven run from its current life's first step while the run page said only
    "Still running after 2 d" from the run's start date: one run, two ages and no word why. The run page
    reads the life's start from the run's steps (`runs.current_life_start`, the pandas form of the stuck
    check's rule), so its "this life" age is the stuck check's."""
    from flowscope.analysis import runs

    w, running = redriven_world(redriven, collected)
    steps = pd.DataFrame([s for s in w.rows["steps"] if s[C.execution_id] == running[C.execution_id]])
    life = runs.current_life_start(running, steps)
    expected = at(hours=redriven) if redriven is not None else at(hours=2, seconds=1.5)
    assert life == expected
    df = analyze(w.tables(), since=at(), until=NOW, now=NOW)
    stuck = df[df["kind"] == "stuck_execution"]
    if not stuck.empty:
        age = runs.since(life, runs.seen_running(running, NOW))
        assert age == dt.timedelta(milliseconds=stuck.iloc[0].evidence["max_age_ms"])


def test_a_run_never_redriven_has_no_current_life_to_date():
    from flowscope.analysis import runs

    w, running = redriven_world(50, 58)
    running = {**running, C.redrive_count: 0}
    steps = pd.DataFrame([s for s in w.rows["steps"] if s[C.execution_id] == running[C.execution_id]])
    assert runs.current_life_start(running, steps) is None
    assert runs.current_life_start({**running, C.redrive_count: 1}, steps.iloc[0:0]) is None


@pytest.mark.parametrize("filters", [{}, {"clouds": ["gcp"]}, {"workflows": ["approve"]},
                                     {"clouds": ["aws"], "workflows": ["nightly"]}])
def test_the_runs_still_going_are_counted_in_the_read_of_every_run_as_they_are_on_their_own(filters):
    """The stuck check counts the runs still going before it reads them; the count comes from the context's runs
    per workflow (`suite.runs_per_workflow`'s `running`, one read of every execution fewer), and equals the
    count of the context's own executions for every filter, leaving out runs started after the window."""
    from flowscope.analysis import stuck
    from flowscope.analysis.base import execute
    from flowscope.analysis.suite import build_context

    w = World()
    until = at(days=5)
    for cloud in ("aws", "gcp"):
        for name, going in (("approve", 2), ("nightly", 1)):
            wf = w.workflow(name, cloud=cloud)
            for i in range(going):
                w.execution(wf, at(hours=3 + i), status=Status.RUNNING, cloud=cloud, duration_ms=None)
            w.execution(wf, at(days=6), status=Status.RUNNING, cloud=cloud, duration_ms=None)   # after the window
            w.execution(wf, at(hours=1), cloud=cloud)
    ctx = build_context(w.tables(), since=at(), until=until, now=until, **filters)
    e = ctx.table("executions")
    direct = e.filter((e[C.status] == str(Status.RUNNING)) & (e[C.started_at] < until))
    expected = int(execute(direct.aggregate(n=direct.count()))["n"].iloc[0])
    assert expected == {(): 6, ("gcp",): 3, ("approve",): 4, ("aws", "nightly"): 1}[
        tuple(v for vs in filters.values() for v in vs)]
    assert stuck._running_count(ctx) == expected
    assert int(ctx.runs["running"].sum()) == (3 if filters.get("clouds") else 6)
