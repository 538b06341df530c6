"""The Cloud Logging transform as it was before its speed-up (frozen copy, tests only).

`tests/gcp/test_log_ingest.py` feeds it and `flowscope.collectors.gcp.transform.log_entries` the
same entries, well-formed and malformed, and wants the same rows, skips and counts back: the
faster transform must change nothing but the time it takes. Do not edit it to follow the
transform: it is the yardstick.

One rule was changed here and in the transform together, on purpose: a record that is no Cloud
Logging entry of a Workflows resource (a stray JSON object, another service's entry) is a skip
with its line ("not a Workflows log entry (...)"), where it was counted as an unknown type
(`log.resource:<type>`), or skipped as "bad log entry" when its `resource` was no object.
"""

from __future__ import annotations

from typing import Any, cast

from flowscope.collectors.gcp.definition import UNKNOWN_RESOURCE, UNRESOLVED_HOST, call_resource, resource_is_wait
from flowscope.collectors.gcp.transform.names import execution_id, parse_name, workflow_id
from flowscope.collectors.gcp.transform.records import (
    CALL_LOG_NATIVE_TYPE,
    CLOUD,
    EXECUTION_STATUS,
    KIND,
    attempt_from,
    count_unknown,
    records_of,
)
from flowscope.collectors.native import ImportContext, NativeFormatError, Row
from flowscope.model import Batch, C, Skip, Status, StepType, duration_ms, payload_size_and_hash, truncate, utc

_DETAIL_KEYS = {"BEGUN": "begun", "SUCCEEDED": "succeeded", "EXCEPTION_RAISED": "exceptionRaised",
                "EXCEPTION_HANDLED": "exceptionHandled"}
"""call log state -> the payload field holding its details."""


def read_call_log(payload: dict, exec_id: str, wf_id: str, batch: Batch, calls: dict, attempts: dict) -> str | None:
    state = payload.get("state")
    step = payload.get("step")
    if not step:
        return "call log without step"
    routine = payload.get("routine")
    name = step if routine in (None, "", "main") else f"{routine}/{step}"
    when = utc(payload.get("activityTime"))
    callee = payload.get("callee") or None
    detail_key = _DETAIL_KEYS.get(state) if isinstance(state, str) else None
    if detail_key is None:
        count_unknown(batch, f"callLog.state:{state}")
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
    attempt = attempt_from(row, 1)
    if row[C.status] == Status.CAUGHT.value:
        attempt[C.status] = Status.CAUGHT.value     # the only trace of the handling in call logs
    attempts[(exec_id, key)] = attempt
    return None


WORKFLOW_RESOURCE_TYPE = "workflows.googleapis.com/Workflow"
EXECUTION_ID_LABEL = "workflows.googleapis.com/execution_id"

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
        items, where = records_of(doc, "entries", ctx, "gcp.log_entries")
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
            batch.skips.append(Skip(ctx.source_name, exec_id,
                                    "execution end logged without its start in this document"))
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
    resource = entry.get("resource")
    if not isinstance(resource, dict):
        return "not a Workflows log entry (no resource.type)" if resource is None else \
            f"not a Workflows log entry (resource is {type(resource).__name__}, not an object)"
    if resource.get("type") != WORKFLOW_RESOURCE_TYPE:
        kind = resource.get("type")
        return "not a Workflows log entry (no resource.type)" if kind is None else \
            f"not a Workflows log entry (resource.type {str(kind)[:80]!r})"
    labels = resource.get("labels") or {}
    payload = _payload(entry)
    if payload is None:
        count_unknown(batch, "log.payload:none")
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
        return read_call_log(payload, exec_id, workflow_id(project, location, workflow), batch, calls, attempts)
    count_unknown(batch, f"log.payload:{kind or ','.join(sorted(payload)) or 'empty'}")
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
    parts = cast(dict[str, str], parse_name(exec_id))     # built by `execution_id`
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

