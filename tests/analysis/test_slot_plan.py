"""An imported deployment slot's workflow (`.../sites/<app>/slots/<slot>/workflows/<name>`) carries no App Service
plan (an export holds none), so the what-if priced each as an assumed WS1 of its own: a slot on its production
app's plan paid that fee a second time. A Standard workflow whose plan is unknown now gets the plan read for its
app's other workflows, else, in a slot, its production app's (which a slot runs on unless given its own,
docs/azure.md), one fee for the shared plan, and the finding's evidence names the workflows it was lent to
(`plan_from_their_app`); when neither is known, one assumed WS1 for the app's and its slots' plan-less workflows."""

import datetime as dt

import pytest

from flowscope.analysis import analyze, measures
from tests.analysis.helpers import T0, World, standard_workflows

UNTIL = T0 + dt.timedelta(days=2)
WS1_MONTHLY = (0.192 + 3.5 * 0.0137) * 720          # $172.764: one WS1 instance for a 30-day month [AZ-LA]
WS2_MONTHLY = (2 * 0.192 + 7 * 0.0137) * 720
OPS_MONTHLY = 10 * 15 * 0.000025                      # 10 built-in operations in 2 days: 150 a month


def _plan(name: str | None, sku: str = "WS1") -> dict:
    size = {"WS1": (1.0, 3.5), "WS2": (2.0, 7.0)}[sku]
    plan = {"sku": sku, "tier": "WorkflowStandard", "instances": 1, "vcpu": size[0], "memory_gb": size[1]}
    return plan if name is None else {**plan, "id": f"/subscriptions/s/resourcegroups/rg/providers/microsoft.web/"
                                                    f"serverfarms/{name}"}


NO_PLAN = "no plan"

CASES = {
    # a slot imported without a plan, its production app's read: one fee, lent to the slot and said
    "slot on production's plan": ([("app1", _plan("asp1")), ("app1/slots/staging", NO_PLAN)],
                                  [(WS1_MONTHLY - 2 * OPS_MONTHLY, False, ["wf1"])]),
    # production's plan read without its id: still one fee (the slot keyed by the app that lent it)
    "production's plan without id": ([("app1", _plan(None)), ("app1/slots/staging", NO_PLAN)],
                                     [(WS1_MONTHLY - 2 * OPS_MONTHLY, False, ["wf1"])]),
    # the lent plan is production's size, not the assumed WS1
    "production on a WS2": ([("app1", _plan("asp1", "WS2")), ("app1/slots/staging", NO_PLAN)],
                            [(WS2_MONTHLY - 2 * OPS_MONTHLY, False, ["wf1"])]),
    # ARM ids are case-insensitive: the slot's production app written in another case is that app
    "another case": ([("App1", _plan("asp1")), ("app1/slots/staging", NO_PLAN)],
                     [(WS1_MONTHLY - 2 * OPS_MONTHLY, False, ["wf1"])]),
    # a slot with a plan of its own read keeps it: two plans, two fees, nothing lent
    "slot on its own plan": ([("app1", _plan("asp1")), ("app1/slots/staging", _plan("asp2"))],
                             [(WS1_MONTHLY - OPS_MONTHLY, False, None), (WS1_MONTHLY - OPS_MONTHLY, False, None)]),
    # the slot's own plan read for another of its workflows comes before production's
    "slot sibling's plan first": ([("app1", _plan("asp1")), ("app1/slots/staging", _plan("asp2")),
                                   ("app1/slots/staging", NO_PLAN)],
                                  [(WS1_MONTHLY - OPS_MONTHLY, False, None),
                                   (WS1_MONTHLY - 2 * OPS_MONTHLY, False, ["wf2"])]),
    # an app runs on one plan: one of its workflows imported without it gets the one read for the others
    "production sibling's plan": ([("app1", _plan("asp1")), ("app1", NO_PLAN)],
                                  [(WS1_MONTHLY - 2 * OPS_MONTHLY, False, ["wf1"])]),
    # another app's plan is never lent
    "another app's plan": ([("app2", _plan("asp1")), ("app1/slots/staging", NO_PLAN)],
                           [(WS1_MONTHLY - OPS_MONTHLY, False, None), (WS1_MONTHLY - OPS_MONTHLY, True, None)]),
    # neither known: one assumed WS1 for both, the slot on its production app's plan (an assumed fee per
    # workflow read two fees for one plan)
    "neither known": ([("app1", NO_PLAN), ("app1/slots/staging", NO_PLAN)],
                      [(WS1_MONTHLY - 2 * OPS_MONTHLY, True, None)]),
    "slot alone": ([("app1/slots/staging", NO_PLAN)], [(WS1_MONTHLY - OPS_MONTHLY, True, None)]),
}


@pytest.mark.parametrize("apps_and_plans, expected", list(CASES.values()), ids=list(CASES))
def test_a_slot_without_a_plan_is_priced_by_its_production_apps(apps_and_plans, expected):
    w = World()
    standard_workflows(w, [(app, None if plan == NO_PLAN else plan) for app, plan in apps_and_plans])
    df = analyze(w.tables(), since=T0, until=UNTIL, now=UNTIL)
    found = df[df["kind"] == "plan_what_if"]
    got = sorted((f.monthly_usd, f.evidence["assumed_current_plan"], f.evidence.get("plan_from_their_app"))
                 for f in found.itertuples())
    assert len(got) == len(expected)
    for (saving, assumed, lent), (want_saving, want_assumed, want_lent) in zip(got, sorted(expected), strict=True):
        assert saving == pytest.approx(want_saving)
        assert (assumed, lent) == (want_assumed, want_lent)
    summed = sum(saving for saving, assumed, _ in expected if not assumed)      # an assumed fee is listed, not summed
    assert measures.potential_savings(df.to_dict("records")) == pytest.approx(summed)
    for f in found.itertuples():          # the plan said is the one read, never the lent copy
        assert "of_app" not in f.evidence["standard_plan"] or f.evidence["plan_from_their_app"]
