"""The `polling_loop` analysis: a Wait visited again and again in one execution with the steps that check
in its cycle, priced by the loop's share of each of those steps' visits.

A window is searched only when its Wait visits could make one loop (`_may_poll`, from the shared step read).
"""

from __future__ import annotations

from flowscope.analysis.base import (
    CONTAINER_TYPES,
    Context,
    Finding,
    FindingKind,
    execute,
    picked_by,
    sample_rank,
    sample_rows,
)
from flowscope.analysis.cost_reads import step_costs
from flowscope.analysis.costly_steps import money_severity
from flowscope.analysis.step_stats import _step_window_groups, _this_window, step_stats
from flowscope.model import C, Cloud, Kind, StepType


def _may_poll(ctx: Context) -> bool:
    """Whether the window's Wait steps have as many visits as one polling execution needs
    (`polling_min_visits` of one Wait), from the shared read of the steps (`_step_window_groups`), which
    the analysis makes anyway: a window without is not searched for loops (the search was a query of its own,
    0.04 s of CPU on the 1M dashboard store's 7 days, which has no Wait step)."""
    g = _step_window_groups(ctx)
    waits = g.loc[_this_window(g) & (g[C.type] == str(StepType.WAIT)).fillna(False), "visits"]
    return int(waits.sum()) >= ctx.thresholds.polling_min_visits


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
