"""Deployment slots of a Logic Apps Standard app in a live sync: the slots (`{site}/slots`, WebApps_ListSlots)
and each slot's workflows (`{slot}/workflows`, WebApps_ListInstanceWorkflowsSlot) are listed and stored under
the slot's own workflow id, with the slot's own App Service plan. No documented API serves a slot's runs (the
site's workflow management API is documented under `{site}/hostruntime/...` only), so they are not asked for."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from flowscope.collectors.azure import clients
from flowscope.collectors.azure import collector as az
from flowscope.model import RunStatus
from flowscope.store import Store
from tests.azure.arm_server import ArmServer, server_farm, simulated_corpus, store_with_running_slot_run

SUB = "5f1e0c2a-7b3d-4e8f-9a10-b2c3d4e5f601"
NOW = dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)
SITE = f"/subscriptions/{SUB}/resourceGroups/flowscope-sim/providers/Microsoft.Web/sites/ledger-app"
SLOT = f"{SITE}/slots/staging"
WF = f"{SITE}/workflows/ledger-standard".lower()
SLOT_WF = f"{SLOT}/workflows/ledger-standard".lower()
HOSTRUNTIME = "/hostruntime/runtime/webhooks/workflow/api/management/workflows/"


@pytest.fixture(autouse=True)
def _token(monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_AZURE_TOKEN", "test-token")


def src(server, **kw):
    return {"cloud": "azure", "subscription_id": SUB, "arm_endpoint": server.endpoint, "metrics": False, **kw}


def slotted_corpus(executions: int = 60) -> list[dict]:
    """The simulator's subscription with a `staging` slot on its Standard app: the slot (ARM
    `Microsoft.Web/sites/slots`, its own plan), a workflow in it and that workflow's runs under the slot,
    both plans."""
    corpus = simulated_corpus(executions, standard=True)
    group = SITE.split("/sites/")[0]
    slot = {"id": SLOT, "name": "ledger-app/staging", "type": "Microsoft.Web/sites/slots",
            "kind": "functionapp,workflowapp", "location": "West Europe",
            "properties": {"state": "Running", "serverFarmId": f"{group}/serverfarms/ledger-staging-plan"}}
    production_wf = next(r for r in corpus if r["id"].lower() == WF)
    slot_wf = {**copy.deepcopy(production_wf), "id": f"{SLOT}/workflows/ledger-standard"}
    slot_runs = [{**copy.deepcopy(r), "id": r["id"].replace(f"/sites/ledger-app{HOSTRUNTIME}",
                                                            f"/sites/ledger-app/slots/staging{HOSTRUNTIME}")}
                 for r in corpus if f"/sites/ledger-app{HOSTRUNTIME}".lower() in r["id"].lower()
                 and r["type"].lower().endswith("/runs")][:3]
    assert slot_runs
    return [*corpus, slot, slot_wf, *slot_runs, server_farm(SITE, "ledger-app-plan", "WS2", workers=3),
            server_farm(SITE, "ledger-staging-plan", "WS1", workers=1)]


def test_a_slots_workflow_is_stored_under_the_slot_with_its_plan_and_its_runs_are_not_asked_for(tmp_path):
    """The live collector listed no slot: a slot's workflows never reached the store but by import. It now
    lists each running app's slots and their workflows (whose listing answers ids without the slot, as the
    REST example shows: re-rooted at the slot), prices them by the slot's own plan, and says that their runs
    are not read (no documented route; Microsoft documents that a non-production slot's workflows do not run)."""
    store = Store(tmp_path / "s")
    with ArmServer() as server:
        server.load_documents(slotted_corpus())
        client = clients.ArmClient(server.endpoint, clients.StaticTokenCredential(server.token))
        raw = client.get(f"{SLOT}/workflows", operation="check", params={"api-version": clients.WEB_API_VERSION})
        assert "/slots/" not in raw["value"][0]["id"]            # the slot's listing leaves the slot out
        [result] = az.sync(src(server, lag="30d"), store, now=NOW)
        asked = list(server.paths)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert not [p for p in asked if "/slots/" in p.lower() and "/hostruntime/" in p.lower()]
    calls = json.loads(result.row()["details"])["api"]["calls"]
    assert calls["slots.list"] == 1 and calls["slotWorkflows.list"] == 1 and set(calls) <= set(clients.PERMISSIONS)
    workflows = {w["workflow_id"]: w for w in store.read_rows("workflows")}
    assert {WF, SLOT_WF} <= set(workflows)
    assert workflows[SLOT_WF]["kind"] == "logicapp-standard"
    assert json.loads(workflows[SLOT_WF]["attributes"])["app_service_plan"]["sku"] == "WS1"     # the slot's own
    assert json.loads(workflows[WF]["attributes"])["app_service_plan"]["sku"] == "WS2"
    executions = store.read_rows("executions")
    assert [e for e in executions if e["workflow_id"] == WF]                # production's, under production
    assert not [e for e in executions if "/slots/" in e["execution_id"]]
    assert result.counts["slot_workflows"] == 1 and result.counts["standard_plans"] == 2
    assert {"ledger-app/ledger-standard", "ledger-app/staging/ledger-standard"} <= \
        set(json.loads(result.row()["details"])["workflows"])
    assert any("deployment slot" in w and "runs are not read" in w for w in result.warnings), result.warnings


def test_a_failing_slot_listing_is_a_recorded_error_naming_the_call_and_production_goes_on(tmp_path):
    with ArmServer() as server:
        server.load_documents(slotted_corpus())
        server.fault(r"/sites/ledger-app/slots$", 403, times=10)
        store = Store(tmp_path / "s")
        [result] = az.sync(src(server, lag="30d"), store, now=NOW)
    assert result.status == RunStatus.PARTIAL, result.row()
    [error] = result.errors
    assert error["operation"] == "slots.list" and "ledger-app" in str(error["target"]), error
    assert "slots.list" in result.row()["error"]
    assert result.watermark is not None                     # no run of the window is lost: the window moves on
    workflows = {w["workflow_id"] for w in store.read_rows("workflows")}
    assert WF in workflows and SLOT_WF not in workflows
    assert [e for e in store.read_rows("executions") if e["workflow_id"] == WF]


def test_a_failing_slot_workflows_listing_is_a_recorded_error_naming_the_call(tmp_path):
    with ArmServer() as server:
        server.load_documents(slotted_corpus())
        server.fault(r"/slots/staging/workflows$", 500, times=100)
        [result] = az.sync(src(server, lag="30d", max_attempts=1), Store(tmp_path / "s"), now=NOW)
    assert result.status == RunStatus.PARTIAL, result.row()
    assert [e["operation"] for e in result.errors] == ["slotWorkflows.list"]


def test_a_resync_lists_the_slot_again_and_stores_no_second_copy(tmp_path):
    corpus = slotted_corpus(120)
    store = Store(tmp_path / "s")
    with ArmServer() as server:
        server.load_documents(corpus)
        [first] = az.sync(src(server, lag="30d"), store, now=NOW)
        assert first.status == RunStatus.SUCCEEDED, first.row()
        before = store.read_rows("executions")
        server.counts.clear()
        [again] = az.sync(src(server, lag="1h"), store, now=NOW + dt.timedelta(hours=2))
        calls = json.loads(again.row()["details"])["api"]["calls"]
    assert again.status == RunStatus.SUCCEEDED, again.row()
    assert calls["slots.list"] == 1 and calls["slotWorkflows.list"] == 1
    running = [e for e in before if e["status"] == "RUNNING"]
    assert server.counts["runs.get"] == len(running) and server.counts["actions.list"] == len(running)
    assert server.run_detail_calls() == 2 * len(running)       # the still-running revisited; nothing else
    workflows = [w["workflow_id"] for w in store.read_rows("workflows")]
    assert workflows.count(SLOT_WF) == 1 and workflows.count(WF) == 1
    after = store.read_rows("executions")
    assert sorted(e["execution_id"] for e in after) == sorted(e["execution_id"] for e in before)


def test_a_stopped_slot_is_not_read(tmp_path):
    corpus = slotted_corpus()
    next(r for r in corpus if r["id"] == SLOT)["properties"]["state"] = "Stopped"
    with ArmServer() as server:
        server.load_documents(corpus)
        [result] = az.sync(src(server, lag="30d"), Store(tmp_path / "s"), now=NOW)
        calls = json.loads(result.row()["details"])["api"]["calls"]
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert "slotWorkflows.list" not in calls and result.counts["standard_slots_stopped"] == 1
    assert json.loads(result.row()["details"])["stopped_slots"] == [SLOT.lower()]


def test_a_stored_running_slot_run_is_still_left_as_stored_when_its_slot_is_listed(tmp_path):
    """Listing the slot gives no route to its runs: an imported running slot run is not asked about (no
    request under the slot's runtime), counted and said, the slot's workflow stored beside it."""
    store = store_with_running_slot_run(tmp_path, SLOT)
    with ArmServer() as server:
        server.load_documents(slotted_corpus())
        [result] = az.sync(src(server, lag="30d"), store, now=NOW)
        asked = list(server.paths)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert not [p for p in asked if "/slots/staging/" in p.lower() and "/runs" in p.lower()]
    assert result.counts["slot_runs_not_revisited"] == 1 and result.counts.get("running_gone", 0) == 0
    [row] = [e for e in store.read_rows("executions") if "/slots/" in e["execution_id"]]
    assert row["status"] == "RUNNING" and row["workflow_id"] == SLOT_WF
    assert SLOT_WF in {w["workflow_id"] for w in store.read_rows("workflows")}
