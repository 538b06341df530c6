"""Benchmark: the same 7-day analysis over stores of longer and longer history.

A store keeps history past the clouds' 90 days, a file per cloud and start date. `flowscope analyze --since 7d`
reads a window's rows only from the files that can hold them (`store/spans.py`), so its cost should follow the
window, not the history. This bench builds (once, kept in --dir) stores of the same daily volume over several
history lengths (bench_dashboard's generator: 12 workflows across the three clouds, 6 steps each) and times, in
a fresh process per store, `analyze_store` over the last --window days as `flowscope analyze` runs it, and the
same analyses over every file (`suite.analyze` without the store's window reads), side by side. Prints medians
of --runs warm runs (wall and CPU seconds) and the ratio of each history to the shortest.

    .venv/bin/python bench/bench_window.py [--per-day 5000] [--days 31,180,365] [--window 7] [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))   # the benches' own helpers
from peak_memory import peak_rss_mb  # noqa: E402
from which_host import describe  # noqa: E402


def store_path(folder: Path, per_day: int, days: int) -> Path:
    return folder / f"window-{per_day}-per-day-{days}d"


def build(folder: Path, per_day: int, days: int) -> Path:
    """The store of `days` days at `per_day` executions a day, built once."""
    from bench_dashboard import build_store

    path = store_path(folder, per_day, days)
    if not (path / "executions" / "_delta_log").is_dir():
        build_store(path, per_day * days, days=days)
    return path


def measure(path: Path, window_days: int, runs: int) -> dict[str, object]:
    """In this (child) process: one warm-up each, then `runs` timed runs of the window read from its files and
    of the same analyses over every file, alternated; their findings must be equal."""
    from flowscope.analysis.run import analyze_store
    from flowscope.analysis.suite import analyze, findings_to_records
    from flowscope.model import TABLES
    from flowscope.store import Store

    store = Store(path)
    last = store.sql("SELECT max(started_at) FROM executions").iloc[0, 0].to_pydatetime()
    until = last.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    window = {"since": until - dt.timedelta(days=window_days), "until": until, "now": until}

    def by_window() -> list[dict[str, object]]:
        return findings_to_records(analyze_store(Store(path), **window))

    def every_file() -> list[dict[str, object]]:
        tables, facts = Store(path).tables_and_facts(TABLES)
        return findings_to_records(analyze(tables, column_facts=facts, **window))

    if by_window() != every_file():
        raise SystemExit(f"{path}: the window's files gave other findings than every file")
    times: dict[str, list[tuple[float, float]]] = {"window": [], "every": []}
    for _ in range(runs):
        for name, fn in (("window", by_window), ("every", every_file)):
            began, began_cpu = time.perf_counter(), time.process_time()
            fn()
            times[name].append((time.perf_counter() - began, time.process_time() - began_cpu))
    files = len(store.snapshot_files()["steps"].files)
    return {name: {"wall": statistics.median(w for w, _ in ts), "cpu": statistics.median(c for _, c in ts)}
            for name, ts in times.items()} | {"files": files, "peak_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-day", type=int, default=5000, help="executions a day (default 5000)")
    parser.add_argument("--days", default="31,180,365", help="history lengths in days, comma-separated")
    parser.add_argument("--window", type=int, default=7, help="the analysed window's days (default 7)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path(__file__).resolve().parent / "out")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.window, args.runs)))
        return
    print(describe())
    days = sorted({int(d) for d in args.days.split(",") if d.strip()})
    rows = []
    for d in days:
        path = build(args.dir, args.per_day, d)
        out = subprocess.run([sys.executable, __file__, "--measure", str(path), "--window", str(args.window),
                              "--runs", str(args.runs)], capture_output=True, text=True)
        if out.returncode != 0:
            tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
            raise SystemExit(f"{d} days: the measuring process failed: {tail}")
        rows.append((d, json.loads(out.stdout.strip().splitlines()[-1])))
    base_wall = rows[0][1]["window"]["wall"]
    print(f"last {args.window} days of stores of {args.per_day:,} executions a day, medians of {args.runs} runs:")
    print(f"{'history':>8} {'files':>6} {'window wall':>12} {'cpu':>7} {'every file wall':>16} {'cpu':>7} "
          f"{'window / shortest':>18}")
    for d, r in rows:
        print(f"{d:>6} d {r['files']:>6} {r['window']['wall']:>10.2f} s {r['window']['cpu']:>5.2f} s "
              f"{r['every']['wall']:>14.2f} s {r['every']['cpu']:>5.2f} s {r['window']['wall'] / base_wall:>17.2f}x")


if __name__ == "__main__":
    main()
