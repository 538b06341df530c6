"""API calls and throughput of the GCP live collector against the local Workflows server.

    python bench/bench_gcp_collector.py [--executions 1000] [--runs 3] [--quota-runs 1]

Serves a simulated GCP Workflows project (flowscope.simulate.gcp: three workflows, ~18 step
entries per execution, call logs of every finished execution) from the loopback server of
tests/gcp/gcp_server.py, in its own process so it shares no interpreter lock with the collector.
Then syncs it into a fresh store (each sync followed by a re-sync of the unchanged project), on
each path:

- the step-entries path (default): one `stepEntries.list` per new or running execution;
- the logs path (`path = "logs"`): call steps of finished executions from Cloud Logging, one
  `entries:list` page per 1,000 entries;

each `--quota-runs` times with the documented quotas enforced by the client-side token buckets
(clients.QUOTAS: the rate a real project is collected at; step entries are paced at 10 calls per
second after a burst, about 90 s per 1,000 executions) and `--runs` times with the buckets
opened wide (what the collector itself costs: HTTP, transforms, store). Prints medians of
executions per second, API calls per 1,000 executions by API, seconds by phase, the calls a
re-sync makes, and records per second read from logging pages (google-cloud-logging over the
collector's paced transport) and transformed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowscope.collectors.gcp import clients as gcp_clients  # noqa: E402
from flowscope.collectors.gcp import collector as gcp  # noqa: E402
from flowscope.simulate.gcp import PROJECT  # noqa: E402
from flowscope.store import Store  # noqa: E402
from tests.gcp.gcp_server import TOKEN  # noqa: E402

UTC = dt.timezone.utc
WIDE_OPEN = {api: [1e9, 1e9] for api in gcp_clients.QUOTAS}


def one_run(endpoint: str, *, quotas: dict[str, Any] | None, now: dt.datetime, path: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "store")
        source: dict[str, Any] = {"cloud": "gcp", "project": PROJECT, "endpoint": endpoint, "path": path}
        if quotas:
            source["quotas"] = quotas
        started = time.perf_counter()
        [first] = gcp.sync(source, store, now=now)
        seconds = time.perf_counter() - started
        assert first.status.value == "succeeded", first.row()
        [again] = gcp.sync(source, store, now=now + dt.timedelta(minutes=5))
        return {"seconds": seconds, "calls": dict(first.details["api_calls"]),
                "phases": first.details.get("phase_seconds", {}),
                "resync_calls": dict(again.details["api_calls"]), "running": again.counts.get("running_revisited", 0)}


def report(label: str, runs: list[dict[str, Any]], n: int) -> None:
    seconds = statistics.median(r["seconds"] for r in runs)
    per_k = {api: statistics.median(r["calls"].get(api, 0) for r in runs) * 1000 / n
             for api in sorted({a for r in runs for a in r["calls"]})}
    phases = {k: statistics.median(r["phases"].get(k, 0) for r in runs) for k in runs[0]["phases"]}
    last = runs[-1]
    print(f"\n{label}: median of {len(runs)} run(s)")
    print(f"  executions per second: {n / seconds:,.1f} ({seconds:.2f} s for {n:,})")
    print(f"  API calls per 1,000 executions: {sum(per_k.values()):,.0f} "
          f"({', '.join(f'{api} {v:,.0f}' for api, v in per_k.items())})")
    print(f"  seconds by phase: {', '.join(f'{k} {v:.2f}' for k, v in phases.items())}")
    print(f"  re-sync of the unchanged project: {sum(last['resync_calls'].values())} calls {last['resync_calls']}; "
          f"step-entry calls {last['resync_calls'].get('stepEntries.list', 0)} = the {last['running']} "
          "still-running executions revisited")


def ingest(endpoint: str, runs: int) -> None:
    """Records per second from logging pages: entries:list through google-cloud-logging over the
    paced transport, then the pure transform (no store); medians of `runs`."""
    from flowscope.collectors.gcp import logging_api
    from flowscope.collectors.gcp.transform import transform_log_entries
    from flowscope.collectors.native import ImportContext

    clients = gcp_clients.scope_clients(project=PROJECT, endpoint=endpoint,
                                        quota_overrides={api: gcp_clients.Quota(1e9, 1e9) for api in WIDE_OPEN})
    flt = logging_api.workflow_filter("us-central1", "status-checker", dt.datetime(2000, 1, 1, tzinfo=UTC),
                                      dt.datetime(2100, 1, 1, tzinfo=UTC))
    list(logging_api.list_entries(clients, PROJECT, flt))          # the server caches its answer
    read, transformed = [], []
    entries: list[Any] = []
    for _ in range(max(runs, 1)):
        started = time.perf_counter()
        entries = list(logging_api.list_entries(clients, PROJECT, flt))
        middle = time.perf_counter()
        transform_log_entries({"entries": entries}, ImportContext())
        ended = time.perf_counter()
        read.append(len(entries) / (middle - started))
        transformed.append(len(entries) / (ended - middle))
    both = 1 / (1 / statistics.median(read) + 1 / statistics.median(transformed))
    print(f"\nlogging pages ({len(entries):,} entries of one workflow, 1,000 a page): "
          f"{statistics.median(read):,.0f} records/s read, {statistics.median(transformed):,.0f} records/s "
          f"transformed, {both:,.0f} records/s both")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quota-runs", type=int, default=1)
    parser.add_argument("--days", type=int, default=2)
    args = parser.parse_args()

    os.environ[gcp_clients.TOKEN_ENV] = TOKEN
    server = subprocess.Popen([sys.executable, "-m", "tests.gcp.gcp_server", "--executions", str(args.executions),
                               "--days", str(args.days), "--call-logs"], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        n = info["executions"]
        print(f"project: {n:,} executions, {info['step_entries']:,} step entries "
              f"({info['step_entries'] / n:.1f} per execution), {info['log_entries']:,} call log entries, "
              f"{info['running']} running")
        now = dt.datetime.fromisoformat(info["end"]) + dt.timedelta(hours=1)
        for label, quotas, times, path in (
                ("step-entries path, documented quotas", None, args.quota_runs, "step_entries"),
                ("step-entries path, quotas wide open", WIDE_OPEN, args.runs, "step_entries"),
                ("logs path, documented quotas", None, args.quota_runs, "logs"),
                ("logs path, quotas wide open", WIDE_OPEN, args.runs, "logs")):
            if times >= 1:
                report(label, [one_run(info["endpoint"], quotas=quotas, now=now, path=path) for _ in range(times)], n)
        ingest(info["endpoint"], args.runs)
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
