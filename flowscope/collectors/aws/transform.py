"""Pure transforms: AWS Step Functions native records -> unified model rows.

Fulfils the contract of `flowscope.collectors.native`: ``FORMATS``, ``detect`` and
``assemble``. No I/O: the live collectors (GetExecutionHistory, CloudWatch Logs) and the
importer (files the user saved with the `aws` CLI) both call these functions.

Formats
-------
``aws.history``       ``aws stepfunctions get-execution-history`` output (``{"events": [...]}``);
                      the execution ARN comes from ``ctx.execution_id`` (``--execution-arn``).
``aws.log_records``   CloudWatch Logs records of executions (Standard or Express, any level),
                      as a list of records or as ``aws logs filter-log-events`` output.
``aws.state_machine`` ``describe-state-machine`` output -> one workflows row.
``aws.execution``     ``describe-execution`` / ``list-executions`` output -> executions rows
                      without steps (what is known before, or instead of, the history).

How a history becomes rows (see `_HistoryBuilder`)
--------------------------------------------------
- One step row per state visit: ``<Type>StateEntered`` opens it, ``<Type>StateExited`` closes
  it. ``step_key`` is the id of the Entered event as a string: ids are assigned by Step
  Functions and never change, so re-collecting an execution replaces the same keys.
- Which branch / iteration a visit belongs to is read from ``previousEventId``: the first
  state of a Map iteration points at ``MapIterationStarted`` (which carries ``index``), the
  first state of a Parallel branch at ``ParallelStateStarted``, and any later state at the
  exit of the state before it in the same branch. Branches run concurrently, so their
  events interleave in id order: following that chain, not the order, is what keeps them
  apart. Where the chain is missing (log levels that drop events) the state is put under the
  innermost open Parallel/Map, and `assemble` settles the branch from the definition.
- Tasks: each ``*Scheduled`` (Lambda, service integration, activity) starts a try; the
  try ends with ``*Succeeded`` / ``*Failed`` / ``*TimedOut`` / ``*StartFailed``. Parallel and
  Map retries show up as a repeated ``*StateStarted`` inside one visit: they count as tries
  of that step too (billing counts each retry as a transition), without attempts rows.
- A failed visit is CAUGHT when the state still exited (a Catch moved on), FAILED / TIMED_OUT
  when the failure ended the execution.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from flowscope.collectors.assemble import merge_rows
from flowscope.collectors.aws import events as E
from flowscope.collectors.native import ImportContext, NativeFormatError, Row
from flowscope.model import (
    MAX_DEFINITION_CHARS,
    Batch,
    C,
    Cloud,
    Kind,
    Meter,
    Skip,
    Status,
    StepType,
    duration_ms,
    payload_size_and_hash,
    truncate,
)

DEFER_ASSEMBLE = "defer_assemble"
"""ImportContext option: leave `assemble` (usage, definition fixes) to the caller's
`assemble_batch`, which the live collector's writer runs on every chunk: assembling twice costs
a fifth of the log path's CPU."""
CLOUD = Cloud.AWS.value

HISTORY = "aws.history"
LOG_RECORDS = "aws.log_records"
STATE_MACHINE = "aws.state_machine"
EXECUTION = "aws.execution"

STEP_TYPES: dict[str, str] = {
    "Task": StepType.TASK.value,
    "Choice": StepType.CHOICE.value,
    "Wait": StepType.WAIT.value,
    "Pass": StepType.PASS.value,
    "Parallel": StepType.PARALLEL.value,
    "Map": StepType.MAP.value,
    "Succeed": StepType.SUCCEED.value,
    "Fail": StepType.FAIL.value,
}

NATIVE_STATUS: dict[str, str] = {
    "RUNNING": Status.RUNNING.value,
    "SUCCEEDED": Status.SUCCEEDED.value,
    "FAILED": Status.FAILED.value,
    "TIMED_OUT": Status.TIMED_OUT.value,
    "ABORTED": Status.ABORTED.value,
    "PENDING_REDRIVE": Status.RUNNING.value,   # a redrive was accepted and has not started yet
}

EXPRESS_BILLING_INCREMENT_MS = 100
EXPRESS_MEMORY_CHUNK_MB = 64

_S_RUNNING = Status.RUNNING.value
_S_SUCCEEDED = Status.SUCCEEDED.value
_S_FAILED = Status.FAILED.value
_S_CAUGHT = Status.CAUGHT.value
_S_TIMED_OUT = Status.TIMED_OUT.value
_S_ABORTED = Status.ABORTED.value
_FAILURES = frozenset({_S_FAILED, _S_TIMED_OUT, _S_ABORTED})
_MS = dt.timedelta(milliseconds=1)


# ====================================================================== small helpers

def _payload(value: Any) -> tuple[int | None, str | None]:
    """Size and hash of a payload. The API sends JSON strings; already-parsed values (as in
    normalised recordings) are re-serialised compactly so the size is close to the wire size."""
    if value is None or isinstance(value, (str, bytes)):
        return payload_size_and_hash(value)
    return payload_size_and_hash(json.dumps(value, separators=(",", ":"), sort_keys=True))


def _text(value: Any) -> str | None:
    """Error / cause text, truncated. Causes are JSON strings in the API; keep them as text."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return truncate(value)


def _error_from_output(output: Any) -> tuple[Any, Any]:
    """A Catch passes ``{"Error": ..., "Cause": ...}`` on as the state's output (with the default
    ResultPath); it is the only place where a caught Parallel / Map failure names its error."""
    if isinstance(output, str):
        if '"Error"' not in output:
            return None, None
        try:
            output = json.loads(output)
        except ValueError:
            return None, None
    if isinstance(output, dict) and "Error" in output:
        return output.get("Error"), output.get("Cause")
    return None, None


_duration = duration_ms


def parse_json(text: str | bytes, source_name: str = "<memory>") -> Any:
    """Parse a document's text; a broken (e.g. truncated) file raises NativeFormatError with the
    line and column where parsing stopped, instead of a bare JSONDecodeError."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise NativeFormatError(source_name, f"line {exc.lineno} column {exc.colno}",
                                f"not valid JSON: {exc.msg}") from None


def _as_doc(doc: Any, ctx: ImportContext) -> Any:
    return parse_json(doc, ctx.source_name) if isinstance(doc, (str, bytes)) else doc


_KIND_STANDARD = Kind.SFN_STANDARD.value
_KIND_EXPRESS = Kind.SFN_EXPRESS.value
_STEP_OTHER = StepType.OTHER.value
_METER_TRANSITION = Meter.AWS_SFN_STATE_TRANSITION.value
_METER_REQUEST = Meter.AWS_SFN_EXPRESS_REQUEST.value
_METER_GB_SECOND = Meter.AWS_SFN_EXPRESS_GB_SECOND.value


_IDENTITIES: dict[str, dict[str, Any]] = {}
_IDENTITIES_MAX = 4096


def _identity(execution_arn: str) -> dict[str, Any]:
    """Account, region, state machine (workflow_id / workflow_name) and kind from the ARN alone.

    They depend only on the ARN up to the state machine (``arn:P:states:R:A:execution:SM``), so
    they are computed once per machine (a bounded cache), not once per execution.
    """
    cut = execution_arn.split(":", 7)
    key = ":".join(cut[:7]) if len(cut) == 8 else None
    ident = _IDENTITIES.get(key) if key is not None else None
    if ident is None:
        sm_arn = E.state_machine_arn(execution_arn)
        parts = execution_arn.split(":")
        ident = {
            C.account: (parts[4] or None) if len(parts) > 4 else None,
            C.region: (parts[3] or None) if len(parts) > 3 else None,
            C.workflow_id: sm_arn or execution_arn,
            C.workflow_name: sm_arn.rsplit(":", 1)[-1] if sm_arn else execution_arn,
            C.kind: _KIND_EXPRESS if E.is_express_arn(execution_arn) else _KIND_STANDARD,
        }
        if key is not None and sm_arn is not None and len(_IDENTITIES) < _IDENTITIES_MAX:
            _IDENTITIES[key] = ident
    return ident


def _execution_name(execution_arn: str) -> str | None:
    cut = execution_arn.split(":", 7)
    if len(cut) == 8 and ":".join(cut[:7]) in _IDENTITIES and cut[5] in ("execution", "express"):
        return cut[7].split(":", 1)[0]
    return E.execution_name(execution_arn)


def _is_execution_arn(arn: Any) -> bool:
    if not isinstance(arn, str):
        return False
    cut = arn.split(":", 7)
    if len(cut) == 8 and ":".join(cut[:7]) in _IDENTITIES:
        return True
    return E.parse_arn(arn) is not None


# ====================================================================== history -> rows

_CAUSE_STATE = re.compile(r"while executing the state '(?P<name>.+)' \(entered at the event id #(?P<id>\d+)\)")


class _Scope:
    """A branch of execution: the root, one Parallel branch, or one Map iteration."""

    __slots__ = ("parent", "iteration", "last")

    def __init__(self, parent: "_Step | None", iteration: int | None) -> None:
        self.parent = parent
        self.iteration = iteration
        self.last: _Step | None = None


class _Fork:
    """Anchor left by ``ParallelStateStarted``: each state entered from it opens a new branch."""

    __slots__ = ("step",)

    def __init__(self, step: "_Step") -> None:
        self.step = step


class _Step:
    __slots__ = ("key", "name", "ntype", "scope", "prev_key", "entered", "exited", "closed",
                 "fail", "error", "cause", "resource", "tries", "starts", "branches",
                 "exit_output", "aborted", "aborted_at")

    def __init__(self, key: str, name: str, ntype: str, scope: _Scope, prev_key: str | None,
                 entered: dt.datetime | None) -> None:
        self.key = key
        self.name = name
        self.ntype = ntype
        self.scope = scope
        self.prev_key = prev_key
        self.entered = entered
        self.exited: dt.datetime | None = None
        self.closed = False          # container finished (Succeeded/Failed/Aborted)
        self.fail: str | None = None  # status of the latest failure, cleared by a later success
        self.error: Any = None
        self.cause: Any = None
        self.resource: str | None = None
        self.tries: list[list[Any]] = []   # [start, end, status, error, cause]
        self.starts = 0              # Parallel / Map (re)starts
        self.branches = 0
        self.exit_output: Any = None
        self.aborted = False
        self.aborted_at: dt.datetime | None = None


def _container_of(anchor: Any, ntype: str, name: str | None = None) -> _Step | None:
    """The open Parallel/Map (``ntype``) an event belongs to, walking up from its previous event.

    A container's own events chain from its Entered event (anchor = the step itself); a retry's
    ``*StateStarted`` and the closing events chain from the last event inside a branch (anchor =
    an inner step or scope), so walk up through enclosing scopes to the first open container.
    """
    if anchor.__class__ is _Fork:
        anchor = anchor.step
    while anchor is not None:
        if anchor.__class__ is _Step:
            if anchor.ntype == ntype and not anchor.closed and (name is None or anchor.name == name):
                return anchor
            anchor = anchor.scope.parent
        else:  # _Scope
            anchor = anchor.parent
    return None


class _HistoryBuilder:
    """Consumes one execution's events (API shape, sorted by id) and produces its rows."""

    def __init__(self, execution_arn: str, source_name: str) -> None:
        self.arn = execution_arn
        self.source_name = source_name
        self.root = _Scope(None, None)
        self.steps: list[_Step] = []
        self.owner: dict[int, Any] = {}
        self.open_by_name: dict[str, list[_Step]] = {}
        self.containers: list[_Step] = []
        self.unknown: dict[str, int] = {}
        self.skips: list[Skip] = []
        self.orphans = 0
        self.started_at: dt.datetime | None = None
        self.first_ts: dt.datetime | None = None
        self.ended_at: dt.datetime | None = None
        self.native_status = "RUNNING"
        self.error: Any = None
        self.cause: Any = None
        self.input: Any = None
        self.output: Any = None
        self.has_started_event = False
        self.redrive_count = 0
        self.event_count = 0
        self.map_runs: list[str] = []
        self.culprit: Any = None     # what the execution-failure event points back to

    # ------------------------------------------------------------------ helpers
    def _step_of(self, prev: int) -> _Step | None:
        anchor = self.owner.get(prev)
        if anchor.__class__ is _Step:
            return anchor
        # Chain broken (filtered log level): the most recently entered open Task.
        for step in reversed(self.steps):
            if step.ntype == "Task" and step.exited is None:
                return step
        return None

    def _fallback_scope(self) -> _Scope:
        """Scope for a state whose previous event is unknown: under the innermost open container."""
        if self.containers:
            box = self.containers[-1]
            return _Scope(box, None)
        return self.root

    # ------------------------------------------------------------------ the hot loop
    def feed(self, events: Iterable[dict[str, Any]]) -> None:
        """Consume API-shape events (dicts)."""
        self.feed_fields(self._api_fields(events))

    def _api_fields(self, events: Iterable[dict[str, Any]]) -> Iterable[tuple[int, int, Any, str, Any]]:
        event_types = E.EVENT_TYPES
        parse_ts = E.parse_timestamp
        ts_cache: dict[Any, dt.datetime | None] = {}
        for ev in events:
            try:
                eid = ev["id"]
                etype = ev["type"]
                if eid.__class__ is not int:
                    eid = int(eid)
                prev = ev.get("previousEventId") or 0
                if prev.__class__ is not int:
                    prev = int(prev)
                raw_ts = ev.get("timestamp")
                ts = ts_cache.get(raw_ts) if raw_ts.__class__ is not dict else None
                if ts is None and raw_ts is not None:
                    ts = parse_ts(raw_ts)
                    ts_cache[raw_ts] = ts
            except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
                self.skips.append(Skip(self.source_name, f"{self.arn} event {ev.get('id') if isinstance(ev, dict) else '?'}",
                                       f"malformed history event: {exc!r}"))
                continue
            info = event_types.get(etype)
            yield eid, prev, ts, etype, (ev.get(info[1]) if info is not None else None)

    def feed_fields(self, items: Iterable[tuple[int, int, Any, str, Any]]) -> None:
        """Consume events already split into ``(id, previous id, timestamp, type, details)``,
        sorted by id: the log path builds these straight from log records (`events.log_record_fields`)."""
        owner = self.owner
        open_by_name = self.open_by_name
        steps = self.steps
        event_types = E.EVENT_TYPES
        unknown = self.unknown
        count = 0
        for eid, prev, ts, etype, details in items:
            count += 1
            if self.first_ts is None:
                self.first_ts = ts
            info = event_types.get(etype)
            if info is None:
                unknown[etype] = unknown.get(etype, 0) + 1
                owner[eid] = owner.get(prev)
                continue
            kind = info[0]
            if not details or details.__class__ is not dict:
                details = {}   # the file readers skip (and report) events whose details are not objects

            if kind == 1:  # K_ENTERED
                anchor = owner.get(prev)
                prev_step = None
                if anchor.__class__ is _Step:
                    scope = anchor.scope
                    prev_step = anchor
                elif anchor.__class__ is _Scope:
                    scope = anchor
                    prev_step = scope.last
                elif anchor.__class__ is _Fork:
                    box = anchor.step
                    scope = _Scope(box, box.branches)
                    box.branches += 1
                elif prev == 0 and not self.containers:
                    scope = self.root
                    prev_step = scope.last
                else:
                    scope = self._fallback_scope()
                    prev_step = None
                ntype = etype[:-12]
                name = details.get("name") or ""
                if name.__class__ is not str:
                    name = str(name)
                step = _Step(str(eid), name, ntype, scope,
                             prev_step.key if prev_step is not None else None, ts)
                scope.last = step
                steps.append(step)
                owner[eid] = step
                if ntype == "Fail":
                    step.fail = _S_FAILED
                    step.exited = None
                else:
                    lst = open_by_name.get(name)
                    if lst is None:
                        open_by_name[name] = [step]
                    else:
                        lst.append(step)
                    if ntype == "Parallel" or ntype == "Map":
                        self.containers.append(step)
            elif kind == 2:  # K_EXITED
                name = details.get("name") or ""
                if name.__class__ is not str:
                    name = str(name)
                anchor = owner.get(prev)
                if anchor.__class__ is _Step and anchor.name == name and anchor.exited is None:
                    step = anchor
                else:
                    lst = open_by_name.get(name)
                    step = lst[-1] if lst else None
                if step is None:
                    self.orphans += 1
                    continue
                lst = open_by_name.get(name)
                if lst:
                    if lst[-1] is step:
                        lst.pop()
                    else:
                        try:
                            lst.remove(step)
                        except ValueError:
                            pass
                step.exited = ts
                if step.fail is not None:
                    step.exit_output = details.get("output")
                if step.ntype == "Parallel" or step.ntype == "Map":
                    step.closed = True
                    if step in self.containers:
                        self.containers.remove(step)
                owner[eid] = step
            elif kind <= 10:  # task tries and state aborts
                if kind == 3:
                    step = self._aborted_step(etype[:-12], owner.get(prev))
                else:
                    step = self._step_of(prev)
                if step is None:
                    self.orphans += 1
                    continue
                owner[eid] = step
                tries = step.tries
                if kind == 4:  # K_TRY_SCHEDULED
                    tries.append([ts, None, None, None, None])
                    if step.resource is None:
                        res = details.get("resource")
                        rtype = details.get("resourceType")
                        if rtype and res and not res.startswith("arn:"):
                            res = f"arn:aws:states:::{rtype}:{res}"
                        step.resource = res
                elif kind == 5 or kind == 6:  # started / submitted
                    if not tries or tries[-1][2] is not None:
                        tries.append([ts, None, None, None, None])
                    if step.resource is None and details.get("resource"):
                        res = details["resource"]
                        rtype = details.get("resourceType")
                        step.resource = f"arn:aws:states:::{rtype}:{res}" if rtype and not res.startswith("arn:") else res
                elif kind == 3:  # K_ABORTED_STATE
                    step.aborted = True
                    step.exited = None
                    step.aborted_at = ts
                    if tries and tries[-1][2] is None:
                        tries[-1][1] = ts
                        tries[-1][2] = _S_ABORTED
                else:
                    if not tries or tries[-1][2] is not None:
                        tries.append([ts, None, None, None, None])
                    t = tries[-1]
                    t[1] = ts
                    if kind == 7:
                        t[2] = _S_SUCCEEDED
                        step.fail = None
                    else:
                        status = _S_TIMED_OUT if kind == 9 else _S_FAILED
                        t[2] = status
                        t[3] = details.get("error")
                        t[4] = details.get("cause")
                        step.fail = status
                        step.error = t[3]
                        step.cause = t[4]
            elif kind == 11 or kind == 12:  # Parallel / Map (re)started
                box = _container_of(owner.get(prev), "Parallel" if kind == 11 else "Map")
                if box is None:
                    box = self._innermost("Parallel" if kind == 11 else "Map")
                if box is None:
                    self.orphans += 1
                    continue
                box.starts += 1
                box.branches = 0
                box.fail = None
                owner[eid] = _Fork(box) if kind == 11 else box
            elif kind == 16:  # K_ITERATION_STARTED
                box = _container_of(owner.get(prev), "Map", details.get("name"))
                if box is None:
                    box = self._innermost("Map")
                if box is None:
                    self.orphans += 1
                    continue
                idx = details.get("index")
                owner[eid] = _Scope(box, int(idx) if idx is not None else None)
            elif kind == 17:  # K_ITERATION_ENDED
                box = _container_of(owner.get(prev), "Map", details.get("name")) or self._innermost("Map")
                owner[eid] = box
            elif kind <= 20 or kind == 13 or kind == 14 or kind == 15:
                # container ended (13-15), map run started / ended / failed (18-20)
                anchor = owner.get(prev)
                if kind in (13, 14, 15):
                    box = (_container_of(anchor, "Parallel") if etype.startswith("Parallel")
                           else _container_of(anchor, "Map"))
                    if box is None:
                        box = self._innermost("Parallel" if etype.startswith("Parallel") else "Map")
                else:
                    box = _container_of(anchor, "Map") or self._innermost("Map")
                if box is None:
                    self.orphans += 1
                    continue
                owner[eid] = box
                if kind == 13:
                    box.closed = True
                    box.fail = None
                elif kind == 14 or kind == 15:
                    box.closed = True
                    box.fail = _S_ABORTED if kind == 15 else _S_FAILED
                    if kind == 15:
                        box.aborted = True
                        box.aborted_at = ts
                        box.fail = None
                elif kind == 18:
                    arn = details.get("mapRunArn")
                    if arn:
                        box.resource = arn
                        self.map_runs.append(arn)
                elif kind == 20:
                    box.fail = _S_ABORTED if etype.endswith("Aborted") else _S_FAILED
                    box.error = details.get("error", box.error)
                    box.cause = details.get("cause", box.cause)
            elif kind == 21:  # K_EXEC_STARTED
                self.has_started_event = True
                self.started_at = ts
                self.input = details.get("input")
                owner[eid] = self.root
            elif kind == 26:  # K_EXEC_REDRIVEN
                self.native_status = "RUNNING"
                self.ended_at = None
                self.error = self.cause = None
                rc = details.get("redriveCount")
                if rc is not None:
                    self.redrive_count = max(self.redrive_count, int(rc))
                owner[eid] = self.root
            elif kind == 27:  # K_EVALUATION_FAILED
                step = self._step_of(prev) if not isinstance(details.get("state"), str) else (
                    (open_by_name.get(details["state"]) or [None])[-1] or self._step_of(prev))
                if step is not None:
                    step.fail = _S_FAILED
                    step.error = details.get("error")
                    step.cause = details.get("cause")
                    owner[eid] = step
            else:  # execution ended (22-25)
                self.ended_at = ts
                self.native_status = ("SUCCEEDED" if kind == 22 else "FAILED" if kind == 23
                                      else "TIMED_OUT" if kind == 24 else "ABORTED")
                self.error = details.get("error")
                self.cause = details.get("cause")
                if kind == 22:
                    self.output = details.get("output")
                else:
                    self.culprit = owner.get(prev) if prev else None
                    if self.culprit.__class__ is not _Step:
                        self.culprit = self._named_in_cause(self.cause) or self.culprit
                owner[eid] = self.root
        self.event_count += count

    def _aborted_step(self, ntype: str, anchor: Any) -> _Step | None:
        """The state a ``<Type>StateAborted`` cancels. Its previousEventId names the event that
        caused the abort (e.g. a sibling iteration's failure), not the state, so take the anchor
        if it is an open state of that type, else the earliest open, not yet aborted one."""
        if anchor.__class__ is _Step and anchor.ntype == ntype and not anchor.aborted \
                and anchor.exited is None:
            return anchor
        for step in self.steps:
            if step.ntype == ntype and not step.aborted and step.exited is None:
                return step
        return None

    def _named_in_cause(self, cause: Any) -> _Step | None:
        """The state a ``States.Runtime`` failure names only in its cause ("... while executing the
        state 'X' (entered at the event id #8)"): its ExecutionFailed has previousEventId 0."""
        found = _CAUSE_STATE.search(cause) if isinstance(cause, str) else None
        if found is None:
            return None
        name, entered = found.group("name"), int(found.group("id"))
        step = self.owner.get(entered)
        if step.__class__ is _Step and step.key == str(entered) and step.name == name:
            return step
        return next((s for s in reversed(self.steps) if s.name == name), None)

    def _innermost(self, ntype: str) -> _Step | None:
        for box in reversed(self.containers):
            if box.ntype == ntype:
                return box
        return None

    # ------------------------------------------------------------------ rows
    def rows(self, ctx: ImportContext, describe: dict[str, Any] | None,
             redrive_count: int | None = None) -> tuple[Row | None, list[Row], list[Row]]:
        ident = _identity(self.arn)
        describe = describe or {}
        started_at = self.started_at or E.parse_timestamp(describe.get("startDate")) or self.first_ts
        if started_at is None:
            self.skips.append(Skip(self.source_name, self.arn, "execution has no timestamped event"))
            return None, [], []
        native = self.native_status
        ended_at = self.ended_at
        error, cause = self.error, self.cause
        if native == "RUNNING" and describe.get("status") and describe["status"] != "RUNNING":
            native = describe["status"]
            ended_at = E.parse_timestamp(describe.get("stopDate"))
            error, cause = describe.get("error"), describe.get("cause")
        status = NATIVE_STATUS.get(native, _S_RUNNING)
        start_date = started_at.date()
        in_bytes, in_hash = _payload(self.input if self.input is not None else describe.get("input"))
        out_bytes, _ = _payload(self.output if self.output is not None else describe.get("output"))
        billing = describe.get("billingDetails") or {}
        attributes: dict[str, Any] = {}
        if not self.has_started_event:
            attributes["partial_history"] = True     # log level ERROR/FATAL: no ExecutionStarted
        if self.orphans:
            attributes["orphan_events"] = self.orphans
        if self.map_runs:
            attributes["map_run_arns"] = self.map_runs
        for key in ("stateMachineVersionArn", "stateMachineAliasArn", "mapRunArn", "redriveStatus"):
            if describe.get(key):
                attributes[key] = describe[key]
        rc = max(self.redrive_count, int(redrive_count or 0), int(describe.get("redriveCount") or 0))
        execution = {
            C.cloud: CLOUD,
            C.account: ident[C.account],
            C.region: ident[C.region],
            C.workflow_id: ident[C.workflow_id],
            C.workflow_name: ident[C.workflow_name],
            C.kind: ident[C.kind],
            C.revision: None,
            C.execution_id: self.arn,
            C.name: _execution_name(self.arn) or describe.get("name"),
            C.status: status,
            C.native_status: native,
            C.started_at: started_at,
            C.ended_at: ended_at,
            C.duration_ms: _duration(started_at, ended_at),
            C.error: _text(error),
            C.cause: _text(cause),
            C.redrive_count: rc,
            C.parent_execution_id: describe.get("mapRunArn"),
            C.billed_duration_ms: billing.get("billedDurationInMilliseconds"),
            C.billed_memory_mb: billing.get("billedMemoryUsedInMB"),
            C.input_bytes: in_bytes,
            C.output_bytes: out_bytes,
            C.input_sha256: in_hash,
            C.event_count: self.event_count,
            C.attributes: json.dumps(attributes, sort_keys=True) if attributes else None,
            C.source: str(ctx.source),
            C.collected_at: ctx.seen_at,
            C.start_date: start_date,
        }

        wf = ident[C.workflow_id]
        arn = self.arn
        exec_failed = status in _FAILURES
        if native == "FAILED" and self.culprit.__class__ is _Step:
            # The state the ExecutionFailed event points back to failed the execution, even when
            # it recorded no failure of its own (e.g. States.Runtime on a path): FAILED, and so
            # are the open Parallel / Map states around it.
            node = self.culprit
            while node is not None:
                if node.exited is None and node.fail is None and not node.aborted and node.ntype != "Fail":
                    node.fail = _S_FAILED
                node = node.scope.parent
        step_rows: list[Row] = []
        attempt_rows: list[Row] = []
        for s in self.steps:
            ntype = s.ntype
            error, cause = s.error, s.cause
            end = s.exited
            if ntype == "Fail":
                st = _S_FAILED
                end = s.entered
            elif end is not None:
                if s.fail is not None:
                    st = _S_CAUGHT
                    if error is None:
                        error, cause = _error_from_output(s.exit_output)
                else:
                    st = _S_SUCCEEDED
            elif s.fail is not None:
                st = s.fail
                end = s.tries[-1][1] if s.tries and s.tries[-1][1] is not None else (s.aborted_at or ended_at)
            elif s.aborted:
                st = _S_ABORTED
                end = s.aborted_at
            elif status == _S_RUNNING:
                st = _S_RUNNING
            elif exec_failed:
                # Still open when the execution stopped: cut short (a sibling branch failed, the
                # execution was stopped or timed out).
                st = _S_TIMED_OUT if status == _S_TIMED_OUT else _S_ABORTED
                end = ended_at
            else:
                st = _S_SUCCEEDED
            if st in _FAILURES and error is None and exec_failed and st != _S_ABORTED:
                error, cause = self.error, self.cause
            if ntype == "Task":
                attempts = len(s.tries) or 1
            elif ntype == "Parallel" or ntype == "Map":
                attempts = s.starts or 1
            else:
                attempts = 1
            step_rows.append({
                C.cloud: CLOUD,
                C.workflow_id: wf,
                C.execution_id: arn,
                C.step_key: s.key,
                C.previous_step_key: s.prev_key,
                C.parent_step_key: s.scope.parent.key if s.scope.parent is not None else None,
                C.iteration: s.scope.iteration,
                C.name: s.name,
                C.type: STEP_TYPES.get(ntype, _STEP_OTHER),
                C.native_type: ntype,
                C.resource: s.resource,
                C.status: st,
                C.started_at: s.entered,
                C.ended_at: end,
                C.duration_ms: _duration(s.entered, end),
                C.attempts: attempts,
                C.error: _text(error),
                C.cause: _text(cause),
                C.start_date: start_date,
            })
            if ntype == "Task":
                n = 0
                for t in s.tries:
                    n += 1
                    t_status = t[2]
                    t_end = t[1]
                    t_error, t_cause = t[3], t[4]
                    if t_status is None:
                        # an open try ends with its step; one that failed the execution (e.g. a
                        # States.Runtime of a .sync job) failed with the step's error
                        t_status = st if st in (_S_RUNNING, _S_TIMED_OUT, _S_ABORTED, _S_FAILED) else _S_ABORTED
                        if t_status != _S_RUNNING:
                            t_end = end
                        if t_status == _S_FAILED and n == len(s.tries):
                            t_error, t_cause = error, cause
                        elif t_status == _S_FAILED:
                            t_status = _S_ABORTED
                    attempt_rows.append({
                        C.cloud: CLOUD,
                        C.workflow_id: wf,
                        C.execution_id: arn,
                        C.step_key: s.key,
                        C.attempt: n,
                        C.started_at: t[0],
                        C.ended_at: t_end,
                        C.duration_ms: _duration(t[0], t_end),
                        C.status: t_status,
                        C.error: _text(t_error),
                        C.cause: _text(t_cause),
                        C.start_date: start_date,
                    })
        return execution, step_rows, attempt_rows


def _history_batch(events: list[Any], execution_arn: str, ctx: ImportContext,
                   describe: dict[str, Any] | None = None, redrive_count: int | None = None,
                   skips: list[Skip] | None = None, fields: bool = False) -> Batch:
    batch = Batch(skips=list(skips or []))
    _add_history(batch, events, execution_arn, ctx, describe, redrive_count, fields)
    return batch


def _add_history(batch: Batch, events: list[Any], execution_arn: str, ctx: ImportContext,
                 describe: dict[str, Any] | None = None, redrive_count: int | None = None,
                 fields: bool = False) -> None:
    """One execution's history -> its rows, appended to `batch` (no per-execution Batch)."""
    builder = _HistoryBuilder(execution_arn, ctx.source_name)
    if fields:
        builder.feed_fields(events)
    else:
        builder.feed(events)
    execution, steps, attempts = builder.rows(ctx, describe, redrive_count)
    if builder.skips:
        batch.skips.extend(builder.skips)
    if builder.unknown:
        unknown = batch.unknown_event_types
        for key, n in builder.unknown.items():
            unknown[key] = unknown.get(key, 0) + n
    if execution is None:
        return
    if ctx.options.get(DEFER_ASSEMBLE):
        usage: list[Row] = []        # the writer's assemble_batch assembles every execution anyway
    else:
        steps, attempts, usage = assemble(execution, steps, attempts, None)
    batch.executions.append(execution)
    batch.steps.extend(steps)
    batch.attempts.extend(attempts)
    batch.usage.extend(usage)


def _event_problem(ev: dict) -> str | None:
    """Why a history event cannot be used (checked here, where its place in the file is known)."""
    info = E.EVENT_TYPES.get(ev["type"]) if ev["type"].__class__ is str else None
    if ev["type"].__class__ is not str:
        return f"event type {ev['type']!r} is not a string"
    if info is not None and ev.get(info[1]) is not None and ev[info[1]].__class__ is not dict:
        return f"{info[1]} is a {type(ev[info[1]]).__name__}, not an object"
    try:
        int(ev.get("previousEventId") or 0)
        E.parse_timestamp(ev.get("timestamp"))
    except (TypeError, ValueError, OverflowError) as exc:
        return f"unreadable previousEventId or timestamp: {exc}"
    return None


def _sorted_events(events: list[Any], ctx: ImportContext, where: str) -> tuple[list[dict], list[Skip]]:
    """Events sorted by id with identical duplicates removed; unusable entries, and a second event
    under an id already seen with different content (the first is kept), become Skips."""
    good: dict[int, dict] = {}
    skips: list[Skip] = []
    for i, ev in enumerate(events):
        if not isinstance(ev, dict) or "type" not in ev or "id" not in ev:
            skips.append(Skip(ctx.source_name, f"{where}[{i}]", "not a history event (no id / type)"))
            continue
        eid = ev["id"]
        try:
            eid = eid if eid.__class__ is int else int(eid)
        except (TypeError, ValueError):
            skips.append(Skip(ctx.source_name, f"{where}[{i}]", f"event id {eid!r} is not a number"))
            continue
        problem = _event_problem(ev)
        if problem is not None:
            skips.append(Skip(ctx.source_name, f"{where}[{i}]", f"event id {eid}: {problem}"))
            continue
        first = good.get(eid)
        if first is None:
            good[eid] = ev
        elif first != ev:
            skips.append(Skip(ctx.source_name, f"{where}[{i}]", f"event id {eid} appears again with "
                                                                "different content (the first is kept)"))
    if not good:
        return [], skips
    # Histories arrive in id order (or reversed with reverseOrder=true): avoid a sort when sorted.
    ids = list(good)
    if all(ids[i] < ids[i + 1] for i in range(len(ids) - 1)):
        return list(good.values()), skips
    return [good[k] for k in sorted(ids)], skips


# ====================================================================== format handlers

def transform_history(doc: Any, ctx: ImportContext) -> Batch:
    """`get-execution-history` output -> the execution, its steps, attempts and usage.

    The history does not name its execution: the ARN comes from ``ctx.execution_id``
    (``--execution-arn``) or from ``ctx.options["describe_execution"]["executionArn"]``.
    ``describe_execution`` also fills what the history lacks (billing details, Map Run parent,
    version / alias, status of a history fetched before the end).
    """
    doc = _as_doc(doc, ctx)
    if isinstance(doc, list):
        doc = {"events": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        raise NativeFormatError(ctx.source_name, "$", "not a get-execution-history document "
                                "(expected an object with an 'events' list)")
    describe = ctx.options.get("describe_execution") or None
    arn = ctx.execution_id or (describe or {}).get("executionArn")
    if not arn:
        raise NativeFormatError(ctx.source_name, "$", "get-execution-history output does not name "
                                "its execution: pass the execution ARN (--execution-arn)")
    if E.parse_arn(arn) is None:
        raise NativeFormatError(ctx.source_name, "execution_id",
                                f"{arn!r} is not a Step Functions execution ARN")
    events, skips = _sorted_events(doc["events"], ctx, "events")
    return _history_batch(events, arn, ctx, describe, skips=skips)


def _log_records_of(doc: Any, ctx: ImportContext) -> tuple[list[Any], str, list[Skip]]:
    """The records of a log-records document (filter-log-events messages parsed), the prefix of
    their locations in error messages, and Skips for unreadable messages."""
    skips: list[Skip] = []
    if isinstance(doc, list):
        return doc, "", skips
    if isinstance(doc, dict) and isinstance(doc.get("events"), list):
        out = []
        loads = json.loads
        for i, ev in enumerate(doc["events"]):
            msg = ev.get("message") if isinstance(ev, dict) else None
            if isinstance(msg, str):
                try:
                    out.append(loads(msg))
                except ValueError as exc:
                    skips.append(Skip(ctx.source_name, f"events[{i}].message", f"log message is not JSON: {exc}"))
                    out.append(None)
            elif isinstance(msg, dict):
                out.append(msg)
            else:
                skips.append(Skip(ctx.source_name, f"events[{i}]", "log event has no message"))
                out.append(None)
        return out, "events", skips
    raise NativeFormatError(ctx.source_name, "$", "not Step Functions log records (expected a list of "
                            "records or filter-log-events output with an 'events' list)")


def transform_log_records(doc: Any, ctx: ImportContext) -> Batch:
    """CloudWatch Logs records (Standard or Express, level ALL / ERROR / FATAL) -> rows.

    Records are grouped by ``execution_arn``, sorted by id (CloudWatch returns them by ingestion
    time, not id) and deduplicated on (execution_arn, id) (overlapping queries return the same
    record twice), split into event fields by `events.log_record_fields` (what `log_record_to_event` gives,
    without the dict) and run through the same history transform as GetExecutionHistory output.
    """
    doc = _as_doc(doc, ctx)
    records, where, skips = _log_records_of(doc, ctx)
    sample = [r for r in records[:50] if r is not None]
    if sample and not any(isinstance(r, dict) and "execution_arn" in r for r in sample):
        raise NativeFormatError(ctx.source_name, f"{where}[0]", "records have no 'execution_arn': "
                                "not Step Functions execution log records")
    groups: dict[str, dict[int, tuple]] = {}
    redrives: dict[str, int] = {}
    split = E.log_record_fields
    for i, rec in enumerate(records):
        if rec is None:
            continue    # already a Skip (unreadable message)
        try:
            arn = rec["execution_arn"]
            fields = split(rec)
            if fields[4] is not None and fields[4].__class__ is not dict:
                raise ValueError(f"details is a {type(fields[4]).__name__}, not an object")
            bucket = groups.get(arn)
            if bucket is None:
                if not _is_execution_arn(arn):
                    raise ValueError(f"execution_arn {arn!r} is not an execution ARN")
                bucket = groups[arn] = {}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            skips.append(Skip(ctx.source_name, f"{where}[{i}]", f"malformed log record: {reason}"))
            continue
        eid = fields[0]
        first = bucket.get(eid)
        if first is None:
            bucket[eid] = fields
        elif first != fields:
            skips.append(Skip(ctx.source_name, f"{where}[{i}]", f"event id {eid} of {arn} appears again "
                                                                "with different content (the first is kept)"))
        rc = rec.get("redrive_count")
        if rc is not None and rc != "0" and rc != 0 and rc != "":
            try:
                redrives[arn] = max(redrives.get(arn, 0), int(rc))
            except (TypeError, ValueError):
                pass
    batch = Batch(skips=skips)
    for arn, bucket in groups.items():
        events = list(bucket.values())
        prev = -1
        for eid in bucket:
            if eid < prev:
                events.sort(key=_first)
                break
            prev = eid
        _add_history(batch, events, arn, ctx, None, redrives.get(arn), fields=True)
    return batch


def _first(item: tuple) -> Any:
    return item[0]


def _definition_text(definition: Any) -> str | None:
    if definition is None:
        return None
    if not isinstance(definition, str):
        definition = json.dumps(definition, indent=2, sort_keys=False)
    return definition[:MAX_DEFINITION_CHARS]


def _definition_obj(definition: Any) -> dict | None:
    if isinstance(definition, dict):
        return definition
    if isinstance(definition, str):
        try:
            obj = json.loads(definition)
        except (ValueError, RecursionError):
            return None
        return obj if isinstance(obj, dict) else None
    return None


def definition_problem(definition: Any) -> str | None:
    """Why an ASL definition cannot be read whole (one line, for a warning), or None when it can.

    An unreadable definition is still stored, but `assemble` cannot settle branches or Task
    resources from it and the dashboard cannot draw it: the user must hear which state machine.
    """
    if isinstance(definition, str):
        try:
            definition = json.loads(definition)
        except ValueError as exc:
            return f"not JSON: {exc}"
        except RecursionError:
            return "nested too deeply to read"
    if not isinstance(definition, dict):
        return f"not a JSON object but {type(definition).__name__}"
    stack: list[tuple[str, Any]] = [("the definition", definition)]
    while stack:
        where, machine = stack.pop()
        if not isinstance(machine, dict):
            return f"{where} is not an object"
        states = machine.get("States")
        if not isinstance(states, dict):
            return f"States of {where} is " + ("missing" if states is None else "not an object")
        for name, state in states.items():
            if not isinstance(state, dict):
                return f"state `{name}` is not an object"
            branches = state.get("Branches")
            if branches is not None and not isinstance(branches, list):
                return f"Branches of `{name}` is not a list"
            stack.extend((f"branch {i} of `{name}`", b) for i, b in enumerate(branches or []))
            for key in ("ItemProcessor", "Iterator"):
                if state.get(key) is not None:
                    stack.append((f"{key} of `{name}`", state[key]))
    return None


def transform_state_machine(doc: Any, ctx: ImportContext) -> Batch:
    """`describe-state-machine` output -> one workflows row.

    ``revision`` is the ``revisionId`` when Step Functions gives one (it does after an update or
    for a version), else the first 16 hex digits of the definition's SHA-256: a definition that
    did not change keeps its revision, so re-describing it does not add a row.
    """
    doc = _as_doc(doc, ctx)
    if not isinstance(doc, dict) or "stateMachineArn" not in doc or "definition" not in doc:
        raise NativeFormatError(ctx.source_name, "$", "not a describe-state-machine document "
                                "(expected 'stateMachineArn' and 'definition')")
    arn = doc["stateMachineArn"]
    parts = E.parse_arn(arn)
    if parts is None:
        raise NativeFormatError(ctx.source_name, "stateMachineArn", f"{arn!r} is not a state machine ARN")
    definition = _definition_text(doc.get("definition"))
    revision = doc.get("revisionId") or hashlib.sha256((definition or "").encode()).hexdigest()[:16]
    sm_type = (doc.get("type") or "STANDARD").upper()
    logging_cfg = doc.get("loggingConfiguration") or {}
    groups = [d.get("cloudWatchLogsLogGroup", {}).get("logGroupArn")
              for d in logging_cfg.get("destinations") or [] if isinstance(d, dict)]
    attributes: dict[str, Any] = {
        "logging_level": logging_cfg.get("level"),
        "include_execution_data": logging_cfg.get("includeExecutionData"),
        "log_group_arns": [g for g in groups if g],
        "status": doc.get("status"),
        "tracing_enabled": (doc.get("tracingConfiguration") or {}).get("enabled"),
    }
    for key, out in (("versionDescription", "version_description"), ("description", "description"),
                     ("label", "label"), ("stateMachineVersionArn", "version_arn"),
                     ("stateMachineAliasArn", "alias_arn"), ("routingConfiguration", "routing"),
                     ("versions", "versions"), ("aliases", "aliases")):
        if doc.get(key):
            attributes[out] = doc[key]
    # describe-state-machine of a version: the ARN ends in ':<version number>'
    sm_arn = E.state_machine_arn(arn) or arn
    if sm_arn != arn:
        attributes["version_arn"] = arn
    seen = ctx.seen_at or E.parse_timestamp(doc.get("updateDate") or doc.get("creationDate"))
    if seen is None:
        seen = dt.datetime.now(dt.timezone.utc)
    row = {
        C.cloud: CLOUD,
        C.account: parts["account"] or None,
        C.region: parts["region"] or None,
        C.workflow_id: sm_arn,
        C.name: doc.get("name") or sm_arn.rsplit(":", 1)[-1],
        C.kind: (Kind.SFN_EXPRESS if sm_type == "EXPRESS" else Kind.SFN_STANDARD).value,
        C.revision: revision,
        C.definition: definition,
        C.definition_format: "asl-json",
        C.attributes: json.dumps(attributes, sort_keys=True, default=str),
        C.seen_at: seen,
    }
    batch = Batch(workflows=[row])
    problem = definition_problem(doc.get("definition"))
    if problem:
        batch.warnings.append(
            f"{ctx.source_name}: state machine {row[C.name]} ({sm_arn}, revision {revision}): its definition "
            f"could not be read ({problem}); Parallel branches and Task resources missing from its "
            "histories are not filled from it, and its graph cannot be drawn, until a readable "
            "definition is imported")
    return batch


def transform_execution(doc: Any, ctx: ImportContext) -> Batch:
    """describe-execution / list-executions / start-sync-execution output -> executions rows
    (no steps). ``mapRunArn`` (a Distributed Map child) becomes ``parent_execution_id``: the
    parent's Map step carries the same Map Run ARN as its ``resource``."""
    doc = _as_doc(doc, ctx)
    if isinstance(doc, dict) and isinstance(doc.get("executions"), list):
        items, where = doc["executions"], "executions"
    elif isinstance(doc, dict) and "executionArn" in doc:
        items, where = [doc], "$"
    elif isinstance(doc, list):
        items, where = doc, ""
    else:
        raise NativeFormatError(ctx.source_name, "$", "not describe-execution / list-executions output")
    batch = Batch()
    for i, item in enumerate(items):
        loc = f"{where}[{i}]" if where != "$" else "$"
        if not isinstance(item, dict) or E.parse_arn(item.get("executionArn") or "") is None \
                or not item.get("startDate"):
            batch.skips.append(Skip(ctx.source_name, loc, "execution item without executionArn / startDate"))
            continue
        try:
            builder = _HistoryBuilder(item["executionArn"], ctx.source_name)
            builder.has_started_event = True
            builder.event_count = 0
            execution, _, _ = builder.rows(ctx, item)
        except (TypeError, ValueError) as exc:
            batch.skips.append(Skip(ctx.source_name, loc, f"unreadable execution item: {exc}"))
            continue
        if execution is None:
            continue
        execution[C.event_count] = None   # not known without the history
        if item.get("stateMachineArn") and "stateMachineArn" in item and ":express:" not in item["executionArn"]:
            execution[C.workflow_id] = E.state_machine_arn(item["stateMachineArn"]) or execution[C.workflow_id]
        batch.executions.append(execution)
        steps, attempts, usage = assemble(execution, [], [], None)
        batch.usage.extend(usage)
    return batch


def _history_start(doc: Any) -> dt.datetime | None:
    """When a get-execution-history document's execution started (its ExecutionStarted event)."""
    events = doc.get("events") if isinstance(doc, dict) else doc
    for ev in events if isinstance(events, list) else []:
        if isinstance(ev, dict) and ev.get("type") == "ExecutionStarted":
            try:
                return E.parse_timestamp(ev.get("timestamp"))
            except (TypeError, ValueError):
                return None
    return None


def _describe_start(doc: dict) -> dt.datetime | None:
    try:
        return E.parse_timestamp(doc.get("startDate"))
    except (TypeError, ValueError):
        return None


def is_describe_execution(doc: Any) -> bool:
    """One describe-execution document (not a list-executions page)."""
    return isinstance(doc, dict) and isinstance(doc.get("executionArn"), str) and "executions" not in doc


def pair_histories(histories: list[tuple[str, Any]], describes: list[tuple[str, dict]]) -> dict[str, dict]:
    """Bare get-execution-history documents ``(source, doc)`` -> the describe-execution each belongs to.

    `get-execution-history` does not name its execution, `describe-execution` does: a history
    pairs with the describe whose ``startDate`` is its ExecutionStarted time; one history and
    one describe left over pair when their times do not contradict. Anything else is ambiguous
    and raises NativeFormatError saying what to do (guessing would file steps under the wrong run).
    """
    free = list(describes)
    pairs: dict[str, dict] = {}
    waiting: list[tuple[str, dt.datetime | None]] = []
    for source, doc in histories:
        start = _history_start(doc)
        same = [d for d in free if start is not None and _describe_start(d[1]) == start]
        if len(same) == 1:
            pairs[source] = same[0][1]
            free.remove(same[0])
        else:
            waiting.append((source, start))
    if len(waiting) == 1 and len(free) == 1:
        source, start = waiting[0]
        other = _describe_start(free[0][1])
        if start is None or other is None or start == other:
            pairs[source] = free[0][1]
            waiting = []
    if waiting:
        names = ", ".join(source for source, _ in waiting)
        offered = f" {len(free)} describe-execution file(s) ({', '.join(s for s, _ in free)}) did not match " \
                  "them by start time;" if free else ""
        raise NativeFormatError(waiting[0][0], "$", f"get-execution-history output does not name its execution "
                                f"({names});{offered} import each history with --execution-arn ARN, or pass them "
                                "one pair at a time (the describe-execution JSON with its history)")
    return pairs


FORMATS = {
    HISTORY: transform_history,
    LOG_RECORDS: transform_log_records,
    STATE_MACHINE: transform_state_machine,
    EXECUTION: transform_execution,
}


def detect(doc: Any) -> str | None:
    """The AWS format of a parsed document, or None when it is not a Step Functions document."""
    first: Any = None
    if isinstance(doc, list):
        first = doc[0] if doc else None
        if isinstance(first, dict):
            if "execution_arn" in first and "event_timestamp" in first:
                return LOG_RECORDS
            if "executionArn" in first and "stateMachineArn" in first:
                return EXECUTION
            if "previousEventId" in first and "type" in first and "id" in first:
                return HISTORY
        return None
    if not isinstance(doc, dict):
        return None
    events = doc.get("events")
    if isinstance(events, list):
        first = events[0] if events else None
        if isinstance(first, dict):
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
    if "stateMachineArn" in doc and "definition" in doc:
        return STATE_MACHINE
    if "executionArn" in doc and "stateMachineArn" in doc and "status" in doc:
        return EXECUTION
    if isinstance(doc.get("executions"), list) and all(
            isinstance(x, dict) and "executionArn" in x for x in doc["executions"][:5]):
        return EXECUTION
    return None


# ====================================================================== assemble

def _states(machine: Any) -> dict:
    """The States of a (nested) state machine; {} where the definition is malformed (reported by
    `definition_problem` when the state machine is imported)."""
    states = machine.get("States") if isinstance(machine, dict) else None
    return states if isinstance(states, dict) else {}


def _nested(state: dict) -> list[tuple[int | None, Any]]:
    """(branch index, machine) of each state machine inside a state: Parallel branches, the Map's
    processor (branch index None)."""
    branches = state.get("Branches")
    out: list[tuple[int | None, Any]] = list(enumerate(branches)) if isinstance(branches, list) else []
    proc = state.get("ItemProcessor") or state.get("Iterator")
    if proc is not None:
        out.append((None, proc))
    return out


def _branch_index(definition: dict | None) -> dict[tuple[str, str], int]:
    """(parallel state name, inner state name) -> branch index, from an ASL definition."""
    out: dict[tuple[str, str], int] = {}

    def walk(states: dict) -> None:
        for name, state in states.items():
            if not isinstance(state, dict) or state.get("Type") not in ("Parallel", "Map"):
                continue
            for i, machine in _nested(state):
                if state.get("Type") == "Parallel" and i is not None:
                    for inner in _states(machine):
                        out[(name, inner)] = i
                walk(_states(machine))
    walk(_states(definition))
    return out


def _task_resources(definition: dict | None) -> dict[str, str]:
    out: dict[str, str] = {}

    def walk(states: dict) -> None:
        for name, state in states.items():
            if not isinstance(state, dict):
                continue
            if state.get("Type") == "Task" and isinstance(state.get("Resource"), str):
                out.setdefault(name, state["Resource"])
            for _, machine in _nested(state):
                walk(_states(machine))
    walk(_states(definition))
    return out


_DEFINITION_INDEXES: dict[str, tuple[dict[tuple[str, str], int], dict[str, str]]] = {}


def _definition_indexes(definition: Any) -> tuple[dict[tuple[str, str], int], dict[str, str]]:
    """(branch index, task resources) of a definition; parsed once per definition text (one
    workflow's thousands of executions share it). Callers must not mutate the result."""
    if definition is None:
        return {}, {}
    if not isinstance(definition, str):
        obj = _definition_obj(definition)
        return (_branch_index(obj), _task_resources(obj)) if obj else ({}, {})
    cached = _DEFINITION_INDEXES.get(definition)
    if cached is None:
        obj = _definition_obj(definition)
        cached = (_branch_index(obj), _task_resources(obj)) if obj else ({}, {})
        if len(_DEFINITION_INDEXES) >= 256:
            _DEFINITION_INDEXES.clear()
        _DEFINITION_INDEXES[definition] = cached
    return cached


def express_gb_seconds(duration_ms: int, memory_mb: int | None = None) -> float:
    """Express duration charge in GB-seconds.

    AWS: duration "rounded up to the nearest 100ms" and memory "billed in 64-MB chunks".
    When Step Functions reports billing details (StartSyncExecution ``billingDetails``, carried
    as billed_duration_ms / billed_memory_mb) they are used as given; otherwise the duration is
    rounded up here and memory is ASSUMED to be one 64 MB chunk, which holds for workflows with
    small definitions and payloads (memory = 50 MB + definition + payload x Parallel/Map steps).
    """
    billed_ms = math.ceil(max(duration_ms, 0) / EXPRESS_BILLING_INCREMENT_MS) * EXPRESS_BILLING_INCREMENT_MS
    billed_ms = max(billed_ms, EXPRESS_BILLING_INCREMENT_MS)
    mem = memory_mb or EXPRESS_MEMORY_CHUNK_MB
    mem = math.ceil(mem / EXPRESS_MEMORY_CHUNK_MB) * EXPRESS_MEMORY_CHUNK_MB
    return (billed_ms / 1000.0) * (mem / 1024.0)


def _merged(rows: list[Row], key: Callable[[Row], Hashable]) -> list[Row]:
    """One row per key, in first-seen order, by `merge_rows` (rows later in the list are newer)."""
    by_key: dict[Hashable, Row] = {}
    for row in rows:
        k = key(row)
        by_key[k] = merge_rows(by_key[k], row) if k in by_key else row
    return list(by_key.values())


def assemble(execution: Row | None, steps: list[Row], attempts: list[Row],
             workflow: Row | None) -> tuple[list[Row], list[Row], list[Row]]:
    """Finish one execution's rows: settle branches and resources from the definition, count usage.

    - With the workflow's definition: a Parallel branch whose index could not be read from the
      history (broken ``previousEventId`` chain) gets it from the definition, and a Task with
      no recorded resource (log level ERROR drops the Scheduled events) gets the definition's.
    - Usage, by Step Functions billing rules. Standard: one ``aws.sfn.state_transition`` per
      state entered, plus one per retry ("each retry will be charged as an additional state
      transition"), so per step ``attempts`` (Task tries, Parallel/Map restarts; 1 otherwise).
      Express: one ``aws.sfn.express_request`` per execution and ``aws.sfn.express_gb_second``
      from the billed (or rounded-up) duration and memory; see `express_gb_seconds`.
      Usage rows carry the execution's ``started_at`` / ``start_date`` so they are replaced with it.

    Rows repeated under the same key (stored rows followed by a re-collected history, or two
    histories of one run read at different times, in any order) are settled by the shared rule
    (`assemble.merge_rows`): a finished step or attempt never goes back to RUNNING, and between
    two in the same state the later one wins, so a partial history of a running execution never
    undoes the finished one, and the usage counted from the steps follows.

    Pure and idempotent: inputs are not mutated and assembling the output again gives the same rows.
    """
    steps = _merged(steps, lambda s: s[C.step_key])
    attempts = _merged(attempts, lambda a: (a[C.step_key], a[C.attempt]))
    branches, resources = _definition_indexes(workflow.get(C.definition) if workflow else None)
    if branches or resources:
        by_key = {s[C.step_key]: s for s in steps}
        new_steps = []
        for s in steps:
            changed = None
            if s[C.iteration] is None and s[C.parent_step_key] is not None and branches:
                parent = by_key.get(s[C.parent_step_key])
                if parent is not None and parent[C.native_type] == "Parallel":
                    idx = branches.get((parent[C.name], s[C.name]))
                    if idx is not None:
                        changed = dict(s)
                        changed[C.iteration] = idx
            if s[C.resource] is None and s[C.native_type] == "Task" and s[C.name] in resources:
                changed = changed or dict(s)
                changed[C.resource] = resources[s[C.name]]
            new_steps.append(changed if changed is not None else s)
        steps = new_steps

    usage: list[Row] = []
    if execution is None:
        return steps, attempts, usage
    kind = execution.get(C.kind) or (workflow or {}).get(C.kind) or _KIND_STANDARD
    base = {
        C.cloud: CLOUD,
        C.region: execution.get(C.region),
        C.workflow_id: execution[C.workflow_id],
        C.execution_id: execution[C.execution_id],
        C.started_at: execution[C.started_at],
        C.start_date: execution[C.start_date],
    }
    if kind == _KIND_EXPRESS:
        row = dict(base)
        row[C.step_key] = None
        row[C.meter] = _METER_REQUEST
        row[C.quantity] = 1.0
        usage.append(row)
        billed = execution.get(C.billed_duration_ms)
        dur = billed if billed is not None else execution.get(C.duration_ms)
        if dur is not None:
            row = dict(base)
            row[C.step_key] = None
            row[C.meter] = _METER_GB_SECOND
            row[C.quantity] = express_gb_seconds(dur, execution.get(C.billed_memory_mb))
            usage.append(row)
    else:
        meter = _METER_TRANSITION
        for s in steps:
            row = dict(base)
            row[C.step_key] = s[C.step_key]
            row[C.meter] = meter
            row[C.quantity] = float(s[C.attempts] or 1)
            usage.append(row)
    return steps, attempts, usage
