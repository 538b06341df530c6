"""The Consumption-vs-Standard what-if prices a Standard workflow by the App Service plan the Azure
collector read (`attributes.app_service_plan`: SKU size x instances), and says which plan it used."""

import datetime as dt
import json

import pandas as pd
import pytest

from flowscope.analysis import analyze, measures, pricing
from flowscope.model import Kind, Meter, StepType
from tests.analysis.helpers import T0, World, at, plan_findings, standard_workflows

UNTIL = T0 + dt.timedelta(days=2)


def what_if(attributes: str | None):
    w = World()
    wf = w.workflow("ledger", cloud="azure", kind=Kind.LOGICAPP_STANDARD, attributes=attributes)
    ex = w.execution(wf, at(minutes=1), cloud="azure")
    w.step(ex, "Compose", at(minutes=1), type=StepType.PASS, meter=Meter.AZURE_LOGIC_BUILTIN_ACTION, quantity=10)
    df = analyze(w.tables(), since=T0, until=UNTIL, now=UNTIL)
    found = df[df["kind"] == "plan_what_if"]
    assert len(found) == 1 and found.iloc[0].evidence["what_if_plan"] == "Consumption"
    said = found.iloc[0].title + found.iloc[0].recommendation
    assumed = found.iloc[0].evidence["standard_plan"]["source"] == "assumed"
    # a saving that rests on an assumed plan fee (one no spend total holds) says so where it is read
    assert ("its Standard plan assumed" in said and "The plan's fee is assumed" in said) == assumed, said
    return found.iloc[0].evidence


def test_a_known_plan_replaces_the_assumed_plan_size():
    plan = {"sku": "WS2", "tier": "WorkflowStandard", "instances": 3, "vcpu": 2.0, "memory_gb": 7.0}
    evidence = what_if(json.dumps({"app_service_plan": plan}))
    expected = pricing.standard_plan_monthly(6.0, 21.0, on=UNTIL.date(), hours=720)
    assert evidence["current_monthly_usd"] == pytest.approx(expected)
    assert evidence["standard_plan_monthly_usd"] == pytest.approx(expected)
    assert evidence["standard_plan"] == {"source": "app_service_plan", "sku": "WS2", "instances": 3, "vcpu": 2.0,
                                         "memory_gb": 7.0}


@pytest.mark.parametrize("attributes", [
    None,
    json.dumps({"app_service_plan": {"sku": "P1V3", "instances": 2}}),     # no Workflow Standard size
    json.dumps({"app_service_plan": {"sku": "WS1", "instances": 0, "vcpu": 1, "memory_gb": 3.5}}),
    "not json",
])
def test_without_a_usable_plan_the_thresholds_plan_is_assumed_and_said(attributes):
    evidence = what_if(attributes)
    assumed = pricing.standard_plan_monthly(1.0, 3.5, on=UNTIL.date(), hours=720)
    assert evidence["current_monthly_usd"] == pytest.approx(assumed)
    assert evidence["standard_plan"]["source"] == "assumed" and evidence["standard_plan"]["vcpu"] == 1.0


WS1_MONTHLY = (0.192 + 3.5 * 0.0137) * 720          # $172.764: one WS1 instance for a 30-day month [AZ-LA]
OPS_MONTHLY = 10 * 15 * 0.000025                      # 10 built-in operations in 2 days: 150 a month, $0.00375


def _plan(name: str | None) -> dict:
    plan = {"sku": "WS1", "tier": "WorkflowStandard", "instances": 1, "vcpu": 1.0, "memory_gb": 3.5}
    return plan if name is None else {**plan, "id": f"/subscriptions/s/resourcegroups/rg/providers/microsoft.web/"
                                                    f"serverfarms/{name}"}


@pytest.mark.slow
@pytest.mark.parametrize("apps_and_plans, findings, savings", [
    # three workflows of one app on one WS1: the fee once, minus their three workflows' operations
    ([("app1", "asp1")] * 3, 1, WS1_MONTHLY - 3 * OPS_MONTHLY),
    # two apps on one plan: still one fee
    ([("app1", "asp1"), ("app2", "asp1")], 1, WS1_MONTHLY - 2 * OPS_MONTHLY),
    # two apps on two plans: two fees
    ([("app1", "asp1"), ("app2", "asp2")], 2, 2 * (WS1_MONTHLY - OPS_MONTHLY)),
    # a plan read without its id: the workflows of one app share its plan
    ([("app1", None)] * 2, 1, WS1_MONTHLY - 2 * OPS_MONTHLY),
    # a deployment slot on its production app's plan: the fee once
    ([("app1", "asp1"), ("app1/slots/staging", "asp1")], 1, WS1_MONTHLY - 2 * OPS_MONTHLY),
    # a slot is an app of its own (`Microsoft.Web/sites/slots`): a plan of its own read without its id is not
    # its production app's
    ([("app1", None), ("app1/slots/staging", None)], 2, 2 * (WS1_MONTHLY - OPS_MONTHLY)),
])
def test_a_plan_shared_by_workflows_is_one_saving(apps_and_plans, findings, savings):
    w = World()
    standard_workflows(w, [(app, _plan(plan)) for app, plan in apps_and_plans])
    df = analyze(w.tables(), since=T0, until=UNTIL, now=UNTIL)
    found = df[df["kind"] == "plan_what_if"]
    assert len(found) == findings
    assert found["monthly_usd"].sum() == pytest.approx(savings)
    assert measures.potential_savings(df.to_dict("records")) == pytest.approx(savings)
    if len(apps_and_plans) > findings == 1:
        assert found.iloc[0].evidence["plan_workflows"] == [f"wf{i}" for i in range(len(apps_and_plans))]
        assert "moving some of them saves nothing" in found.iloc[0].recommendation


@pytest.mark.slow
@pytest.mark.parametrize("meter, retry_units, billable_units", [
    # a retried built-in HTTP action on Standard: its tries are paid in plan hours, no unit is billed
    (Meter.AZURE_LOGIC_BUILTIN_ACTION, 0.0, 0.0),
    # a retried managed connector call is billed per call on Standard too: 3 tries, 2 of them retries
    (Meter.AZURE_LOGIC_STANDARD_CONNECTOR, 2.0, 3.0),
])
def test_retries_share_of_a_standard_workflow_counts_only_units_billed_per_unit(meter, retry_units, billable_units):
    w = World()
    wf = w.workflow("ledger", cloud="azure", kind=Kind.LOGICAPP_STANDARD)
    ex = w.execution(wf, at(minutes=1), cloud="azure")
    w.step(ex, "Compose", at(minutes=1), type=StepType.PASS, meter=Meter.AZURE_LOGIC_BUILTIN_ACTION, quantity=10)
    w.step(ex, "Call", at(minutes=2), type=StepType.TASK, meter=meter, quantity=3, attempts=3)
    df = analyze(w.tables(), since=T0, until=UNTIL, now=UNTIL)
    found = df[df["kind"] == "plan_what_if"].iloc[0]
    assert found.evidence["retry_units"] == pytest.approx(retry_units)
    share = retry_units / billable_units if billable_units else 0.0
    assert found.evidence["retry_share"] == pytest.approx(share)
    assert ("retries are" in found.title) == (share >= 0.1)


@pytest.mark.parametrize("month_days", [30.0, 31.0, 7.0])
def test_the_plan_fee_is_for_the_month_the_usage_is_projected_over(month_days):
    """The plan fee and the operations are priced for one month, `monthly_days` long: the fee was 730
    hours whatever that month was, so a 7-day "month" set a month's fee against a week's operations."""
    w = World()
    wf = w.workflow("ledger", cloud="azure", kind=Kind.LOGICAPP_STANDARD)
    ex = w.execution(wf, at(minutes=1), cloud="azure")
    w.step(ex, "Compose", at(minutes=1), type=StepType.PASS, meter=Meter.AZURE_LOGIC_BUILTIN_ACTION, quantity=10)
    df = analyze(w.tables(), since=T0, until=UNTIL, now=UNTIL, thresholds={"monthly_days": month_days})
    ev = df[df["kind"] == "plan_what_if"].iloc[0].evidence
    fee = (0.192 + 3.5 * 0.0137) * 24 * month_days
    assert (ev["standard_plan_monthly_usd"], ev["current_monthly_usd"], ev["what_if_monthly_usd"]) == pytest.approx(
        (fee, fee, 10 * 0.000025 * month_days / 2))


def test_a_shared_plan_is_judged_with_all_its_workflows_under_a_workflow_filter():
    """Three workflows on one WS1, analysed with `--workflow wf0`: the what-if judged the plan by wf0 alone and
    said moving wf0 to Consumption would save the whole $173 fee, which wf1 and wf2 still need. Under a
    filter the plan is judged with every workflow on it, and its finding is the unfiltered analysis's (on the
    busiest, wf2): shown when wf2 is selected, not said of wf0 (`suite.select_findings`' rule)."""
    w = World()
    standard_workflows(w, [("app1", _plan("asp1"))] * 3, quantity=lambda i: 10 * (i + 1))
    everything = plan_findings(w, UNTIL)
    assert everything["workflow"].tolist() == ["wf2"]
    assert plan_findings(w, UNTIL, ["wf0"]).empty
    pd.testing.assert_frame_equal(plan_findings(w, UNTIL, ["wf2"]), everything)
    pd.testing.assert_frame_equal(plan_findings(w, UNTIL, ["wf0", "wf2"]), everything)


def test_a_plan_billed_in_the_usage_is_said_as_billed_not_assumed():
    """A Standard workflow with no plan read but the plan's hours in its usage (an export that carried the App
    Service meters) is priced by those hours (`current_monthly_usd`) and is not an assumed fee
    (`assumed_current_plan` false, no "assumed" in its title): its evidence's `standard_plan` said
    `source: assumed` with the thresholds' WS1 size beside it all the same."""
    w = World()
    wf = w.workflow("ledger", cloud="azure", kind=Kind.LOGICAPP_STANDARD)
    ex = w.execution(wf, at(minutes=1), cloud="azure")
    w.step(ex, "Compose", at(minutes=1), type=StepType.PASS, meter=Meter.AZURE_LOGIC_BUILTIN_ACTION, quantity=10)
    w.usage(ex, None, Meter.AZURE_LOGIC_STANDARD_PLAN_VCPU_HOUR, 48.0)        # 1 vCPU for the 2 days
    w.usage(ex, None, Meter.AZURE_LOGIC_STANDARD_PLAN_GB_HOUR, 48.0 * 3.5)
    df = analyze(w.tables(), since=T0, until=UNTIL, now=UNTIL)
    found = df[df["kind"] == "plan_what_if"]
    assert len(found) == 1
    evidence = found.iloc[0].evidence
    assert evidence["assumed_current_plan"] is False and "assumed" not in found.iloc[0].title
    assert evidence["current_monthly_usd"] == pytest.approx(WS1_MONTHLY, rel=1e-6)
    assert evidence["standard_plan"] == {"source": "usage", "sku": None, "instances": None, "vcpu": None,
                                         "memory_gb": None}
