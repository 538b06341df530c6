"""The Failures page's measures: failed runs over time, failed step visits by error, and the failing steps
with their step failure rate (measures.py's, the failing_step finding's).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from flowscope.analysis import measures
from flowscope.analysis.base import CONTAINER_TYPES, NOT_WORK
from flowscope.analysis.step_rank import lowest_rank, rank_sql
from flowscope.analysis.tables_shared import (
    EXEC_FAILED,
    STEP_FAILED,
    Filters,
    _bucket,
    _in,
    _with_names,
    bucket_seconds,
    q,
    run,
)
from flowscope.model import C

# ---------------------------------------------------------------- failures

def failures_over_time(con: Any, f: Filters) -> pd.DataFrame:
    p, b = f.params(), bucket_seconds(f)
    return run(con, q("""
        SELECT {bucket} AS bucket, {cloud}, {workflow_id}, {workflow_name} AS workflow,
               count(*) FILTER (WHERE {status} IN ({failed})) AS failed, count(*) AS executions
        FROM executions WHERE {where} GROUP BY ALL ORDER BY bucket
    """, bucket=_bucket(C.started_at, b), failed=_in(EXEC_FAILED), where=f.where()), p)


_FAILED_VISITS = "FROM steps s WHERE {where} AND s.{status} IN ({failed}) AND s.{type} NOT IN ({containers})"
"""The failed step visits `top_errors` lists and `error_totals` counts (containers left out)."""


def top_errors(con: Any, f: Filters, limit: int = 50) -> pd.DataFrame:
    """Failed step visits grouped by (workflow, step, error), with a sample execution; the `limit`
    commonest (totals over all of them: `error_totals`)."""
    p = f.params()
    out = run(con, q("""
        SELECT s.{cloud}, s.{workflow_id}, s.{name} AS step, coalesce(s.{error}, '(no error name)') AS {error},
               count(*) AS failures, count(*) FILTER (WHERE s.{status} = 'CAUGHT') AS caught,
               count(DISTINCT s.{execution_id}) AS executions, max(s.{started_at}) AS last_seen,
               arg_max(s.{execution_id}, s.{started_at}) AS sample_execution_id,
               arg_max(s.{cause}, s.{started_at}) AS sample_cause
        """ + _FAILED_VISITS + """
        GROUP BY ALL ORDER BY failures DESC LIMIT {limit}
    """, where=f.where("s"), failed=_in(STEP_FAILED), limit=int(limit),
        containers=_in(CONTAINER_TYPES)), p)
    return _with_names(con, out)


def error_totals(con: Any, f: Filters) -> dict[str, int]:
    """Over every failed step visit `top_errors` groups, not only its listed rows: `distinct_errors`
    (its (workflow, step, error) groups), `failures` (failed visits) and `caught` (caught ones)."""
    out = run(con, q("""
        SELECT count(DISTINCT (s.{cloud}, s.{workflow_id}, s.{name}, coalesce(s.{error}, '(no error name)')))
                   AS distinct_errors,
               count(*) AS failures, count(*) FILTER (WHERE s.{status} = 'CAUGHT') AS caught
        """ + _FAILED_VISITS, where=f.where("s"), failed=_in(STEP_FAILED),
        containers=_in(CONTAINER_TYPES)), f.params())
    row = out.iloc[0]       # an aggregate without GROUP BY: always one row
    return {k: int(row[k] or 0) for k in ("distinct_errors", "failures", "caught")}


def failing_steps(con: Any, f: Filters, limit: int = 50) -> pd.DataFrame:
    """Steps by failed visits: visits, failed (uncaught), caught, failure rate (a GCP try and its call
    once, as the call: `step_rank.lowest_rank`, so the rate is the failing_step finding's). Steps that
    do work only (`NOT_WORK`: not a container failing with its child, not a Fail state), as the finding."""
    out = lowest_rank(run(con, q("""
        SELECT {cloud}, {workflow_id}, {name} AS step, {box}, count(*) AS visits,
               count(*) FILTER (WHERE {status} IN ({failed})) AS failures,
               count(*) FILTER (WHERE {status} = 'CAUGHT') AS caught
        FROM steps WHERE {where} AND {type} NOT IN ({not_work}) GROUP BY ALL
    """, where=f.where(), failed=_in(STEP_FAILED), box=rank_sql(), not_work=_in(sorted(NOT_WORK))), f.params()),
        [C.cloud, C.workflow_id, "step"])
    out = out[out["failures"] > 0].sort_values(["failures", C.cloud, C.workflow_id, "step"],
                                               ascending=[False, True, True, True]).head(int(limit))
    out = out.reset_index(drop=True)
    out["failure_rate"] = [measures.step_failure_rate(n, v)
                           for n, v in zip(out["failures"], out["visits"], strict=True)]
    return _with_names(con, out)
