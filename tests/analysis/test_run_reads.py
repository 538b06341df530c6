"""A run's steps, attempts and usage are read from its own start date's files (`tables.execution_detail`): the
same frames as its reads by cloud and id alone, which opened every file of the cloud."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from flowscope.analysis import pricing
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
    reads: list[tuple[str, dict]] = []
    real = q.run
    monkeypatch.setattr(q, "run", lambda c, sql, params=None: reads.append((sql, params or {})) or real(c, sql, params))
    ex = runs[6]
    detail = q.execution_detail(con, ex[C.cloud], ex[C.execution_id])
    assert detail is not None and {k: len(f) for k, f in detail.items()} == {"execution": 1, "steps": 1, "attempts": 2,
                                                                         "usage": 1}
    kept = {}
    for sql, params in reads:
        table = re.search(r"FROM (executions|steps|attempts|usage) WHERE", sql)
        assert table is not None, sql
        used = {k: v for k, v in params.items() if f"${k}" in sql}
        plan = "\n".join(str(v) for _, v in con.execute(f"EXPLAIN {sql}", used).fetchall())
        kept[table.group(1)] = [int(k) for k, _of in re.findall(r"Scanning Files: (\d+)/(\d+)", plan)]
    # the executions row is found by its id, in every file of its cloud (nothing names its day before it is read)
    assert kept == {"executions": [4], "steps": [1], "attempts": [1], "usage": [1]}


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
