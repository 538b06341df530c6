"""Failing steps: per workflow and step, visits, failures, failure rate, caught vs uncaught,
top error templates, first/last seen, change vs the previous window, the revision where it started.

Finding: `failing_step` when the failure rate and count in the window pass the thresholds.
"""

from __future__ import annotations

import ibis
import pandas as pd

from flowscope.analysis.base import (
    CONTAINER_TYPES,
    FAILED_VALUES,
    UNCAUGHT_FAILED_VALUES,
    Context,
    Finding,
    FindingKind,
    Severity,
    error_template,
    execute,
    is_throttling,
    lit_ts,
    sample_ids,
    to_utc,
)
from flowscope.analysis.cost import execution_costs
from flowscope.model import C, Cloud, StepType

TOP_ERRORS = 3


def run(ctx: Context) -> list[Finding]:
    th = ctx.thresholds
    s = ctx.in_window(ctx.table("steps"), both=True)
    s = s.filter(~s[C.type].isin([*CONTAINER_TYPES, str(StepType.FAIL)]))
    current = s[C.started_at] >= lit_ts(ctx.since)
    failed = s[C.status].isin(FAILED_VALUES)
    uncaught = s[C.status].isin(UNCAUGHT_FAILED_VALUES)
    keys = [C.cloud, C.workflow_id, C.name]
    stats = execute(s.group_by([*keys, current.name("current")]).aggregate(
        visits=s.count(),
        failures=failed.cast("int64").sum(),
        uncaught=uncaught.cast("int64").sum(),
        first_seen=s[C.started_at].min(where=failed),
        last_seen=s[C.started_at].max(where=failed),
    ))
    if stats.empty:
        return []
    cur = stats[stats["current"]].drop(columns="current")
    prev = stats[~stats["current"]].drop(columns="current").rename(
        columns={"visits": "prev_visits", "failures": "prev_failures", "uncaught": "prev_uncaught"})
    df = cur.merge(prev[[*keys, "prev_visits", "prev_failures", "prev_uncaught"]], on=keys, how="left")
    df["rate"] = df["failures"] / df["visits"].clip(lower=1)
    df["prev_rate"] = df["prev_failures"] / df["prev_visits"]
    hits = df[(df["failures"] >= th.failure_min_count) & (df["rate"] >= th.failure_rate)]
    if hits.empty:
        return []

    # Details only for the flagged steps: a small table joined in the engine.
    flagged = ibis.memtable(hits[keys].rename(columns={C.cloud: "f_cloud", C.workflow_id: "f_wf",
                                                      C.name: "f_name"}))
    fs = s.filter(current & failed)
    fs = fs.inner_join(flagged, (fs[C.cloud] == flagged.f_cloud) & (fs[C.workflow_id] == flagged.f_wf)
                       & (fs[C.name] == flagged.f_name)).drop("f_cloud", "f_wf", "f_name")
    cause = ibis.coalesce(fs[C.cause], ibis.literal(""))
    errors = execute(fs.group_by([*keys, C.error, error_template(cause).name("template")]).aggregate(
        count=fs.count(), example=fs[C.cause].max()))
    ex = ctx.table("executions").select(e_cloud=C.cloud, e_id=C.execution_id, e_rev=C.revision)
    fx = fs.inner_join(ex, (fs[C.cloud] == ex.e_cloud) & (fs[C.execution_id] == ex.e_id))
    revs = execute(fx.group_by(keys).aggregate(first_revision=fx.e_rev.argmin(fx[C.started_at]),
                                                executions=fx[C.execution_id].nunique()))
    ec = execution_costs(ctx)
    un = fs.filter(fs[C.status].isin(UNCAUGHT_FAILED_VALUES)).select(*keys, C.execution_id).distinct()
    ec = ec.select(c_cloud=C.cloud, c_id=C.execution_id, usd="usd")
    un = un.inner_join(ec, (un[C.cloud] == ec.c_cloud) & (un[C.execution_id] == ec.c_id))
    wasted = execute(un.group_by(keys).aggregate(usd=un.usd.sum()))
    samples = sample_ids(fs, keys, order_by=C.started_at)

    info = hits.merge(revs, on=keys, how="left").merge(wasted, on=keys, how="left")
    out = []
    for r in info.itertuples(index=False):
        key = (r.cloud, r.workflow_id, getattr(r, C.name))
        errs = errors[(errors[C.cloud] == r.cloud) & (errors[C.workflow_id] == r.workflow_id)
                      & (errors[C.name] == key[2])].sort_values("count", ascending=False)
        top = [{"error": e.error, "template": e.template, "count": int(e.count)}
               for e in errs.head(TOP_ERRORS).itertuples(index=False)]
        uncaught_rate = r.uncaught / max(r.visits, 1)
        if uncaught_rate >= 0.5:
            sev = Severity.CRITICAL
        elif uncaught_rate >= 0.1:
            sev = Severity.HIGH
        elif r.uncaught > 0:
            sev = Severity.MEDIUM
        else:
            sev = Severity.LOW
        throttled = any(is_throttling(f"{t['error']} {t['template']}") for t in top)
        wf_name = ctx.workflow_name(r.cloud, r.workflow_id)
        top_error = top[0]["error"] if top else None
        change = None if pd.isna(r.prev_rate) else r.rate - r.prev_rate
        title = (f"{key[2]} in {wf_name} fails {r.rate:.0%} of {int(r.visits):,} visits"
                 f" ({int(r.uncaught):,} uncaught){f': {top_error}' if top_error else ''}")
        usd = 0.0 if pd.isna(r.usd) else float(r.usd)
        out.append(Finding(
            kind=FindingKind.FAILING_STEP, severity=sev, cloud=r.cloud, workflow=wf_name,
            workflow_id=r.workflow_id, step=key[2],
            window_start=to_utc(r.first_seen) or ctx.since, window_end=to_utc(r.last_seen) or ctx.until,
            title=title,
            evidence={"visits": int(r.visits), "failures": int(r.failures), "failure_rate": r.rate,
                      "uncaught": int(r.uncaught), "caught": int(r.failures - r.uncaught),
                      "previous_visits": None if pd.isna(r.prev_visits) else int(r.prev_visits),
                      "previous_failure_rate": None if pd.isna(r.prev_rate) else r.prev_rate,
                      "rate_change": change, "first_seen": to_utc(r.first_seen), "last_seen": to_utc(r.last_seen),
                      "first_revision": None if pd.isna(r.first_revision) else r.first_revision,
                      "top_errors": top, "throttling": throttled, "wasted_usd": usd},
            recommendation=_recommendation(r.cloud, top_error, throttled, r.uncaught > 0),
            monthly_usd=usd * ctx.monthly_factor,
            executions_affected=int(0 if pd.isna(r.executions) else r.executions),
            sample_execution_ids=samples.get(key, []),
        ))
    return out


def _recommendation(cloud: str, error: str | None, throttled: bool, uncaught: bool) -> str:
    err = f" for {error}" if error else ""
    if cloud == Cloud.AWS:
        text = (f"Fix the cause of {error or 'the failures'} first. For transient errors add a Retry{err} "
                "(IntervalSeconds, MaxAttempts, BackoffRate 2, MaxDelaySeconds, JitterStrategy FULL)")
        text += "; add a Catch to a compensating or notification path so one step cannot fail the run." \
            if uncaught else "; the failures are caught, but each still costs transitions."
    elif cloud == Cloud.AZURE:
        text = (f"Fix the cause of {error or 'the failures'} first. Set the action's retry policy to "
                "exponential (count, interval, minimumInterval, maximumInterval)")
        text += ", and put it in a Scope with a follower whose runAfter is Failed/TimedOut to handle errors." \
            if uncaught else "; the failures are handled by runAfter, but each retry is a billed execution."
    else:
        text = (f"Fix the cause of {error or 'the failures'} first. Wrap the call in try/retry with a "
                "backoff (initial_delay, max_delay, multiplier) or use http.default_retry")
        text += ", and an except block that handles or re-raises with context." if uncaught else \
            "; the failures are caught, but every attempt is a billed step."
    if throttled:
        text += " Throttling errors: lower the concurrency (Map MaxConcurrency / For_each degree of " \
                "parallelism / parallel concurrency_limit) or raise the quota."
    return text
