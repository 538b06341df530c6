"""Costly transitions: cost per execution, step and edge; polling loops; what-ifs.

Findings: `costly_step`, `polling_loop`, `express_candidate`, `plan_what_if`.
Money comes from usage quantities priced by `pricing.py` at marginal list prices and is
projected to a month from the window (x `monthly_days` / the days the data speaks for,
`Context.monthly_factor`).

Evidence added to findings: `edges` (costly_step, polling_loop: the top transition edges into the
step or the loop's cycle, with transitions and dollars a month) and `retry_share` (every cost
finding, and retries.py's: retries' share of the workflow's billable units; in the title from
`retry_share_title_min`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Collection, Iterator
from collections.abc import Set as AbstractSet
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from flowscope.analysis import measures, pricing, step_rank, transitions
from flowscope.analysis.base import (
    CONTAINER_TYPES,
    EXECUTION_STEP,
    FAILED_VALUES,
    LOOP_TYPES,
    NOT_WORK,
    QUANTILES,
    SAMPLES,
    UNCAUGHT_FAILED_VALUES,
    Context,
    Finding,
    FindingKind,
    Severity,
    bucket_expr,
    bucket_index,
    bucket_span,
    execute,
    lit_ts,
    picked_by,
    quantiles,
    sample_rank,
    sample_rows,
    split_quantiles,
    timed_run,
)
from flowscope.format import fmt_duration, fmt_usd
from flowscope.model import C, Cloud, Kind, Meter, Status, StepType

# ---------------------------------------------------------------- shared cost tables


def kinds_table(ctx: Context) -> ir.Table:
    """(cloud, workflow_id) -> kind as a small in-memory table: one per context, so every query that
    prices usage reuses the table the engine already holds instead of registering a copy."""
    def build() -> ir.Table:
        wf = ctx.workflows
        return ibis.memtable(pd.DataFrame({
            C.cloud: wf[C.cloud].astype(str).tolist(),
            C.workflow_id: wf[C.workflow_id].astype(str).tolist(),
            C.kind: [None if k is None else str(k) for k in wf[C.kind].tolist()],
        }), schema={C.cloud: "string", C.workflow_id: "string", C.kind: "string"})
    return ctx.cached("kinds_table", build)


def window_usage(ctx: Context) -> ir.Table:
    """Usage of executions started in the window, with `usd` (one expression per context)."""
    return ctx.cached("window_usage", lambda: pricing.priced_usage(
        ctx.in_window(ctx.table("usage")), kinds_table(ctx), on=ctx.until.date()))


def execution_costs(ctx: Context, workflow_ids: Collection[str] | None = None) -> ir.Table:
    """cloud, workflow_id, execution_id, usd (an expression; one row per execution with usage); `workflow_ids`:
    only those workflows' executions (a finding's detail needs a few workflows' runs, not every run's cost)."""
    u = window_usage(ctx)
    if workflow_ids is not None:
        u = u.filter(u[C.workflow_id].isin(sorted(workflow_ids)))
    return u.group_by([C.cloud, C.workflow_id, C.execution_id]).aggregate(usd=u.usd.sum())


def step_meter_costs(ctx: Context) -> pd.DataFrame:
    """Per workflow, step name and meter over the window: quantity and usd (cloud, workflow_id, step,
    meter, quantity, usd). The one priced read of the window's usage, cached on the context:
    `workflow_costs` and `step_costs` are its sums (usage of a whole execution is under EXECUTION_STEP)."""
    def compute() -> pd.DataFrame:
        # Quantities are summed per (step, meter, region) before they are priced: a price is linear in
        # the quantity, so the dollars are the same, with the price joins on thousands of sums instead
        # of on every usage row (on 20M rows the per-row joins were twice the whole scan).
        # The step's label is made from the sums, not on every row: building a string per usage row
        # (CASE ... coalesce(name, step_key)) cost 0.82 s of CPU on 20M rows, grouping by the columns
        # as they are 0.65 s. Only a usage row without a name needs its step_key (older files).
        u = ctx.in_window(ctx.table("usage"))
        sums = u.group_by(_label_groups(ctx, u)).aggregate(quantity=u[C.quantity].sum())
        step = ibis.coalesce(sums[C.name], sums.key) if "key" in sums.columns else sums[C.name]
        if "whole" in sums.columns:
            step = ibis.ifelse(sums.whole, ibis.literal(EXECUTION_STEP), step)
        sums = sums.mutate(step=step)
        priced = pricing.priced_usage(sums, kinds_table(ctx), on=ctx.until.date())
        return execute(priced.group_by([C.cloud, C.workflow_id, "step", C.meter]).aggregate(
            quantity=priced[C.quantity].sum(), usd=priced.usd.sum()))
    return ctx.cached("step_meter_costs", compute)


def _label_groups(ctx: Context, u: ir.Table) -> list[Any]:
    """What step_meter_costs groups the window's usage by to label each row's step: cloud, workflow, `whole`
    (no step_key: the execution's usage), name, `key` (the step_key of a row without a name), meter, region.
    A column the store's files hold no null in (`Context.never_null`) makes its part constant, so it is left
    out: no row is whole, or none needs its key. The same groups, so the same sums; reading step_key and
    building `key` per row cost 0.20 s of CPU on the 1M bench store, which has neither."""
    never_null = ctx.never_null("usage")
    groups: list[Any] = [C.cloud, C.workflow_id]
    if C.step_key not in never_null:
        groups.append(u[C.step_key].isnull().name("whole"))
    groups.append(C.name)
    if C.name not in never_null:
        groups.append(ibis.ifelse(u[C.name].isnull(), u[C.step_key], ibis.null("string")).name("key"))
    return [*groups, C.meter, C.region]


def _sum_by(df: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame:
    """`df`'s values summed per keys (an empty frame keeps its columns)."""
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype=df[c].dtype) for c in [*keys, *values]})
    return df.groupby(keys, sort=False, dropna=False, as_index=False)[values].sum(min_count=1)


def workflow_costs(ctx: Context) -> pd.DataFrame:
    """Per workflow over the window: usd and quantity per meter (cloud, workflow_id, meter, quantity, usd)."""
    return ctx.cached("workflow_costs", lambda: _sum_by(
        step_meter_costs(ctx), [C.cloud, C.workflow_id, C.meter], ["quantity", "usd"]))


def step_costs(ctx: Context) -> pd.DataFrame:
    """Per workflow and step name over the window: usd, quantity (`usage.name` carries the step's
    name, so no join with steps; usage of a whole execution is under EXECUTION_STEP)."""
    return ctx.cached("step_costs", lambda: _sum_by(
        step_meter_costs(ctx), [C.cloud, C.workflow_id, "step"], ["usd", "quantity"]))


STEP_STATS_COLUMNS = ["type", "visits", "attempts", "retries"]


def step_window_stats(ctx: Context) -> pd.DataFrame:
    """Per workflow, step name and window (`current`: this window, else the previous one): the one
    read of the steps that `step_stats` (cost, retries) and failures.py share, cached on the context.

    Over the rows that stand for the step (`step_rank`: a GCP try's call, not the try; a loop's entries,
    not its iterations): type, visits, attempts, retries (distinct executions and loop membership only
    for the steps a finding names: `_flagged_steps`). Over the visits that do work (no containers, no Fail
    states): f_visits, failures, uncaught, and the first and last failed visit (first_seen, last_seen).
    """
    def compute() -> pd.DataFrame:
        df = _step_window_groups(ctx)
        if "bucket" in df.columns:
            df = _fold_buckets(df)
        return _one_type_per_step(_standing_rows(ctx, _work_only(_by_failure(df))))
    return ctx.cached("step_window_stats", compute)


def failure_bucket_s(ctx: Context) -> int:
    """Seconds of a failure bucket (`Thresholds.failure_bucket_hours`): the failure episodes' scan, the
    wasted runs' split into its buckets and the shared step read's buckets are the same."""
    return int(ctx.thresholds.failure_bucket_hours * 3600)


FOLDED_BUCKETS_MAX = 20_000
"""The shared step read is grouped by failure bucket too (`failure_buckets`) while the window's failure
buckets times the workflows analysed stay within this: its rows grow with steps x buckets (the bench's 1M
store: 50 workflows x 120 buckets, 126k rows). Past it, the failure episodes read their candidates' visits
in a query of their own (`failures._episodes`), as a long window over many workflows should."""


def _buckets_folded(ctx: Context) -> bool:
    first, last = bucket_span(ctx.since, ctx.until, failure_bucket_s(ctx))
    return (last - first + 1) * max(len(ctx.workflows), 1) <= FOLDED_BUCKETS_MAX


def _step_window_groups(ctx: Context) -> pd.DataFrame:
    """The one read of the steps behind `step_window_stats` and `failure_buckets`: visits, attempts,
    retries and the first and last visit per (cloud, workflow, step name, window, type, status). When the
    buckets are folded in (`_buckets_folded`) the window's key is `bucket`, this window's visits' failure
    bucket (null for the previous window's), so the failure episodes need no scan of their own (0.6 s of
    CPU at 1M executions against 0.25-0.35 s more for this read); otherwise it is `current`."""
    def compute() -> pd.DataFrame:
        s = ctx.in_window(ctx.table("steps"), both=True)
        current = s[C.started_at] >= lit_ts(ctx.since)
        if _buckets_folded(ctx):
            window = ibis.ifelse(current, bucket_expr(s, C.started_at, failure_bucket_s(ctx)),
                                 ibis.null("int64")).name("bucket")
        else:
            window = current.name("current")
        # Grouped by type too, not max(type): a string max over every visit cost 0.2 s of CPU at 1M
        # executions, more than one more key; a step whose type changed is folded back below. With the
        # type a key, whether a group's visits do work is the group's: `_work_only` applies it to the
        # sums instead of a filter on every row (0.3 s of CPU at 1M executions). The status likewise:
        # which statuses failed is decided on the groups (`_by_failure`), not by two string tests and
        # two filtered extremes on every visit (0.59 to 0.54 s for this read at 1M executions).
        # A store whose every visit has 1 attempt or more (the Delta log's statistics: `_retries_are_extra`)
        # counts a group's retries as its attempts less its visits: the same whole numbers without a
        # clipped sum over every visit (0.18 s of CPU of this read's 1.4 s on the 1M bench store).
        extra = _retries_are_extra(ctx)
        sums = {"visits": s.count(), "attempts": s[C.attempts].sum()}
        if not extra:
            sums["retries"] = (s[C.attempts] - 1).clip(lower=0).sum()
        df = execute(s.group_by([C.cloud, C.workflow_id, C.name, window, C.type, C.status]).aggregate(
            **sums, first=s[C.started_at].min(), last=s[C.started_at].max()))
        if extra:
            df.insert(df.columns.get_loc("attempts") + 1, "retries", df["attempts"] - df["visits"])
        return df
    return ctx.cached("step_window_groups", compute)


def _this_window(df: pd.DataFrame) -> pd.Series:
    """Which rows of `_step_window_groups`' read are this window's, not the previous one's: those with a failure
    bucket when the buckets are folded in, else those it marks `current`."""
    return df["bucket"].notna() if "bucket" in df.columns else df["current"].astype(bool)


def _retries_are_extra(ctx: Context) -> bool:
    """Whether no visit of the store's steps has a null or fewer than 1 attempt (`Context.least`, from the
    Delta log's statistics): then a visit's retries, max(attempts - 1, 0), are its attempts less one."""
    least = ctx.least("steps", C.attempts)
    return least is not None and least >= 1


def _fold_buckets(df: pd.DataFrame) -> pd.DataFrame:
    """`_step_window_groups`' rows per failure bucket summed per window (`current`): what the read grouped
    by the window alone returns. A sum is null only where every bucket's is (a sum of nulls), and whole
    counts stay int64 where no sum is null, as the engine's own aggregate returns them."""
    df = df.assign(current=_this_window(df)).drop(columns="bucket")
    grouped = df.groupby(_GROUP_KEYS, sort=False, dropna=False)
    sums = grouped[["visits", "attempts", "retries"]].sum(min_count=1)
    out = pd.concat([sums, grouped["first"].min(), grouped["last"].max()], axis=1).reset_index()
    for col in ("visits", "attempts", "retries"):
        if not out[col].isna().any():
            out[col] = out[col].astype("int64")
    return out


def failure_buckets(ctx: Context, steps: pd.DataFrame) -> pd.DataFrame | None:
    """Per step of `steps` (cloud, workflow_id, name; a null key matches none) and failure bucket of this
    window (`bucket_index` numbers): the visits that do work (no containers, no Fail states, a type) and
    their failures, from the shared step read; None when that read is not grouped by bucket
    (`_buckets_folded`). The steps are picked first: 126k bucket rows filtered and summed whole cost
    0.09 s at 1M executions, the 50 candidates' 6,000 first 0.025 s."""
    df = _step_window_groups(ctx)
    if "bucket" not in df.columns:
        return None
    keys = [C.cloud, C.workflow_id, C.name]
    df = df.merge(steps[keys].dropna().drop_duplicates(), on=keys)
    work = df[_this_window(df) & ~_idle(df)]
    work = work.assign(failures=work["visits"].where(work[C.status].isin(FAILED_VALUES), 0))
    out = work.groupby([*keys, "bucket"], sort=False)[["visits", "failures"]].sum().reset_index()
    out["bucket"] = bucket_index(out["bucket"], failure_bucket_s(ctx))
    return out


_STATS_KEYS = [C.cloud, C.workflow_id, C.name, "current", C.type]
_GROUP_KEYS = [*_STATS_KEYS, C.status]     # the shared step read's keys, its window read as `current`


def _by_failure(df: pd.DataFrame) -> pd.DataFrame:
    """`step_window_stats`' groups per status folded into one per (step, window, type): visits, attempts,
    retries; failures and uncaught (the visits of the failed and uncaught statuses, `measures`), and the
    first and last failed visit (null without one)."""
    failed = df[C.status].isin(FAILED_VALUES)
    df = df.assign(failures=df["visits"].where(failed, 0),
                   uncaught=df["visits"].where(df[C.status].isin(UNCAUGHT_FAILED_VALUES), 0),
                   first_seen=df["first"].where(failed), last_seen=df["last"].where(failed))
    grouped = df.groupby(_STATS_KEYS, sort=False, dropna=False)
    return grouped.agg(visits=("visits", "sum"), attempts=("attempts", "sum"), retries=("retries", "sum"),
                       failures=("failures", "sum"), uncaught=("uncaught", "sum"),
                       first_seen=("first_seen", "min"), last_seen=("last_seen", "max")).reset_index()


_WORK_ONLY = ["failures", "uncaught", "first_seen", "last_seen"]


def _idle(df: pd.DataFrame) -> pd.Series:
    """The groups of the shared step read whose visits do no work: a type that does none (a container, a
    Fail state) or no type. One rule for `_work_only` and `failure_buckets`."""
    return df[C.type].isna() | df[C.type].isin(NOT_WORK)


def _work_only(df: pd.DataFrame) -> pd.DataFrame:
    """`f_visits` and the failure columns over the visits that do work: a group whose type does none
    (or has no type) counts no visit and has no failure sums or dates (nulls, as a filtered aggregate
    over no rows gives)."""
    idle = _idle(df)
    df.insert(df.columns.get_loc("failures"), "f_visits", df["visits"].where(~idle, 0))
    if idle.any():
        for col in _WORK_ONLY:
            df[col] = df[col].where(~idle)
    return df


_WINDOW_STATS_FOLD = {C.type: "max", "visits": "sum", "attempts": "sum", "retries": "sum",
                      "f_visits": "sum", "failures": "sum", "uncaught": "sum", "first_seen": "min",
                      "last_seen": "max"}


def _standing_rows(ctx: Context, df: pd.DataFrame) -> pd.DataFrame:
    """Per step name and window, the groups of the rows that stand for the step (`step_rank`): a GCP try
    around a call counts the call's visits and tries (the try's one attempt beside them halved the cost
    per attempt and a retry storm's amplification), an Azure or GCP loop its entries, not its iterations
    (36 "visits" per run for a loop entered once). Only containers are ranked apart, by a read of the
    container rows alone (`_container_ranks`): the rank as a key of the shared read cost 0.3-0.5 s of
    CPU at 1M executions, the container rows' own read 0.02 s. Containers do no work, so no failure goes."""
    boxed = df[C.type].isin(CONTAINER_TYPES)
    if not boxed.any():
        return df
    ranked = _container_ranks(ctx)
    for col in df.columns:
        if col not in ranked.columns:
            ranked[col] = df[col].iloc[:0].reindex(ranked.index)   # nulls of the column's type (failures, dates)
    ranked["f_visits"] = 0
    rows = pd.concat([df[~boxed].assign(**{step_rank.RANK: step_rank.WORK}), ranked[[*df.columns, step_rank.RANK]]],
                     ignore_index=True)
    return step_rank.lowest_rank(rows, [C.cloud, C.workflow_id, C.name, "current"])


def _container_ranks(ctx: Context) -> pd.DataFrame:
    """`step_window_stats`' sums over the container rows only, by rank (`step_rank.rank`)."""
    s = ctx.in_window(ctx.table("steps"), both=True)
    s = s.filter(s[C.type].isin(list(CONTAINER_TYPES)))
    current = (s[C.started_at] >= lit_ts(ctx.since)).name("current")
    return execute(s.group_by([C.cloud, C.workflow_id, C.name, current, C.type, step_rank.rank(s)]).aggregate(
        visits=s.count(), attempts=s[C.attempts].sum(),
        retries=(s[C.attempts] - 1).clip(lower=0).sum()))


def _one_type_per_step(df: pd.DataFrame) -> pd.DataFrame:
    """`step_window_stats` rows per (workflow, step name, window, type) as one row per step and window:
    a step whose type changed between definitions keeps the greatest type (what max(type) said) and
    the sums, extremes and flags of all its visits. The engine's nulls stay null (a sum of nothing)."""
    keys = [C.cloud, C.workflow_id, C.name, "current"]
    if df.empty or not df.duplicated(keys).any():
        return df
    grouped = df.groupby(keys, sort=False, dropna=False)
    folded = {col: (grouped[col].sum(min_count=1) if how == "sum" else grouped[col].agg(how))
              for col, how in _WINDOW_STATS_FOLD.items()}
    return pd.DataFrame(folded).reset_index()[list(df.columns)]


def step_stats(ctx: Context) -> pd.DataFrame:
    """Per workflow and step name in the window: type, visits, attempts, retries."""
    def compute() -> pd.DataFrame:
        df = step_window_stats(ctx)
        return df.loc[df["current"].astype(bool), [C.cloud, C.workflow_id, C.name, *STEP_STATS_COLUMNS]] \
            .reset_index(drop=True)
    return ctx.cached("step_stats", compute)


def workflow_executions(ctx: Context) -> pd.DataFrame:
    """Per workflow in the window: executions, terminal executions, duration quantiles, Express GB-s."""
    def compute() -> pd.DataFrame:
        a = ctx.window_runs()
        runs = workflow_durations(ctx)
        b = runs[runs["current"]].rename(columns={"n": "done", "p50": "p50_ms", "p95": "p95_ms", "p99": "p99_ms"})
        b = b[[C.cloud, C.workflow_id, "done", "max_ms", "redriven", "gb_seconds", "p50_ms", "p95_ms", "p99_ms"]]
        return a.merge(b.reset_index(drop=True), on=[C.cloud, C.workflow_id], how="left")
    return ctx.cached("workflow_executions", compute)


def workflow_durations(ctx: Context) -> pd.DataFrame:
    """Per workflow and window (`current`: this one, else the previous one), over its timed runs (ended,
    duration at least 0, never redriven: `measures.TIMED_RUN`): n, p50, p95, p99 and gb_seconds (Express
    GB-seconds at the billed memory, else `express_memory_mb`); max_ms over every finished run, a redriven
    one's span too (no run Express's 5-minute limit would stop goes unseen), and `redriven`, the finished runs
    that were redriven (Express cannot redrive a run: `express_candidates`). The one read of run durations,
    cached on the context: `latency_drift` compares the two windows, `workflow_executions` takes this
    one's (they were two reads of the executions, 0.1 s of CPU at 1M)."""
    def compute() -> pd.DataFrame:
        e = ctx.in_window(ctx.table("executions"), both=True)
        e = e.filter(e[C.duration_ms].notnull() & (e[C.duration_ms] >= 0) & e[C.ended_at].notnull())
        current = (e[C.started_at] >= lit_ts(ctx.since)).name("current")
        d = e[C.duration_ms].cast("float64")
        timed = timed_run(e)
        mem = ibis.coalesce(e[C.billed_memory_mb].cast("float64"),
                            ibis.literal(float(ctx.thresholds.express_memory_mb)))
        df = execute(split_quantiles(e.group_by([C.cloud, C.workflow_id, current]).aggregate(
            n=timed.cast("int64").sum(),
            **{QUANTILES: quantiles(ibis.ifelse(timed, d, ibis.null("float64")), [0.5, 0.95, 0.99])},
            max_ms=d.max(), redriven=(~timed).cast("int64").sum(),
            gb_seconds=pricing.express_billed_units_expr(d, mem).sum(where=timed)), ["p50", "p95", "p99"]))
        df["gb_seconds"] = df["gb_seconds"].astype("float64") * pricing.EXPRESS_GB_SECONDS_PER_UNIT
        return measures.settle_floats(df)
    return ctx.cached("workflow_durations", compute)


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


def _may_poll(ctx: Context) -> bool:
    """Whether the window's Wait steps have as many visits as one polling execution needs
    (`polling_min_visits` of one Wait), from the shared read of the steps (`_step_window_groups`), which
    the analysis makes anyway: a window without is not searched for loops (the search was a query of its own,
    0.04 s of CPU on the 1M dashboard store's 7 days, which has no Wait step)."""
    g = _step_window_groups(ctx)
    waits = g.loc[_this_window(g) & (g[C.type] == str(StepType.WAIT)).fillna(False), "visits"]
    return int(waits.sum()) >= ctx.thresholds.polling_min_visits


# ---------------------------------------------------------------- evidence: edges and retries' share

TOP_EDGES = 5


def edge_costs(ctx: Context, workflows: list[tuple[str, str]],
               into: Collection[str] | None = None) -> pd.DataFrame:
    """Transitions and dollars per edge (source step name -> step name) of the given workflows; `into`: only
    the edges into steps of these names (None: every edge), what the findings describe (`add_edges`).

    A visit's source is `transitions.with_sources`' (its previous step in the same branch, else its
    container); the first step of an execution comes from `transitions.START_EDGE`. Dollars are the usage of the
    step's visits entered through the edge (retries included; a container's own work, such as the call
    a GCP try wraps, counts on the container's visit, `transitions.own_work`). The self-join of steps
    only covers these workflows.
    Each usage row is joined to its visit's edge and summed per edge, and the visits are counted per edge apart
    (session 46): a sum of the usage per visit first was a group-by as large as the join (a visit has one usage
    row or few): 0.53-0.69 s CPU against 0.65-0.80 s on the 30k demo.
    Returns cloud, workflow_id, from, to, transitions, usd.
    """
    cols = [C.cloud, C.workflow_id, "from", "to", "transitions", "usd"]
    if not workflows:
        return pd.DataFrame(columns=cols)
    ids = sorted({w for _, w in workflows})
    clouds = sorted({c for c, _ in workflows})
    steps = ctx.in_window(ctx.table("steps"))
    steps = steps.filter(steps[C.workflow_id].isin(ids) & steps[C.cloud].isin(clouds))
    v = transitions.visits(steps, into)
    s = v.filter(v[transitions.CONTAINER].isnull())
    s = s.mutate(src_name=ibis.coalesce(s[transitions.SOURCE], ibis.literal(transitions.START_EDGE)))
    edge = [C.cloud, C.workflow_id, "src_name", C.name]
    own = v.filter(v[transitions.CONTAINER].notnull())
    own = own.select(_o_cloud=C.cloud, _o_exec=C.execution_id, _o_key=C.step_key, _o_box=transitions.CONTAINER)
    u = window_usage(ctx)
    u = u.filter(u[C.workflow_id].isin(ids) & u[C.cloud].isin(clouds) & u[C.step_key].notnull())
    u = u.left_join(own, (u[C.cloud] == own._o_cloud) & (u[C.execution_id] == own._o_exec)
                    & (u[C.step_key] == own._o_key))
    # `.view()`: the joins below start new join chains (each side is a projection of a join already)
    u = u.select(u_cloud=C.cloud, u_exec=C.execution_id, u_key=ibis.coalesce(u._o_box, u[C.step_key]),
                 u_usd="usd").view()
    e = s.select(C.execution_id, C.step_key, *edge).view()
    j = u.inner_join(e, (e[C.cloud] == u.u_cloud) & (e[C.execution_id] == u.u_exec) & (e[C.step_key] == u.u_key))
    d = j.group_by(edge).aggregate(usd=j.u_usd.sum())
    d = d.select(d_cloud=C.cloud, d_wf=C.workflow_id, d_src="src_name", d_name=C.name, d_usd="usd").view()
    t = s.group_by(edge).aggregate(transitions=s.count())
    r = t.left_join(d, (t[C.cloud] == d.d_cloud) & (t[C.workflow_id] == d.d_wf) & (t.src_name == d.d_src)
                    & (t[C.name] == d.d_name))
    df = execute(r.select(*edge, "transitions", usd=r.d_usd))
    df = df.rename(columns={"src_name": "from", C.name: "to"})
    df["usd"] = df["usd"].fillna(0.0).astype(float)
    return df[cols]


def add_edges(ctx: Context, findings: list[Finding]) -> None:
    """`evidence["edges"]`: the top edges into the flagged step (costly_step) or the loop's cycle
    (polling_loop), as {from, to, transitions, monthly_usd}, most expensive first."""
    if not findings:
        return
    into = {id(f): set(f.evidence.get("cycle") or []) or {f.step} for f in findings}
    # only the edges into the findings' steps are read: their visits, not all the workflows' (session 48: on
    # the 30k demo the targets hold 90% of the visits, add_edges 0.61 to 0.55 s of CPU)
    edges = edge_costs(ctx, [(f.cloud, f.workflow_id) for f in findings if f.workflow_id is not None],
                       into={n for names in into.values() for n in names if n is not None})
    by_wf = {k: g for k, g in edges.groupby([C.cloud, C.workflow_id])} if not edges.empty else {}
    factor = ctx.monthly_factor
    for f in findings:
        g = by_wf.get((f.cloud, f.workflow_id))
        targets = into[id(f)]
        if g is None:
            f.evidence["edges"] = []
            continue
        g = g[g["to"].isin(targets)].sort_values(["usd", "transitions", "from", "to"],
                                                 ascending=[False, False, True, True]).head(TOP_EDGES)
        f.evidence["edges"] = [{"from": r["from"], "to": r["to"], "transitions": int(r["transitions"]),
                                "monthly_usd": float(r["usd"]) * factor} for r in g.to_dict("records")]


def retry_shares(ctx: Context) -> dict[tuple[str, str], dict]:
    """Per workflow: billable units spent on retries (attempts beyond the first x the cloud's units
    per attempt, `pricing.retry_units_per_attempt`, by the step's meters), their share of the
    workflow's per-operation billable units (none of the units `pricing.free_per_unit` for its kind:
    a Logic Apps Standard workflow's retried built-in actions read as "retries are 15% of its
    billable units" when no unit of theirs is billed), and their dollars (each step's retries at its
    own price per attempt)."""
    def compute() -> dict[tuple[str, str], dict]:
        stats = step_stats(ctx)
        if stats.empty:
            return {}
        smc = step_meter_costs(ctx)
        operations = {str(m) for m in pricing.OPERATION_METERS}
        units: dict[tuple[str, str], float] = {}
        for m in smc.itertuples(index=False):
            key = (m.cloud, m.workflow_id)
            if m.meter in operations and not pricing.free_per_unit(m.meter, ctx.workflow_kind(*key)):
                units[key] = units.get(key, 0.0) + float(m.quantity or 0)
        sc = step_costs(ctx)
        usd = {(r.cloud, r.workflow_id, r.step): r.usd for r in sc.itertuples(index=False)}
        out: dict[tuple[str, str], dict] = {}
        for r in stats.itertuples(index=False):
            key = (r.cloud, r.workflow_id)
            retries = float(r.retries or 0)
            per = billable_retries(ctx, r.cloud, r.workflow_id, getattr(r, C.name), 1.0)
            entry = out.setdefault(key, {"retry_units": 0.0, "retry_usd": 0.0})
            entry["retry_units"] += retries * per
            attempts = float(r.attempts or 0)
            if retries and attempts and per:
                entry["retry_usd"] += retries * usd.get((r.cloud, r.workflow_id, getattr(r, C.name)), 0.0) / attempts
        for key, entry in out.items():
            total = float(units.get(key, 0.0))
            entry["billable_units"] = total
            entry["share"] = min(entry["retry_units"] / total, 1.0) if total > 0 else 0.0
        return out
    return ctx.cached("retry_shares", compute)


def _units_per_retry(kind: str | None, cloud: str, meters: AbstractSet[str] | None) -> float:
    """Billable units one retry of a step adds (`pricing.retry_units_per_attempt`), by the meters its usage
    is billed on when it has usage (the dearest), else by its workflow's kind."""
    if meters:
        return max(pricing.retry_units_per_attempt(kind, cloud, m) for m in meters)
    return pricing.retry_units_per_attempt(kind, cloud)


def retry_units_per_step(ctx: Context) -> dict[tuple[str, str, str], float]:
    """Per (cloud, workflow_id, step name) with usage in the window: billable units one retry adds
    (`_units_per_retry`); a step without usage is missing (its workflow's kind decides)."""
    def compute() -> dict[tuple[str, str, str], float]:
        meters: dict[tuple[str, str, str], set[str]] = {}
        for m in step_meter_costs(ctx).itertuples(index=False):
            meters.setdefault((m.cloud, m.workflow_id, m.step), set()).add(m.meter)
        return {key: _units_per_retry(ctx.workflow_kind(key[0], key[1]), key[0], ms) for key, ms in meters.items()}
    return ctx.cached("retry_units_per_step", compute)


def billable_retries(ctx: Context, cloud: str, workflow_id: str, step: str, retries: float) -> float:
    """The billable units `retries` retries of a step added: none for an Express workflow's or a Logic Apps
    Standard workflow's built-in action's, one each for a Standard state machine's (a state transition)."""
    per = retry_units_per_step(ctx).get((cloud, workflow_id, step))
    if per is None:
        per = _units_per_retry(ctx.workflow_kind(cloud, workflow_id), cloud, None)
    return retries * per


def add_retry_share(ctx: Context, findings: list[Finding]) -> None:
    """`evidence["retry_share"]` (and the units and dollars behind it) on each finding's workflow;
    the title says so when retries are at least `retry_share_title_min` of the billable units."""
    if not findings:
        return
    shares = retry_shares(ctx)
    for f in findings:
        entry = shares.get((f.cloud, f.workflow_id)) if f.workflow_id is not None else None
        if entry is None or "retry_share" in f.evidence:
            continue
        f.evidence["retry_share"] = entry["share"]
        f.evidence["retry_units"] = entry["retry_units"]
        f.evidence["retry_monthly_usd"] = entry["retry_usd"] * ctx.monthly_factor
        if entry["share"] >= ctx.thresholds.retry_share_title_min and entry["retry_units"] > 0:
            f.title += f"; retries are {entry['share']:.0%} of its billable units"


def costly_steps(ctx: Context, exclude: AbstractSet[tuple] = frozenset()) -> list[Finding]:
    th = ctx.thresholds
    sc = step_costs(ctx)
    if sc.empty:
        return []
    wf_total = sc.groupby([C.cloud, C.workflow_id])["usd"].sum().rename("wf_usd").reset_index()
    stats = step_stats(ctx).rename(columns={C.name: "step"})
    wfe = workflow_executions(ctx)[[C.cloud, C.workflow_id, "executions"]].rename(
        columns={"executions": "wf_executions"})
    df = sc.merge(wf_total, on=[C.cloud, C.workflow_id]).merge(stats, on=[C.cloud, C.workflow_id, "step"],
                                                              how="left")
    df = df.merge(wfe, on=[C.cloud, C.workflow_id], how="left")
    df = df[df["wf_usd"] > 0]
    df["share"] = df["usd"] / df["wf_usd"]
    df["visits_per_execution"] = df["visits"] / df["wf_executions"].clip(lower=1)
    df["monthly"] = df["usd"] * ctx.monthly_factor
    hits = df[(df["share"] >= th.costly_step_share)
              & (df["visits_per_execution"] >= th.costly_step_min_visits_per_execution)
              & (df["monthly"] >= th.costly_step_min_monthly_usd)
              & (df["step"] != EXECUTION_STEP)]
    hits = hits.merge(_flagged_steps(ctx, hits[[C.cloud, C.workflow_id, "step"]]),
                      on=[C.cloud, C.workflow_id, "step"], how="left")
    out = []
    for r in hits.itertuples(index=False):
        key = (r.cloud, r.workflow_id, r.step)
        if key in exclude:
            continue
        kind = ctx.workflow_kind(r.cloud, r.workflow_id)
        loop = bool(r.in_loop)
        rec = _costly_recommendation(r.cloud, kind, loop)
        sev = (Severity.HIGH if r.monthly >= 1000 or (r.share >= 0.8 and r.monthly >= 100)
               else Severity.LOW if r.monthly < 10 else Severity.MEDIUM)
        out.append(Finding(
            kind=FindingKind.COSTLY_STEP, severity=sev, cloud=r.cloud,
            workflow=ctx.workflow_name(r.cloud, r.workflow_id), workflow_id=r.workflow_id, step=r.step,
            window_start=ctx.since, window_end=ctx.until,
            title=(f"{r.step} is {r.share:.0%} of {ctx.workflow_name(r.cloud, r.workflow_id)}'s cost "
                   f"({r.visits_per_execution:.1f} visits per execution, {fmt_usd(r.monthly)}/month)"),
            evidence={"step_usd": r.usd, "workflow_usd": r.wf_usd, "share": r.share, "visits": r.visits,
                      "executions": r.wf_executions, "visits_per_execution": r.visits_per_execution,
                      "billable_units": r.quantity, "in_loop": loop, "window_days": ctx.window_days,
                      "measured_days": ctx.measured_days},
            recommendation=rec, monthly_usd=r.monthly, executions_affected=int(r.executions or 0),
            sample_execution_ids=list(r.samples) if isinstance(r.samples, list) else [],
        ))
    return out


def _flagged_steps(ctx: Context, steps: pd.DataFrame) -> pd.DataFrame:
    """For the given steps (cloud, workflow_id, step) in the window: distinct executions, counted exactly,
    as the dashboard's and reports' costly-steps table counts them (a HyperLogLog estimate there read
    1,266 executions of a step 1,231 ran), the runs that visit it most (`samples`, to open one), and
    whether the step runs in a loop (`in_loop`). For the flagged steps only: a distinct count over every
    visit of the window costs more than the rest of the stats, and loop membership needs the step's
    ancestors (`_in_loop`)."""
    keys = [C.cloud, C.workflow_id, "step"]
    if steps.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in keys}
                            | {"executions": pd.Series(dtype="int64"), "samples": pd.Series(dtype="object"),
                               "in_loop": pd.Series(dtype="bool")})
    flagged = ibis.memtable(steps[keys].drop_duplicates().astype(str).rename(
        columns={C.cloud: "f_cloud", C.workflow_id: "f_wf", "step": "f_name"}))
    s = ctx.in_window(ctx.table("steps"))
    s = s.semi_join(flagged, (s[C.cloud] == flagged.f_cloud) & (s[C.workflow_id] == flagged.f_wf)
                    & (s[C.name] == flagged.f_name))
    runs = s.group_by([C.cloud, C.workflow_id, C.name, C.execution_id]).aggregate(
        visits=s.count(), last=s[C.started_at].max(),
        **{C.start_date: s[C.start_date].max(), C.parent_step_key: s[C.parent_step_key].argmax(s[C.started_at])})
    # The samples in the same query: each run's rank by visits (as `sample_ids` picks).
    runs = sample_rank(runs, [C.cloud, C.workflow_id, C.name], order_by="visits", name="rank")
    latest = ibis.struct({C.execution_id: runs[C.execution_id], C.start_date: runs[C.start_date],
                          C.parent_step_key: runs[C.parent_step_key]})
    df = execute(runs.group_by([C.cloud, C.workflow_id, C.name]).aggregate(
        executions=runs.count(), latest=latest.argmax(runs["last"]),
        samples=ibis.struct({"rank": runs["rank"], "id": runs[C.execution_id]}).collect(
            where=runs["rank"] < SAMPLES))).rename(columns={C.name: "step"})
    df["samples"] = [[v["id"] for v in sorted(picked, key=lambda v: v["rank"])] if isinstance(picked, list) else []
                     for picked in df["samples"]]
    df["in_loop"] = _in_loop(ctx, df)
    return df.drop(columns="latest")


_MAX_NESTING = 64
"""Ancestors followed at most (a guard against a cycle in bad data; definitions nest a few levels)."""


def _in_loop(ctx: Context, flagged: pd.DataFrame) -> list[bool]:
    """Per row of `_flagged_steps`: whether its latest visit has a loop (`LOOP_TYPES`) among its
    ancestors. A row's `iteration` says it runs in *some* branch or item, which a Parallel's branches
    share with a Map's items, so the containers are read: those of the latest visits' executions only
    (a few executions, found by their partition and id), walked up from each visit's parent."""
    latest = [v if isinstance(v, dict) else {} for v in flagged["latest"]]
    placed = [(cloud, v[C.execution_id]) for cloud, v in zip(flagged[C.cloud], latest, strict=True)
              if v.get(C.parent_step_key) is not None]
    if not placed:
        return [False] * len(flagged)
    s = ctx.table("steps")
    s = s.filter(s[C.cloud].isin(sorted({c for c, _ in placed}))
                 & s[C.start_date].isin(sorted({v[C.start_date] for v in latest if v.get(C.parent_step_key)}))
                 & s[C.execution_id].isin(sorted({e for _, e in placed}))
                 & s[C.type].isin(CONTAINER_TYPES))
    rows = execute(s.select(C.cloud, C.execution_id, C.step_key, C.parent_step_key, C.type))
    containers = {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows.itertuples(index=False)}
    out = []
    for cloud, v in zip(flagged[C.cloud], latest, strict=True):
        key, looped = v.get(C.parent_step_key), False
        for _ in range(_MAX_NESTING):
            found = containers.get((cloud, v.get(C.execution_id), key)) if key is not None else None
            if found is None:
                break
            key, kind = found
            if kind in LOOP_TYPES:
                looped = True
                break
        out.append(looped)
    return out


def _costly_recommendation(cloud: str, kind: str | None, loop: bool) -> str:
    if cloud == Cloud.AZURE:
        return ("Per-item connector actions inside a For_each are billed once per item: batch the items "
                "(one connector call with an array, e.g. a bulk/batch API or a stored procedure), move the "
                "per-item work into a single Azure Function or an inline Compose/Select (built-in, cheaper), "
                "or run the workflow on a Logic Apps Standard plan where built-in operations are not billed "
                "per execution." if loop else
                "Replace the managed connector action with a built-in operation (HTTP, Compose, Functions) "
                "where one exists, or cut how often it runs.")
    if cloud == Cloud.AWS:
        if kind == Kind.SFN_STANDARD:
            return ("Each Map iteration's states are billed as state transitions: move the per-item work "
                    "into an Express child workflow (Map with ExecutionType EXPRESS / a nested "
                    "StartExecution.sync of an Express machine), or batch items (ItemBatcher in a "
                    "Distributed Map) so one Task handles many items." if loop else
                    "Fold chains of Pass/Choice states into one Task (or use JSONata/intrinsic functions) "
                    "to cut state transitions, or nest the hot part as an Express workflow.")
        return "Batch the items the step handles (ItemBatcher) and trim per-item states."
    return ("Each iteration's steps are billed: batch the items into one call, move the loop body into a "
            "Cloud Run / Cloud Function that handles the whole list, or use a parallel for with fewer, "
            "larger branches; prefer internal (*.googleapis.com, *.run.app) endpoints over external ones "
            "(external steps cost 2.5x)." if loop else
            "Merge consecutive assign steps and reduce external HTTP calls; external steps cost 2.5x "
            "internal ones.")


def polling_loops(ctx: Context) -> list[Finding]:
    th = ctx.thresholds
    if not _may_poll(ctx):
        return []
    s = ctx.in_window(ctx.table("steps"))
    # A polling loop has a Wait visited again and again in one execution: find those executions
    # first (few rows), then count every step's visits in them only.
    w = s.filter(s[C.type] == str(StepType.WAIT))
    w = w.group_by([C.cloud, C.execution_id, C.name]).aggregate(n=w.count())
    w = w.filter(w.n >= th.polling_min_visits).select(C.cloud, C.execution_id).distinct()
    s = s.semi_join(w, [s[C.cloud] == w[C.cloud], s[C.execution_id] == w[C.execution_id]])
    # the loop's steps are its work: containers are not in its cycle, and a GCP try named like its call
    # (`step_rank`) would count each poll twice against the step's work-only total
    s = s.filter(s[C.type].isnull() | ~s[C.type].isin(list(CONTAINER_TYPES)))
    per_exec = s.group_by([C.cloud, C.workflow_id, C.execution_id, C.name]).aggregate(
        visits=s.count(), type=s[C.type].max(), first=s[C.started_at].min())
    heavy = per_exec.filter(per_exec.visits >= th.polling_min_visits)
    # the samples (the runs that wait most) in the same query: each run's Wait rows ranked per workflow
    heavy = heavy.mutate(_wait=(heavy.type == str(StepType.WAIT)).fill_null(False))
    heavy = sample_rank(heavy, [C.cloud, C.workflow_id, "_wait"], order_by="visits", name="_rank")
    agg = execute(heavy.group_by([C.cloud, C.workflow_id, C.name]).aggregate(
        type=heavy.type.max(), executions=heavy.count(), visits=heavy.visits.sum(),
        max_visits=heavy.visits.max(), picks=sample_rows(heavy, "_rank", where=heavy["_wait"])))
    if agg.empty:
        return []
    samples = picked_by(agg, [C.cloud, C.workflow_id], "picks")
    agg = agg.drop(columns="picks")
    sc = step_costs(ctx)
    costs = {(r.cloud, r.workflow_id, r.step): r.usd for r in sc.itertuples(index=False)}
    stats = step_stats(ctx)
    visits_total = {(r.cloud, r.workflow_id, getattr(r, C.name)): r.visits for r in stats.itertuples(index=False)}
    out = []
    for (cloud, wf_id), g in agg.groupby([C.cloud, C.workflow_id]):
        g = g[g["executions"] >= th.polling_min_executions]
        wait_rows = g[g["type"] == str(StepType.WAIT)]
        if wait_rows.empty:
            continue
        cycle = g[~g["type"].isin(CONTAINER_TYPES)]
        tasks = cycle[cycle["type"] == str(StepType.TASK)]
        poll = (tasks if not tasks.empty else cycle[cycle["type"] != str(StepType.WAIT)])
        poll = poll if not poll.empty else wait_rows
        poll_step = poll.sort_values(["visits", C.name], ascending=[False, True]).iloc[0]
        names = sorted(cycle[C.name].tolist())
        execs = int(wait_rows["executions"].max())
        usd = sum(costs.get((cloud, wf_id, n), 0.0) * (cycle.loc[cycle[C.name] == n, "visits"].iloc[0]
                                                       / max(visits_total.get((cloud, wf_id, n), 1), 1))
                  for n in names)
        monthly = usd * ctx.monthly_factor
        kind = ctx.workflow_kind(cloud, wf_id)
        avg = float(poll_step["visits"]) / max(int(poll_step["executions"]), 1)
        wf_name = ctx.workflow_name(cloud, wf_id)
        out.append(Finding(
            kind=FindingKind.POLLING_LOOP,
            severity=money_severity(monthly),
            cloud=cloud, workflow=wf_name, workflow_id=wf_id, step=str(poll_step[C.name]),
            window_start=ctx.since, window_end=ctx.until,
            title=(f"Polling loop in {wf_name}: {poll_step[C.name]} runs {avg:.0f} times per execution "
                   f"with {', '.join(wait_rows[C.name])} in the cycle"),
            evidence={"cycle": names, "wait_steps": sorted(wait_rows[C.name].tolist()),
                      "executions_polling": execs, "avg_polls_per_execution": avg,
                      "max_polls_per_execution": int(poll_step["max_visits"]), "loop_usd": usd,
                      "window_days": ctx.window_days,
                      "measured_days": ctx.measured_days},
            recommendation=_polling_recommendation(cloud, kind),
            monthly_usd=monthly, executions_affected=execs,
            sample_execution_ids=samples.get((cloud, wf_id), []),
        ))
    return out


def money_severity(monthly_usd: float) -> Severity:
    """The severity of a finding that is about money alone, by its dollars a month: high from $100, medium
    from $10, low below, the bands `costly_step` uses, for every saving kind alike. A polling loop was medium
    whatever it cost (one of $0.07 a month ranked above a $0.55 costly step), while an Express or plan
    saving of $50 was low: the same dollars ranked by the kind that found them."""
    return Severity.HIGH if monthly_usd >= 100 else Severity.MEDIUM if monthly_usd >= 10 else Severity.LOW


def _lower(severity: Severity) -> Severity:
    """One band below (low stays low): a saving that rests on an assumed plan fee, which no spend holds."""
    return {Severity.HIGH: Severity.MEDIUM, Severity.MEDIUM: Severity.LOW}.get(severity, severity)


def _polling_recommendation(cloud: str, kind: str | None) -> str:
    """What to do about a polling loop, by cloud and kind. An Express state machine can neither wait for a
    task token nor run a .sync integration, and pays per request and duration, not per transition: it was
    told to use .waitForTaskToken because each turn "costs state transitions"."""
    if cloud == Cloud.AWS and kind == Kind.SFN_EXPRESS:
        return ("Express workflows support neither .waitForTaskToken nor .sync, and every second of the Wait -> "
                "check -> Choice loop is billed duration (GB-seconds) and counts toward Express's 5-minute limit: "
                "let a Standard workflow wait for the result with a callback (.waitForTaskToken) or a .sync "
                "integration and start this Express workflow for the work that follows, or poll less often "
                "(a longer Wait with backoff).")
    if cloud == Cloud.AWS:
        return ("Replace the Wait -> check -> Choice polling loop with a callback: call the service with "
                "the .waitForTaskToken integration pattern (pass $$.Task.Token, the worker calls "
                "SendTaskSuccess/SendTaskFailure, set HeartbeatSeconds/TimeoutSeconds), or a .sync "
                "integration where the service has one. Each loop turn costs state transitions.")
    if cloud == Cloud.AZURE:
        return ("Replace the Until + Delay + HTTP polling loop with the HTTP Webhook action (or an "
                "HTTP action using the asynchronous 202 + Location pattern, which the engine polls "
                "without billed actions); each loop iteration bills every action inside it.")
    return ("Replace the sys.sleep + http.get polling loop with a callback: "
            "events.create_callback_endpoint then events.await_callback (with a timeout), or a "
            "connector that waits for the long-running operation; each poll and sleep is a billed step.")


def express_candidates(ctx: Context) -> list[Finding]:
    th = ctx.thresholds
    wfe = workflow_executions(ctx)
    if wfe.empty:
        return []
    std_ids = [w for (c, w) in zip(ctx.workflows[C.cloud], ctx.workflows[C.workflow_id], strict=True)
               if c == Cloud.AWS and ctx.workflow_kind(c, w) == Kind.SFN_STANDARD]
    if not std_ids:
        return []
    wc = workflow_costs(ctx)
    wfs = ctx.workflows
    regions = {str(w): (str(r) if isinstance(r, str) and r else None)
               for c, w, r in zip(wfs[C.cloud], wfs[C.workflow_id], wfs[C.region], strict=True) if c == Cloud.AWS}
    # The workflows the window's runs and costs make candidates first; what only their steps, definitions and
    # running runs can rule out (`_express_blocked`, `_longest_running_ms`) is read for those alone, and not at
    # all when there are none (three queries of the 1M dashboard store's 7-day analysis, for no finding).
    found = []
    for r in wfe[(wfe[C.cloud] == str(Cloud.AWS)) & wfe[C.workflow_id].isin(std_ids)].itertuples(index=False):
        if pd.isna(r.max_ms) or not r.done:
            continue
        if r.max_ms > th.express_max_duration_ms:
            continue        # Express stops a run at 5 minutes: one longer run in the window is one it would fail
        if r.redriven:
            continue        # RedriveExecution "is not supported by EXPRESS state machines" [AWS API reference]
        mine = wc[(wc[C.cloud] == r.cloud) & (wc[C.workflow_id] == r.workflow_id)]
        transitions = float(mine.loc[mine[C.meter] == str(Meter.AWS_SFN_STATE_TRANSITION), "quantity"].sum())
        standard_usd = float(mine["usd"].sum())
        factor = ctx.monthly_factor
        monthly_execs = r.executions * factor
        std_monthly = standard_usd * factor
        gb_s_per_exec = r.gb_seconds / max(r.done, 1)
        region = regions.get(r.workflow_id)
        exp_monthly = pricing.express_cost(monthly_execs, gb_s_per_exec * monthly_execs, region=region,
                                           on=ctx.until.date())
        saving = std_monthly - exp_monthly
        if monthly_execs < th.express_min_monthly_executions or saving < th.express_min_monthly_saving_usd:
            continue
        found.append((r, transitions, monthly_execs, std_monthly, gb_s_per_exec, region, exp_monthly, saving))
    if not found:
        return []
    ids = [f[0].workflow_id for f in found]
    blocked = _express_blocked(ctx, ids)
    running = _longest_running_ms(ctx, ids)
    out = []
    for r, transitions, monthly_execs, std_monthly, gb_s_per_exec, region, exp_monthly, saving in found:
        if r.workflow_id in blocked or running.get(r.workflow_id, 0.0) > th.express_max_duration_ms:
            continue        # a blocker, or a run still going past Express's 5 minutes
        wf_name = ctx.workflow_name(r.cloud, r.workflow_id)
        out.append(Finding(
            kind=FindingKind.EXPRESS_CANDIDATE,
            severity=money_severity(saving),
            cloud=r.cloud, workflow=wf_name, workflow_id=r.workflow_id, step=None,
            window_start=ctx.since, window_end=ctx.until,
            title=(f"{wf_name} as Express would save {fmt_usd(saving)}/month: {fmt_usd(exp_monthly)}/month "
                   f"instead of {fmt_usd(std_monthly)}"
                   f" ({monthly_execs:,.0f} runs/month, p99 {fmt_duration(r.p99_ms)})"),
            evidence={"standard_monthly_usd": std_monthly, "express_monthly_usd": exp_monthly,
                      "monthly_executions": monthly_execs,
                      "transitions_per_execution": transitions / max(r.executions, 1),
                      "p50_ms": r.p50_ms, "p95_ms": r.p95_ms, "p99_ms": r.p99_ms, "max_ms": r.max_ms,
                      "express_gb_seconds_per_execution": gb_s_per_exec,
                      "assumed_memory_mb": th.express_memory_mb, "region": region,
                      "express_price_region": pricing.express_price_region(region, ctx.until.date()),
                      "window_days": ctx.window_days,
                      "measured_days": ctx.measured_days},
            recommendation=("Run it as an Express workflow (type EXPRESS, or nest it as an Express child "
                            "started with StartExecution.sync:2 from a Standard parent): every finished run "
                            "took under 5 minutes (Express's limit) and none uses .waitForTaskToken / .sync / "
                            "activities. Express "
                            "is at-least-once, so make the tasks idempotent, and turn on CloudWatch Logs "
                            "with level ALL and includeExecutionData to keep the run history."),
            monthly_usd=saving, executions_affected=int(r.executions),
        ))
    return out


def _express_blocked(ctx: Context, workflow_ids: list[str]) -> set[str]:
    """The AWS Standard workflows of `workflow_ids` Express cannot run: a Task of the window's steps, or of
    the latest stored definition (`_defined_blockers`), names an `EXPRESS_BLOCKERS` resource."""
    blocked = _defined_blockers(ctx, workflow_ids)
    if C.resource in ctx.always_null("steps"):
        return blocked             # no step names a resource (an export's): only the definitions can
    s = ctx.in_window(ctx.table("steps"))
    s = s.filter((s[C.cloud] == str(Cloud.AWS)) & s[C.workflow_id].isin(workflow_ids))
    resources = execute(s.filter(s[C.resource].notnull()).group_by([C.workflow_id, C.resource]).aggregate())
    return {r.workflow_id for r in resources.itertuples(index=False) if blocks_express(r.resource)} | blocked


EXPRESS_BLOCKERS = re.compile(r"\.(?:waitForTaskToken|sync(?::\d+)?)$|:activity:")
"""A Task's Resource Express does not run: a callback (`.waitForTaskToken`), a job it waits for
(`.sync`, `.sync:2`) or an activity (`arn:aws:states:...:activity:name`)."""


def blocks_express(resource: object) -> bool:
    """Whether a Task's Resource is one Express cannot run (`EXPRESS_BLOCKERS`): the resource's pattern,
    not any text holding ".sync" (a function named `resync` in its ARN is no .sync job)."""
    return isinstance(resource, str) and EXPRESS_BLOCKERS.search(resource.strip()) is not None


def _resources(node: object) -> Iterator[object]:
    """Every `Resource` value in an ASL document, at any depth (Parallel branches, Map item processors)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Resource":
                yield value
            else:
                yield from _resources(value)
    elif isinstance(node, list):
        for value in node:
            yield from _resources(value)


def _defined_blockers(ctx: Context, workflow_ids: list[str]) -> set[str]:
    """The AWS workflows of `workflow_ids` whose latest stored definition names an `EXPRESS_BLOCKERS`
    resource: a callback on a branch no run of the window took (a manual approval for large orders) is
    still one Express cannot run, and the window's steps alone advised such a machine to move."""
    w = ctx.table("workflows")
    w = w.filter((w[C.cloud] == str(Cloud.AWS)) & w[C.workflow_id].isin(workflow_ids) & w[C.definition].notnull())
    latest = execute(w.group_by(C.workflow_id).aggregate(definition=w[C.definition].argmax(w[C.seen_at])))
    return {str(wf) for wf, text in zip(latest[C.workflow_id], latest["definition"], strict=True)
            if isinstance(text, str) and _defines_a_blocker(text)}


def _defines_a_blocker(definition: str) -> bool:
    """Whether an ASL definition has a Task Express cannot run; one that does not parse as JSON is taken
    to have one when its text holds a blocker's marker (no advice rather than wrong advice)."""
    try:
        doc = json.loads(definition)
    except ValueError:
        return any(m in definition for m in (".waitForTaskToken", ".sync", ":activity:"))
    return any(blocks_express(r) for r in _resources(doc))


def _longest_running_ms(ctx: Context, workflow_ids: list[str]) -> dict[str, float]:
    """Per AWS workflow of `workflow_ids`: how long its longest run of the window still RUNNING had run when
    last seen (its row's `collected_at`, never later than now or the window's end; a row without one, to
    then). Such a run has no duration, yet one running past Express's 5 minutes is a run Express would
    stop: a workflow whose finished runs were short and whose long runs were still running was advised
    to move to Express."""
    runs = ctx.runs
    if not int(runs.loc[(runs[C.cloud] == str(Cloud.AWS)) & runs[C.workflow_id].isin(workflow_ids), "running"].sum()):
        return {}                  # none of their runs is still going (`suite.runs_per_workflow` counted them)
    e = ctx.in_window(ctx.table("executions"))
    e = e.filter((e[C.cloud] == str(Cloud.AWS)) & e[C.workflow_id].isin(workflow_ids)
                 & (e[C.status] == str(Status.RUNNING)))
    cap = lit_ts(min(ctx.now, ctx.until))
    seen = ibis.least(ibis.coalesce(e[C.collected_at], cap), cap)
    df = execute(e.group_by(C.workflow_id).aggregate(
        ms=seen.delta(e[C.started_at], unit="millisecond").cast("float64").max()))
    return {str(w): float(ms) for w, ms in zip(df[C.workflow_id], df["ms"], strict=True) if ms == ms}


def standard_plans(ctx: Context) -> dict[str, dict]:
    """Azure Standard workflows' App Service plans as the collector read them (`attributes.app_service_plan`
    of the latest workflows row: sku, instances, vcpu and memory_gb per instance): workflow id -> plan.
    A workflow whose row holds no plan (an imported one: an export carries none) gets the plan read for its
    app's other workflows (an app runs on one plan), else, in a deployment slot, its production app's, which
    a slot runs on unless given its own (docs/azure.md), with `of_app` naming that app: priced as a WS1 of its
    own, a slot on production's plan paid that fee twice. A plan without a known size is left out when neither
    is known: the thresholds' plan is assumed, one for the app's and its slots' such workflows (`_plan_key`)."""
    import json

    def compute() -> dict[str, dict]:
        w = (ctx.unfiltered or ctx.tables)["workflows"]       # a plan's workflows, selected or not
        w = w.filter((w[C.cloud] == str(Cloud.AZURE)) & (w[C.kind] == str(Kind.LOGICAPP_STANDARD)))
        latest = execute(w.group_by(C.workflow_id).aggregate(attrs=w[C.attributes].argmax(w[C.seen_at]),
                                                              seen=w[C.seen_at].max()))
        out: dict[str, dict] = {}
        seen: dict[str, Any] = {}
        for wf_id, attrs, at in zip(latest[C.workflow_id], latest["attrs"], latest["seen"], strict=True):
            seen[str(wf_id)] = at
            try:
                plan = json.loads(attrs or "{}").get("app_service_plan")
            except (TypeError, ValueError, AttributeError):
                continue
            if isinstance(plan, dict) and all(isinstance(plan.get(k), (int, float)) and not isinstance(plan[k], bool)
                                              and plan[k] > 0 for k in ("vcpu", "memory_gb", "instances")):
                out[str(wf_id)] = plan
        return {**out, **_plans_of_their_apps(sorted(set(seen) - set(out)), out, seen)}
    return ctx.cached("standard_plans", compute)


def _plans_of_their_apps(unknown: list[str], known: dict[str, dict], seen: dict[str, Any]) -> dict[str, dict]:
    """For each workflow of `unknown`, the plan `known` for its app's workflows (the latest read), else for a
    slot's workflow its production app's, with `of_app` naming the app whose workflows it was read for."""
    from flowscope.azure_ids import production_site_of, site_of

    by_app: dict[str, tuple[Any, str, dict]] = {}
    for wf_id, plan in known.items():
        app = site_of(wf_id.lower())
        if app is not None and (app not in by_app or (seen[wf_id], wf_id) > by_app[app][:2]):
            by_app[app] = (seen[wf_id], wf_id, plan)
    out: dict[str, dict] = {}
    for wf_id in unknown:
        for app in dict.fromkeys((site_of(wf_id.lower()), production_site_of(wf_id.lower()))):
            if app is not None and app in by_app:
                plan = by_app[app][2]
                out[wf_id] = {**plan, "of_app": plan.get("of_app") or app}
                break
    return out


_PLAN_METERS = frozenset({Meter.AZURE_LOGIC_STANDARD_PLAN_VCPU_HOUR, Meter.AZURE_LOGIC_STANDARD_PLAN_GB_HOUR})
_CONNECTOR_METERS = frozenset({Meter.AZURE_LOGIC_STANDARD_CONNECTOR, Meter.AZURE_LOGIC_ENTERPRISE_CONNECTOR})


def _plan_key(wf_id: str, plan: dict | None) -> str:
    """What the workflows that share one App Service plan, and so its fee, have in common: the plan's id,
    else their Standard app's (a site's workflows run on its one plan; a plan lent by a slot's production app,
    that app's: `of_app`). With no plan known (None: none read for the workflow, its app or, in a slot, its
    production app; `standard_plans`), its production app's: the one plan assumed for the app's such workflows
    and its slots', which run on production's plan unless given their own (a plan assumed per workflow read an
    app of three workflows as three fees)."""
    from flowscope.azure_ids import production_site_of, site_of

    if plan is None:
        return production_site_of(wf_id.lower()) or wf_id.lower()
    return str(plan.get("id") or str(plan.get("of_app") or "").lower() or site_of(wf_id.lower()) or wf_id.lower())


def _plans_shared(ctx: Context, plans: dict[str, dict]) -> dict[str, str]:
    """Every Azure Standard workflow, selected by a workflow filter or not (`Context.all_workflows`), with a
    known plan (`plans`) or not -> the key of the plan it shares (`_plan_key`)."""
    dim = ctx.all_workflows if ctx.all_workflows is not None else ctx.workflows
    standard = dim.loc[(dim[C.cloud] == str(Cloud.AZURE)) & (dim[C.kind] == str(Kind.LOGICAPP_STANDARD)),
                       C.workflow_id].astype(str)
    return {w: _plan_key(w, plans.get(w)) for w in sorted(set(standard) | set(plans))}


def _monthly_by_kind_of_meter(usage: pd.DataFrame, factor: float, day: dt.date) -> dict[str, dict[str, float]]:
    """Per workflow of `usage` (workflow_id, meter, quantity over the window): a month's dollars of its
    connector calls, built-in operations and observed plan hours, and its built-in operations."""
    monthly: dict[str, dict[str, float]] = {}
    for wf_id, g in usage.groupby(C.workflow_id):
        q = {m: float(g.loc[g[C.meter] == m, "quantity"].sum()) * factor for m in g[C.meter].unique()}
        monthly[str(wf_id)] = {
            "connectors": sum(pricing.unit_price(m, on=day) * v for m, v in q.items() if m in _CONNECTOR_METERS),
            "builtin": sum(pricing.unit_price(m, on=day) * v for m, v in q.items()
                           if m in pricing.STANDARD_PLAN_FREE_METERS),
            "observed_plan": sum(pricing.unit_price(m, on=day) * v for m, v in q.items() if m in _PLAN_METERS),
            "operations": sum(v for m, v in q.items() if m in pricing.STANDARD_PLAN_FREE_METERS),
        }
    return monthly


def _outside_the_filter(ctx: Context, sharing: dict[str, list[str]], plan_of: dict[str, str],
                        monthly: dict[str, dict[str, float]], selected: set[str],
                        factor: float) -> dict[str, dict[str, float]]:
    """`_monthly_by_kind_of_meter` of the workflows a workflow filter left out that share a plan with a
    selected one: a plan is judged with every workflow on it (judged by `--workflow wf0` alone, moving wf0
    "saved" a fee wf1 and wf2 still need). Read only under such a filter (`Context.unfiltered`)."""
    if ctx.unfiltered is None:
        return {}
    outside = sorted({w for wf_id in monthly if wf_id in plan_of for w in sharing[plan_of[wf_id]] if w not in selected})
    if not outside:
        return {}
    u = ctx.in_window(ctx.unfiltered["usage"])
    u = u.filter((u[C.cloud] == str(Cloud.AZURE)) & u[C.workflow_id].isin(outside))
    usage = execute(u.group_by([C.workflow_id, C.meter]).aggregate(quantity=u[C.quantity].sum()))
    return _monthly_by_kind_of_meter(usage, factor, ctx.until.date())


def plan_what_ifs(ctx: Context) -> list[Finding]:
    """Consumption vs Standard per workflow; Standard workflows are judged per App Service plan: its fee is paid
    once for all the workflows on it and saved only when every one of them moves (one finding per plan, on its
    busiest workflow; a finding per workflow summed the fee once per workflow, three workflows on one $175 WS1
    read $525 of potential savings). The plan-less workflows of one app (its slots' with it) share one assumed
    plan (`_plan_key`)."""
    from flowscope.azure_ids import production_site_of

    th = ctx.thresholds
    wc = workflow_costs(ctx)
    if wc.empty:
        return []
    hours = th.monthly_days * 24.0      # the month every other figure is projected over
    plan_monthly = pricing.standard_plan_monthly(th.logicapp_standard_plan_vcpu, th.logicapp_standard_plan_memory_gb,
                                                 on=ctx.until.date(), hours=hours)
    plans = standard_plans(ctx)
    factor = ctx.monthly_factor
    day = ctx.until.date()
    az = wc[wc[C.cloud] == str(Cloud.AZURE)]
    monthly = _monthly_by_kind_of_meter(az, factor, day)
    plan_of = _plans_shared(ctx, plans)
    sharing: dict[str, list[str]] = {}
    for wf_id, key in plan_of.items():
        sharing.setdefault(key, []).append(wf_id)
    selected = set(ctx.workflows.loc[ctx.workflows[C.cloud] == str(Cloud.AZURE), C.workflow_id].astype(str))
    monthly.update(_outside_the_filter(ctx, sharing, plan_of, monthly, selected, factor))
    none = {"connectors": 0.0, "builtin": 0.0, "observed_plan": 0.0, "operations": 0.0}
    out = []
    judged: set[str] = set()
    for wf_id in sorted(w for w in monthly if w in selected):
        kind = ctx.workflow_kind(str(Cloud.AZURE), wf_id)
        known = plans.get(wf_id) if kind == Kind.LOGICAPP_STANDARD else None
        group = sorted(sharing[plan_of[wf_id]]) if kind == Kind.LOGICAPP_STANDARD and wf_id in plan_of else [wf_id]
        if known is not None:         # the plan as read for a workflow on it, not as lent to another
            known = next((plans[w] for w in group if w in plans and not plans[w].get("of_app")), known)
        lent = sorted(ctx.workflow_name(str(Cloud.AZURE), w) for w in group
                      if w in plans and plans[w].get("of_app"))
        if group[0] in judged:
            continue
        judged.add(group[0])
        sums = {k: sum(monthly.get(w, none)[k] for w in group) for k in none}
        connectors, builtin, observed_plan = sums["connectors"], sums["builtin"], sums["observed_plan"]
        wf_plan = plan_monthly if known is None else pricing.standard_plan_monthly(
            known["vcpu"] * known["instances"], known["memory_gb"] * known["instances"], on=day, hours=hours)
        plan_used = ({"source": "app_service_plan", **{k: known.get(k) for k in ("sku", "instances", "vcpu",
                                                                                   "memory_gb")},
                      **({"of_app": known["of_app"]} if known.get("of_app") else {})}
                     if known is not None
                     # no plan read, its hours billed in the usage: priced by them (`current` below), not assumed
                     else {"source": "usage", "sku": None, "instances": None, "vcpu": None, "memory_gb": None}
                     if observed_plan
                     else {"source": "assumed", "sku": None, "instances": 1,
                           "vcpu": th.logicapp_standard_plan_vcpu,
                           "memory_gb": th.logicapp_standard_plan_memory_gb})
        if kind == Kind.LOGICAPP_CONSUMPTION:
            current, other, target = builtin + connectors, plan_monthly + connectors, "Standard"
        elif kind == Kind.LOGICAPP_STANDARD:
            current = (observed_plan or wf_plan) + connectors
            other, target = builtin + connectors, "Consumption"
        else:
            continue
        saving = current - other
        # a Standard workflow whose plan was neither read (`standard_plans`) nor billed in its usage
        assumed = kind == Kind.LOGICAPP_STANDARD and known is None and not observed_plan
        if saving < th.plan_what_if_min_monthly_saving_usd or saving < th.plan_what_if_margin * current:
            continue
        # the plan's finding sits on its busiest workflow (ties: the first by id with usage); it names them
        # all. Under a workflow filter that workflow may be one not selected: the finding is then not this
        # analysis's, as the unfiltered analysis's findings filtered say (`suite.select_findings`).
        wf_id = min(group, key=lambda w: (-monthly.get(w, none)["operations"], w not in monthly, w))
        if wf_id not in selected:
            continue
        wf_name = ctx.workflow_name(str(Cloud.AZURE), wf_id)
        names = [ctx.workflow_name(str(Cloud.AZURE), w) for w in group]
        subject = wf_name if len(group) == 1 else f"{wf_name} and the {len(group) - 1} other workflow(s) on its plan"
        if known is None and len(group) > 1:      # one plan assumed for an app's plan-less workflows
            plan_used["app"] = production_site_of(wf_id) or wf_id
        if not assumed:
            said_assumed = ("", "")
        elif len(group) > 1:
            said_assumed = (f" (their Standard plan assumed: one WS1 for its app's {len(group)} workflows, "
                            f"{fmt_usd(wf_plan)}/month, which no spend total holds)",
                            f" The plan's fee is assumed (one WS1 instance for these {len(group)} workflows of "
                            "one app, whose App Service plan was not read; a deployment slot runs on its production "
                            "app's plan unless given its own): collect the app's App Service plan (sync with Azure) "
                            "to price the one they run on.")
        else:
            said_assumed = (f" (its Standard plan assumed: a WS1 of its own, {fmt_usd(wf_plan)}/month, which no spend "
                            "total holds)",
                            " The plan's fee is assumed (one WS1 instance hosting only this workflow): collect the "
                            "app's App Service plan (sync with Azure) to price the one it runs on.")
        if target == "Standard":
            rec = (f"Move {wf_name} to a Logic Apps Standard plan (WS1: {th.logicapp_standard_plan_vcpu:g} vCPU, "
                   f"{th.logicapp_standard_plan_memory_gb:g} GB, about {fmt_usd(plan_monthly)}/month): built-in "
                   "operations are then not billed per execution. Share the plan with other busy workflows "
                   "to split its cost; managed connector calls stay billed per call.")
        elif len(group) > 1:
            rec = (f"The {len(group)} workflows on this App Service plan ({', '.join(sorted(names))}) run too few "
                   "operations to fill it: as Consumption logic apps they would pay per execution instead. The "
                   "plan's fee is saved only when all of them move; moving some of them saves nothing."
                   + said_assumed[1])
        else:
            rec = (f"{wf_name} runs too few operations to fill a Standard plan: as a Consumption logic app it "
                   "would pay per execution instead. Alternatively consolidate more workflows onto this plan."
                   + said_assumed[1])
        out.append(Finding(
            kind=FindingKind.PLAN_WHAT_IF,
            severity=_lower(money_severity(saving)) if assumed else money_severity(saving),
            cloud=str(Cloud.AZURE), workflow=wf_name, workflow_id=wf_id, step=None,
            window_start=ctx.since, window_end=ctx.until,
            title=(f"{subject} on {target} would save {fmt_usd(saving)}/month: {fmt_usd(other)}/month instead of "
                   f"{fmt_usd(current)}" + said_assumed[0]),
            evidence={"current_plan": str(kind), "current_monthly_usd": current, "what_if_plan": target,
                      "what_if_monthly_usd": other, "standard_plan_monthly_usd": wf_plan,
                      "standard_plan": plan_used, "assumed_current_plan": assumed,
                      "plan_workflows": sorted(names),
                      **({"plan_from_their_app": lent} if lent else {}),
                      "builtin_operations_monthly": sums["operations"],
                      "connector_monthly_usd": connectors, "window_days": ctx.window_days,
                      "measured_days": ctx.measured_days},
            recommendation=rec, monthly_usd=saving,
            executions_affected=0,
        ))
    return out
