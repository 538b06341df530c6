"""Workflow runtime log rows (the `LogicAppWorkflowRuntime` / `AzureDiagnostics` columns the Log
Analytics path queries, `loganalytics.COLUMNS`) -> management-API records (runs, actions, trigger
histories), which `documents.transform` reads like any other.

Pure: the live Log Analytics path and `flowscope import` of diagnostic-setting archives
(`diagnostic_logs.py`) both come here, so a run reads the same whichever way it arrived.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from flowscope.collectors.native import error_text


def _time(value: Any) -> Any:
    """A time as the transforms read it: LogsQueryClient's aware datetime as is (no round trip
    through text), a naive one as UTC, text unchanged, empty as None."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return value if value not in (None, "") else None


def _op(row: Mapping[str, Any]) -> str:
    """`workflowrunstarted`, `workflowactioncompleted`, ... (the last part of OperationName)."""
    name = str(row.get("OperationName") or "")
    return name[name.rfind("/") + 1:].lower()


def _props(row: Mapping[str, Any], completed: bool) -> dict[str, Any]:
    props: dict[str, Any] = {"startTime": _time(row.get("StartTime"))}
    if row.get("Status"):
        props["status"] = row["Status"]
    end = _time(row.get("EndTime")) if completed else None
    if end is not None:
        props["endTime"] = end
    code = row.get("Code")
    if code:
        props["code"] = str(code)
    if row.get("Error"):
        props["error"] = {"code": str(code or ""), "message": error_text(row["Error"])}
    return props


def records_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Management-API records (runs, actions, trigger histories) from workflow runtime log rows.

    A Completed event supersedes a Started one of the same run, action or trigger."""
    runs: dict[str, dict[str, Any]] = {}
    actions: dict[str, dict[str, Any]] = {}
    triggers: dict[str, dict[str, Any]] = {}
    names: dict[tuple[str, str], str] = {}
    for row in rows:
        resource, run = row.get("ResourceId"), row.get("RunId")
        if not resource or not run:
            continue
        key = (str(resource), str(row.get("WorkflowName") or ""))
        wf = names.get(key)
        if wf is None:
            wf = names[key] = _workflow_id(row)
        op = _op(row)
        completed = op.endswith("completed")
        run_id = f"{wf}/runs/{run}"
        if op.startswith("workflowrun"):
            current = runs.get(run_id)
            if current is None or (completed and "endTime" not in current["properties"]):
                runs[run_id] = {"id": run_id, "name": str(run), "type": "Microsoft.Logic/workflows/runs",
                                "properties": _props(row, completed)}
        elif op.startswith("workflowaction") and row.get("ActionName"):
            action_id = f"{run_id}/actions/{row['ActionName']}"
            current = actions.get(action_id)
            if current is None or (completed and "endTime" not in current["properties"]):
                props = _props(row, completed)
                retries = _retry_history(row.get("RetryHistory"))
                if retries:
                    props["retryHistory"] = retries
                actions[action_id] = {"id": action_id, "name": row["ActionName"],
                                      "type": "Microsoft.Logic/workflows/runs/actions", "properties": props}
        elif op.startswith("workflowtrigger") and row.get("TriggerName"):
            current = triggers.get(run_id)
            if current is None or (completed and "endTime" not in current["properties"]):
                triggers[run_id] = {"name": row["TriggerName"], "workflow": wf, "run": str(run),
                                    "properties": _props(row, completed)}
    out: list[dict[str, Any]] = list(runs.values())
    for run_id, trigger in triggers.items():
        if run_id in runs:
            runs[run_id]["properties"]["trigger"] = {"name": trigger["name"], **trigger["properties"]}
        else:          # a poll that started no run: billed too
            out.append({"id": f"{trigger['workflow']}/triggers/{trigger['name']}/histories/{trigger['run']}",
                        "name": trigger["run"], "type": "Microsoft.Logic/workflows/triggers/histories",
                        "properties": {**trigger["properties"], "fired": False}})
    out.extend(actions.values())
    return out


def _workflow_id(row: Mapping[str, Any]) -> str:
    """The row's workflow id, its last segment spelled as `WorkflowName` (the query lower-cases ids,
    and display names keep their case)."""
    wf = str(row.get("ResourceId") or "")
    name = str(row.get("WorkflowName") or "")
    if name and wf.lower().endswith("/" + name.lower()):
        return wf[: len(wf) - len(name)] + name
    return wf


def _retry_history(value: Any) -> list[dict[str, Any]] | None:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):     # no JSON, or nested too deeply to read: tries unknown
            return None
        return [v for v in parsed if isinstance(v, dict)] if isinstance(parsed, list) else None
    return None
