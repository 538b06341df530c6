"""Time the full analysis over a generated workload: `python bench/bench_analysis.py [executions]`.

Generates columnar model tables directly (numpy -> Arrow, no per-row Python), registers them on an
in-memory DuckDB and runs `flowscope.analysis.analyze` a few times; prints the median wall time and
the peak RSS. Default: 100,000 executions x 20 steps (the issue's figure is 1,000,000).
"""

from __future__ import annotations

import datetime as dt
import resource
import statistics
import sys
import time

import ibis
import numpy as np
import pyarrow as pa

from flowscope.analysis import analyze
from flowscope.model import TABLES, UTC, C, Meter, Status, StepType


def generate(n_exec: int, steps_per: int = 20, workflows: int = 50, seed: int = 7) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    t0 = dt.datetime(2026, 3, 1, tzinfo=UTC)
    t0_us = int(t0.timestamp() * 1e6)
    span_us = 30 * 86400 * 10**6
    wf = rng.integers(0, workflows, n_exec)
    wf_ids = np.array([f"arn:aws:states:us-east-1:1:stateMachine:wf{i}" for i in range(workflows)], dtype=object)
    ex_ids = np.array([f"e{i}" for i in range(n_exec)], dtype=object)
    start = t0_us + rng.integers(0, span_us, n_exec)
    dur = rng.lognormal(7, 1, n_exec).astype(np.int64)
    failed = rng.random(n_exec) < 0.02
    ts = lambda a: pa.array(a, pa.timestamp("us", tz="UTC"))  # noqa: E731
    dates = lambda a: pa.array((a // (86400 * 10**6)).astype(np.int32), pa.date32())  # noqa: E731
    schema = TABLES["executions"].schema
    ex = {C.cloud: pa.array(["aws"] * n_exec), C.workflow_id: pa.array(wf_ids[wf]),
          C.workflow_name: pa.array(np.char.add("wf", wf.astype(str)).astype(object)),
          C.kind: pa.array(["sfn-standard"] * n_exec), C.execution_id: pa.array(ex_ids),
          C.status: pa.array(np.where(failed, str(Status.FAILED), str(Status.SUCCEEDED)).astype(object)),
          C.started_at: ts(start), C.ended_at: ts(start + dur * 1000), C.duration_ms: pa.array(dur),
          C.start_date: dates(start)}
    executions = pa.table({f.name: ex.get(f.name, pa.nulls(n_exec, f.type)) for f in schema}, schema=schema)
    n = n_exec * steps_per
    idx = np.repeat(np.arange(n_exec), steps_per)
    k = np.tile(np.arange(steps_per), n_exec)
    s_start = start[idx] + k * 1000
    s_dur = rng.lognormal(5, 1, n).astype(np.int64)
    s_fail = failed[idx] & (k == steps_per - 1)
    names = np.array([f"S{i}" for i in range(steps_per)], dtype=object)
    attempts = np.where(rng.random(n) < 0.01, 2, 1).astype(np.int32)
    st = {C.cloud: pa.array(["aws"] * n), C.workflow_id: pa.array(wf_ids[wf[idx]]),
          C.execution_id: pa.array(ex_ids[idx]), C.step_key: pa.array(names[k]), C.name: pa.array(names[k]),
          C.type: pa.array([str(StepType.TASK)] * n),
          C.status: pa.array(np.where(s_fail, str(Status.FAILED), str(Status.SUCCEEDED)).astype(object)),
          C.started_at: ts(s_start), C.ended_at: ts(s_start + s_dur * 1000), C.duration_ms: pa.array(s_dur),
          C.attempts: pa.array(attempts), C.start_date: dates(s_start)}
    steps = pa.table({f.name: st.get(f.name, pa.nulls(n, f.type)) for f in TABLES["steps"].schema},
                     schema=TABLES["steps"].schema)
    r = np.nonzero(attempts > 1)[0]
    m = len(r)
    a_idx = np.concatenate([r, r])
    a_n = np.concatenate([np.ones(m, np.int32), np.full(m, 2, np.int32)])
    a_start = s_start[a_idx] + (a_n - 1) * 1_000_000
    at = {C.cloud: pa.array(["aws"] * 2 * m), C.workflow_id: pa.array(wf_ids[wf[idx[a_idx]]]),
          C.execution_id: pa.array(ex_ids[idx[a_idx]]), C.step_key: pa.array(names[k[a_idx]]),
          C.attempt: pa.array(a_n), C.started_at: ts(a_start), C.ended_at: ts(a_start + 500_000),
          C.status: pa.array(np.where(a_n == 1, str(Status.FAILED), str(Status.SUCCEEDED)).astype(object)),
          C.error: pa.array(np.where(a_n == 1, "States.TaskFailed", None).astype(object)),
          C.start_date: dates(a_start)}
    attempts_t = pa.table({f.name: at.get(f.name, pa.nulls(2 * m, f.type)) for f in TABLES["attempts"].schema},
                          schema=TABLES["attempts"].schema)
    us = {C.cloud: st[C.cloud], C.region: pa.array(["us-east-1"] * n), C.workflow_id: st[C.workflow_id],
          C.execution_id: st[C.execution_id], C.step_key: st[C.step_key],
          C.meter: pa.array([str(Meter.AWS_SFN_STATE_TRANSITION)] * n),
          C.quantity: pa.array(attempts.astype(np.float64)), C.started_at: ts(start[idx]),
          C.start_date: dates(start[idx])}
    usage = pa.table({f.name: us.get(f.name, pa.nulls(n, f.type)) for f in TABLES["usage"].schema},
                     schema=TABLES["usage"].schema)
    return {"executions": executions, "steps": steps, "attempts": attempts_t, "usage": usage}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    t = time.perf_counter()
    data = generate(n)
    print(f"generated {n:,} executions, {data['steps'].num_rows:,} steps in {time.perf_counter() - t:.1f} s")
    con = ibis.duckdb.connect()
    tables = {}
    for name in TABLES:
        con.con.register(name, data.get(name) or TABLES[name].schema.empty_table())
        tables[name] = con.table(name)
    since = dt.datetime(2026, 3, 1, tzinfo=UTC)
    until = since + dt.timedelta(days=30)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        df = analyze(tables, since=since, until=until, now=until)
        times.append(time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"analyze: median {statistics.median(times):.2f} s over {len(times)} runs "
          f"({', '.join(f'{x:.2f}' for x in times)}); {len(df)} findings; peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
