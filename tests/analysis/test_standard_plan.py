"""The Consumption-vs-Standard what-if prices a Standard workflow by the App Service plan the Azure
collector read (`attributes.app_service_plan`: SKU size x instances), and says which plan it used."""

import datetime as dt
import json

import pytest

from flowscope.analysis import analyze, pricing
from flowscope.model import Kind, Meter, StepType
from tests.analysis.helpers import T0, World, at

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
    expected = pricing.standard_plan_monthly(6.0, 21.0, on=UNTIL.date())
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
    assumed = pricing.standard_plan_monthly(1.0, 3.5, on=UNTIL.date())
    assert evidence["current_monthly_usd"] == pytest.approx(assumed)
    assert evidence["standard_plan"]["source"] == "assumed" and evidence["standard_plan"]["vcpu"] == 1.0
