"""The Azure live collector: `sync(source_config, store, since=..., now=...)`, the one entry point.

One `[[sources]]` entry with `cloud = "azure"` names a subscription (optionally resource groups and
workflow name globs); it is one scope, collected on its own and recorded in its own collection_runs
row (status running first, so a killed sync leaves a trace).

Per scope (get -> transform -> load), one module per step, all on one `ScopeContext` (`context.py`):

1. `workflows.py`: the Consumption workflows and the Standard apps' workflows (`standard.py`: the
   sites of kind workflowapp and their deployment slots, and each app's or slot's App Service plan into
   its workflows' attributes), with definitions; the older revisions runs ran on (once). A slot's
   workflows are stored only: no documented API serves their runs, so the steps below leave them out.
2. `runs.py`: per workflow the runs of the window (watermark minus lag); for every run not already
   stored as terminal, its actions (with retryHistory), the repetitions of actions inside loops
   and the iterations of the loops themselves.
3. `triggers.py`: trigger histories (fired, and polls that fired nothing: both are billed).
4. `runs.py`: stored RUNNING runs revisited until terminal (one that no longer exists is marked,
   not retried forever). 4b. `logs_path.py`: with `workspace_id`, workflows without loops are read
   instead from the workspace's runtime log, one KQL query per time slice (`loganalytics.py`),
   read before step 2: a workspace that answers no query leaves them to the management path;
   `details.paths` says which path each workflow took and why; their runs stored RUNNING that no
   row of the window mentions are then revisited like the others.
5. `metrics.py`: Azure Monitor metrics, through ARM or, with `metrics_endpoint`, the batch API (a
   failure there is a warning, not a failed scope).

Everything goes unchanged to the pure transforms (`collectors/azure/transform`), through one
`StoreSink`; the watermark is the window's end held back to the oldest gap (`window.held_watermark`).
A workflow whose runs could not all be read does not hold it: it is remembered for the next sync
(`collectors/unread.py`), as a stopped Standard app is (`standard.unread_since`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowscope.collectors.azure.context import CLOUD, ScopeContext
from flowscope.collectors.azure.source import SOURCE_KEYS, AzureScope, scopes, validate
from flowscope.collectors.native import cleaned
from flowscope.collectors.sink import StoreSink, close_run_row, open_window
from flowscope.collectors.source_config import SourceConfigError
from flowscope.collectors.window import CollectWindow, ScopeResult, failure_entry
from flowscope.model import UTC

if TYPE_CHECKING:
    from flowscope.collectors.azure.clients import ArmClient
    from flowscope.store import Store

MAX_GONE_LISTED = 20


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
        result.errors.append(failure_entry(exc))
    finally:
        if client is not None:
            result.details["api"] = client.stats.as_dict()
            client.close()
    return close_run_row(store, result)


def _collect(scope: AzureScope, client: "ArmClient", store: "Store", result: ScopeResult,
             window: CollectWindow, now: dt.datetime, credential: Any) -> None:
    from flowscope.azure_ids import in_slot
    from flowscope.collectors import unread
    from flowscope.collectors.azure import logs_path, metrics, runs, standard, transform, triggers, workflows

    sink = StoreSink(store, result, transforms=transform, flush_every=scope.write_every)
    sc = ScopeContext(client=client, store=store, sink=sink, result=result, window=window, now=now,
                      concurrency=scope.concurrency, request_histories=scope.request_histories)
    try:
        # a deployment slot's workflows are stored, but no documented API serves their runs (standard._say_slots)
        found = {k: v for k, v in workflows.collect_workflows(scope, sc).items() if not in_slot(k)}
        unread.load(sc, found, keep=lambda workflow: standard.of_stopped_app(sc, workflow))   # an app stopped mid-sync
        bulk = logs_path.choose_paths(scope, sc, found)
        if bulk and not logs_path.collect_log_analytics(scope, sc, bulk, credential):
            bulk = {}               # the workspace answered nothing: the management path reads them
        managed = {k: v for k, v in found.items() if k not in bulk}
        listed = runs.list_runs(sc, managed, only_path=not bulk)
        sc.check_auth()
        workflows.collect_versions(sc, workflows.consumption(managed), listed)   # Standard apps keep no versions
        runs.fetch_runs(sc, listed)
        sc.check_auth()
        triggers.collect_trigger_histories(sc, managed)
        sc.check_auth()
        runs.revisit_running(sc, managed, listed=found, in_scope=scope.holds)
        sc.check_auth()
        if bulk:
            # a bulk run stored RUNNING that no log row of the window mentions: its completion was
            # logged too late for any window (ingestion delay), or lost; the management API says
            runs.revisit_running(sc, {k: found[k] for k in bulk})
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
    standard.record_unread(sc)
    unread.record(sc)
    if sc.unknown_statuses:
        result.details["unknown_statuses"] = dict(sorted(sc.unknown_statuses.items()))
        result.warn(f"unknown Logic Apps status(es) {cleaned(', '.join(sorted(sc.unknown_statuses)), 200)}: kept as "
                    "native_status, counted RUNNING without an end time and FAILED with one")
    result.finish()
    result.watermark = sc.held_watermark()


def sync(source_config: Mapping[str, Any], store: "Store", *, since: dt.datetime | None = None,
         now: dt.datetime | None = None, max_parallel_scopes: int = 4) -> list[ScopeResult]:
    """Collect every scope of one `[[sources]]` entry; one result per scope."""
    from flowscope.collectors.scope_runs import sync_source

    return sync_source(CLOUD, scopes, collect_scope, source_config, store, since=since, now=now,
                       max_parallel_scopes=max_parallel_scopes)


__all__ = ["SOURCE_KEYS", "AzureScope", "SourceConfigError", "collect_scope", "scopes", "sync", "validate"]
