"""The shared cost reads: the window's usage priced per execution, per workflow and per step and meter
(`step_meter_costs`, the one priced read of the usage), and the window's runs counted and timed per workflow
(`workflow_durations`, the one read of run durations).

Each is read once and cached on the context: the cost analyses, retries.py, failures.py, latency.py and
collection.py share them, so no analysis prices the usage or reads the durations again.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from flowscope.analysis import measures, pricing
from flowscope.analysis.base import (
    EXECUTION_STEP,
    QUANTILES,
    Context,
    execute,
    lit_ts,
    quantiles,
    split_quantiles,
    timed_run,
)
from flowscope.model import C

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
