"""Demo generation figures: simulate + transform + assemble + store for N executions.

Run: .venv/bin/python bench/bench_demo.py [--executions 100000] [--runs 3]
Prints per-stage seconds for each run and the median total (target: 100,000 executions < 60 s),
plus bytes on disk per step row.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from flowscope.simulate.demo import build_demo
from flowscope.store import Store


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*.parquet"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    totals = []
    for run in range(args.runs):
        root = Path(tempfile.mkdtemp(prefix="flowscope-bench-demo-"))
        try:
            began = time.perf_counter()
            result = build_demo(Store(root / "store"), executions=args.executions, seed=7 + run)
            total = time.perf_counter() - began
            totals.append(total)
            steps = result.written.get("steps", 0)
            stages = ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items())
            print(f"run {run + 1}: {result.written.get('executions', 0):,} executions, {steps:,} steps "
                  f"in {total:.1f}s ({stages}); {folder_bytes(root / 'store') / max(steps, 1):.1f} "
                  f"bytes on disk per step row (all tables)")
        finally:
            shutil.rmtree(root, ignore_errors=True)
    print(f"median total: {statistics.median(totals):.1f}s for {args.executions:,} executions "
          f"(target < 60 s)")


if __name__ == "__main__":
    main()
