"""One execution's history events -> what happened to each state visit (`HistoryBuilder`).

Events arrive sorted by id as ``(id, previous id, timestamp, type, details)``. Each event type
has a named kind (`events.EventKind`), and each kind a handler (`_HANDLERS`, written in
`step_events` and `flow_events`): the loop looks the handler up by the event type and calls
it. How the events map to visits, branches and tries is told in the package docstring;
`rows.history_rows` turns the result into rows.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import Any

from flowscope.collectors.aws import events as E
from flowscope.collectors.aws.events import EventKind
from flowscope.collectors.aws.transform import flow_events, step_events
from flowscope.collectors.aws.transform.visits import Anchor, Scope, Visit
from flowscope.collectors.native import cleaned
from flowscope.model import Skip

EventFields = tuple[int, int, Any, str, Any]
"""(id, previous id, timestamp, type, details) of one history event."""

_CAUSE_STATE = re.compile(r"while executing the state '(?P<name>.+)' \(entered at the event id #(?P<id>\d+)\)")


class HistoryBuilder:
    """Consumes one execution's events (API shape, sorted by id) and keeps its visits."""

    def __init__(self, execution_arn: str, source_name: str) -> None:
        self.arn = execution_arn
        self.source_name = source_name
        self.root = Scope(None, None)
        self.steps: list[Visit] = []
        self.owner: dict[int, Anchor] = {}
        self.open_by_name: dict[str, list[Visit]] = {}
        self.containers: list[Visit] = []
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
        self.map_run_steps: dict[str, str] = {}     # Map Run ARN -> key of the Map visit that ran it
        self.culprit: Anchor = None     # what the execution-failure event points back to

    # ------------------------------------------------------------------ reading events
    def feed(self, events: Iterable[dict[str, Any]]) -> None:
        """Consume API-shape events (dicts)."""
        self.feed_fields(self._api_fields(events))

    def _api_fields(self, events: Iterable[dict[str, Any]]) -> Iterable[EventFields]:
        event_types = E.EVENT_TYPES
        parse_ts = E.parse_timestamp
        ts_cache: dict[Any, dt.datetime | None] = {}
        for ev in events:
            try:
                eid = ev["id"]
                etype = ev["type"]
                if etype.__class__ is not str or not etype:
                    raise ValueError(f"event type {etype!r} is not an event type")
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
                where = ev.get("id") if isinstance(ev, dict) else "?"
                self.skips.append(Skip(self.source_name, f"{self.arn} event {where}",
                                       f"malformed history event: {exc!r}"))
                continue
            info = event_types.get(etype)
            yield eid, prev, ts, etype, ev.get(info[1] if info is not None else E.details_key(etype))

    def feed_fields(self, items: Iterable[EventFields]) -> None:
        """Consume events already split into ``(id, previous id, timestamp, type, details)``,
        sorted by id: the log path builds these straight from log records (`events.log_record_fields`)."""
        handler_of = _HANDLER_OF_TYPE
        owner = self.owner
        unknown = self.unknown
        count = 0
        for eid, prev, ts, etype, details in items:
            count += 1
            if self.first_ts is None:
                self.first_ts = ts
            handler = handler_of.get(etype)
            if handler is None:
                unknown[etype] = unknown.get(etype, 0) + 1
                handler = _unknown_state_handler(etype)
                if handler is None:
                    owner[eid] = owner.get(prev)
                    continue
            if not details or details.__class__ is not dict:
                details = {}   # the file readers skip (and report) events whose details are not objects
            try:
                handler(self, eid, prev, ts, etype, details)
            except (TypeError, ValueError, AttributeError, OverflowError) as exc:
                # a field of the wrong type (an iteration index that is no number, a resource that
                # is no text) failed the whole file; the event alone is skipped, named
                self.skips.append(Skip(self.source_name, f"{self.arn} event {eid}",
                                       f"malformed {etype} event: {type(exc).__name__}: {cleaned(str(exc), 120)}"))
        self.event_count += count

    # ------------------------------------------------------------------ finding visits
    def step_of(self, prev: int) -> Visit | None:
        anchor = self.owner.get(prev)
        if anchor.__class__ is Visit:
            return anchor
        # Chain broken (filtered log level): the most recently entered open Task.
        for step in reversed(self.steps):
            if step.ntype == "Task" and step.exited is None and not step.unlogged:
                return step
        return None

    def fallback_scope(self) -> Scope:
        """Scope for a state whose previous event is unknown: under the innermost open container."""
        if self.containers:
            return Scope(self.containers[-1], None)
        return self.root

    def aborted_step(self, ntype: str, anchor: Anchor) -> Visit | None:
        """The state a ``<Type>StateAborted`` cancels. Its previousEventId names the event that
        caused the abort (e.g. a sibling iteration's failure), not the state, so take the anchor
        if it is an open state of that type, else the earliest open, not yet aborted one."""
        if isinstance(anchor, Visit) and anchor.ntype == ntype and not anchor.aborted and anchor.exited is None:
            return anchor
        for step in self.steps:
            if step.ntype == ntype and not step.aborted and step.exited is None:
                return step
        return None

    def named_in_cause(self, cause: Any) -> Visit | None:
        """The state a ``States.Runtime`` failure names only in its cause ("... while executing the
        state 'X' (entered at the event id #8)"): its ExecutionFailed has previousEventId 0."""
        found = _CAUSE_STATE.search(cause) if isinstance(cause, str) else None
        if found is None:
            return None
        name, entered = found.group("name"), int(found.group("id"))
        step = self.owner.get(entered)
        if isinstance(step, Visit) and step.key == str(entered) and step.name == name:
            return step
        return next((s for s in reversed(self.steps) if s.name == name), None)

    def innermost(self, ntype: str) -> Visit | None:
        for box in reversed(self.containers):
            if box.ntype == ntype:
                return box
        return None


Handler = Callable[[HistoryBuilder, int, int, Any, str, dict], None]

_HANDLERS: dict[EventKind, Handler] = {
    EventKind.ENTERED: step_events.on_entered,
    EventKind.EXITED: step_events.on_exited,
    EventKind.STATE_ABORTED: step_events.on_state_aborted,
    EventKind.TRY_SCHEDULED: step_events.on_try_scheduled,
    EventKind.TRY_STARTED: step_events.on_try_started,
    EventKind.TRY_SUBMITTED: step_events.on_try_started,
    EventKind.TRY_SUCCEEDED: step_events.on_try_succeeded,
    EventKind.TRY_FAILED: step_events.on_try_failed,
    EventKind.TRY_TIMED_OUT: step_events.on_try_timed_out,
    EventKind.TRY_START_FAILED: step_events.on_try_failed,
    EventKind.PARALLEL_STARTED: flow_events.on_parallel_started,
    EventKind.MAP_STARTED: flow_events.on_map_started,
    EventKind.CONTAINER_SUCCEEDED: flow_events.on_container_succeeded,
    EventKind.CONTAINER_FAILED: flow_events.on_container_failed,
    EventKind.CONTAINER_ABORTED: flow_events.on_container_aborted,
    EventKind.ITERATION_STARTED: flow_events.on_iteration_started,
    EventKind.ITERATION_ENDED: flow_events.on_iteration_ended,
    EventKind.MAP_RUN_STARTED: flow_events.on_map_run_started,
    EventKind.MAP_RUN_ENDED: flow_events.on_map_run_ended,
    EventKind.MAP_RUN_FAILED: flow_events.on_map_run_failed,
    EventKind.EXEC_STARTED: flow_events.on_exec_started,
    EventKind.EXEC_SUCCEEDED: flow_events.on_exec_succeeded,
    EventKind.EXEC_FAILED: flow_events.on_exec_failed,
    EventKind.EXEC_TIMED_OUT: flow_events.on_exec_timed_out,
    EventKind.EXEC_ABORTED: flow_events.on_exec_aborted,
    EventKind.EXEC_REDRIVEN: flow_events.on_exec_redriven,
    EventKind.EVALUATION_FAILED: flow_events.on_evaluation_failed,
}
"""Each event kind's handler: every kind has one (a new kind fails here, not silently)."""

def _unknown_state_handler(etype: str) -> Handler | None:
    """A type the table lacks is still a visit when it says so: ``<NewType>StateEntered`` /
    ``<NewType>StateExited`` (a state type added to Step Functions after this table) open and close
    a step (type ``other``), so its transition is counted rather than the step dropped; the type
    is counted in ``unknown_event_types`` all the same. Anything else only keeps the chain."""
    if etype.__class__ is not str:
        return None
    if etype.endswith("StateEntered") and len(etype) > 12:
        return step_events.on_entered
    if etype.endswith("StateExited") and len(etype) > 11:
        return step_events.on_exited
    return None


_HANDLER_OF_TYPE: dict[str, Handler] = {etype: _HANDLERS[kind] for etype, (kind, _) in E.EVENT_TYPES.items()}
"""Event type -> handler: one dict lookup per event in the loop."""
