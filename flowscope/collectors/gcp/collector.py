"""The GCP Workflows live collector: `sync(source_config, store, since=..., now=...)`, the one entry point.

One `[[sources]]` entry with `cloud = "gcp"` names a project (and optionally locations, workflow
name globs, an endpoint root). Each (project, location) is a scope (without `locations`, one
scope covers every location of the project that has workflows), collected on its own and
recorded in its own collection_runs row; one failing scope never stops the others.

Per scope (get -> transform -> load, the documents handed unchanged to `gcp.transform`), one
module per step, all on one `ScopeContext` (`context.py`):

0. `project_numbers.py`: rows an earlier flowscope stored under the project number moved to the id.
1.-3. `executions.py`: workflows and the past revisions executions ran on; each workflow's
   executions of the window with their step entries (FULL view where needed); stored running
   executions revisited until terminal (or marked gone).
4. `call_logs.py`: call steps from Cloud Logging for executions without step entries whose
   workflow logs calls, and for the logs path (`path = "logs"`).
5. `monitoring.py`: Cloud Monitoring metrics (an error of the run, never a held watermark).
6. The watermark moves to the window's end, held back to the oldest execution not collected
   (`window.held_watermark`) but for a workflow whose executions could not all be read: it is
   remembered for the next sync instead (`collectors/unread.py`, `details.workflows_unread_since`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from flowscope.collectors.gcp.context import CLOUD, ScopeContext
from flowscope.collectors.gcp.source import PATHS, SOURCE_KEYS, GcpScope, scopes, validate
from flowscope.collectors.sink import StoreSink, close_run_row, open_window
from flowscope.collectors.source_config import SourceConfigError
from flowscope.collectors.window import CollectWindow, ScopeResult
from flowscope.model import UTC

if TYPE_CHECKING:
    from flowscope.collectors.gcp.clients import GcpClients
    from flowscope.store import Store

# ---------------------------------------------------------------- one scope

def collect_scope(scope: GcpScope, store: "Store", *, since: dt.datetime | None = None,
                  now: dt.datetime | None = None, clients: "GcpClients | None" = None) -> ScopeResult:
    """Collect one scope into the store; returns (and writes) its collection_runs row.

    Never raises for an API or store failure: a failed scope is a FAILED result with its error.
    """
    from flowscope.collectors.gcp import clients as gcp_clients

    now = now or dt.datetime.now(UTC)
    result = ScopeResult(cloud=CLOUD, scope=scope.scope_id(), started_at=dt.datetime.now(UTC))
    result.details.update({"project": scope.project, "location": scope.location, "endpoint": scope.endpoint})
    try:
        window = open_window(store, result, lag=scope.lag, since=since, now=now)    # status running first
        clients = clients or gcp_clients.scope_clients(
            project=scope.project, endpoint=scope.endpoint, quota_overrides=dict(scope.quotas),
            max_attempts=scope.max_attempts, read_timeout=scope.read_timeout, pool=scope.concurrency + 4)
        _collect(scope, clients, store, result, window, now)
    except Exception as exc:  # noqa: BLE001 - a failed scope is recorded, never raised
        result.finish(failed=exc)
        result.record_error(exc)
    finally:
        if clients is not None:
            stats = clients.stats()
            result.details["api_calls"] = stats["calls"]
            result.details["api_retries"] = stats["retries"]
            result.details["rate_limits"] = clients.limiters.stats()
    return close_run_row(store, result)


def _collect(scope: GcpScope, clients: "GcpClients", store: "Store", result: ScopeResult,
             window: CollectWindow, now: dt.datetime) -> None:
    from flowscope.collectors import unread
    from flowscope.collectors.gcp import call_logs, executions, monitoring, project_numbers, transform
    from flowscope.collectors.gcp.transform import FORMATS

    sink = StoreSink(store, result, transforms=transform, flush_every=scope.write_every)
    sc = ScopeContext(scope=scope, clients=clients, store=store, sink=sink, result=result, window=window,
                      formats=FORMATS, now=now)
    try:
        with _phase(result, "workflows"):
            locations, workflows = executions.list_workflows(sc)
        sc.workflows = workflows
        unread.load(sc, workflows)
        with _phase(result, "project_numbers"):
            project_numbers.upgrade_scope(sc)
        with _phase(result, "executions_list"):
            todo = executions.list_executions(sc, workflows)
            executions.fetch_revisions(sc, workflows, todo)
        with _phase(result, "step_entries"):
            executions.fetch_executions(sc, todo)
        with _phase(result, "running_revisit"):
            executions.revisit_running(sc, locations)
        with _phase(result, "call_logs"):
            call_logs.read_call_logs(sc)
        with _phase(result, "metrics"):
            monitoring.collect_metrics(sc)
        with _phase(result, "store_flush"):
            sink.flush()
        if sink.skips_kept:
            result.details["skips"] = sink.skips_kept
    finally:
        sink.close()
    unread.record(sc)
    result.finish()
    result.watermark = sc.held_watermark()


@contextmanager
def _phase(result: ScopeResult, name: str) -> Iterator[None]:
    """Wall seconds of one phase of the scope, in details.phase_seconds (where the time goes)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        result.details.setdefault("phase_seconds", {})[name] = round(time.perf_counter() - started, 3)


def sync(source_config: Mapping[str, Any], store: "Store", *, since: dt.datetime | None = None,
         now: dt.datetime | None = None, max_parallel_scopes: int = 4) -> list[ScopeResult]:
    """Collect every scope of one `[[sources]]` entry (in parallel); one result per scope."""
    from flowscope.collectors.scope_runs import sync_source

    return sync_source(CLOUD, scopes, collect_scope, source_config, store, since=since, now=now,
                       max_parallel_scopes=max_parallel_scopes)


__all__ = ["PATHS", "SOURCE_KEYS", "GcpScope", "SourceConfigError", "collect_scope", "scopes", "sync", "validate"]
