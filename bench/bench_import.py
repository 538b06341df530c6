"""Benchmark: `flowscope import` of a big CloudWatch Logs export against an orjson parse of the same file.

Builds (once, cached in --dir) JSON Lines files of Step Functions log records (level ALL, the
simulator's Express and Standard machines, records in time order as an export gives them) of
1M and 10M records, plus the state machines' describe-state-machine files. Then, side by side
in one run, for each size: an orjson parse of every line of the file (the floor), and the full
import into a fresh store, each in its own process so peak RSS is its own. Prints the median
seconds and peak RSS of --runs runs and the ratio import / parse.

Target (issue 15): import at most 5x the parse time, under 1 GB peak, at 1M and 10M records.

    .venv/bin/python bench/bench_import.py [--sizes 1000000,10000000] [--runs 3] [--dir /tmp/fs-bench-import]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

SPAN = dt.timedelta(days=2)
BASE_EXECUTIONS = 12_000          # ~85 records each: one simulated copy is ~1M records


def _copy_suffix(arn: str, copy: int) -> str:
    return arn if copy == 0 else f"{arn}-c{copy}"


def build_files(folder: Path, records: int) -> tuple[Path, list[Path]]:
    """The log-records file of `records` records (copies of one simulation shifted in time, new
    ARNs per copy) and the state machines' files; built once per size."""
    from flowscope.simulate.aws import simulate
    from flowscope.simulate.base import SimSpec

    folder.mkdir(parents=True, exist_ok=True)
    logs = folder / f"logs-{records}.jsonl"
    machines = sorted(folder.glob("machine-*.json"))
    if logs.is_file() and machines:
        return logs, machines
    start = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
    sim = simulate(SimSpec(start, start + SPAN, BASE_EXECUTIONS, seed=11))
    base = sorted((r for fmt, doc in sim.documents if fmt == "aws.log_records" for r in doc),
                  key=lambda r: int(r["event_timestamp"]))
    for n, (_, doc) in enumerate(d for d in sim.documents if d[0] == "aws.state_machine"):
        (folder / f"machine-{n}.json").write_text(json.dumps(doc))
    shift = int(SPAN.total_seconds() * 1000)
    written = 0
    tmp = logs.with_suffix(".tmp")
    with tmp.open("wb") as out:
        copy = 0
        while written < records:
            lines = []
            for record in base[: records - written]:
                rec = dict(record, execution_arn=_copy_suffix(record["execution_arn"], copy),
                           event_timestamp=str(int(record["event_timestamp"]) + copy * shift))
                lines.append(orjson.dumps(rec))
            out.write(b"\n".join(lines) + b"\n")
            written += len(lines)
            copy += 1
    tmp.rename(logs)
    return logs, sorted(folder.glob("machine-*.json"))


# ---------------------------------------------------------------- children (one measurement each)

def child_parse(path: Path) -> dict[str, float]:
    """The floor: every line of the file parsed by orjson (and dropped)."""
    loads = orjson.loads
    began = time.perf_counter()
    n = 0
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                loads(line)
                n += 1
    return {"seconds": time.perf_counter() - began, "records": n}


def child_import(paths: list[Path], store: Path) -> dict[str, float]:
    from flowscope.collectors.importer import import_files

    began = time.perf_counter()
    result = import_files(store, paths)
    return {"seconds": time.perf_counter() - began, "executions": result.written.get("executions", 0),
            "steps": result.written.get("steps", 0), "skips": len(result.skips)}


def _child(argv: list[str]) -> None:
    kind, *rest = argv
    if kind == "parse":
        out = child_parse(Path(rest[0]))
    else:
        out = child_import([Path(p) for p in rest[1:]], Path(rest[0]))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["peak_mb"] = usage.ru_maxrss / 1024
    out["cpu_s"] = usage.ru_utime + usage.ru_stime        # stable on a busy machine, where wall time is not
    print(json.dumps(out))


def _measure(args: list[str]) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000", help="records per file, comma separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "flowscope-bench-import")
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        logs, machines = build_files(args.dir, size)
        parses, imports = [], []
        for run in range(args.runs):
            parses.append(_measure(["parse", str(logs)]))
            store = Path(tempfile.mkdtemp(prefix="flowscope-bench-import-store-"))
            try:
                imports.append(_measure(["import", str(store / "s"), str(logs), *map(str, machines)]))
            finally:
                shutil.rmtree(store, ignore_errors=True)
            print(f"  run {run + 1}: parse {parses[-1]['seconds']:.2f}s (cpu {parses[-1]['cpu_s']:.2f}s) "
                  f"{parses[-1]['peak_mb']:.0f} MB | import {imports[-1]['seconds']:.2f}s "
                  f"(cpu {imports[-1]['cpu_s']:.2f}s) {imports[-1]['peak_mb']:.0f} MB "
                  f"({imports[-1]['executions']:,} executions, {imports[-1]['steps']:,} steps)", flush=True)
        p = statistics.median(r["seconds"] for r in parses)
        i = statistics.median(r["seconds"] for r in imports)
        rss = statistics.median(r["peak_mb"] for r in imports)
        p_cpu = statistics.median(r["cpu_s"] for r in parses)
        i_cpu = statistics.median(r["cpu_s"] for r in imports)
        print(f"{size:,} records ({logs.stat().st_size / 1e6:,.0f} MB): orjson parse {p:.2f}s "
              f"({statistics.median(r['peak_mb'] for r in parses):.0f} MB) | import {i:.2f}s "
              f"({size / i:,.0f} records/s), peak {rss:,.0f} MB | ratio {i / p:.1f}x wall, "
              f"{i_cpu / p_cpu:.1f}x cpu (cpu {i_cpu:.1f}s / {p_cpu:.1f}s) "
              f"(target <= 5x, < 1024 MB; median of {args.runs})", flush=True)


if __name__ == "__main__":
    main()
