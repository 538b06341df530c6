"""Failing steps: per workflow and step, visits, failures, failure rate, caught vs uncaught,
top error templates, first/last seen, change vs the previous window (where the workflow's runs cover
it, `measures.previous_covered`), the revision where it started.

Finding: `failing_step` when the failure rate and count in the window pass the thresholds.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from flowscope.analysis import measures
from flowscope.analysis.base import (
    FAILED_VALUES,
    NOT_WORK,
    UNCAUGHT_FAILED_VALUES,
    Context,
    Finding,
    FindingKind,
    Severity,
    bernoulli_scan,
    bucket_expr,
    bucket_index,
    bucket_span,
    error_template,
    execute,
    is_throttling,
    lit_ts,
    picked_by,
    sample_rank,
    sample_rows,
    to_utc,
)
from flowscope.analysis.cost import execution_costs, failure_bucket_s, failure_buckets, step_window_stats
from flowscope.model import UTC, C, Cloud, Kind

TOP_ERRORS = 3


def run(ctx: Context) -> list[Finding]:
    th = ctx.thresholds
    s = ctx.in_window(ctx.table("steps"), both=True)
    s = s.filter(~s[C.type].isin(sorted(NOT_WORK)))
    current = s[C.started_at] >= lit_ts(ctx.since)
    failed = s[C.status].isin(FAILED_VALUES)
    keys = [C.cloud, C.workflow_id, C.name]
    stats = _work_stats(ctx)
    if stats.empty:
        return []
    cur = stats[stats["current"]].drop(columns="current")
    prev = stats[~stats["current"]].drop(columns="current").rename(
        columns={"visits": "prev_visits", "failures": "prev_failures", "uncaught": "prev_uncaught"})
    df = cur.merge(prev[[*keys, "prev_visits", "prev_failures", "prev_uncaught"]], on=keys, how="left")
    uncovered = ~ctx.previous_covered(df)   # evidence compares with the previous window only where covered
    for col in ("prev_visits", "prev_failures", "prev_uncaught"):
        df[col] = df[col].astype("float64").mask(uncovered)
    df["rate"] = df["failures"] / df["visits"].clip(lower=1)
    df["prev_rate"] = df["prev_failures"] / df["prev_visits"]
    standing = (df["failures"] >= th.failure_min_count) & (df["rate"] >= th.failure_rate)
    episodes = _episodes(ctx, s.filter(current), df[~standing & (df["failures"] >= th.failure_min_count)][keys])
    hits = df[standing | df.set_index(keys).index.isin(list(episodes))]
    if hits.empty:
        return []

    # Details only for the flagged steps: a small table joined in the engine.
    flagged = ibis.memtable(hits[keys].rename(columns={C.cloud: "f_cloud", C.workflow_id: "f_wf",
                                                      C.name: "f_name"}))
    fs = s.filter(current & failed)
    fs = fs.inner_join(flagged, (fs[C.cloud] == flagged.f_cloud) & (fs[C.workflow_id] == flagged.f_wf)
                       & (fs[C.name] == flagged.f_name)).drop("f_cloud", "f_wf", "f_name")
    # One read of the failed visits for their error groups, the samples (the latest failed runs), the
    # runs and the revision of the first failure. The executions are joined by their key (one row each),
    # so every failed visit keeps one row. A run is counted on the one row the samples rank it by (its
    # latest failed visit of the step: `sample_rank` gives the others no rank), in that row's error group.
    ex = ctx.table("executions").select(e_cloud=C.cloud, e_id=C.execution_id, e_rev=C.revision)
    fx = fs.left_join(ex, (fs[C.cloud] == ex.e_cloud) & (fs[C.execution_id] == ex.e_id))
    fx = sample_rank(fx, keys, order_by=C.started_at, name="_rank")
    fx = fx.mutate(_known=fx.e_id.notnull())
    cause = ibis.coalesce(fx[C.cause], ibis.literal(""))
    errors = execute(fx.group_by([*keys, C.error, error_template(cause).name("template")]).aggregate(
        count=fx.count(), example=fx[C.cause].max(), samples=sample_rows(fx, "_rank"),
        runs=(fx["_rank"].notnull() & fx["_known"]).cast("int64").sum(),
        first_at=fx[C.started_at].min(where=fx["_known"]),
        first_rev=fx.e_rev.argmin(fx[C.started_at], where=fx["_known"])))
    samples = picked_by(errors, keys, "samples")
    revs = _revisions(errors, keys)
    # the flagged steps' workflows' runs only: the cost of every run of the window was summed to price a few
    # (30k demo, this query alone: 0.205 to 0.175 s of CPU, session 48)
    ec = execution_costs(ctx, set(hits[C.workflow_id]))
    un = fs.filter(fs[C.status].isin(UNCAUGHT_FAILED_VALUES))
    # each wasted run once, in the failure bucket of its first uncaught failure (`_wasted_by_bucket`)
    un = un.group_by([*keys, C.execution_id]).aggregate(first=un[C.started_at].min())
    # Wasted: the runs an uncaught failure ended and that stayed failed. A run redriven to success resumed
    # at the failed state (Step Functions keeps one row, its last life's status): its cost bought the result.
    ended = ctx.table("executions")
    ended = ended.filter(ended[C.status].isin(list(measures.RUN_FAILED))).select(x_cloud=C.cloud, x_id=C.execution_id)
    un = un.semi_join(ended, (un[C.cloud] == ended.x_cloud) & (un[C.execution_id] == ended.x_id))
    ec = ec.select(c_cloud=C.cloud, c_id=C.execution_id, usd="usd")
    un = un.inner_join(ec, (un[C.cloud] == ec.c_cloud) & (un[C.execution_id] == ec.c_id))
    wasted = _wasted_by_bucket(ctx, un, keys)

    info = hits.merge(revs, on=keys, how="left").merge(
        wasted.groupby(keys, as_index=False)["usd"].sum(), on=keys, how="left")
    out = []
    for r in info.itertuples(index=False):
        key = (r.cloud, r.workflow_id, getattr(r, C.name))
        errs = _commonest_first(errors[(errors[C.cloud] == r.cloud) & (errors[C.workflow_id] == r.workflow_id)
                                       & (errors[C.name] == key[2])])
        top = [{"error": _text(e.error), "template": _text(e.template), "count": int(e.count)}
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
        throttled = any(is_throttling(f"{t['error'] or ''} {t['template'] or ''}") for t in top)
        wf_name = ctx.workflow_name(r.cloud, r.workflow_id)
        top_error = next((str(t["error"]) for t in top if t["error"]), None)
        change = None if pd.isna(r.prev_rate) else r.rate - r.prev_rate
        title = (f"{key[2]} in {wf_name} fails {r.rate:.0%} of {int(r.visits):,} visits"
                 f" ({int(r.uncaught):,} uncaught){f': {top_error}' if top_error else ''}")
        usd = 0.0 if pd.isna(r.usd) else float(r.usd)
        ep = episodes.get(key)
        window_start = to_utc(r.first_seen) or ctx.since
        window_end = to_utc(r.last_seen) or ctx.until
        monthly = usd * ctx.monthly_factor
        if ep is not None:
            ep = {**ep, "wasted_usd": _episode_usd(ctx, wasted, key, ep)}
            if ep["end"] < ctx.until:
                # A burst that is over is no monthly rate: what it cost is said once (the episode's
                # wasted_usd); the month is projected from what the step wastes outside it.
                monthly = max(usd - ep["wasted_usd"], 0.0) * ctx.monthly_factor
            window_start, window_end = ep["start"], ep["end"]
            title = (f"{key[2]} in {wf_name} failed {ep['rate']:.0%} of {int(ep['visits']):,} visits from "
                     f"{ep['start']:%Y-%m-%d %H:%M} to {ep['end']:%Y-%m-%d %H:%M} UTC (otherwise "
                     f"{ep['baseline_rate']:.1%}){f': {top_error}' if top_error else ''}")
        out.append(Finding(
            kind=FindingKind.FAILING_STEP, severity=sev, cloud=r.cloud, workflow=wf_name,
            workflow_id=r.workflow_id, step=key[2],
            window_start=window_start, window_end=window_end,
            title=title,
            evidence={"visits": int(r.visits), "failures": int(r.failures), "failure_rate": r.rate,
                      "uncaught": int(r.uncaught), "caught": int(r.failures - r.uncaught),
                      "previous_visits": None if pd.isna(r.prev_visits) else int(r.prev_visits),
                      "previous_failure_rate": None if pd.isna(r.prev_rate) else r.prev_rate,
                      "rate_change": change, "first_seen": to_utc(r.first_seen), "last_seen": to_utc(r.last_seen),
                      "first_revision": None if pd.isna(r.first_revision) else r.first_revision,
                      "top_errors": top, "throttling": throttled, "wasted_usd": usd, "episode": ep},
            recommendation=_recommendation(r.cloud, top_error, throttled, r.uncaught > 0,
                                           ctx.workflow_kind(r.cloud, r.workflow_id)),
            monthly_usd=monthly,
            executions_affected=int(0 if pd.isna(r.executions) else r.executions),
            sample_execution_ids=samples.get(key, []),
        ))
    return out


def _revisions(errors: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per step, from its error groups: `executions`, the failed runs the executions table knows, and
    `first_revision`, the revision of the earliest of their failures."""
    if errors.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in [*keys, "first_revision"]}
                            | {"executions": pd.Series(dtype="int64")})
    known = errors[errors["first_at"].notna()].sort_values([*keys, "first_at"], kind="stable")
    first = known.drop_duplicates(keys)[[*keys, "first_rev"]].rename(columns={"first_rev": "first_revision"})
    runs = errors.groupby(keys, as_index=False)["runs"].sum().rename(columns={"runs": "executions"})
    runs = runs[runs["executions"] > 0]
    return runs.merge(first, on=keys, how="left")


def _wasted_by_bucket(ctx: Context, un: ir.Table, keys: list[str]) -> pd.DataFrame:
    """Per flagged step and failure bucket (`Thresholds.failure_bucket_hours`, the episodes' buckets): the
    cost of the wasted runs whose first uncaught failure of the step fell in it, so a burst's share is
    exact (`_episode_usd`). `un` holds (keys, execution_id, first, usd), a run once per step."""
    width = failure_bucket_s(ctx)
    df = execute(un.group_by([*keys, bucket_expr(un, "first", width).name("bucket")]).aggregate(usd=un.usd.sum()))
    df["bucket"] = bucket_index(df["bucket"], width)
    return df


def _episode_usd(ctx: Context, wasted: pd.DataFrame, key: tuple, ep: dict) -> float:
    """What the runs a failure burst ended cost: the wasted runs of the step in the episode's buckets (its
    start and end are bucket edges, or the window's edges inside a bucket)."""
    width = failure_bucket_s(ctx)
    first, last = bucket_span(ep["start"], ep["end"], width)
    mine = wasted[(wasted[C.cloud] == key[0]) & (wasted[C.workflow_id] == key[1]) & (wasted[C.name] == key[2])]
    return float(mine.loc[mine["bucket"].between(first, last), "usd"].sum())


def _text(value: object) -> str | None:
    """A text column's value, None where it is missing: pandas reads a null error as NaN, which a title
    printed as "nan" ("fails 100% of 30 visits: nan") and the recommendation as "Fix the cause of nan"."""
    return None if value is None or (isinstance(value, float) and value != value) else str(value)


def _commonest_first(errors: pd.DataFrame) -> pd.DataFrame:
    """A step's error groups, most failures first; ties by error name, then template (nameless last). The
    engine returns groups in no set order, so a tie was broken by it: the title's and recommendation's
    top error could change from one run, thread count or engine (Spark) to the next."""
    return errors.sort_values(["count", C.error, "template"], ascending=[False, True, True], kind="stable",
                              na_position="last")


def _work_stats(ctx: Context) -> pd.DataFrame:
    """Per workflow, step name and window (`current`): visits, failures, uncaught, first_seen and
    last_seen of the visits that do work (no containers, no Fail states), from the context's one
    shared read of the steps (cost.step_window_stats); a step with no such visit has no row."""
    df = step_window_stats(ctx)
    df = df[df["f_visits"] > 0]
    out = df[[C.cloud, C.workflow_id, C.name, "current", "f_visits", "failures", "uncaught", "first_seen",
              "last_seen"]].rename(columns={"f_visits": "visits"}).reset_index(drop=True)
    out["current"] = out["current"].astype(bool)
    for col in ("visits", "failures", "uncaught"):
        if not out[col].isna().any():            # whole counts, as a direct aggregate returns them
            out[col] = out[col].astype("int64")
    return out


def _episodes(ctx: Context, s: ir.Table, candidates: pd.DataFrame) -> dict[tuple, dict]:
    """Steps whose failures cluster in time: a burst of failures (a bad deploy, an outage) that the
    whole window's rate dilutes. Bernoulli scan over failure buckets (see base.bernoulli_scan)."""
    th = ctx.thresholds
    if candidates.empty:
        return {}
    keys = [C.cloud, C.workflow_id, C.name]
    width = failure_bucket_s(ctx)
    df = failure_buckets(ctx, candidates)     # from the shared step read, when it is grouped by bucket
    if df is None:
        flagged = ibis.memtable(candidates.rename(columns={C.cloud: "f_cloud", C.workflow_id: "f_wf",
                                                           C.name: "f_name"}))
        j = s.semi_join(flagged, (s[C.cloud] == flagged.f_cloud) & (s[C.workflow_id] == flagged.f_wf)
                        & (s[C.name] == flagged.f_name))
        j = j.mutate(bucket=bucket_expr(j, C.started_at, width))
        df = execute(j.group_by([*keys, "bucket"]).aggregate(
            visits=j.count(), failures=j[C.status].isin(FAILED_VALUES).cast("int64").sum()))
        df["bucket"] = bucket_index(df["bucket"], width)
    first, last = bucket_span(ctx.since, ctx.until, width)
    size = last - first + 1
    out: dict[tuple, dict] = {}
    for key, g in df.groupby(keys):
        # Only the buckets that hold visits: the scan's memory follows the data, not the window.
        idx = g["bucket"].to_numpy(dtype=np.int64) - first
        ok = (idx >= 0) & (idx < size)
        eps = bernoulli_scan(g["visits"].to_numpy(dtype=float)[ok], g["failures"].to_numpy(dtype=float)[ok],
                             index=idx[ok], min_hits=th.failure_min_count, min_rate=th.failure_rate,
                             min_llr=th.episode_min_llr, max_episodes=1)
        if not eps:
            continue
        e = eps[0]
        start, end = ctx.clip(dt.datetime.fromtimestamp((first + e.first) * width, UTC),
                              dt.datetime.fromtimestamp((first + e.last + 1) * width, UTC))
        out[tuple(key)] = {"start": start, "end": end,
                           "failures": e.hits, "visits": e.trials, "rate": e.rate,
                           "baseline_rate": e.out_rate, "log_likelihood_ratio": e.llr}
    return out


def _recommendation(cloud: str, error: str | None, throttled: bool, uncaught: bool, kind: str | None = None) -> str:
    """What to do about a failing step. What a caught failure still costs depends on the workflow's kind: an
    Express state machine pays per request and duration, not per transition, and a Logic Apps Standard
    workflow's built-in actions cost nothing per run (both were told their failures cost transitions or
    billed executions)."""
    err = f" for {error}" if error else ""
    if cloud == Cloud.AWS:
        text = (f"Fix the cause of {error or 'the failures'} first. For transient errors add a Retry{err} "
                "(IntervalSeconds, MaxAttempts, BackoffRate 2, MaxDelaySeconds, JitterStrategy FULL)")
        cost = "billed duration" if kind == Kind.SFN_EXPRESS else "transitions"
        text += "; add a Catch to a compensating or notification path so one step cannot fail the run." \
            if uncaught else f"; the failures are caught, but each still costs {cost}."
    elif cloud == Cloud.AZURE:
        text = (f"Fix the cause of {error or 'the failures'} first. Set the action's retry policy to "
                "exponential (count, interval, minimumInterval, maximumInterval)")
        billed = ("each retry of a managed connector is a billed call (built-in actions are paid in plan hours)"
                  if kind == Kind.LOGICAPP_STANDARD else "each retry is a billed execution")
        text += ", and put it in a Scope with a follower whose runAfter is Failed/TimedOut to handle errors." \
            if uncaught else f"; the failures are handled by runAfter, but {billed}."
    else:
        text = (f"Fix the cause of {error or 'the failures'} first. Wrap the call in try/retry with a "
                "backoff (initial_delay, max_delay, multiplier) or use http.default_retry")
        text += ", and an except block that handles or re-raises with context." if uncaught else \
            "; the failures are caught, but every attempt is a billed step."
    if throttled:
        text += " Throttling errors: lower the concurrency (Map MaxConcurrency / For_each degree of " \
                "parallelism / parallel concurrency_limit) or raise the quota."
    return text
