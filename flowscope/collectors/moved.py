"""Stored executions an import finds under the id an earlier flowscope gave them, moved to today's id.

A cloud's optional `moved_executions` hook (`collectors.native`) names them: stored copies of a batch's
executions kept under an older id (Azure: a deployment slot's runs stored under the production workflow). Their
stored rows are put into the batch under the id now, before the incoming ones, as stored rows are (the assembly
merges them: a re-import of a run's record alone keeps the steps stored with it), and their old id is deleted
in the same write (`Store.write_and_delete`): the store never holds the run twice, nor loses it between two
writes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from flowscope.collectors.native import moved_executions_of
from flowscope.collectors.registry import transforms_for
from flowscope.model import Batch, C

if TYPE_CHECKING:
    from flowscope.store import Store

MOVED_TABLES = ("executions", "steps", "attempts")
"""What is moved: usage is the assembly's, made again from the steps; the old id's goes with its deletion."""


def with_moved(batch: Batch, store: "Store") -> tuple[Batch, list[dict[str, Any]], list[str]]:
    """(`batch` with the stored copies its clouds name moved into it, the old ids to delete, a warning per
    cloud saying how many moved). The batch is returned as given when nothing moves."""
    moved = Batch()
    gone: list[dict[str, Any]] = []
    said: list[str] = []
    for cloud in sorted({row[C.cloud] for table in MOVED_TABLES for row in batch.rows(table)}):
        hook = moved_executions_of(transforms_for(cloud))
        ids = hook(batch, store) if hook is not None else {}
        if not ids:
            continue
        stored = store.read_execution_rows(cloud, ids)
        for table in MOVED_TABLES:
            for row in stored.rows(table):
                new_id, new_workflow = ids[row[C.execution_id]]
                getattr(moved, table).append({**row, C.execution_id: new_id, C.workflow_id: new_workflow})
        gone.extend({C.cloud: cloud, C.execution_id: old} for old in sorted(ids))
        old, (new, _) = min(ids.items())
        said.append(f"{len(ids):,} {cloud} execution(s) stored under the id an earlier flowscope gave them were "
                    f"moved to the id they are imported under now, not kept twice (e.g. {old} -> {new})")
    if not gone:
        return batch, [], []
    return (replace(batch, executions=moved.executions + batch.executions, steps=moved.steps + batch.steps,
                    attempts=moved.attempts + batch.attempts), gone, said)
