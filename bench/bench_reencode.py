"""The `timestamps-as-deltas-1` upgrade on a store an older flowscope wrote (run on demand):

    .venv/bin/python bench/bench_reencode.py                    # 1,000,000 executions, 3 runs
    .venv/bin/python bench/bench_reencode.py --executions 200000 --runs 5

Builds (once, kept in bench/out/) the dashboard bench's store (`bench_dashboard.build_store`: 30 days, three
clouds) written as flowscope wrote before timestamps were deltas (every column with a dictionary), then, per
run, copies it and runs the upgrade (`stored_encoding.upgrade_encoding`) in a fresh process, as the first `sync`
or `import` after an upgrade of flowscope does. Prints wall and CPU seconds and peak RSS (medians of the runs),
the files rewritten and the live files' bytes before and after.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))   # the benches' own helpers

from built_once import built_once  # noqa: E402
from which_host import describe  # noqa: E402

from flowscope.model import TABLES  # noqa: E402

CHILD = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from peak_memory import peak_rss_mb
from flowscope.collectors.stored_encoding import upgrade_encoding
from flowscope.store import Store
t, c = time.perf_counter(), time.process_time()
files = upgrade_encoding(Store(sys.argv[1]))
print(json.dumps({"wall": time.perf_counter() - t, "cpu": time.process_time() - c, "files": files,
                  "peak_mb": peak_rss_mb()}))
"""


def build_old(path: Path, executions: int) -> None:
    """The dashboard bench's store, every file written with the old writer's properties."""
    import bench_dashboard
    from deltalake import WriterProperties

    from flowscope.store import delta

    kept = delta.writer_properties
    delta.writer_properties = lambda table: WriterProperties(compression="ZSTD")
    try:
        bench_dashboard.build_store(path, executions)
    finally:
        delta.writer_properties = kept


def live_mb(store: Path) -> float:
    """The bytes of the files the tables' Delta logs list (not those a vacuum has yet to delete)."""
    import pyarrow as pa
    from deltalake import DeltaTable

    return sum(sum(pa.table(DeltaTable(str(store / t)).get_add_actions(flatten=True))["size_bytes"].to_pylist())
               for t in TABLES if (store / t / "_delta_log").is_dir()) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--executions", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--store", type=Path, default=None, help="the old store (default bench/out/reencode-N)")
    args = ap.parse_args()
    print(describe(), flush=True)
    source = args.store or ROOT / "bench" / "out" / f"reencode-{args.executions}"
    built_once(source, f"{args.executions:,} executions, the old encoding",
               lambda path: build_old(path, args.executions))
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-reencode-") as tmp:
        for i in range(args.runs):
            copy = Path(tmp) / f"run{i}"
            shutil.copytree(source, copy)
            before = live_mb(copy)
            out = subprocess.run([sys.executable, "-c", CHILD, str(copy), str(Path(__file__).resolve().parent)],
                                 capture_output=True, text=True, check=True, cwd=ROOT)
            run = json.loads(out.stdout.strip().splitlines()[-1])
            run.update(before_mb=before, after_mb=live_mb(copy))
            print(f"  run {i + 1}: {run['files']:,} files rewritten in {run['wall']:.1f}s (cpu {run['cpu']:.1f}s), "
                  f"peak {run['peak_mb']:,.0f} MB; live files {before:,.0f} -> {run['after_mb']:,.0f} MB", flush=True)
            runs.append(run)
            shutil.rmtree(copy)
    med = {k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu", "peak_mb", "before_mb", "after_mb")}
    print(f"{args.executions:,} executions: {runs[0]['files']:,} files rewritten in {med['wall']:.1f}s wall, "
          f"{med['cpu']:.1f}s cpu, peak {med['peak_mb']:,.0f} MB; live files {med['before_mb']:,.0f} -> "
          f"{med['after_mb']:,.0f} MB (median of {len(runs)})")


if __name__ == "__main__":
    main()
