"""The `express_candidate` analysis: an AWS Standard state machine whose runs all end within Express's
5 minutes, none redriven, and that uses nothing Express cannot run (a callback, a .sync job, an activity:
`EXPRESS_BLOCKERS`), priced as Express.

What only steps, definitions and running runs can rule out is read for the candidates alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import ibis
import pandas as pd

from flowscope.analysis import pricing
from flowscope.analysis.base import Context, Finding, FindingKind, execute, lit_ts
from flowscope.analysis.cost_reads import workflow_costs, workflow_executions
from flowscope.analysis.costly_steps import money_severity
from flowscope.format import fmt_duration, fmt_usd
from flowscope.model import C, Cloud, Kind, Meter, Status


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
