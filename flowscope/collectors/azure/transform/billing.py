"""Logic Apps Consumption metering: which step visits are billed, under which meter, how many times.

Every action execution is metered, each retry and each loop iteration's inner actions included;
a loop iteration row itself is not (the loop action is metered once: 10 items x 1 inner action +
1 loop = 11); skipped actions are free; triggers are metered on every fire and every poll, a
skipped poll included ("Even when no logic app instance gets created, Logic Apps meters each
polling request"). Actions whose definition is not known yet are metered
`azure.logic.unclassified_action` and reclassified when the same call later gets the workflow.
logicapp-standard workflows get the same per-operation meters; pricing prices Standard built-in
operations at zero (they are paid for in plan hours).
"""

from __future__ import annotations

import datetime as dt

from flowscope.collectors.azure.transform.records import CLOUD, ITERATION_NATIVE_TYPE
from flowscope.collectors.native import Row
from flowscope.model import C, Meter, Status

_SKIPPED = Status.SKIPPED.value
_ABORTED = Status.ABORTED.value


def billed_quantity(key: str, row: Row) -> int | None:
    """How many executions of a step visit are metered (None: not billed)."""
    if row[C.native_type] == ITERATION_NATIVE_TYPE:
        return None
    if not key.startswith("@"):
        if row[C.status] == _SKIPPED:
            return None
        if row[C.status] == _ABORTED and row[C.started_at] is None:
            return None
    return max(row[C.attempts], 1)


def usage_rows(rows: dict[str, Row], meters: dict[str, Meter], region: str | None,
               exec_started: dt.datetime | None, exec_date: dt.date | None) -> list[Row]:
    """One usage row per billed step visit of a run, under the meter its definition gives it."""
    usage: list[Row] = []
    for key, row in rows.items():
        quantity = billed_quantity(key, row)
        if quantity is None:
            continue
        started = row[C.started_at] or exec_started or row[C.ended_at]
        if started is None:
            continue
        usage.append({
            C.cloud: CLOUD, C.region: region, C.workflow_id: row[C.workflow_id],
            C.execution_id: row[C.execution_id], C.step_key: key, C.meter: meters[key].value,
            C.quantity: float(quantity), C.started_at: started,
            C.start_date: exec_date or row[C.start_date],
        })
    return usage
