"""Finish the rows of one Logic Apps run once everything known about it is together.

The assembly rules (the order matters: each step reads what the previous one settled):

1. duplicates of one step (the same record read twice, a run's trigger and its trigger
   history) collapse to one row by the shared rule (`collectors.assemble.merge_rows`);
2. the aggregate record of an action that ran inside a loop is dropped once its repetitions
   are known, so an action execution is never counted twice; so are its tries and the requests
   read at its level, which belong to no visit;
3. with the definition: names take the definition's spelling, types / native types /
   connectors / meters come from it, parents follow its nesting (Scope, If, Switch, loops),
   previous steps follow `runAfter`;
4. a Failed action that a later action runs after with `Failed` (or that sits in a container
   handled that way) becomes CAUGHT, and so does a TimedOut one handled either way;
5. tries: one attempts row per try of a work step, the pieces of one try merged; request
   histories (HTTP requests, not tries) only give a try without a start its start;
6. usage by the Consumption rules (`billing`).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable

from flowscope.collectors.azure.definition import ActionInfo, Definition, cached_definition
from flowscope.collectors.azure.transform.billing import usage_rows
from flowscope.collectors.azure.transform.ids import parse_step_key, step_key, trigger_key
from flowscope.collectors.azure.transform.records import ITERATION_NATIVE_TYPE, attempt_row
from flowscope.collectors.azure.transform.request_histories import REQUEST
from flowscope.collectors.merge import merge_rows
from flowscope.collectors.native import Row, row_attributes
from flowscope.model import WORK_STEP_TYPES, C, Meter, Status, StepType, duration_ms

ParsedKeys = dict[str, tuple[str, list[tuple[str, int]]]]
"""step_key -> (lower-cased action name, loop indexes outermost first), see `ids.parse_step_key`."""

_WORK_TYPES = frozenset(t.value for t in WORK_STEP_TYPES)
_SKIPPED = Status.SKIPPED.value
_FAILED = Status.FAILED.value
_CAUGHT = Status.CAUGHT.value
_TIMED_OUT = Status.TIMED_OUT.value


def assemble(execution: Row | None, steps: list[Row], attempts: list[Row],
             workflow: Row | None) -> tuple[list[Row], list[Row], list[Row]]:
    """Steps, attempts and usage of one run (see the module docstring for the rules).

    Pure and idempotent: assembling its own output again gives the same rows.
    """
    definition = _definition_of(workflow)
    region = workflow.get(C.region) if workflow else None
    exec_started = execution.get(C.started_at) if execution else None
    exec_date = execution.get(C.start_date) if execution else None

    rows = _one_row_per_key(steps)
    parsed: ParsedKeys = {k: parse_step_key(k, r[C.name]) for k, r in rows.items()}
    repeated = _drop_loop_aggregates(rows, parsed)
    meters = _apply_definition(rows, parsed, definition)
    if definition is not None:
        _settle_caught(rows, parsed, definition)
    out_attempts = _settle_attempts(rows, attempts, repeated, exec_date)
    if exec_date is not None:
        for row in rows.values():
            row[C.start_date] = exec_date
    usage = usage_rows(rows, meters, region, exec_started, exec_date)

    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    out_steps = sorted(rows.values(), key=lambda r: (r[C.started_at] or far, r[C.step_key]))
    out_attempts.sort(key=lambda a: (a[C.step_key], a[C.attempt]))
    usage.sort(key=lambda u: u[C.step_key])
    return out_steps, out_attempts, usage


def _definition_of(workflow: Row | None) -> Definition | None:
    if not workflow or not workflow.get(C.definition):
        return None
    connections = json.dumps(row_attributes(workflow).get("connections") or {}, sort_keys=True)
    return cached_definition(workflow[C.definition], connections)


def _one_row_per_key(steps: list[Row]) -> dict[str, Row]:
    by_key: dict[str, Row] = {}
    for row in steps:
        key = row[C.step_key]
        by_key[key] = merge_rows(by_key[key], row) if key in by_key else row
    return {k: dict(v) for k, v in by_key.items()}


def _drop_loop_aggregates(rows: dict[str, Row], parsed: ParsedKeys) -> set[str]:
    """Drop a row `x` when some `x#...` visit exists that is not an iteration of x itself; returns
    those actions (`x`: the key of their own records), whose action-level pieces belong to no visit."""
    repeated = {base for k, (base, idx) in parsed.items()
                if idx and not (rows[k][C.native_type] == ITERATION_NATIVE_TYPE)}
    aggregates = {k for k, (base, idx) in parsed.items()
                  if not idx and base in repeated and not k.startswith("@")}
    for key in aggregates:
        del rows[key]
        del parsed[key]
    return repeated


def _apply_definition(rows: dict[str, Row], parsed: ParsedKeys, definition: Definition | None) -> dict[str, Meter]:
    """Type, name and link each step by the definition; returns each step's meter."""
    loops_seen = {s.lower() for _, idx in parsed.values() for s, _ in idx}
    meters: dict[str, Meter] = {}
    for key, row in rows.items():
        base, idx = parsed[key]
        info = None
        if definition is not None:
            info = definition.triggers.get(base[1:]) if key.startswith("@") else definition.get(base)
        if info is None:
            _without_definition(key, row, base in loops_seen, definition is not None)
            meters[key] = Meter.AZURE_LOGIC_UNCLASSIFIED_ACTION
            continue
        assert definition is not None
        meters[key] = info.meter
        _from_definition(key, row, idx, info, definition)
    return meters


def _without_definition(key: str, row: Row, is_loop: bool, has_definition: bool) -> None:
    """A step its definition does not describe (or no definition yet): typed by its record alone."""
    if key.startswith("@"):
        row[C.type] = StepType.TRIGGER.value
    elif row[C.native_type] != ITERATION_NATIVE_TYPE:
        row[C.type] = (StepType.LOOP if is_loop else StepType.TASK).value
        row[C.native_type] = None
        row[C.resource] = None
    if not key.startswith("@") and not has_definition:
        row[C.previous_step_key] = None


def _from_definition(key: str, row: Row, idx: list[tuple[str, int]], info: ActionInfo,
                     definition: Definition) -> None:
    row[C.name] = info.name
    if key.startswith("@"):
        row[C.type], row[C.native_type], row[C.resource] = StepType.TRIGGER.value, info.native_type, info.resource
        return
    if row[C.native_type] == ITERATION_NATIVE_TYPE:
        return
    row[C.type], row[C.native_type], row[C.resource] = info.step_type.value, info.native_type, info.resource
    idx_by_scope = {s.lower(): (s, i) for s, i in idx}
    row[C.parent_step_key] = _visit_key(definition, info.parent, idx_by_scope) \
        if info.parent in definition.actions else None
    row[C.iteration] = idx[-1][1] if idx else None
    preds = [p for p in info.run_after if p in definition.actions]
    if preds:
        row[C.previous_step_key] = _visit_key(definition, preds[0], idx_by_scope)
    elif info.parent is None and definition.triggers:
        row[C.previous_step_key] = trigger_key(next(iter(definition.triggers.values())).name)
    else:
        row[C.previous_step_key] = None


def _visit_key(definition: Definition, name: str | None, idx_by_scope: dict[str, tuple[str, int]]) -> str:
    """The step key of action `name` in the same loop iterations as the visit being typed."""
    assert name is not None
    loops = definition.loop_ancestors(name)
    return step_key(definition.actions[name].name, [idx_by_scope[s] for s in loops if s in idx_by_scope])


def _settle_caught(rows: dict[str, Row], parsed: ParsedKeys, definition: Definition) -> None:
    """CAUGHT: failed, but a later action runs after it with Failed (and did run), or it sits in
    a container handled that way. A timed-out visit handled either way is CAUGHT too; one not
    handled stays TIMED_OUT."""
    caught_keys = _handled_keys(rows, parsed, definition)
    for key, row in rows.items():
        if row[C.status] not in (_FAILED, _CAUGHT, _TIMED_OUT):
            continue
        handled = key in caught_keys
        parent = row.get(C.parent_step_key)
        hops = 0
        while not handled and parent is not None and hops < 64:
            handled = parent in caught_keys
            parent = rows[parent].get(C.parent_step_key) if parent in rows else None
            hops += 1
        if row[C.status] == _TIMED_OUT:
            if handled:
                row[C.status] = _CAUGHT
            continue
        row[C.status] = _CAUGHT if handled else _FAILED


def _handled_keys(rows: dict[str, Row], parsed: ParsedKeys, definition: Definition) -> set[str]:
    """Failed or timed-out visits that a `runAfter` handler which ran takes care of."""
    ran: dict[str, bool] = {}
    for key, row in rows.items():
        ran.setdefault(parsed[key][0], False)
        if row[C.status] != _SKIPPED:
            ran[parsed[key][0]] = True
    caught_keys: set[str] = set()
    for key, row in rows.items():
        status = row[C.status]
        if status not in (_FAILED, _CAUGHT, _TIMED_OUT):
            continue
        want = "timedout" if status == _TIMED_OUT else "failed"
        for handler, statuses in definition.handlers.get(parsed[key][0], []):
            if (want in statuses or (status == _CAUGHT and "timedout" in statuses)) and ran.get(handler, True):
                caught_keys.add(key)
                break
    return caught_keys


def _merge_attempts(rows: list[Row]) -> Row:
    """Pieces of one try (retryHistory entry, request history, the action's final try) as one
    row, by the shared rule (`assemble.merge_rows`: a finished piece wins, the others complete it)."""
    # the same pieces in any order merge alike: the preferred piece comes last (ties go to `new`)
    rows = sorted(rows, key=lambda r: (r.get(C.started_at) is None, r.get(C.ended_at) is None,
                                       -sum(v is not None for v in r.values()), str(r.get(C.error))),
                  reverse=True)
    merged = functools.reduce(merge_rows, rows)
    merged[C.duration_ms] = duration_ms(merged.get(C.started_at), merged.get(C.ended_at))
    return merged


def _settle_attempts(rows: dict[str, Row], attempts: list[Row], repeated: set[str],
                     exec_date: dt.date | None) -> list[Row]:
    """One attempts row per try of a work step, merged across sources by attempt number;
    `steps.attempts` counts them. Pieces keyed to a `repeated` action's own record go with it."""
    grouped: dict[tuple[str, int], list[Row]] = {}
    requests: dict[str, list[Row]] = {}
    for att in attempts:
        if att[C.attempt] == REQUEST:
            requests.setdefault(att[C.step_key], []).append(att)
        else:
            grouped.setdefault((att[C.step_key], att[C.attempt]), []).append(att)
    per_step: dict[str, list[Row]] = {}
    out_attempts: list[Row] = []
    for key, pieces in requests.items():
        if key not in rows and key not in repeated:
            # a request history read before its action waits, placed once the action arrives; one
            # keyed to a looped action's own record (visits known, aggregate or not) belongs to none
            out_attempts.extend(_one_row_per_request(pieces))
    for (key, _number), group in grouped.items():
        step = rows.get(key)
        if step is None:
            # the tries of a repeated action's aggregate record are its repetitions'
            if key not in repeated:
                out_attempts.append(_merge_attempts(group))
            continue
        if step[C.type] not in _WORK_TYPES or step[C.status] == _SKIPPED:
            continue
        per_step.setdefault(key, []).append(_merge_attempts(group))
    for key, row in rows.items():
        if row[C.status] == _SKIPPED:
            row[C.attempts] = 0
            continue
        if row[C.type] not in _WORK_TYPES:
            row[C.attempts] = 1
            continue
        tries = per_step.get(key) or [_only_try(row)]
        tries.sort(key=lambda a: a[C.attempt])
        _place_requests(tries, requests.get(key, ()))
        for att in tries:
            att[C.start_date] = exec_date or row[C.start_date]
        row[C.attempts] = len(tries)
        out_attempts.extend(tries)
    return out_attempts


def _one_row_per_request(pieces: list[Row]) -> list[Row]:
    """The waiting requests of one action, each once: the stored piece and the same request read
    again (a file imported twice, a running request re-read finished) merge (`_merge_attempts`).
    A request history carries no number, so its start time tells it from the action's other
    requests; one without a start is told apart by all it holds."""
    by_request: dict[tuple[object, ...], list[Row]] = {}
    for piece in pieces:
        start = piece.get(C.started_at)
        key = (start,) if start is not None else \
            (None, piece.get(C.ended_at), piece.get(C.status), piece.get(C.error), piece.get(C.cause))
        by_request.setdefault(key, []).append(piece)
    return [_merge_attempts(group) for group in by_request.values()]


def _place_requests(tries: list[Row], requests: Iterable[Row]) -> None:
    """The HTTP requests of a step (request histories: `request_histories.py`) in its tries: only
    a try without a start takes one (the final try of a retried action, whose start the action
    record does not give), the first request after the previous try ended and before this one
    did. A request never adds a try (a webhook's subscription and unsubscription, the polls of an
    asynchronous call are requests of one try)."""
    starts = sorted(r[C.started_at] for r in requests if r[C.started_at] is not None)
    for i, att in enumerate(tries):
        if att[C.started_at] is not None or not starts:
            continue
        before = tries[i - 1][C.ended_at] or tries[i - 1][C.started_at] if i else None
        end = att[C.ended_at]
        start = next((s for s in starts if (before is None or s >= before) and (end is None or s <= end)), None)
        if start is not None:
            att[C.started_at] = start
            att[C.duration_ms] = duration_ms(start, end)


def _only_try(row: Row) -> Row:
    """The one try of a step no try record describes: the step itself (CAUGHT was a failed try)."""
    final = Status(row[C.status])
    return attempt_row(row, 1, row[C.started_at], row[C.ended_at],
                       Status.FAILED if final is Status.CAUGHT else final, row[C.error], row[C.cause])
