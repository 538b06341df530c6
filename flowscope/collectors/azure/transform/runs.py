"""`azure.runs`: a workflow run -> an executions row, plus its trigger's step and tries.

Only `contentSize` of the trigger's outputs (the run's input) reaches `executions.input_bytes`.
"""

from __future__ import annotations

import json
from typing import Any

from flowscope.collectors.azure.transform.ids import ArmId, trigger_key
from flowscope.collectors.azure.transform.records import (
    CLOUD,
    as_dict,
    attempts_for,
    content_size,
    error_of,
    properties_of,
    status_of,
    step_row,
    ts,
)
from flowscope.collectors.native import ImportContext, error_text, text_field
from flowscope.model import Batch, C, Kind, Source, StepType, duration_ms


def read_run(rec: dict[str, Any], ctx: ImportContext, batch: Batch) -> None:
    ids = ArmId(rec["id"])
    if ids.run is None:
        raise ValueError("run id without /runs/<name>")
    props = properties_of(rec)
    started = ts(props.get("startTime"))
    if started is None:
        raise ValueError("run without startTime")
    ended = ts(props.get("endTime"))
    native_status = text_field(props, "status")
    status = status_of(native_status, ended)
    error, cause = error_of(props, status)
    trigger = as_dict(props.get("trigger"))
    wf = as_dict(props.get("workflow"))
    correlation = as_dict(props.get("correlation"))
    attributes = {k: v for k, v in {
        "client_tracking_id": _attribute(correlation.get("clientTrackingId")),
        "wait_end_time": _attribute(props.get("waitEndTime")),
        "trigger": _attribute(trigger.get("name")),
        "scheduled_time": _attribute(trigger.get("scheduledTime")),
    }.items() if v is not None}
    step = None
    tries = []
    if trigger.get("name"):
        step = step_row(ids, trigger_key(trigger["name"]), trigger["name"], trigger, ctx,
                         step_type=StepType.TRIGGER)
        tries = attempts_for(step, trigger)  # before anything is added: a bad try skips the whole record
    batch.executions.append({
        C.cloud: CLOUD, C.account: ids.sub, C.region: None,
        C.workflow_id: ids.workflow_id, C.workflow_name: ids.workflow_name,
        C.kind: (Kind.LOGICAPP_STANDARD if ids.site else Kind.LOGICAPP_CONSUMPTION).value,
        C.revision: text_field(wf, "name"),
        C.execution_id: ids.execution_id, C.name: text_field(rec, "name") or ids.run_name,
        C.status: status.value, C.native_status: native_status,
        C.started_at: started, C.ended_at: ended, C.duration_ms: duration_ms(started, ended),
        C.error: error, C.cause: cause, C.redrive_count: None, C.parent_execution_id: None,
        C.billed_duration_ms: None, C.billed_memory_mb: None,
        C.input_bytes: content_size(trigger.get("outputsLink")),
        C.output_bytes: None, C.input_sha256: None, C.event_count: None,
        C.attributes: json.dumps(attributes, sort_keys=True) if attributes else None,
        C.source: str(ctx.source or Source.IMPORT),
        C.collected_at: ctx.seen_at, C.start_date: started.date(),
    })
    if step is not None:
        batch.steps.append(step)
        batch.attempts.extend(tries)



def _attribute(value: Any) -> str | int | float | None:
    """A run's value as its attributes keep it. A text is cleaned of credentials, then cut, as errors are
    (`native.error_text`): a caller sets the tracking id, any length, any text (a URL's `user:pass@`, a
    `sig=`), and nothing cleans the attributes later. Numbers stay; anything else (an object a hand-made
    file holds) is not kept, never stored uncleaned."""
    if isinstance(value, str):
        return error_text(value)
    if isinstance(value, (int, float)):
        return value
    return None
