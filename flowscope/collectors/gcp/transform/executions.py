"""`gcp.executions`: an Execution, or ``{"executions": [...], "nextPageToken": ...}`` -> executions rows."""

from __future__ import annotations

from typing import Any

from flowscope.collectors.gcp.transform.errors import error_and_cause
from flowscope.collectors.gcp.transform.names import numbered_project_warnings, parse_name, workflow_id
from flowscope.collectors.gcp.transform.records import (
    CLOUD,
    EXECUTION_STATUS,
    KIND,
    count_unknown,
    json_attrs,
    records_of,
    seconds_ms,
    ts,
)
from flowscope.collectors.native import ImportContext, Row, error_text, text_field
from flowscope.model import Batch, C, Skip, Status, duration_ms, payload_size_and_hash


def transform_executions(doc: Any, ctx: ImportContext) -> Batch:
    """Execution resources -> executions rows (payloads reduced to size and hash)."""
    batch = Batch()
    items, where = records_of(doc, "executions", ctx, "gcp.executions")
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
            count_unknown(batch, f"execution.state:{row[C.native_status]}")
        batch.executions.append(row)
    batch.warnings.extend(numbered_project_warnings({r[C.account] for r in batch.executions}))
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
    state = text_field(ex, "state") or "STATE_UNSPECIFIED"
    revision = text_field(ex, "workflowRevisionId")
    status = EXECUTION_STATUS.get(state, Status.RUNNING if ended is None else Status.FAILED)
    failure = ex.get("error") or {}
    error, cause = error_and_cause(failure.get("payload"), failure.get("context"))
    if state == "UNAVAILABLE" and error is None:
        error, cause = _unavailable(ex.get("stateError"))
    in_bytes, in_sha = payload_size_and_hash(ex.get("argument"))
    out_bytes, _ = payload_size_and_hash(ex.get("result"))
    current = (ex.get("status") or {}).get("currentSteps")
    api_ms = seconds_ms(ex.get("duration"))
    return {
        C.cloud: CLOUD,
        C.account: parts["p"],
        C.region: parts["l"],
        C.workflow_id: workflow_id(parts["p"], parts["l"], parts["w"]),
        C.workflow_name: parts["w"],
        C.kind: KIND,
        C.revision: revision,
        C.execution_id: ex["name"],
        C.name: parts["e"],
        C.status: status.value,
        C.native_status: state,
        C.started_at: started,
        C.ended_at: ended,
        # null while running (docs/model.md), as on every cloud: the API's `duration` of a running
        # execution is its time so far; it stands in only for a finished one without endTime (read
        # either way, so a duration no column holds is still a skipped record, by line)
        C.duration_ms: duration_ms(started, ended) if ended else
        (None if status is Status.RUNNING else api_ms),
        C.error: error,
        C.cause: cause,
        C.redrive_count: None,
        C.parent_execution_id: None,
        C.billed_duration_ms: None,
        C.billed_memory_mb: None,
        C.input_bytes: in_bytes,
        C.output_bytes: out_bytes,
        C.input_sha256: in_sha,
        C.event_count: None,
        C.attributes: json_attrs({
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



def _unavailable(state_error: Any) -> tuple[str, str | None]:
    """(error, cause) of an UNAVAILABLE execution, which carries no `error`: "execution data is
    unavailable, see the state_error field" (discovery doc), e.g. its KMS key disabled."""
    err = state_error if isinstance(state_error, dict) else {}
    kind = err.get("type")
    details = err.get("details")
    error = "UNAVAILABLE" + (f" {kind}" if isinstance(kind, str) and kind and kind != "TYPE_UNSPECIFIED" else "")
    cause = f"execution data unavailable: {details}" if isinstance(details, str) and details else None
    return error_text(error) or error, error_text(cause)
