"""`gcp.log_entries`: Cloud Logging LogEntry JSON (a list, or ``{"entries": [...]}``) of
``workflows.googleapis.com/Workflow`` resources: executions system logs (ExecutionsSystemLog)
rebuild executions, call logs (EngineCallLog, `call_logs`) rebuild call steps."""

from __future__ import annotations

from typing import Any, cast

from flowscope.collectors.gcp.transform.call_logs import CallLogs, Stamps
from flowscope.collectors.gcp.transform.errors import error_and_cause
from flowscope.collectors.gcp.transform.names import parse_name, workflow_id
from flowscope.collectors.gcp.transform.records import (
    CLOUD,
    EXECUTION_STATUS,
    KIND,
    count_unknown,
    records_of,
)
from flowscope.collectors.native import END_WITHOUT_START, ImportContext, NativeFormatError, Row, text_field
from flowscope.model import Batch, C, Skip, Status, duration_ms, payload_size_and_hash

WORKFLOW_RESOURCE_TYPE = "workflows.googleapis.com/Workflow"
EXECUTION_ID_LABEL = "workflows.googleapis.com/execution_id"

_SYSTEM_FIELDS = ("start", "success", "failure")
_CALL_FIELDS = ("callee", "begun", "succeeded", "exceptionRaised", "exceptionHandled")


NO_START_OR_END = "execution logged without its start or end"
RUN_SKIPS = (NO_START_OR_END, END_WITHOUT_START)
"""Skips of a run as its system logs tell it (not of an entry): where the runs are the Executions API's (the live
collector's call logs), nothing of a run is read from the logs, and a time slice cutting a run's start off is no
fault of any entry."""


def transform_log_entries(doc: Any, ctx: ImportContext) -> Batch:
    """Cloud Logging entries -> executions (system logs) and call steps (call logs).

    Call steps have no entry id: their step_key is ``<step>@<call start time>``, which both the
    BEGUN record (its activityTime) and the record ending the call (callStartTime) carry, so
    the two halves meet even when they come from different files. Calls cannot be told apart
    from retries in call logs, so each call is its own step with one attempt.
    """
    batch = Batch()
    if isinstance(doc, dict) and "entries" in doc:
        items, where = records_of(doc, "entries", ctx, "gcp.log_entries")
    elif isinstance(doc, list):
        items, where = doc, "$"
    elif isinstance(doc, dict):
        items, where = [doc], "$"
    else:
        raise NativeFormatError(ctx.source_name, "$", "gcp.log_entries: expected a list of log entries")
    _refuse_without_workflows_entries(items, where, ctx)
    runs: dict[str, dict[str, Any]] = {}
    calls = CallLogs()
    for i, entry in enumerate(items):
        try:
            problem = _log_entry(entry, batch, runs, calls)
        except (ValueError, TypeError, AttributeError) as exc:
            problem = f"bad log entry: {exc}"
        if problem:
            batch.skips.append(Skip(ctx.source_name, f"{where}[{i}]" if where != "$" else f"[{i}]", problem))
    for exec_id, run in runs.items():
        if run.get("started") is None:
            if run.get("ended") is None:
                batch.skips.append(Skip(ctx.source_name, exec_id, NO_START_OR_END))
                continue
            batch.skips.append(Skip(ctx.source_name, exec_id, END_WITHOUT_START))
        batch.executions.append(_execution_from_logs(exec_id, run, ctx))
    batch.steps.extend(calls.steps_rows())
    batch.attempts.extend(calls.attempts_rows())
    return batch


def _refuse_without_workflows_entries(items: list[Any], where: str, ctx: ImportContext) -> None:
    """NativeFormatError naming the file when none of its records is a Workflows log entry (what
    detection asks of the format). Another cloud's records forced as `gcp.log_entries` were each
    counted as an unknown resource type, and the import said "0 record(s) skipped"."""
    if not items or any(is_workflows_entry(entry) for entry in items):
        return
    raise NativeFormatError(ctx.source_name, where, f"gcp.log_entries: none of its {len(items)} record(s) is a "
                            f"Cloud Logging entry of a Workflows resource (resource.type {WORKFLOW_RESOURCE_TYPE})")


def is_workflows_entry(entry: Any) -> bool:
    """Whether a record is a Cloud Logging entry of a Workflows resource: what detection reads a list of log
    entries by, and what the format refuses a file without."""
    resource = entry.get("resource") if isinstance(entry, dict) else None
    return isinstance(resource, dict) and resource.get("type") == WORKFLOW_RESOURCE_TYPE


def _not_workflows_entry(resource: Any) -> str:
    """Why an object whose `resource` is not a Workflows one is no Workflows log entry (a stray JSON object,
    another service's entry): a skip with its line. Counted among the unknown types, it read as a Workflows
    entry of a kind not read, and the import named neither its file nor its line."""
    if resource is not None and not isinstance(resource, dict):
        return f"not a Workflows log entry (resource is {type(resource).__name__}, not an object)"
    kind = resource.get("type") if resource is not None else None
    if kind is None:
        return "not a Workflows log entry (no resource.type)"
    return f"not a Workflows log entry (resource.type {str(kind)[:80]!r})"


def _log_entry(entry: Any, batch: Batch, runs: dict, calls: CallLogs) -> str | None:
    if not isinstance(entry, dict):
        return "log entry is not an object"
    resource = entry.get("resource")
    if not isinstance(resource, dict) or resource.get("type") != WORKFLOW_RESOURCE_TYPE:
        return _not_workflows_entry(resource)
    labels = resource.get("labels") or {}
    payload = entry.get("jsonPayload")
    if payload is None:
        payload = entry.get("protoPayload")
    if not isinstance(payload, dict):
        count_unknown(batch, "log.payload:none")
        return None
    project, location, workflow = labels.get("project_id"), labels.get("location"), labels.get("workflow_id")
    short = (entry.get("labels") or {}).get(EXECUTION_ID_LABEL) or payload.get("executionId")
    if not (project and location and workflow and short):
        return "log entry without project_id / location / workflow_id / execution id"
    wf_id = workflow_id(project, location, workflow)
    exec_id = f"{wf_id}/executions/{short}"         # names.execution_id, its workflow part built once
    kind = str(payload.get("@type", ""))
    if kind.endswith("EngineCallLog"):          # the bulk of them: tested first (the suffixes exclude each other)
        return calls.read(payload, exec_id, wf_id, batch)
    if kind.endswith("ExecutionsSystemLog") or (not kind and any(f in payload for f in _SYSTEM_FIELDS)):
        return _system_log(payload, entry, exec_id, runs, calls.stamps)
    if not kind and any(f in payload for f in _CALL_FIELDS):
        return calls.read(payload, exec_id, wf_id, batch)
    count_unknown(batch, f"log.payload:{kind or ','.join(sorted(payload)) or 'empty'}")
    return None


def _system_log(payload: dict, entry: dict, exec_id: str, runs: dict, stamps: Stamps) -> str | None:
    when = stamps.time(payload.get("activityTime")) or stamps.time(entry.get("timestamp"))
    if when is None:
        return "system log without activityTime"
    run = runs.setdefault(exec_id, {})
    state = text_field(payload, "state")
    if "start" in payload:
        run["started"] = when
        run["argument"] = (payload.get("start") or {}).get("argument")
        run.setdefault("state", state or "ACTIVE")
    if "success" in payload:
        run["ended"], run["state"] = when, "SUCCEEDED"
        run["result"] = (payload.get("success") or {}).get("result")
    elif "failure" in payload:
        failure = payload.get("failure") or {}
        run["ended"], run["state"] = when, "FAILED"
        run["error"], run["cause"] = error_and_cause(failure.get("exception"), failure.get("source"))
    elif state == "CANCELLED":
        run["ended"], run["state"] = when, state
    elif state and "start" not in payload and run.get("ended") is None:
        run["state"] = state
    return None


def _execution_from_logs(exec_id: str, run: dict, ctx: ImportContext) -> Row:
    parts = cast(dict[str, str], parse_name(exec_id))     # built by `execution_id`
    state = run.get("state") or "ACTIVE"
    started, ended = run.get("started"), run.get("ended")
    in_bytes, in_sha = payload_size_and_hash(run.get("argument"))
    out_bytes, _ = payload_size_and_hash(run.get("result"))
    return {
        C.cloud: CLOUD, C.account: parts["p"], C.region: parts["l"],
        C.workflow_id: workflow_id(parts["p"], parts["l"], parts["w"]), C.workflow_name: parts["w"],
        C.kind: KIND, C.revision: None, C.execution_id: exec_id, C.name: parts["e"],
        C.status: EXECUTION_STATUS.get(state, Status.RUNNING).value, C.native_status: state,
        C.started_at: started, C.ended_at: ended, C.duration_ms: duration_ms(started, ended),
        C.error: run.get("error"), C.cause: run.get("cause"),
        C.redrive_count: None, C.parent_execution_id: None, C.billed_duration_ms: None,
        C.billed_memory_mb: None, C.input_bytes: in_bytes, C.output_bytes: out_bytes,
        C.input_sha256: in_sha, C.event_count: None, C.attributes: None,
        C.source: ctx.source.value, C.collected_at: ctx.seen_at,
        C.start_date: started.date() if started is not None else None,
    }

