"""Bring together everything known about each execution, then let its cloud finish the rows.

Records of one execution may arrive in pieces (Azure run, actions and repetitions in separate
files; GCP step entries across pages; the workflow definition last). The store replaces an
execution's rows as a whole, so before writing we merge the incoming rows with the rows already
stored for the same executions, and call the cloud's pure `assemble` on the union. When a
workflow is seen for the first time, the executions stored before it arrived are assembled again,
so their step types and billing meters follow its definition. A workflow revision read again as
stored is not written again until its `seen_at` is a day old (`SEEN_AT_REFRESH`).

Two records of the same execution (or step, or attempt) are settled by ONE rule,
`collectors/merge.merge_rows`, used here and by the clouds' `assemble`: a terminal status never
goes back to RUNNING, so files may come in any order and a stale snapshot never undoes a
finished one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any

from flowscope.collectors.merge import display_name, merge_rows
from flowscope.collectors.native import link_parents_of, stored_children_of
from flowscope.model import WORKFLOWS, Batch, C, duration_ms, utc

if TYPE_CHECKING:
    from flowscope.collectors.native import CloudTransforms
    from flowscope.store import Store

Row = dict[str, Any]
ExecKey = tuple[str, str]
RevisionKey = tuple[str, str, str]

SEEN_AT_REFRESH = dt.timedelta(days=1)
"""How old a stored revision's `seen_at` grows before a sync or import that reads the revision again unchanged
writes it again (docs/model.md, workflows). Each write of the workflows table is a Delta commit and a file: an
hourly sync rewrote every workflow to move its `seen_at` alone, 24 commits and files a day for nothing. Refreshed
once a day, `seen_at` still says when a revision was last seen, to the day (`Session.workflows(since=...)`)."""

_WORKFLOW_CONTENT = tuple(f.name for f in WORKFLOWS if f.name != C.seen_at)
"""The workflows columns a rewrite compares: every one but `seen_at`."""


def _key(row: Row) -> ExecKey:
    return row[C.cloud], row[C.execution_id]


def _latest_workflows(rows: Iterable[Row]) -> dict[tuple[str, str], Row]:
    """Per (cloud, workflow_id), the most recently seen revision."""
    latest: dict[tuple[str, str], Row] = {}
    for row in rows:
        key = (row[C.cloud], row[C.workflow_id])
        current = latest.get(key)
        if current is None or row[C.seen_at] >= current[C.seen_at]:
            latest[key] = row
    return latest


def _workflow_for(execution: Row | None, steps: list[Row], workflows: dict[tuple[str, str], Row],
                  revisions: dict[tuple[str, str, str], Row]) -> Row | None:
    sample = execution or (steps[0] if steps else None)
    if sample is None:
        return None
    cloud, workflow_id = sample[C.cloud], sample[C.workflow_id]
    revision = execution.get(C.revision) if execution else None
    if revision and (cloud, workflow_id, revision) in revisions:
        return revisions[(cloud, workflow_id, revision)]
    return workflows.get((cloud, workflow_id))


StoredHook = Callable[[Batch], None]
TransformsLookup = Callable[[str], "CloudTransforms"]
"""cloud -> its transform package: `collectors.registry.transforms_for`, or one cloud's own package
(a live collector assembles only its cloud). Passed in, so the assembly knows no cloud."""


def assemble_batch(batch: Batch, store: "Store | None" = None, *, transforms_for: TransformsLookup,
                   absent: Collection[ExecKey] = (), on_stored: StoredHook | None = None) -> Batch:
    """Complete the execution rows of `batch` (merged with `store`) for a replace-by-execution write.

    `absent`: executions the caller has just found missing from the store (a collector's
    existence check); their stored rows are not looked up again.
    `on_stored`: called with the stored rows read for these executions, as read (before the
    assembly reuses them), so a caller comparing with the store does not read them twice.
    """
    out = Batch(workflows=[dict(w) for w in batch.workflows], metrics=list(batch.metrics),
                collection_runs=list(batch.collection_runs), skips=list(batch.skips),
                unknown_event_types=dict(batch.unknown_event_types), warnings=list(batch.warnings))

    executions: dict[ExecKey, Row] = {}
    steps: dict[ExecKey, list[Row]] = defaultdict(list)
    attempts: dict[ExecKey, list[Row]] = defaultdict(list)
    unstarted: set[ExecKey] = set()           # an end without its start: completed by a merge, or dropped
    for row in batch.executions:
        key = _key(row)
        if row[C.started_at] is None:
            unstarted.add(key)
        executions[key] = merge_rows(executions[key], row) if key in executions else row
    for row in batch.steps:
        steps[_key(row)].append(row)
    for row in batch.attempts:
        attempts[_key(row)].append(row)
    keys: set[ExecKey] = set(executions) | set(steps) | set(attempts)

    stored_workflows: list[Row] = []
    if store is not None:
        stored_workflows = store.read_rows("workflows")
        known = {(w[C.cloud], w[C.workflow_id]) for w in stored_workflows}
        first_seen = {(w[C.cloud], w[C.workflow_id]) for w in batch.workflows} - known
        keys |= _stored_executions_of(store, first_seen)
        keys |= _stored_children_of(store, executions, transforms_for)
        _merge_stored(store, keys.difference(absent) if absent else keys, executions, steps, attempts, on_stored)

    _keep_workflow_names(out.workflows, stored_workflows)
    out.workflows = _changed_workflows(out.workflows, stored_workflows)
    all_workflows = stored_workflows + out.workflows
    workflows = _latest_workflows(all_workflows)
    revisions = {(w[C.cloud], w[C.workflow_id], w[C.revision]): w for w in all_workflows}

    for cloud in sorted({key[0] for key in executions}):
        # a cloud may link runs across rows (AWS: a Map Run child to its parent execution)
        link = link_parents_of(transforms_for(cloud))
        if link is not None:
            link([row for key, row in executions.items() if key[0] == cloud], store)

    for key in sorted(keys):
        execution = executions.get(key)
        if execution is not None and execution[C.started_at] is None:
            # an end whose start no file of this batch nor the store holds (GCP system logs split
            # across files): its transform reported it as a skip; nothing to write for it
            execution = None
        elif key in unstarted and execution is not None and execution[C.duration_ms] is None:
            execution[C.duration_ms] = duration_ms(execution[C.started_at], execution[C.ended_at])
        step_rows, attempt_rows = steps.get(key, []), attempts.get(key, [])
        workflow = _workflow_for(execution, step_rows, workflows, revisions)
        module = transforms_for(key[0])
        final_steps, final_attempts, usage = module.assemble(execution, step_rows, attempt_rows, workflow)
        if execution is not None:
            out.executions.append(execution)
        names = {step[C.step_key]: step[C.name] for step in final_steps}
        for row in usage:
            row[C.name] = names.get(row[C.step_key])
        out.steps.extend(final_steps)
        out.attempts.extend(final_attempts)
        out.usage.extend(usage)
    return out


def _keep_workflow_names(incoming: list[Row], stored: list[Row]) -> None:
    """A workflow re-read under a lower-cased id keeps the name as first written (`display_name`)."""
    names: dict[tuple[str, str], str] = {}
    for row in stored + incoming:
        key = (row[C.cloud], row[C.workflow_id])
        names[key] = display_name(row[C.name], names[key]) if key in names else row[C.name]
    for row in incoming:
        row[C.name] = display_name(row[C.name], names[(row[C.cloud], row[C.workflow_id])])


def _changed_workflows(incoming: list[Row], stored: list[Row]) -> list[Row]:
    """`incoming` without the revisions that writing would leave as stored but for a fresher `seen_at`
    (`_unchanged`): a sync that reads nothing new then writes nothing to the workflows table."""
    if not stored:
        return incoming
    last = {_revision_key(row): row for row in incoming}       # a revision given twice: the later is written
    kept = {_revision_key(row): row for row in stored}
    current = _current_revisions(stored)
    same = {key for key, row in last.items() if _unchanged(row, kept.get(key), current=key in current)}
    return [row for row in incoming if _revision_key(row) not in same]


def _revision_key(row: Row) -> RevisionKey:
    """A workflows row's key in the store (`TABLES["workflows"].replace_key`)."""
    return row[C.cloud], row[C.workflow_id], row[C.revision]


def _current_revisions(stored: list[Row]) -> set[RevisionKey]:
    """Each workflow's revision whose stored `seen_at` is newer than every other's: its current one. A tie names
    none, so a rewrite of either settles it."""
    newest: dict[tuple[str, str], list[Row]] = {}
    for row in stored:
        workflow = (row[C.cloud], row[C.workflow_id])
        top = newest.get(workflow)
        if top is None or row[C.seen_at] > top[0][C.seen_at]:
            newest[workflow] = [row]
        elif row[C.seen_at] == top[0][C.seen_at]:
            top.append(row)
    return {_revision_key(rows[0]) for rows in newest.values() if len(rows) == 1}


def _unchanged(row: Row, stored: Row | None, *, current: bool) -> bool:
    """Whether writing `row` over its `stored` revision would change nothing, or only move the `seen_at` of the
    workflow's current revision on by less than `SEEN_AT_REFRESH` (it stays current either way). Any other
    column changed, or an older revision seen again (now current once more), is written."""
    if stored is None or any(row.get(column) != stored.get(column) for column in _WORKFLOW_CONTENT):
        return False
    seen, kept = utc(row.get(C.seen_at)), utc(stored.get(C.seen_at))
    if seen is None or kept is None:
        return False
    return seen == kept or (current and kept <= seen < kept + SEEN_AT_REFRESH)


def _stored_executions_of(store: "Store", workflows: set[tuple[str, str]]) -> set[ExecKey]:
    """Executions already stored for workflows whose definition arrives only now."""
    keys: set[ExecKey] = set()
    for cloud, workflow_id in sorted(workflows):
        keys.update((cloud, execution_id) for execution_id in store.execution_ids_of_workflow(cloud, workflow_id))
    return keys


def _stored_children_of(store: "Store", executions: dict[ExecKey, Row],
                        transforms_for: TransformsLookup) -> set[ExecKey]:
    """Stored executions a cloud links to incoming ones that still lack the link (AWS: the Map Run
    children imported before their parent execution), through its optional `stored_children` hook:
    merged into this write, they are linked by its `link_parents`."""
    keys: set[ExecKey] = set()
    for cloud in sorted({key[0] for key in executions}):
        hook = stored_children_of(transforms_for(cloud))
        if hook is not None:
            rows = [row for key, row in executions.items() if key[0] == cloud]
            keys.update((cloud, execution_id) for execution_id in hook(rows, store))
    return keys


def _merge_stored(store: "Store", keys: set[ExecKey], executions: dict[ExecKey, Row],
                  steps: dict[ExecKey, list[Row]], attempts: dict[ExecKey, list[Row]],
                  on_stored: StoredHook | None = None) -> None:
    """Merge the stored execution rows with the incoming ones (`merge_rows`: a stored finished
    run stays finished) and put the stored step and attempt rows before the incoming ones.

    Rows under the same key are left for the cloud's `assemble` to settle: pieces of one
    Azure attempt (retryHistory, request history) complete each other, while a re-read AWS
    history supersedes the stored one.
    """
    by_cloud: dict[str, list[str]] = defaultdict(list)
    for cloud, execution_id in keys:
        by_cloud[cloud].append(execution_id)
    for cloud, ids in by_cloud.items():
        stored = store.read_execution_rows(cloud, ids)
        if not (stored.executions or stored.steps or stored.attempts):
            continue
        if on_stored is not None:
            on_stored(stored)
        old_steps: dict[ExecKey, list[Row]] = defaultdict(list)
        old_attempts: dict[ExecKey, list[Row]] = defaultdict(list)
        for row in stored.executions:
            key = _key(row)
            executions[key] = merge_rows(row, executions[key]) if key in executions else row
        for row in stored.steps:
            old_steps[_key(row)].append(row)
        for row in stored.attempts:
            old_attempts[_key(row)].append(row)
        for key, rows in old_steps.items():
            steps[key] = rows + steps.get(key, [])
        for key, rows in old_attempts.items():
            attempts[key] = rows + attempts.get(key, [])
