"""The Overview's measures: per cloud runs, failures, retries and spend of the window and of the previous one,
and their trend, read in one pass (`overview_and_trend`); `narrow_overview` takes a cloud's from it.

Its own module because its table and charts must add up: both come from the same read here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from flowscope.analysis import measures
from flowscope.analysis.tables_shared import EXEC_FAILED, TERMINAL, Filters, _bucket, _in, bucket_seconds, q, run
from flowscope.analysis.tables_usage import _usage_rows, usage_cost_sql
from flowscope.model import C

# ---------------------------------------------------------------- overview

def overview_by_cloud(con: Any, f: Filters) -> pd.DataFrame:
    """Per cloud: executions, failed, running, failure rate, retries, cost in window and per month."""
    return overview_and_trend(con, f, with_previous=False, with_trend=False)[0]


def overview_and_trend(con: Any, f: Filters, *, with_previous: bool, with_trend: bool = True) -> Overview:
    """`overview_by_cloud` of `f`, of `f.previous()` when `with_previous` (else None), and the trend of `f`
    (per bucket of `bucket_seconds` and cloud: executions, failed, finished, retries, cost, and the run
    failure rate by the headline's rule, `measures.run_failure_rate`, null where no run finished):
    the executions and the steps of both windows read in one pass each, grouped by trend bucket, cloud
    and window; the overview's counts are sums of the trend's buckets, so Overview's table and its
    charts add up by construction. Cost is priced per window, each at its own price date. Overview's
    rerun on the 1M dashboard store's 30 days read executions, steps and usage twice (overview, then
    trend): 0.33 s of its 0.44 s. Without `with_trend` the rows are not bucketed (one bucket, null) and
    the trend that comes back is that one bucket: for the callers that want only the overview."""
    windows = [f, f.previous()] if with_previous else [f]
    span = dataclasses.replace(f, since=windows[-1].since)
    p = {**span.params(), "split": f.since}
    current = f"{C.started_at} >= $split" if with_previous else "TRUE"
    bucket = _bucket(C.started_at, bucket_seconds(f)) if with_trend else "NULL::TIMESTAMPTZ"
    ex = run(con, q("""
        SELECT {bucket} AS bucket, {cloud}, {current} AS current, count(*) AS executions,
               count(*) FILTER (WHERE {status} IN ({failed})) AS failed,
               count(*) FILTER (WHERE {status} = 'RUNNING') AS running,
               count(*) FILTER (WHERE {status} IN ({terminal})) AS finished
        FROM executions WHERE {where} GROUP BY ALL
    """, bucket=bucket, current=current, failed=_in(EXEC_FAILED), terminal=_in(TERMINAL), where=span.where()), p)
    rt = run(con, q("""
        SELECT {bucket} AS bucket, {cloud}, {current} AS current, sum(greatest({attempts} - 1, 0))::BIGINT AS retries
        FROM steps WHERE {where} GROUP BY ALL
    """, bucket=bucket, current=current, where=span.where()), p)
    co = run(con, usage_cost_sql(f"SELECT *, {bucket} AS bucket FROM ({_usage_rows(f)})", ["bucket", C.cloud]),
             f.params()).drop(columns=C.quantity)
    ex_now, rt_now = ex[ex["current"]].drop(columns="current"), rt[rt["current"]].drop(columns="current")
    keys = ["bucket", C.cloud]
    tr = ex_now.drop(columns=["running"]).merge(rt_now, on=keys, how="outer")
    tr = tr.merge(co, on=keys, how="outer")
    for col in ("executions", "failed", "finished", "retries"):
        tr[col] = tr[col].fillna(0).astype("int64")
    tr["cost_usd"] = tr["cost_usd"].fillna(0.0).astype(float)
    # The headline's rule per bucket (failed / finished); a bucket with no finished run has no rate (a gap).
    tr["failure_rate"] = [measures.run_failure_rate(r.failed, r.finished) if r.finished else None
                          for r in tr.itertuples(index=False)]
    tr["failure_rate"] = tr["failure_rate"].astype(float)
    tr = tr.sort_values(keys).reset_index(drop=True)
    now = _overview_frame(_by_cloud(ex_now), _by_cloud(rt_now), _by_cloud(co), f)
    before = None
    if with_previous:
        previous = windows[1]
        co_before = run(con, usage_cost_sql(_usage_rows(previous), [C.cloud]),
                        previous.params()).drop(columns=C.quantity)
        before = _overview_frame(_by_cloud(ex[~ex["current"]].drop(columns="current")),
                                 _by_cloud(rt[~rt["current"]].drop(columns="current")), co_before, previous)
    return now, before, tr


def _by_cloud(frame: pd.DataFrame) -> pd.DataFrame:
    """A per-bucket frame summed per cloud (floats settled again: a sum of settled sums)."""
    summed = frame.drop(columns=["bucket"], errors="ignore").groupby(C.cloud, as_index=False).sum()
    return measures.settle_floats(summed)


OVERVIEW_COUNTS = [C.cloud, "executions", "failed", "running", "finished", "retries", "cost_usd"]
"""The overview's per-cloud sums; its total row and rates are made from them (`_with_total`). No billed
quantity: a cloud's is a sum of unlike units (state transitions + GB-seconds + requests)."""

Overview = tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame]
"""`overview_and_trend`'s result: the window's overview, the previous window's (or None), the trend."""


def narrow_overview(wide: Overview, f: Filters) -> Overview:
    """`overview_and_trend` of `f` taken from `wide`, the same call for every cloud of `f`'s window
    (same `with_previous`): every row of it is one cloud's (the trend's per bucket and cloud), so `f`'s
    clouds are a subset of its rows and only their totals are summed again, without reading the store.
    The dashboard's cloud filter: Overview's rerun for one cloud of the 1M bench store's 7 days read
    executions, steps and usage again (~0.3 s of server time). Not for a workflow filter."""
    if f.workflows:
        raise ValueError("narrow_overview narrows clouds only; a workflow filter needs its own read")
    now, before, trend = wide
    keep = set(f.clouds)

    def narrow(frame: pd.DataFrame, window: Filters) -> pd.DataFrame:
        rows = frame[(frame[C.cloud] != "total") & frame[C.cloud].isin(keep)]
        return _with_total(rows[OVERVIEW_COUNTS].reset_index(drop=True), window)

    narrowed_before = narrow(before, f.previous()) if before is not None else None
    return narrow(now, f), narrowed_before, trend[trend[C.cloud].isin(keep)].reset_index(drop=True)


def _overview_frame(ex: pd.DataFrame, rt: pd.DataFrame, co: pd.DataFrame, f: Filters) -> pd.DataFrame:
    return _with_total(ex.merge(rt, on=C.cloud, how="outer").merge(co, on=C.cloud, how="outer"), f)


def _with_total(out: pd.DataFrame, f: Filters) -> pd.DataFrame:
    """Per-cloud sums (`OVERVIEW_COUNTS`) with their total row, run failure rate and monthly projection."""
    for col in ("executions", "failed", "running", "finished", "retries"):
        out[col] = out[col].fillna(0).astype("int64")
    out["cost_usd"] = out["cost_usd"].fillna(0.0).astype(float)
    out = out.sort_values(C.cloud).reset_index(drop=True)
    total = {C.cloud: "total", **{c: out[c].sum() for c in
                                  ("executions", "failed", "running", "finished", "retries", "cost_usd")}}
    out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    # no rate where no run finished (an empty window, runs all still running), as the trend's rule
    out["failure_rate"] = pd.Series([measures.run_failure_rate(r.failed, r.finished) if r.finished else None
                                     for r in out.itertuples()], dtype=float, index=out.index)
    out["monthly_usd"] = out["cost_usd"] * f.monthly_factor
    return out
