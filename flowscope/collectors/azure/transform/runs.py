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
from flowscope.collectors.native import ImportContext, cleaned_texts, text_field
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
    # a caller sets the tracking id, any length, any text (a URL's `user:pass@`, a `sig=`)
    attributes = {k: cleaned_texts(v) for k, v in {
        "client_tracking_id": correlation.get("clientTrackingId"),
        "wait_end_time": props.get("waitEndTime"),
        "trigger": trigger.get("name"),
        "scheduled_time": trigger.get("scheduledTime"),
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
