"""A failed state's cause as the model keeps it: the message, not the job's description.

Step Functions gives a failed integration's cause as text. For a `.sync` job it is the JSON of the
job as its service describes it: a child execution with its `Input` and `Output`, an ECS task with
its container overrides and environment, a Glue run with its `Arguments`, a Batch job with its
container, an Athena query with its SQL. That text holds the payloads and secrets the store does not
keep (payloads are sized and hashed, never stored), and reads as a wall of JSON on every page.

The cause kept is the job's own message (its `Cause`, `ErrorMessage`, `StoppedReason`, ...), after
the child's error name where it gives one, with the job's id. A Lambda error's JSON (`errorMessage`,
`errorType`, `stackTrace`, `requestId`: no payload) stays as written: the analyses read its message
(`analysis.base.error_template`). Any other JSON object loses its payload-like keys. Plain text stays
as written. A JSON cause cut short before it parses (the API's 32 KB limit) keeps the message a
pattern finds in it, else a note that it was not kept (its first characters could be the payload).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from flowscope.collectors.native import error_text

MESSAGE_KEYS = ("Cause", "ErrorMessage", "StoppedReason", "StatusReason", "StateChangeReason", "FailureReason",
                "Message", "Reason")
"""Keys that carry a job's failure message, by precedence at each depth: a child execution's `Cause`,
Glue's `ErrorMessage`, ECS's `StoppedReason`, Batch's `StatusReason`, Athena's and EMR's
`Status.StateChangeReason`, SageMaker's `FailureReason`, nested `Message` / `Reason`."""

ID_KEYS = ("ExecutionArn", "TaskArn", "JobArn", "JobId", "JobRunId", "Id", "QueryExecutionId", "BuildArn", "Arn")
"""Keys that name the job, by precedence: the id kept beside the message."""

PAYLOAD_KEYS = frozenset({"input", "output", "payload", "arguments", "parameters", "overrides", "environment",
                          "environmentvariables", "body", "headers", "query", "inputdetails", "outputdetails"})
"""Keys (any case) whose values are data rather than a description of the failure."""

LAMBDA_KEY = "errorMessage"
_DEPTH = 4
_UNPARSED = re.compile(r'"(?:' + "|".join(MESSAGE_KEYS[:6]) + r')"\s*:\s*"((?:[^"\\]|\\.)*)"')
CUT_SHORT = "(a job description cut short by Step Functions, with no message found: not kept)"


def readable_cause(cause: Any) -> str | None:
    """The cause to keep (truncated): see the module's docstring."""
    if cause is None:
        return None
    if isinstance(cause, str):
        if not cause.lstrip().startswith("{"):
            return error_text(cause)
        try:
            value = json.loads(cause)
        except (ValueError, RecursionError):        # RecursionError: nested thousands of levels deep
            return error_text(_unparsed(cause))
    else:
        value = cause
    if not isinstance(value, dict) or LAMBDA_KEY in value:      # not a job's description: as written
        return error_text(cause if isinstance(cause, str) else _dump(value))
    return error_text(_from_description(value))


def _from_description(job: dict[str, Any]) -> str:
    message = _first(job, MESSAGE_KEYS)
    if message is not None and message.startswith("{"):     # a child's cause that is itself a job's
        message = readable_cause(message)
    error = job.get("Error") if isinstance(job.get("Error"), str) else None
    job_id = _first(job, ID_KEYS)
    if message is None and error is None:
        return _dump(_without_payloads(job))
    text = ": ".join(p for p in (error, message) if p)
    return f"{text} ({job_id})" if job_id else text


def _first(value: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first non-empty string under one of `keys`, nearest the top first, then by the keys' order."""
    for level in _levels(value):
        for key in keys:
            for node in level:
                found = node.get(key)
                if isinstance(found, str) and found.strip():
                    return found.strip()
    return None


def _levels(value: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    level = [value]
    for _ in range(_DEPTH):
        if not level:
            return
        yield level
        below: list[dict[str, Any]] = []
        for node in level:
            for key, child in node.items():
                if key.lower() in PAYLOAD_KEYS:
                    continue
                kids = child if isinstance(child, list) else [child]
                below.extend(k for k in kids if isinstance(k, dict))
        level = below


def _without_payloads(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_payloads(v) for k, v in value.items() if str(k).lower() not in PAYLOAD_KEYS}
    if isinstance(value, list):
        return [_without_payloads(v) for v in value]
    return value


def _unparsed(cause: str) -> str:
    found = _UNPARSED.search(cause)
    if found and found.group(1):
        return found.group(1)
    return CUT_SHORT


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
