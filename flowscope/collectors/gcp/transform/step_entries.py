"""`gcp.step_entries`: a StepEntry, or ``{"stepEntries": [...]}`` -> steps and attempts rows.

Rows link through the resource names the entries carry, so entries of one execution may arrive
across pages, files and imports in any order: `assemble` settles them.
"""

from __future__ import annotations

from typing import Any

from flowscope.collectors.gcp.definition import UNKNOWN_RESOURCE
from flowscope.collectors.gcp.transform.errors import error_and_cause
from flowscope.collectors.gcp.transform.names import (
    execution_id,
    numbered_project_warnings,
    parse_name,
    workflow_id,
)
from flowscope.collectors.gcp.transform.records import (
    CALL_NATIVE_TYPES,
    CLOUD,
    ITERATION_PROGRESS,
    RETRY_PROGRESS,
    STEP_STATUS,
    STEP_TYPES,
    attempt_from,
    count_unknown,
    records_of,
    ts,
)
from flowscope.collectors.native import ImportContext, Row, text_field
from flowscope.model import TERMINAL_STATUSES, Batch, C, Skip, Status, StepType, bounded_int, duration_ms

_TYPE_VALUES = {k: v.value for k, v in STEP_TYPES.items()}
_OTHER = StepType.OTHER.value
_STATUS_VALUES = {s: s.value for s in Status}


def transform_step_entries(doc: Any, ctx: ImportContext) -> Batch:
    """StepEntry resources -> one steps row per entry, plus an attempts row per call entry.

    Retries show as repeated entries of the same call with ``PROGRESS_TYPE_RETRY``: each gets
    attempts.attempt = its progressNumber here, and `assemble` folds them into one step visit.
    """
    batch = Batch()
    items, where = records_of(doc, "stepEntries", ctx, "gcp.step_entries")
    seen: dict[tuple[str, str], tuple[Row, Row | None]] = {}
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
        key = (step[C.execution_id], step[C.step_key])
        if key in seen:
            if seen[key] != result:         # a hand-edited or merged export: the first is kept, as for AWS events
                batch.skips.append(Skip(ctx.source_name, loc, f"step entry {step[C.step_key]} of "
                                        f"{step[C.execution_id]} already seen with different content "
                                        "(the first is kept)"))
            continue
        seen[key] = result
        batch.steps.append(step)
        if attempt is not None:
            batch.attempts.append(attempt)
    workflows = {r[C.workflow_id] for r in batch.steps}
    batch.warnings.extend(numbered_project_warnings({wf.split("/", 2)[1] for wf in workflows}))
    return batch


def _step_rows(entry: Any, ctx: ImportContext, batch: Batch) -> tuple[Row, Row | None] | str:
    if not isinstance(entry, dict):
        return "step entry is not an object"
    parts = parse_name(entry.get("name"))
    if parts and parts["e"]:
        exec_id = execution_id(parts["p"], parts["l"], parts["w"], parts["e"])
    elif ctx.execution_id and (given := parse_name(ctx.execution_id)):
        exec_id = ctx.execution_id
        parts = given
    else:
        return f"step entry without an execution resource name: {entry.get('name')!r}"
    key = entry.get("entryId") or parts.get("s")
    if key in (None, ""):
        return "step entry without entryId"
    key = str(bounded_int(key, "entryId", 64))
    started = ts(entry.get("createTime"))
    if started is None:
        return "step entry without createTime"
    step = text_field(entry, "step")
    if not step:
        return "step entry without step name"
    routine = text_field(entry, "routine") or "main"
    native = text_field(entry, "stepType") or "STEP_TYPE_UNSPECIFIED"
    if native not in STEP_TYPES:
        count_unknown(batch, f"stepType:{native}")
    state = text_field(entry, "state") or "STATE_UNSPECIFIED"
    status = STEP_STATUS.get(state)
    if status is None:
        count_unknown(batch, f"stepEntry.state:{state}")
        status = Status.RUNNING
    ended = ts(entry.get("updateTime")) if status in TERMINAL_STATUSES else None
    nav = entry.get("navigationInfo") or {}
    meta = entry.get("stepEntryMetadata") or {}
    progress = meta.get("progressType")
    number = meta.get("progressNumber")
    numbered = number not in (None, "")
    iteration = bounded_int(number, "progressNumber") if progress in ITERATION_PROGRESS and numbered else None
    error, cause = error_and_cause((entry.get("exception") or {}).get("payload"))
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
        C.cause: cause,
        C.start_date: started.date(),
    }
    attempt = None
    if is_call:
        number_i = bounded_int(number, "progressNumber") if progress == RETRY_PROGRESS and numbered else 1
        attempt = attempt_from(row, max(number_i, 1))
    return row, attempt


def _key(value: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        return str(int(value))
    except (TypeError, ValueError, OverflowError):               # OverflowError: 1e400, an infinite float
        return str(value)
