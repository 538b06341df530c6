"""A run's steps, attempts and usage are read from its own start date's files (`tables.execution_detail`): the
same frames as its reads by cloud and id alone, which opened every file of the cloud. Its row too, and
`find_execution`'s, when the caller knows its start date (a wrong one reads every file after, to the same row),
and its child runs from its start date on (`runs.child_runs`)."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from flowscope.analysis import pricing, runs, tables_executions
from flowscope.analysis import tables as q
from flowscope.model import C, Meter
from flowscope.store import Store
from tests.analysis.helpers import T0, World

DAY = dt.timedelta(days=1)
CLOUDS = {"aws": Meter.AWS_SFN_STATE_TRANSITION, "gcp": Meter.GCP_WORKFLOWS_EXTERNAL_STEP}


def _by_key(con, cloud: str, execution_id: str) -> dict[str, pd.DataFrame]:
    """The run's reads by cloud and id alone, as `execution_detail` read them before (its usage over the window of
    a day before its start to 400 days after), ordered alike."""
    params = {"cloud": cloud, "eid": execution_id}
    key = q.q("{cloud} = $cloud AND {execution_id} = $eid")
    ex = q.run(con, f"SELECT * FROM executions WHERE {key}", params)
    since = pd.Timestamp(ex.iloc[0][C.started_at]).to_pydatetime()
    window = q.Filters(since - DAY, since + dt.timedelta(days=400), (cloud,))
    return {
        "execution": ex,
        "steps": q.run(con, f"SELECT * FROM steps WHERE {key} ORDER BY {C.started_at} NULLS LAST, {C.step_key}",
                       params),
        "attempts": q.run(con, f"SELECT * FROM attempts WHERE {key} ORDER BY {C.step_key}, {C.attempt}", params),
        "usage": q.run(con, f"SELECT * FROM ({q.priced_usage_sql(window, q.q('AND {execution_id} = $eid'))}) "
                            f"ORDER BY {C.step_key}, {C.meter}",
                       {**window.params(), **params, "price_date": pricing.price_day(since.date())})}


def test_a_runs_frames_are_its_reads_by_cloud_and_id(demo_store):
    con = q.prepare(demo_store.connect().cursor())
    # per cloud: the runs whose steps went on past their start date's midnight, the ones with the most usage
    # rows, and two more
    picked = con.execute(f"""
        WITH late AS (SELECT {C.cloud}, {C.execution_id} FROM steps GROUP BY ALL
                      HAVING max(CAST({C.ended_at} AS DATE)) > any_value({C.start_date})),
             most AS (SELECT {C.cloud}, {C.execution_id}, count(*) AS n FROM usage GROUP BY ALL),
             ranked AS (
                SELECT e.{C.cloud}, e.{C.execution_id},
                       row_number() OVER (PARTITION BY e.{C.cloud}
                                          ORDER BY (l.{C.execution_id} IS NULL), m.n DESC NULLS LAST,
                                                   e.{C.execution_id}) AS r
                FROM executions e LEFT JOIN late l USING ({C.cloud}, {C.execution_id})
                                  LEFT JOIN most m USING ({C.cloud}, {C.execution_id}))
        SELECT {C.cloud}, {C.execution_id} FROM ranked WHERE r <= 4 ORDER BY ALL""").fetchall()
    assert len(picked) == 12
    assert con.execute(f"SELECT count(DISTINCT {C.execution_id}) FROM steps "
                       f"WHERE CAST({C.ended_at} AS DATE) > {C.start_date}").fetchone()[0] > 0
    for cloud, eid in picked:
        got, want = q.execution_detail(con, cloud, eid), _by_key(con, cloud, eid)
        assert got is not None and set(got) == set(want)
        for name, frame in want.items():
            pd.testing.assert_frame_equal(got[name], frame, check_exact=True, obj=f"{cloud} {eid} {name}")
        assert len(got["steps"]) and len(got["usage"])


def _store(tmp_path) -> tuple[Store, list[dict]]:
    """Two clouds, four days, a run a day each with a step, its two tries and its usage: a file a table a day."""
    w = World()
    runs = []
    for cloud, meter in CLOUDS.items():
        wf = w.workflow(f"orders-{cloud}", cloud=cloud)
        for d in range(4):
            ex = w.execution(wf, T0 + d * DAY + dt.timedelta(hours=3), cloud=cloud)
            step = w.step(ex, "Charge", ex[C.started_at], attempts=2, meter=meter)
            w.attempt(step, 1, ex[C.started_at])
            w.attempt(step, 2, ex[C.started_at] + dt.timedelta(seconds=1))
            runs.append(ex)
    Store(tmp_path / "s").write(w.rows)
    return Store(tmp_path / "s"), runs


def test_a_runs_steps_attempts_and_usage_open_its_days_file_alone(tmp_path, monkeypatch):
    store, runs = _store(tmp_path)
    files = store.snapshot_files()
    assert {len(files[t].files) for t in ("steps", "attempts", "usage")} == {8}
    con = q.prepare(store.connect().cursor())
    reads = _recorded(monkeypatch, tables_executions)
    ex = runs[6]
    detail = q.execution_detail(con, ex[C.cloud], ex[C.execution_id])
    assert detail is not None and {k: len(f) for k, f in detail.items()} == {"execution": 1, "steps": 1, "attempts": 2,
                                                                         "usage": 1}
    # without its day, the executions row is found by its id in every file of its cloud
    assert _files_read(con, reads) == [("executions", [4]), ("steps", [1]), ("attempts", [1]), ("usage", [1])]
    reads.clear()
    assert _same(q.execution_detail(con, ex[C.cloud], ex[C.execution_id], ex[C.start_date]), detail)
    assert _files_read(con, reads) == [("executions", [1]), ("steps", [1]), ("attempts", [1]), ("usage", [1])]
    reads.clear()
    assert q.find_execution(con, ex[C.execution_id]) == q.RunKey(ex[C.cloud], ex[C.execution_id], ex[C.start_date])
    assert q.find_execution(con, ex[C.execution_id], ex[C.start_date]) == q.find_execution(con, ex[C.execution_id])
    # by its id alone, every file; by its day first, the day's file of each cloud
    assert [n for _, n in _files_read(con, reads)] == [ALL, [2], ALL]


ALL = ["every file"]
"""What `_files_read` says of a read DuckDB prunes no file of (its plan then names no count)."""


def _recorded(monkeypatch, module) -> list[tuple[str, dict]]:
    """The SQL and parameters of each read of `module` (its `run`), as they are made."""
    reads: list[tuple[str, dict]] = []
    real = module.run

    def run(con, sql: str, params: dict | None = None):
        reads.append((sql, params or {}))
        return real(con, sql, params)

    monkeypatch.setattr(module, "run", run)
    return reads


def _files_read(con, reads: list[tuple[str, dict]]) -> list[tuple[str, list[int | str]]]:
    """Each read's table and the files of it DuckDB's plan scans."""
    kept = []
    for sql, params in reads:
        table = re.search(r"FROM (executions|steps|attempts|usage) WHERE", sql)
        assert table is not None, sql
        used = {k: v for k, v in params.items() if f"${k}" in sql}
        plan = "\n".join(str(v) for _, v in con.execute(f"EXPLAIN {sql}", used).fetchall())
        scanned: list[int | str] = [int(k) for k, _of in re.findall(r"Scanning Files: (\d+)/(\d+)", plan)]
        kept.append((table.group(1), scanned or ALL))
    return kept


def _same(got: dict[str, pd.DataFrame] | None, want: dict[str, pd.DataFrame] | None) -> bool:
    assert (got is None) == (want is None)
    if got is not None and want is not None:
        assert set(got) == set(want)
        for name, frame in want.items():
            pd.testing.assert_frame_equal(got[name], frame, check_exact=True, obj=name)
    return True


def test_a_wrong_day_reads_the_same_run_as_none(tmp_path):
    """A stale or wrong start date (another day's, a day with no run) falls back to every file: the same frames."""
    store, made = _store(tmp_path)
    con = q.prepare(store.connect().cursor())
    for ex in (made[0], made[5]):
        cloud, eid = ex[C.cloud], ex[C.execution_id]
        want = q.execution_detail(con, cloud, eid)
        assert want is not None
        for day in (ex[C.start_date] + DAY, ex[C.start_date] - 3 * DAY, dt.date(2001, 1, 1)):
            assert _same(q.execution_detail(con, cloud, eid, day), want)
            assert q.find_execution(con, eid, day) == q.find_execution(con, eid) is not None
    assert q.execution_detail(con, "aws", "nope", made[0][C.start_date]) is None
    assert q.find_execution(con, "nope", made[0][C.start_date]) is None


def test_child_runs_from_the_parents_day_on_are_all_of_them(tmp_path, monkeypatch):
    """A child starts after its parent, so on or after its start date: bounded there, the read finds every child
    (the same frame as unbounded) and opens only the files of that day on."""
    w = World()
    wf, kids = w.workflow("orders"), w.workflow("orders/Fan")
    parents = [w.execution(wf, T0 + d * DAY + dt.timedelta(hours=23, minutes=50), status="FAILED") for d in range(3)]
    for p, parent in enumerate(parents):
        for i in range(6):      # past midnight, over the next three days; two failed, one running
            status = "FAILED" if i in (1, 4) else "RUNNING" if i == 5 else "SUCCEEDED"
            child = w.execution(kids, parent[C.started_at] + dt.timedelta(minutes=3 + i * 600), status=status)
            child.update({C.parent_execution_id: parent[C.execution_id], C.error: f"E{p}{i}" if i in (1, 4) else None})
    Store(tmp_path / "s").write(w.rows)
    store = Store(tmp_path / "s")
    dates = sorted({row[C.start_date] for row in w.rows["executions"]})
    assert len(store.snapshot_files()["executions"].files) == len(dates) == 6
    con = q.prepare(store.connect().cursor())
    reads = _recorded(monkeypatch, runs)
    for parent in parents:      # the first day's reads every file, the next ones fewer
        cloud, eid, day = parent[C.cloud], parent[C.execution_id], parent[C.start_date]
        reads.clear()
        whole, bounded = runs.child_runs(con, cloud, eid), runs.child_runs(con, cloud, eid, day)
        pd.testing.assert_frame_equal(bounded, whole, check_exact=True)
        assert whole.iloc[0][["runs", "failed", "running"]].tolist() == [6, 2, 1]
        files = [n for _, n in _files_read(con, reads)]
        later = sum(d >= day for d in dates)
        assert files == [ALL, ALL if later == len(dates) else [later]], files
    assert runs.child_runs(con, "aws", "nope", T0.date()).empty


@pytest.mark.parametrize("table", ["steps", "attempts", "usage"])
def test_a_row_dated_off_its_run_is_dated_by_its_run(tmp_path, table):
    """What the pruned read relies on: a row written with another date than its run's is stored under the
    run's (`validate.with_execution_dates`), so it is read with the run."""
    w = World()
    wf = w.workflow("orders")
    ex = w.execution(wf, T0 + dt.timedelta(hours=23, minutes=59))
    step = w.step(ex, "Charge", ex[C.started_at] + dt.timedelta(minutes=2), meter=Meter.AWS_SFN_STATE_TRANSITION)
    w.attempt(step, 1, step[C.started_at])
    for row in w.rows[table]:
        row[C.start_date] = step[C.started_at].date()
    Store(tmp_path / "s").write(w.rows)
    con = q.prepare(Store(tmp_path / "s").connect().cursor())
    detail = q.execution_detail(con, "aws", ex[C.execution_id])
    assert detail is not None and len(detail[table]) == 1


def test_runs_found_together_are_each_ones_find(tmp_path, monkeypatch):
    """`find_executions` reads the ids with a day from their days' files in one read and every id still unfound (no
    day, a wrong one, none stored) in one read of every file, whatever their number: each id's result is
    `find_execution`'s, an id asked twice answered once (by the day one of its asks gave)."""
    store, made = _store(tmp_path)
    con = q.prepare(store.connect().cursor())
    known, wrong, undated = made[1], made[2], made[6]
    ids = [known[C.execution_id], wrong[C.execution_id], undated[C.execution_id], "nope", known[C.execution_id]]
    days = [known[C.start_date], wrong[C.start_date] + DAY, None, known[C.start_date], None]
    reads = _recorded(monkeypatch, tables_executions)
    got = q.find_executions(con, ids, days)
    # the days of `known` and `wrong`, a file of each cloud each; then `wrong`, `undated` and "nope" at once
    assert _files_read(con, reads) == [("executions", [4]), ("executions", ALL)]
    assert len(reads) == 2 and all(eid not in sql for sql, _ in reads for eid in ids), reads     # parameters only
    assert list(got) == ids[:4]
    for ex in (known, wrong, undated):
        assert got[ex[C.execution_id]] == q.RunKey(ex[C.cloud], ex[C.execution_id], ex[C.start_date])
    assert got["nope"] is None
    for eid, day in zip(ids, days, strict=True):
        assert got[eid] == q.find_execution(con, eid, day) == q.find_execution(con, eid)
    reads.clear()
    both = q.find_executions(con, ids[:2], [known[C.start_date], wrong[C.start_date]])      # every day right
    assert _files_read(con, reads) == [("executions", [4])]
    assert both == {eid: got[eid] for eid in ids[:2]}
    reads.clear()
    assert q.find_executions(con, [undated[C.execution_id], "nope"]) == {undated[C.execution_id]: got[ids[2]],
                                                                         "nope": None}
    assert _files_read(con, reads) == [("executions", ALL)]
    assert q.find_executions(con, []) == {}


@pytest.mark.parametrize("gcp_first", [True, False])
def test_an_id_in_two_clouds_is_found_in_the_first_by_name(tmp_path, gcp_first):
    """The same id stored by two clouds: its run is the first cloud's by name, whatever order they were written
    in (the one-id read's `LIMIT 1` took the first in the table's file order), unless a day names the other's."""
    rows = {}
    for cloud, meter in CLOUDS.items():
        w = World()
        wf = w.workflow("orders", cloud=cloud)
        ex = w.execution(wf, T0 + dt.timedelta(days=1 if cloud == "aws" else 0, hours=3), cloud=cloud)
        w.step(ex, "Charge", ex[C.started_at], meter=meter)
        for row in w.rows["executions"] + w.rows["steps"]:
            row[C.execution_id] = "shared"
        rows[cloud] = w.rows
    for cloud in (["gcp", "aws"] if gcp_first else ["aws", "gcp"]):
        Store(tmp_path / "s").write(rows[cloud])
    con = q.prepare(Store(tmp_path / "s").connect().cursor())
    aws, gcp = (q.RunKey(c, "shared", (T0 + dt.timedelta(days=d)).date()) for c, d in (("aws", 1), ("gcp", 0)))
    assert q.find_execution(con, "shared") == aws
    assert q.find_execution(con, "shared", T0.date()) == gcp
    assert q.find_execution(con, "shared", T0.date() + 5 * DAY) == aws
    assert q.find_executions(con, ["shared", "shared"], [None, T0.date()]) == {"shared": gcp}
