"""Usage rows of one execution, counted by Step Functions billing rules.

Standard: one ``aws.sfn.state_transition`` per state entered, plus one per retry ("each retry
will be charged as an additional state transition"), so per step its ``attempts`` (Task tries,
Parallel/Map restarts; 1 otherwise). Express: one ``aws.sfn.express_request`` per execution and
``aws.sfn.express_gb_second`` from the billed duration and memory, rounded by the rule
`analysis.pricing` owns. Usage rows carry the execution's ``started_at`` / ``start_date`` so
they are replaced with it.
"""

from __future__ import annotations

from flowscope.analysis.pricing import express_billed_gb_seconds
from flowscope.collectors.aws.transform.names import (
    CLOUD,
    KIND_EXPRESS,
    KIND_STANDARD,
    METER_GB_SECOND,
    METER_REQUEST,
    METER_TRANSITION,
)
from flowscope.collectors.native import Row
from flowscope.model import C


def express_gb_seconds(duration_ms: int, memory_mb: int | None = None) -> float:
    """Express duration charge in GB-seconds.

    When Step Functions reports billing details (StartSyncExecution ``billingDetails``, carried
    as billed_duration_ms / billed_memory_mb) they are used as given; otherwise memory is
    ASSUMED to be one 64 MB chunk, which holds for workflows with small definitions and payloads
    (memory = 50 MB + definition + payload x Parallel/Map steps). The rounding is pricing's.
    """
    return express_billed_gb_seconds(duration_ms, memory_mb)


def usage_rows(execution: Row, steps: list[Row], workflow: Row | None) -> list[Row]:
    """The billable quantities of one execution (its steps already settled)."""
    kind = execution.get(C.kind) or (workflow or {}).get(C.kind) or KIND_STANDARD
    base = {
        C.cloud: CLOUD,
        C.region: execution.get(C.region),
        C.workflow_id: execution[C.workflow_id],
        C.execution_id: execution[C.execution_id],
        C.started_at: execution[C.started_at],
        C.start_date: execution[C.start_date],
    }
    usage: list[Row] = []
    if kind == KIND_EXPRESS:
        row = dict(base)
        row[C.step_key] = None
        row[C.meter] = METER_REQUEST
        row[C.quantity] = 1.0
        usage.append(row)
        billed = execution.get(C.billed_duration_ms)
        dur = billed if billed is not None else execution.get(C.duration_ms)
        if dur is not None:
            row = dict(base)
            row[C.step_key] = None
            row[C.meter] = METER_GB_SECOND
            row[C.quantity] = express_gb_seconds(dur, execution.get(C.billed_memory_mb))
            usage.append(row)
        return usage
    for s in steps:
        row = dict(base)
        row[C.step_key] = s[C.step_key]
        row[C.meter] = METER_TRANSITION
        row[C.quantity] = float(s[C.attempts] or 1)
        usage.append(row)
    return usage
