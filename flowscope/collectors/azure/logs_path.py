"""Azure step 4b, the Log Analytics bulk path: which workflows take it, and their runs from the
workspace's runtime log (one KQL query per slice, `loganalytics.py` doing the I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowscope.collectors import unread
from flowscope.collectors.azure.context import CLOUD, TERMINAL, ScopeContext
from flowscope.collectors.window import CollectionError

if TYPE_CHECKING:
    from flowscope.collectors.azure.source import AzureScope


def choose_paths(scope: "AzureScope", sc: ScopeContext, workflows: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Which workflows take the bulk path (canonical id -> name); every choice and its reason in
    `details.paths`. Bulk needs a workspace and a definition without loops: the runtime log has no
    iteration index, so a loop's visits would collapse into one."""
    from flowscope.collectors.azure.loganalytics import queryable

    paths: dict[str, dict[str, str]] = {}
    bulk: dict[str, str] = {}
    for wf_id, doc in workflows.items():
        name = str(doc.get("name"))
        definition = sc.definitions.get(wf_id)
        if not scope.workspace_id:
            path, why = "management", "no workspace_id configured"
        elif wf_id.split("/providers/", 1)[-1].startswith("microsoft.web/"):
            path, why = "management", "Standard: its runtime log rows are not mapped to workflows in this version"
        elif not queryable(wf_id):
            # one id the query builder refuses would fail every slice of every bulk workflow
            path, why = "management", "its id holds characters not put into a KQL query (e.g. its resource group's)"
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


def collect_log_analytics(scope: "AzureScope", sc: ScopeContext, bulk: dict[str, str], credential: Any) -> bool:
    """Runs of the bulk workflows from the workspace, one KQL query per slice of the window (from
    the earliest a bulk workflow must be read from: `unread`); runs stored as finished are skipped;
    a slice still partial at the smallest size, or a failed query, is an error and the bulk
    workflows are read again from there by the next sync (`unread.mark`).

    False when the workspace answered no query at all (a role without workspaces/query/read, a
    wrong workspace id): nothing was taken from it, and the caller reads those workflows through
    the management API instead (the bulk path is a shortcut; left unread, their runs were never
    collected for as long as the workspace refused). Said in a warning and in `details.paths`."""
    from flowscope.collectors.azure import loganalytics as la
    from flowscope.collectors.azure.clients import CallStats
    from flowscope.collectors.azure.transform import FORMATS
    from flowscope.collectors.azure.transform.runtime_log import records_from_rows

    assert scope.workspace_id is not None
    stats = CallStats()
    client, options = la.make_logs_client(scope.logs_endpoint, credential, stats,
                                          retry_total=max(scope.max_attempts - 1, 0))
    bounds = [sc.lower_bound_for(wf) for wf in bulk]      # a workflow the last sync could not read: earlier
    start = (None if any(b is None for b in bounds) else min(b for b in bounds if b is not None)) \
        or (sc.now - la.DEFAULT_LOOKBACK)
    rows: list[dict[str, Any]] = []
    answered = False
    try:
        for outcome in la.query_window(client, options, scope.workspace_id, sorted(bulk), start, sc.now):
            answered = True
            sc.result.count("la_queries", outcome.queries)
            sc.result.count("la_rows", len(outcome.rows))
            for lo, _hi, message in outcome.failed:
                sc.result.record_error(CollectionError(message, operation="logs.query", code="PartialResult",
                                                       target=f"workspaces/{scope.workspace_id}"))
                for wf in bulk:         # read again by the next sync, the scope's watermark not held
                    unread.mark(sc, wf, lo)
            rows.extend(outcome.rows)
            if len(rows) >= 10 * scope.write_every:     # a few slices at a time: one store lookup for them
                _load_log_records(sc, FORMATS, records_from_rows(rows))
                rows = []
        _load_log_records(sc, FORMATS, records_from_rows(rows))
        sc.gap(sc.now - la.INGESTION_DELAY)       # events of the last minutes may not be queryable yet
    except Exception as exc:
        if getattr(exc, "status_code", None) == 401:
            raise CollectionError("authentication failed (HTTP 401) on the Log Analytics query API: the token "
                                  "expired or is not valid for it", operation="logs.query", code="Unauthorized",
                                  target=f"workspaces/{scope.workspace_id}") from None
        if not answered:
            _to_management(scope, sc, bulk, exc)
            return False
        sc.failed(exc, "logs.query", f"workspaces/{scope.workspace_id}", gap=False)
        for wf in bulk:
            unread.mark(sc, wf, sc.lower_bound_for(wf))
    finally:
        sc.result.details["logs_api"] = stats.as_dict()
        client.close()
    return True


def _to_management(scope: "AzureScope", sc: ScopeContext, bulk: dict[str, str], exc: BaseException) -> None:
    """The workspace answered no query: its workflows are read through the management API; said."""
    from flowscope.collectors.window import as_collection_error

    why = as_collection_error(exc, "logs.query", f"workspaces/{scope.workspace_id}")
    sc.result.warn(f"Log Analytics workspace {scope.workspace_id} could not be queried ({why}); its "
                   f"{len(bulk)} workflow(s) were read through the management API instead")
    paths = sc.result.details.get("paths") or {}
    for name in bulk.values():
        paths[name] = {"path": "management", "why": f"workspace {scope.workspace_id} could not be queried"}
    sc.result.details["path"] = "management"


def _load_log_records(sc: ScopeContext, formats: Mapping[str, Any], records: list[dict[str, Any]]) -> None:
    """Queue the records of a few slices, but those of runs already stored as finished."""
    from flowscope.collectors.azure.transform import canonical_execution_id

    owners: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        owner = canonical_execution_id(record["id"]) if "/runs/" in record["id"] else record["id"].lower()
        owners.setdefault(owner or "", []).append(record)
    run_ids = [o for o in owners if "/runs/" in o]
    with sc.lock:
        sc.seen.update(run_ids)          # the log tells about them: not revisited through the management API
    stored = sc.store.existing_execution_ids(CLOUD, run_ids) or {}
    keep = [r for owner, recs in owners.items() if stored.get(owner) not in TERMINAL for r in recs]
    fresh = [o for o in run_ids if stored.get(o) not in TERMINAL]
    sc.result.count("runs_skipped_terminal", len(run_ids) - len(fresh))
    sc.result.count("runs_from_logs", len(fresh))
    if keep:
        from flowscope.collectors.azure.runs import count_unknown_statuses

        count_unknown_statuses(sc, keep)
        batch = formats["azure.runs"]({"value": keep}, sc.ctx("logs.query"))
        sc.sink.add(batch, absent=[(CLOUD, o) for o in fresh if o not in stored])

