"""The Latency page's measures: step percentiles and their drift against the previous window, the steps
that got slower, step latency over time and run duration per workflow.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from flowscope.analysis.step_rank import lowest_rank, rank_sql
from flowscope.analysis.tables_shared import (
    PCTS,
    PCTS3,
    RUN_PCTS3,
    Filters,
    _bucket,
    _lit,
    _with_names,
    bucket_seconds,
    q,
    run,
)
from flowscope.model import C

# ---------------------------------------------------------------- latency

def latency_by_step(con: Any, f: Filters, limit: int = 200, *, compare: bool = True) -> pd.DataFrame:
    """Per step: p50/p95/p99 now, p95 in the previous window of equal length, and the drift ratio.

    `compare`: whether the previous window may be compared with (`measures.previous_covered`, which the
    caller judges from the data's first execution); when not, its p95, visits and the drift are null,
    never the figures of the sliver of it the data holds."""
    # Both windows in one scan: [previous since, until), each row tagged with its window; a GCP try and
    # the call it wraps count once, as the call (`step_rank.lowest_rank`).
    both = Filters(f.previous().since, f.until, f.clouds, f.workflows, f.month_days)
    rows = lowest_rank(run(con, q("""
        SELECT {started_at} >= $window_start AS now, {cloud}, {workflow_id}, {name} AS step, {box},
               any_value({type}) AS {type}, count(*) AS visits,
               {pcts}
        FROM steps WHERE {where} AND {duration_ms} IS NOT NULL GROUP BY ALL
    """, where=both.where(), pcts=PCTS3, box=rank_sql()),
        {**both.params(), "window_start": f.since}), ["now", C.cloud, C.workflow_id, "step"])
    now = rows[rows["now"]].drop(columns="now").reset_index(drop=True)
    before = rows[~rows["now"]].drop(columns="now").reset_index(drop=True)
    keys = [C.cloud, C.workflow_id, "step"]
    out = now.merge(before[keys + ["p95_ms", "visits"]].rename(columns={"p95_ms": "prev_p95_ms",
                                                                        "visits": "prev_visits"}),
                    on=keys, how="left")
    if not compare:
        out["prev_p95_ms"] = out["prev_visits"] = float("nan")
    out["drift"] = out["p95_ms"] / out["prev_p95_ms"].where(out["prev_p95_ms"] > 0)
    out = out.sort_values(["visits", *keys], ascending=[False, True, True, True]).head(limit).reset_index(drop=True)
    return _with_names(con, out)


def slower_steps(steps: pd.DataFrame, ratio: float) -> pd.DataFrame:
    """The steps of `latency_by_step` whose p95 grew by `ratio` or more since the previous window (their
    `drift`: the Latency page's "Steps slower", by the analyses' latency_drift_ratio); none without a
    previous window to compare with (a null drift)."""
    if steps.empty or "drift" not in steps.columns:
        return steps.iloc[0:0]
    return steps[steps["drift"] >= ratio]


def latency_over_time(con: Any, f: Filters, steps: list[tuple[str, str, str]]) -> pd.DataFrame:
    """p50/p95 per bucket of the given (cloud, workflow_id, step name) triples, over the rows that stand
    for each step in the window (`step_rank`: a loop's entries, not its iterations; a GCP try's call), as
    `latency_by_step`'s table beside the chart reads them."""
    if not steps:
        return pd.DataFrame(columns=["bucket", C.cloud, C.workflow_id, "step", "p50_ms", "p95_ms", "visits"])
    b = bucket_seconds(f)
    pick = " OR ".join(q("({cloud} = {c} AND {workflow_id} = {w} AND {name} = {s})",
                         c=_lit(c), w=_lit(w), s=_lit(s)) for c, w, s in steps)
    rows = lowest_rank(run(con, q("""
        SELECT {bucket} AS bucket, {cloud}, {workflow_id}, {name} AS step, {box}, count(*) AS visits,
               {pcts}
        FROM steps WHERE {where} AND ({pick}) AND {duration_ms} IS NOT NULL GROUP BY ALL
    """, bucket=_bucket(C.started_at, b), where=f.where(), pick=pick, pcts=PCTS, box=rank_sql()), f.params()),
        [C.cloud, C.workflow_id, "step"])
    return rows.sort_values(["bucket", C.cloud, C.workflow_id, "step"]).reset_index(drop=True)


def execution_latency(con: Any, f: Filters) -> pd.DataFrame:
    """Per workflow: execution duration percentiles."""
    out = run(con, q("""
        SELECT {cloud}, {workflow_id}, count(*) AS runs, {pcts}, max({duration_ms}) AS max_ms
        FROM executions WHERE {where} AND {duration_ms} IS NOT NULL GROUP BY ALL ORDER BY p95_ms DESC
    """, where=f.where(), pcts=RUN_PCTS3), f.params())
    return _with_names(con, out)
