"""`azure.scope_repetitions`: one iteration of a loop -> a container steps row (never billed)."""

from __future__ import annotations

from typing import Any

from flowscope.collectors.azure.transform.ids import ArmId, step_key
from flowscope.collectors.azure.transform.records import (
    ITERATION_NATIVE_TYPE,
    properties_of,
    repetition_indexes,
    step_row,
)
from flowscope.collectors.native import ImportContext
from flowscope.model import Batch, C, Status, StepType


def read_scope_repetition(rec: dict[str, Any], ctx: ImportContext, batch: Batch) -> None:
    """One iteration of a loop: a container row, child of the loop's visit, never billed."""
    ids = ArmId(rec["id"])
    if ids.run is None or ids.action is None or ids.action_name is None:
        raise ValueError("scope repetition id without /runs/<run>/actions/<action>")
    props = properties_of(rec)
    indexes = repetition_indexes(props)
    if not indexes:
        raise ValueError("scope repetition without repetitionIndexes")
    # the loop's own visit: its indexes without the loop's own entry
    own = [i for i, (scope, _) in enumerate(indexes) if scope.lower() == ids.action]
    outer = indexes[:own[-1]] if own else indexes[:-1]
    step = step_row(ids, step_key(ids.action_name, indexes), ids.action_name, props, ctx,
                     step_type=StepType.SCOPE, native_type=ITERATION_NATIVE_TYPE,
                     parent=step_key(ids.action_name, outer), iteration=indexes[-1][1])
    step[C.attempts] = 0 if step[C.status] == Status.SKIPPED.value else 1
    batch.steps.append(step)

