"""Benchmark: `flowscope import` of a big CloudWatch Logs export against an orjson parse of the same file.

Builds (once, cached in --dir) JSON Lines files of Step Functions log records (level ALL, the
simulator's Express and Standard machines, records in time order as an export gives them) of
1M and 10M records, plus the state machines' describe-state-machine files. Then, side by side
in one run, for each size: an orjson parse of every line of the file (the floor), and the full
import into a fresh store, each in its own process so peak RSS is its own. Prints the median
seconds and peak RSS of --runs runs and the ratio import / parse.

Target (issue 15): import at most 5x the parse time, under 1 GB peak, at 1M and 10M records.

    .venv/bin/python bench/bench_import.py [--sizes 1000000,10000000] [--runs 3] [--dir /tmp/fs-bench-import] [--stages]

--stages adds one import per size with its main thread's CPU split by stage (decode, grouping,
transform, assembly, the store's validation, staging, key look-up and Delta commits).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))   # the benches' own helpers
from peak_memory import peak_rss_mb  # noqa: E402 - not ru_maxrss: a child reports its parent's size at the fork
from which_host import describe  # noqa: E402

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


STAGES = (
    # (module, attribute, label): the import's stages, timed where each is called from
    ("flowscope.collectors.streaming", "_decode", "decode (orjson, per 4 MB block)"),
    ("flowscope.collectors.streaming", "ExecutionGroups.add_all", "group by execution"),
    ("flowscope.collectors.import_stream", "_call_handler", "transform (log records -> rows)"),
    ("flowscope.collectors.import_writer", "assemble_batch", "assemble (with stored rows)"),
    ("flowscope.collectors.import_writer", "_drop_unchanged", "drop unchanged"),
    ("flowscope.store.store", "validate_batch", "store: validate (rows -> Arrow)"),
    ("flowscope.store.staging", "stage", "store: stage"),
    ("flowscope.store.delta", "existing_partitions", "store: look up stored keys"),
    ("flowscope.store.delta", "write_deltalake", "store: Delta append"),
    ("flowscope.store.delta", "_merge", "store: Delta merge"),
)


def _time_stages(spent: dict[str, float]) -> None:
    """Wrap each stage's function so the main thread's CPU seconds in it add up in `spent`
    (thread time: delta-rs and DuckDB threads are not counted, the process CPU total has them)."""
    import importlib

    def timed(func: Callable[..., Any], label: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.thread_time()
            try:
                return func(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.thread_time() - began
        return wrapper

    for module_name, attr, label in STAGES:
        owner: object = importlib.import_module(module_name)
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, name, timed(getattr(owner, name), label))


def child_import(paths: list[Path], store: Path, stages: bool = False) -> dict[str, float]:
    from flowscope.collectors.importer import import_files

    spent: dict[str, float] = {}
    if stages:
        _time_stages(spent)
    began = time.perf_counter()
    result = import_files(store, paths)
    out = {"seconds": time.perf_counter() - began, "executions": result.written.get("executions", 0),
           "steps": result.written.get("steps", 0), "skips": len(result.skips)}
    out.update({f"stage: {label}": seconds for label, seconds in spent.items()})
    return out


def _child(argv: list[str]) -> None:
    kind, *rest = argv
    if kind == "parse":
        out = child_parse(Path(rest[0]))
    else:
        stages = kind == "import-stages"
        out = child_import([Path(p) for p in rest[1:]], Path(rest[0]), stages)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["peak_mb"] = peak_rss_mb()
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
    parser.add_argument("--stages", action="store_true",
                        help="also print where the import's CPU goes (one extra import per size)")
    args = parser.parse_args()
    print(describe(), flush=True)
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
        if args.stages:
            _print_stages(logs, machines)


def _print_stages(logs: Path, machines: list[Path]) -> None:
    store = Path(tempfile.mkdtemp(prefix="flowscope-bench-import-store-"))
    try:
        out = _measure(["import-stages", str(store / "s"), str(logs), *map(str, machines)])
    finally:
        shutil.rmtree(store, ignore_errors=True)
    print(f"  where the import's CPU goes (one run, {out['cpu_s']:.1f}s CPU in all, {out['seconds']:.1f}s wall):")
    for key, seconds in sorted(((k, v) for k, v in out.items() if k.startswith("stage: ")), key=lambda kv: -kv[1]):
        print(f"    {key[7:]:<36} {seconds:6.2f}s  {seconds / out['cpu_s']:5.1%}")


if __name__ == "__main__":
    main()
