"""The Azure live collector: `sync(source_config, store, since=..., now=...)`, the one entry point.

One `[[sources]]` entry with `cloud = "azure"` names a subscription (optionally resource groups and
workflow name globs); it is one scope, collected on its own and recorded in its own collection_runs
row (status running first, so a killed sync leaves a trace).

Per scope (get -> transform -> load): list the Consumption workflows and the Standard apps'
workflows (sites of kind workflowapp; their rows, with definitions); per workflow list the runs of
the window (watermark minus lag), and read the older revisions they ran on (once); for every run
not already stored as terminal, its actions (with retryHistory), the repetitions of actions inside
loops and the iterations of the loops themselves; trigger histories (fired, and polls that fired
nothing: both are billed); stored RUNNING runs revisited until terminal (one that no longer exists
is marked, not retried forever); Azure Monitor metrics (a failure there is a warning, not a failed
scope). With `workspace_id`, workflows without loops are read instead from the workspace's runtime
log, one KQL query per time slice (`loganalytics.py`); `details.paths` says which path each
workflow took and why. Everything goes unchanged to the pure transforms
(`collectors/azure/transform`), through one `StoreSink`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from flowscope.collectors.sink import StoreSink, write_run_row
from flowscope.collectors.throttle import Quota, bounded_map
from flowscope.collectors.window import DEFAULT_LAG, CollectionError, CollectWindow, ScopeResult
from flowscope.model import TERMINAL_STATUSES, UTC, Batch, C, Cloud, RunStatus, Source

if TYPE_CHECKING:
    from flowscope.collectors.azure.clients import ArmClient
    from flowscope.collectors.azure.definition import Definition
    from flowscope.collectors.native import ImportContext
    from flowscope.store import Store

CLOUD = Cloud.AZURE.value
SOURCE_KEYS = {
    "cloud": "azure",
    "name": "a label for this source (optional)",
    "subscription_id": "the subscription to collect (required)",
    "resource_groups": "list of resource group names (optional; default: the whole subscription)",
    "workflows": "list of workflow name globs (optional)",
    "workspace_id": "Log Analytics workspace id (optional): the bulk path for workflows without loops",
    "arm_endpoint": "management endpoint (optional, default https://management.azure.com; http only on loopback)",
    "logs_endpoint": "Log Analytics endpoint (optional, default https://api.loganalytics.io; http only on loopback)",
    "metrics_endpoint": "metrics batch endpoint (optional; not used in this version)",
    "lag": "re-list window before the last watermark, e.g. '15m' (optional)",
    "concurrency": "threads per scope for run details (optional, default 8)",
    "max_attempts": "HTTP attempts per call, retries included (optional, default 8)",
    "read_timeout": "seconds (optional, default 30)",
    "write_every": "runs per store commit (optional, default 250)",
    "metrics": "collect Azure Monitor metrics through the ARM metrics API (optional, default true)",
    "request_histories": "read retried actions' request histories for each try's own times (optional, default "
                         "false: the permission also exposes request headers)",
    "quota": "ARM read bucket [burst, refill_per_second] (optional, default [250, 25])",
}
DEFAULT_CONCURRENCY = 8
TERMINAL = frozenset(s.value for s in TERMINAL_STATUSES)
_SUBSCRIPTION = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_RESOURCE_GROUP = re.compile(r"^[-\w.()]{1,90}$")
MAX_GONE_LISTED = 20


class SourceConfigError(ValueError):
    """A `[[sources]]` entry for Azure that cannot be used; the message names the key."""


def _duration(value: Any, key: str) -> dt.timedelta:
    from flowscope.timewindow import parse_since

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.timedelta(seconds=float(value))
    if not isinstance(value, str):
        raise SourceConfigError(f"azure source: {key} must be a duration like '15m', got {value!r}")
    ref = dt.datetime(2000, 1, 1, tzinfo=UTC)
    try:
        start = parse_since(value, now=ref)
    except ValueError as exc:
        raise SourceConfigError(f"azure source: {key}: {exc}") from None
    if start is None or start > ref:
        raise SourceConfigError(f"azure source: {key} must be a positive duration like '15m'")
    return ref - start


def _str_list(source: Mapping[str, Any], key: str, pattern: re.Pattern[str] | None, what: str) -> None:
    value = source.get(key)
    if value is None:
        return
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise SourceConfigError(f"azure source: {key} must be a non-empty list of {what}")
    if pattern is not None:
        bad = [v for v in value if not pattern.match(v)]
        if bad:
            raise SourceConfigError(f"azure source: {key}: {bad[0]!r} is not a valid {what[:-1]}")


def validate(source: Mapping[str, Any]) -> None:
    """Raise SourceConfigError naming the first unknown or ill-typed key."""
    from flowscope.collectors.azure.clients import AzureConfigError, check_endpoint

    unknown = sorted(set(source) - set(SOURCE_KEYS))
    if unknown:
        raise SourceConfigError(f"azure source: unknown key(s) {', '.join(unknown)}; "
                                f"known: {', '.join(sorted(SOURCE_KEYS))}")
    if source.get("cloud") != "azure":
        raise SourceConfigError(f"azure source: cloud must be 'azure', got {source.get('cloud')!r}")
    sub = source.get("subscription_id")
    if not isinstance(sub, str) or not _SUBSCRIPTION.match(sub):
        raise SourceConfigError('azure source: subscription_id must be a subscription id, e.g. '
                                'subscription_id = "00000000-0000-0000-0000-000000000000"')
    _str_list(source, "resource_groups", _RESOURCE_GROUP, "resource group names")
    _str_list(source, "workflows", None, "workflow name globs")
    for key in ("name", "workspace_id"):
        if key in source and not isinstance(source[key], str):
            raise SourceConfigError(f"azure source: {key} must be a string")
    for key in ("arm_endpoint", "logs_endpoint", "metrics_endpoint"):
        if key in source:
            try:
                check_endpoint(source[key], key)
            except AzureConfigError as exc:
                raise SourceConfigError(str(exc)) from None
    for key in ("concurrency", "max_attempts", "write_every"):
        if key in source and (not isinstance(source[key], int) or isinstance(source[key], bool) or source[key] < 1):
            raise SourceConfigError(f"azure source: {key} must be a positive integer")
    if "read_timeout" in source and (not isinstance(source["read_timeout"], (int, float))
                                     or isinstance(source["read_timeout"], bool) or source["read_timeout"] <= 0):
        raise SourceConfigError("azure source: read_timeout must be a positive number of seconds")
    for key in ("metrics", "request_histories"):
        if key in source and not isinstance(source[key], bool):
            raise SourceConfigError(f"azure source: {key} must be true or false")
    if "lag" in source:
        _duration(source["lag"], "lag")
    _quota(source.get("quota"))


def _quota(value: Any) -> Quota | None:
    if value is None:
        return None
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in value)):
        raise SourceConfigError("azure source: quota must be [burst, refill_per_second], e.g. [250, 25]")
    return Quota(float(value[0]), float(value[1]))


@dataclass(frozen=True)
class AzureScope:
    """One subscription (optionally some resource groups and workflow globs) of one source entry."""

    subscription: str
    resource_groups: tuple[str, ...] = ()
    globs: tuple[str, ...] = ()
    arm_endpoint: str = "https://management.azure.com"
    workspace_id: str | None = None
    logs_endpoint: str = "https://api.loganalytics.io"
    metrics_endpoint: str | None = None
    lag: dt.timedelta = DEFAULT_LAG
    concurrency: int = DEFAULT_CONCURRENCY
    max_attempts: int = 8
    read_timeout: float = 30
    write_every: int = 250
    metrics: bool = True
    request_histories: bool = False
    quota: Quota | None = None

    def scope_id(self, _account: str | None = None) -> str:
        suffix = ""
        if self.resource_groups or self.globs:
            text = "\n".join(sorted(g.lower() for g in self.resource_groups)) + "\0" + "\n".join(sorted(self.globs))
            suffix = "#" + hashlib.sha256(text.encode()).hexdigest()[:8]
        return f"azure:{self.subscription.lower()}{suffix}"


def scopes(source: Mapping[str, Any]) -> list[AzureScope]:
    """The scopes of one source entry (one: its subscription)."""
    from flowscope.collectors.azure.clients import DEFAULT_ARM_ENDPOINT, check_endpoint

    validate(source)
    return [AzureScope(
        subscription=str(source["subscription_id"]),
        resource_groups=tuple(source.get("resource_groups") or ()),
        globs=tuple(source.get("workflows") or ()),
        arm_endpoint=check_endpoint(source.get("arm_endpoint", DEFAULT_ARM_ENDPOINT), "arm_endpoint"),
        workspace_id=source.get("workspace_id"),
        logs_endpoint=check_endpoint(source.get("logs_endpoint", "https://api.loganalytics.io"), "logs_endpoint"),
        metrics_endpoint=source.get("metrics_endpoint"),
        lag=_duration(source["lag"], "lag") if "lag" in source else DEFAULT_LAG,
        concurrency=int(source.get("concurrency", DEFAULT_CONCURRENCY)),
        max_attempts=int(source.get("max_attempts", 8)),
        read_timeout=float(source.get("read_timeout", 30)),
        write_every=int(source.get("write_every", 250)),
        metrics=bool(source.get("metrics", True)),
        request_histories=bool(source.get("request_histories", False)),
        quota=_quota(source.get("quota")),
    )]


# ---------------------------------------------------------------- what a scope's threads share

@dataclass
class ScopeContext:
    """Everything one scope's collection shares across its worker threads."""

    client: "ArmClient"
    store: "Store"
    sink: StoreSink
    result: ScopeResult
    window: CollectWindow
    now: dt.datetime
    concurrency: int = DEFAULT_CONCURRENCY
    request_histories: bool = False
    definitions: dict[str, "Definition | None"] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    fetched: set[str] = field(default_factory=set)
    absent: set[str] = field(default_factory=set)
    gaps: list[dt.datetime | None] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    unknown_statuses: dict[str, int] = field(default_factory=dict)
    auth_failure: CollectionError | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ctx(self, source_name: str) -> "ImportContext":
        from flowscope.collectors.native import ImportContext

        return ImportContext(source_name=source_name, seen_at=self.now, source=Source.API)

    def gap(self, start: dt.datetime | None) -> None:
        """Something from `start` on (None: anything) was not collected; hold the watermark there."""
        with self.lock:
            self.gaps.append(start)

    def failed(self, exc: BaseException, operation: str, target: str | None,
               start: dt.datetime | None = None, *, gap: bool = True) -> None:
        """Record a failed call; a 401 stops the whole scope (every later call would fail alike)."""
        err = as_collection_error(exc, operation, target)
        if getattr(exc, "unauthenticated", False):
            with self.lock:
                if self.auth_failure is None:
                    self.auth_failure = err
            return
        self.result.record_error(err)
        if gap:
            self.gap(start)

    def check_auth(self) -> None:
        if self.auth_failure is not None:
            raise CollectionError(
                "authentication failed (HTTP 401): the token expired or is not valid for this endpoint; "
                f"first at {self.auth_failure.operation} {self.auth_failure.target}",
                operation=self.auth_failure.operation, code="Unauthorized", target=self.auth_failure.target)


def as_collection_error(exc: BaseException, operation: str, target: str | None) -> CollectionError:
    if isinstance(exc, CollectionError):
        if exc.target is None:
            exc.target = target
        return exc
    return CollectionError(f"{operation} failed: {type(exc).__name__}: {str(exc)[:200]}", operation=operation,
                           code=type(exc).__name__, target=target)


# ---------------------------------------------------------------- one scope

def collect_scope(scope: AzureScope, store: "Store", *, since: dt.datetime | None = None,
                  now: dt.datetime | None = None) -> ScopeResult:
    """Collect one subscription into the store; returns (and writes) its collection_runs row.

    Never raises for an API or store failure: a failed scope is a FAILED result with its error.
    """
    from flowscope.collectors.azure import clients as az_clients

    now = now or dt.datetime.now(UTC)
    result = ScopeResult(cloud=CLOUD, scope=scope.scope_id(), started_at=dt.datetime.now(UTC))
    result.details.update({"subscription": scope.subscription, "endpoint": scope.arm_endpoint,
                           "resource_groups": list(scope.resource_groups) or None,
                           "workflow_globs": list(scope.globs) or None, "path": "management"})
    client: "ArmClient | None" = None
    try:
        previous = store.last_watermark(result.scope)
        window = CollectWindow(end=now, watermark=previous, since=since, lag=scope.lag)
        result.watermark = previous          # what a killed run leaves: unchanged
        result.details["window"] = {"lower_bound": window.lower_bound.isoformat() if window.lower_bound else None,
                                    "end": now.isoformat(), "lag_s": scope.lag.total_seconds()}
        if scope.metrics_endpoint:
            result.warn("metrics_endpoint is set, but the metrics batch API is not in this version: "
                        "metrics are read through the ARM metrics API of arm_endpoint")
        write_run_row(store, result)         # status running: a killed sync leaves a trace
        credential = az_clients.make_credential()
        client = az_clients.ArmClient(
            scope.arm_endpoint, credential,
            quota=scope.quota or az_clients.ARM_READS, retry_total=max(scope.max_attempts - 1, 0),
            read_timeout=scope.read_timeout, pool=scope.concurrency + 4)
        _collect(scope, client, store, result, window, now, credential)
    except Exception as exc:  # noqa: BLE001 - a failed scope is recorded, never raised
        result.finish(failed=exc)
        result.errors.append({"code": getattr(exc, "code", None) or type(exc).__name__,
                              "message": str(exc)[:300]})
    finally:
        if client is not None:
            result.details["api"] = client.stats.as_dict()
            client.close()
    try:
        write_run_row(store, result)
    except Exception as exc:  # noqa: BLE001 - the store itself failed: report it in the result
        result.status = RunStatus.FAILED
        result.error = f"could not write collection_runs row: {type(exc).__name__}: {exc}"[:1024]
    return result


def _collect(scope: AzureScope, client: "ArmClient", store: "Store", result: ScopeResult,
             window: CollectWindow, now: dt.datetime, credential: Any) -> None:
    from flowscope.collectors.azure import transform

    sink = StoreSink(store, result, transforms=transform, flush_every=scope.write_every)
    sc = ScopeContext(client=client, store=store, sink=sink, result=result, window=window, now=now,
                      concurrency=scope.concurrency, request_histories=scope.request_histories)
    try:
        workflows = _collect_workflows(scope, sc)
        bulk = _choose_paths(scope, sc, workflows)
        managed = {k: v for k, v in workflows.items() if k not in bulk}
        listed = _list_runs(sc, managed)
        sc.check_auth()
        _collect_versions(sc, _consumption(managed), listed)     # Standard apps keep no versions
        _fetch_runs(sc, listed)
        sc.check_auth()
        _collect_trigger_histories(sc, managed)
        sc.check_auth()
        _revisit_running(sc, managed)
        sc.check_auth()
        if bulk:
            _collect_log_analytics(scope, sc, bulk, credential)
            sc.check_auth()
        sink.flush()
        if scope.metrics and _consumption(workflows):
            _collect_metrics(sc, _consumption(workflows))          # a Standard app's metrics are its site's
            sc.check_auth()
            sink.flush()
    except Exception:
        try:        # whole runs fetched before the failure are kept: the re-run reads fewer
            sink.flush()
        except Exception as exc:  # noqa: BLE001 - the scope fails with its first error anyway
            result.warn(f"runs fetched before the failure could not be written: {type(exc).__name__}")
        raise
    finally:
        sink.close()
    if sink.skips_kept:
        result.details["skips"] = sink.skips_kept
    if sc.gone:
        result.details["runs_gone"] = sc.gone[:MAX_GONE_LISTED]
    if sc.unknown_statuses:
        result.details["unknown_statuses"] = dict(sorted(sc.unknown_statuses.items()))
        result.warn(f"unknown Logic Apps status(es) {', '.join(sorted(sc.unknown_statuses))[:200]}: kept as "
                    "native_status, counted RUNNING without an end time and FAILED with one")
    result.finish()
    result.watermark = _watermark(window, sc.gaps)


# ---------------------------------------------------------------- 1. workflows

def _collect_workflows(scope: AzureScope, sc: ScopeContext) -> dict[str, dict[str, Any]]:
    """The scope's Consumption workflows (canonical id -> document); their rows queued.

    A subscription-wide listing failure fails the scope (nothing else can be known); one failing
    resource group is recorded and the others go on (unless every one failed). Standard apps'
    workflows are listed through their sites; a failure there is recorded, Consumption goes on."""
    from flowscope.collectors.azure import arm
    from flowscope.collectors.azure.definition import definition_object, parse_definition
    from flowscope.collectors.azure.transform import FORMATS, canonical_workflow_id

    docs: list[dict[str, Any]] = []
    if not scope.resource_groups:
        docs = arm.list_workflows(sc.client, scope.subscription, None, scope.globs)
    else:
        outcomes = bounded_map(lambda rg: arm.list_workflows(sc.client, scope.subscription, rg, scope.globs),
                               list(scope.resource_groups), min(4, scope.concurrency))
        failures = [o for o in outcomes if o.error is not None]
        if len(failures) == len(outcomes):
            raise cast(BaseException, failures[0].error)
        for outcome in outcomes:
            if outcome.error is None:
                docs.extend(cast(list[dict[str, Any]], outcome.result))
            else:
                sc.failed(outcome.error, "workflows.list", f"resourceGroups/{outcome.item}")
    groups: list[str | None] = list(scope.resource_groups) or [None]
    for site_outcome in bounded_map(lambda rg: arm.list_standard_workflows(sc.client, scope.subscription, rg,
                                                                           scope.globs),
                                    groups, min(4, scope.concurrency)):
        if site_outcome.error is None:
            docs.extend(cast(list[dict[str, Any]], site_outcome.result))
        else:
            sc.failed(site_outcome.error, "sites.list",
                      f"resourceGroups/{site_outcome.item}" if site_outcome.item else None)
    workflows: dict[str, dict[str, Any]] = {}
    for doc in docs:
        try:
            workflows[canonical_workflow_id(doc["id"])] = doc
        except ValueError:
            sc.result.record_error({"operation": "workflows.list", "code": "BadId",
                                    "message": f"not a workflow id: {str(doc.get('id'))[:200]}"})
    sc.result.count("workflows", len(workflows))
    sc.result.details["workflows"] = sorted(str(d.get("name")) for d in workflows.values())[:200]
    if workflows:
        sc.sink.add(FORMATS["azure.workflow"]({"value": list(workflows.values())}, sc.ctx("workflows.list")))
    for wf_id, doc in workflows.items():
        definition = definition_object(_definition_of(doc))
        sc.definitions[wf_id] = parse_definition(definition) if definition else None
    return workflows


def _definition_of(doc: Mapping[str, Any]) -> Any:
    """A workflow's definition: `properties.definition` (Consumption), or the one in
    `properties.files["workflow.json"]` (Standard)."""
    props = _props(doc)
    if props.get("definition") is not None:
        return props["definition"]
    files = props.get("files")
    wf_file = files.get("workflow.json") if isinstance(files, dict) else None
    return wf_file.get("definition") if isinstance(wf_file, dict) else None


def _consumption(workflows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    from flowscope.collectors.azure.arm import standard_parts

    return {k: v for k, v in workflows.items() if standard_parts(str(v.get("id"))) is None}


# ---------------------------------------------------------------- 2. runs of the window

def _list_runs(sc: ScopeContext, workflows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs of the window that need their details (not stored as terminal)."""
    from flowscope.collectors.azure import arm
    from flowscope.collectors.azure.transform import canonical_execution_id

    def listing(wf_id: str) -> list[dict[str, Any]]:
        if sc.auth_failure is not None:
            return []
        return arm.list_runs(sc.client, workflows[wf_id]["id"], sc.window.lower_bound)

    todo: list[dict[str, Any]] = []
    for outcome in bounded_map(listing, list(workflows), min(4, sc.concurrency), thread_name_prefix="flowscope-runs"):
        if outcome.error is not None:
            sc.failed(outcome.error, "runs.list", outcome.item)
            continue
        runs = cast(list[dict[str, Any]], outcome.result)
        ids = {}
        for run in runs:
            try:
                ids[canonical_execution_id(run["id"]) or ""] = run
            except ValueError:
                sc.result.record_error({"operation": "runs.list", "code": "BadId",
                                        "message": f"not a run id: {str(run.get('id'))[:200]}"})
        ids.pop("", None)
        sc.seen.update(ids)
        stored = sc.store.existing_execution_ids(CLOUD, list(ids)) or {}
        fresh = [(rid, run) for rid, run in ids.items() if stored.get(rid) not in TERMINAL]
        with sc.lock:
            sc.absent.update(rid for rid, _ in fresh if rid not in stored)
        todo.extend(run for _, run in fresh)
        sc.result.count("runs_listed", len(ids))
        sc.result.count("runs_skipped_terminal", len(ids) - len(fresh))
    return todo


def _collect_versions(sc: ScopeContext, workflows: dict[str, dict[str, Any]], runs: list[dict[str, Any]]) -> None:
    """The older revisions these runs ran on, when not stored yet: each run is then typed and
    metered by the definition it really ran (the current one otherwise). A failure is a warning."""
    from flowscope.collectors.azure import arm
    from flowscope.collectors.azure.transform import FORMATS, canonical_workflow_id
    from flowscope.collectors.native import ImportContext

    current = {wf_id: str(_props(doc).get("version") or "") for wf_id, doc in workflows.items()}
    wanted: set[tuple[str, str]] = set()
    for run in runs:
        revision = _props(run).get("workflow")
        name = revision.get("name") if isinstance(revision, dict) else None
        wf_id = canonical_workflow_id(run["id"])
        if isinstance(name, str) and name and wf_id in workflows and name != current.get(wf_id):
            wanted.add((wf_id, name))
    if not wanted:
        return
    try:
        stored = sc.store.sql(f"SELECT {C.workflow_id}, {C.revision} FROM workflows WHERE {C.cloud} = ?", [CLOUD])
        known = {(str(w), str(r)) for w, r in zip(stored[C.workflow_id], stored[C.revision], strict=True)}
    except Exception:  # noqa: BLE001 - nothing stored yet: every wanted revision is new
        known = set()
    todo = sorted(wanted - known)
    docs: list[dict[str, Any]] = []
    failed: list[str] = []
    for outcome in bounded_map(lambda item: arm.get_version(sc.client, workflows[item[0]]["id"], item[1]), todo,
                               min(4, sc.concurrency), thread_name_prefix="flowscope-versions"):
        if outcome.error is None:
            docs.append(cast(dict[str, Any], outcome.result))
        elif getattr(outcome.error, "unauthenticated", False):
            sc.failed(outcome.error, "versions.get", outcome.item[0])
        else:
            failed.append(f"{outcome.item[0].rsplit('/', 1)[-1]}@{outcome.item[1]}")
    if docs:
        # seen_at from the version's own changedTime, so the current revision stays the latest
        ctx = ImportContext(source_name="versions.get", seen_at=None, source=Source.API)
        sc.sink.add(FORMATS["azure.workflow"]({"value": docs}, ctx))
    sc.result.count("workflow_versions", len(docs))
    if failed:
        sc.result.warn(f"{len(failed)} workflow revision(s) not read (their runs use the current definition), "
                       f"e.g. {failed[0][:200]}")


def _props(record: Mapping[str, Any]) -> dict[str, Any]:
    props = record.get("properties")
    return props if isinstance(props, dict) else {}


def _start(run: Mapping[str, Any]) -> dt.datetime | None:
    from flowscope.collectors.azure.transform.records import ts

    props = run.get("properties")
    return ts(props.get("startTime")) if isinstance(props, dict) else None


def _fetch_runs(sc: ScopeContext, runs: list[dict[str, Any]]) -> None:
    """Details of each run (bounded concurrency); failures recorded per run, never stopping the rest."""
    outcomes = bounded_map(lambda run: _collect_run(sc, run), runs, sc.concurrency,
                           thread_name_prefix="flowscope-run")
    for outcome in outcomes:
        if outcome.error is not None:
            sc.failed(outcome.error, "run details", str(outcome.item.get("id"))[:300], _start(outcome.item))


def _collect_run(sc: ScopeContext, run: dict[str, Any]) -> None:
    """One run: its actions, loop repetitions and iterations, transformed together and queued."""
    from flowscope.collectors.azure.transform import FORMATS, canonical_execution_id, canonical_workflow_id

    if sc.auth_failure is not None:
        return
    run_id = canonical_execution_id(run["id"]) or ""
    absent = run_id in sc.absent
    try:
        records = [run, *_run_details(sc, run, canonical_workflow_id(run["id"]))]
    except Exception as exc:
        if getattr(exc, "gone", False):
            with sc.lock:
                sc.gone.append(run_id)
            sc.result.count("runs_gone")
            return
        raise
    _count_unknown_statuses(sc, records)
    batch = FORMATS["azure.runs"]({"value": records}, sc.ctx(f"runs {run_id}"))
    sc.sink.add(batch, absent=[(CLOUD, run_id)] if absent else ())
    with sc.lock:
        sc.fetched.add(run_id)
    sc.result.count("runs_fetched")
    sc.result.count("action_records", len(records) - 1)


def _run_details(sc: ScopeContext, run: dict[str, Any], workflow_id: str) -> list[dict[str, Any]]:
    """Actions of a run, plus the repetitions of actions inside loops and the loops' iterations
    (which ones: from the workflow's definition; a skipped action has none), and, when enabled,
    the request histories of retried actions."""
    from flowscope.collectors.azure import arm

    actions = arm.list_actions(sc.client, run["id"])
    definition = sc.definitions.get(workflow_id)
    out = list(actions)
    for action in actions:
        name = str(action.get("name") or "")
        props = _props(action)
        if str(props.get("status") or "").lower() == "skipped" or not isinstance(action.get("id"), str):
            continue
        if sc.request_histories and props.get("retryHistory"):
            out.extend(_request_histories(sc, action["id"]))
        info = definition.get(name) if definition is not None else None
        if info is None:
            continue
        assert definition is not None
        if definition.loop_ancestors(name):
            out.extend(arm.list_repetitions(sc.client, action["id"]))
        if info.is_loop:
            out.extend(arm.list_scope_repetitions(sc.client, action["id"]))
    return out


def _request_histories(sc: ScopeContext, action_id: str) -> list[dict[str, Any]]:
    """Each try's own times for a retried action; a 404 (actions that make no HTTP request) is none."""
    from flowscope.collectors.azure import arm

    try:
        return arm.list_request_histories(sc.client, action_id)
    except Exception as exc:
        if getattr(exc, "gone", False):
            return []
        raise


def _count_unknown_statuses(sc: ScopeContext, records: Sequence[Mapping[str, Any]]) -> None:
    from flowscope.collectors.azure.transform import STATUS_MAP

    for rec in records:
        props = rec.get("properties")
        status = props.get("status") if isinstance(props, dict) else None
        if isinstance(status, str) and status.lower() not in STATUS_MAP:
            with sc.lock:
                sc.unknown_statuses[status[:40]] = sc.unknown_statuses.get(status[:40], 0) + 1


# ---------------------------------------------------------------- 3. trigger histories

def _collect_trigger_histories(sc: ScopeContext, workflows: dict[str, dict[str, Any]]) -> None:
    """Fires and polls of every trigger in the window. A fired history joins its run when the run
    was fetched in this sync (the others' runs are stored already); a poll that fired nothing is a
    trigger row of its own (polls are billed), written once."""
    from flowscope.collectors.azure import arm
    from flowscope.collectors.azure.transform import FORMATS

    def per_workflow(wf_id: str) -> tuple[list[dict[str, Any]], set[str]]:
        if sc.auth_failure is not None:
            return [], set()
        histories: list[dict[str, Any]] = []
        for trigger in arm.list_triggers(sc.client, workflows[wf_id]["id"]):
            histories.extend(arm.list_trigger_histories(sc.client, trigger["id"], sc.window.lower_bound))
        if not histories:
            return [], set()
        return histories, sc.store.execution_ids_of_workflow(CLOUD, wf_id)

    outcomes = bounded_map(per_workflow, list(workflows), min(4, sc.concurrency),
                           thread_name_prefix="flowscope-triggers")
    keep: list[dict[str, Any]] = []
    for outcome in outcomes:
        if outcome.error is not None:
            sc.failed(outcome.error, "histories.list", outcome.item)
            continue
        histories, stored = cast(tuple[list[dict[str, Any]], set[str]], outcome.result)
        sc.result.count("trigger_histories_listed", len(histories))
        for history in histories:
            owner = _history_owner(history)
            if owner is None:
                continue
            if owner in sc.fetched or (not _fired(history) and owner not in stored):
                keep.append(history)
    if keep:
        sc.sink.add(FORMATS["azure.trigger_histories"]({"value": keep}, sc.ctx("histories.list")))
    sc.result.count("trigger_histories_written", len(keep))


def _fired(history: Mapping[str, Any]) -> bool:
    props = history.get("properties")
    return bool(props.get("fired")) if isinstance(props, dict) else False


def _history_owner(history: Mapping[str, Any]) -> str | None:
    """The execution id a trigger history's row belongs to (its run, or the history itself)."""
    from flowscope.collectors.azure.transform import ArmId

    try:
        ids = ArmId(str(history.get("id")))
    except ValueError:
        return None
    if ids.trigger is None or ids.history is None:
        return None
    props = _props(history)
    run = props.get("run") if isinstance(props.get("run"), dict) else {}
    assert isinstance(run, dict)
    if run.get("id"):
        try:
            return ArmId(str(run["id"])).execution_id
        except ValueError:
            return None
    if run.get("name") and props.get("fired"):
        return f"{ids.workflow_id}/runs/{str(run['name']).lower()}"
    return f"{ids.workflow_id}/triggers/{ids.trigger}/histories/{ids.history}"


# ---------------------------------------------------------------- 4. stored runs still running

def _revisit_running(sc: ScopeContext, workflows: dict[str, dict[str, Any]]) -> None:
    """Stored RUNNING runs of this scope's workflows that the listing did not return: read again
    (details when they changed); a run the API no longer has is marked gone, not retried."""
    from flowscope.collectors.azure import arm

    try:
        rows = sc.store.running_executions(CLOUD, account=None)
    except Exception as exc:  # noqa: BLE001 - recorded: the revisit is part of the collection
        sc.result.record_error(CollectionError(f"reading stored running runs failed: {exc}",
                                               operation="store.running_executions"))
        return
    todo = [r for r in rows if r.get(C.workflow_id) in workflows and r[C.execution_id] not in sc.seen
            and not _gone_mark(r)]
    if not todo:
        return
    sc.result.count("running_revisited", len(todo))

    def read(row: dict[str, Any]) -> dict[str, Any]:
        return arm.get_run(sc.client, row[C.execution_id])

    gone: list[dict[str, Any]] = []
    again: list[dict[str, Any]] = []
    for outcome in bounded_map(read, todo, sc.concurrency, thread_name_prefix="flowscope-revisit"):
        if outcome.error is None:
            again.append(cast(dict[str, Any], outcome.result))
        elif getattr(outcome.error, "gone", False):
            gone.append(outcome.item)
        else:
            sc.failed(outcome.error, "runs.get", outcome.item[C.execution_id], outcome.item.get(C.started_at))
    if gone:
        _mark_gone(sc, gone)
    _fetch_runs(sc, again)


def _gone_mark(row: Mapping[str, Any]) -> Any:
    try:
        attributes = json.loads(row.get(C.attributes) or "{}")
    except (TypeError, ValueError):
        return None
    return attributes.get("gone") if isinstance(attributes, dict) else None


def _mark_gone(sc: ScopeContext, rows: list[dict[str, Any]]) -> None:
    """Stored RUNNING runs Azure no longer has (deleted, or past retention): kept as last collected,
    marked `attributes.gone = {"code", "noticed_at"}` and never revisited again; said once."""
    marked = []
    for row in rows:
        try:
            attributes = json.loads(row.get(C.attributes) or "{}")
        except (TypeError, ValueError):
            attributes = {}
        if not isinstance(attributes, dict):
            attributes = {}
        attributes["gone"] = {"code": "NotFound", "noticed_at": sc.now.isoformat()}
        marked.append({**row, C.attributes: json.dumps(attributes, sort_keys=True), C.collected_at: sc.now})
    sc.sink.add(Batch(executions=marked))
    with sc.lock:
        sc.gone.extend(r[C.execution_id] for r in rows)
    sc.result.count("running_gone", len(marked))
    sc.result.warn(f"{len(marked)} stored RUNNING run(s) no longer exist in Azure (HTTP 404); kept as last "
                   f"collected and no longer revisited, e.g. {rows[0][C.execution_id]}")


# ---------------------------------------------------------------- 4b. the Log Analytics bulk path

def _choose_paths(scope: AzureScope, sc: ScopeContext, workflows: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Which workflows take the bulk path (canonical id -> name); every choice and its reason in
    `details.paths`. Bulk needs a workspace and a definition without loops: the runtime log has no
    iteration index, so a loop's visits would collapse into one."""
    paths: dict[str, dict[str, str]] = {}
    bulk: dict[str, str] = {}
    for wf_id, doc in workflows.items():
        name = str(doc.get("name"))
        definition = sc.definitions.get(wf_id)
        if not scope.workspace_id:
            path, why = "management", "no workspace_id configured"
        elif wf_id.split("/providers/", 1)[-1].startswith("microsoft.web/"):
            path, why = "management", "Standard: its runtime log rows are not mapped to workflows in this version"
        elif definition is None:
            path, why = "management", "definition not readable: loops cannot be ruled out"
        elif any(info.is_loop for info in definition.actions.values()):
            path, why = "management", "has loops: the runtime log has no iteration index"
        else:
            path, why = "log_analytics", f"no loops: runtime log of workspace {scope.workspace_id}, by KQL"
            bulk[wf_id] = name
        paths[name] = {"path": path, "why": why}
    sc.result.details["paths"] = dict(sorted(paths.items()))
    if bulk:
        sc.result.details["path"] = "management+log_analytics" if len(bulk) < len(workflows) else "log_analytics"
    return bulk


def _collect_log_analytics(scope: AzureScope, sc: ScopeContext, bulk: dict[str, str], credential: Any) -> None:
    """Runs of the bulk workflows from the workspace, one KQL query per slice of the window; runs
    stored as finished are skipped; a slice still partial at the smallest size is a recorded gap."""
    from flowscope.collectors.azure import loganalytics as la
    from flowscope.collectors.azure.clients import CallStats
    from flowscope.collectors.azure.transform import FORMATS

    assert scope.workspace_id is not None
    stats = CallStats()
    client, options = la.make_logs_client(scope.logs_endpoint, credential, stats,
                                          retry_total=max(scope.max_attempts - 1, 0))
    start = sc.window.lower_bound or (sc.now - la.DEFAULT_LOOKBACK)
    rows: list[dict[str, Any]] = []
    try:
        for outcome in la.query_window(client, options, scope.workspace_id, sorted(bulk), start, sc.now):
            sc.result.count("la_queries", outcome.queries)
            sc.result.count("la_rows", len(outcome.rows))
            for lo, _hi, message in outcome.failed:
                sc.result.record_error(CollectionError(message, operation="logs.query", code="PartialResult",
                                                       target=f"workspaces/{scope.workspace_id}"))
                sc.gap(lo)
            rows.extend(outcome.rows)
            if len(rows) >= 10 * scope.write_every:     # a few slices at a time: one store lookup for them
                _load_log_records(sc, FORMATS, la.records_from_rows(rows))
                rows = []
        _load_log_records(sc, FORMATS, la.records_from_rows(rows))
    except Exception as exc:
        if getattr(exc, "status_code", None) == 401:
            raise CollectionError("authentication failed (HTTP 401) on the Log Analytics query API: the token "
                                  "expired or is not valid for it", operation="logs.query", code="Unauthorized",
                                  target=f"workspaces/{scope.workspace_id}") from None
        sc.failed(exc, "logs.query", f"workspaces/{scope.workspace_id}")
    finally:
        sc.result.details["logs_api"] = stats.as_dict()
        client.close()


def _load_log_records(sc: ScopeContext, formats: Mapping[str, Any], records: list[dict[str, Any]]) -> None:
    """Queue the records of a few slices, but those of runs already stored as finished."""
    from flowscope.collectors.azure.transform import canonical_execution_id

    owners: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        owner = canonical_execution_id(record["id"]) if "/runs/" in record["id"] else record["id"].lower()
        owners.setdefault(owner or "", []).append(record)
    run_ids = [o for o in owners if "/runs/" in o]
    stored = sc.store.existing_execution_ids(CLOUD, run_ids) or {}
    keep = [r for owner, recs in owners.items() if stored.get(owner) not in TERMINAL for r in recs]
    fresh = [o for o in run_ids if stored.get(o) not in TERMINAL]
    sc.result.count("runs_skipped_terminal", len(run_ids) - len(fresh))
    sc.result.count("runs_from_logs", len(fresh))
    if keep:
        _count_unknown_statuses(sc, keep)
        batch = formats["azure.runs"]({"value": keep}, sc.ctx("logs.query"))
        sc.sink.add(batch, absent=[(CLOUD, o) for o in fresh if o not in stored])


# ---------------------------------------------------------------- 5. metrics

def _collect_metrics(sc: ScopeContext, workflows: dict[str, dict[str, Any]]) -> None:
    """Azure Monitor metrics of every workflow over the window (hour grain). A failure is a warning
    on the scope, not a failed scope: runs, actions and usage are collected without them."""
    from flowscope.collectors.azure import metrics as az_metrics

    start, end = az_metrics.timespan(sc.window.lower_bound, sc.now)

    def per_workflow(wf_id: str) -> list[dict[str, Any]]:
        if sc.auth_failure is not None:
            return []
        doc = workflows[wf_id]
        body = az_metrics.get_metrics(sc.client, doc["id"], start, end)
        region = str(doc.get("location") or "").replace(" ", "").lower() or None
        return az_metrics.metric_rows(body, resource_id=wf_id, account=sc.result.details.get("subscription"),
                                      region=region)

    failures: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for outcome in bounded_map(per_workflow, list(workflows), min(4, sc.concurrency),
                               thread_name_prefix="flowscope-metrics"):
        if outcome.error is None:
            rows.extend(cast(list[dict[str, Any]], outcome.result))
        elif getattr(outcome.error, "unauthenticated", False):
            sc.failed(outcome.error, "metrics.get", outcome.item)
        else:
            failures.append(as_collection_error(outcome.error, "metrics.get", outcome.item).as_dict())
    if rows:
        sc.sink.add(Batch(metrics=rows))
    sc.result.count("metric_datapoints", len(rows))
    sc.result.details["metrics_window"] = {"start": start.isoformat(), "end": end.isoformat(),
                                           "grain": az_metrics.GRAIN}
    if failures:
        sc.result.count("metrics_failed", len(failures))
        sc.result.details["metrics_errors"] = failures[:10]
        sc.result.warn(f"metrics of {len(failures)} workflow(s) not collected (first: {failures[0]['message']}); "
                       "runs and actions are collected without them")


# ---------------------------------------------------------------- the watermark

def _watermark(window: CollectWindow, gaps: Sequence[dt.datetime | None]) -> dt.datetime | None:
    """The end of the window, held back to the oldest gap left behind (the AWS collector's rule)."""
    if not gaps:
        return window.end
    if any(g is None for g in gaps):
        return window.watermark     # something was not even listed: do not move on
    oldest = min(g for g in gaps if g is not None)
    return max(min(window.end, oldest), window.watermark) if window.watermark else min(window.end, oldest)


# ---------------------------------------------------------------- a whole source

def sync(source_config: Mapping[str, Any], store: "Store", *, since: dt.datetime | None = None,
         now: dt.datetime | None = None, max_parallel_scopes: int = 4) -> list[ScopeResult]:
    """Collect every scope of one `[[sources]]` entry; one result per scope."""
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


__all__ = ["AzureScope", "SourceConfigError", "collect_scope", "scopes", "sync", "validate"]
