"""Store benchmark (run on demand): `python bench/bench_store.py [--rows 1000000] [--dir /tmp/x]`.

Prints: append rate of step rows (Arrow input and dict input), replace rate, bytes on disk per
step row, read times (connect, count, group-by).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flowscope.model import TABLES, Batch, C
from flowscope.store import Store

STEPS_PER_EXECUTION = 100
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)


def step_rows(first_execution: int, rows: int, cloud: str = "aws") -> pa.Table:
    """`rows` synthetic step rows (100 per execution) as an Arrow table of the steps schema."""
    n_exec = rows // STEPS_PER_EXECUTION
    e = np.repeat(np.arange(first_execution, first_execution + n_exec), STEPS_PER_EXECUTION)
    k = np.tile(np.arange(STEPS_PER_EXECUTION), n_exec)
    exec_ids = pc.binary_join_element_wise(
        pa.array(np.char.add("arn:aws:states:us-east-1:123456789012:execution:wf", (e % 20).astype(str))),
        pa.array(np.char.zfill(e.astype(str), 10)), ":")
    start_us = (int(T0.timestamp()) * 1_000_000 + e * 60_000_000 + k * 1_000_000).astype("int64")
    duration = (np.random.default_rng(e[0] if len(e) else 0).gamma(2.0, 150.0, len(e))).astype("int64")
    ts = pa.timestamp("us", tz="UTC")
    started = pa.array(start_us, ts)
    columns = {
        C.cloud: pa.array([cloud] * len(e)),
        C.workflow_id: pa.array(np.char.add("arn:aws:states:us-east-1:123456789012:stateMachine:wf",
                                            (e % 20).astype(str))),
        C.execution_id: exec_ids,
        C.step_key: pa.array(k.astype(str)),
        C.previous_step_key: pa.array(np.where(k > 0, (k - 1).astype(str), None)),
        C.parent_step_key: pa.nulls(len(e), pa.string()),
        C.iteration: pa.nulls(len(e), pa.int32()),
        C.name: pa.array(np.char.add("Step", (k % 25).astype(str))),
        C.type: pa.array(np.where(k % 4 == 0, "choice", "task")),
        C.native_type: pa.array(np.where(k % 4 == 0, "Choice", "Task")),
        C.resource: pa.array(np.where(k % 4 == 0, None, "arn:aws:states:::lambda:invoke")),
        C.status: pa.array(np.where(k == STEPS_PER_EXECUTION - 1, "FAILED", "SUCCEEDED")),
        C.started_at: started,
        C.ended_at: pa.array(start_us + duration * 1000, ts),
        C.duration_ms: pa.array(duration),
        C.attempts: pa.array(np.ones(len(e), dtype="int32")),
        C.error: pa.nulls(len(e), pa.string()),
        C.cause: pa.nulls(len(e), pa.string()),
        C.start_date: pc.cast(pc.cast(pa.array(int(T0.timestamp()) * 1_000_000 + e * 60_000_000, ts),
                                      pa.timestamp("us")), pa.date32()),
    }
    return pa.table(columns, schema=TABLES["steps"].schema)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="flowscope-bench-"))
    shutil.rmtree(root / "store", ignore_errors=True)
    s = Store(root / "store", vacuum_retention=dt.timedelta(0))
    n_exec = args.rows // STEPS_PER_EXECUTION

    print(f"store: {s.path}  rows per write: {args.rows:,}  ({n_exec:,} executions x {STEPS_PER_EXECUTION} steps)")
    batches = [step_rows(i * n_exec, args.rows) for i in range(args.runs)]
    append = [timed(lambda b=b: s.write(Batch(steps=b))) for b in batches]
    rates = [args.rows / t for t in append]
    print(f"append (Arrow input, store growing to {args.runs * args.rows:,} rows): median "
          f"{statistics.median(rates):,.0f} rows/s  runs: {', '.join(f'{r:,.0f}' for r in rates)}")

    small = min(args.rows, 100_000)
    dict_rows = step_rows(10_000_000, small).to_pylist()
    t = timed(lambda: s.write(Batch(steps=dict_rows)))
    print(f"append (dict rows, {small:,} rows, incl. validation/conversion): {small / t:,.0f} rows/s")

    replace_n = min(args.rows, 100_000)
    repl = [timed(lambda i=i: s.write(Batch(steps=step_rows(i * n_exec, replace_n)))) for i in range(3)]
    print(f"replace ({replace_n:,} existing step rows per write, into {args.runs * args.rows + small:,}): "
          f"median {replace_n / statistics.median(repl):,.0f} rows/s")
    t = timed(lambda: s.write(Batch(steps=batches[0])))
    print(f"replace ({args.rows:,} existing step rows in one write): {args.rows / t:,.0f} rows/s")

    total = args.runs * args.rows + small
    disk = sum(f.stat().st_size for f in (s.path / "steps").rglob("*.parquet"))
    files = sum(1 for _ in (s.path / "steps").rglob("*.parquet"))
    t = timed(lambda: s.compact())
    disk_c = sum(f.stat().st_size for f in (s.path / "steps").rglob("*.parquet"))
    files_c = sum(1 for _ in (s.path / "steps").rglob("*.parquet"))
    print(f"bytes on disk per step row: {disk / total:.1f} before compaction ({files} files), "
          f"{disk_c / total:.1f} after ({files_c} files); compact+vacuum took {t:.2f}s")

    connects = [timed(s.connect) for _ in range(5)]
    con = s.connect()
    counts = [timed(lambda: con.execute("SELECT count(*) FROM steps").fetchall()) for _ in range(5)]
    groups = [timed(lambda: con.execute(
        "SELECT workflow_id, name, count(*), avg(duration_ms), quantile_cont(duration_ms, 0.95) "
        "FROM steps GROUP BY ALL").fetchall()) for _ in range(5)]
    n = con.execute("SELECT count(*) FROM steps").fetchone()[0]
    print(f"read ({n:,} step rows): connect {statistics.median(connects) * 1000:.0f} ms, count(*) "
          f"{statistics.median(counts) * 1000:.0f} ms, group-by workflow+step with p95 "
          f"{statistics.median(groups) * 1000:.0f} ms (medians of 5)")
    if args.dir is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
