"""Finish the rows of one GCP Workflows execution: fold retries, settle links, types, statuses.

1. Duplicate rows (same step_key / attempt) merge by the shared rule
   (`collectors.assemble.merge_rows`, the terminal one winning), keeping the most specific call
   target.
2. Retries fold: call entries of one step (same name, same parent) whose attempt numbers
   continue the previous visit's (``PROGRESS_TYPE_RETRY`` progressNumber 2, 3, ...) become
   attempts of that visit. The visit keeps the step_key of its LAST attempt, the entry
   the next step names as ``previous``; steps.attempts = number of attempts; its times
   span the attempts and its status is the last attempt's.
3. Types and resources come from the workflow definition when given (call targets, HTTP
   hosts, `sys.sleep` as a wait); without it (or with an unparsable one), from the step type
   alone, with calls' resource "unknown" until a later assemble with the definition
   reclassifies; unknown calls are metered by `definition.call_is_external` (external,
   except connector and subworkflow calls).
4. Iterations: a step with none takes its nearest ancestor's (parent_step_key chain).
5. A FAILED step under a try block whose ``except`` ran later is CAUGHT.
6. Usage by the billing rule (`billing`).
7. All rows take the execution's start_date (one partition per execution).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flowscope.collectors.gcp.definition import (
    UNKNOWN_RESOURCE,
    UNRESOLVED_HOST,
    Definition,
    DefinitionError,
    parse_definition,
    resource_is_wait,
)
from flowscope.collectors.gcp.transform.billing import usage_rows
from flowscope.collectors.gcp.transform.records import (
    CALL_LOG_NATIVE_TYPE,
    CALL_NATIVE_TYPES,
    STEP_TYPES,
    attempt_from,
    step_order,
)
from flowscope.collectors.merge import merge_rows
from flowscope.collectors.native import Row
from flowscope.model import WORK_STEP_TYPES, C, Status, StepType, duration_ms

AttemptsByStep = dict[str, dict[int, Row]]
"""step_key -> attempt number -> attempts row."""


def assemble(
    execution: Row | None, steps: list[Row], attempts: list[Row], workflow: Row | None
) -> tuple[list[Row], list[Row], list[Row]]:
    """Steps, attempts and usage of one execution (see the module docstring for the rules).

    Pure and idempotent.
    """
    definition = _definition(workflow)
    exec_start = execution.get(C.started_at) if execution else None
    start_date = execution.get(C.start_date) if execution else None
    region = (execution or {}).get(C.region) or (workflow or {}).get(C.region)

    by_key, att_by_step = _dedupe(steps, attempts)
    folded = _fold_retries(by_key, att_by_step)
    out_attempts = _type_steps(by_key, folded, definition)
    _inherit_iterations(by_key)
    _settle_caught(by_key)
    if start_date is not None:
        for row in by_key.values():
            row[C.start_date] = start_date
    usage = usage_rows(by_key, definition, region, exec_start, start_date)
    if start_date is not None:
        for att in out_attempts:
            att[C.start_date] = start_date
    out_steps = [by_key[k] for k in sorted(by_key, key=step_order)]
    out_attempts.sort(key=lambda a: (step_order(a[C.step_key]), a[C.attempt]))
    return out_steps, out_attempts, usage


def _definition(workflow: Row | None) -> Definition | None:
    if not workflow or not workflow.get(C.definition):
        return None
    try:
        return parse_definition(workflow[C.definition])
    except (DefinitionError, RecursionError, ValueError, TypeError):
        return None      # reported when the workflow was read (`transform_workflows`)


def _specific(resource: str | None) -> int:
    if resource is None or resource == UNKNOWN_RESOURCE:
        return 0
    return 1 if resource.endswith(f" {UNRESOLVED_HOST}") else 2


def _merge_keeping_target(old: Row, new: Row) -> Row:
    """Two rows for the same key (re-imported, or halves of one call): the shared rule
    (`assemble.merge_rows`, a finished row wins), keeping the most specific call target."""
    merged = merge_rows(old, new)
    for other in (old, new):
        if C.resource in merged and _specific(other.get(C.resource)) > _specific(merged[C.resource]):
            merged[C.resource] = other[C.resource]
    return merged


def _dedupe(steps: list[Row], attempts: list[Row]) -> tuple[dict[str, Row], AttemptsByStep]:
    by_key: dict[str, Row] = {}
    for row in steps:
        key = row[C.step_key]
        by_key[key] = _merge_keeping_target(by_key[key], row) if key in by_key else dict(row)
    att_by_step: AttemptsByStep = defaultdict(dict)
    for att in attempts:
        slot = att_by_step[att[C.step_key]]
        n = int(att[C.attempt])
        slot[n] = _merge_keeping_target(slot[n], att) if n in slot else dict(att)
    return by_key, att_by_step


def _fold_retries(by_key: dict[str, Row], att_by_step: AttemptsByStep) -> dict[str, list[Row]]:
    """Fold the call entries of each step visit into one row; returns visit key -> its attempts."""
    groups: dict[tuple[Any, Any], list[str]] = defaultdict(list)
    for key, row in by_key.items():
        if row.get(C.native_type) in CALL_NATIVE_TYPES:
            groups[(row[C.name], row.get(C.parent_step_key))].append(key)
    folded: dict[str, list[Row]] = {}
    for keys in groups.values():
        visits = _visits(keys, by_key, att_by_step)
        rows = {key: by_key.pop(key) for key in keys}
        for visit in visits:
            first_key, last_key = visit[0][1], visit[-1][1]
            keep = dict(rows[first_key])
            keep[C.step_key] = last_key
            best = max((rows[k].get(C.resource) for _, k in visit), key=_specific)
            if _specific(best) > _specific(keep.get(C.resource)):
                keep[C.resource] = best
            by_key[last_key] = keep
            folded[last_key] = [att for att, _ in visit]
    return folded


def _visits(keys: list[str], by_key: dict[str, Row], att_by_step: AttemptsByStep) -> list[list[tuple[Row, str]]]:
    """The tries of one call step, (attempt row, entry key) in time order, cut into visits: a try
    numbered no higher than the previous one starts a new visit."""
    # Each physical try is (attempt number, start time); the same try may come under two
    # keys (its own entry id, and the visit key of an earlier assemble): keep the smaller.
    tries: dict[tuple[int, Any], tuple[Row, str]] = {}
    for key in sorted(keys, key=step_order, reverse=True):
        for att in (att_by_step.get(key, {}).values() or [attempt_from(by_key[key], 1)]):
            tries[(int(att[C.attempt]), att[C.started_at])] = (att, key)
    visits: list[list[tuple[Row, str]]] = []
    for (number, _start), item in sorted(tries.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if visits and number > int(visits[-1][-1][0][C.attempt]):
            visits[-1].append(item)
        else:
            visits.append([item])
    return visits


def _type_steps(by_key: dict[str, Row], folded: dict[str, list[Row]], definition: Definition | None) -> list[Row]:
    """Types and call targets of each step; a folded visit takes its attempts' times and outcome.
    Returns the attempts rows of work steps."""
    out_attempts: list[Row] = []
    for key, row in by_key.items():
        step_type = _type_and_target(row, definition)
        atts = folded.get(key)
        if atts is None:
            row[C.attempts] = row.get(C.attempts) or 1
            continue
        atts = [dict(a, **{C.step_key: key}) for a in atts]
        last = atts[-1]
        row[C.started_at] = atts[0][C.started_at] or row[C.started_at]
        row[C.ended_at] = last[C.ended_at]
        row[C.duration_ms] = duration_ms(row[C.started_at], row[C.ended_at])
        row[C.status] = last[C.status]
        failed = last[C.status] != Status.SUCCEEDED.value
        row[C.error], row[C.cause] = (last[C.error], last.get(C.cause)) if failed else (None, None)
        row[C.attempts] = len(atts)
        if step_type in WORK_STEP_TYPES:
            out_attempts.extend(atts)
    return out_attempts


def _type_and_target(row: Row, definition: Definition | None) -> StepType:
    """Set the step's type and resource (the call target, from the definition when it knows it)."""
    native = row.get(C.native_type) or "STEP_TYPE_UNSPECIFIED"
    step_type = STEP_TYPES.get(native, StepType.OTHER)
    routine, _, short = row[C.name].rpartition("/")
    sdef = definition.find(routine or ("main" if native != CALL_LOG_NATIVE_TYPE else None), short) \
        if definition else None
    if native in CALL_NATIVE_TYPES:
        if sdef is not None and sdef.resource:
            row[C.resource] = sdef.resource
        elif not row.get(C.resource):
            row[C.resource] = UNKNOWN_RESOURCE
        if resource_is_wait(row[C.resource]):
            step_type = StepType.WAIT
    else:
        row[C.resource] = None
    row[C.type] = step_type.value
    return step_type


def _inherit_iterations(by_key: dict[str, Row]) -> None:
    """A step without an iteration takes its nearest ancestor's."""
    for row in sorted(by_key.values(), key=lambda r: step_order(r[C.step_key])):
        if row.get(C.iteration) is None:
            row[C.iteration] = _ancestor_iteration(row, by_key)


def _ancestor_iteration(row: Row, by_key: dict[str, Row]) -> int | None:
    seen: set[str] = set()
    parent = row.get(C.parent_step_key)
    while parent and parent not in seen:
        seen.add(parent)
        prow = by_key.get(parent)
        if prow is None:
            return None
        if prow.get(C.iteration) is not None:
            return prow[C.iteration]
        parent = prow.get(C.parent_step_key)
    return None


def _settle_caught(by_key: dict[str, Row]) -> None:
    """CAUGHT: a FAILED step with a later except under a common try block."""
    excepts: dict[str, list[str]] = defaultdict(list)
    for key, row in by_key.items():
        if row.get(C.native_type) == "STEP_EXCEPT" and row.get(C.parent_step_key):
            excepts[row[C.parent_step_key]].append(key)
    if not excepts:
        return
    for key, row in by_key.items():
        if row[C.status] != Status.FAILED.value:
            continue
        seen = set()
        parent = row.get(C.parent_step_key)
        while parent and parent not in seen:
            seen.add(parent)
            if any(step_order(e) > step_order(key) for e in excepts.get(parent, ())):
                row[C.status] = Status.CAUGHT.value
                break
            prow = by_key.get(parent)
            parent = prow.get(C.parent_step_key) if prow else None
