"""Demo generation figures: `flowscope demo` (simulate + transform + assemble + store) for N executions.

Run: .venv/bin/python bench/bench_demo.py [--executions 100000] [--runs 3] [--workers N]

Each run builds a fresh store in a child process; this process samples the child's whole process
tree (the demo's worker processes included) from /proc every 0.1 s: peak RSS of the tree (sum
over its live processes) and CPU seconds. Prints per-run figures and the medians, against the
targets of issue 15: 100,000 executions in at most 30 s, 1,000,000 in at most 5 minutes, both
under 4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))   # the benches' own helpers
from peak_memory import descendants  # noqa: E402
from which_host import describe  # noqa: E402

TARGET_S = {100_000: 30.0, 1_000_000: 300.0}
TARGET_GB = 4.0
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICK = os.sysconf("SC_CLK_TCK")


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*.parquet"))


def _stat(pid: int) -> tuple[int, int, float] | None:
    """(parent pid, RSS bytes, CPU seconds) of a live process, from /proc/<pid>/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15, rss 24
    return int(fields[1]), int(fields[21]) * _PAGE, (int(fields[11]) + int(fields[12])) / _TICK


class TreeSampler:
    """Peak RSS (sum over the tree) and CPU seconds of a process and all its descendants."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak_rss = 0
        self.at_peak: list[int] = []              # RSS of each process of the tree at its peak
        self.cpu: dict[int, float] = {}          # last CPU seen per pid (the dead keep theirs)

    def sample(self) -> None:
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                found = _stat(int(entry))
                if found is not None:
                    stats[int(entry)] = found
        tree = {self.root, *descendants(self.root, {pid: found[0] for pid, found in stats.items()})}
        rss = sum(stats[pid][1] for pid in tree if pid in stats)
        if rss > self.peak_rss:
            self.peak_rss = rss
            # the demo's own process first, then its fork server and workers, largest first
            self.at_peak = [stats[self.root][1]] + sorted(
                (stats[pid][1] for pid in tree if pid in stats and pid != self.root), reverse=True)
        for pid in tree:
            if pid in stats:
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), stats[pid][2])


def child(args: argparse.Namespace) -> None:
    from flowscope.simulate import demo
    from flowscope.store import Store

    if args.native is not None:
        demo.NATIVE_EXECUTIONS = args.native
    root = Path(args.store)
    began = time.perf_counter()
    result = demo.build_demo(Store(root), executions=args.executions, seed=args.seed, workers=args.workers)
    total = time.perf_counter() - began
    # getattr: the same bench measures the code before issue 15 (no clones, skips or writes)
    print(json.dumps({"total": total, "seconds": result.seconds, "written": result.written,
                      "cloned": getattr(result, "cloned", {}), "skips": getattr(result, "skips", {}),
                      "writes": getattr(result, "writes", 1), "bytes": folder_bytes(root)}))


def run_once(executions: int, seed: int, workers: int | None, native: int | None) -> dict:
    root = Path(tempfile.mkdtemp(prefix="flowscope-bench-demo-"))
    try:
        cmd = [sys.executable, __file__, "--child", "--store", str(root / "store"),
               "--executions", str(executions), "--seed", str(seed)]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        if native is not None:
            cmd += ["--native", str(native)]
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        sampler = TreeSampler(proc.pid)
        while proc.poll() is None:
            sampler.sample()
            time.sleep(0.1)
        wall = time.perf_counter() - began
        out = proc.stdout.read() if proc.stdout else ""
        if proc.returncode:
            raise SystemExit(f"demo run failed with exit code {proc.returncode}")
        figures = json.loads(out.strip().splitlines()[-1])
        figures.update(wall=wall, peak_gb=sampler.peak_rss / 1e9, cpu_s=sum(sampler.cpu.values()),
                       at_peak_gb=[rss / 1e9 for rss in sampler.at_peak])
        return figures
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--native", type=int, default=None,
                        help="demo.NATIVE_EXECUTIONS for this run (native ordinary executions per cloud)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(describe(), flush=True)
    runs = []
    for run in range(args.runs):
        f = run_once(args.executions, args.seed + run, args.workers, args.native)
        runs.append(f)
        steps = f["written"].get("steps", 0)
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in f["seconds"].items())
        print(f"run {run + 1}: {f['written'].get('executions', 0):,} executions "
              f"({sum(f['cloned'].values()):,} cloned), {steps:,} steps in {f['wall']:.1f}s wall, "
              f"{f['cpu_s']:.0f} CPU s, peak {f['peak_gb']:.2f} GB (process tree: "
              f"{' + '.join(f'{gb:.2f}' for gb in f['at_peak_gb'])}, the demo's process first), {f['writes']} writes; "
              f"stages: {stages}; {f['bytes'] / max(steps, 1):.1f} bytes on disk per step row; "
              f"skips {f['skips']}", flush=True)
    target = TARGET_S.get(args.executions)
    wall = statistics.median(r["wall"] for r in runs)
    peak = statistics.median(r["peak_gb"] for r in runs)
    cpu = statistics.median(r["cpu_s"] for r in runs)
    print(f"median: {wall:.1f}s wall, {cpu:.0f} CPU s, peak {peak:.2f} GB for {args.executions:,} executions"
          + (f" (targets: {target:.0f} s, {TARGET_GB:.0f} GB)" if target else f" (target: {TARGET_GB:.0f} GB)")
          + f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
