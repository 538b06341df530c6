"""`azure.trigger_histories`: a trigger fire or poll -> a trigger steps row and its tries."""

from __future__ import annotations

from typing import Any

from flowscope.collectors.azure.transform.ids import ArmId, trigger_key
from flowscope.collectors.azure.transform.records import as_dict, attempts_for, properties_of, step_row
from flowscope.collectors.native import ImportContext
from flowscope.model import Batch, C, StepType


def is_trigger_poll(execution_id: str) -> bool:
    """An execution id that is a trigger history's own (a poll that fired nothing, keyed below):
    it never has a run record, so an import of it alone is not "steps without their run"."""
    ids = ArmId(execution_id)
    return ids.run is None and ids.trigger is not None and ids.history is not None


def read_trigger_history(rec: dict[str, Any], ctx: ImportContext, batch: Batch) -> None:
    """A trigger fire or poll. A fired history belongs to its run; an unfired one (a poll that
    found nothing) becomes its own trigger row keyed by the history id, because polls are
    metered even when no run starts."""
    ids = ArmId(rec["id"])
    if ids.trigger is None or ids.trigger_name is None or ids.history is None:
        raise ValueError("trigger history id without /triggers/<name>/histories/<name>")
    props = properties_of(rec)
    run = as_dict(props.get("run"))
    if run.get("id"):
        run_ids = ArmId(run["id"])
    elif run.get("name") and props.get("fired"):
        run_ids = ArmId(f"{ids.workflow_id}/runs/{run['name']}")
    else:
        run_ids = None
    if run_ids is not None and run_ids.run:
        step = step_row(run_ids, trigger_key(ids.trigger_name), ids.trigger_name, props, ctx,
                         step_type=StepType.TRIGGER)
    else:
        step = step_row(ids, trigger_key(ids.trigger_name), ids.trigger_name, props, ctx,
                         step_type=StepType.TRIGGER)
        step[C.execution_id] = f"{ids.workflow_id}/triggers/{ids.trigger}/histories/{ids.history}"
    tries = attempts_for(step, props)        # before anything is added: a bad try skips the whole record
    batch.steps.append(step)
    batch.attempts.extend(tries)

