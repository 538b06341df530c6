"""The Retries page's measures: retries over time, amplification by step, the window's totals, and the
delays between tries with the lockstep rule (measures.py's, the synchronized_retries finding's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from flowscope.analysis import measures
from flowscope.analysis.tables_shared import WORK_TYPES, Filters, _bucket, _in, _with_names, q, run
from flowscope.model import C, Status

# ---------------------------------------------------------------- retries

def retry_bucket_seconds(f: Filters) -> int:
    """The retries timeline's bucket: 15 minutes (the storm analysis' bucket) up to 3 days, hourly
    up to 14, else 3-hourly."""
    return 900 if f.days <= 3 else 3600 if f.days <= 14 else 3 * 3600


def retries_over_time(con: Any, f: Filters, seconds: int | None = None) -> pd.DataFrame:
    """Retries (tries after the first) per bucket and cloud, from the attempts table.

    Buckets: 15 minutes (the storm analysis' bucket) up to 3 days, hourly up to 14, else 3-hourly.
    """
    seconds = seconds or retry_bucket_seconds(f)
    return run(con, q("""
        SELECT {bucket} AS bucket, {cloud}, count(*) FILTER (WHERE {attempt} > 1) AS retries,
               count(*) AS tries
        FROM attempts WHERE {where} GROUP BY ALL ORDER BY bucket
    """, bucket=_bucket(C.started_at, seconds), where=f.where()), f.params())


def amplification(con: Any, f: Filters, limit: int = 50) -> pd.DataFrame:
    """Per work step: visits, tries, retries, amplification (tries per visit), throttled share."""
    out = run(con, q("""
        SELECT {cloud}, {workflow_id}, {name} AS step, count(*) AS visits, sum({attempts})::BIGINT AS tries,
               sum(greatest({attempts} - 1, 0))::BIGINT AS retries,
               count(*) FILTER (WHERE {attempts} > 1) AS retried_visits,
               max({attempts}) AS max_attempts
        FROM steps WHERE {where} AND {type} IN ({work}) GROUP BY ALL HAVING retries > 0
        ORDER BY retries DESC LIMIT {limit}
    """, where=f.where(), work=_in(WORK_TYPES), limit=int(limit)), f.params())
    out["amplification"] = pd.Series([measures.amplification(t, v) for t, v in
                                      zip(out["tries"], out["visits"], strict=True)], index=out.index, dtype="float64")
    return _with_names(con, out)


@dataclass(frozen=True)
class RetryTotals:
    """A window's retries (tries after the first), tries and amplification (tries per first try; None
    without a try)."""

    retries: int
    tries: int
    amplification: float | None


def retry_totals(over: pd.DataFrame) -> RetryTotals:
    """The Retries page's headline from `retries_over_time`'s buckets: its retries, tries and
    amplification (`measures.amplification`, the per-step column's measure)."""
    tries = int(over["tries"].sum()) if not over.empty else 0
    retries = int(over["retries"].sum()) if not over.empty else 0
    return RetryTotals(retries, tries, measures.amplification(tries, tries - retries))


def _retry_delays_sql(f: Filters, step_filter: str = "") -> str:
    """One row per retry (a try after the first) with the delay since the previous try ended, and
    the step's name.

    Only tries that can take part in a retry are read: later tries, and first tries that did not
    succeed (a try is retried only after it failed). The window function runs on those (a small
    part of attempts), then the retries are named by a join to the retried visits (attempts > 1)."""
    return q("""
        SELECT d.*, r.{name} AS step
        FROM (SELECT {cloud}, {workflow_id}, {execution_id}, {step_key}, {attempt}, {started_at},
                     epoch_ms({started_at}) - epoch_ms(lag({ended_at}) OVER (
                         PARTITION BY {cloud}, {execution_id}, {step_key} ORDER BY {attempt})) AS delay_ms
              FROM attempts WHERE {where} AND ({attempt} > 1 OR {status} <> '{ok}')
              QUALIFY delay_ms IS NOT NULL) d
        JOIN (SELECT {cloud}, {execution_id}, {step_key}, {name} FROM steps
              WHERE {where} AND {attempts} > 1 {step_filter}) r
          ON r.{cloud} = d.{cloud} AND r.{execution_id} = d.{execution_id} AND r.{step_key} = d.{step_key}
    """, where=f.where(), step_filter=step_filter, ok=str(Status.SUCCEEDED))


def retry_delays(con: Any, f: Filters, limit: int = 50) -> pd.DataFrame:
    """Per step and retry number (`retry`: 2 for the second try, ...): retry delays (gap between one try's
    end and the next try's start) and their spread (`cv`, population, as the synchronized_retries finding's
    `delays_by_attempt`). Per retry number, because a backoff without jitter waits 2, 4, 8 s: each is
    the same in every execution, while the delays taken together spread by half.
    """
    out = run(con, q("""
        SELECT {cloud}, {workflow_id}, step, {attempt} AS retry, count(*) AS samples,
               count(DISTINCT {execution_id}) AS executions,
               avg(delay_ms) AS mean_delay_ms, stddev_pop(delay_ms) AS std_delay_ms,
               min(delay_ms) AS min_delay_ms, max(delay_ms) AS max_delay_ms
        FROM ({delays}) WHERE delay_ms IS NOT NULL GROUP BY ALL HAVING count(*) >= 2
        ORDER BY samples DESC, {cloud}, {workflow_id}, step, retry LIMIT {limit}
    """, delays=_retry_delays_sql(f), limit=int(limit)), f.params())
    out["cv"] = out["std_delay_ms"] / out["mean_delay_ms"].where(out["mean_delay_ms"] > 0)
    return _with_names(con, out)


def mark_lockstep(delays: pd.DataFrame, th: Any) -> pd.DataFrame:
    """`delays` (from `retry_delays`) with `lockstep` and, where not, `why_not_lockstep`
    (`measures.lockstep_verdict`): measures.is_lockstep under the thresholds `th`
    (sync_retry_max_cv, sync_retry_min_samples, sync_retry_min_executions), per retry number. The
    synchronized_retries finding applies the same rule to the retries inside retry storms only."""
    out = delays.copy()
    why_not = [measures.lockstep_verdict(None if pd.isna(cv) else float(cv), int(n), int(e),
                                         None if pd.isna(m) else float(m), max_cv=th.sync_retry_max_cv,
                                         min_samples=th.sync_retry_min_samples,
                                         min_executions=th.sync_retry_min_executions)
               for cv, n, e, m in zip(out["cv"], out["samples"], out["executions"], out["mean_delay_ms"],
                                      strict=True)]
    out["lockstep"] = pd.Series([w is None for w in why_not], index=out.index, dtype=bool)
    out["why_not_lockstep"] = pd.Series(why_not, index=out.index, dtype=object)    # the rule, where not ticked
    return out


def lockstep_steps(marked: pd.DataFrame) -> int:
    """Steps with a retry number in lockstep (`mark_lockstep`): the Retries page's count."""
    if marked.empty:
        return 0
    return int(len(marked.loc[marked["lockstep"], [C.cloud, C.workflow_id, "step"]].drop_duplicates()))


def step_retry_delays(con: Any, f: Filters, cloud: str, workflow_id: str, step: str, retry: int | None = None,
                      limit: int = 5000) -> pd.DataFrame:
    """Retry delays of one step (by step name), one row per retry, of one retry number when given (a row
    of `retry_delays`): for the histogram."""
    one = Filters(f.since, f.until, (cloud,), (workflow_id,))
    which = "" if retry is None else q("AND {attempt} = $retry")
    return run(con, q("""
        SELECT {execution_id}, {attempt}, {started_at}, delay_ms FROM ({delays})
        WHERE delay_ms IS NOT NULL {which} ORDER BY {started_at} DESC LIMIT {limit}
    """, delays=_retry_delays_sql(one, q("AND {name} = $step")), which=which, limit=int(limit)),
        {**one.params(), "step": step, **({} if retry is None else {"retry": int(retry)})})
