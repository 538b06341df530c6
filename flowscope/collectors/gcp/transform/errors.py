"""A Workflows exception as the unified model's error and cause.

Every GCP API gives an exception as its JSON text (`Error.payload`, `Exception.payload`, the logs'
`exception`): for the errors Workflows raises a map such as
``{"message": "HTTP server responded with error code 503", "code": 503, "tags": ["HttpError"]}``, for a
`raise` whatever the workflow raised (a string, a map of its own). The model's `error` is an error's
name, as the other clouds give it (``States.TaskFailed``, ``BadGateway``): here its tags, with the
HTTP code where there is one (``HttpError 503``: a 503 and a 404 are different problems); the
message goes to `cause`, before where it happened (the execution's stack context, the log's source).
A raised string is its own error; any other payload stays as written, with no message.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from flowscope.collectors.native import error_text


def error_and_cause(payload: Any, where: Any = None) -> tuple[str | None, str | None]:
    """(error, cause) of an exception payload and where it happened, each truncated. An HTTP error's
    response body and headers, which the payload carries too, are not kept."""
    if not isinstance(payload, str):
        error, message = payload, None
    elif len(payload) <= _CACHED_CHARS:
        error, message = _split_cached(payload)
    else:
        error, message = split_payload(payload)
    parts = [p for p in (message, where) if p not in (None, "")]
    return error_text(error), error_text("; ".join(str(p) for p in parts)) if parts else None


def split_payload(payload: str) -> tuple[str | None, str | None]:
    """(error name, message) of one payload's JSON text."""
    try:
        value = json.loads(payload)
    except (ValueError, RecursionError):        # RecursionError: a raised map nested thousands deep
        return payload or None, None
    if isinstance(value, str):
        return value or None, None
    if not isinstance(value, dict):
        return payload, None
    tags = value.get("tags")
    if not isinstance(tags, list) or not tags or not all(isinstance(t, str) and t for t in tags):
        return payload, None
    code = value.get("code")
    name = "/".join(tags) + (f" {code}" if isinstance(code, int) and not isinstance(code, bool) else "")
    message = value.get("message")
    return name, message if isinstance(message, str) and message else None


_CACHED_CHARS = 2_048
"""Payloads up to this size are split once per process (a failing call repeats its payload); longer
ones (an HTTP error with its response body) are not kept in the cache."""
_split_cached = functools.lru_cache(maxsize=4096)(split_payload)
