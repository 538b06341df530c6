"""The `plan_what_if` analysis: an Azure logic app priced on the other hosting plan (Consumption or
Standard). Standard workflows are judged per App Service plan (`standard_plans`, `_plan_key`): its fee is
paid once for all the workflows on it and saved only when every one of them moves.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from flowscope.analysis import pricing
from flowscope.analysis.base import Context, Finding, FindingKind, Severity, execute
from flowscope.analysis.cost_reads import workflow_costs
from flowscope.analysis.costly_steps import money_severity
from flowscope.format import fmt_usd
from flowscope.model import C, Cloud, Kind, Meter


def _lower(severity: Severity) -> Severity:
    """One band below (low stays low): a saving that rests on an assumed plan fee, which no spend holds."""
    return {Severity.HIGH: Severity.MEDIUM, Severity.MEDIUM: Severity.LOW}.get(severity, severity)


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
