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
