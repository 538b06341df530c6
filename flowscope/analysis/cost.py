"""Costly transitions: cost per execution, step and edge; polling loops; what-ifs.

Findings: `costly_step`, `polling_loop`, `express_candidate`, `plan_what_if`.
Money comes from usage quantities priced by `pricing.py` at marginal list prices and is
projected to a month from the window (x `monthly_days` / the days the data speaks for,
`Context.monthly_factor`).

Evidence added to findings: `edges` (costly_step, polling_loop: the top transition edges into the
step or the loop's cycle, with transitions and dollars a month) and `retry_share` (every cost
finding, and retries.py's: retries' share of the workflow's billable units; in the title from
`retry_share_title_min`).

This module runs them (`run`); each lives in a module of its own: the shared reads (`cost_reads.py`,
`step_stats.py`), the evidence (`cost_evidence.py`), the analyses (`costly_steps.py`, `polling_loops.py`,
`express_candidates.py`, `plan_what_ifs.py`). The names other modules and the tests use from here are
re-exported, but each is looked up where it is defined: patch it there (`step_stats.FOLDED_BUCKETS_MAX`,
`polling_loops.execute`), not here.
"""

from __future__ import annotations

from flowscope.analysis.base import EXECUTION_STEP, NOT_WORK, Context, Finding, execute
from flowscope.analysis.cost_evidence import add_edges, add_retry_share, billable_retries, edge_costs, retry_shares
from flowscope.analysis.cost_reads import (
    execution_costs,
    kinds_table,
    step_costs,
    step_meter_costs,
    window_usage,
    workflow_costs,
    workflow_durations,
    workflow_executions,
)
from flowscope.analysis.costly_steps import _flagged_steps, costly_steps
from flowscope.analysis.express_candidates import (
    _express_blocked,
    _longest_running_ms,
    blocks_express,
    express_candidates,
)
from flowscope.analysis.plan_what_ifs import _plan_key, plan_what_ifs
from flowscope.analysis.polling_loops import _may_poll, polling_loops
from flowscope.analysis.step_stats import (
    FOLDED_BUCKETS_MAX,
    _buckets_folded,
    _retries_are_extra,
    _step_window_groups,
    _work_only,
    failure_bucket_s,
    failure_buckets,
    step_stats,
    step_window_stats,
)

__all__ = [
    "EXECUTION_STEP", "FOLDED_BUCKETS_MAX", "NOT_WORK", "_buckets_folded", "_express_blocked", "_flagged_steps",
    "_longest_running_ms", "_may_poll", "_plan_key", "_retries_are_extra", "_step_window_groups", "_work_only",
    "add_edges", "add_retry_share", "billable_retries", "blocks_express", "costly_steps", "edge_costs", "execute",
    "execution_costs", "express_candidates", "failure_bucket_s", "failure_buckets", "kinds_table",
    "plan_what_ifs", "polling_loops", "retry_shares", "run", "step_costs", "step_meter_costs", "step_stats",
    "step_window_stats", "window_usage", "workflow_costs", "workflow_durations", "workflow_executions",
]


# ---------------------------------------------------------------- the analysis


def run(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    polling = polling_loops(ctx)
    out.extend(polling)
    polled = {(f.cloud, f.workflow_id, n) for f in polling for n in f.evidence.get("cycle", [])}
    costly = costly_steps(ctx, exclude=polled)
    out.extend(costly)
    add_edges(ctx, polling + costly)
    out.extend(express_candidates(ctx))
    out.extend(plan_what_ifs(ctx))
    add_retry_share(ctx, out)
    return out
