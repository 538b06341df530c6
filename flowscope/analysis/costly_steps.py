"""The `costly_step` analysis: a step that is a large share of its workflow's cost (`costly_step_share`) and
is visited often per execution, with whether it runs in a loop (which decides the advice).

Also `money_severity`: costly_step's dollar bands, which every finding about money alone is ranked by.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet

import ibis
import pandas as pd

from flowscope.analysis.base import (
    CONTAINER_TYPES,
    EXECUTION_STEP,
    LOOP_TYPES,
    SAMPLES,
    Context,
    Finding,
    FindingKind,
    Severity,
    execute,
    sample_rank,
)
from flowscope.analysis.cost_reads import step_costs, workflow_executions
from flowscope.analysis.step_stats import step_stats
from flowscope.format import fmt_usd
from flowscope.model import C, Cloud, Kind


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


def money_severity(monthly_usd: float) -> Severity:
    """The severity of a finding that is about money alone, by its dollars a month: high from $100, medium
    from $10, low below, the bands `costly_step` uses, for every saving kind alike. A polling loop was medium
    whatever it cost (one of $0.07 a month ranked above a $0.55 costly step), while an Express or plan
    saving of $50 was low: the same dollars ranked by the kind that found them."""
    return Severity.HIGH if monthly_usd >= 100 else Severity.MEDIUM if monthly_usd >= 10 else Severity.LOW
