"""`azure.run_actions` and `azure.action_repetitions`: one action's visit -> a steps row and its tries.

A repetition is the visit of an action inside loops: its `repetitionIndexes` give the step key and
the parent (the innermost loop's own visit).
"""

from __future__ import annotations

from typing import Any

from flowscope.collectors.azure.transform.ids import ArmId, step_key
from flowscope.collectors.azure.transform.records import attempts_for, properties_of, repetition_indexes, step_row
from flowscope.collectors.native import ImportContext
from flowscope.model import Batch, StepType


def read_action(rec: dict[str, Any], ctx: ImportContext, batch: Batch) -> None:
    ids = ArmId(rec["id"])
    if ids.run is None or ids.action is None or ids.action_name is None:
        raise ValueError("action id without /runs/<run>/actions/<action>")
    props = properties_of(rec)
    indexes = repetition_indexes(props) if ids.repetition else []
    if ids.repetition and not indexes:
        raise ValueError("repetition without repetitionIndexes")
    parent = step_key(indexes[-1][0], indexes[:-1]) if indexes else None
    step = step_row(ids, step_key(ids.action_name, indexes), ids.action_name, props, ctx,
                     step_type=StepType.TASK, parent=parent,
                     iteration=indexes[-1][1] if indexes else None)
    tries = attempts_for(step, props)        # before anything is added: a bad try skips the whole record
    batch.steps.append(step)
    batch.attempts.extend(tries)

