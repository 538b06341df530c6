"""`azure_ids.site_of`: the Standard app a Logic Apps workflow id belongs to (one derivation for the
collector's stopped apps and plans, and the cost analysis' shared plan fee)."""

from __future__ import annotations

import json

import pytest

from flowscope.azure_ids import site_of
from flowscope.model import C

SITE = "/subscriptions/s/resourcegroups/rg/providers/microsoft.web/sites/app"


@pytest.mark.parametrize(("workflow_id", "site"), [
    (f"{SITE}/workflows/orders", SITE),
    # Consumption: no site (a `/workflows/` directly under microsoft.logic)
    ("/subscriptions/s/resourcegroups/rg/providers/microsoft.logic/workflows/orders", None),
    # ARM ids are case-insensitive: the site is found in any case and returned as written
    ("/subscriptions/S/resourceGroups/RG/providers/Microsoft.Web/sites/App/workflows/Orders",
     "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Web/sites/App"),
    # a resource group, an app or a workflow named "workflows"
    ("/subscriptions/s/resourcegroups/workflows/providers/microsoft.web/sites/app/workflows/orders",
     "/subscriptions/s/resourcegroups/workflows/providers/microsoft.web/sites/app"),
    (f"{SITE[:-3]}workflows/workflows/workflows", f"{SITE[:-3]}workflows"),
    (f"{SITE}", SITE),
    ("", None),
    ("orders", None),
])
def test_site_of(workflow_id: str, site: str | None) -> None:
    assert site_of(workflow_id) == site


def test_the_workflows_of_an_app_in_a_resource_group_named_workflows_get_their_plan() -> None:
    """A Standard app in a resource group named "workflows": its site was read as
    `/subscriptions/s/resourcegroups` (the id cut at its first `/workflows/`), so its workflows
    were stored without their app's plan and costed at the configured plan size."""
    from flowscope.collectors.azure.standard import PLAN_KEY, with_plans
    from flowscope.model import Batch

    site = "/subscriptions/s/resourcegroups/workflows/providers/microsoft.web/sites/app"
    plan = {"sku": "WS2", "instances": 2, "vcpu": 2.0, "memory_gb": 7.0}
    batch = with_plans(Batch(workflows=[{C.workflow_id: f"{site}/workflows/orders"}]), {site: plan})
    [row] = batch.workflows
    assert json.loads(row[C.attributes])[PLAN_KEY] == plan


SLOT = f"{SITE}/slots/staging"


@pytest.mark.parametrize(("workflow_id", "app"), [
    (f"{SLOT}/workflows/orders", SLOT),
    (f"{SLOT}/workflows/orders/runs/r1", SLOT),
    ("/subscriptions/S/resourceGroups/RG/providers/Microsoft.Web/sites/App/Slots/Staging/workflows/Orders",
     "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Web/sites/App/Slots/Staging"),
    (f"{SITE}/workflows/slots", SITE),                     # a workflow named "slots" is no slot
])
def test_a_deployment_slots_workflow_belongs_to_the_slot(workflow_id: str, app: str) -> None:
    """A slot is an app of its own (ARM `Microsoft.Web/sites/slots`: its own `serverFarmId` and state), and a
    slot's workflow ids keep `/slots/<slot>`: `site_of` returned the production app, so a slot was priced with
    the production app's plan and read as stopped when production was."""
    from flowscope.azure_ids import in_slot, production_site_of

    assert site_of(workflow_id) == app
    assert in_slot(workflow_id) == ("/slots/" in app.lower())
    assert production_site_of(workflow_id) == app.split("/slots/")[0].split("/Slots/")[0]
    assert production_site_of(f"{SITE}/workflows/orders") == SITE
    assert production_site_of("/subscriptions/s/resourcegroups/rg/providers/microsoft.logic/workflows/o") is None


def test_a_slots_workflow_gets_its_slots_plan_else_its_production_apps_saying_so() -> None:
    from flowscope.collectors.azure.standard import PLAN_KEY, with_plans
    from flowscope.model import Batch

    site_plan = {"id": "/subscriptions/s/resourcegroups/rg/providers/microsoft.web/serverfarms/asp1", "sku": "WS1"}
    slot_plan = {"id": "/subscriptions/s/resourcegroups/rg/providers/microsoft.web/serverfarms/asp2", "sku": "WS2"}
    rows = [{C.workflow_id: f"{SITE}/workflows/orders"}, {C.workflow_id: f"{SLOT}/workflows/orders"}]
    both = with_plans(Batch(workflows=[dict(r) for r in rows]), {SITE: site_plan, SLOT: slot_plan})
    assert [json.loads(r[C.attributes])[PLAN_KEY] for r in both.workflows] == [site_plan, slot_plan]
    site_only = with_plans(Batch(workflows=[dict(r) for r in rows]), {SITE: site_plan})
    production, slot = (json.loads(r[C.attributes])[PLAN_KEY] for r in site_only.workflows)
    assert production == site_plan
    assert slot == {**site_plan, "of_app": SITE}          # the production app's plan, and said to be


def test_a_slot_is_not_stopped_because_its_production_app_is() -> None:
    import types

    from flowscope.collectors.azure.standard import of_stopped_app

    sc = types.SimpleNamespace(stopped_sites={SITE})
    assert of_stopped_app(sc, f"{SITE}/workflows/orders")                    # type: ignore[arg-type]
    assert not of_stopped_app(sc, f"{SLOT}/workflows/orders")               # type: ignore[arg-type]
    assert of_stopped_app(types.SimpleNamespace(stopped_sites={SLOT}), f"{SLOT}/workflows/orders")  # type: ignore[arg-type]


def test_a_plan_read_without_its_id_is_named_by_the_id_it_was_read_at() -> None:
    """The cost analysis judges the workflows of one plan together by the plan's id, else by their app
    (`analysis.cost._plan_key`): a slot given its production app's plan, read without an id, was a plan of
    its own there, its fee counted twice. A plan is named by the `serverFarmId` it was read at then."""
    import datetime as dt
    import types

    from flowscope.collectors.azure.standard import read_plans
    from flowscope.collectors.window import ScopeResult

    farm = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/serverfarms/ASP1"

    class Client:
        def get(self, path: str, **_: object) -> dict:
            return {"sku": {"name": "WS1"}} if path.lower() == farm.lower() else {"id": "x", "sku": {"name": "WS2"}}

    sc = types.SimpleNamespace(client=Client(), concurrency=1,
                               result=ScopeResult(cloud="azure", scope="azure:s", started_at=dt.datetime.now(dt.UTC)))
    plans = read_plans(sc, {SITE: farm})                   # type: ignore[arg-type]
    assert plans == {SITE: {"id": farm.lower(), "sku": "WS1", "instances": 1, "vcpu": 1.0, "memory_gb": 3.5}}
