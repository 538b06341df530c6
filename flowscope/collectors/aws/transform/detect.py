"""Which AWS format a parsed document is, from its shape alone."""

from __future__ import annotations

from typing import Any

from flowscope.collectors.aws.transform.names import EXECUTION, HISTORY, LOG_RECORDS, STATE_MACHINE


def detect(doc: Any) -> str | None:
    """The AWS format of a parsed document, or None when it is not a Step Functions document."""
    if isinstance(doc, list):
        return _detect_list(doc)
    if not isinstance(doc, dict):
        return None
    events = doc.get("events")
    if isinstance(events, list):
        return _detect_events(events)
    if "stateMachineArn" in doc and "definition" in doc:
        return STATE_MACHINE
    if "executionArn" in doc and "stateMachineArn" in doc and "status" in doc:
        return EXECUTION
    if isinstance(doc.get("executions"), list) and all(
            isinstance(x, dict) and "executionArn" in x for x in doc["executions"][:5]):
        return EXECUTION
    return None


def _detect_list(doc: list) -> str | None:
    """A bare list: log records, list-executions items or history events, by its first item."""
    first = doc[0] if doc else None
    if isinstance(first, dict):
        if "execution_arn" in first and "event_timestamp" in first:
            return LOG_RECORDS
        if "executionArn" in first and "stateMachineArn" in first:
            return EXECUTION
        if "previousEventId" in first and "type" in first and "id" in first:
            return HISTORY
    return None


def _detect_events(events: list) -> str | None:
    """An ``events`` list: filter-log-events output (messages are records) or a history."""
    first = events[0] if events else None
    if not isinstance(first, dict):
        return None
    if "message" in first:
        msg = first["message"]
        if isinstance(msg, str) and '"execution_arn"' in msg and '"event_timestamp"' in msg:
            return LOG_RECORDS
        if isinstance(msg, dict) and "execution_arn" in msg:
            return LOG_RECORDS
        return None
    if "type" in first and "id" in first and ("previousEventId" in first or "timestamp" in first):
        return HISTORY
    return None
