"""Distributed Map children linked to their parent execution when imported (`link_parents`).

`parent_execution_id` is the parent execution's ARN. The live collector knows it (it lists a Map
Run's children through their parent); describe-execution / list-executions of a child name only its
Map Run (`mapRunArn`, kept in the child's `attributes`), which the parent's history names in turn
(`attributes.map_run_arns`). The assembly links the two when the parent is in the same batch or
already stored. A parent that arrives after its children (imported later) brings the stored,
still unlinked children of its Map Runs into its write (`stored_children`), so they are linked then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowscope.collectors.aws import events as E
from flowscope.collectors.native import row_attributes
from flowscope.model import C

if TYPE_CHECKING:
    from flowscope.store import Store

Row = dict[str, Any]
_CHILD_MARK = '"mapRunArn"'
_PARENT_MARK = '"map_run_arns"'


def _runs_of(rows: list[Row]) -> dict[str, str]:
    """Map Run ARN -> the ARN of the execution whose history started it."""
    out: dict[str, str] = {}
    for row in rows:
        text = row.get(C.attributes)
        if isinstance(text, str) and _PARENT_MARK in text:
            for run in row_attributes(row).get("map_run_arns") or []:
                if isinstance(run, str):
                    out[run] = row[C.execution_id]
    return out


def link_parents(executions: list[Row], store: "Store | None") -> None:
    """Fill `parent_execution_id` of the Map Run children among `executions` that lack it (in
    place): from a parent among them, else from the store. A substring test keeps the cost off
    the many rows that are no child (the log path writes millions)."""
    orphans: dict[str, list[Row]] = {}
    for row in executions:
        text = row.get(C.attributes)
        if row.get(C.parent_execution_id) is None and isinstance(text, str) and _CHILD_MARK in text:
            run = row_attributes(row).get("mapRunArn")
            if isinstance(run, str):
                orphans.setdefault(run, []).append(row)
    if not orphans:
        return
    parents = _runs_of(executions)
    missing = [run for run in orphans if run not in parents]
    if missing and store is not None:
        parents.update(_stored_parents(store, missing))
    for run, rows in orphans.items():
        parent = parents.get(run)
        if parent is not None:
            for row in rows:
                row[C.parent_execution_id] = parent


def _stored_parents(store: "Store", runs: list[str]) -> dict[str, str]:
    """Stored executions whose history started one of `runs`, read by their state machine (a Map
    Run ARN `...:mapRun:SM/label:id` names it) and the run's ARN in their attributes."""
    quote = "''"
    found: dict[str, str] = {}
    for run in runs:
        machine = E.state_machine_arn(run)
        if not machine:
            continue
        like = run.replace("'", quote).replace("%", "")
        try:
            rows = store.read_rows("executions", filter_sql=(
                f"{C.cloud} = 'aws' AND {C.workflow_id} = '{machine.replace(chr(39), quote)}' "
                f"AND {C.attributes} LIKE '%{_PARENT_MARK}%{like}%'"))
        except Exception:  # noqa: BLE001 - no executions table yet: nothing stored to link to
            return found
        found.update({r: p for r, p in _runs_of(rows).items() if r == run})
    return found


def stored_children(executions: list[Row], store: "Store | None") -> set[str]:
    """Ids of the stored, still unlinked Map Run children of the parents among `executions`: the
    assembly merges them into the write so `link_parents` links them. Children imported before
    their parent were otherwise left without it until each was written again."""
    if store is None:
        return set()
    runs = _runs_of(executions)
    if not runs:
        return set()
    quote = "''"
    incoming = {row[C.execution_id] for row in executions}
    machines = sorted({m for m in (E.state_machine_arn(run) for run in runs) if m})
    if not machines:
        return set()
    listed = ", ".join("'" + m.replace("'", quote) + "'" for m in machines)
    try:
        rows = store.read_rows("executions", filter_sql=(
            f"{C.cloud} = 'aws' AND {C.parent_execution_id} IS NULL AND {C.workflow_id} IN ({listed}) "
            f"AND {C.attributes} LIKE '%{_CHILD_MARK}%'"))
    except Exception:  # noqa: BLE001 - no executions table yet: no stored child to link
        return set()
    return {row[C.execution_id] for row in rows
            if row[C.execution_id] not in incoming and row_attributes(row).get("mapRunArn") in runs}
