"""GCP Workflows billing: which step entries are billed steps, internal or external, how many.

Follows https://cloud.google.com/workflows/pricing, see `BILLED_NATIVE_TYPES`; the internal /
external rule for call targets is `definition.call_is_external`.
"""

from __future__ import annotations

import datetime as dt

from flowscope.collectors.gcp.definition import Definition, call_is_external
from flowscope.collectors.gcp.transform.names import region_of
from flowscope.collectors.gcp.transform.records import (
    CALL_LOG_NATIVE_TYPE,
    CALL_NATIVE_TYPES,
    CLOUD,
    STEP_TYPES,
    step_order,
)
from flowscope.collectors.native import Row
from flowscope.model import C, Meter

BILLED_NATIVE_TYPES = frozenset({
    "STEP_TYPE_UNSPECIFIED",
    "STEP_ASSIGN", "STEP_STD_LIB_CALL", "STEP_CONNECTOR_CALL", "STEP_SUBWORKFLOW_CALL", "STEP_CALL",
    CALL_LOG_NATIVE_TYPE, "STEP_SWITCH", "STEP_FOR", "STEP_PARALLEL_FOR", "STEP_RETURN", "STEP_RAISE",
    "STEP_GOTO",
})
"""Step entry types that are billable steps.

The pricing page bills every executed step, successful or failed, and every retry attempt;
a billable step is an *operation*: an assignment (each variable assigned counts, so an
``assign`` of three variables is three billable steps when the definition is known, one
otherwise), a call (HTTP request, standard library incl. ``sys.sleep``, connector,
subworkflow: one per attempt), a condition evaluation (``switch``), and the named steps that
evaluate an expression to drive control flow (``for`` / parallel ``for`` over ``in`` or
``range``, ``return``, ``raise``, a ``next``-only jump). Step entries that only open a block
are not billed, their inner steps are: ``STEP_FOR_ITERATION`` (each iteration's steps are
billed, not the iteration), ``STEP_PARALLEL_BRANCH`` / ``_ENTRY``, ``STEP_TRY_RETRY_EXCEPT`` /
``STEP_TRY`` / ``STEP_RETRY`` / ``STEP_EXCEPT`` and ``STEP_CONDITION`` (its evaluation is the
switch's). A step type flowscope does not know is billed (the pricing page bills any executed
step). Every entry is billed whatever its outcome: an entry exists only once the engine ran it.
Connector polling of long-running operations is billed by Google but not visible in step
entries, so it is not counted.
"""


def billed_quantity(row: Row, definition: Definition | None) -> int | None:
    """Billed steps of one step visit (None: not billed): attempts for calls, variables assigned
    for an assign (1 without definition), else 1."""
    native = row.get(C.native_type) or "STEP_TYPE_UNSPECIFIED"
    if native not in BILLED_NATIVE_TYPES and native in STEP_TYPES:
        return None
    if native in CALL_NATIVE_TYPES:
        return row[C.attempts]
    if native == "STEP_ASSIGN" and definition is not None:
        routine, _, short = row[C.name].rpartition("/")
        sdef = definition.find(routine or "main", short)
        return max(sdef.assignments, 1) if sdef is not None and sdef.kind == "assign" else 1
    return 1


def usage_rows(by_key: dict[str, Row], definition: Definition | None, region: str | None,
               exec_start: dt.datetime | None, start_date: dt.date | None) -> list[Row]:
    """One usage row per billed step visit, in execution order, metered internal or external."""
    usage: list[Row] = []
    for key in sorted(by_key, key=step_order):
        row = by_key[key]
        quantity = billed_quantity(row, definition)
        if quantity is None:
            continue
        started = row.get(C.started_at) or exec_start
        if started is None:
            continue
        native = row.get(C.native_type) or "STEP_TYPE_UNSPECIFIED"
        meter = Meter.GCP_WORKFLOWS_EXTERNAL_STEP if call_is_external(row.get(C.resource), native) \
            else Meter.GCP_WORKFLOWS_INTERNAL_STEP
        usage.append({
            C.cloud: CLOUD,
            C.region: region or region_of(row[C.workflow_id]),
            C.workflow_id: row[C.workflow_id],
            C.execution_id: row[C.execution_id],
            C.step_key: key,
            C.meter: meter.value,
            C.quantity: float(quantity),
            C.started_at: started,
            C.start_date: start_date or started.date(),
        })
    return usage
