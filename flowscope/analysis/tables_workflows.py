"""The Workflows page's measures: one row per workflow with its runs trend, one workflow's steps, its
definition and its transitions between steps.

A workflow and its steps, read for the table and the state graph the page draws.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from flowscope.analysis import measures, transitions
from flowscope.analysis.step_rank import lowest_rank, rank_sql
from flowscope.analysis.tables_shared import (
    EXEC_FAILED,
    PCTS,
    RUN_PCTS,
    STEP_FAILED,
    TERMINAL,
    Filters,
    _bucket,
    _in,
    q,
    run,
)
from flowscope.analysis.tables_usage import _usage_rows, usage_cost_sql, usage_sql
from flowscope.model import UTC, C

# ---------------------------------------------------------------- workflows

def workflow_trend_seconds(f: Filters) -> int:
    """The bucket of `workflow_table`'s runs trend: a day, an hour in windows of 3 days or less."""
    return 86400 if f.days > 3 else 3600


def workflow_table(con: Any, f: Filters) -> pd.DataFrame:
    """One row per workflow: runs, failure % of finished runs (measures.run_failure_rate), p50/p95
    duration, spend, projected monthly spend, daily (hourly) runs of whole days (hours): `_buckets`."""
    p = f.params()
    width = workflow_trend_seconds(f)
    # The daily (hourly) runs come from the same scan as the rest, as a histogram per workflow: a
    # second group-by of the executions cost 45 of 99 ms on a 30-day window of 1M executions, the
    # histogram 74 ms for both.
    ex = run(con, q("""
        SELECT {cloud}, {workflow_id}, any_value({workflow_name}) AS workflow, any_value({kind}) AS {kind},
               count(*) AS runs, count(*) FILTER (WHERE {status} IN ({failed})) AS failed,
               count(*) FILTER (WHERE {status} IN ({terminal})) AS finished,
               {pcts}, max({started_at}) AS last_run, histogram({bucket}) AS runs_by_bucket
        FROM executions WHERE {where} GROUP BY ALL
    """, failed=_in(EXEC_FAILED), terminal=_in(TERMINAL), where=f.where(), pcts=RUN_PCTS,
        bucket=_bucket(C.started_at, width)), p)
    co = run(con, usage_cost_sql(_usage_rows(f), [C.cloud, C.workflow_id]), p)
    out = ex.merge(co, on=[C.cloud, C.workflow_id], how="left")
    out["cost_usd"] = out["cost_usd"].fillna(0.0)
    out["monthly_usd"] = out["cost_usd"] * f.monthly_factor
    out["failure_pct"] = [100.0 * measures.run_failure_rate(r.failed, r.finished) for r in out.itertuples()]
    buckets = _buckets(f, width)
    counts = [{pd.Timestamp(k): int(n) for k, n in (hist or {}).items()} for hist in out.pop("runs_by_bucket")]
    out["trend"] = [[runs_in.get(b, 0) for b in buckets] for runs_in in counts]
    return out.sort_values(["cost_usd", "runs"], ascending=False).reset_index(drop=True)


def _buckets(f: Filters, seconds: int) -> list[pd.Timestamp]:
    """The starts of the window's whole buckets of `seconds`: a first bucket the window begins inside
    and a last one it ends inside are left out (a sparkline cannot mark them partial as the trend
    charts do: a window from 10:35 drew its first day's 13 h of runs as a dip on every workflow, and
    its last few runs as a drop to 0)."""
    start = math.ceil(f.since.timestamp() / seconds) * seconds
    end = f.until.timestamp()
    out: list[pd.Timestamp] = []
    t = start
    while t + seconds <= end and len(out) < 2000:
        out.append(pd.Timestamp(t, unit="s", tz=UTC))
        t += seconds
    return out


def workflow_definition(con: Any, cloud: str, workflow_id: str) -> dict[str, Any] | None:
    """The latest stored definition of a workflow (None when none was collected)."""
    frame = run(con, q("""
        SELECT {name}, {kind}, {revision}, {definition}, {definition_format}, {seen_at}
        FROM workflows WHERE {cloud} = $cloud AND {workflow_id} = $wf AND {definition} IS NOT NULL
        ORDER BY {seen_at} DESC LIMIT 1
    """), {"cloud": cloud, "wf": workflow_id})
    return None if frame.empty else frame.iloc[0].to_dict()


def step_metrics(con: Any, f: Filters, cloud: str, workflow_id: str) -> pd.DataFrame:
    """Per step name of one workflow: visits, failures, retries, duration percentiles, cost.

    `failure_rate` is the step failure rate (failed visits, caught included, / visits), the measure
    the failing_step finding reports; a workflow's `failure_pct` is the run failure rate, another measure."""
    one = Filters(f.since, f.until, (cloud,), (workflow_id,))
    p = one.params()
    st = lowest_rank(run(con, q("""
        SELECT {name} AS step, {box}, any_value({type}) AS {type}, count(*) AS visits,
               count(*) FILTER (WHERE {status} IN ({failed})) AS failures,
               sum(greatest({attempts} - 1, 0))::BIGINT AS retries,
               {pcts}
        FROM steps WHERE {where} GROUP BY ALL
    """, failed=_in(STEP_FAILED), where=one.where(), pcts=PCTS, box=rank_sql()), p), ["step"])
    co = run(con, usage_cost_sql(usage_sql(con, one, f"AND {C.step_key} IS NOT NULL"), ["step"]), p)
    out = st.merge(co, on="step", how="left")
    out["cost_usd"] = out["cost_usd"].fillna(0.0)
    out["failure_rate"] = [measures.step_failure_rate(n, v)
                           for n, v in zip(out["failures"], out["visits"], strict=True)]
    return out.sort_values("visits", ascending=False).reset_index(drop=True)


def billed_per_execution(steps: pd.DataFrame, workflow_cost_usd: float) -> bool:
    """Whether a workflow's spend is billed per execution, not per step (Express: requests and GB-seconds):
    it cost something and none of it is its steps' (`step_metrics`). Its steps then have no cost ("—"),
    not $0.00 each beside the workflow's spend, on its table, cost chart and state graph alike."""
    return bool(workflow_cost_usd > 0 and not steps.empty and not float(steps["cost_usd"].fillna(0.0).sum()))


def edge_counts(con: Any, f: Filters, cloud: str, workflow_id: str) -> pd.DataFrame:
    """Transitions observed between steps of one workflow: source, target, count. The source is the
    step a visit came from by `transitions`' rule (its previous step, else its container), the one
    `cost.edge_costs` prices; an execution's first step has the source ''. One cloud: the rule's join
    leaves the cloud out."""
    one = Filters(f.since, f.until, (cloud,), (workflow_id,))
    return run(con, f"""
        WITH s AS (SELECT {', '.join(transitions.COLUMNS)} FROM steps WHERE {one.where()})
        SELECT coalesce({transitions.SOURCE}, '') AS source, {C.name} AS target, count(*) AS transitions
        FROM ({transitions.sql('s', one_cloud=True)})
        GROUP BY ALL ORDER BY transitions DESC
    """, one.params())
