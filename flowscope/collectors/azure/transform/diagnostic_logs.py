"""Logic Apps workflow runtime events as a diagnostic setting archives them -> model rows.

A diagnostic setting that sends the `WorkflowRuntime` category to a storage account writes
`insights-logs-workflowruntime/resourceId=.../y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`: one JSON record
per line (`{"time", "workflowId", "resourceId", "category", "operationName", "properties": {"startTime",
"endTime", "status", "code", "error", "resource": {"workflowName", "runId", "actionName" |
"triggerName", ...}, "correlation", ...}}`); an Event Hub, and blobs written before November 2018,
hold the same records as `{"records": [...]}`. These are the events Log Analytics stores as
`LogicAppWorkflowRuntime` / `AzureDiagnostics` rows, so each record becomes such a row
(`loganalytics.COLUMNS`) and goes through the Log Analytics path's own rule
(`runtime_log.records_from_rows`): a run imported from the archive reads as the same run synced live.

What the log does not carry stays empty, as on the live path: it has no loop iteration index, so an
action logged more than once in one run (a loop's iterations) is one visit, and the import says how
many were folded. A Logic Apps Standard app's records name the app (the site), not the workflow:
`properties.resource.workflowName` places them under `<site>/workflows/<name>`, the id the
management API's records of that workflow get (`ids.ArmId`); one without a workflowName is a
counted skip.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from flowscope.collectors.azure.transform.runtime_log import records_from_rows
from flowscope.collectors.native import ImportContext, NativeFormatError, cleaned, text_field
from flowscope.model import Skip

FORMAT = "azure.diagnostic_logs"
CATEGORY = "workflowruntime"
OPERATION_PREFIX = "microsoft.logic/workflows/"


def is_runtime_record(rec: Any) -> bool:
    """A Logic Apps workflow runtime event as a diagnostic setting writes it."""
    return (isinstance(rec, dict) and str(rec.get("category") or "").lower() == CATEGORY
            and str(rec.get("operationName") or "").lower().startswith(OPERATION_PREFIX))


def records_of(doc: Any) -> tuple[list[Any], str] | None:
    """The archive's records and the key their index goes under (`records[3]`, or `[3]` in a JSON
    Lines file), or None when the document is not an archive of runtime events."""
    if isinstance(doc, dict) and isinstance(doc.get("records"), list):
        records, key = doc["records"], "records"
    elif isinstance(doc, list):
        records, key = doc, ""
    elif isinstance(doc, dict):
        records, key = [doc], ""
    else:
        return None
    return (records, key) if any(is_runtime_record(r) for r in records[:50]) else None


def read(doc: Any, ctx: ImportContext) -> tuple[list[dict[str, Any]], list[Skip], list[str]]:
    """The management-API records (runs, actions, trigger histories) an archive's events describe, the
    records that could not be read (skips, located `records[i]` or `[i]`), and what must be said."""
    found = records_of(doc)
    if found is None:
        raise NativeFormatError(ctx.source_name, "$", "not an archive of Logic Apps WorkflowRuntime events")
    records, key = found
    rows: list[dict[str, Any]] = []
    skips: list[Skip] = []
    for i, rec in enumerate(records):
        why = _unusable(rec)
        if why is None:
            try:
                rows.append(row_of(rec))
                continue
            except ValueError as exc:       # a text field holding a number, list or object
                why = str(exc)
        skips.append(Skip(ctx.source_name, f"{key}[{i}]", f"{FORMAT}: {why}"))
    warnings = []
    folded = _folded_repeats(rows)
    if folded:
        warnings.append(
            f"{ctx.source_name}: {folded} action event(s) repeat an action already logged in the same run "
            "(a loop's iterations): the runtime log has no iteration index, so each such action is one "
            "visit; import the runs' action repetitions (management API) for their iterations")
    return records_from_rows(rows), skips, warnings


def row_of(rec: dict[str, Any]) -> dict[str, Any]:
    """One archived record as the Log Analytics row the live path reads (`loganalytics.COLUMNS`).
    A text field holding a number, list or object raises ValueError naming it (`native.text_field`)."""
    props = rec["properties"]
    resource = props["resource"]
    error: Any = props.get("error")
    if isinstance(error, dict):
        error = text_field(error, "message") or text_field(error, "code")
    elif error is not None and not isinstance(error, str):
        raise ValueError(f"error is {type(error).__name__}, not text")
    return {
        "ResourceId": _workflow_resource(rec, resource).lower(),
        "WorkflowName": text_field(resource, "workflowName") or "",
        "RunId": text_field(resource, "runId") or "",
        "ActionName": text_field(resource, "actionName") or "",
        "TriggerName": text_field(resource, "triggerName") or "",
        "OperationName": text_field(rec, "operationName") or "",
        "Status": text_field(props, "status") or "",
        "StartTime": text_field(props, "startTime"),
        "EndTime": text_field(props, "endTime"),
        "Code": text_field(props, "code") or "",
        "Error": error or "",
        "RetryHistory": props.get("retryHistory"),
        "TimeGenerated": text_field(rec, "time"),
    }


def _unusable(rec: Any) -> str | None:
    """Why a record of the archive cannot become a row (None: it can)."""
    if not isinstance(rec, dict):
        return f"not a record ({type(rec).__name__})"
    if not is_runtime_record(rec):
        return f"not a Logic Apps WorkflowRuntime event (category {cleaned(str(rec.get('category')), 40)!r})"
    props = rec.get("properties")
    resource = props.get("resource") if isinstance(props, dict) else None
    if not isinstance(resource, dict) or not resource.get("runId"):
        return "no properties.resource.runId"
    where = _workflow_resource(rec, resource).lower()
    if "/providers/microsoft.web/sites/" in where:
        if "/workflows/" not in where:
            return ("a Logic Apps Standard app's event without properties.resource.workflowName: "
                    "which of the app's workflows ran is not said")
        return None
    if "/providers/microsoft.logic/workflows/" not in where:
        return "no workflow resource id (workflowId or resourceId)"
    return None


def _workflow_resource(rec: dict[str, Any], resource: dict[str, Any]) -> str:
    """The workflow's resource id: `workflowId`, else `resourceId` cut after the workflow's name (an
    action's event names .../RUNS/<run>/ACTIONS/<action>). A Standard app's event names the app
    (`.../MICROSOFT.WEB/SITES/<app>`): its workflow is `<app>/workflows/<resource.workflowName>`."""
    wf = rec.get("workflowId")
    if isinstance(wf, str) and wf:
        rid = wf
    else:
        found = rec.get("resourceId")
        rid = found if isinstance(found, str) else ""
    parts = rid.split("/")
    lowered = [p.lower() for p in parts]
    if "workflows" in lowered:
        at = lowered.index("workflows")
        return "/".join(parts[: at + 2])
    if "sites" in lowered and "microsoft.web" in lowered:
        name = resource.get("workflowName")
        if isinstance(name, str) and name.strip("/"):
            at = lowered.index("sites")
            return "/".join([*parts[: at + 2], "workflows", name.strip("/").rsplit("/", 1)[-1]])
    return rid


def _folded_repeats(rows: list[dict[str, Any]]) -> int:
    """Completed action events beyond the first of the same action in the same run."""
    seen = Counter((r["ResourceId"], r["RunId"], r["ActionName"]) for r in rows
                   if r["ActionName"] and r["OperationName"].lower().endswith("workflowactioncompleted"))
    return sum(n - 1 for n in seen.values() if n > 1)
