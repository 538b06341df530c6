"""Bench of the Azure collector (management path) against the local ARM of the tests.

    .venv/bin/python bench/bench_azure_collector.py [--executions 1000] [--runs 3] [--page 100] [--arm-bucket]

Prints, as medians of --runs clean syncs of the simulator's Consumption workflows:
- calls per 1,000 runs, in total and by kind (runs.list, actions.list, repetitions.list, ...);
- runs per second end to end (list, details, transform, assemble, Delta write): without
  --arm-bucket the collector's own read bucket is lifted too, so this is its own speed;
- with --arm-bucket: the server enforces ARM's documented read bucket (250 burst, 25/s refill per
  subscription and principal) with 429 + Retry-After, and the quota-bound floor
  (calls - 250) / 25 s is printed beside the achieved time, with the 429s the server answered;
- the run-detail calls of a re-sync of the unchanged subscription (must be 0);
- the Log Analytics path (the loop-free workflows, their runtime log in the local query API):
  calls per 1,000 runs and runs per second;
- records per second from a KQL result to model rows (`records_from_rows` + the transform),
  against the issue's target of 50,000.

The server (tests/azure/arm_server.py) runs in its own process, as the cloud would; everything
stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SUB = "5f1e0c2a-7b3d-4e8f-9a10-b2c3d4e5f601"
NOW = dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)
ARM_READS = (250.0, 25.0)


WS = "11111111-2222-3333-4444-555555555555"


def loop_free(corpus: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The simulator's workflows without loops (the ones the Log Analytics path takes)."""
    return [r for r in corpus if "/workflows/crm-export" not in r["id"].lower()]


def serve(executions: int, page: int, bucket: bool, logs: bool, conn: Any) -> None:
    """The local ARM in a child process: loads the simulated subscription, sends its endpoint.
    With `logs`, only the loop-free workflows, and their runtime log in the workspace."""
    from tests.azure.arm_server import ArmServer, la_rows_from, simulated_corpus

    corpus = simulated_corpus(executions, days=7, end=NOW)
    if logs:
        corpus = loop_free(corpus)
    server = ArmServer(page_size=page, read_bucket=ARM_READS if bucket else None)
    server.load_documents(corpus)
    if logs:
        server.la_rows[WS] = la_rows_from(corpus)
    runs = sum(1 for r in corpus if str(r.get("type", "")).lower() == "microsoft.logic/workflows/runs")
    with server:
        conn.send((server.endpoint, runs))
        conn.recv()                                    # until the parent is done


def stats(endpoint: str, reset: bool = True) -> dict[str, Any]:
    with urllib.request.urlopen(f"{endpoint}/__stats?reset={'1' if reset else '0'}", timeout=30) as response:
        return dict(json.loads(response.read()))


def one_sync(endpoint: str, path: Path, **extra: Any) -> tuple[float, Any]:
    from flowscope.collectors.azure import collector as az
    from flowscope.store import Store

    source = {"cloud": "azure", "subscription_id": SUB, "arm_endpoint": endpoint, "lag": "30d",
              "metrics": False, **extra}
    store = Store(path)
    started = time.perf_counter()
    [result] = az.sync(source, store, now=NOW)
    return time.perf_counter() - started, result


def start_server(executions: int, page: int, bucket: bool, logs: bool) -> tuple[Any, Any, str, int]:
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.get_context("spawn").Process(target=serve, args=(executions, page, bucket, logs, child),
                                                        daemon=True)
    proc.start()
    endpoint, runs = parent.recv()
    return proc, parent, endpoint, runs


def syncs(endpoint: str, runs: int, repeat: int, tmp: str, **extra: Any) -> tuple[list[float], list[dict[str, int]],
                                                                                  list[int]]:
    seconds: list[float] = []
    kinds: list[dict[str, int]] = []
    throttled: list[int] = []
    for i in range(repeat):
        stats(endpoint)
        took, result = one_sync(endpoint, Path(tmp) / f"s{i}", **extra)
        got = stats(endpoint)
        assert result.status.value == "succeeded", result.row()
        fetched = result.counts.get("runs_fetched", 0) + result.counts.get("runs_from_logs", 0)
        assert fetched == runs, (result.counts, runs)
        seconds.append(took)
        kinds.append(got["counts"])
        throttled.append(int(got["statuses"].get("429", 0)))
    return seconds, kinds, throttled


def report(title: str, runs: int, seconds: list[float], kinds: list[dict[str, int]]) -> float:
    calls = statistics.median(sum(k.values()) for k in kinds)
    print(title)
    print(f"  calls per 1,000 runs: {1000 * calls / runs:,.1f}  ("
          + ", ".join(f"{k} {1000 * statistics.median(d.get(k, 0) for d in kinds) / runs:,.1f}"
                      for k in sorted(kinds[0])) + ")")
    print(f"  runs per second: {runs / statistics.median(seconds):,.1f} "
          f"(median of {', '.join(f'{s:.2f}' for s in seconds)} s)")
    return calls


def management(args: argparse.Namespace) -> None:
    proc, pipe, endpoint, runs = start_server(args.executions, args.page, args.arm_bucket, False)
    with tempfile.TemporaryDirectory() as tmp:
        # without the server's bucket, lift ours too: the figure is then the collector's own speed
        lifted = {} if args.arm_bucket else {"quota": [1e6, 1e6]}
        seconds, kinds, throttled = syncs(endpoint, runs, args.runs, tmp, **lifted)
        took_again, again = one_sync(endpoint, Path(tmp) / "s0")
        resync = stats(endpoint)
    pipe.send("stop")
    proc.join(timeout=10)
    quota = " with ARM read bucket 250/25 per s" if args.arm_bucket else " (no quota)"
    calls = report(f"azure management path: {runs} runs of {again.counts.get('workflows')} Consumption workflows, "
                   f"page {args.page}, {args.runs} syncs{quota}", runs, seconds, kinds)
    if args.arm_bucket:
        floor = max(0.0, (calls - ARM_READS[0]) / ARM_READS[1])
        print(f"  quota-bound floor: {floor:.1f} s for {calls:,.0f} calls -> at most "
              f"{runs / floor if floor else float('inf'):,.1f} runs/s; 429s answered: {throttled}")
        print(f"  steady state under ARM's bucket: {ARM_READS[1] / (calls / runs):,.1f} runs/s "
              f"({ARM_READS[1]:.0f} reads/s / {calls / runs:.2f} calls per run)")
    print(f"  re-sync of the unchanged subscription: {resync['run_detail_calls']} run-detail calls, "
          f"{sum(resync['counts'].values())} calls in all ({took_again:.2f} s, "
          f"{again.counts.get('runs_skipped_terminal', 0)} runs skipped as stored)")


def log_analytics(args: argparse.Namespace) -> None:
    proc, pipe, endpoint, runs = start_server(args.executions, args.page, args.arm_bucket, True)
    with tempfile.TemporaryDirectory() as tmp:
        seconds, kinds, _ = syncs(endpoint, runs, args.runs, tmp, workspace_id=WS, logs_endpoint=endpoint,
                                  quota=[1e6, 1e6])
    pipe.send("stop")
    proc.join(timeout=10)
    report(f"azure Log Analytics path: {runs} runs (7 days) of 2 loop-free workflows; a first sync reads 30 days "
           f"in 6-hour slices (120 queries, however many runs); {args.runs} syncs", runs, seconds, kinds)


def kql_ingest(args: argparse.Namespace) -> None:
    """Records per second from a KQL result to model rows (records_from_rows + the transform)."""
    from flowscope.collectors.azure import loganalytics as la
    from flowscope.collectors.azure.transform import FORMATS
    from flowscope.collectors.native import ImportContext
    from flowscope.collectors.sink import gc_paused
    from tests.azure.arm_server import la_rows_from, simulated_corpus

    rows = la_rows_from(loop_free(simulated_corpus(args.kql_executions, days=7, end=NOW)))
    for row in rows:                 # as LogsQueryClient hands them: datetime columns parsed
        for key in ("StartTime", "EndTime", "TimeGenerated"):
            if row.get(key):
                row[key] = dt.datetime.fromisoformat(str(row[key]).replace("Z", "+00:00"))
    rates = []
    for _ in range(args.runs):
        started = time.perf_counter()
        with gc_paused():
            records = la.records_from_rows(rows)
            batch = FORMATS["azure.runs"]({"value": records}, ImportContext(source_name="bench"))
        rates.append(len(rows) / (time.perf_counter() - started))
    print(f"KQL result ingestion: {len(rows):,} runtime-log records -> {len(batch.executions):,} runs, "
          f"{len(batch.steps):,} steps: {statistics.median(rates):,.0f} records/s (median; target 50,000)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--executions", type=int, default=1000, help="simulated executions (Consumption ~88%%)")
    parser.add_argument("--runs", type=int, default=3, help="syncs to take the median of")
    parser.add_argument("--page", type=int, default=100, help="records per page the server answers")
    parser.add_argument("--arm-bucket", action="store_true", help="enforce ARM's read bucket (250, 25/s)")
    parser.add_argument("--kql-executions", type=int, default=20000, help="simulated executions for KQL ingestion")
    args = parser.parse_args()
    os.environ["FLOWSCOPE_AZURE_TOKEN"] = "test-token"
    management(args)
    if not args.arm_bucket:
        log_analytics(args)
        kql_ingest(args)


if __name__ == "__main__":
    main()
