"""What every Logic Apps record handler shares: timestamps, statuses, errors, step and try rows.

Payloads are never read: only `contentSize` of a link reaches the rows. Links (`inputsLink.uri`,
`outputsLink.uri`) carry SAS signatures and are never copied anywhere.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flowscope.collectors.azure.transform.ids import ArmId
from flowscope.collectors.native import ImportContext, Row, error_text
from flowscope.model import C, Cloud, Status, StepType, bounded_int, duration_ms, utc_text

CLOUD = Cloud.AZURE.value
ITERATION_NATIVE_TYPE = "ScopeRepetition"
"""native_type of a loop-iteration row (from `.../scopeRepetitions`): a container, never billed."""

STATUS_MAP: dict[str, Status] = {
    "succeeded": Status.SUCCEEDED,
    "failed": Status.FAILED,
    "faulted": Status.FAILED,
    "cancelled": Status.ABORTED,
    "aborted": Status.ABORTED,
    "terminated": Status.ABORTED,
    "running": Status.RUNNING,
    "waiting": Status.RUNNING,
    "paused": Status.RUNNING,
    "suspended": Status.RUNNING,
    "resuming": Status.RUNNING,
    "notspecified": Status.RUNNING,
    "timedout": Status.TIMED_OUT,
    "skipped": Status.SKIPPED,
    "ignored": Status.SKIPPED,
}


_UTC = dt.timezone.utc


def as_dict(value: Any) -> dict[str, Any]:
    """A JSON object, or an empty one in place of anything else."""
    return value if isinstance(value, dict) else {}


def properties_of(rec: dict[str, Any]) -> dict[str, Any]:
    """A record's `properties` (none: empty); anything but an object is a ValueError naming it, so
    the skip says what is wrong with the record, not which Python call failed on it."""
    props = rec.get("properties")
    if props is None:
        return {}
    if not isinstance(props, dict):
        raise ValueError(f"properties is {type(props).__name__}, not an object")
    return props


def as_list(value: Any) -> list[Any]:
    """A JSON array, or an empty one in place of anything else."""
    return value if isinstance(value, list) else []


def ts(value: Any) -> dt.datetime | None:
    """`model.utc`, with a fast path for the API's `2018-04-18T17:05:57.0929911Z` form."""
    if isinstance(value, str) and len(value) > 20 and value[-1] == "Z" and value[10] == "T" and value[19] == ".":
        frac = value[20:-1]
        if frac.isdigit():
            try:
                return dt.datetime.fromisoformat(value[:19] + "." + (frac[:6] + "000000")[:6]).replace(tzinfo=_UTC)
            except ValueError:
                pass
    return utc_text(value)


UNSAID = frozenset({"notspecified"})
"""Native statuses that tell nothing: the record's end decides, as for a status not known at all."""


def status_of(native: Any, ended: dt.datetime | None) -> Status:
    """The model's status of a native one. A status that says nothing (`NotSpecified`) or is not
    known reads as RUNNING without an end and FAILED with one: a record that ended is never left in
    flight (revisited by every sync, counted as running in every page)."""
    if isinstance(native, str):
        word = native.lower()
        hit = STATUS_MAP.get(word)
        if hit is not None and word not in UNSAID:
            return hit
    return Status.FAILED if ended is not None else Status.RUNNING


def error_of(props: dict[str, Any], status: Status) -> tuple[str | None, str | None]:
    """(error, cause): the error code and message of a failed record, truncated."""
    err = props.get("error")
    code = msg = None
    if isinstance(err, dict):
        nested = err.get("error")
        inner: dict[str, Any] = nested if isinstance(nested, dict) else err
        code = inner.get("code")
        msg = inner.get("message")
    elif isinstance(err, str):
        msg = err
    if status in (Status.FAILED, Status.TIMED_OUT, Status.ABORTED):
        code = code or props.get("code")
    return error_text(code), error_text(msg)


def first_date(*stamps: dt.datetime | None) -> dt.date | None:
    for stamp in stamps:
        if stamp is not None:
            return stamp.date()
    return None


def content_size(link: Any) -> int | None:
    if isinstance(link, dict) and isinstance(link.get("contentSize"), int):
        return bounded_int(link["contentSize"], "contentSize", 64)
    return None


def repetition_indexes(props: dict[str, Any]) -> list[tuple[str, int]]:
    out = []
    for entry in props.get("repetitionIndexes") or []:
        if not isinstance(entry, dict) or "scopeName" not in entry:
            raise ValueError("repetitionIndexes entry without scopeName")
        out.append((str(entry["scopeName"]), bounded_int(entry.get("itemIndex") or 0, "itemIndex")))
    return out


def step_row(ids: ArmId, key: str, name: str, props: dict[str, Any], ctx: ImportContext,
              *, step_type: StepType, native_type: str | None = None,
              parent: str | None = None, iteration: int | None = None) -> Row:
    started = ts(props.get("startTime"))
    ended = ts(props.get("endTime"))
    status = status_of(props.get("status"), ended)
    error, cause = error_of(props, status)
    day = first_date(started, ended, ctx.seen_at)
    if day is None:
        raise ValueError("no startTime, endTime or seen_at to date the record")
    retries = props.get("retryHistory")
    tries = (len(retries) if isinstance(retries, list) else 0) + 1
    return {
        C.cloud: CLOUD, C.workflow_id: ids.workflow_id, C.execution_id: ids.execution_id,
        C.step_key: key, C.previous_step_key: None, C.parent_step_key: parent, C.iteration: iteration,
        C.name: name, C.type: step_type.value, C.native_type: native_type, C.resource: None,
        C.status: status.value, C.started_at: started, C.ended_at: ended,
        C.duration_ms: duration_ms(started, ended),
        C.attempts: 0 if status is Status.SKIPPED else tries,
        C.error: error, C.cause: cause, C.start_date: day,
    }


def attempt_row(step: Row, attempt: int, started: dt.datetime | None, ended: dt.datetime | None,
                 status: Status, error: str | None, cause: str | None) -> Row:
    return {
        C.cloud: CLOUD, C.workflow_id: step[C.workflow_id], C.execution_id: step[C.execution_id],
        C.step_key: step[C.step_key], C.attempt: attempt, C.started_at: started, C.ended_at: ended,
        C.duration_ms: duration_ms(started, ended), C.status: status.value,
        C.error: error, C.cause: cause, C.start_date: step[C.start_date],
    }


def attempts_for(step: Row, props: dict[str, Any]) -> list[Row]:
    """One row per try: each `retryHistory` entry (a failed try), then the final try.

    The final try's start is not recorded when retries happened (the action's startTime is the
    first try's): it is left null rather than guessed.
    """
    if step[C.status] == Status.SKIPPED.value:
        return []
    rows = []
    retries = as_list(props.get("retryHistory"))
    for n, entry in enumerate(retries, 1):
        entry = as_dict(entry)
        err, cause = error_of(entry, Status.FAILED)
        rows.append(attempt_row(step, n, ts(entry.get("startTime")), ts(entry.get("endTime")),
                                 Status.FAILED, err, cause))
    final_status = Status(step[C.status])
    if final_status is Status.CAUGHT:
        final_status = Status.FAILED
    rows.append(attempt_row(step, len(retries) + 1, step[C.started_at] if not retries else None,
                             step[C.ended_at], final_status, step[C.error], step[C.cause]))
    return rows

