"""Pure transforms: Google Cloud Workflows REST JSON and Cloud Logging entries -> model rows.

Formats (see `FORMATS`, `detect`):

- ``gcp.workflow``: a Workflow resource, or ``{"workflows": [...]}`` (ListWorkflows /
  ListWorkflowRevisions) -> workflows rows.
- ``gcp.executions``: an Execution, or ``{"executions": [...], "nextPageToken": ...}`` ->
  executions rows.
- ``gcp.step_entries``: a StepEntry, or ``{"stepEntries": [...]}`` -> steps and attempts rows.
  Rows link through the resource names the entries carry, so entries of one execution may
  arrive across pages, files and imports in any order: `assemble` settles them.
- ``gcp.log_entries``: Cloud Logging LogEntry JSON (a list, or ``{"entries": [...]}``) of
  ``workflows.googleapis.com/Workflow`` resources: executions system logs
  (ExecutionsSystemLog) rebuild executions, call logs (EngineCallLog) rebuild call steps.

Ids are resource names: ``workflow_id`` is ``projects/P/locations/L/workflows/W``,
``execution_id`` is ``.../executions/E``, ``step_key`` is the step entry's ``entryId``.
Payloads (argument, result, variableData, call arguments and responses) are never stored:
only the sizes and SHA-256 of argument and result.

Billing (`assemble`) follows https://cloud.google.com/workflows/pricing, see `BILLED_NATIVE_TYPES`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from flowscope.collectors.assemble import merge_rows
from flowscope.collectors.gcp.definition import (
    UNKNOWN_RESOURCE,
    UNRESOLVED_HOST,
    Definition,
    DefinitionError,
    call_is_external,
    call_resource,
    definition_problem,
    parse_definition,
    resource_is_wait,
)
from flowscope.collectors.native import (
    FormatHandler,
    ImportContext,
    NativeFormatError,
    Row,
)
from flowscope.model import (
    MAX_DEFINITION_CHARS,
    TERMINAL_STATUSES,
    WORK_STEP_TYPES,
    Batch,
    C,
    Cloud,
    Kind,
    Meter,
    Skip,
    Status,
    StepType,
    duration_ms,
    payload_size_and_hash,
    truncate,
    utc,
)

CLOUD = Cloud.GCP.value
KIND = Kind.GCP_WORKFLOWS.value
DEFINITION_FORMAT = "gcp-yaml"
CALL_LOG_NATIVE_TYPE = "call_log"
"""`steps.native_type` of call steps rebuilt from EngineCallLog records (they carry no step type)."""
WORKFLOW_RESOURCE_TYPE = "workflows.googleapis.com/Workflow"
EXECUTION_ID_LABEL = "workflows.googleapis.com/execution_id"

_NAME_RE = re.compile(
    r"^projects/(?P<p>[^/]+)/locations/(?P<l>[^/]+)/workflows/(?P<w>[^/]+)"
    r"(?:/executions/(?P<e>[^/]+)(?:/stepEntries/(?P<s>[^/]+))?)?$"
)

EXECUTION_STATUS = {
    "ACTIVE": Status.RUNNING,
    "QUEUED": Status.RUNNING,
    "SUCCEEDED": Status.SUCCEEDED,
    "FAILED": Status.FAILED,
    "CANCELLED": Status.ABORTED,
    "UNAVAILABLE": Status.FAILED,   # data unavailable (stateError, e.g. KMS): native_status keeps the word
}
STEP_STATUS = {
    "STATE_IN_PROGRESS": Status.RUNNING,
    "STATE_SUCCEEDED": Status.SUCCEEDED,
    "STATE_FAILED": Status.FAILED,
    "STATE_CANCELLED": Status.ABORTED,
}
CALL_NATIVE_TYPES = frozenset({
    "STEP_CALL", "STEP_STD_LIB_CALL", "STEP_CONNECTOR_CALL", "STEP_SUBWORKFLOW_CALL", CALL_LOG_NATIVE_TYPE,
})
STEP_TYPES: dict[str, StepType] = {
    "STEP_TYPE_UNSPECIFIED": StepType.OTHER,
    "STEP_ASSIGN": StepType.PASS,
    "STEP_STD_LIB_CALL": StepType.TASK,
    "STEP_CONNECTOR_CALL": StepType.TASK,
    "STEP_SUBWORKFLOW_CALL": StepType.TASK,
    "STEP_CALL": StepType.TASK,
    CALL_LOG_NATIVE_TYPE: StepType.TASK,
    "STEP_SWITCH": StepType.CHOICE,
    "STEP_CONDITION": StepType.CHOICE,
    "STEP_FOR": StepType.LOOP,
    "STEP_FOR_ITERATION": StepType.LOOP,
    "STEP_PARALLEL_FOR": StepType.MAP,
    "STEP_PARALLEL_BRANCH": StepType.PARALLEL,
    "STEP_PARALLEL_BRANCH_ENTRY": StepType.PARALLEL,
    "STEP_TRY_RETRY_EXCEPT": StepType.SCOPE,
    "STEP_TRY": StepType.SCOPE,
    "STEP_RETRY": StepType.SCOPE,
    "STEP_EXCEPT": StepType.SCOPE,
    "STEP_RETURN": StepType.RETURN,
    "STEP_RAISE": StepType.FAIL,
    "STEP_GOTO": StepType.OTHER,
}
BILLED_NATIVE_TYPES = frozenset({
    "STEP_TYPE_UNSPECIFIED",
    "STEP_ASSIGN", "STEP_STD_LIB_CALL", "STEP_CONNECTOR_CALL", "STEP_SUBWORKFLOW_CALL", "STEP_CALL",
    CALL_LOG_NATIVE_TYPE, "STEP_SWITCH", "STEP_FOR", "STEP_PARALLEL_FOR", "STEP_RETURN", "STEP_RAISE",
    "STEP_GOTO",
})
"""Step entry types that are billable steps.

The pricing page bills every executed step, successful or failed, and every retry attempt;
a billable step is an *operation*: an assignment (each variable assigned counts, so an
``assign`` of three variables is three billable steps when the definition is known, one
otherwise), a call (HTTP request, standard library incl. ``sys.sleep``, connector,
subworkflow: one per attempt), a condition evaluation (``switch``), and the named steps that
evaluate an expression to drive control flow (``for`` / parallel ``for`` over ``in`` or
``range``, ``return``, ``raise``, a ``next``-only jump). Step entries that only open a block
are not billed, their inner steps are: ``STEP_FOR_ITERATION`` (each iteration's steps are
billed, not the iteration), ``STEP_PARALLEL_BRANCH`` / ``_ENTRY``, ``STEP_TRY_RETRY_EXCEPT`` /
``STEP_TRY`` / ``STEP_RETRY`` / ``STEP_EXCEPT`` and ``STEP_CONDITION`` (its evaluation is the
switch's). A step type flowscope does not know is billed (the pricing page bills any executed
step). Every entry is billed whatever its outcome: an entry exists only once the engine ran it.
Connector polling of long-running operations is billed by Google but not visible in step
entries, so it is not counted.
"""
_TYPE_VALUES = {k: v.value for k, v in STEP_TYPES.items()}
_OTHER = StepType.OTHER.value
_STATUS_VALUES = {s: s.value for s in Status}
ITERATION_PROGRESS = frozenset({"PROGRESS_TYPE_FOR", "PROGRESS_TYPE_PARALLEL_FOR", "PROGRESS_TYPE_PARALLEL_BRANCH"})
RETRY_PROGRESS = "PROGRESS_TYPE_RETRY"


# ---------------------------------------------------------------- names and small helpers

def parse_name(name: Any) -> dict[str, str] | None:
    """Split a Workflows resource name into project, location, workflow, execution, entry."""
    if not isinstance(name, str):
        return None
    m = _NAME_RE.match(name)
    return m.groupdict() if m else None


def workflow_id(project: str, location: str, workflow: str) -> str:
    return f"projects/{project}/locations/{location}/workflows/{workflow}"


def execution_id(project: str, location: str, workflow: str, execution: str) -> str:
    return f"{workflow_id(project, location, workflow)}/executions/{execution}"


def _region_of(wf_id: str | None) -> str | None:
    parts = parse_name(wf_id.split("/executions/", 1)[0]) if wf_id else None
    return parts["l"] if parts else None


_UTC = dt.timezone.utc


def ts(value: Any) -> dt.datetime | None:
    """`utc` with a fast path for the API's own shape, ``2026-11-01T10:00:00.123456789Z``."""
    if isinstance(value, str) and len(value) == 30 and value[19] == "." and value[29] == "Z":
        try:
            return dt.datetime(int(value[0:4]), int(value[5:7]), int(value[8:10]), int(value[11:13]),
                               int(value[14:16]), int(value[17:19]), int(value[20:26]), _UTC)
        except ValueError:
            pass
    return utc(value)


def _seconds_ms(text: Any) -> int | None:
    """google-duration ("3.5s") -> milliseconds."""
    if isinstance(text, str) and text.endswith("s"):
        try:
            return int(round(float(text[:-1]) * 1000))
        except ValueError:
            return None
    return None


def _json_attrs(values: dict[str, Any]) -> str | None:
    kept = {k: v for k, v in values.items() if v not in (None, "", [], {})}
    return json.dumps(kept, sort_keys=True) if kept else None


def _records(doc: Any, key: str, ctx: ImportContext, fmt: str) -> tuple[list[Any], str]:
    """The list of records of a list response, or the single resource itself."""
    if isinstance(doc, dict) and key in doc:
        items = doc[key]
        if items is None:
            return [], key
        if not isinstance(items, list):
            raise NativeFormatError(ctx.source_name, key, f"{fmt}: `{key}` is not a list")
        return items, key
    if isinstance(doc, dict):
        return [doc], "$"
    if isinstance(doc, list):
        return doc, "$"
    raise NativeFormatError(ctx.source_name, "$", f"{fmt}: expected a JSON object, got {type(doc).__name__}")


def _count(batch: Batch, key: str) -> None:
    batch.unknown_event_types[key] = batch.unknown_event_types.get(key, 0) + 1


# ---------------------------------------------------------------- gcp.workflow

def transform_workflows(doc: Any, ctx: ImportContext) -> Batch:
    """Workflow resources -> workflows rows (one per revision seen)."""
    batch = Batch()
    items, where = _records(doc, "workflows", ctx, "gcp.workflow")
    for i, wf in enumerate(items):
        loc = f"{where}[{i}]" if where != "$" else "$"
        if not isinstance(wf, dict):
            batch.skips.append(Skip(ctx.source_name, loc, "workflow is not an object"))
            continue
        parts = parse_name(wf.get("name"))
        if not parts or parts["e"]:
            batch.skips.append(Skip(ctx.source_name, loc, f"not a workflow resource name: {wf.get('name')!r}"))
            continue
        revision = wf.get("revisionId")
        if not revision:
            batch.skips.append(Skip(ctx.source_name, loc, "workflow without revisionId"))
            continue
        source = wf.get("sourceContents")
        too_big = isinstance(source, str) and len(source) > MAX_DEFINITION_CHARS
        problem = definition_problem(source) if isinstance(source, str) and not too_big else None
        if problem:
            batch.warnings.append(
                f"{ctx.source_name}: workflow {parts['w']} ({wf.get('name')}, revision {revision}): "
                f"its source could not be parsed ({problem}); its call steps are billed as external "
                "steps (an upper bound) until a readable revision is imported")
        seen = ctx.seen_at or utc(wf.get("revisionCreateTime")) or utc(wf.get("updateTime")) or utc(wf.get("createTime"))
        if seen is None:
            batch.skips.append(Skip(ctx.source_name, loc, "no time to date the revision (seen_at)"))
            continue
        batch.workflows.append({
            C.cloud: CLOUD,
            C.account: parts["p"],
            C.region: parts["l"],
            C.workflow_id: workflow_id(parts["p"], parts["l"], parts["w"]),
            C.name: parts["w"],
            C.kind: KIND,
            C.revision: str(revision),
            C.definition: None if too_big else source,
            C.definition_format: DEFINITION_FORMAT if source is not None else None,
            C.attributes: _json_attrs({
                "state": wf.get("state"),
                "description": wf.get("description"),
                "callLogLevel": wf.get("callLogLevel"),
                "executionHistoryLevel": wf.get("executionHistoryLevel"),
                "serviceAccount": wf.get("serviceAccount"),
                "revisionCreateTime": wf.get("revisionCreateTime"),
                "labels": wf.get("labels"),
                "definitionTooLarge": too_big or None,
            }),
            C.seen_at: seen,
        })
    return batch


# ---------------------------------------------------------------- gcp.executions

def transform_executions(doc: Any, ctx: ImportContext) -> Batch:
    """Execution resources -> executions rows (payloads reduced to size and hash)."""
    batch = Batch()
    items, where = _records(doc, "executions", ctx, "gcp.executions")
    for i, ex in enumerate(items):
        loc = f"{where}[{i}]" if where != "$" else "$"
        try:
            row = _execution_row(ex, ctx)
        except (ValueError, TypeError, AttributeError) as exc:
            batch.skips.append(Skip(ctx.source_name, loc, f"bad execution: {exc}"))
            continue
        if isinstance(row, str):
            batch.skips.append(Skip(ctx.source_name, loc, row))
            continue
        if row[C.native_status] not in EXECUTION_STATUS:
            _count(batch, f"execution.state:{row[C.native_status]}")
        batch.executions.append(row)
    return batch


def _execution_row(ex: Any, ctx: ImportContext) -> Row | str:
    if not isinstance(ex, dict):
        return "execution is not an object"
    parts = parse_name(ex.get("name"))
    if not parts or not parts["e"] or parts["s"]:
        return f"not an execution resource name: {ex.get('name')!r}"
    started = ts(ex.get("startTime")) or ts(ex.get("createTime"))
    if started is None:
        return "execution without startTime or createTime"
    ended = ts(ex.get("endTime"))
    state = ex.get("state") or "STATE_UNSPECIFIED"
    status = EXECUTION_STATUS.get(state, Status.RUNNING if ended is None else Status.FAILED)
    error = ex.get("error") or {}
    in_bytes, in_sha = payload_size_and_hash(ex.get("argument"))
    out_bytes, _ = payload_size_and_hash(ex.get("result"))
    current = (ex.get("status") or {}).get("currentSteps")
    return {
        C.cloud: CLOUD,
        C.account: parts["p"],
        C.region: parts["l"],
        C.workflow_id: workflow_id(parts["p"], parts["l"], parts["w"]),
        C.workflow_name: parts["w"],
        C.kind: KIND,
        C.revision: ex.get("workflowRevisionId"),
        C.execution_id: ex["name"],
        C.name: parts["e"],
        C.status: status.value,
        C.native_status: state,
        C.started_at: started,
        C.ended_at: ended,
        C.duration_ms: duration_ms(started, ended) if ended else _seconds_ms(ex.get("duration")),
        C.error: truncate(error.get("payload")),
        C.cause: truncate(error.get("context")),
        C.redrive_count: None,
        C.parent_execution_id: None,
        C.billed_duration_ms: None,
        C.billed_memory_mb: None,
        C.input_bytes: in_bytes,
        C.output_bytes: out_bytes,
        C.input_sha256: in_sha,
        C.event_count: None,
        C.attributes: _json_attrs({
            "callLogLevel": ex.get("callLogLevel"),
            "executionHistoryLevel": ex.get("executionHistoryLevel"),
            "labels": ex.get("labels"),
            "currentSteps": current,
            "stateError": ex.get("stateError"),
            "createTime": ex.get("createTime"),
        }),
        C.source: ctx.source.value,
        C.collected_at: ctx.seen_at,
        C.start_date: started.date(),
    }


# ---------------------------------------------------------------- gcp.step_entries

def transform_step_entries(doc: Any, ctx: ImportContext) -> Batch:
    """StepEntry resources -> one steps row per entry, plus an attempts row per call entry.

    Retries show as repeated entries of the same call with ``PROGRESS_TYPE_RETRY``: each gets
    attempts.attempt = its progressNumber here, and `assemble` folds them into one step visit.
    """
    batch = Batch()
    items, where = _records(doc, "stepEntries", ctx, "gcp.step_entries")
    for i, entry in enumerate(items):
        loc = f"{where}[{i}]" if where != "$" else "$"
        try:
            result = _step_rows(entry, ctx, batch)
        except (ValueError, TypeError, AttributeError) as exc:
            batch.skips.append(Skip(ctx.source_name, loc, f"bad step entry: {exc}"))
            continue
        if isinstance(result, str):
            batch.skips.append(Skip(ctx.source_name, loc, result))
            continue
        step, attempt = result
        batch.steps.append(step)
        if attempt is not None:
            batch.attempts.append(attempt)
    return batch


def _step_rows(entry: Any, ctx: ImportContext, batch: Batch) -> tuple[Row, Row | None] | str:
    if not isinstance(entry, dict):
        return "step entry is not an object"
    parts = parse_name(entry.get("name"))
    if parts and parts["e"]:
        exec_id = execution_id(parts["p"], parts["l"], parts["w"], parts["e"])
    elif ctx.execution_id and parse_name(ctx.execution_id):
        exec_id = ctx.execution_id
        parts = parse_name(exec_id)
    else:
        return f"step entry without an execution resource name: {entry.get('name')!r}"
    key = entry.get("entryId") or parts.get("s")
    if key in (None, ""):
        return "step entry without entryId"
    key = str(int(key))
    started = ts(entry.get("createTime"))
    if started is None:
        return "step entry without createTime"
    step = entry.get("step")
    if not step:
        return "step entry without step name"
    routine = entry.get("routine") or "main"
    native = entry.get("stepType") or "STEP_TYPE_UNSPECIFIED"
    if native not in STEP_TYPES:
        _count(batch, f"stepType:{native}")
    state = entry.get("state") or "STATE_UNSPECIFIED"
    status = STEP_STATUS.get(state)
    if status is None:
        _count(batch, f"stepEntry.state:{state}")
        status = Status.RUNNING
    ended = ts(entry.get("updateTime")) if status in TERMINAL_STATUSES else None
    nav = entry.get("navigationInfo") or {}
    meta = entry.get("stepEntryMetadata") or {}
    progress = meta.get("progressType")
    number = meta.get("progressNumber")
    iteration = int(number) if progress in ITERATION_PROGRESS and number not in (None, "") else None
    error = truncate((entry.get("exception") or {}).get("payload"))
    wf_id = workflow_id(parts["p"], parts["l"], parts["w"])
    is_call = native in CALL_NATIVE_TYPES
    row = {
        C.cloud: CLOUD,
        C.workflow_id: wf_id,
        C.execution_id: exec_id,
        C.step_key: key,
        C.previous_step_key: _key(nav.get("previous")),
        C.parent_step_key: _key(nav.get("parent")),
        C.iteration: iteration,
        C.name: step if routine == "main" else f"{routine}/{step}",
        C.type: _TYPE_VALUES.get(native, _OTHER),
        C.native_type: native,
        C.resource: UNKNOWN_RESOURCE if is_call else None,
        C.status: _STATUS_VALUES[status],
        C.started_at: started,
        C.ended_at: ended,
        C.duration_ms: duration_ms(started, ended),
        C.attempts: 1,
        C.error: error,
        C.cause: None,
        C.start_date: started.date(),
    }
    attempt = None
    if is_call:
        number_i = int(number) if progress == RETRY_PROGRESS and number not in (None, "") else 1
        attempt = _attempt_from(row, max(number_i, 1))
    return row, attempt


def _key(value: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        return str(int(value))
    except (TypeError, ValueError):
        return str(value)


def _attempt_from(step: Row, number: int) -> Row:
    status = step[C.status]
    return {
        C.cloud: step[C.cloud],
        C.workflow_id: step[C.workflow_id],
        C.execution_id: step[C.execution_id],
        C.step_key: step[C.step_key],
        C.attempt: number,
        C.started_at: step[C.started_at],
        C.ended_at: step[C.ended_at],
        C.duration_ms: step[C.duration_ms],
        C.status: Status.FAILED.value if status == Status.CAUGHT.value else status,
        C.error: step[C.error],
        C.cause: step[C.cause],
        C.start_date: step[C.start_date],
    }


# ---------------------------------------------------------------- gcp.log_entries

_SYSTEM_FIELDS = ("start", "success", "failure")
_CALL_FIELDS = ("callee", "begun", "succeeded", "exceptionRaised", "exceptionHandled")


def transform_log_entries(doc: Any, ctx: ImportContext) -> Batch:
    """Cloud Logging entries -> executions (system logs) and call steps (call logs).

    Call steps have no entry id: their step_key is ``<step>@<call start time>``, which both the
    BEGUN record (its activityTime) and the record ending the call (callStartTime) carry, so
    the two halves meet even when they come from different files. Calls cannot be told apart
    from retries in call logs, so each call is its own step with one attempt.
    """
    batch = Batch()
    if isinstance(doc, dict) and "entries" in doc:
        items, where = _records(doc, "entries", ctx, "gcp.log_entries")
    elif isinstance(doc, list):
        items, where = doc, "$"
    elif isinstance(doc, dict):
        items, where = [doc], "$"
    else:
        raise NativeFormatError(ctx.source_name, "$", "gcp.log_entries: expected a list of log entries")
    runs: dict[str, dict[str, Any]] = {}
    calls: dict[tuple[str, str], Row] = {}
    attempts: dict[tuple[str, str], Row] = {}
    for i, entry in enumerate(items):
        loc = f"{where}[{i}]" if where != "$" else f"[{i}]"
        try:
            problem = _log_entry(entry, ctx, batch, runs, calls, attempts)
        except (ValueError, TypeError, AttributeError) as exc:
            problem = f"bad log entry: {exc}"
        if problem:
            batch.skips.append(Skip(ctx.source_name, loc, problem))
    for exec_id, run in runs.items():
        if run.get("started") is None:
            batch.skips.append(Skip(ctx.source_name, exec_id, "execution end logged without its start in this document"))
            continue
        batch.executions.append(_execution_from_logs(exec_id, run, ctx))
    batch.steps.extend(calls.values())
    batch.attempts.extend(attempts.values())
    return batch


def _payload(entry: dict[str, Any]) -> dict[str, Any] | None:
    payload = entry.get("jsonPayload")
    if payload is None:
        payload = entry.get("protoPayload")
    return payload if isinstance(payload, dict) else None


def _log_entry(entry: Any, ctx: ImportContext, batch: Batch, runs: dict, calls: dict, attempts: dict) -> str | None:
    if not isinstance(entry, dict):
        return "log entry is not an object"
    resource = entry.get("resource") or {}
    if resource.get("type") != WORKFLOW_RESOURCE_TYPE:
        _count(batch, f"log.resource:{resource.get('type')}")
        return None
    labels = resource.get("labels") or {}
    payload = _payload(entry)
    if payload is None:
        _count(batch, "log.payload:none")
        return None
    project, location, workflow = labels.get("project_id"), labels.get("location"), labels.get("workflow_id")
    short = (entry.get("labels") or {}).get(EXECUTION_ID_LABEL) or payload.get("executionId")
    if not (project and location and workflow and short):
        return "log entry without project_id / location / workflow_id / execution id"
    exec_id = execution_id(project, location, workflow, short)
    kind = str(payload.get("@type", ""))
    if kind.endswith("ExecutionsSystemLog") or (not kind and any(f in payload for f in _SYSTEM_FIELDS)):
        return _system_log(payload, entry, exec_id, runs)
    if kind.endswith("EngineCallLog") or (not kind and any(f in payload for f in _CALL_FIELDS)):
        return _call_log(payload, exec_id, workflow_id(project, location, workflow), batch, calls, attempts)
    _count(batch, f"log.payload:{kind or ','.join(sorted(payload)) or 'empty'}")
    return None


def _system_log(payload: dict, entry: dict, exec_id: str, runs: dict) -> str | None:
    when = utc(payload.get("activityTime")) or utc(entry.get("timestamp"))
    if when is None:
        return "system log without activityTime"
    run = runs.setdefault(exec_id, {})
    state = payload.get("state")
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
        run["error"], run["cause"] = failure.get("exception"), failure.get("source")
    elif state == "CANCELLED":
        run["ended"], run["state"] = when, state
    elif state and "start" not in payload and run.get("ended") is None:
        run["state"] = state
    return None


def _execution_from_logs(exec_id: str, run: dict, ctx: ImportContext) -> Row:
    parts = parse_name(exec_id)
    state = run.get("state") or "ACTIVE"
    started, ended = run["started"], run.get("ended")
    in_bytes, in_sha = payload_size_and_hash(run.get("argument"))
    out_bytes, _ = payload_size_and_hash(run.get("result"))
    return {
        C.cloud: CLOUD, C.account: parts["p"], C.region: parts["l"],
        C.workflow_id: workflow_id(parts["p"], parts["l"], parts["w"]), C.workflow_name: parts["w"],
        C.kind: KIND, C.revision: None, C.execution_id: exec_id, C.name: parts["e"],
        C.status: EXECUTION_STATUS.get(state, Status.RUNNING).value, C.native_status: state,
        C.started_at: started, C.ended_at: ended, C.duration_ms: duration_ms(started, ended),
        C.error: truncate(run.get("error")), C.cause: truncate(run.get("cause")),
        C.redrive_count: None, C.parent_execution_id: None, C.billed_duration_ms: None,
        C.billed_memory_mb: None, C.input_bytes: in_bytes, C.output_bytes: out_bytes,
        C.input_sha256: in_sha, C.event_count: None, C.attributes: None,
        C.source: ctx.source.value, C.collected_at: ctx.seen_at, C.start_date: started.date(),
    }


def _call_log(payload: dict, exec_id: str, wf_id: str, batch: Batch, calls: dict, attempts: dict) -> str | None:
    state = payload.get("state")
    step = payload.get("step")
    if not step:
        return "call log without step"
    routine = payload.get("routine")
    name = step if routine in (None, "", "main") else f"{routine}/{step}"
    when = utc(payload.get("activityTime"))
    callee = payload.get("callee") or None
    detail_key = {"BEGUN": "begun", "SUCCEEDED": "succeeded", "EXCEPTION_RAISED": "exceptionRaised",
                  "EXCEPTION_HANDLED": "exceptionHandled"}.get(state)
    if detail_key is None:
        _count(batch, f"callLog.state:{state}")
        return None
    detail = payload.get(detail_key) or {}
    start = when if state == "BEGUN" else utc(detail.get("callStartTime"))
    if start is None:
        return "call log without activityTime / callStartTime"
    key = f"{name}@{start.isoformat()}"
    row = calls.get((exec_id, key))
    if row is None:
        if state == "EXCEPTION_HANDLED":
            origin = detail.get("origin")
            alt = calls.get((exec_id, f"{origin}@{start.isoformat()}")) if origin else None
            if alt is None:
                return None        # handled an exception of a call not in this document
            row = alt
        else:
            row = {
                C.cloud: CLOUD, C.workflow_id: wf_id, C.execution_id: exec_id, C.step_key: key,
                C.previous_step_key: None, C.parent_step_key: None, C.iteration: None, C.name: name,
                C.type: StepType.TASK.value, C.native_type: CALL_LOG_NATIVE_TYPE,
                C.resource: UNKNOWN_RESOURCE, C.status: Status.RUNNING.value, C.started_at: start,
                C.ended_at: None, C.duration_ms: None, C.attempts: 1, C.error: None, C.cause: None,
                C.start_date: start.date(),
            }
            calls[(exec_id, key)] = row
    if callee:
        url = ((detail.get("namedArgs") or {}).get("url")) if state == "BEGUN" else None
        resource = call_resource(callee, url)
        if row[C.resource] in (UNKNOWN_RESOURCE, None) or not resource.endswith(f" {UNRESOLVED_HOST}"):
            row[C.resource] = resource
    if state == "SUCCEEDED":
        row[C.status], row[C.ended_at], row[C.error] = Status.SUCCEEDED.value, when, None
    elif state == "EXCEPTION_RAISED":
        row[C.status], row[C.ended_at] = Status.FAILED.value, when
        row[C.error] = truncate(detail.get("exception"))
        row[C.cause] = truncate(detail.get("origin"))
    elif state == "EXCEPTION_HANDLED" and row[C.status] in (Status.FAILED.value, Status.RUNNING.value):
        row[C.status] = Status.CAUGHT.value
        row[C.error] = row[C.error] or truncate(detail.get("exception"))
    row[C.duration_ms] = duration_ms(row[C.started_at], row[C.ended_at])
    if resource_is_wait(row[C.resource]):
        row[C.type] = StepType.WAIT.value
    attempt = _attempt_from(row, 1)
    if row[C.status] == Status.CAUGHT.value:
        attempt[C.status] = Status.CAUGHT.value     # the only trace of the handling in call logs
    attempts[(exec_id, key)] = attempt
    return None


# ---------------------------------------------------------------- detect / FORMATS

def _is_gcp_name(value: Any, *, execution: bool | None = None, entry: bool = False) -> bool:
    parts = parse_name(value)
    if not parts:
        return False
    if entry:
        return bool(parts["s"])
    if execution is None:
        return True
    return bool(parts["e"]) == execution and not parts["s"]


def _looks_like_log_entry(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    resource = item.get("resource")
    return isinstance(resource, dict) and resource.get("type") == WORKFLOW_RESOURCE_TYPE


_LIST_EXTRA_KEYS = frozenset({"nextPageToken", "totalSize", "unreachable"})


def detect(doc: Any) -> str | None:
    """The GCP format of a parsed JSON document, or None when it is not a GCP Workflows one."""
    if isinstance(doc, list):
        return "gcp.log_entries" if any(_looks_like_log_entry(x) for x in doc[:50]) else None
    if not isinstance(doc, dict):
        return None
    for key, fmt, check in (
        ("stepEntries", "gcp.step_entries", lambda x: _is_gcp_name(x.get("name"), entry=True)),
        ("executions", "gcp.executions", lambda x: _is_gcp_name(x.get("name"), execution=True)),
        ("workflows", "gcp.workflow", lambda x: _is_gcp_name(x.get("name"), execution=False)),
    ):
        items = doc.get(key)
        if not isinstance(items, list):
            continue
        if not items:
            if set(doc) <= _LIST_EXTRA_KEYS | {key} and (key == "stepEntries" or set(doc) & _LIST_EXTRA_KEYS):
                return fmt
            continue
        if any(check(x) for x in items[:50] if isinstance(x, dict)):
            return fmt
    if isinstance(doc.get("entries"), list) and any(_looks_like_log_entry(x) for x in doc["entries"][:50]):
        return "gcp.log_entries"
    if _looks_like_log_entry(doc):
        return "gcp.log_entries"
    name = doc.get("name")
    if _is_gcp_name(name, entry=True):
        return "gcp.step_entries"
    if _is_gcp_name(name, execution=True):
        return "gcp.executions"
    if _is_gcp_name(name, execution=False) and ("revisionId" in doc or "sourceContents" in doc):
        return "gcp.workflow"
    return None


FORMATS: dict[str, FormatHandler] = {
    "gcp.workflow": transform_workflows,
    "gcp.executions": transform_executions,
    "gcp.step_entries": transform_step_entries,
    "gcp.log_entries": transform_log_entries,
}


def transform(doc: Any, ctx: ImportContext | None = None) -> Batch:
    """Detect the format of a document and transform it; NativeFormatError when none fits."""
    ctx = ctx or ImportContext()
    fmt = detect(doc)
    if fmt is None:
        raise NativeFormatError(ctx.source_name, "$", "not a Google Cloud Workflows document "
                                "(Workflow, Execution, StepEntry list or Workflows log entries)")
    return FORMATS[fmt](doc, ctx)


# ---------------------------------------------------------------- assemble

def _sort_key(key: str) -> tuple[int, int, str]:
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def _definition(workflow: Row | None) -> Definition | None:
    if not workflow or not workflow.get(C.definition):
        return None
    try:
        return parse_definition(workflow[C.definition])
    except (DefinitionError, RecursionError, ValueError, TypeError):
        return None      # reported when the workflow was read (`transform_workflows`)


def _specific(resource: str | None) -> int:
    if resource in (None, UNKNOWN_RESOURCE):
        return 0
    return 1 if resource.endswith(f" {UNRESOLVED_HOST}") else 2


def _merge_rows(old: Row, new: Row) -> Row:
    """Two rows for the same key (re-imported, or halves of one call): the shared rule
    (`assemble.merge_rows`, a finished row wins), keeping the most specific call target."""
    merged = merge_rows(old, new)
    for other in (old, new):
        if C.resource in merged and _specific(other.get(C.resource)) > _specific(merged[C.resource]):
            merged[C.resource] = other[C.resource]
    return merged


def assemble(
    execution: Row | None, steps: list[Row], attempts: list[Row], workflow: Row | None
) -> tuple[list[Row], list[Row], list[Row]]:
    """Finish the rows of one execution: fold retries, settle links, types, statuses, usage.

    1. Duplicate rows (same step_key / attempt) merge, the terminal one winning.
    2. Retries fold: call entries of one step (same name, same parent) whose attempt numbers
       continue the previous visit's (``PROGRESS_TYPE_RETRY`` progressNumber 2, 3, ...) become
       attempts of that visit. The visit keeps the step_key of its LAST attempt, the entry
       the next step names as ``previous``; steps.attempts = number of attempts; its times
       span the attempts and its status is the last attempt's.
    3. Types and resources come from the workflow definition when given (call targets, HTTP
       hosts, `sys.sleep` as a wait); without it (or with an unparsable one), from the step type
       alone, with calls' resource "unknown" until a later assemble with the definition
       reclassifies; unknown calls are metered by `definition.call_is_external` (external,
       except connector and subworkflow calls).
    4. Iterations: a step with none takes its nearest ancestor's (parent_step_key chain).
    5. A FAILED step under a try block whose ``except`` ran later is CAUGHT.
    6. Usage: one row per billed step visit (see `BILLED_NATIVE_TYPES`), meter
       internal/external by `definition.call_is_external`, quantity = attempts for calls, variables assigned
       for an assign (1 without definition), else 1.
    7. All rows take the execution's start_date (one partition per execution).
    Pure and idempotent.
    """
    definition = _definition(workflow)
    exec_start = execution.get(C.started_at) if execution else None
    start_date = execution.get(C.start_date) if execution else None
    region = (execution or {}).get(C.region) or (workflow or {}).get(C.region)

    # 1. dedupe
    by_key: dict[str, Row] = {}
    for row in steps:
        key = row[C.step_key]
        by_key[key] = _merge_rows(by_key[key], row) if key in by_key else dict(row)
    att_by_step: dict[str, dict[int, Row]] = defaultdict(dict)
    for att in attempts:
        slot = att_by_step[att[C.step_key]]
        n = int(att[C.attempt])
        slot[n] = _merge_rows(slot[n], att) if n in slot else dict(att)

    # 2. fold retries of call steps
    groups: dict[tuple[Any, Any], list[str]] = defaultdict(list)
    for key, row in by_key.items():
        if row.get(C.native_type) in CALL_NATIVE_TYPES:
            groups[(row[C.name], row.get(C.parent_step_key))].append(key)
    folded: dict[str, list[Row]] = {}        # visit key -> its attempts
    for keys in groups.values():
        # Each physical try is (attempt number, start time); the same try may come under two
        # keys (its own entry id, and the visit key of an earlier assemble): keep the smaller.
        tries: dict[tuple[int, Any], tuple[Row, str]] = {}
        for key in sorted(keys, key=_sort_key, reverse=True):
            for att in (att_by_step.get(key, {}).values() or [_attempt_from(by_key[key], 1)]):
                tries[(int(att[C.attempt]), att[C.started_at])] = (att, key)
        visits: list[list[tuple[Row, str]]] = []
        for (number, _start), item in sorted(tries.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            if visits and number > int(visits[-1][-1][0][C.attempt]):
                visits[-1].append(item)
            else:
                visits.append([item])
        rows = {key: by_key.pop(key) for key in keys}
        for visit in visits:
            first_key, last_key = visit[0][1], visit[-1][1]
            keep = dict(rows[first_key])
            keep[C.step_key] = last_key
            best = max((rows[k].get(C.resource) for _, k in visit), key=_specific)
            if _specific(best) > _specific(keep.get(C.resource)):
                keep[C.resource] = best
            by_key[last_key] = keep
            folded[last_key] = [att for att, _ in visit]

    # 3..5 per step
    out_attempts: list[Row] = []
    for key, row in by_key.items():
        native = row.get(C.native_type) or "STEP_TYPE_UNSPECIFIED"
        step_type = STEP_TYPES.get(native, StepType.OTHER)
        routine, _, short = row[C.name].rpartition("/")
        sdef = definition.find(routine or ("main" if native != CALL_LOG_NATIVE_TYPE else None), short) \
            if definition else None
        if native in CALL_NATIVE_TYPES:
            if sdef is not None and sdef.resource:
                row[C.resource] = sdef.resource
            elif not row.get(C.resource):
                row[C.resource] = UNKNOWN_RESOURCE
            if resource_is_wait(row[C.resource]):
                step_type = StepType.WAIT
        else:
            row[C.resource] = None
        row[C.type] = step_type.value
        atts = folded.get(key)
        if atts is not None:
            atts = [dict(a, **{C.step_key: key}) for a in atts]
            last = atts[-1]
            row[C.started_at] = atts[0][C.started_at] or row[C.started_at]
            row[C.ended_at] = last[C.ended_at]
            row[C.duration_ms] = duration_ms(row[C.started_at], row[C.ended_at])
            row[C.status] = last[C.status]
            row[C.error] = last[C.error] if last[C.status] != Status.SUCCEEDED.value else None
            row[C.attempts] = len(atts)
            if step_type in WORK_STEP_TYPES:
                out_attempts.extend(atts)
        else:
            row[C.attempts] = row.get(C.attempts) or 1

    # 4. iterations from ancestors
    def ancestor_iteration(row: Row) -> int | None:
        seen: set[str] = set()
        parent = row.get(C.parent_step_key)
        while parent and parent not in seen:
            seen.add(parent)
            prow = by_key.get(parent)
            if prow is None:
                return None
            if prow.get(C.iteration) is not None:
                return prow[C.iteration]
            parent = prow.get(C.parent_step_key)
        return None

    for row in sorted(by_key.values(), key=lambda r: _sort_key(r[C.step_key])):
        if row.get(C.iteration) is None:
            row[C.iteration] = ancestor_iteration(row)

    # 5. CAUGHT: a later except under a common try block
    excepts: dict[str, list[str]] = defaultdict(list)
    for key, row in by_key.items():
        if row.get(C.native_type) == "STEP_EXCEPT" and row.get(C.parent_step_key):
            excepts[row[C.parent_step_key]].append(key)
    if excepts:
        for key, row in by_key.items():
            if row[C.status] != Status.FAILED.value:
                continue
            seen = set()
            parent = row.get(C.parent_step_key)
            while parent and parent not in seen:
                seen.add(parent)
                if any(_sort_key(e) > _sort_key(key) for e in excepts.get(parent, ())):
                    row[C.status] = Status.CAUGHT.value
                    break
                prow = by_key.get(parent)
                parent = prow.get(C.parent_step_key) if prow else None

    # 6. usage, 7. partitions
    usage: list[Row] = []
    for key in sorted(by_key, key=_sort_key):
        row = by_key[key]
        if start_date is not None:
            row[C.start_date] = start_date
        native = row.get(C.native_type) or "STEP_TYPE_UNSPECIFIED"
        if native not in BILLED_NATIVE_TYPES and native in STEP_TYPES:
            continue
        if native in CALL_NATIVE_TYPES:
            quantity = row[C.attempts]
        elif native == "STEP_ASSIGN" and definition is not None:
            routine, _, short = row[C.name].rpartition("/")
            sdef = definition.find(routine or "main", short)
            quantity = max(sdef.assignments, 1) if sdef is not None and sdef.kind == "assign" else 1
        else:
            quantity = 1
        started = row.get(C.started_at) or exec_start
        if started is None:
            continue
        meter = Meter.GCP_WORKFLOWS_EXTERNAL_STEP if call_is_external(row.get(C.resource), native) \
            else Meter.GCP_WORKFLOWS_INTERNAL_STEP
        usage.append({
            C.cloud: CLOUD,
            C.region: region or _region_of(row[C.workflow_id]),
            C.workflow_id: row[C.workflow_id],
            C.execution_id: row[C.execution_id],
            C.step_key: key,
            C.meter: meter.value,
            C.quantity: float(quantity),
            C.started_at: started,
            C.start_date: start_date or started.date(),
        })
    if start_date is not None:
        for att in out_attempts:
            att[C.start_date] = start_date
    out_steps = [by_key[k] for k in sorted(by_key, key=_sort_key)]
    out_attempts.sort(key=lambda a: (_sort_key(a[C.step_key]), a[C.attempt]))
    return out_steps, out_attempts, usage


def assemble_batch(batch: Batch, workflows: Iterable[Row] = ()) -> Batch:
    """Convenience for tests and the simulator: assemble every execution found in a batch.

    The workflow row used for an execution is the one with its revision, else the latest seen.
    """
    by_wf: dict[str, list[Row]] = defaultdict(list)
    for wf in list(workflows) + batch.workflows:
        by_wf[wf[C.workflow_id]].append(wf)
    execs = {e[C.execution_id]: e for e in batch.executions}
    steps: dict[str, list[Row]] = defaultdict(list)
    atts: dict[str, list[Row]] = defaultdict(list)
    for s in batch.steps:
        steps[s[C.execution_id]].append(s)
    for a in batch.attempts:
        atts[a[C.execution_id]].append(a)
    out = Batch(workflows=list(batch.workflows), executions=list(batch.executions),
                skips=list(batch.skips), unknown_event_types=dict(batch.unknown_event_types))
    for exec_id in list(execs) + [k for k in steps if k not in execs]:
        ex = execs.get(exec_id)
        wf_id = ex[C.workflow_id] if ex else (steps[exec_id][0][C.workflow_id] if steps[exec_id] else None)
        candidates = by_wf.get(wf_id, [])
        wf = next((w for w in candidates if ex and w[C.revision] == ex.get(C.revision)), None) \
            or (max(candidates, key=lambda w: w[C.seen_at]) if candidates else None)
        s, a, u = assemble(ex, steps.get(exec_id, []), atts.get(exec_id, []), wf)
        out.steps.extend(s)
        out.attempts.extend(a)
        out.usage.extend(u)
    return out
