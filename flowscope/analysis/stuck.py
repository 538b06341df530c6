"""Stuck and at-risk executions.

- `stuck_execution`: RUNNING executions older than k x their workflow's p99 duration (and a
  minimum age); a workflow without finished runs uses a fixed age instead. Age is measured to when
  the run was last seen running (`runs.seen_running_expr`, the rule the executions search and the run
  page read): its row's `collected_at` (the sync or import that wrote it), capped by `now` and the
  window's end, so neither a store last synced a week ago nor another workflow's newer runs make it
  look older; a row without `collected_at` (written before it existed), to the window's end, and its
  title says so. A run known only from an imported snapshot
  (`source` import) is said to have been RUNNING in that snapshot, with its age then, not to be
  running now. A redriven run (Step Functions keeps its start date) is aged from its current life's first step.
  An Express run seen RUNNING past Express's 5-minute limit is not stuck: it ended and its end record
  was never read (`express_runs_without_end`, said as a `collection_gap` by analysis/collection.py).
- `history_limit_risk`: executions whose history nears the 25,000-event limit of Step Functions
  Standard (model.AWS_HISTORY_EVENT_LIMIT).
- `map_failure_budget`: Map states whose failed items near the failures they tolerate, the smaller of
  their ToleratedFailurePercentage of the items and their ToleratedFailureCount (read from the ASL
  definition). Needs the definition in `workflows`
  and Map item steps linked through parent_step_key/iteration; Distributed Map child executions
  (parent_execution_id) are not counted yet.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from flowscope.analysis.base import (
    UNCAUGHT_FAILED_VALUES,
    Context,
    Finding,
    FindingKind,
    Severity,
    execute,
    lit_ts,
    sample_ids,
    timed_run,
    to_utc,
    top_ids,
)
from flowscope.analysis.runs import seen_running_expr
from flowscope.format import fmt_duration
from flowscope.model import AWS_HISTORY_EVENT_LIMIT, C, Cloud, Kind, Source, Status, StepType


def run(ctx: Context) -> list[Finding]:
    return (stuck_executions(ctx) + history_limit_risks(ctx) + map_failure_budgets(ctx)
            + distributed_map_budgets(ctx))


def _running_ages(ctx: Context) -> ir.Table | None:
    """The window's RUNNING executions with their age when last seen (`age_ms`, to `as_of`) and their
    workflow's baseline (`p99`, `finished`); None when none is running (one count, shared)."""
    e = ctx.table("executions")
    e = e.filter(e[C.started_at] < lit_ts(ctx.until))
    running = e.filter(e[C.status] == str(Status.RUNNING))
    if not ctx.cached("running_count", lambda: _running_count(ctx)):
        return None
    done = e.filter(e[C.ended_at].notnull() & (e[C.duration_ms] >= 0)
                    & (e[C.status] != str(Status.RUNNING)) & timed_run(e))     # a redrive's wait is no duration
    base = done.group_by([C.cloud, C.workflow_id]).aggregate(
        p99=done[C.duration_ms].cast("float64").quantile(0.99), finished=done.count())
    base = base.select(b_cloud=C.cloud, b_wf=C.workflow_id, p99="p99", finished="finished")
    r = running.left_join(base, (running[C.cloud] == base.b_cloud) & (running[C.workflow_id] == base.b_wf))
    # Age when last seen running: at the sync or import that wrote the row, never later than now/until
    # (`cut`: measured to the window's end, a row collected after it or never stamped).
    end = min(ctx.now, ctx.until)
    r = r.mutate(as_of=seen_running_expr(r[C.collected_at], r[C.started_at], end),
                 cut=(r[C.collected_at].isnull() | (r[C.collected_at] > lit_ts(end))).cast("int64"),
                 snapshot=(r[C.source].fill_null("") == str(Source.IMPORT)).cast("int64"))
    lives = _redriven_life_starts(ctx, running)
    start = r[C.started_at]
    if lives is not None:
        r = r.left_join(lives, (r[C.cloud] == lives.l_cloud) & (r[C.execution_id] == lives.l_id))
        start = ibis.greatest(r[C.started_at], ibis.coalesce(r.life_start, r[C.started_at]))
    r = r.mutate(age_ms=r.as_of.delta(start, unit="millisecond").cast("float64"))
    return r.mutate(unended=_past_express_limit(ctx, r))


def _running_count(ctx: Context) -> int:
    """How many of the context's runs that started before `until` are still going: from the runs per workflow the
    context read (`suite.runs_per_workflow`, the workflows a filter keeps), which counted them in its read of
    every execution."""
    runs = ctx.runs
    if ctx.unfiltered is not None:       # a workflow filter: the runs of the workflows it keeps
        runs = runs[runs[C.workflow_id].isin(set(ctx.workflows[C.workflow_id]))]
    return int(runs["running"].sum())


def _redriven_life_starts(ctx: Context, running: ir.Table) -> ir.Table | None:
    """When each redriven running run's current life began (`l_cloud`, `l_id`, `life_start`): its first
    step after the uncaught failure that ended its previous life, else that failure's end (a redrive read
    before any step of it). A redrive keeps the run's start date: a run redriven after two days and
    running for two minutes was stuck "for up to 2 d". None when no running run was redriven."""
    redriven = running.filter(running[C.redrive_count].fill_null(0) > 0)
    redriven = redriven.select(x_cloud=redriven[C.cloud], x_id=redriven[C.execution_id])
    if not int(execute(redriven.aggregate(n=redriven.count()))["n"].iloc[0]):
        return None
    s = ctx.table("steps")
    s = s.semi_join(redriven, (s[C.cloud] == redriven.x_cloud) & (s[C.execution_id] == redriven.x_id))
    f = s.filter(s[C.status].isin(UNCAUGHT_FAILED_VALUES))
    ends = f.group_by([C.cloud, C.execution_id]).aggregate(
        fail_end=ibis.coalesce(f[C.ended_at], f[C.started_at]).max())
    ends = ends.select(e_cloud=ends[C.cloud], e_id=ends[C.execution_id], fail_end=ends.fail_end)
    j = s.inner_join(ends, (s[C.cloud] == ends.e_cloud) & (s[C.execution_id] == ends.e_id))
    j = j.filter(j[C.started_at] >= j.fail_end)
    after = j.group_by(["e_cloud", "e_id"]).aggregate(first=j[C.started_at].min())
    after = after.select(a_cloud=after.e_cloud, a_id=after.e_id, first=after["first"])
    lives = ends.left_join(after, (ends.e_cloud == after.a_cloud) & (ends.e_id == after.a_id))
    return lives.select(l_cloud=lives.e_cloud, l_id=lives.e_id,
                        life_start=ibis.coalesce(lives["first"], lives.fail_end))


def _past_express_limit(ctx: Context, r: ir.Table) -> ir.BooleanValue:
    """An Express run seen RUNNING longer than Express lets a run last: it ended (Step Functions stops
    it at 5 minutes) and its end record was never read. Not stuck: a gap in its logs."""
    return (r[C.kind].fill_null("") == str(Kind.SFN_EXPRESS)) & (r.age_ms > ctx.thresholds.express_max_duration_ms)


def express_runs_without_end(ctx: Context) -> pd.DataFrame:
    """Per Express workflow, its runs past Express's limit when last seen (`_past_express_limit`): how
    many (`n`), the oldest start, when last seen, and samples (the oldest first). Empty when none."""
    def compute() -> pd.DataFrame:
        rows = _flagged_running(ctx)
        rows = rows[rows["unended"]] if not rows.empty else rows
        if rows.empty:
            return pd.DataFrame()
        samples = top_ids(rows, [C.cloud, C.workflow_id], order_by="age_ms")
        agg = rows.groupby([C.cloud, C.workflow_id], sort=True).agg(
            n=(C.execution_id, "size"), oldest=(C.started_at, "min"), as_of=("as_of", "max")).reset_index()
        agg["samples"] = [samples.get((c, w), []) for c, w in zip(agg[C.cloud], agg[C.workflow_id], strict=True)]
        return agg
    return ctx.cached("express_runs_without_end", compute)


def _flagged_running(ctx: Context) -> pd.DataFrame:
    """The running runs either check reports, read once: those past their stuck limit and Express runs
    past Express's limit (`unended`, a collection gap rather than stuck). Few rows; empty when none."""
    def compute() -> pd.DataFrame:
        th = ctx.thresholds
        r = _running_ages(ctx)
        if r is None:
            return pd.DataFrame()
        min_age = th.stuck_min_age_minutes * 60_000
        limit = ibis.ifelse(r.p99.isnull(), th.stuck_no_baseline_hours * 3_600_000,
                            ibis.greatest(r.p99 * th.stuck_p99_multiple, min_age))
        flagged = r.filter((r.age_ms >= limit) | r.unended)
        rows = execute(flagged.select(
            C.cloud, C.workflow_id, C.execution_id, C.started_at, "age_ms", "p99", "finished", "as_of",
            "snapshot", "cut", "unended",
            # marked by the collector when the cloud no longer knows the execution (`mark_gone`)
            gone=flagged[C.attributes].fill_null("").contains('"gone"').cast("int64")))
        return rows.assign(unended=rows["unended"].fillna(False).astype(bool))
    return ctx.cached("flagged_running", compute)


def stuck_executions(ctx: Context) -> list[Finding]:
    th = ctx.thresholds
    # The stuck runs themselves (few: running ones past their limit) are read once, with the Express
    # runs past their limit; their counts, samples and the steps they wait in all come from that read.
    rows = _flagged_running(ctx)
    rows = rows[~rows["unended"]] if not rows.empty else rows
    if rows.empty:
        return []
    agg = _stuck_counts(rows)
    samples = top_ids(rows, [C.cloud, C.workflow_id], order_by="age_ms")
    steps = ctx.table("steps").filter(ibis._[C.status] == str(Status.RUNNING))
    ids = ibis.memtable(rows[[C.cloud, C.execution_id]].drop_duplicates().rename(
        columns={C.cloud: "x_cloud", C.execution_id: "x_id"}).reset_index(drop=True))
    at = steps.inner_join(ids, (steps[C.cloud] == ids.x_cloud) & (steps[C.execution_id] == ids.x_id))
    at = at.filter(~at[C.type].isin([str(StepType.MAP), str(StepType.PARALLEL), str(StepType.LOOP),
                                     str(StepType.SCOPE)]))
    # The step most stuck runs wait in (a portable mode: counts per step, the top one in pandas).
    counts = execute(at.group_by([C.cloud, C.workflow_id, C.name]).aggregate(n=at.count()))
    counts = counts.sort_values(["n", C.name], ascending=[False, True]).drop_duplicates([C.cloud, C.workflow_id])
    where = {(w.cloud, w.workflow_id): getattr(w, C.name) for w in counts.itertuples(index=False)}
    out = []
    for a in agg.itertuples(index=False):
        wf_name = ctx.workflow_name(a.cloud, a.workflow_id)
        step = where.get((a.cloud, a.workflow_id))
        has_base = not pd.isna(a.p99)
        n, snapshots = int(a.n), int(a.snapshots or 0)
        imported_at = to_utc(a.imported_at)
        out.append(Finding(
            kind=FindingKind.STUCK_EXECUTION,
            # A snapshot says the run was stuck when imported, not that it still is: not a page.
            severity=Severity.MEDIUM if snapshots == n else Severity.CRITICAL if n >= 10 else Severity.HIGH,
            cloud=a.cloud, workflow=wf_name, workflow_id=a.workflow_id, step=step,
            window_start=to_utc(a.oldest), window_end=to_utc(a.as_of),
            title=_stuck_title(n, snapshots, wf_name, a.max_age, a.snapshot_max_age, imported_at,
                               a.p99 if has_base else None, step,
                               to_utc(a.as_of) if a.cut and not snapshots else None),
            evidence={"stuck": n, "max_age_ms": a.max_age, "min_age_ms": a.min_age,
                      "p99_ms": None if not has_base else a.p99, "multiple": th.stuck_p99_multiple,
                      "finished_executions": None if pd.isna(a.finished) else int(a.finished),
                      "as_of": to_utc(a.as_of), "current_step": step,
                      "snapshot": snapshots == n, "from_snapshots": snapshots, "imported_at": imported_at,
                      "age_measured_to": "window_end" if a.cut else "collected_at",
                      "gone_from_cloud": int(a.gone or 0)},
            recommendation=_stuck_recommendation(a.cloud),
            monthly_usd=0.0, executions_affected=n,
            sample_execution_ids=samples.get((a.cloud, a.workflow_id), []),
        ))
    return out


def _stuck_counts(rows: pd.DataFrame) -> pd.DataFrame:
    """Per workflow, from its stuck runs: how many, their ages, baseline, span and how they were seen."""
    snap = rows["snapshot"] == 1
    rows = rows.assign(_snap_as_of=rows["as_of"].where(snap), _snap_age=rows["age_ms"].where(snap))
    g = rows.groupby([C.cloud, C.workflow_id], sort=False, dropna=False)
    return g.agg(n=(C.execution_id, "size"), max_age=("age_ms", "max"), min_age=("age_ms", "min"),
                 p99=("p99", "max"), finished=("finished", "max"), oldest=(C.started_at, "min"),
                 newest=(C.started_at, "max"), as_of=("as_of", "max"), snapshots=("snapshot", "sum"),
                 imported_at=("_snap_as_of", "max"),
                 snapshot_max_age=("_snap_age", "max"), gone=("gone", "sum"), cut=("cut", "max")).reset_index()


def _stuck_title(n: int, snapshots: int, wf_name: str, max_age: float, snapshot_max_age: float | None,
                 imported_at: dt.datetime | None, p99: float | None, step: str | None,
                 window_end: dt.datetime | None = None) -> str:
    """A live run is said to be running; a run known only from an imported snapshot is said to have
    been RUNNING in that snapshot, with its age at that time (it may have finished since). `window_end`:
    the window ends before the runs were last collected, so their age is measured to its end."""
    base = f" (p99 {fmt_duration(p99)})" if p99 is not None else " (no finished runs to compare)"
    where = f", waiting in {step}" if step else ""
    when = f"{imported_at:%Y-%m-%d %H:%M} UTC" if imported_at is not None else "an unknown time"
    if snapshots == n:
        return (f"{n} execution(s) of {wf_name} RUNNING in a snapshot imported at {when}; age at that time "
                f"{'up to ' if n > 1 else ''}{fmt_duration(max_age)}{base}{where}")
    when_seen = f"at the window's end ({window_end:%Y-%m-%d %H:%M} UTC)" if window_end else "when last collected"
    text = f"{n} execution(s) of {wf_name} running for up to {fmt_duration(max_age)} {when_seen}{base}{where}"
    if snapshots:
        text += (f"; {snapshots} of them only seen RUNNING in a snapshot imported at {when} "
                 f"(age then up to {fmt_duration(snapshot_max_age)})")
    return text


def _stuck_recommendation(cloud: str) -> str:
    if cloud == Cloud.AWS:
        return ("Set TimeoutSeconds on the state machine and on every Task (and HeartbeatSeconds on "
                ".waitForTaskToken tasks) so a lost callback fails instead of waiting up to a year; "
                "stop the stuck executions (StopExecution) after checking the task they wait on.")
    if cloud == Cloud.AZURE:
        return ("Set a timeout on the waiting actions (limit.timeout, Until count/timeout, webhook "
                "timeout) and the run duration limit; cancel the stuck runs after checking what they wait on.")
    return ("Give events.await_callback and long http calls a timeout, bound loops, and cancel the stuck "
            "executions (executions.cancel) after checking what they wait on.")


def history_limit_risks(ctx: Context) -> list[Finding]:
    th = ctx.thresholds
    if C.event_count in ctx.always_null("executions"):
        return []                  # no run has an event count (an export's): none can be near the limit
    e = ctx.in_window(ctx.table("executions"))
    floor = int(AWS_HISTORY_EVENT_LIMIT * th.history_limit_ratio)
    risky = e.filter((e[C.cloud] == str(Cloud.AWS)) & (e[C.event_count] >= floor))
    agg = execute(risky.group_by([C.cloud, C.workflow_id]).aggregate(
        n=risky.count(), max_events=risky[C.event_count].max(), mean_events=risky[C.event_count].mean(),
        first=risky[C.started_at].min(), last=risky[C.started_at].max()))
    if agg.empty:
        return []
    samples = sample_ids(risky, [C.cloud, C.workflow_id], order_by=C.event_count)
    out = []
    for a in agg.itertuples(index=False):
        wf_name = ctx.workflow_name(a.cloud, a.workflow_id)
        share = a.max_events / AWS_HISTORY_EVENT_LIMIT
        out.append(Finding(
            kind=FindingKind.HISTORY_LIMIT_RISK,
            severity=Severity.CRITICAL if share >= 0.95 else Severity.HIGH,
            cloud=a.cloud, workflow=wf_name, workflow_id=a.workflow_id, step=None,
            window_start=to_utc(a.first), window_end=to_utc(a.last),
            title=(f"{int(a.n)} execution(s) of {wf_name} reach {int(a.max_events):,} history events "
                   f"({share:.0%} of the {AWS_HISTORY_EVENT_LIMIT:,} limit)"),
            evidence={"executions": int(a.n), "max_events": int(a.max_events), "mean_events": a.mean_events,
                      "limit": AWS_HISTORY_EVENT_LIMIT, "threshold_events": floor},
            recommendation=("An execution that reaches 25,000 events fails. Move the loop or Map body "
                            "into child executions (Distributed Map, or StartExecution of a child workflow, "
                            "Express for short bodies), or continue as a new execution (start a fresh "
                            "execution with the state so far) before the limit."),
            monthly_usd=0.0, executions_affected=int(a.n),
            sample_execution_ids=samples.get((a.cloud, a.workflow_id), []),
        ))
    return out


def _tolerances(definition: str | None) -> dict[str, tuple[float, float]]:
    """Map state name -> (tolerated failure percentage, tolerated failure count), 0 where not set, from an
    ASL definition. Step Functions fails the Map at whichever is reached first (the count was not read: a
    Map one failure from failing said nothing)."""
    try:
        doc = json.loads(definition or "")
    except (ValueError, TypeError):
        return {}
    out: dict[str, tuple[float, float]] = {}

    def number(value: Any) -> float:
        try:
            return max(float(value), 0.0)
        except (TypeError, ValueError):
            return 0.0

    def walk(states: dict) -> None:
        for name, st in (states or {}).items():
            if not isinstance(st, dict):
                continue
            if st.get("Type") == "Map":
                pct, count = number(st.get("ToleratedFailurePercentage")), number(st.get("ToleratedFailureCount"))
                if pct > 0 or count > 0:
                    out[name] = (pct, count)
            for sub in ("ItemProcessor", "Iterator"):
                if isinstance(st.get(sub), dict):
                    walk(st[sub].get("States", {}))
            for branch in st.get("Branches", []) or []:
                if isinstance(branch, dict):
                    walk(branch.get("States", {}))

    if isinstance(doc, dict):
        walk(doc.get("States", {}))
    return out


def map_failure_budgets(ctx: Context) -> list[Finding]:
    th = ctx.thresholds
    w = ctx.table("workflows")
    w = w.filter(w[C.cloud] == str(Cloud.AWS))
    defs = execute(w.group_by([C.cloud, C.workflow_id]).aggregate(d=w[C.definition].argmax(w[C.seen_at])))
    budgets = [(r.cloud, r.workflow_id, name, pct, count) for r in defs.itertuples(index=False)
               for name, (pct, count) in _tolerances(r.d).items()]
    if not budgets:
        return []
    b = ibis.memtable(pd.DataFrame(budgets, columns=["b_cloud", "b_wf", "b_name", "tolerated", "tolerated_count"]))
    s = ctx.in_window(ctx.table("steps"))
    maps = s.filter(s[C.type] == str(StepType.MAP))
    maps = maps.inner_join(b, (maps[C.cloud] == b.b_cloud) & (maps[C.workflow_id] == b.b_wf)
                           & (maps[C.name] == b.b_name))
    maps = maps.select(m_cloud=C.cloud, m_wf=C.workflow_id, m_exec=C.execution_id, m_key=C.step_key,
                       m_name=C.name, tolerated="tolerated", tolerated_count="tolerated_count")
    kids = s.filter(s[C.parent_step_key].notnull())
    j = kids.inner_join(maps, (kids[C.cloud] == maps.m_cloud) & (kids[C.execution_id] == maps.m_exec)
                        & (kids[C.parent_step_key] == maps.m_key))
    item = ibis.coalesce(j[C.iteration].cast("string"), j[C.step_key])
    per_visit = j.group_by(["m_cloud", "m_wf", "m_name", "m_exec", "m_key", "tolerated", "tolerated_count"]).aggregate(
        items=item.nunique(), failed=item.nunique(where=j[C.status].isin(UNCAUGHT_FAILED_VALUES)))
    pv = per_visit
    # the failures the Map tolerates: the smaller of its percentage of the items and its count (0: not set)
    unset = ibis.literal(float("inf"))
    allowed = ibis.least(ibis.ifelse(pv.tolerated > 0, pv.tolerated * pv["items"] / 100.0, unset),
                         ibis.ifelse(pv.tolerated_count > 0, pv.tolerated_count.cast("float64"), unset))
    per_visit = pv.mutate(pct=pv.failed * 100.0 / pv["items"], allowed=allowed)
    near = per_visit.filter((per_visit.failed > 0)
                            & (per_visit.failed >= per_visit.allowed * th.map_failure_budget_ratio))
    agg = execute(near.group_by(["m_cloud", "m_wf", "m_name"]).aggregate(
        n=near.count(), max_pct=near.pct.max(), tolerated=near.tolerated.max(),
        tolerated_count=near.tolerated_count.max(), over=(near.failed > near.allowed).cast("int64").sum()))
    if agg.empty:
        return []
    samples = sample_ids(near.rename(execution_id="m_exec"), ["m_cloud", "m_wf", "m_name"], order_by="pct")
    out = []
    for a in agg.itertuples(index=False):
        wf_name = ctx.workflow_name(a.m_cloud, a.m_wf)
        count = int(a.tolerated_count) if a.tolerated_count > 0 else None
        said = " or ".join([*([f"{a.tolerated:g}%"] if a.tolerated > 0 else []),
                            *([f"{count} item{'s' if count != 1 else ''}"] if count else [])])
        out.append(Finding(
            kind=FindingKind.MAP_FAILURE_BUDGET,
            severity=Severity.HIGH if a.over else Severity.MEDIUM,
            cloud=a.m_cloud, workflow=wf_name, workflow_id=a.m_wf, step=a.m_name,
            window_start=ctx.since, window_end=ctx.until,
            title=(f"Map {a.m_name} in {wf_name}: up to {a.max_pct:.0f}% of items failed "
                   f"(tolerated {said}) in {int(a.n)} run(s)"),
            evidence={"map_runs_near_budget": int(a.n), "map_runs_over_budget": int(a.over),
                      "max_failed_percent": a.max_pct, "tolerated_percent": a.tolerated if a.tolerated > 0 else None,
                      "tolerated_count": count},
            recommendation=("Fix the failing item processor or add Retry/Catch inside the ItemProcessor; "
                            "if failures are expected, raise ToleratedFailurePercentage deliberately and "
                            "send failed items to a dead-letter destination (ResultWriter)."),
            monthly_usd=0.0, executions_affected=int(a.n),
            sample_execution_ids=samples.get((a.m_cloud, a.m_wf, a.m_name), []),
        ))
    return out


MAP_RUN_FAILED_COUNTS = ("failed", "timedOut", "aborted")


def map_run_budget(run: dict[str, Any]) -> tuple[int, float] | None:
    """(failed items, allowed failures) of one Distributed Map Run, or None without a tolerance.

    Step Functions fails a Map Run when failed items exceed ToleratedFailurePercentage of the
    items or ToleratedFailureCount, whichever is reached first; with neither set, the first
    failure fails it (a failing step, not a budget).
    """
    counts = run.get("item_counts") or {}
    total = int(counts.get("total") or 0)
    failed = sum(int(counts.get(k) or 0) for k in MAP_RUN_FAILED_COUNTS)
    limits = []
    if run.get("tolerated_failure_percentage"):
        limits.append(float(run["tolerated_failure_percentage"]) / 100.0 * total)
    if run.get("tolerated_failure_count"):
        limits.append(float(run["tolerated_failure_count"]))
    if not limits or total == 0:
        return None
    return failed, min(limits)


def distributed_map_budgets(ctx: Context) -> list[Finding]:
    """Distributed Map Runs near their tolerated failures, from the counts DescribeMapRun gave the
    collector (`executions.attributes.map_runs`); only parents of map runs are read."""
    th = ctx.thresholds
    if C.attributes in ctx.always_null("executions"):
        return []                  # no run has attributes: no map runs were collected
    e = ctx.in_window(ctx.table("executions"))
    e = e.filter((e[C.cloud] == str(Cloud.AWS)) & e[C.attributes].contains('"map_runs"'))
    parents = execute(e.select(C.cloud, C.workflow_id, C.execution_id, C.attributes))
    groups: dict[tuple[str, str, str], list[tuple[str, int, float]]] = {}
    for row in parents.itertuples(index=False):
        try:
            runs = json.loads(row.attributes).get("map_runs") or []
        except (TypeError, ValueError, AttributeError):
            continue
        for run in runs:
            budget = map_run_budget(run) if isinstance(run, dict) else None
            if budget is None:
                continue
            failed, allowed = budget
            if failed and failed >= allowed * th.map_failure_budget_ratio:
                key = (row.cloud, row.workflow_id, str(run.get("state_name") or "Map"))
                groups.setdefault(key, []).append((row.execution_id, failed, allowed))
    out = []
    for (cloud, wf_id, state), hits in sorted(groups.items()):
        wf_name = ctx.workflow_name(cloud, wf_id)
        over = sum(1 for _, failed, allowed in hits if failed > allowed)
        worst = max(hits, key=lambda h: h[1] / max(h[2], 1e-9))
        out.append(Finding(
            kind=FindingKind.MAP_FAILURE_BUDGET,
            severity=Severity.HIGH if over else Severity.MEDIUM,
            cloud=cloud, workflow=wf_name, workflow_id=wf_id, step=state,
            window_start=ctx.since, window_end=ctx.until,
            title=(f"Distributed Map {state} in {wf_name}: {len(hits)} map run(s) used "
                   f"{worst[1]} of {worst[2]:g} tolerated item failures"
                   + (f", {over} exceeded it" if over else "")),
            evidence={"map_runs_near_budget": len(hits), "map_runs_over_budget": over,
                      "worst_failed_items": worst[1], "worst_allowed_failures": worst[2]},
            recommendation=("Fix the failing item processor or add Retry/Catch inside the ItemProcessor; "
                            "if failures are expected, raise ToleratedFailurePercentage/Count deliberately "
                            "and send failed items to a dead-letter destination (ResultWriter)."),
            monthly_usd=0.0, executions_affected=len(hits),
            sample_execution_ids=[h[0] for h in sorted(hits, key=lambda h: -h[1])[:5]],
        ))
    return out
