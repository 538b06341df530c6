"""A finding's sample runs are taken in the query that reads its rows (`base.sample_rows` and `picked_ids`),
not by a second read of them (`base.sample_ids`, a query of its own: issue 15, small stores). The picks are
`sample_ids`' own: runs, not rows, ranked (each run by its best row: highest first, ties by id), the first 5
runs per group, as `top_ids` picks them from rows already read. A run with many rows (a loop, retries)
is one run: 5 samples whenever 5 runs are affected (ranked rows let one run fill the picks)."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
import pytest

from flowscope.analysis import analyze, cost, failures, latency, retries
from flowscope.analysis.base import FAILED_VALUES, picked_ids, sample_ids, sample_rank, sample_rows, top_ids
from flowscope.model import C, Status, StepType
from tests.analysis.helpers import T0, World
from tests.analysis.test_analyses import failing_world, latency_world, polling_world, storm_world

DAY = dt.timedelta(days=1)


def _run(world: World, monkeypatch) -> pd.DataFrame:
    """The findings, with any call of `sample_ids` by the analyses failing the test."""
    def second_read(*args, **kwargs):
        raise AssertionError("a second query for a finding's samples")
    for module in (failures, retries, cost, latency):
        monkeypatch.setattr(module, "sample_ids", second_read, raising=False)
    return analyze(world.tables(), since=T0, until=T0 + 2 * DAY, now=T0 + 2 * DAY)


def _one(df: pd.DataFrame, kind: str) -> pd.Series:
    rows = df[df["kind"] == kind]
    assert len(rows) == 1
    return rows.iloc[0]


def test_the_picks_in_a_query_are_sample_ids_picks():
    """Ties by id, a run with many rows (one sample, not all of them), a group split over several of the
    query's groups, null ranks of rows that are no samples."""
    rows = ([{"k": "a", "sub": i % 3, C.execution_id: f"e{i:02d}", "v": i // 4} for i in range(40)]
            + [{"k": "b", "sub": 0, C.execution_id: "busy", "v": 100} for _ in range(16)]
            + [{"k": "b", "sub": 1, C.execution_id: f"f{i}", "v": 50} for i in range(6)])
    t = ibis.memtable(pd.DataFrame(rows))
    expected = sample_ids(t, ["k"], order_by="v")
    ranked = sample_rank(t, ["k"], order_by="v", name="_rank")
    got = ranked.group_by(["k", "sub"]).aggregate(picks=sample_rows(ranked, "_rank")).execute()
    assert {(k,): picked_ids(g["picks"]) for k, g in got.groupby("k")} == expected
    assert expected[("b",)] == ["busy", "f0", "f1", "f2", "f3"]
    assert expected[("a",)] == ["e36", "e37", "e38", "e39", "e32"]
    assert picked_ids([None]) == []


def _busy_rows() -> pd.DataFrame:
    """One run with 20 rows, 19 above every other run's, one below; 6 runs of one row each."""
    busy = [{"k": "g", C.execution_id: "busy", "v": v} for v in [*range(100, 119), 0]]
    others = [{"k": "g", C.execution_id: f"r{i}", "v": 50 + i // 2} for i in range(6)]
    return pd.DataFrame(busy + others)


def test_a_run_with_many_rows_is_one_sample_of_five():
    """A run with more rows than the picks (a loop, retries) is one sample, and the next runs fill the
    rest: 5 distinct runs in the documented order, from the separate query, from the finding's own query
    and from `top_ids` alike (the engine ranked rows and listed 1 sample where `top_ids` listed 5)."""
    rows = _busy_rows()
    t = ibis.memtable(rows)
    want = ["busy", "r4", "r5", "r2", "r3"]         # busy (its best 118), then 52, 52 (by id), 51, 51
    assert sample_ids(t, ["k"], order_by="v") == {("g",): want}
    ranked = sample_rank(t, ["k"], order_by="v", name="_rank")
    got = ranked.group_by("k").aggregate(picks=sample_rows(ranked, "_rank")).execute()
    assert picked_ids(got["picks"]) == want
    assert top_ids(rows, ["k"], order_by="v") == {("g",): want}


def test_failing_step_samples(monkeypatch):
    w = failing_world()
    wf = w.rows["workflows"][0][C.workflow_id]
    late = T0 + dt.timedelta(hours=8)
    looping = w.execution(wf, late, status=Status.FAILED)        # fails Charge 20 times: the latest rows
    for k in range(20):
        w.step(looping, "Charge", late + dt.timedelta(seconds=k), status=Status.CAUGHT, error="PaymentDeclined")
    for _ in range(2):                                             # a tie in time: by id
        ex = w.execution(wf, late - dt.timedelta(minutes=1), status=Status.FAILED)
        w.step(ex, "Charge", late - dt.timedelta(minutes=1), status=Status.FAILED, error="PaymentDeclined")
    s = w.tables()["steps"]
    fs = s.filter((s[C.name] == "Charge") & s[C.status].isin(FAILED_VALUES))
    expected = sample_ids(fs, [C.cloud, C.workflow_id, C.name], order_by=C.started_at)
    f = _one(_run(w, monkeypatch), "failing_step")
    picked = expected[(f.cloud, f.workflow_id, f.step)]
    assert list(f.sample_execution_ids) == picked and len(picked) == 5 and picked[0] == looping[C.execution_id]


@pytest.mark.parametrize("busy", [False, True])
def test_retry_storm_and_synchronized_retries_samples(monkeypatch, busy):
    w = storm_world(jitter=False)
    if busy:     # one run retries the step 20 times late in the storm, each visit more than any other
        ex = w.rows["executions"][-1]
        start = T0 + DAY + dt.timedelta(hours=10, minutes=50)
        for k in range(20):
            st = w.step(ex, "CallApi", start + dt.timedelta(seconds=k), attempts=6)
            for n in range(1, 7):
                w.attempt(st, n, start + dt.timedelta(seconds=k, milliseconds=2050 * (n - 1)),
                          status=Status.FAILED if n < 6 else Status.SUCCEEDED,
                          error="ThrottlingException" if n < 6 else None)
    df = _run(w, monkeypatch)
    storm, sync = _one(df, "retry_storm"), _one(df, "synchronized_retries")
    s = w.tables()["steps"]
    s = s.filter((s[C.name] == "CallApi") & (s[C.attempts] > 1) & (s[C.started_at] >= storm.window_start)
                 & (s[C.started_at] < storm.window_end))
    expected = sample_ids(s.mutate(sid=0), ["sid"], order_by=C.attempts)[(0,)]
    assert list(storm.sample_execution_ids) == expected and len(expected) == 5
    assert (expected[0] == w.rows["executions"][-1][C.execution_id]) == busy
    a = w.tables()["attempts"]
    a = a.filter((a[C.attempt] == 2) & (a[C.started_at] >= sync.window_start) & (a[C.started_at] < sync.window_end))
    expected = sample_ids(a.mutate(sid=0), ["sid"], order_by=C.started_at)[(0,)]
    assert list(sync.sample_execution_ids) == expected and len(expected) == 5
    assert (expected[0] == w.rows["executions"][-1][C.execution_id]) == busy


def test_polling_loop_samples(monkeypatch):
    w = polling_world()
    ex = list(w.rows["executions"])
    w.rows["steps"] = [r for r in w.rows["steps"]          # the runs wait 8, 7, 6, 8, 7, ... times
                       if not (r[C.name] == "WaitABit" and int(r[C.step_key].split("#")[1]) > 3 * (
                           8 - [e[C.execution_id] for e in ex].index(r[C.execution_id]) % 3))]
    s = w.tables()["steps"]
    waits = s.filter(s[C.name] == "WaitABit")
    waits = waits.group_by([C.cloud, C.workflow_id, C.execution_id]).aggregate(visits=waits.count())
    waits = waits.filter(waits.visits >= 5)
    expected = sample_ids(waits, [C.cloud, C.workflow_id], order_by="visits")
    p = _one(_run(w, monkeypatch), "polling_loop")
    assert list(p.sample_execution_ids) == expected[(p.cloud, p.workflow_id)]


def test_polling_loop_samples_of_a_run_that_waits_in_many_steps(monkeypatch):
    """A run whose many Wait steps each wait more than any other run's is one sample of five (a run's
    rows are its steps, one per Wait step)."""
    w = polling_world()
    busy = w.rows["executions"][-1]
    t = busy[C.started_at] + dt.timedelta(minutes=30)
    for n in range(16):
        for p in range(10):
            w.step(busy, f"Wait{n:02d}", t + dt.timedelta(seconds=16 * p + n), type=StepType.WAIT, duration_ms=10)
    p = _one(_run(w, monkeypatch), "polling_loop")
    assert len(p.sample_execution_ids) == 5 and p.sample_execution_ids[0] == busy[C.execution_id]


def test_slow_step_samples(monkeypatch):
    w = latency_world()
    for r in [r for r in w.rows["steps"] if r[C.duration_ms] == 9000][::5]:    # ties in duration: by id
        r[C.duration_ms] = 9500
    f = _one(_run(w, monkeypatch), "slow_step")
    s = w.tables()["steps"]
    s = s.filter((s[C.started_at] >= f.window_start) & (s[C.started_at] < f.window_end)
                 & (s[C.duration_ms] >= f.evidence["slow_limit_ms"]))
    expected = sample_ids(s.mutate(sid=0), ["sid"], order_by=C.duration_ms)[(0,)]
    assert list(f.sample_execution_ids) == expected and len(expected) == 5


def test_slow_step_samples_of_a_run_slow_many_times(monkeypatch):
    """A run that visits the slow step 20 times, each slower than any other visit, is one sample of five."""
    w = latency_world()
    t = T0 + DAY + dt.timedelta(hours=8, minutes=5)
    busy = w.execution("gcp/api", t, cloud="gcp", duration_ms=300_000)
    for k in range(20):
        w.step(busy, "callBackend", t + dt.timedelta(seconds=k), duration_ms=9900)
    f = _one(_run(w, monkeypatch), "slow_step")
    assert len(f.sample_execution_ids) == 5 and f.sample_execution_ids[0] == busy[C.execution_id]


def test_failing_step_runs_and_first_revision_come_from_its_error_groups_read(monkeypatch):
    """One read of the failed visits gives their error groups, the runs (a run failing in two error groups
    counted once; failed visits of a run the executions table lacks are failures, not runs) and the
    revision of the earliest failure (the runs and the revision were a second read of them)."""
    w = failing_world()
    wf = w.rows["workflows"][0][C.workflow_id]
    failed = [e for e in w.rows["executions"] if e[C.status] == Status.FAILED]
    failed[0][C.revision] = "0"                                   # the earliest failure's run
    twice = w.execution(wf, T0 + dt.timedelta(hours=9), status=Status.FAILED, revision="2")
    w.step(twice, "Charge", T0 + dt.timedelta(hours=9), status=Status.FAILED, error="PaymentDeclined")
    w.step(twice, "Charge", T0 + dt.timedelta(hours=9, seconds=5), status=Status.FAILED, error="Timeout")
    lost = w.execution(wf, T0 + dt.timedelta(hours=10), status=Status.FAILED)
    w.step(lost, "Charge", T0 + dt.timedelta(hours=10), status=Status.FAILED, error="PaymentDeclined")
    w.rows["executions"].remove(lost)
    calls = []
    real = failures.execute
    monkeypatch.setattr(failures, "execute", lambda expr, **kw: calls.append(1) or real(expr, **kw))
    f = _one(_run(w, monkeypatch), "failing_step")
    assert f.evidence["failures"] == 23 and f.executions_affected == 21
    assert f.evidence["first_revision"] == "0"
    assert len(calls) == 2                                        # the failed visits' groups, the wasted runs
