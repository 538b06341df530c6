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
executions per second, API calls per 1,000 executions by API, seconds by phase and the calls a
re-sync makes. Then, on a second server with `--ingest-executions` (about 100,000 call log
entries), records per second ingested from Cloud Logging pages (see `ingest`):

    python bench/bench_gcp_collector.py --only-ingest     # that figure alone, under a minute
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
from collections.abc import Iterator
from contextlib import contextmanager
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


class _Capture:
    """Wraps the session: keeps the raw bodies of entries:list answers (the pages as received)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.bodies: list[bytes] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        response = self.session.request(method, url, *args, **kwargs)
        if url.endswith("/v2/entries:list"):
            self.bodies.append(response.content)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


def _median_rate(n: int, seconds: list[float]) -> str:
    return f"{n / statistics.median(seconds):,.0f}"


def ingest(endpoint: str, runs: int) -> None:
    """Records per second ingested from Cloud Logging pages (call logs of every workflow, read per
    workflow as the logs path reads a slice), medians of `runs`:

    - from pages already received (the figure of issue 13; also per CPU second, as the cores are
      shared): each page's raw body decoded
      (`logging_api.decode_page`, orjson) and each workflow's entries transformed to model rows
      (`gcp.log_entries`), with the cyclic GC paused as on the live path; the loopback server is
      not Google's and its Python HTTP caps the read, so it is left out;
    - end to end through the local server: `logging_api.entry_pages` (HTTP, guard, buckets wide
      open) and the same transform;
    - before this change, for comparison: google-cloud-logging's read (each entry a LogEntry and
      back) and the transform as it was (tests/gcp/reference_log_entries.py).

    Assembly (ordering steps, usage rows) is per execution in the store writer's own thread, not
    per entry: printed apart."""
    from collections import defaultdict

    from flowscope.collectors.gcp import logging_api, workflows_api
    from flowscope.collectors.gcp.transform import assemble, transform_log_entries
    from flowscope.collectors.native import ImportContext
    from flowscope.collectors.sink import gc_paused
    from tests.gcp import reference_log_entries

    clients = gcp_clients.scope_clients(project=PROJECT, endpoint=endpoint,
                                        quota_overrides={api: gcp_clients.Quota(1e9, 1e9) for api in WIDE_OPEN})
    ever = (dt.datetime(2000, 1, 1, tzinfo=UTC), dt.datetime(2100, 1, 1, tzinfo=UTC))
    filters = [logging_api.workflow_filter(location, workflows_api.short_name(w["name"]), *ever)
               for location in workflows_api.list_locations(clients, PROJECT)
               for w in workflows_api.list_workflows(clients, PROJECT, location)]
    capture = _Capture(clients.session)
    clients.session = capture
    slices: list[list[bytes]] = []
    for flt in filters:
        before = len(capture.bodies)
        for _ in logging_api.entry_pages(clients, PROJECT, flt):
            pass
        slices.append(capture.bodies[before:])
    clients.session = capture.session
    n = sum(len(logging_api.decode_page(b)[0]) for pages in slices for b in pages)
    size = sum(len(b) for pages in slices for b in pages)
    pages_n = sum(len(pages) for pages in slices)

    decoded_s, transformed_s, received_s, assembled_s, e2e_s, read_s, cpu_s = [], [], [], [], [], [], []
    old_read_s, old_both_s, old_transform_s = [], [], []
    for _ in range(max(runs, 1)):
        with gc_paused():
            started, cpu = time.perf_counter(), time.process_time()
            decoded = [[e for b in pages for e in logging_api.decode_page(b)[0]] for pages in slices]
            middle = time.perf_counter()
            batches = [transform_log_entries({"entries": entries}, ImportContext()) for entries in decoded]
            ended, cpu = time.perf_counter(), time.process_time() - cpu
            by_execution: dict[str, tuple[list[Any], list[Any]]] = defaultdict(lambda: ([], []))
            for batch in batches:
                for row in batch.steps:
                    by_execution[row["execution_id"]][0].append(row)
                for row in batch.attempts:
                    by_execution[row["execution_id"]][1].append(row)
            for steps, attempts in by_execution.values():
                assemble(None, steps, attempts, None)
            assembled = time.perf_counter()
        del decoded, batches, by_execution
        decoded_s.append(middle - started)
        transformed_s.append(ended - middle)
        received_s.append(ended - started)
        cpu_s.append(cpu)
        assembled_s.append(assembled - ended)
        with gc_paused():
            started = time.perf_counter()
            got = [[e for page in logging_api.entry_pages(clients, PROJECT, flt) for e in page] for flt in filters]
            middle = time.perf_counter()
            for entries in got:
                transform_log_entries({"entries": entries}, ImportContext())
            ended = time.perf_counter()
        del got
        read_s.append(middle - started)
        e2e_s.append(ended - started)
        # before, in the same round (the same load): library read, previous transform
        started = time.perf_counter()
        got = [_library_read(clients, flt) for flt in filters]
        middle = time.perf_counter()
        with gc_paused():
            middle_gc = time.perf_counter()
            for entries in got:
                reference_log_entries.transform_log_entries({"entries": entries}, ImportContext())
            old_transform_s.append(time.perf_counter() - middle_gc)
        ended = time.perf_counter()
        old_read_s.append(middle - started)
        old_both_s.append(ended - started)
        del got

    load = os.getloadavg()[0]
    print(f"\nlogging pages: {n:,} call log entries of {len(filters)} workflows, {pages_n} pages of up to 1,000 "
          f"({size / n:,.0f} bytes an entry), medians of {len(received_s)} runs, load average {load:.1f} "
          f"on {os.cpu_count()} cores")
    print(f"  ingested from received pages (decode + transform): {_median_rate(n, received_s)} records/s "
          f"(decode {_median_rate(n, decoded_s)}/s, transform {_median_rate(n, transformed_s)}/s); "
          f"{_median_rate(n, cpu_s)} records per CPU second (what the cores shared with other work do not skew)")
    print(f"  assembled per execution afterwards (store writer's thread): {_median_rate(n, assembled_s)} records/s")
    print(f"  end to end through the local server (HTTP + decode + transform): {_median_rate(n, e2e_s)} records/s "
          f"(read alone {_median_rate(n, read_s)}/s)")
    print(f"  before (google-cloud-logging read + previous transform), end to end: {_median_rate(n, old_both_s)} "
          f"records/s (read alone {_median_rate(n, old_read_s)}/s; the previous transform alone, GC paused: "
          f"{_median_rate(n, old_transform_s)}/s)")


def _library_read(clients: Any, flt: str) -> list[dict[str, Any]]:
    """The read as it was before: google-cloud-logging over the collector's paced transport."""
    from google.cloud import logging as cloud_logging

    from flowscope.collectors.gcp import logging_api

    client = cloud_logging.Client(project=PROJECT, credentials=clients.session.credentials,
                                  _http=clients.http_for(logging_api.API), _use_grpc=False,
                                  client_options={"api_endpoint": gcp_clients.service_root(clients.endpoint,
                                                                                           "logging")})
    return [e.to_api_repr() for e in client.list_entries(resource_names=[f"projects/{PROJECT}"], filter_=flt,
                                                         page_size=logging_api.PAGE)]


@contextmanager
def serve(executions: int, days: int) -> Iterator[dict[str, Any]]:
    """The simulated project served by tests/gcp/gcp_server.py in its own process; yields its info."""
    server = subprocess.Popen([sys.executable, "-m", "tests.gcp.gcp_server", "--executions", str(executions),
                               "--days", str(days), "--call-logs"], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        yield json.loads(server.stdout.readline())
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quota-runs", type=int, default=1)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--ingest-executions", type=int, default=6500,
                        help="executions whose call logs the ingest figure reads (6,500: about 100,000 entries)")
    parser.add_argument("--ingest-runs", type=int, default=5)
    parser.add_argument("--only-ingest", action="store_true", help="skip the sync runs")
    args = parser.parse_args()

    os.environ[gcp_clients.TOKEN_ENV] = TOKEN
    if not args.only_ingest:
        with serve(args.executions, args.days) as info:
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
                    report(label, [one_run(info["endpoint"], quotas=quotas, now=now, path=path)
                                   for _ in range(times)], n)
    if args.ingest_runs >= 1:
        with serve(args.ingest_executions, args.days) as info:
            ingest(info["endpoint"], args.ingest_runs)


if __name__ == "__main__":
    main()
