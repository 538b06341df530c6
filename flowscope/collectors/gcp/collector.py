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
   (`window.held_watermark`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowscope.collectors import source_config as cfg
from flowscope.collectors.gcp.context import CLOUD, ScopeContext
from flowscope.collectors.sink import StoreSink, close_run_row, open_window
from flowscope.collectors.source_config import SourceConfigError
from flowscope.collectors.throttle import Quota
from flowscope.collectors.window import CollectWindow, ScopeResult
from flowscope.model import UTC

if TYPE_CHECKING:
    from flowscope.collectors.gcp.clients import GcpClients
    from flowscope.store import Store

SOURCE_KEYS = {
    "cloud": "gcp",
    "name": "a label for this source (optional)",
    "project": "Google Cloud project id (required)",
    "locations": "list of locations, e.g. [\"us-central1\"] (optional; default: every location with workflows)",
    "workflows": "list of workflow name globs (optional)",
    "endpoint": "root URL of every Google API called, '{service}' standing for the API's host name "
                "(private endpoints, emulators) (optional)",
    "lag": "re-list window before the last watermark, e.g. '15m' (optional)",
    "concurrency": "threads per scope for step-entry fetches (optional, default 8)",
    "max_attempts": "attempts per call, retries included (optional, default 6)",
    "read_timeout": "seconds (optional, default 30)",
    "write_every": "executions per store commit (optional, default 250)",
    "quotas": "per-API token buckets, e.g. {\"stepEntries.list\" = [100, 10]} (optional)",
    "metrics": "collect Cloud Monitoring metrics of workflows.googleapis.com (optional, default true)",
    "path": "'step_entries' (default) or 'logs': finished executions of workflows logging all calls get their "
            "call steps from Cloud Logging in bulk instead of one step-entries listing each (optional)",
}
PATHS = ("step_entries", "logs")

def validate(source: Mapping[str, Any]) -> None:
    """Raise SourceConfigError naming the first unknown or ill-typed key."""
    from flowscope.collectors.gcp.clients import endpoint_problem

    cfg.check_common(source, "gcp", SOURCE_KEYS)
    project = source.get("project")
    if not isinstance(project, str) or not project or "/" in project:
        raise SourceConfigError('gcp source: project must be a project id, e.g. project = "acme-prod"')
    if project.isdigit():
        # the APIs take either, but Cloud Logging labels, workflows and stored rows name the
        # project by its id: a scope keyed by the number never meets its call logs
        raise SourceConfigError(f'gcp source: project = "{project}" is a project number; give the project id '
                                '(gcloud projects describe NUMBER --format="value(projectId)"), e.g. '
                                'project = "acme-prod"')
    cfg.string_list(source, "locations", "gcp", 'location ids, e.g. ["us-central1"]', forbid="/")
    cfg.string_list(source, "workflows", "gcp", "workflow name globs", forbid="/")
    cfg.strings(source, ("endpoint",), "gcp")
    if "endpoint" in source and (problem := endpoint_problem(source["endpoint"])):
        raise SourceConfigError(f"gcp source: {problem}")
    cfg.positive_seconds(source, "read_timeout", "gcp")
    if source.get("path", "step_entries") not in PATHS:
        raise SourceConfigError(f"gcp source: path must be one of {', '.join(repr(p) for p in PATHS)}")
    cfg.quotas(source.get("quotas"), "gcp")


@dataclass(frozen=True)
class GcpScope(cfg.ScopeSettings):
    """One (project, location) of one source entry; location None: every location with workflows."""

    project: str
    location: str | None = None
    endpoint: str | None = None
    max_attempts: int = field(default=6, kw_only=True)
    quotas: tuple[tuple[str, Quota], ...] = field(default_factory=tuple)
    path: str = "step_entries"

    def scope_id(self, _account: str | None = None) -> str:
        suffix = ""
        if self.globs:
            suffix = "#" + hashlib.sha256("\n".join(sorted(self.globs)).encode()).hexdigest()[:8]
        return f"gcp:{self.project}:{self.location or 'all-locations'}{suffix}"


def scopes(source: Mapping[str, Any]) -> list[GcpScope]:
    validate(source)
    common: dict[str, Any] = dict(
        project=source["project"], endpoint=source.get("endpoint"),
        quotas=tuple(sorted(cfg.quotas(source.get("quotas"), "gcp").items())), path=source.get("path", "step_entries"),
        **cfg.scope_settings(source, "gcp", globs_key="workflows", max_attempts=6),
    )
    locations = source.get("locations")
    if not locations:
        return [GcpScope(location=None, **common)]
    return [GcpScope(location=loc, **common) for loc in dict.fromkeys(locations)]



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
    from flowscope.collectors.gcp import call_logs, executions, monitoring, project_numbers, transform
    from flowscope.collectors.gcp.transform import FORMATS

    sink = StoreSink(store, result, transforms=transform, flush_every=scope.write_every)
    sc = ScopeContext(scope=scope, clients=clients, store=store, sink=sink, result=result, window=window,
                      formats=FORMATS, now=now)
    try:
        with _phase(result, "workflows"):
            locations, workflows = executions.list_workflows(sc)
        sc.workflows = workflows
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
    from flowscope.collectors.sync import sync_source

    return sync_source(CLOUD, scopes, collect_scope, source_config, store, since=since, now=now,
                       max_parallel_scopes=max_parallel_scopes)


__all__ = ["GcpScope", "SourceConfigError", "collect_scope", "scopes", "sync", "validate"]
