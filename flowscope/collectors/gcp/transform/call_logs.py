"""Call logs (EngineCallLog entries) -> call steps, one per call, each with one attempt.

Call steps have no entry id: their step_key is ``<step>@<call start time>``, which both the
BEGUN record (its activityTime) and the record ending the call (callStartTime) carry, so the two
halves meet even when they come from different files.

The logs path reads hundreds of thousands of these records per sync, so the per-record work is
kept small: timestamps are parsed once per distinct text (`Stamps`, with a fast path for the
API's fixed RFC 3339 shape), and a call's attempts row is built once, from its final state
(`CallLogs.attempts_rows`), not again after each of its records.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from flowscope.collectors.gcp.definition import UNKNOWN_RESOURCE, UNRESOLVED_HOST, call_resource, resource_is_wait
from flowscope.collectors.gcp.transform.errors import error_and_cause
from flowscope.collectors.gcp.transform.records import CALL_LOG_NATIVE_TYPE, CLOUD, attempt_from, count_unknown
from flowscope.collectors.native import Row, text_field
from flowscope.model import Batch, C, Status, StepType, duration_ms, utc

_DETAIL_KEYS = {"BEGUN": "begun", "SUCCEEDED": "succeeded", "EXCEPTION_RAISED": "exceptionRaised",
                "EXCEPTION_HANDLED": "exceptionHandled"}
"""call log state -> the payload field holding its details."""

_RUNNING, _SUCCEEDED, _FAILED, _CAUGHT = (Status.RUNNING.value, Status.SUCCEEDED.value, Status.FAILED.value,
                                          Status.CAUGHT.value)
_WAIT = StepType.WAIT.value
_SKIP_RESOURCE = f" {UNRESOLVED_HOST}"
# column names bound once: looking them up on `C` for every record was a tenth of its cost
_WORKFLOW_ID, _EXECUTION_ID, _STEP_KEY, _NAME, _TYPE, _RESOURCE, _STATUS = (
    C.workflow_id, C.execution_id, C.step_key, C.name, C.type, C.resource, C.status)
_STARTED, _ENDED, _DURATION, _ERROR, _CAUSE, _START_DATE = (
    C.started_at, C.ended_at, C.duration_ms, C.error, C.cause, C.start_date)
_CALL_ROW: Row = {
    C.cloud: CLOUD, C.workflow_id: None, C.execution_id: None, C.step_key: None, C.previous_step_key: None,
    C.parent_step_key: None, C.iteration: None, C.name: None, C.type: StepType.TASK.value,
    C.native_type: CALL_LOG_NATIVE_TYPE, C.resource: UNKNOWN_RESOURCE, C.status: _RUNNING, C.started_at: None,
    C.ended_at: None, C.duration_ms: None, C.attempts: 1, C.error: None, C.cause: None, C.start_date: None,
}
"""A call step as its first record opens it; `read` fills in the ids, name and start."""
_fromisoformat = dt.datetime.fromisoformat
_MISSING = object()


class Stamps:
    """`model.utc` of the timestamps of one document, each distinct text parsed once.

    A call's start time is written twice (BEGUN's activityTime, then the ending record's
    callStartTime). The API writes ``2026-11-01T10:00:00.123456789Z``: for that exact shape the
    text is cut to microseconds and handed to `datetime.fromisoformat` (what `utc` does, minus its
    scanning); any other text goes through `utc` itself, so results and errors are the same.
    """

    __slots__ = ("_keys", "_times")

    def __init__(self) -> None:
        self._times: dict[str, Any] = {}
        self._keys: dict[str, Any] = {}

    def time(self, value: Any) -> dt.datetime | None:
        if type(value) is not str:
            return utc(value)
        when = self._times.get(value, _MISSING)
        if when is _MISSING:
            if (len(value) == 30 and value[29] == "Z" and value.find(".") == 19 and value[20:29].isdigit()
                    and not value[0].isspace()):
                when = _fromisoformat(value[:26] + "+00:00")
            else:
                when = utc(value)
            self._times[value] = when
        return cast("dt.datetime | None", when)

    def key(self, value: Any) -> tuple[dt.datetime, str] | None:
        """The time and its isoformat (the step key's suffix), or None without a time."""
        if type(value) is not str:
            when = utc(value)
            return (when, when.isoformat()) if when is not None else None
        out = self._keys.get(value, _MISSING)
        if out is _MISSING:
            when = self.time(value)
            out = self._keys[value] = (when, when.isoformat()) if when is not None else None
        return cast("tuple[dt.datetime, str] | None", out)


class CallLogs:
    """The call steps of one document, built record by record (`read`), in first-seen order."""

    __slots__ = ("_attempts", "_resources", "calls", "stamps")

    def __init__(self, stamps: Stamps | None = None) -> None:
        self.stamps = stamps or Stamps()
        self.calls: dict[tuple[str, str], Row] = {}
        # attempts row per (execution, key): the call row itself while it mirrors the row's
        # current state, a frozen copy once the row may change under another key (see `read`)
        self._attempts: dict[tuple[str, str], Row] = {}
        self._resources: dict[tuple[str, str | None], str] = {}

    def steps_rows(self) -> list[Row]:
        return list(self.calls.values())

    def attempts_rows(self) -> list[Row]:
        return [a if C.attempt in a else _attempt(a) for a in self._attempts.values()]

    def read(self, payload: dict, exec_id: str, wf_id: str, batch: Batch) -> str | None:
        """Fold one EngineCallLog payload into its call's row; a reason when it cannot be read."""
        state = payload.get("state")
        step = text_field(payload, "step")
        if not step:
            return "call log without step"
        routine = text_field(payload, "routine")
        name = step if routine in (None, "", "main") else f"{routine}/{step}"
        stamps = self.stamps
        activity = payload.get("activityTime")
        when = stamps.time(activity)
        callee = text_field(payload, "callee") or None
        detail_key = _DETAIL_KEYS.get(state) if isinstance(state, str) else None
        if detail_key is None:
            count_unknown(batch, f"callLog.state:{state}")
            return None
        detail = payload.get(detail_key) or {}
        begun = state == "BEGUN"
        start_key = (stamps.key(activity) if when is not None else None) if begun \
            else stamps.key(detail.get("callStartTime"))
        if start_key is None:
            return "call log without activityTime / callStartTime"
        start, start_text = start_key
        key = f"{name}@{start_text}"
        calls = self.calls
        row = calls.get((exec_id, key))
        own = True
        if row is None:
            if state == "EXCEPTION_HANDLED":
                origin = detail.get("origin")
                row = calls.get((exec_id, f"{origin}@{start_text}")) if origin else None
                if row is None:
                    return None        # handled an exception of a call not in this document
                own = False
                # the row changes under another call's key: its own attempts row keeps its state
                mine = (exec_id, row[_STEP_KEY])
                if self._attempts.get(mine) is row:
                    self._attempts[mine] = _attempt(row)
            else:
                row = _CALL_ROW.copy()
                row[_WORKFLOW_ID], row[_EXECUTION_ID], row[_STEP_KEY], row[_NAME] = wf_id, exec_id, key, name
                row[_STARTED], row[_START_DATE] = start, start.date()
                calls[(exec_id, key)] = row
        if callee:
            url = ((detail.get("namedArgs") or {}).get("url")) if begun else None
            resource = self._resource(callee, url)
            if row[_RESOURCE] in (UNKNOWN_RESOURCE, None) or not resource.endswith(_SKIP_RESOURCE):
                row[_RESOURCE] = resource
        if state == "SUCCEEDED":
            row[_STATUS], row[_ENDED], row[_ERROR] = _SUCCEEDED, when, None
        elif state == "EXCEPTION_RAISED":
            row[_STATUS], row[_ENDED] = _FAILED, when
            row[_ERROR], row[_CAUSE] = error_and_cause(detail.get("exception"), detail.get("origin"))
        elif state == "EXCEPTION_HANDLED" and row[_STATUS] in (_FAILED, _RUNNING):
            row[_STATUS] = _CAUGHT
            if row[_ERROR] is None:
                row[_ERROR], row[_CAUSE] = error_and_cause(detail.get("exception"), row[_CAUSE])
        row[_DURATION] = duration_ms(row[_STARTED], row[_ENDED])
        if resource_is_wait(row[_RESOURCE]):
            row[_TYPE] = _WAIT
        # an attempts row mirrors its call row and is built at the end; one reached through
        # another call's key is a copy now, as that key's later records would not refresh it
        self._attempts[(exec_id, key)] = row if own else _attempt(row)
        return None

    def _resource(self, callee: Any, url: Any) -> str:
        """`call_resource`, once per (callee, url) of the document (a URL is parsed for its host)."""
        if type(callee) is not str or not (url is None or type(url) is str):
            return call_resource(callee, url)
        resource = self._resources.get((callee, url))
        if resource is None:
            resource = self._resources[(callee, url)] = call_resource(callee, url)
        return resource


def _attempt(row: Row) -> Row:
    """The one attempts row of a call: its step's state, CAUGHT kept (the only trace of the
    handling in call logs)."""
    attempt = attempt_from(row, 1)
    attempt[C.status] = row[C.status]
    return attempt
