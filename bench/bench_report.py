"""Report benchmark: time and peak memory of `flowscope report` for each format on a store of N executions.

    .venv/bin/python bench/bench_report.py                       # 1,000,000 executions, window 7d
    .venv/bin/python bench/bench_report.py --executions 200000 --formats html,md,pdf

Builds (once, kept in bench/out/) the dashboard benchmark's store (bench_dashboard.build_store: 30 days,
three clouds, 12 workflows, 6 steps each, retries, usage, one failed scope). Then, per format, runs the
real command in a fresh process (`flowscope report --format F --until END --no-history`, cold caches)
and prints its wall time and peak resident memory: the largest of the Python process and, for PDF, the
Chromium processes it starts (each one's VmHWM, its children sampled every 50 ms). Targets (issue
14): HTML under 15 s, PDF under 30 s, peak memory under 2 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))   # the benches' own helpers

from peak_memory import DescendantsPeak, peak_rss_mb  # noqa: E402
from which_host import describe  # noqa: E402

FORMATS = ["html", "pdf", "md", "csv", "parquet", "xlsx"]
TARGETS_S = {"html": 15.0, "pdf": 30.0}
LIMIT_MB = 2048


def one(store: Path, fmt: str, out: Path, since: str, until: str) -> None:
    """Child process: run the command in-process, print seconds and peak MB as JSON."""
    from typer.testing import CliRunner

    from flowscope.cli import app

    start = time.perf_counter()
    with DescendantsPeak() as chromium:   # getrusage would count this process's size in its children's
        result = CliRunner().invoke(app, ["report", "--store", str(store), "--format", fmt, "--out", str(out),
                                          "--since", since, "--until", until, "--no-history"])
    seconds = time.perf_counter() - start
    own, kids = peak_rss_mb(), chromium.peak_mb
    print(json.dumps({"format": fmt, "seconds": round(seconds, 2), "exit": result.exit_code,
                      "peak_mb": round(max(own, kids)), "python_mb": round(own), "chromium_mb": round(kids),
                      "output": result.output.strip().splitlines()[-1:] if result.exit_code not in (0, 1, 3)
                      else []}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--executions", type=int, default=1_000_000)
    ap.add_argument("--window", default="7d", help="report window ending at the store's end hour")
    ap.add_argument("--store", type=Path, default=None, help="store folder (default bench/out/dashboard-N)")
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--one", nargs=5, metavar=("STORE", "FORMAT", "OUT", "SINCE", "UNTIL"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        store, fmt, out, since, until = args.one
        one(Path(store), fmt, Path(out), since, until)
        return
    print(describe(), flush=True)
    from bench.bench_dashboard import build_store  # the dashboard benchmark's generator, one store for both

    store = args.store or ROOT / "bench" / "out" / f"dashboard-{args.executions}"
    if not (store / "_flowscope").is_dir():
        started = time.perf_counter()
        build_store(store, args.executions)
        print(f"built {store} ({args.executions:,} executions) in {time.perf_counter() - started:.0f} s")
    from flowscope.store import Store

    last = Store.open(store).sql("SELECT max(started_at) AS t FROM executions")["t"].iloc[0]
    until = (last.to_pydatetime() + dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    days = float(args.window.rstrip("d"))
    since = until - dt.timedelta(days=days)
    out_dir = ROOT / "bench" / "out" / "reports"
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"store {store}: window {since:%Y-%m-%d %H:%M} .. {until:%Y-%m-%d %H:%M} UTC")
    print(f"{'format':<8} {'seconds':>8} {'target':>7} {'peak MB':>8} {'python':>7} {'chromium':>8}  exit")
    for fmt in args.formats.split(","):
        out = out_dir / (f"report.{fmt}" if fmt not in ("csv", "parquet") else fmt)
        proc = subprocess.run([sys.executable, __file__, "--one", str(store), fmt, str(out), since.isoformat(),
                               until.isoformat()], capture_output=True, text=True, check=False)
        try:
            row = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            print(f"{fmt:<8} failed: {proc.stderr.strip()[-300:]}")
            continue
        target = TARGETS_S.get(fmt)
        verdict = "" if target is None else ("ok" if row["seconds"] <= target else "SLOW")
        memory = "ok" if row["peak_mb"] < LIMIT_MB else "OVER"
        print(f"{fmt:<8} {row['seconds']:>8.2f} {(f'{target:.0f} s' if target else '-'):>7} {row['peak_mb']:>8} "
              f"{row['python_mb']:>7} {row['chromium_mb']:>8}  {row['exit']} {verdict} {memory} {row['output']}")


if __name__ == "__main__":
    main()
