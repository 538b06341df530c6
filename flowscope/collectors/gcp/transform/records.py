"""What every GCP format module shares: statuses, step types, timestamps, list responses.

Payloads (argument, result, variableData, call arguments and responses) are never stored: only
the sizes and SHA-256 of argument and result.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from flowscope.collectors.native import ImportContext, NativeFormatError, Row, cleaned_texts
from flowscope.model import Batch, C, Cloud, Kind, Status, StepType, utc_text

CLOUD = Cloud.GCP.value
KIND = Kind.GCP_WORKFLOWS.value
CALL_LOG_NATIVE_TYPE = "call_log"
"""`steps.native_type` of call steps rebuilt from EngineCallLog records (they carry no step type)."""

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
ITERATION_PROGRESS = frozenset({"PROGRESS_TYPE_FOR", "PROGRESS_TYPE_PARALLEL_FOR", "PROGRESS_TYPE_PARALLEL_BRANCH"})
RETRY_PROGRESS = "PROGRESS_TYPE_RETRY"


_UTC = dt.timezone.utc


def ts(value: Any) -> dt.datetime | None:
    """`utc` with a fast path for the API's own shape, ``2026-11-01T10:00:00.123456789Z``."""
    if isinstance(value, str) and len(value) == 30 and value[19] == "." and value[29] == "Z":
        try:
            return dt.datetime(int(value[0:4]), int(value[5:7]), int(value[8:10]), int(value[11:13]),
                               int(value[14:16]), int(value[17:19]), int(value[20:26]), _UTC)
        except ValueError:
            pass
    return utc_text(value)


def seconds_ms(text: Any) -> int | None:
    """google-duration ("3.5s") -> milliseconds."""
    if isinstance(text, str) and text.endswith("s"):
        try:
            ms = float(text[:-1]) * 1000
        except ValueError:
            return None
        if not math.isfinite(ms) or not -(1 << 63) <= round(ms) < 1 << 63:
            raise ValueError(f"duration {text!r} is out of range")
        return int(round(ms))
    return None


def json_attrs(values: dict[str, Any]) -> str | None:
    """A row's `attributes`: the values given, but empty ones, with every text cleaned, then cut."""
    kept = {k: cleaned_texts(v) for k, v in values.items() if v not in (None, "", [], {})}
    return json.dumps(kept, sort_keys=True) if kept else None


def records_of(doc: Any, key: str, ctx: ImportContext, fmt: str) -> tuple[list[Any], str]:
    """The list of records of a list response, or the single resource itself, and where they are:
    the key, "$" for a single resource, "" for a top-level list (``[3]``, which the importer turns
    into the record's line)."""
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
        return doc, ""
    raise NativeFormatError(ctx.source_name, "$", f"{fmt}: expected a JSON object, got {type(doc).__name__}")


def count_unknown(batch: Batch, key: str) -> None:
    batch.unknown_event_types[key] = batch.unknown_event_types.get(key, 0) + 1



def attempt_from(step: Row, number: int) -> Row:
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



def step_order(key: str) -> tuple[int, int, str]:
    """Step keys in execution order: entry ids by number, then call-log keys by text."""
    return (0, int(key), "") if key.isdigit() else (1, 0, key)
