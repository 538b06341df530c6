"""The GCP Workflows live collector: `sync(source_config, store, since=..., now=...)`, the one entry point.

One `[[sources]]` entry with `cloud = "gcp"` names a project (and optionally locations, workflow
name globs, an endpoint root). Each (project, location) is a scope (without `locations`, one
scope covers every location of the project that has workflows), collected on its own and
recorded in its own collection_runs row; one failing scope never stops the others.

Per scope (get -> transform -> load, the documents handed unchanged to `gcp.transform`):

1. Workflows: list them (current revision, definition with callLogLevel and
   executionHistoryLevel); a past revision that executions ran on is fetched once (its
   definition tells internal from external calls, hence the billing meter).
2. Executions: listed per workflow with `startTime >= watermark - lag` (BASIC view, every page);
   executions stored as terminal are skipped; the rest get their step entries (paged) and, when
   they failed or were cancelled, their FULL view (error). A finished execution without step
   entries (history not recorded) is said in collection_runs, naming the workflow.
3. Stored ACTIVE/QUEUED executions the listing did not return are revisited until terminal; one
   the API no longer has (404, retention) is marked `gone` and not asked about again.
4. The watermark moves to the window's end, held back to the oldest execution not collected.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from flowscope.collectors.native import ImportContext
from flowscope.collectors.sink import StoreSink, write_run_row
from flowscope.collectors.throttle import Quota, bounded_map
from flowscope.collectors.window import DEFAULT_LAG, CollectionError, CollectWindow, ScopeResult
from flowscope.model import TERMINAL_STATUSES, UTC, Batch, C, Cloud, RunStatus, Source, utc

if TYPE_CHECKING:
    from flowscope.collectors.gcp.clients import GcpClients
    from flowscope.store import Store

CLOUD = Cloud.GCP.value
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
DEFAULT_CONCURRENCY = 8
TERMINAL = frozenset(s.value for s in TERMINAL_STATUSES)
NATIVE_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "UNAVAILABLE"})
MAX_NAMES_KEPT = 20


class SourceConfigError(ValueError):
    """A `[[sources]]` entry for GCP that cannot be used; the message names the key."""


def _duration(value: Any, key: str) -> dt.timedelta:
    from flowscope.timewindow import parse_since

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.timedelta(seconds=float(value))
    if not isinstance(value, str):
        raise SourceConfigError(f"gcp source: {key} must be a duration like '15m', got {value!r}")
    ref = dt.datetime(2000, 1, 1, tzinfo=UTC)
    try:
        start = parse_since(value, now=ref)
    except ValueError as exc:
        raise SourceConfigError(f"gcp source: {key}: {exc}") from None
    if start is None or start > ref:
        raise SourceConfigError(f"gcp source: {key} must be a positive duration like '15m'")
    return ref - start


def _quotas(value: Any) -> dict[str, Quota]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SourceConfigError("gcp source: quotas must be a table of API = [bucket, refill_per_second]")
    out = {}
    for api, pair in value.items():
        if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in pair)):
            raise SourceConfigError(f"gcp source: quotas.{api} must be [bucket, refill_per_second]")
        out[str(api)] = Quota(float(pair[0]), float(pair[1]))
    return out


def _string_list(source: Mapping[str, Any], key: str, what: str) -> None:
    value = source.get(key)
    if value is not None and (not isinstance(value, list) or not value
                              or not all(isinstance(v, str) and v and "/" not in v for v in value)):
        raise SourceConfigError(f"gcp source: {key} must be a non-empty list of {what}")


def validate(source: Mapping[str, Any]) -> None:
    """Raise SourceConfigError naming the first unknown or ill-typed key."""
    from flowscope.collectors.gcp.clients import endpoint_problem

    unknown = sorted(set(source) - set(SOURCE_KEYS))
    if unknown:
        raise SourceConfigError(f"gcp source: unknown key(s) {', '.join(unknown)}; "
                                f"known: {', '.join(sorted(SOURCE_KEYS))}")
    if source.get("cloud") != "gcp":
        raise SourceConfigError(f"gcp source: cloud must be 'gcp', got {source.get('cloud')!r}")
    project = source.get("project")
    if not isinstance(project, str) or not project or "/" in project:
        raise SourceConfigError('gcp source: project must be a project id, e.g. project = "acme-prod"')
    _string_list(source, "locations", 'location ids, e.g. ["us-central1"]')
    _string_list(source, "workflows", "workflow name globs")
    for key in ("name", "endpoint"):
        if key in source and not isinstance(source[key], str):
            raise SourceConfigError(f"gcp source: {key} must be a string")
    if "endpoint" in source and (problem := endpoint_problem(source["endpoint"])):
        raise SourceConfigError(f"gcp source: {problem}")
    for key in ("concurrency", "max_attempts", "write_every"):
        if key in source and (not isinstance(source[key], int) or isinstance(source[key], bool) or source[key] < 1):
            raise SourceConfigError(f"gcp source: {key} must be a positive integer")
    if "read_timeout" in source and (not isinstance(source["read_timeout"], (int, float))
                                     or isinstance(source["read_timeout"], bool) or source["read_timeout"] <= 0):
        raise SourceConfigError("gcp source: read_timeout must be a positive number of seconds")
    if "lag" in source:
        _duration(source["lag"], "lag")
    if "metrics" in source and not isinstance(source["metrics"], bool):
        raise SourceConfigError("gcp source: metrics must be true or false")
    if source.get("path", "step_entries") not in PATHS:
        raise SourceConfigError(f"gcp source: path must be one of {', '.join(repr(p) for p in PATHS)}")
    _quotas(source.get("quotas"))


@dataclass(frozen=True)
class GcpScope:
    """One (project, location) of one source entry; location None: every location with workflows."""

    project: str
    location: str | None = None
    endpoint: str | None = None
    globs: tuple[str, ...] = ()
    lag: dt.timedelta = DEFAULT_LAG
    concurrency: int = DEFAULT_CONCURRENCY
    max_attempts: int = 6
    read_timeout: float = 30
    write_every: int = 250
    quotas: tuple[tuple[str, Quota], ...] = field(default_factory=tuple)
    path: str = "step_entries"
    metrics: bool = True

    def scope_id(self, _account: str | None = None) -> str:
        suffix = ""
        if self.globs:
            suffix = "#" + hashlib.sha256("\n".join(sorted(self.globs)).encode()).hexdigest()[:8]
        return f"gcp:{self.project}:{self.location or 'all-locations'}{suffix}"


def scopes(source: Mapping[str, Any]) -> list[GcpScope]:
    validate(source)
    common: dict[str, Any] = dict(
        project=source["project"], endpoint=source.get("endpoint"), globs=tuple(source.get("workflows") or ()),
        lag=_duration(source["lag"], "lag") if "lag" in source else DEFAULT_LAG,
        concurrency=int(source.get("concurrency", DEFAULT_CONCURRENCY)),
        max_attempts=int(source.get("max_attempts", 6)), read_timeout=float(source.get("read_timeout", 30)),
        write_every=int(source.get("write_every", 250)),
        quotas=tuple(sorted(_quotas(source.get("quotas")).items())),
        path=source.get("path", "step_entries"), metrics=bool(source.get("metrics", True)),
    )
    locations = source.get("locations")
    if not locations:
        return [GcpScope(location=None, **common)]
    return [GcpScope(location=loc, **common) for loc in dict.fromkeys(locations)]


# ---------------------------------------------------------------- one scope

@dataclass
class ScopeContext:
    """What one scope's worker threads share."""

    scope: GcpScope
    clients: "GcpClients"
    store: "Store"
    sink: StoreSink
    result: ScopeResult
    window: CollectWindow
    formats: dict[str, Callable[[Any, ImportContext], Batch]]
    now: dt.datetime
    workflows: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    gaps: list[dt.datetime | None] = field(default_factory=list)
    deferred: list[dict[str, Any]] = field(default_factory=list)
    """Finished executions without step entries whose workflow logs calls: written with their call logs."""
    bulk: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Finished executions on the logs path, per workflow: written with their call logs."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ctx(self, source_name: str, **kwargs: Any) -> ImportContext:
        return ImportContext(source_name=source_name, seen_at=self.now, source=Source.API, **kwargs)

    def gap(self, start: dt.datetime | None) -> None:
        """Something from `start` on (None: anything) was not collected; hold the watermark there."""
        with self.lock:
            self.gaps.append(start)

    def note(self, key: str, name: str, value: Any = None) -> None:
        """Add `name` (bounded) under details[key]: a list, or a {name: count} table when value is 1."""
        with self.lock:
            if value == 1:
                table = self.result.details.setdefault(key, {})
                table[name] = table.get(name, 0) + 1
            else:
                names = self.result.details.setdefault(key, [])
                if len(names) < MAX_NAMES_KEPT:
                    names.append(name)


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
        previous = store.last_watermark(result.scope)
        window = CollectWindow(end=now, watermark=previous, since=since, lag=scope.lag)
        result.watermark = previous          # what a killed run leaves: unchanged
        result.details["window"] = {"lower_bound": window.lower_bound.isoformat() if window.lower_bound else None,
                                    "end": now.isoformat(), "lag_s": scope.lag.total_seconds()}
        write_run_row(store, result)         # status running: a killed sync leaves a trace
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
    try:
        write_run_row(store, result)
    except Exception as exc:  # noqa: BLE001 - the store itself failed: report it in the result
        result.status = RunStatus.FAILED
        result.error = f"could not write collection_runs row: {type(exc).__name__}: {exc}"[:1024]
    return result


def _collect(scope: GcpScope, clients: "GcpClients", store: "Store", result: ScopeResult,
             window: CollectWindow, now: dt.datetime) -> None:
    from flowscope.collectors.gcp import transform
    from flowscope.collectors.gcp.transform import FORMATS

    sink = StoreSink(store, result, transforms=transform, flush_every=scope.write_every)
    sc = ScopeContext(scope=scope, clients=clients, store=store, sink=sink, result=result, window=window,
                      formats=FORMATS, now=now)
    try:
        with _phase(result, "workflows"):
            locations, workflows = _list_workflows(sc)
        sc.workflows = workflows
        with _phase(result, "executions_list"):
            todo = _list_executions(sc, workflows)
            _fetch_revisions(sc, workflows, todo)
        with _phase(result, "step_entries"):
            fetch_executions(sc, todo)
        with _phase(result, "running_revisit"):
            revisit_running(sc, locations)
        with _phase(result, "call_logs"):
            read_call_logs(sc)
        with _phase(result, "metrics"):
            collect_metrics(sc)
        with _phase(result, "store_flush"):
            sink.flush()
        if sink.skips_kept:
            result.details["skips"] = sink.skips_kept
    finally:
        sink.close()
    result.finish()
    result.watermark = _watermark(window, sc.gaps)


@contextmanager
def _phase(result: ScopeResult, name: str) -> Iterator[None]:
    """Wall seconds of one phase of the scope, in details.phase_seconds (where the time goes)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        result.details.setdefault("phase_seconds", {})[name] = round(time.perf_counter() - started, 3)


def _location_of(name: str) -> str:
    parts = name.split("/")
    return parts[3] if len(parts) > 3 and parts[2] == "locations" else "-"


def _list_workflows(sc: ScopeContext) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """1. The scope's locations and workflows (name -> document); their workflows rows queued.

    A listing failure of the scope's own location fails the scope (nothing else can be known);
    with every location, one unreachable location is recorded and the others go on."""
    from flowscope.collectors.gcp import workflows_api
    from flowscope.collectors.gcp.clients import GcpApiError, GcpAuthError

    scope, result = sc.scope, sc.result
    locations = [scope.location] if scope.location else workflows_api.list_locations(sc.clients, scope.project)
    workflows: dict[str, dict[str, Any]] = {}
    with_workflows: list[str] = []
    for location in locations:
        try:
            found = workflows_api.list_workflows(sc.clients, scope.project, location, scope.globs)
        except GcpAuthError:
            raise
        except GcpApiError as exc:
            if scope.location:
                raise
            result.record_error(exc)
            sc.gap(None)
            continue
        if found:
            with_workflows.append(location)
        for doc in found:
            workflows[str(doc["name"])] = doc
    result.count("workflows", len(workflows))
    if not scope.location:
        result.details["locations"] = with_workflows
    if workflows:
        sc.sink.add(sc.formats["gcp.workflow"]({"workflows": list(workflows.values())}, sc.ctx("workflows.list")))
    return (with_workflows if not scope.location else locations), workflows


def _list_executions(sc: ScopeContext, workflows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """2. Each workflow's executions in the window; returns those not yet stored as terminal."""
    from flowscope.collectors.gcp import executions_api

    def listing(name: str) -> list[dict[str, Any]]:
        return list(executions_api.list_executions(sc.clients, name, location=_location_of(name),
                                                   lower_bound=sc.window.lower_bound))

    todo: list[dict[str, Any]] = []
    for outcome in bounded_map(listing, sorted(workflows), min(4, sc.scope.concurrency),
                               thread_name_prefix="flowscope-gcp-list"):
        if outcome.error is not None:
            _raise_auth(outcome.error)
            sc.result.record_error(_as_error(outcome.error, "executions.list", outcome.item))
            sc.gap(None)
            continue
        items = cast(list[dict[str, Any]], outcome.result)
        names = [str(it["name"]) for it in items]
        with sc.lock:
            sc.seen.update(names)
        stored = sc.store.existing_execution_ids(CLOUD, names) or {}
        fresh = [it for it in items if stored.get(str(it["name"])) not in TERMINAL]
        sc.result.count("executions_listed", len(items))
        sc.result.count("executions_skipped_terminal", len(items) - len(fresh))
        todo.extend(fresh)
    return todo


def _fetch_revisions(sc: ScopeContext, workflows: dict[str, dict[str, Any]], todo: list[dict[str, Any]]) -> None:
    """Past revisions that executions ran on, not stored yet: their definitions decide the meters."""
    from flowscope.collectors.gcp import workflows_api

    current = {(name, doc.get("revisionId")) for name, doc in workflows.items()}
    wanted = {(_workflow_of(str(it["name"])), it.get("workflowRevisionId")) for it in todo}
    wanted = {(w, r) for w, r in wanted if r and (w, r) not in current and w in workflows}
    if not wanted:
        return
    try:
        stored = {(row[C.workflow_id], row[C.revision]) for row in sc.store.read_rows("workflows")
                  if row[C.cloud] == CLOUD}
    except Exception:  # noqa: BLE001 - a store without a workflows table yet
        stored = set()
    docs = []
    for name, revision in sorted(wanted - stored):
        try:
            docs.append(workflows_api.get_revision(sc.clients, name, str(revision), _location_of(name)))
            sc.result.count("revisions_fetched")
        except Exception as exc:  # noqa: BLE001 - metadata: the executions are still collected
            _raise_auth(exc)
            why = _as_error(exc, "workflows.get", name)
            sc.result.warn(f"revision {revision} of {name} could not be read ({why}); "
                           "its executions are billed by the current definition")
    if docs:
        sc.sink.add(sc.formats["gcp.workflow"]({"workflows": docs}, sc.ctx("workflows.get")))


def _workflow_of(execution_name: str) -> str:
    return execution_name.split("/executions/", 1)[0]


def fetch_executions(sc: ScopeContext, items: Sequence[dict[str, Any]]) -> None:
    """Step entries (and the FULL view where needed) of each execution, with bounded concurrency."""
    outcomes = bounded_map(lambda it: _fetch_one(sc, it), list(items), sc.scope.concurrency,
                           thread_name_prefix="flowscope-gcp-steps")
    for outcome in outcomes:
        if outcome.error is None:
            continue
        _raise_auth(outcome.error)
        item = outcome.item
        err = _as_error(outcome.error, "stepEntries.list", item["name"])
        sc.result.record_error(err)
        sc.gap(utc(item.get("startTime")) or utc(item.get("createTime")))   # a re-run lists it again


def _fetch_one(sc: ScopeContext, item: dict[str, Any]) -> None:
    from flowscope.collectors.gcp import executions_api, step_entries
    from flowscope.collectors.gcp.clients import GcpApiError

    name = str(item["name"])
    location = _location_of(name)
    doc = item
    try:
        if executions_api.needs_full(item):
            doc = executions_api.get_execution(sc.clients, name, location=location, view="FULL")
        if on_logs_path(sc, doc):
            with sc.lock:
                sc.bulk.setdefault(_workflow_of(name), []).append(doc)
            sc.result.count("executions_fetched")
            sc.result.count("executions_on_logs_path")
            return
        entries, pages = step_entries.list_step_entries(sc.clients, name, location=location)
    except GcpApiError as exc:
        if not exc.gone:
            raise
        _gone_while_listed(sc, item, exc)
        return
    sc.result.count("executions_fetched")
    sc.result.count("step_entries", len(entries))
    sc.result.count("step_entry_pages", pages)
    if not entries and doc.get("state") in NATIVE_TERMINAL:
        _no_history(sc, name, doc)
        if call_logging_on(sc, doc):
            with sc.lock:
                sc.deferred.append(doc)       # written with its call logs (`read_call_logs`)
            return
    batch = sc.formats["gcp.executions"]({"executions": [doc]}, sc.ctx(f"executions.list {_workflow_of(name)}"))
    batch.extend(sc.formats["gcp.step_entries"]({"stepEntries": entries},
                                                sc.ctx(f"stepEntries.list {name}", execution_id=name)))
    sc.sink.add(batch)


def _gone_while_listed(sc: ScopeContext, item: dict[str, Any], exc: BaseException) -> None:
    """Listed, then gone (retention) before its entries were read: keep what the listing said, say so."""
    name = str(item["name"])
    sc.sink.add(sc.formats["gcp.executions"]({"executions": [item]}, sc.ctx(f"executions.list {_workflow_of(name)}")))
    sc.result.count("executions_gone")
    sc.note("executions_gone", name)
    sc.result.record_error(_as_error(exc, "stepEntries.list", name))    # its steps are missing: partial


def _no_history(sc: ScopeContext, name: str, doc: dict[str, Any]) -> None:
    """A finished execution without step entries: history was not recorded for it (noticed, not assumed)."""
    workflow = _workflow_of(name)
    sc.result.count("executions_without_step_entries")
    sc.note("executions_without_step_entries", workflow, 1)
    level = doc.get("executionHistoryLevel") or "not set"
    sc.result.warn(f"workflow {workflow.rsplit('/', 1)[-1]} ({workflow}): finished executions without step "
                   f"entries (execution history not recorded; executionHistoryLevel {level}): their steps and "
                   "billed steps are missing (partial executions)")


# ---------------------------------------------------------------- call logs

CALL_LOGGING_LEVELS = frozenset({"LOG_ALL_CALLS", "LOG_ERRORS_ONLY"})
LOG_SLACK = dt.timedelta(minutes=1)


def call_logging_on(sc: ScopeContext, doc: Mapping[str, Any]) -> bool:
    """Whether the execution logged its calls: its own level (FULL view) wins over its workflow's."""
    level = doc.get("callLogLevel") or (sc.workflows.get(_workflow_of(str(doc["name"]))) or {}).get("callLogLevel")
    return level in CALL_LOGGING_LEVELS


def _times(doc: Mapping[str, Any], now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    start = utc(doc.get("startTime")) or utc(doc.get("createTime")) or now
    return start, utc(doc.get("endTime")) or now


def on_logs_path(sc: ScopeContext, doc: Mapping[str, Any]) -> bool:
    """A finished execution of a workflow logging all its calls, in a source with `path = "logs"`."""
    if sc.scope.path != "logs" or doc.get("state") not in NATIVE_TERMINAL:
        return False
    level = doc.get("callLogLevel") or (sc.workflows.get(_workflow_of(str(doc["name"]))) or {}).get("callLogLevel")
    return level == "LOG_ALL_CALLS"


def read_call_logs(sc: ScopeContext) -> None:
    """Call steps from Cloud Logging for the executions that need them, written with them.

    - Finished executions without step entries whose workflow logs calls (`deferred`): one
      filtered `entries.list` per slice of up to 100 executions (by execution id).
    - The logs path (`bulk`): per workflow, one `entries.list` per slice of up to 1,000
      consecutive executions (by workflow and time): a page of 1,000 entries instead of one
      step-entries listing per execution.

    A slice whose logs cannot be read is not written at all (an error of the run, the watermark
    held at its start), so the next sync lists those executions again and retries."""
    from flowscope.collectors.gcp import logging_api

    if sc.deferred:
        docs = sorted(sc.deferred, key=lambda d: _times(d, sc.now)[0])
        unsafe = [d for d in docs if not logging_api.safe_id(str(d["name"]).rsplit("/", 1)[-1])]
        if unsafe:
            sc.result.warn(f"{len(unsafe)} execution id(s) not usable in a Logging filter; written without call logs")
            sc.sink.add(sc.formats["gcp.executions"]({"executions": unsafe}, sc.ctx("executions.list")))
        docs = [d for d in docs if d not in unsafe]
        for i in range(0, len(docs), logging_api.MAX_IDS_PER_FILTER):
            chunk = docs[i:i + logging_api.MAX_IDS_PER_FILTER]
            _read_slice(sc, chunk, lambda names, a, b: logging_api.executions_filter(
                [n.rsplit("/", 1)[-1] for n in names], a, b), without_history=True)
    for workflow, docs in sorted(sc.bulk.items()):
        docs.sort(key=lambda d: _times(d, sc.now)[0])
        for i in range(0, len(docs), logging_api.BULK_EXECUTIONS):
            _read_slice(sc, docs[i:i + logging_api.BULK_EXECUTIONS], _workflow_slice(workflow), without_history=False)


def _workflow_slice(workflow: str) -> Callable[[list[str], dt.datetime, dt.datetime], str]:
    from flowscope.collectors.gcp import logging_api

    parts = workflow.split("/")

    def make(_names: list[str], start: dt.datetime, end: dt.datetime) -> str:
        return logging_api.workflow_filter(parts[3], parts[5], start, end)
    return make


def _read_slice(sc: ScopeContext, chunk: list[dict[str, Any]],
                make_filter: Callable[[list[str], dt.datetime, dt.datetime], str], *, without_history: bool) -> None:
    from flowscope.collectors.gcp import logging_api

    start = min(_times(d, sc.now)[0] for d in chunk) - LOG_SLACK
    end = max(_times(d, sc.now)[1] for d in chunk) + LOG_SLACK
    wanted = {str(d["name"]): d for d in chunk}
    try:
        entries = list(logging_api.list_entries(sc.clients, sc.scope.project, make_filter(list(wanted), start, end)))
    except Exception as exc:  # noqa: BLE001 - recorded; the slice is retried by the next sync
        _raise_auth(exc)
        sc.result.record_error(_as_error(exc, logging_api.API, f"call logs of {len(chunk)} execution(s)"))
        sc.gap(start + LOG_SLACK)
        return
    _write_with_call_logs(sc, wanted, entries, without_history=without_history)


def _write_with_call_logs(sc: ScopeContext, wanted: dict[str, dict[str, Any]], entries: list[Any], *,
                          without_history: bool) -> None:
    batch = sc.formats["gcp.executions"]({"executions": list(wanted.values())}, sc.ctx("executions.list"))
    logs = sc.formats["gcp.log_entries"]({"entries": entries}, sc.ctx("logging.entries.list"))
    # only call steps of the executions asked for: the executions rows are the API's, and any
    # other entry the filter let through is not this slice's business
    batch.steps.extend(r for r in logs.steps if r[C.execution_id] in wanted)
    batch.attempts.extend(r for r in logs.attempts if r[C.execution_id] in wanted)
    for key, n in logs.unknown_event_types.items():
        batch.unknown_event_types[key] = batch.unknown_event_types.get(key, 0) + n
    sc.sink.add(batch)
    covered = {r[C.execution_id] for r in batch.steps}
    sc.result.count("call_log_entries", len(entries))
    sc.result.count("executions_from_call_logs", len(covered))
    if covered and without_history:
        sc.result.warn(f"{len(covered)} execution(s) without step entries got their call steps from Cloud Logging "
                       "call logs (call steps only: other steps are not logged)")


# ---------------------------------------------------------------- metrics

def collect_metrics(sc: ScopeContext) -> None:
    """Cloud Monitoring datapoints of the scope's workflows, every `workflows.googleapis.com` type
    discovered, from the window's lower bound (a day back on a first sync) to now. Metrics are
    context, not executions: a failure is an error of the run but holds no watermark."""
    from flowscope.collectors.gcp import monitoring

    if not sc.scope.metrics or not sc.workflows:
        return
    start = monitoring.aligned(max(sc.window.lower_bound or sc.now - monitoring.DEFAULT_LOOKBACK,
                                   sc.now - monitoring.MAX_LOOKBACK))
    try:
        descriptors = monitoring.list_descriptors(sc.clients, sc.scope.project)
    except Exception as exc:  # noqa: BLE001 - recorded
        _raise_auth(exc)
        sc.result.record_error(_as_error(exc, "metricDescriptors.list", sc.scope.project))
        return
    rows: list[dict[str, Any]] = []
    read, skipped = [], []
    for descriptor in descriptors:
        how = monitoring.aligner(descriptor)
        metric_type = str(descriptor.get("type"))
        if how is None:
            skipped.append(metric_type)
            continue
        try:
            for series in monitoring.list_series(sc.clients, sc.scope.project, metric_type, how[0], start, sc.now):
                rows.extend(r for r in monitoring.metric_rows(series, descriptor, how[1])
                            if r[C.resource_id] in sc.workflows)
            read.append(metric_type)
        except Exception as exc:  # noqa: BLE001 - recorded; the other types go on
            _raise_auth(exc)
            sc.result.record_error(_as_error(exc, "timeSeries.list", metric_type))
    sc.result.details["metric_types"] = {"read": read, "skipped": skipped}
    if rows:
        sc.sink.add(Batch(metrics=rows))
    sc.result.count("metric_datapoints", len(rows))


# ---------------------------------------------------------------- running executions

def revisit_running(sc: ScopeContext, locations: Sequence[str]) -> None:
    """3. Stored RUNNING executions the listing did not return again: fetched until terminal."""
    from flowscope.collectors.gcp import executions_api
    from flowscope.collectors.gcp.clients import GcpApiError

    rows: list[dict[str, Any]] = []
    try:
        for location in locations:
            rows.extend(sc.store.running_executions(CLOUD, account=sc.scope.project, region=location))
    except Exception as exc:  # noqa: BLE001
        sc.result.record_error(CollectionError(f"reading stored running executions failed: {exc}",
                                               operation="store.running_executions"))
        return
    globs = sc.scope.globs
    todo = [r for r in rows if r[C.execution_id] not in sc.seen and not gone_attribute(r)
            and (not globs or any(fnmatch.fnmatchcase(str(r.get(C.workflow_name)), g) for g in globs))]
    if not todo:
        return
    sc.result.count("running_revisited", len(todo))

    def get(row: dict[str, Any]) -> dict[str, Any]:
        name = str(row[C.execution_id])
        return executions_api.get_execution(sc.clients, name, location=_location_of(name), view="BASIC")

    items: list[dict[str, Any]] = []
    gone: list[tuple[dict[str, Any], str]] = []
    for outcome in bounded_map(get, todo, sc.scope.concurrency, thread_name_prefix="flowscope-gcp-get"):
        if outcome.error is None:
            items.append(cast(dict[str, Any], outcome.result))
            continue
        _raise_auth(outcome.error)
        err = _as_error(outcome.error, "executions.get", outcome.item[C.execution_id])
        if isinstance(outcome.error, GcpApiError) and outcome.error.gone:
            gone.append((outcome.item, err.code or "NOT_FOUND"))
        else:
            sc.result.record_error(err)
            sc.gap(outcome.item.get(C.started_at))
    if gone:
        mark_gone(sc, gone)
    fetch_executions(sc, items)


def gone_attribute(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The `gone` mark of a stored execution (see `mark_gone`), if any."""
    try:
        attributes = json.loads(row.get(C.attributes) or "{}")
    except (TypeError, ValueError):
        return None
    return attributes.get("gone") if isinstance(attributes, dict) else None


def mark_gone(sc: ScopeContext, gone: list[tuple[dict[str, Any], str]]) -> None:
    """Stored RUNNING executions the API no longer has (retention, workflow deleted).

    They keep what was collected, status included (nothing says how they ended), with
    `attributes.gone = {"code", "noticed_at"}`, and are not revisited again."""
    rows = []
    for row, code in gone:
        marked = {**row, C.collected_at: sc.now}
        try:
            attributes = json.loads(row.get(C.attributes) or "{}")
        except (TypeError, ValueError):
            attributes = {}
        if not isinstance(attributes, dict):
            attributes = {"value": attributes}
        attributes["gone"] = {"code": code, "noticed_at": sc.now.isoformat()}
        marked[C.attributes] = json.dumps(attributes, sort_keys=True)
        rows.append(marked)
        sc.note("running_gone", str(row[C.execution_id]))
    sc.sink.add(Batch(executions=rows))     # the sink merges their stored steps back in
    sc.result.count("running_gone", len(rows))
    sc.result.warn(f"{len(rows)} stored running execution(s) no longer exist in GCP (retention or workflow "
                   f"deleted); kept as last collected and no longer revisited, e.g. {gone[0][0][C.execution_id]}")


# ---------------------------------------------------------------- helpers

def _raise_auth(exc: BaseException) -> None:
    """Refused credentials fail the whole scope: every other call would be refused too."""
    from flowscope.collectors.gcp.clients import GcpAuthError

    if isinstance(exc, GcpAuthError):
        raise exc


def _as_error(exc: BaseException, operation: str, target: str | None) -> CollectionError:
    if isinstance(exc, CollectionError):
        return exc
    return CollectionError(f"{operation} failed: {type(exc).__name__}: {str(exc)[:200]}", operation=operation,
                           code=type(exc).__name__, target=target)


def _watermark(window: CollectWindow, gaps: Sequence[dt.datetime | None]) -> dt.datetime | None:
    if not gaps:
        return window.end
    if any(g is None for g in gaps):
        return window.watermark     # something was not even listed: do not move on
    oldest = min(g for g in gaps if g is not None)
    # watermark - lag must reach the gap again: hold it at the gap start
    return max(min(window.end, oldest), window.watermark) if window.watermark else min(window.end, oldest)


# ---------------------------------------------------------------- a whole source

def sync(source_config: Mapping[str, Any], store: "Store", *, since: dt.datetime | None = None,
         now: dt.datetime | None = None, max_parallel_scopes: int = 4) -> list[ScopeResult]:
    """Collect every scope of one `[[sources]]` entry (in parallel); one result per scope."""
    now = now or dt.datetime.now(UTC)
    todo = scopes(source_config)
    outcomes = bounded_map(lambda s: collect_scope(s, store, since=since, now=now), todo,
                           max_parallel_scopes, thread_name_prefix="flowscope-scope")
    results = []
    for outcome in outcomes:
        if outcome.error is None:
            results.append(cast(ScopeResult, outcome.result))
        else:  # collect_scope records its own failures; this is a bug path, still recorded
            failed = ScopeResult(cloud=CLOUD, scope=outcome.item.scope_id(), started_at=now)
            failed.finish(failed=outcome.error)
            results.append(failed)
    return results


__all__ = ["GcpScope", "SourceConfigError", "collect_scope", "scopes", "sync", "validate"]
