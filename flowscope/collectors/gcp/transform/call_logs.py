"""Call logs (EngineCallLog entries) -> call steps, one per call, each with one attempt.

Call steps have no entry id: their step_key is ``<step>@<call start time>``, which both the
BEGUN record (its activityTime) and the record ending the call (callStartTime) carry, so the two
halves meet even when they come from different files.
"""

from __future__ import annotations

from flowscope.collectors.gcp.definition import UNKNOWN_RESOURCE, UNRESOLVED_HOST, call_resource, resource_is_wait
from flowscope.collectors.gcp.transform.records import CALL_LOG_NATIVE_TYPE, CLOUD, attempt_from, count_unknown
from flowscope.model import Batch, C, Status, StepType, duration_ms, truncate, utc

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

