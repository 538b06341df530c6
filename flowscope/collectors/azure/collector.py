"""The Azure live collector: `sync(source_config, store, since=..., now=...)`, the one entry point.

One `[[sources]]` entry with `cloud = "azure"` names a subscription (optionally resource groups and
workflow name globs); it is one scope, collected on its own and recorded in its own collection_runs
row (status running first, so a killed sync leaves a trace).

Per scope (get -> transform -> load), one module per step, all on one `ScopeContext` (`context.py`):

1. `workflows.py`: the Consumption workflows and the Standard apps' workflows (`standard.py`: the
   sites of kind workflowapp, and each app's App Service plan into its workflows' attributes),
   with definitions; the older revisions runs ran on (once).
2. `runs.py`: per workflow the runs of the window (watermark minus lag); for every run not already
   stored as terminal, its actions (with retryHistory), the repetitions of actions inside loops
   and the iterations of the loops themselves.
3. `triggers.py`: trigger histories (fired, and polls that fired nothing: both are billed).
4. `runs.py`: stored RUNNING runs revisited until terminal (one that no longer exists is marked,
   not retried forever). 4b. `logs_path.py`: with `workspace_id`, workflows without loops are read
   instead from the workspace's runtime log, one KQL query per time slice (`loganalytics.py`);
   `details.paths` says which path each workflow took and why.
5. `metrics.py`: Azure Monitor metrics, through ARM or, with `metrics_endpoint`, the batch API (a
   failure there is a warning, not a failed scope).

Everything goes unchanged to the pure transforms (`collectors/azure/transform`), through one
`StoreSink`; the watermark is the window's end held back to the oldest gap (`window.held_watermark`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowscope.collectors import source_config as cfg
from flowscope.collectors.azure.context import CLOUD, ScopeContext
from flowscope.collectors.sink import StoreSink, close_run_row, open_window
from flowscope.collectors.source_config import SourceConfigError
from flowscope.collectors.throttle import Quota
from flowscope.collectors.window import CollectWindow, ScopeResult
from flowscope.model import UTC, C

if TYPE_CHECKING:
    from flowscope.collectors.azure.clients import ArmClient
    from flowscope.store import Store

SOURCE_KEYS = {
    "cloud": "azure",
    "name": "a label for this source (optional)",
    "subscription_id": "the subscription to collect (required)",
    "resource_groups": "list of resource group names (optional; default: the whole subscription)",
    "workflows": "list of workflow name globs (optional)",
    "workspace_id": "Log Analytics workspace id (optional): the bulk path for workflows without loops",
    "arm_endpoint": "management endpoint (optional, default https://management.azure.com; http only on loopback)",
    "logs_endpoint": "Log Analytics endpoint (optional, default https://api.loganalytics.io; http only on loopback)",
    "metrics_endpoint": "Azure Monitor metrics batch endpoint, '{region}' standing for each workflow's region, "
                        "e.g. https://{region}.metrics.monitor.azure.com (optional; default: the ARM metrics API)",
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
_SUBSCRIPTION = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_RESOURCE_GROUP = re.compile(r"^[-\w.()]{1,90}$")
MAX_GONE_LISTED = 20
QUOTA_EXAMPLE = "[250, 25]"


def validate(source: Mapping[str, Any]) -> None:
    """Raise SourceConfigError naming the first unknown or ill-typed key."""
    from flowscope.collectors.azure.clients import AzureConfigError, check_endpoint

    cfg.check_common(source, "azure", SOURCE_KEYS)
    sub = source.get("subscription_id")
    if not isinstance(sub, str) or not _SUBSCRIPTION.match(sub):
        raise SourceConfigError('azure source: subscription_id must be a subscription id, e.g. '
                                'subscription_id = "00000000-0000-0000-0000-000000000000"')
    cfg.string_list(source, "resource_groups", "azure", "resource group names", pattern=_RESOURCE_GROUP)
    cfg.string_list(source, "workflows", "azure", "workflow name globs")
    cfg.strings(source, ("workspace_id",), "azure")
    for key in ("arm_endpoint", "logs_endpoint", "metrics_endpoint"):
        if key in source:
            try:
                check_endpoint(source[key], key)
            except AzureConfigError as exc:
                raise SourceConfigError(str(exc)) from None
    cfg.positive_seconds(source, "read_timeout", "azure")
    cfg.flags(source, ("request_histories",), "azure")
    cfg.quota(source.get("quota"), "azure", QUOTA_EXAMPLE)


@dataclass(frozen=True)
class AzureScope(cfg.ScopeSettings):
    """One subscription (optionally some resource groups and workflow globs) of one source entry."""

    subscription: str
    resource_groups: tuple[str, ...] = ()
    arm_endpoint: str = "https://management.azure.com"
    workspace_id: str | None = None
    logs_endpoint: str = "https://api.loganalytics.io"
    metrics_endpoint: str | None = None
    request_histories: bool = False
    quota: Quota | None = None

    def holds(self, execution: Mapping[str, Any]) -> bool:
        """Whether a stored execution row belongs to this scope: its subscription, resource groups
        and workflow globs (also when its workflow is no longer listed)."""
        workflow_id = str(execution.get(C.workflow_id) or "").lower()
        if not workflow_id.startswith(f"/subscriptions/{self.subscription.lower()}/"):
            return False
        parts = workflow_id.split("/")
        group = parts[4] if len(parts) > 4 and parts[3] == "resourcegroups" else None
        if self.resource_groups and group not in {g.lower() for g in self.resource_groups}:
            return False
        name = str(execution.get(C.workflow_name) or workflow_id.rsplit("/", 1)[-1]).rsplit("/", 1)[-1]
        return cfg.name_matches(name, self.globs)

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
        arm_endpoint=check_endpoint(source.get("arm_endpoint", DEFAULT_ARM_ENDPOINT), "arm_endpoint"),
        workspace_id=source.get("workspace_id"),
        logs_endpoint=check_endpoint(source.get("logs_endpoint", "https://api.loganalytics.io"), "logs_endpoint"),
        metrics_endpoint=source.get("metrics_endpoint"),
        request_histories=bool(source.get("request_histories", False)),
        quota=cfg.quota(source.get("quota"), "azure", QUOTA_EXAMPLE),
        **cfg.scope_settings(source, "azure", globs_key="workflows", max_attempts=8),
    )]


# ---------------------------------------------------------------- one scope

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
        window = open_window(store, result, lag=scope.lag, since=since, now=now)    # status running first
        credential = az_clients.make_credential()
        client = az_clients.ArmClient(
            scope.arm_endpoint, credential,
            quota=scope.quota or az_clients.ARM_READS, retry_total=max(scope.max_attempts - 1, 0),
            read_timeout=scope.read_timeout, pool=scope.concurrency + 4, subscription=scope.subscription)
        _collect(scope, client, store, result, window, now, credential)
    except Exception as exc:  # noqa: BLE001 - a failed scope is recorded, never raised
        result.finish(failed=exc)
        result.errors.append({"code": getattr(exc, "code", None) or type(exc).__name__,
                              "message": str(exc)[:300]})
    finally:
        if client is not None:
            result.details["api"] = client.stats.as_dict()
            client.close()
    return close_run_row(store, result)


def _collect(scope: AzureScope, client: "ArmClient", store: "Store", result: ScopeResult,
             window: CollectWindow, now: dt.datetime, credential: Any) -> None:
    from flowscope.collectors.azure import logs_path, metrics, runs, transform, triggers, workflows

    sink = StoreSink(store, result, transforms=transform, flush_every=scope.write_every)
    sc = ScopeContext(client=client, store=store, sink=sink, result=result, window=window, now=now,
                      concurrency=scope.concurrency, request_histories=scope.request_histories)
    try:
        found = workflows.collect_workflows(scope, sc)
        bulk = logs_path.choose_paths(scope, sc, found)
        managed = {k: v for k, v in found.items() if k not in bulk}
        listed = runs.list_runs(sc, managed)
        sc.check_auth()
        workflows.collect_versions(sc, workflows.consumption(managed), listed)   # Standard apps keep no versions
        runs.fetch_runs(sc, listed)
        sc.check_auth()
        triggers.collect_trigger_histories(sc, managed)
        sc.check_auth()
        runs.revisit_running(sc, managed, listed=found, in_scope=scope.holds)
        sc.check_auth()
        if bulk:
            logs_path.collect_log_analytics(scope, sc, bulk, credential)
            sc.check_auth()
        sink.flush()
        consumption = workflows.consumption(found)        # a Standard app's metrics are its site's
        if scope.metrics and consumption:
            metrics.collect_metrics(sc, consumption, batch_endpoint=scope.metrics_endpoint, credential=credential,
                                    max_attempts=scope.max_attempts, read_timeout=scope.read_timeout)
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
    result.watermark = sc.held_watermark()


def sync(source_config: Mapping[str, Any], store: "Store", *, since: dt.datetime | None = None,
         now: dt.datetime | None = None, max_parallel_scopes: int = 4) -> list[ScopeResult]:
    """Collect every scope of one `[[sources]]` entry; one result per scope."""
    from flowscope.collectors.scope_runs import sync_source

    return sync_source(CLOUD, scopes, collect_scope, source_config, store, since=since, now=now,
                       max_parallel_scopes=max_parallel_scopes)


__all__ = ["AzureScope", "SourceConfigError", "collect_scope", "scopes", "sync", "validate"]
