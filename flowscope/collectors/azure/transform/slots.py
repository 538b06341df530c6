"""A deployment slot's runs stored under its production workflow by an earlier flowscope.

Before workflow ids kept `slots/<slot>` (`ids.ArmId.slot`), the id reader skipped the segment: a slot's runs
and trigger polls were stored under the production workflow of the same name. Imported again, they are stored
under the slot's id, and the stored copy would stay beside them as a production run. `moved_executions` names
the stored copies of a batch's slot executions, for the importer to move in the same write (the native
contract's optional hook). A stored execution under the production id is that copy only when it is the same
execution: the same run (or poll) name, which the id holds, and the same start. Run names are unique within a
workflow, not within an app, so a production run that only shares a slot run's name is a run of its own and
stays.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from flowscope.collectors.azure.transform.ids import ArmId
from flowscope.collectors.azure.transform.records import CLOUD
from flowscope.model import Batch, C

if TYPE_CHECKING:
    from flowscope.store import Store

_SLOT = re.compile(r"(/providers/microsoft\.web/sites/[^/]+)/slots/[^/]+(?=/workflows/)")


def production_copy(execution_id: str) -> str | None:
    """The id an earlier flowscope stored a slot's execution under (its id without `slots/<slot>`), None for
    an execution of no slot."""
    if "/slots/" not in execution_id:         # every row of an import is asked: the common answer first
        return None
    old, found = _SLOT.subn(r"\1", execution_id, count=1)
    return old if found else None


def moved_executions(batch: Batch, store: "Store") -> dict[str, tuple[str, str]]:
    """Stored id -> (id now, workflow id now) of the slot executions of `batch` stored under their production
    workflow: the same name (the id's) and the same start (`_starts`)."""
    incoming = _starts(batch, lambda key: production_copy(key) is not None)
    if not incoming:
        return {}
    old_of = {new: str(production_copy(new)) for new in incoming}
    stored = _starts(store.read_execution_rows(CLOUD, old_of.values()), lambda _: True)
    return {old: (new, ArmId(new).workflow_id) for new, old in old_of.items()
            if old in stored and stored[old] == incoming[new]}


def _starts(batch: Batch, wanted: Callable[[str], bool]) -> dict[str, dt.datetime]:
    """Execution id -> its start: its run's, else (a trigger poll has no run) its earliest step's."""
    runs: dict[str, dt.datetime] = {}
    polls: dict[str, dt.datetime] = {}
    for row in batch.executions:
        if row[C.cloud] == CLOUD and row[C.started_at] is not None and wanted(row[C.execution_id]):
            runs[row[C.execution_id]] = row[C.started_at]
    for row in batch.steps:
        key, start = row[C.execution_id], row[C.started_at]
        if row[C.cloud] == CLOUD and start is not None and key not in runs and wanted(key):
            polls[key] = min(polls.get(key, start), start)
    return {**polls, **runs}
