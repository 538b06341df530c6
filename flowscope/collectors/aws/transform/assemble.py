"""Finishing one execution's rows once everything known about it is together (`assemble`)."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from flowscope.collectors.aws.definition import BranchIndex, TaskResources, definition_indexes
from flowscope.collectors.aws.transform.billing import usage_rows
from flowscope.collectors.aws.transform.names import UNLOGGED_TASK
from flowscope.collectors.merge import merge_rows
from flowscope.collectors.native import Row
from flowscope.model import C


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
      no recorded resource (log level ERROR drops the Scheduled events) gets the definition's,
      and a Task known only by its failure (`names.UNLOGGED_TASK`) the name of the one Task
      state that calls its resource.
    - Usage by Step Functions billing rules (`billing.usage_rows`).

    Rows repeated under the same key (stored rows followed by a re-collected history, or two
    histories of one run read at different times, in any order) are settled by the shared rule
    (`assemble.merge_rows`): a finished step or attempt never goes back to RUNNING, and between
    two in the same state the later one wins, so a partial history of a running execution never
    undoes the finished one, and the usage counted from the steps follows.

    Pure and idempotent: inputs are not mutated and assembling the output again gives the same rows.
    """
    steps = _merged(steps, lambda s: s[C.step_key])
    attempts = _merged(attempts, lambda a: (a[C.step_key], a[C.attempt]))
    branches, resources = definition_indexes(workflow.get(C.definition) if workflow else None)
    if branches or resources:
        steps = _settled_from_definition(steps, branches, resources)
    if execution is None:
        return steps, attempts, []
    return steps, attempts, usage_rows(execution, steps, workflow)


def _settled_from_definition(steps: list[Row], branches: BranchIndex, resources: TaskResources) -> list[Row]:
    """Steps with the branch index and Task resource the history missed taken from the definition
    (changed rows are copies)."""
    by_key = {s[C.step_key]: s for s in steps}
    out = []
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
        if s[C.name] == UNLOGGED_TASK and s[C.native_type] == "Task":
            callers = [name for name, resource in resources.items() if resource == s[C.resource]]
            if len(callers) == 1:    # several Tasks call it: which one failed is not known
                changed = changed or dict(s)
                changed[C.name] = callers[0]
        out.append(changed if changed is not None else s)
    return out
