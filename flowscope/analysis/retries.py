"""Retry storms and synchronized retries.

- `retry_storm`: retries per (workflow, step, error) per time bucket against a robust trailing
  baseline (median and MAD of the bucket counts over the trailing days, empty buckets counted as
  zero); storms are merged runs of anomalous buckets, with peak rate, duration, amplification
  (attempts per visit), executions affected and the billable retries' cost.
- `synchronized_retries`: the delay between a failed attempt's end and the next attempt's start,
  for the same step and attempt number across executions, has almost no spread (coefficient
  of variation under a threshold over enough samples): retries without jitter.
"""

from __future__ import annotations

import datetime as dt
import math

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from flowscope.analysis.base import (
    FAILED_VALUES,
    Context,
    Finding,
    FindingKind,
    Severity,
    execute,
    fmt_ms,
    fmt_usd,
    is_throttling,
    lit_ts,
    sample_ids,
)
from flowscope.analysis.cost import step_costs, step_stats
from flowscope.model import UTC, C, Cloud

NO_ERROR = "(no error)"


def run(ctx: Context) -> list[Finding]:
    return storms(ctx) + synchronized(ctx)


def _failed_attempts_with_names(ctx: Context, start: dt.datetime) -> ir.Table:
    """Failed attempts since `start` that were retried, with their step's name."""
    a = ctx.table("attempts")
    a = a.filter(a[C.status].isin(FAILED_VALUES) & (a[C.started_at] >= lit_ts(start))
                 & (a[C.started_at] < lit_ts(ctx.until)))
    s = ctx.table("steps")
    s = s.filter(s[C.attempts] > 1).select(s_cloud=C.cloud, s_exec=C.execution_id, s_key=C.step_key,
                                           s_name=C.name, s_attempts=C.attempts)
    j = a.inner_join(s, (a[C.cloud] == s.s_cloud) & (a[C.execution_id] == s.s_exec) & (a[C.step_key] == s.s_key))
    return j.filter(j[C.attempt] < j.s_attempts)


def storms(ctx: Context) -> list[Finding]:
    th = ctx.thresholds
    width = int(th.retry_bucket_minutes) * 60
    start = min(ctx.since, ctx.prev_since, ctx.since - dt.timedelta(days=th.retry_baseline_days))
    j = _failed_attempts_with_names(ctx, start)
    j = j.mutate(error=ibis.coalesce(j[C.error], ibis.literal(NO_ERROR)),
                 bucket=(j[C.started_at].epoch_seconds() // width).cast("int64"))
    keys = [C.cloud, C.workflow_id, "s_name", "error"]
    counts = j.group_by([*keys, "bucket"]).aggregate(retries=j.count())
    # Only series that ever reach the minimum can storm: keep the transfer small.
    peaks = counts.group_by(keys).aggregate(peak=counts.retries.max())
    peaks = peaks.filter(peaks.peak >= th.retry_storm_min_retries)
    counts = counts.semi_join(peaks, [counts[k] == peaks[k] for k in keys])
    df = execute(counts)
    if df.empty:
        return []
    first = int(start.timestamp()) // width
    win_first = int(ctx.since.timestamp()) // width
    last = (int(ctx.until.timestamp()) - 1) // width
    trailing = max(int(th.retry_baseline_days * 86400 // width), 4)
    found: list[dict] = []
    for key, g in df.groupby(keys):
        dense = np.zeros(last - first + 1)
        idx = g["bucket"].to_numpy(dtype=np.int64) - first
        ok = (idx >= 0) & (idx < dense.size)
        dense[idx[ok]] = g["retries"].to_numpy()[ok]
        flags = []
        for i in np.nonzero(dense >= th.retry_storm_min_retries)[0]:
            if i + first < win_first:
                continue
            hist = dense[max(0, i - trailing):i]
            if hist.size < 4:
                hist = np.delete(dense, i)
            med = float(np.median(hist)) if hist.size else 0.0
            mad = float(np.median(np.abs(hist - med))) if hist.size else 0.0
            limit = med + th.retry_storm_z * max(1.4826 * mad, 1.0)
            if dense[i] > limit:
                flags.append((i, med, mad))
        for run_ in _merge(flags, th.retry_storm_merge_gap_buckets):
            i0, i1 = run_[0][0], run_[-1][0]
            seg = dense[i0:i1 + 1]
            found.append({
                "cloud": key[0], "workflow_id": key[1], "step": key[2], "error": key[3],
                "start": dt.datetime.fromtimestamp((i0 + first) * width, UTC),
                "end": dt.datetime.fromtimestamp((i1 + first + 1) * width, UTC),
                "retries": float(seg.sum()), "peak": float(seg.max()),
                "baseline_median": run_[0][1], "baseline_mad": run_[0][2],
                "anomalous_buckets": len(run_),
            })
    if not found:
        return []
    st = pd.DataFrame(found)
    st["sid"] = range(len(st))
    details = _storm_details(ctx, st)
    st = st.merge(details, on="sid", how="left")
    unit = _unit_cost_per_attempt(ctx)
    out = []
    for r in st.itertuples(index=False):
        per_attempt = unit.get((r.cloud, r.workflow_id, r.step), 0.0)
        cost = r.retries * per_attempt
        visits = 0 if pd.isna(r.visits) else int(r.visits)
        attempts = 0 if pd.isna(r.attempts) else int(r.attempts)
        amp = attempts / visits if visits else None
        minutes = (r.end - r.start).total_seconds() / 60
        throttled = is_throttling(r.error)
        wf_name = ctx.workflow_name(r.cloud, r.workflow_id)
        sev = Severity.HIGH if throttled or (amp or 0) >= 2 or r.retries >= 1000 else Severity.MEDIUM
        title = (f"Retry storm on {r.step} in {wf_name}: {int(r.retries):,} retries of {r.error} in "
                 f"{minutes:.0f} min (peak {int(r.peak)} per {th.retry_bucket_minutes} min, "
                 f"baseline {r.baseline_median:g})")
        out.append(Finding(
            kind=FindingKind.RETRY_STORM, severity=sev, cloud=r.cloud, workflow=wf_name,
            workflow_id=r.workflow_id, step=r.step, window_start=r.start, window_end=r.end,
            title=title + (" - throttling" if throttled else ""),
            evidence={"error": r.error, "retries": r.retries, "peak_retries_per_bucket": r.peak,
                      "peak_retries_per_minute": r.peak / th.retry_bucket_minutes,
                      "bucket_minutes": th.retry_bucket_minutes, "duration_minutes": minutes,
                      "baseline_median": r.baseline_median, "baseline_mad": r.baseline_mad,
                      "visits": visits, "attempts": attempts, "amplification": amp,
                      "throttling": throttled, "billable_retries": r.retries, "retry_usd": cost,
                      "usd_per_attempt": per_attempt},
            recommendation=_retry_recommendation(r.cloud, throttled),
            monthly_usd=cost * ctx.monthly_factor,
            executions_affected=0 if pd.isna(r.executions) else int(r.executions),
            sample_execution_ids=list(r.samples) if isinstance(r.samples, list) else [],
            id_bucket=r.start,
        ))
    return out


def _merge(flags: list[tuple], gap: int) -> list[list[tuple]]:
    runs: list[list[tuple]] = []
    for f in flags:
        if runs and f[0] - runs[-1][-1][0] <= gap + 1:
            runs[-1].append(f)
        else:
            runs.append([f])
    return runs


def _storm_details(ctx: Context, st: pd.DataFrame) -> pd.DataFrame:
    """Visits, attempts, executions and sample ids of each storm's step during the storm."""
    m = ibis.memtable(pd.DataFrame({
        "sid": st["sid"].astype("int64"), "m_cloud": st["cloud"].astype(str),
        "m_wf": st["workflow_id"].astype(str), "m_step": st["step"].astype(str),
        "m_start": pd.to_datetime(st["start"], utc=True), "m_end": pd.to_datetime(st["end"], utc=True),
    }))
    s = ctx.table("steps")
    s = s.filter((s[C.started_at] >= lit_ts(st["start"].min())) & (s[C.started_at] < lit_ts(st["end"].max())))
    j = s.inner_join(m, (s[C.cloud] == m.m_cloud) & (s[C.workflow_id] == m.m_wf) & (s[C.name] == m.m_step)
                     & (s[C.started_at] >= m.m_start) & (s[C.started_at] < m.m_end))
    agg = execute(j.group_by("sid").aggregate(visits=j.count(), attempts=j[C.attempts].sum(),
                                              executions=j[C.execution_id].nunique()))
    retried = j.filter(j[C.attempts] > 1)
    samples = sample_ids(retried, ["sid"], order_by=C.attempts)
    agg["samples"] = [samples.get((sid,), []) for sid in agg["sid"]]
    return agg


def _unit_cost_per_attempt(ctx: Context) -> dict[tuple, float]:
    sc = step_costs(ctx)
    stats = step_stats(ctx)
    attempts = {(r.cloud, r.workflow_id, getattr(r, C.name)): r.attempts for r in stats.itertuples(index=False)}
    out = {}
    for r in sc.itertuples(index=False):
        n = attempts.get((r.cloud, r.workflow_id, r.step))
        if n:
            out[(r.cloud, r.workflow_id, r.step)] = r.usd / n
    return out


def synchronized(ctx: Context) -> list[Finding]:
    th = ctx.thresholds
    a = ctx.table("attempts")
    a = ctx.in_window(a)
    nxt = a.filter(a[C.attempt] >= 2).select(n_cloud=C.cloud, n_exec=C.execution_id, n_key=C.step_key,
                                             n_attempt=C.attempt, n_start=C.started_at)
    prev = a.filter(a[C.status].isin(FAILED_VALUES) & a[C.ended_at].notnull())
    j = prev.inner_join(nxt, (prev[C.cloud] == nxt.n_cloud) & (prev[C.execution_id] == nxt.n_exec)
                        & (prev[C.step_key] == nxt.n_key) & (prev[C.attempt] + 1 == nxt.n_attempt))
    j = j.mutate(delay_ms=j.n_start.delta(j[C.ended_at], unit="millisecond").cast("float64"))
    s = ctx.table("steps")
    s = s.filter(s[C.attempts] > 1).select(s_cloud=C.cloud, s_exec=C.execution_id, s_key=C.step_key,
                                           s_name=C.name)
    j = j.inner_join(s, (j[C.cloud] == s.s_cloud) & (j[C.execution_id] == s.s_exec) & (j[C.step_key] == s.s_key))
    keys = [C.cloud, C.workflow_id, "s_name"]
    agg = execute(j.group_by([*keys, "n_attempt"]).aggregate(
        samples=j.count(), executions=j[C.execution_id].nunique(), mean_ms=j.delay_ms.mean(),
        std_ms=j.delay_ms.std(how="pop"), min_ms=j.delay_ms.min(), max_ms=j.delay_ms.max(),
        error=j[C.error].mode()))
    if agg.empty:
        return []
    agg = agg[(agg["samples"] >= th.sync_retry_min_samples) & (agg["executions"] >= th.sync_retry_min_executions)
              & (agg["mean_ms"] >= 100)]
    if agg.empty:
        return []
    agg = agg.assign(cv=agg["std_ms"].fillna(0.0) / agg["mean_ms"])
    hits = agg[agg["cv"] < th.sync_retry_max_cv]
    if hits.empty:
        return []
    unit = _unit_cost_per_attempt(ctx)
    stats = step_stats(ctx)
    retries_by_step = {(r.cloud, r.workflow_id, getattr(r, C.name)): (r.attempts or 0) - (r.visits or 0)
                       for r in stats.itertuples(index=False)}
    samples = sample_ids(j.filter(j.n_attempt == 2), keys, order_by="n_start")
    out = []
    for key, g in hits.groupby(keys):
        cloud, wf_id, step = key
        wf_name = ctx.workflow_name(cloud, wf_id)
        throttled = any(is_throttling(e) for e in g["error"].dropna())
        delays = {int(r.n_attempt): {"mean_ms": r.mean_ms, "cv": r.cv, "samples": int(r.samples)}
                  for r in g.itertuples(index=False)}
        retries = max(retries_by_step.get(key, 0), 0)
        cost = retries * unit.get(key, 0.0)
        execs = int(g["executions"].max())
        worst = g.sort_values("cv").iloc[0]
        out.append(Finding(
            kind=FindingKind.SYNCHRONIZED_RETRIES,
            severity=Severity.HIGH if throttled else Severity.MEDIUM,
            cloud=cloud, workflow=wf_name, workflow_id=wf_id, step=step,
            window_start=ctx.since, window_end=ctx.until,
            title=(f"Retries of {step} in {wf_name} fire in lockstep: delay {fmt_ms(worst.mean_ms)} with "
                   f"{worst.cv:.1%} spread across {execs} executions (no jitter)"
                   + (" - throttling" if throttled else "")),
            evidence={"delays_by_attempt": delays, "min_cv": float(g["cv"].min()),
                      "samples": int(g["samples"].sum()), "executions": execs,
                      "errors": sorted({e for e in g["error"].dropna()}), "throttling": throttled,
                      "retries": retries, "retry_usd": cost},
            recommendation=_sync_recommendation(cloud, throttled),
            monthly_usd=cost * ctx.monthly_factor, executions_affected=execs,
            sample_execution_ids=samples.get(key, []),
        ))
    return out


def _retry_recommendation(cloud: str, throttled: bool) -> str:
    if cloud == Cloud.AWS:
        text = ("Bound the retries: Retry with ErrorEquals for the specific error, IntervalSeconds >= 1, "
                "BackoffRate 2, MaxAttempts 3-5, MaxDelaySeconds and JitterStrategy FULL; Catch the rest. "
                "Each retry is a billed state transition in Standard workflows.")
    elif cloud == Cloud.AZURE:
        text = ("Use an exponential retry policy (type exponential, count 3-4, interval PT10S, "
                "maximumInterval PT1H) instead of fixed or default retries, and handle the final failure "
                "with runAfter; each retry is a billed action execution.")
    else:
        text = ("Use a retry policy with backoff (retry: predicate, max_retries 3-5, backoff: initial_delay, "
                "max_delay, multiplier 2) and handle the final error in except; each retry is a billed step.")
    if throttled:
        text += (" The errors are throttling (429 / TooManyRequests / ThrottlingException): lower the "
                 "caller's concurrency (Map MaxConcurrency, For_each concurrency, parallel concurrency_limit) "
                 "or raise the downstream quota; retries without jitter make it worse.")
    return text


def _sync_recommendation(cloud: str, throttled: bool) -> str:
    if cloud == Cloud.AWS:
        text = ('Add jitter: in the Retry, set "JitterStrategy": "FULL" with "BackoffRate": 2 and '
                '"MaxDelaySeconds" (e.g. 60) so retries from many executions spread out instead of hitting '
                "the service at the same instant.")
    elif cloud == Cloud.AZURE:
        text = ("Switch the action's retry policy from fixed to exponential (type exponential, interval, "
                "minimumInterval, maximumInterval): exponential intervals are randomized, fixed ones are not.")
    else:
        text = ("Use a retry policy with backoff (backoff: initial_delay, max_delay, multiplier 2) and add "
                "random jitter (e.g. sys.sleep of a random delay before re-calling) so executions do not "
                "retry in lockstep.")
    if throttled:
        text += " The retried errors are throttling, which synchronized retries amplify."
    return text
