"""Time the full analysis on a generated store, against hand-written SQL and plain pandas.

    python bench/bench_analysis.py [--executions 1000000] [--store DIR] [--runs 3] [--no-pandas]
                                   [--demo-store DIR]

Generates columnar model tables (numpy -> Arrow, no per-row Python; 20 steps per execution, so
1,000,000 executions are 20 million step rows) and writes them into a `Store` in chunks. Then, each
in a fresh process so peak memory is its own: `flowscope.analysis.run.analyze_store` over the
store (DuckDB through Ibis) `--runs` times, `sql_analyze` (the core measures as hand-written
DuckDB SQL over the same Parquet files: the engine's floor) and `pandas_analyze` (the same analyses
written plainly in pandas over the same files) as many times, each after one warm-up run. Prints
the median wall and CPU time and the peak RSS of each, and the ratios side by side. Targets at
1,000,000 executions on 2 cores (issue 15): <= 1.5x the SQL floor, >= 8x faster than pandas,
< 2 GB; `--demo-store DIR` also times a `flowscope demo` store (30k executions: < 1 s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flowscope.model import TABLES, UTC, Batch, C, Meter, Status, StepType

sys.path.insert(0, str(Path(__file__).resolve().parent))   # the benches' own helpers
from peak_memory import peak_rss_mb  # noqa: E402 - not ru_maxrss: a child reports its parent's size at the fork
from which_host import describe  # noqa: E402

T0 = dt.datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 30
STEPS = 20
WORKFLOWS = 50
WAIT_STEPS = (5, 6)          # Wait + Check visited as a polling pair in some workflows


def generate(first: int, n_exec: int, *, total: int, seed: int = 7) -> dict[str, pa.Table]:
    """Executions first..first+n_exec of a workload of `total` executions over DAYS days."""
    rng = np.random.default_rng(seed + first)
    t0_us = int(T0.timestamp() * 1e6)
    span_us = DAYS * 86400 * 10**6
    ids = np.arange(first, first + n_exec)
    wf = ids % WORKFLOWS
    wf_ids = np.array([f"arn:aws:states:us-east-1:123456789012:stateMachine:wf{i}" for i in range(WORKFLOWS)],
                      dtype=object)
    ex_ids = np.char.add("arn:aws:states:us-east-1:123456789012:execution:x:", ids.astype(str)).astype(object)
    start = t0_us + (ids * (span_us // max(total, 1))) + rng.integers(0, 60_000_000, n_exec)
    dur = rng.lognormal(7, 1, n_exec).astype(np.int64)
    failed = rng.random(n_exec) < 0.02

    def ts(a: np.ndarray) -> pa.Array:
        return pa.array(a, pa.timestamp("us", tz="UTC"))

    def dates(a: np.ndarray) -> pa.Array:
        return pa.array((a // (86400 * 10**6)).astype(np.int32), pa.date32())

    def table(name: str, cols: dict, n: int) -> pa.Table:
        schema = TABLES[name].schema
        return pa.table({f.name: cols.get(f.name, pa.nulls(n, f.type)) for f in schema}, schema=schema)

    ex = {C.cloud: pa.array(["aws"] * n_exec), C.region: pa.array(["us-east-1"] * n_exec),
          C.workflow_id: pa.array(wf_ids[wf]),
          C.workflow_name: pa.array(np.char.add("wf", wf.astype(str)).astype(object)),
          C.kind: pa.array(["sfn-standard"] * n_exec), C.execution_id: pa.array(ex_ids),
          C.status: pa.array(np.where(failed, str(Status.FAILED), str(Status.SUCCEEDED)).astype(object)),
          C.started_at: ts(start), C.ended_at: ts(start + dur * 1000), C.duration_ms: pa.array(dur),
          C.event_count: pa.array((STEPS * 3 + 5) * np.ones(n_exec, np.int32)), C.start_date: dates(start)}
    n = n_exec * STEPS
    idx = np.repeat(np.arange(n_exec), STEPS)
    k = np.tile(np.arange(STEPS), n_exec)
    s_start = start[idx] + k * 1000
    s_dur = rng.lognormal(5, 1, n).astype(np.int64)
    # One workflow in ten polls: its steps 5 and 6 are a Wait and the check it waits for.
    polling = (wf[idx] % 10 == 0) & np.isin(k, WAIT_STEPS)
    s_type = np.where(polling & (k == WAIT_STEPS[0]), str(StepType.WAIT), str(StepType.TASK)).astype(object)
    s_fail = failed[idx] & (k == STEPS - 1)
    names = np.array([f"S{i}" for i in range(STEPS)], dtype=object)
    keys = np.array([f"{i}" for i in range(STEPS)], dtype=object)
    prev = np.array([None] + [f"{i}" for i in range(STEPS - 1)], dtype=object)
    attempts = np.where(rng.random(n) < 0.01, 2, 1).astype(np.int32)
    # A retry storm: workflow 3, step S2, day 20 from 10:00 to 12:00 - most visits retried 3 times.
    day20 = t0_us + 20 * 86400 * 10**6
    storm = (wf[idx] == 3) & (k == 2) & (s_start >= day20 + 10 * 3600 * 10**6) & (s_start < day20 + 12 * 3600 * 10**6)
    attempts = np.where(storm & (rng.random(n) < 0.8), 4, attempts).astype(np.int32)
    st = {C.cloud: pa.array(["aws"] * n), C.workflow_id: pa.array(wf_ids[wf[idx]]),
          C.execution_id: pa.array(ex_ids[idx]), C.step_key: pa.array(keys[k]),
          C.previous_step_key: pa.array(prev[k]), C.name: pa.array(names[k]), C.type: pa.array(s_type),
          C.status: pa.array(np.where(s_fail, str(Status.FAILED), str(Status.SUCCEEDED)).astype(object)),
          C.started_at: ts(s_start), C.ended_at: ts(s_start + s_dur * 1000), C.duration_ms: pa.array(s_dur),
          C.attempts: pa.array(attempts), C.start_date: dates(s_start)}
    r = np.nonzero(attempts > 1)[0]
    reps = attempts[r]
    a_idx = np.repeat(r, reps)
    a_n = (np.arange(a_idx.size) - np.repeat(np.cumsum(reps) - reps, reps) + 1).astype(np.int32)
    a_start = s_start[a_idx] + (a_n - 1) * 1_000_000
    m = a_idx.size
    at = {C.cloud: pa.array(["aws"] * m), C.workflow_id: pa.array(wf_ids[wf[idx[a_idx]]]),
          C.execution_id: pa.array(ex_ids[idx[a_idx]]), C.step_key: pa.array(keys[k[a_idx]]),
          C.attempt: pa.array(a_n), C.started_at: ts(a_start), C.ended_at: ts(a_start + 500_000),
          C.duration_ms: pa.array(np.full(m, 500, np.int64)),
          C.status: pa.array(np.where(a_n < attempts[a_idx], str(Status.FAILED), str(Status.SUCCEEDED)).astype(object)),
          C.error: pa.array(np.where(a_n < attempts[a_idx], "Lambda.TooManyRequestsException", None).astype(object)),
          C.start_date: dates(a_start)}
    us = {C.cloud: st[C.cloud], C.region: pa.array(["us-east-1"] * n), C.workflow_id: st[C.workflow_id],
          C.execution_id: st[C.execution_id], C.step_key: st[C.step_key], C.name: st[C.name],
          C.meter: pa.array([str(Meter.AWS_SFN_STATE_TRANSITION)] * n),
          C.quantity: pa.array(attempts.astype(np.float64)), C.started_at: ts(start[idx]),
          C.start_date: dates(start[idx])}
    return {"executions": table("executions", ex, n_exec), "steps": table("steps", st, n),
            "attempts": table("attempts", at, m), "usage": table("usage", us, n)}


def build_store(path: Path, total: int, chunk: int = 100_000) -> dict[str, int]:
    from flowscope.store import Store

    store = Store(path)
    rows: dict[str, int] = {}
    wf_rows = [{C.cloud: "aws", C.workflow_id: f"arn:aws:states:us-east-1:123456789012:stateMachine:wf{i}",
                C.name: f"wf{i}", C.kind: "sfn-standard", C.revision: "1", C.region: "us-east-1", C.seen_at: T0}
               for i in range(WORKFLOWS)]
    for first in range(0, total, chunk):
        data = generate(first, min(chunk, total - first), total=total)
        written = store.write(Batch(**data, workflows=wf_rows if first == 0 else []))
        for name, count in written.items():
            rows[name] = rows.get(name, 0) + count
    store.compact()
    return rows


# ---------------------------------------------------------------- the same analyses in plain pandas

PRICE_PER_TRANSITION = 0.000025


def pandas_analyze(path: Path) -> int:
    """failing steps, retry storms, cost per step, polling loops, slow steps, latency percentiles,
    stuck executions: the same questions as flowscope.analysis, written plainly with pandas over
    the same snapshot's Parquet files. Returns a count of 'findings' (for a sanity print)."""
    import pandas as pd

    from flowscope.store import Store

    store = Store(path)
    con = store.connect()
    def read(table: str, columns: list[str]) -> pd.DataFrame:   # the same files, the columns used
        return con.sql(f"SELECT {', '.join(columns)} FROM {table}").df()

    ex = read("executions", ["cloud", "workflow_id", "execution_id", "status", "started_at", "ended_at",
                             "duration_ms"])
    steps = read("steps", ["cloud", "workflow_id", "execution_id", "step_key", "name", "type", "status",
                           "started_at", "duration_ms", "attempts"])
    att = read("attempts", ["cloud", "workflow_id", "execution_id", "step_key", "status", "error", "started_at"])
    usage = read("usage", ["cloud", "workflow_id", "execution_id", "name", "quantity"])
    since, until = pd.Timestamp(T0), pd.Timestamp(T0 + dt.timedelta(days=DAYS))
    steps = steps[(steps["started_at"] >= since) & (steps["started_at"] < until)]
    found = 0
    # failing steps
    g = steps.assign(failed=steps["status"].isin(["FAILED", "CAUGHT", "TIMED_OUT", "ABORTED"])).groupby(
        ["cloud", "workflow_id", "name"])
    fs = g.agg(visits=("failed", "size"), failures=("failed", "sum"))
    found += int(((fs["failures"] >= 5) & (fs["failures"] / fs["visits"] >= 0.05)).sum())
    # retry storms: failed attempts per 15 min with the step name, vs a rolling median
    named = att[att["status"] != "SUCCEEDED"].merge(
        steps[steps["attempts"] > 1][["cloud", "execution_id", "step_key", "name"]],
        on=["cloud", "execution_id", "step_key"])
    named["bucket"] = named["started_at"].dt.floor("15min")
    counts = named.groupby(["cloud", "workflow_id", "name", "error", "bucket"]).size().rename("n").reset_index()
    for _, series in counts.groupby(["cloud", "workflow_id", "name", "error"]):
        s = series.set_index("bucket")["n"].asfreq("15min", fill_value=0)
        med = s.rolling(672, min_periods=4).median().shift()
        found += int(((s >= 10) & (s > med.fillna(0) + 6)).sum() > 0)
    # cost per step and execution
    usage = usage.assign(usd=usage["quantity"] * PRICE_PER_TRANSITION)
    per_step = usage.groupby(["cloud", "workflow_id", "name"])["usd"].sum()
    per_exec = usage.groupby(["cloud", "workflow_id", "execution_id"])["usd"].sum()
    share = per_step / per_step.groupby(level=[0, 1]).transform("sum")
    found += int((share >= 0.5).sum()) + int(per_exec.size > 0)
    # polling loops: a Wait visited 5+ times in one execution
    waits = steps[steps["type"] == "wait"].groupby(["cloud", "workflow_id", "execution_id", "name"]).size()
    found += int((waits >= 5).groupby(level=[0, 1]).sum().gt(3).sum())
    # slow steps: p50/p95 per step and 6 h bucket vs the median bucket
    ok = steps[steps["duration_ms"].notna() & (steps["attempts"] <= 1)]
    ok = ok.assign(bucket=ok["started_at"].dt.floor("6h"))
    q = ok.groupby(["cloud", "workflow_id", "name", "bucket"])["duration_ms"].quantile([0.5, 0.95]).unstack()
    base = q.groupby(level=[0, 1, 2]).transform("median")
    found += int(((q[0.95] >= 2 * base[0.95]) & (q[0.95] - base[0.5] >= 1000)).sum())
    # latency percentiles per workflow and step
    pct = steps.groupby(["cloud", "workflow_id", "name"])["duration_ms"].quantile([0.5, 0.95, 0.99]).unstack()
    found += int(len(pct) > 0)
    # stuck executions vs the workflow's p99
    done = ex[ex["ended_at"].notna()]
    p99 = done.groupby(["cloud", "workflow_id"])["duration_ms"].quantile(0.99)
    running = ex[ex["status"] == "RUNNING"].merge(p99.rename("p99").reset_index(), on=["cloud", "workflow_id"])
    found += int(((until - running["started_at"]).dt.total_seconds() * 1000 > 3 * running["p99"]).sum())
    # latency drift per workflow
    e = ex[(ex["started_at"] >= since) & ex["ended_at"].notna()]
    found += int(e.groupby(["cloud", "workflow_id"])["duration_ms"].quantile(0.95).size > 0)
    return found


# ---------------------------------------------------------------- the engine's floor: the same core measures in SQL

def sql_queries() -> dict[str, str]:
    """The core measures of the analyses as plain DuckDB SQL over the store's table views (the same
    Parquet files, read the same way), one query each: what the engine must do at least. Time buckets
    are whole buckets since the epoch from EPOCH_US, as the engine makes them (TIME_BUCKET over a
    TIMESTAMPTZ costs twice the CPU), and a group's quantiles one list aggregate, as the engine takes
    them (one sort per group, not one per quantile)."""
    since, until = f"TIMESTAMPTZ '{T0.isoformat()}'", f"TIMESTAMPTZ '{(T0 + dt.timedelta(days=DAYS)).isoformat()}'"
    win = f"started_at >= {since} AND started_at < {until}"
    failed = "('FAILED', 'CAUGHT', 'TIMED_OUT', 'ABORTED')"
    return {
        # per step: visits, failures, attempts, retries (failing_step, costly_step's visits)
        "step_stats": f"""SELECT cloud, workflow_id, name, count(*) AS visits,
            count(*) FILTER (WHERE status IN {failed}) AS failures, sum(attempts) AS attempts,
            sum(greatest(attempts - 1, 0)) AS retries FROM steps WHERE {win} GROUP BY ALL""",
        # retried failed attempts per (step, error, 15-minute bucket) (retry_storm's series)
        "retry_buckets": f"""SELECT s.cloud, s.workflow_id, s.name, coalesce(a.error, '(no error)') AS error,
            epoch_us(a.started_at) // 900000000 AS bucket, count(*) AS retries
            FROM attempts a JOIN (SELECT * FROM steps WHERE attempts > 1) s
            ON a.cloud = s.cloud AND a.execution_id = s.execution_id AND a.step_key = s.step_key
            WHERE a.status IN {failed} AND a.attempt < s.attempts AND a.started_at < {until}
            GROUP BY ALL""",
        # dollars per step and meter (costly_step, retries' share, what-ifs)
        "step_costs": f"""SELECT cloud, workflow_id, name, meter, sum(quantity) AS quantity,
            sum(quantity * {PRICE_PER_TRANSITION}) AS usd FROM usage WHERE {win} GROUP BY ALL""",
        # executions that visit a Wait 5+ times (polling_loop)
        "polling": f"""SELECT cloud, workflow_id, name, count(*) AS executions, sum(n) AS visits FROM (
            SELECT cloud, workflow_id, execution_id, name, count(*) AS n FROM steps
            WHERE {win} AND type = 'wait' GROUP BY ALL HAVING count(*) >= 5) GROUP BY ALL""",
        # p95/p50/p80 per step and 6-hour bucket of first-attempt visits (slow_step)
        "slow_buckets": f"""SELECT cloud, workflow_id, name, epoch_us(started_at) // 21600000000 AS bucket,
            count(*) AS n, quantile_cont(duration_ms::DOUBLE, [0.95, 0.5, 0.8]) AS qs
            FROM steps WHERE {win} AND duration_ms >= 0 AND attempts <= 1 GROUP BY ALL""",
        # per workflow: executions and duration percentiles, current and previous window (latency_drift, stuck)
        "workflow_latency": f"""SELECT cloud, workflow_id, started_at >= {since} AS current, count(*) AS n,
            quantile_cont(duration_ms::DOUBLE, [0.5, 0.95, 0.99]) AS qs FROM executions
            WHERE started_at < {until} AND ended_at IS NOT NULL AND duration_ms >= 0 GROUP BY ALL""",
        # running executions (stuck_execution)
        "running": "SELECT cloud, workflow_id, count(*) AS n FROM executions WHERE status = 'RUNNING' GROUP BY ALL",
    }


def sql_analyze(path: Path) -> int:
    """The floor: `sql_queries` on a new connection of the store (an in-memory DuckDB with one view per
    table over the snapshot's Parquet files, as the analyses read them), every result fetched as
    pandas. Returns the result rows (a sanity print)."""
    from flowscope.store import Store

    con = Store(path).connect()
    return sum(len(con.sql(q).df()) for q in sql_queries().values())


def ours(path: Path) -> int:
    from flowscope.analysis.run import analyze_store
    from flowscope.store import Store

    df = analyze_store(Store(path), since=T0, until=T0 + dt.timedelta(days=DAYS), now=T0 + dt.timedelta(days=DAYS))
    return len(df)


@functools.cache
def demo_window(path: Path) -> tuple[dt.datetime, dt.datetime]:
    """A demo store's whole simulated window: from its first execution to the hour after its last. Read
    once per process: it opened a second store connection inside every timed run (~0.12 s of the 30k
    demo's ~3.4 s), a cost of the bench, not of the analyses."""
    from flowscope.store import Store

    store = Store(path)
    first, last = store.sql("SELECT min(started_at) AS first, max(started_at) AS last FROM executions").iloc[0]
    end = last.to_pydatetime().replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    return first.to_pydatetime(), end


def ours_demo(path: Path) -> int:
    from flowscope.analysis.run import analyze_store
    from flowscope.store import Store

    since, end = demo_window(path)
    return len(analyze_store(Store(path), since=since, until=end, now=end))


def measure(which: str, path: Path, runs: int) -> None:
    """In this (child) process: one warm-up run (imports, first compile), then `runs` timed runs;
    print JSON wall times, CPU times (all threads) and peak RSS."""
    fn = {"ours": ours, "pandas": pandas_analyze, "sql": sql_analyze, "demo": ours_demo}[which]
    found = fn(path)
    times, cpu = [], []
    for _ in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        found = fn(path)
        times.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    peak_mb = peak_rss_mb()
    print(json.dumps({"times": times, "cpu": cpu, "peak_mb": peak_mb, "found": found}))


def child(which: str, path: Path, runs: int) -> dict | None:
    """`measure` in a fresh process; None (said on stderr) when it died, e.g. killed for memory."""
    out = subprocess.run([sys.executable, __file__, "--measure", which, "--store", str(path), "--runs", str(runs)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        why = f"signal {-out.returncode}" if out.returncode < 0 else f"exit code {out.returncode}"
        tail = out.stderr.strip().splitlines()[-1:] or ["no output"]
        print(f"{which}: the measuring process died ({why}): {tail[0]}", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def paired(path: Path, runs: int, pairs: int) -> tuple[dict | None, dict | None, list[tuple[float, float]]]:
    """The analyses and the floor, `pairs` times in turn (each a fresh process: a warm-up, then `runs`
    timed runs): every run of each, merged, and each pair's ratios (wall, CPU) of their medians. On a
    machine whose speed drifts (a shared host) one contender measured after the other can read 1.3x or
    1.6x for the same code; a pair's two processes run a few seconds apart and see the same machine."""
    merged: dict[str, dict | None] = {"ours": None, "sql": None}
    ratios: list[tuple[float, float]] = []
    for _ in range(pairs):
        got = {which: child(which, path, runs) for which in ("ours", "sql")}
        for which, res in got.items():
            if res is None:
                continue
            acc = merged[which]
            if acc is None:
                merged[which] = dict(res)
            else:
                acc["times"] = acc["times"] + res["times"]
                acc["cpu"] = acc["cpu"] + res["cpu"]
                acc["peak_mb"] = max(acc["peak_mb"], res["peak_mb"])
        a, b = got["ours"], got["sql"]
        if a and b:
            ratios.append((statistics.median(a["times"]) / statistics.median(b["times"]),
                           statistics.median(a["cpu"]) / statistics.median(b["cpu"])))
    return merged["ours"], merged["sql"], ratios


def report(label: str, res: dict | None) -> tuple[float, float] | None:
    """Print one contender's figures; returns its median wall and CPU seconds (None: it died)."""
    if res is None:
        print(f"{label:38s} no figures (see above)")
        return None
    med, cpu = statistics.median(res["times"]), statistics.median(res["cpu"])
    print(f"{label:38s} median {med:6.2f} s wall, {cpu:6.2f} s CPU over "
          f"{len(res['times'])} runs ({', '.join(f'{t:.2f}' for t in res['times'])}); "
          f"peak RSS {res['peak_mb']:,.0f} MB; {res['found']} results")
    return med, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--store", type=Path, help="reuse (or create) the generated store here")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=1,
                        help="run the analyses and the SQL floor in turn this many times, each a fresh process "
                             "of --runs runs, and print the ratio pair by pair as well")
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas baseline")
    parser.add_argument("--demo-store", type=Path,
                        help="also time the analysis of a `flowscope demo` store (target: 30k executions < 1 s)")
    parser.add_argument("--measure", choices=["ours", "pandas", "sql", "demo"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.store, args.runs)
        return
    print(describe(), flush=True)
    tmp = None
    path = args.store
    if path is None:
        tmp = tempfile.mkdtemp(prefix="flowscope-bench-")
        path = Path(tmp) / "store"
    try:
        if not (path / "_flowscope").exists():
            began = time.perf_counter()
            rows = build_store(path, args.executions)
            print(f"generated and stored {rows.get('executions', 0):,} executions, {rows.get('steps', 0):,} steps, "
                  f"{rows.get('attempts', 0):,} attempts, {rows.get('usage', 0):,} usage rows "
                  f"in {time.perf_counter() - began:.0f} s ({os.cpu_count()} cores)")
        ours_res, sql_res, pair_ratios = paired(path, args.runs, args.pairs)
        ours_fig = report("flowscope analyze (DuckDB via Ibis):", ours_res)
        sql_fig = report("DuckDB SQL, core measures (floor):", sql_res)
        if ours_fig and sql_fig:
            print(f"flowscope / SQL floor: {ours_fig[0] / sql_fig[0]:.2f}x wall, "
                  f"{ours_fig[1] / sql_fig[1]:.2f}x CPU (target <= 1.5x)")
        if len(pair_ratios) > 1:
            walls, cpus = [w for w, _ in pair_ratios], [c for _, c in pair_ratios]
            print(f"pair by pair ({len(pair_ratios)} pairs): median {statistics.median(walls):.2f}x wall "
                  f"({min(walls):.2f}-{max(walls):.2f}), {statistics.median(cpus):.2f}x CPU "
                  f"({min(cpus):.2f}-{max(cpus):.2f})")
        if not args.no_pandas:
            pd_fig = report("plain pandas, same analyses:", child("pandas", path, args.runs))
            if ours_fig and pd_fig:
                print(f"speed-up over pandas: {pd_fig[0] / ours_fig[0]:.1f}x wall, "
                      f"{pd_fig[1] / ours_fig[1]:.1f}x CPU (target >= 8x)")
        if args.demo_store:
            report(f"demo store {args.demo_store.name}:", child("demo", args.demo_store, args.runs))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
