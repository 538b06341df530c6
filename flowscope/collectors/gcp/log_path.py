"""Which path a GCP execution's steps come from: its step entries, or its call logs in Cloud Logging.

Asked by the executions step for every execution it reads (`on_logs_path`, `call_logging_on`,
`logs_settled`) and by the call-logs step for the span to read (`execution_times`); apart from both so
neither imports the other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flowscope.collectors.gcp.context import NATIVE_TERMINAL, ScopeContext, workflow_of
from flowscope.model import utc

CALL_LOGGING_LEVELS = frozenset({"LOG_ALL_CALLS", "LOG_ERRORS_ONLY"})
LOG_SLACK = dt.timedelta(minutes=1)
LOG_SETTLE = dt.timedelta(minutes=5)
"""How long after an execution ends its call logs are taken as complete. Cloud Logging makes an
entry readable some time after it is written (usually seconds, at times minutes), and a finished
execution is never read again: one read sooner would keep the calls not yet readable missing."""


def call_logging_on(sc: ScopeContext, doc: Mapping[str, Any]) -> bool:
    """Whether the execution logged its calls: its own level (FULL view) wins over its workflow's."""
    level = doc.get("callLogLevel") or (sc.workflows.get(workflow_of(str(doc["name"]))) or {}).get("callLogLevel")
    return level in CALL_LOGGING_LEVELS


def execution_times(doc: Mapping[str, Any], now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """An execution's start (else its creation, else now) and end (else now): the span its call logs lie in."""
    start = utc(doc.get("startTime")) or utc(doc.get("createTime")) or now
    return start, utc(doc.get("endTime")) or now


def logs_settled(sc: ScopeContext, doc: Mapping[str, Any]) -> bool:
    """Whether a finished execution ended at least `LOG_SETTLE` before the sync's now (one without
    an end time cannot be judged: taken as settled, never held forever)."""
    end = utc(doc.get("endTime"))
    return end is None or end <= sc.now - LOG_SETTLE


def on_logs_path(sc: ScopeContext, doc: Mapping[str, Any]) -> bool:
    """A finished execution of a workflow logging all its calls, in a source with `path = "logs"`,
    that ended long enough ago for its call logs to be readable and was not stored while it ran
    (else its step entries are read)."""
    if sc.scope.path != "logs" or doc.get("state") not in NATIVE_TERMINAL or not logs_settled(sc, doc):
        return False
    if str(doc["name"]) in sc.stored_unfinished:       # its step entries are stored: stay on them
        return False
    level = doc.get("callLogLevel") or (sc.workflows.get(workflow_of(str(doc["name"]))) or {}).get("callLogLevel")
    return level == "LOG_ALL_CALLS"
