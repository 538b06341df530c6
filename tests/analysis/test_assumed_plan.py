"""Standard workflows whose App Service plan is not known (imported: an export carries none) were each priced as
an assumed WS1 of their own, so an app with three such workflows read three $173 fees, where an app runs on one
plan (and a deployment slot on its production app's, unless given its own: docs/azure.md). The plan-less
workflows of one app (a slot's with its production app's) now share one assumed plan, as workflows on a known
plan share it: one finding, its fee once, on the busiest workflow, naming them all."""

import datetime as dt

import pandas as pd
import pytest

from flowscope.analysis import analyze, measures
from tests.analysis.helpers import STANDARD_SITES as SITES
from tests.analysis.helpers import T0, World, plan_findings, standard_workflows

UNTIL = T0 + dt.timedelta(days=2)
WS1_MONTHLY = (0.192 + 3.5 * 0.0137) * 720          # $172.764: one WS1 instance for a 30-day month [AZ-LA]
OPS_MONTHLY = 10 * 15 * 0.000025                      # 10 built-in operations in 2 days: 150 a month
NO_PLAN = "no plan"
OWN_PLAN = {"id": "/subscriptions/s/resourcegroups/rg/providers/microsoft.web/serverfarms/asp2", "sku": "WS1",
            "tier": "WorkflowStandard", "instances": 1, "vcpu": 1.0, "memory_gb": 3.5}


def _world(apps_and_plans: list[tuple[str, object]]) -> World:
    """Workflow i (`wf{i}`) of each (app, plan) with 10 x (i + 1) built-in operations: the last is the busiest."""
    w = World()
    standard_workflows(w, [(app, None if plan == NO_PLAN else plan) for app, plan in apps_and_plans],
                       quantity=lambda i: 10 * (i + 1))
    return w


CASES = {
    # one app, three plan-less workflows: one assumed fee, on the busiest, naming all three
    "three in one app": ([("app1", NO_PLAN)] * 3,
                         [(WS1_MONTHLY - 6 * OPS_MONTHLY, True, "wf2", ["wf0", "wf1", "wf2"])]),
    # two apps: two plans, two fees
    "two apps": ([("app1", NO_PLAN), ("app1", NO_PLAN), ("app2", NO_PLAN)],
                 [(WS1_MONTHLY - 3 * OPS_MONTHLY, True, "wf1", ["wf0", "wf1"]),
                  (WS1_MONTHLY - 3 * OPS_MONTHLY, True, "wf2", ["wf2"])]),
    # a slot runs on its production app's plan unless given its own: neither known, one assumed fee
    "slot and production": ([("app1", NO_PLAN), ("app1/slots/staging", NO_PLAN)],
                            [(WS1_MONTHLY - 3 * OPS_MONTHLY, True, "wf1", ["wf0", "wf1"])]),
    # another case of the same app is that app (ARM ids are case-insensitive)
    "another case": ([("App1", NO_PLAN), ("app1/slots/staging", NO_PLAN)],
                     [(WS1_MONTHLY - 3 * OPS_MONTHLY, True, "wf1", ["wf0", "wf1"])]),
    # a slot given its own plan (read) keeps it: production's plan-less workflows are assumed apart
    "slot on its own plan": ([("app1", NO_PLAN), ("app1", NO_PLAN), ("app1/slots/staging", OWN_PLAN)],
                             [(WS1_MONTHLY - 3 * OPS_MONTHLY, True, "wf1", ["wf0", "wf1"]),
                              (WS1_MONTHLY - 3 * OPS_MONTHLY, False, "wf2", ["wf2"])]),
}


@pytest.mark.parametrize("apps_and_plans, expected", list(CASES.values()), ids=list(CASES))
def test_the_plan_less_workflows_of_one_app_share_one_assumed_plan(apps_and_plans, expected):
    df = analyze(_world(apps_and_plans).tables(), since=T0, until=UNTIL, now=UNTIL)
    found = df[df["kind"] == "plan_what_if"].sort_values("workflow")
    got = [(f.monthly_usd, f.evidence["assumed_current_plan"], f.workflow, f.evidence["plan_workflows"])
           for f in found.itertuples()]
    assert len(got) == len(expected), got
    for (saving, assumed, where, names), (want_saving, want_assumed, want_where, want_names) in zip(
            got, expected, strict=True):
        assert saving == pytest.approx(want_saving)
        assert (assumed, where, names) == (want_assumed, want_where, want_names)
    for f in found.itertuples():
        ev = f.evidence
        assert (ev["standard_plan"]["source"] == "assumed") == ev["assumed_current_plan"]
        assert ev["standard_plan_monthly_usd"] == pytest.approx(WS1_MONTHLY)
        if ev["assumed_current_plan"] and len(ev["plan_workflows"]) > 1:
            # said: one assumed plan for the app's workflows, its fee once
            assert ev["standard_plan"]["app"].lower() == SITES + "app1"
            said = f"one WS1 for its app's {len(ev['plan_workflows'])} workflows"
            assert said in f.title and "of its own" not in f.title, f.title
            assert "The plan's fee is assumed" in f.recommendation, f.recommendation
    # an assumed fee is listed, never summed (nor in any spend total)
    summed = sum(s for s, assumed, _, _ in expected if not assumed)
    assert measures.potential_savings(df.to_dict("records")) == pytest.approx(summed)


def test_a_plan_less_workflow_alone_in_its_app_is_said_as_before():
    df = analyze(_world([("app1", NO_PLAN)]).tables(), since=T0, until=UNTIL, now=UNTIL)
    f = df[df["kind"] == "plan_what_if"].iloc[0]
    assert "(its Standard plan assumed: a WS1 of its own, " in f.title
    assert "The plan's fee is assumed (one WS1 instance hosting only this workflow)" in f.recommendation
    assert f.evidence["standard_plan"] == {"source": "assumed", "sku": None, "instances": 1, "vcpu": 1.0,
                                           "memory_gb": 3.5}


def test_an_assumed_plan_is_judged_with_all_its_apps_workflows_under_a_workflow_filter():
    """As for a known plan: under `--workflow wf0` the assumed plan is still the app's three workflows', and its
    finding is the unfiltered analysis's, shown only when its busiest workflow (wf2) is selected."""
    w = _world([("app1", NO_PLAN)] * 3)
    everything = plan_findings(w, UNTIL)
    assert everything["workflow"].tolist() == ["wf2"]
    assert plan_findings(w, UNTIL, ["wf0"]).empty
    pd.testing.assert_frame_equal(plan_findings(w, UNTIL, ["wf2"]), everything)
    pd.testing.assert_frame_equal(plan_findings(w, UNTIL, ["wf0", "wf2"]), everything)
