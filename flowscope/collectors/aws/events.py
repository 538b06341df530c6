"""Step Functions history events: the event-type table, timestamps, ARNs, and log-record conversion.

Pure helpers shared by the `transform` package (and usable by the live collectors). Two native shapes
carry the same events:

- the API shape (`GetExecutionHistory`): camelCase, ``id``/``previousEventId`` as numbers,
  ``timestamp`` as a datetime (boto3), an ISO string (`aws` CLI) or epoch seconds (raw JSON
  API), details under ``<lowerType>EventDetails`` (``stateEnteredEventDetails`` for every
  ``*StateEntered``);
- the CloudWatch Logs shape (Standard/Express log records): snake_case, ids as strings,
  ``event_timestamp`` as epoch milliseconds in a string, details under ``details``.

`log_record_to_event` turns the second into the first, so ONE history transform serves both.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from enum import IntEnum
from typing import Any

from flowscope.model import UTC, utc

# ------------------------------------------------------------------ event kinds

class EventKind(IntEnum):
    """What a history event does to the execution's rows; the history builder dispatches on it."""

    ENTERED = 1                  # <Type>StateEntered: a visit of a state begins
    EXITED = 2
    STATE_ABORTED = 3            # <Type>StateAborted (a branch was cancelled)
    TRY_SCHEDULED = 4            # a new try of a Task begins
    TRY_STARTED = 5
    TRY_SUBMITTED = 6            # callback / .sync task handed over, still running
    TRY_SUCCEEDED = 7
    TRY_FAILED = 8
    TRY_TIMED_OUT = 9
    TRY_START_FAILED = 10        # failed before starting (ScheduleFailed / StartFailed / SubmitFailed)
    PARALLEL_STARTED = 11
    MAP_STARTED = 12
    CONTAINER_SUCCEEDED = 13
    CONTAINER_FAILED = 14
    CONTAINER_ABORTED = 15
    ITERATION_STARTED = 16
    ITERATION_ENDED = 17
    MAP_RUN_STARTED = 18
    MAP_RUN_ENDED = 19
    MAP_RUN_FAILED = 20
    EXEC_STARTED = 21
    EXEC_SUCCEEDED = 22
    EXEC_FAILED = 23
    EXEC_TIMED_OUT = 24
    EXEC_ABORTED = 25
    EXEC_REDRIVEN = 26
    EVALUATION_FAILED = 27       # JSONata / variables evaluation error inside a state


STATE_TYPES = ("Task", "Choice", "Wait", "Pass", "Parallel", "Map", "Succeed", "Fail")

_KINDS: dict[str, EventKind] = {
    "ExecutionStarted": EventKind.EXEC_STARTED,
    "ExecutionSucceeded": EventKind.EXEC_SUCCEEDED,
    "ExecutionFailed": EventKind.EXEC_FAILED,
    "ExecutionTimedOut": EventKind.EXEC_TIMED_OUT,
    "ExecutionAborted": EventKind.EXEC_ABORTED,
    "ExecutionRedriven": EventKind.EXEC_REDRIVEN,
    "ParallelStateStarted": EventKind.PARALLEL_STARTED,
    "ParallelStateSucceeded": EventKind.CONTAINER_SUCCEEDED,
    "ParallelStateFailed": EventKind.CONTAINER_FAILED,
    "MapStateStarted": EventKind.MAP_STARTED,
    "MapStateSucceeded": EventKind.CONTAINER_SUCCEEDED,
    "MapStateFailed": EventKind.CONTAINER_FAILED,
    "MapIterationStarted": EventKind.ITERATION_STARTED,
    "MapIterationSucceeded": EventKind.ITERATION_ENDED,
    "MapIterationFailed": EventKind.ITERATION_ENDED,
    "MapIterationAborted": EventKind.ITERATION_ENDED,
    "MapRunStarted": EventKind.MAP_RUN_STARTED,
    "MapRunSucceeded": EventKind.MAP_RUN_ENDED,
    "MapRunRedriven": EventKind.MAP_RUN_ENDED,
    "MapRunFailed": EventKind.MAP_RUN_FAILED,
    "MapRunAborted": EventKind.MAP_RUN_FAILED,
    "EvaluationFailed": EventKind.EVALUATION_FAILED,
}
for _st in STATE_TYPES:
    _KINDS[_st + "StateEntered"] = EventKind.ENTERED
    if _st != "Fail":                      # a Fail state never exits
        _KINDS[_st + "StateExited"] = EventKind.EXITED
for _st in ("Task", "Wait", "Parallel", "Map", "Choice", "Pass"):
    _KINDS[_st + "StateAborted"] = EventKind.STATE_ABORTED
# ParallelStateAborted / MapStateAborted end the container, like Failed.
_KINDS["ParallelStateAborted"] = EventKind.CONTAINER_ABORTED
_KINDS["MapStateAborted"] = EventKind.CONTAINER_ABORTED
for _p in ("LambdaFunction", "Task", "Activity"):
    _KINDS[_p + "Scheduled"] = EventKind.TRY_SCHEDULED
    _KINDS[_p + "Started"] = EventKind.TRY_STARTED
    _KINDS[_p + "Succeeded"] = EventKind.TRY_SUCCEEDED
    _KINDS[_p + "Failed"] = EventKind.TRY_FAILED
    _KINDS[_p + "TimedOut"] = EventKind.TRY_TIMED_OUT
    _KINDS[_p + "ScheduleFailed"] = EventKind.TRY_START_FAILED
    _KINDS[_p + "StartFailed"] = EventKind.TRY_START_FAILED
_KINDS["TaskSubmitted"] = EventKind.TRY_SUBMITTED
_KINDS["TaskSubmitFailed"] = EventKind.TRY_START_FAILED


def details_key(event_type: str) -> str:
    """Where the API puts an event type's details (``stateEnteredEventDetails`` for every
    ``*StateEntered``, else ``<lowerType>EventDetails``), known type or not."""
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    return event_type[0].lower() + event_type[1:] + "EventDetails"


# type -> (kind, API details key). Unknown types are absent and get counted, not dropped.
EVENT_TYPES: dict[str, tuple[EventKind, str]] = {t: (k, details_key(t)) for t, k in _KINDS.items()}


def event_info(event_type: str) -> tuple[EventKind, str] | None:
    return EVENT_TYPES.get(event_type)


# ------------------------------------------------------------------ timestamps

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_timedelta = dt.timedelta


def parse_timestamp(value: Any) -> dt.datetime | None:
    """Event timestamps in any shape AWS prints, as aware UTC datetimes.

    Numbers are epoch SECONDS in the API shape (the raw JSON API and the `aws` CLI with
    numeric timestamps); a number too large for seconds (> 1e11) is taken as milliseconds,
    which is what log records carry. `model.utc` is the fallback for unusual ISO forms.
    """
    if value.__class__ is dt.datetime and value.tzinfo is UTC:
        return value
    if value.__class__ is str:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            try:
                if value.isdigit():
                    return _EPOCH + dt.timedelta(milliseconds=int(value))
                return utc(value)
            except (OverflowError, OSError) as exc:
                raise ValueError(f"timestamp {value!r} out of range") from exc
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000.0 if value > 1e11 else value
        try:
            return _EPOCH + dt.timedelta(microseconds=round(seconds * 1_000_000))
        except (OverflowError, ValueError) as exc:    # out of datetime's range, inf, nan
            raise ValueError(f"timestamp {value!r} out of range") from exc
    if value is None:
        return None
    raise ValueError(f"unreadable timestamp {value!r}")


# ------------------------------------------------------------------ ARNs

_ARN = re.compile(r"^arn:(?P<partition>[^:]+):states:(?P<region>[^:]*):(?P<account>[^:]*):"
                  r"(?P<kind>execution|express|stateMachine|mapRun):(?P<rest>.+)$")


def parse_arn(arn: str) -> dict[str, str] | None:
    """Split a Step Functions ARN into partition, region, account, resource kind and the rest."""
    m = _ARN.match(arn) if isinstance(arn, str) else None
    return m.groupdict() if m else None


def state_machine_arn(execution_arn: str) -> str | None:
    """The state machine an execution belongs to, derived from the execution ARN.

    ``arn:aws:states:R:A:execution:SM:name`` and ``arn:aws:states:R:A:express:SM:name:uuid``
    give ``arn:aws:states:R:A:stateMachine:SM``. A Distributed Map child execution
    (``...:execution:SM/mapRunLabel:uuid``) belongs to the parent state machine ``SM``:
    its transitions are billed to it and its steps are the Map's item processor. So does the
    ``stateMachine:SM/mapRunLabel`` ListExecutions(mapRunArn) names as such a child's state
    machine (a state machine's own name cannot hold a ``/``).
    A version / alias suffix (``SM:3``) never appears in execution ARNs.
    """
    parts = parse_arn(execution_arn)
    if parts is None:
        return None
    if parts["kind"] == "stateMachine":
        sm = parts["rest"].split(":", 1)[0].split("/", 1)[0]
    elif parts["kind"] == "mapRun":
        sm = parts["rest"].split("/", 1)[0]
    else:
        sm = parts["rest"].split(":", 1)[0].split("/", 1)[0]
    return f"arn:{parts['partition']}:states:{parts['region']}:{parts['account']}:stateMachine:{sm}"


def execution_name(execution_arn: str) -> str | None:
    parts = parse_arn(execution_arn)
    if parts is None or parts["kind"] not in ("execution", "express"):
        return None
    bits = parts["rest"].split(":")
    return bits[1] if len(bits) > 1 else None


def is_express_arn(arn: str) -> bool:
    """Express executions are the only ones whose ARN has the ``:express:`` resource type."""
    return ":express:" in arn


# ------------------------------------------------------------------ log records

LOG_RECORD_KEYS = ("id", "type", "execution_arn", "event_timestamp")


def _beyond_any_id(record: dict[str, Any]) -> ValueError:
    """The error for a record whose `id` or `previous_event_id` is an infinite float (`1e400` in the JSON), which
    `int` refuses with an OverflowError: the callers skip ValueErrors by line."""
    field = "id" if isinstance(record["id"], float) and math.isinf(record["id"]) else "previous_event_id"
    return ValueError(f"{field} {record.get(field)!r} is no event id")


def log_record_to_event(record: dict[str, Any]) -> dict[str, Any]:
    """One CloudWatch Logs record of an execution -> one API-shape history event.

    Raises ValueError (caller turns it into a `Skip`) when a required field is missing or
    unreadable. ``event_timestamp`` (epoch ms string) becomes an aware UTC datetime, the shape boto3 gives.
    """
    event_type = record["type"]
    if not isinstance(event_type, str) or not event_type:
        raise ValueError("record has no event type")
    ms = record["event_timestamp"]
    try:
        if ms.__class__ is str:
            if not ms.isdigit():
                raise ValueError(f"event_timestamp {ms!r} is not epoch milliseconds")
            timestamp = _EPOCH + _timedelta(milliseconds=int(ms))
        elif isinstance(ms, (int, float)) and not isinstance(ms, bool):
            timestamp = _EPOCH + _timedelta(milliseconds=ms)
        else:
            raise ValueError(f"event_timestamp {ms!r} is not epoch milliseconds")
    except OverflowError as exc:
        raise ValueError(f"event_timestamp {ms!r} out of range") from exc
    prev = record.get("previous_event_id")
    info = EVENT_TYPES.get(event_type)
    try:
        event = {
            "id": int(record["id"]),
            "previousEventId": int(prev) if prev not in (None, "") else 0,
            "timestamp": timestamp,
            "type": event_type,
        }
    except OverflowError as exc:      # 1e400 in the JSON: an infinite float
        raise _beyond_any_id(record) from exc
    details = record.get("details")
    if details is not None and not isinstance(details, dict):
        raise ValueError(f"details is a {type(details).__name__}, not an object")
    if details:
        event[info[1] if info else details_key(event_type)] = details
    return event


_fromtimestamp = dt.datetime.fromtimestamp


def log_record_fields(record: dict[str, Any]) -> tuple[int, int, dt.datetime, str, Any]:
    """One log record -> ``(id, previous id, timestamp, type, details)``, what the history
    builder consumes: the same values as `log_record_to_event` without building the event dict
    (the log path's hot loop). Raises KeyError / ValueError / TypeError like it.

    ``event_timestamp`` is epoch milliseconds: ``fromtimestamp(ms / 1000)`` is exact to the
    millisecond (a double carries ~0.1 us at today's epoch; datetime rounds to the microsecond).
    """
    event_type = record["type"]
    if event_type.__class__ is not str or not event_type:
        raise ValueError("record has no event type")
    ms = record["event_timestamp"]
    try:
        if ms.__class__ is str:
            if not ms.isdigit():
                raise ValueError(f"event_timestamp {ms!r} is not epoch milliseconds")
            timestamp = _fromtimestamp(int(ms) / 1000, UTC)
        elif ms.__class__ is int or ms.__class__ is float:
            timestamp = _fromtimestamp(ms / 1000, UTC)
        else:
            raise ValueError(f"event_timestamp {ms!r} is not epoch milliseconds")
    except (OverflowError, OSError) as exc:
        raise ValueError(f"event_timestamp {ms!r} out of range") from exc
    prev = record.get("previous_event_id")
    try:
        return (int(record["id"]), int(prev) if prev is not None and prev != "" else 0, timestamp, event_type,
                record.get("details"))
    except OverflowError as exc:      # 1e400 in the JSON: an infinite float
        raise _beyond_any_id(record) from exc
