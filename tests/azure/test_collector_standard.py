"""Logic Apps Standard: the sites of kind workflowapp, their workflows, and runs through the site's
workflow management API (whose ids leave the site out), collected like Consumption."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from flowscope.collectors.azure import arm, clients
from flowscope.collectors.azure import collector as az
from flowscope.model import RunStatus
from flowscope.store import Store
from tests.azure.arm_server import (
    ArmServer,
    import_reference,
    server_farm,
    simulated_corpus,
    snapshot,
    store_with_running_slot_run,
)

SUB = "5f1e0c2a-7b3d-4e8f-9a10-b2c3d4e5f601"
NOW = dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)
SITE = f"/subscriptions/{SUB}/resourceGroups/flowscope-sim/providers/Microsoft.Web/sites/ledger-app"
WF = f"/subscriptions/{SUB}/resourcegroups/flowscope-sim/providers/microsoft.web/sites/ledger-app/workflows/" \
     "ledger-standard"


@pytest.fixture(autouse=True)
def _token(monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_AZURE_TOKEN", "test-token")


def src(server, **kw):
    return {"cloud": "azure", "subscription_id": SUB, "arm_endpoint": server.endpoint, "metrics": False, **kw}


def test_standard_runs_are_collected_through_the_site_and_equal_the_import(tmp_path):
    corpus = simulated_corpus(120, standard=True)
    with ArmServer(page_size=20) as server:
        server.load_documents(corpus)
        client = clients.ArmClient(server.endpoint, clients.StaticTokenCredential(server.token))
        [run] = arm.list_runs(client, f"{SITE}/workflows/ledger-standard", None)[:1]
        raw = client.get(f"{SITE}/hostruntime/runtime/webhooks/workflow/api/management/workflows/ledger-standard/runs",
                         operation="check", params={"api-version": clients.WEB_API_VERSION})
        assert "/sites/" not in raw["value"][0]["id"]                      # the site's API leaves it out
        assert run["id"].lower().startswith(WF + "/runs/")                 # re-rooted at the site
        store = Store(tmp_path / "live")
        [result] = az.sync(src(server, lag="30d", request_histories=True), store, now=NOW)
        assert result.status == RunStatus.SUCCEEDED, result.row()
        assert server.counts["sites.get"] == 0 and server.counts["workflows.list"] >= 2   # Logic + the site's
    reference = import_reference([r for r in corpus if r["type"] != "Microsoft.Web/sites"], tmp_path / "ref")
    assert snapshot(store) == snapshot(reference)
    standard = [e for e in store.read_rows("executions") if e["workflow_id"] == WF]
    assert standard and {e["kind"] for e in standard} == {"logicapp-standard"}
    assert {w["kind"] for w in store.read_rows("workflows") if w["workflow_id"] == WF} == {"logicapp-standard"}


def test_standard_running_runs_are_revisited_through_the_site(tmp_path):
    corpus = simulated_corpus(120, standard=True)
    store = Store(tmp_path / "s")
    with ArmServer() as server:
        server.load_documents(corpus)
        assert az.sync(src(server, lag="30d"), store, now=NOW)[0].status == RunStatus.SUCCEEDED
        running = [e["execution_id"] for e in store.read_rows("executions") if e["status"] == "RUNNING"]
        assert len(running) == 2 and all(r.startswith(WF) for r in running)     # the simulator's stuck runs
        server.delete(next(r for r in corpus if r["id"].lower().endswith(running[1].rsplit("/", 1)[1]))["id"])
        server.counts.clear()
        [later] = az.sync(src(server, lag="1h"), store, now=NOW + dt.timedelta(days=3))
    assert later.status == RunStatus.SUCCEEDED, later.row()
    assert server.counts["runs.get"] == 2 and later.counts["running_gone"] == 1
    assert server.run_detail_calls() == 2 + 1            # two revisits, the actions of the one still running


def test_a_failing_sites_listing_is_recorded_and_consumption_goes_on(tmp_path):
    with ArmServer() as server:
        server.load_documents(simulated_corpus(40, standard=True))
        server.fault(r"/providers/Microsoft\.Web/sites$", 403, times=10)
        store = Store(tmp_path / "s")
        [result] = az.sync(src(server, lag="30d"), store, now=NOW)
    assert result.status == RunStatus.PARTIAL and result.errors[0]["operation"] == "sites.list"
    assert result.watermark is None
    kinds = {e["kind"] for e in store.read_rows("executions")}
    assert kinds == {"logicapp-consumption"}


def test_each_standard_apps_plan_is_read_once_into_its_workflows_attributes(tmp_path):
    with ArmServer() as server:
        server.load_documents([*simulated_corpus(40, standard=True), server_farm(SITE, "ledger-app-plan", "WS2",
                                                                               workers=3)])
        store = Store(tmp_path / "s")
        [result] = az.sync(src(server, lag="30d"), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED and not result.warnings, result.row()
    assert server.counts["serverfarms.get"] == 1 and result.counts["standard_plans"] == 1
    called = json.loads(result.row()["details"])["api"]["calls"]
    assert called["serverfarms.get"] == 1 and set(called) <= set(clients.PERMISSIONS)
    rows = {w["workflow_id"]: json.loads(w["attributes"]) for w in store.read_rows("workflows")}
    assert rows[WF]["app_service_plan"] == {
        "id": f"{SITE.lower().split('/providers/')[0]}/providers/microsoft.web/serverfarms/ledger-app-plan",
        "sku": "WS2", "tier": "WorkflowStandard", "instances": 3, "vcpu": 2.0, "memory_gb": 7.0}
    assert not any("app_service_plan" in a for w, a in rows.items() if w != WF)      # Consumption: none


def test_a_plan_that_cannot_be_read_is_a_warning_and_the_workflows_are_stored_without_it(tmp_path):
    with ArmServer() as server:
        server.load_documents(simulated_corpus(40, standard=True))          # no serverfarms record: 404
        store = Store(tmp_path / "s")
        [result] = az.sync(src(server, lag="30d"), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED and result.counts["plans_failed"] == 1
    assert any("App Service plan(s) of Standard apps not read" in w for w in result.warnings)
    assert json.loads(result.row()["details"])["plans_failed"][0]["operation"] == "serverfarms.get"
    attributes = [json.loads(w["attributes"]) for w in store.read_rows("workflows") if w["workflow_id"] == WF]
    assert attributes and not any("app_service_plan" in a for a in attributes)


def test_plan_summary_reads_sku_instances_and_size_and_keeps_nothing_else():
    from flowscope.collectors.azure.standard import plan_summary

    farm = server_farm(SITE, "p", "ws1", workers=0, capacity=2)
    farm["properties"]["secret"] = "x"
    assert plan_summary(farm) == {"id": farm["id"].lower(), "sku": "WS1", "tier": "WorkflowStandard",
                                  "instances": 2, "vcpu": 1.0, "memory_gb": 3.5}
    assert plan_summary({"sku": {"name": "P1v3"}, "properties": {"numberOfWorkers": True}}) == \
        {"sku": "P1V3", "instances": 1}                        # not a Workflow Standard SKU: no size
    assert plan_summary({"sku": "junk", "properties": []}) == {"instances": 1}


def test_a_stateless_workflow_without_run_history_is_said_not_taken_for_idle(tmp_path):
    """Azure keeps no run history for a stateless Standard workflow (unless turned on): its empty
    run listing was taken as "no runs", a silent all-clear. The scope now says which workflows are
    stateless and listed nothing, and why."""
    corpus = simulated_corpus(40, standard=True)
    envelope = next(r for r in corpus if r["id"].lower() == WF)
    envelope["kind"] = "Stateless"
    with ArmServer() as server:
        server.load_documents(corpus)
        runs = SITE + "/hostruntime/runtime/webhooks/workflow/api/management/workflows/ledger-standard/runs/"
        for record in [r for r in corpus if r["id"].lower().startswith(runs.lower())]:
            server.delete(record["id"])                    # no run history kept
        [result] = az.sync(src(server, lag="30d"), Store(tmp_path / "s"), now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    details = json.loads(result.row()["details"])
    assert details["stateless_without_history"] == ["ledger-app/ledger-standard"]
    assert any("stateless" in w and "WithStatelessRunHistory" in w for w in result.warnings)


def test_a_stopped_standard_app_is_not_read_and_its_running_runs_are_left_as_they_are(tmp_path):
    """A stopped Standard app runs nothing, and its workflow runtime does not answer: every sync
    asked its workflows and its stored running runs anyway, and each call failed (the sync partial,
    exit code 3, for an app the user stopped on purpose). A stopped app is now said
    (`details.stopped_apps`) and not read; its stored running runs wait for it to start again."""
    corpus = simulated_corpus(120, standard=True)
    store = Store(tmp_path / "s")
    with ArmServer() as server:
        server.load_documents(corpus)
        assert az.sync(src(server, lag="30d"), store, now=NOW)[0].status == RunStatus.SUCCEEDED
        running = {e["execution_id"] for e in store.read_rows("executions") if e["status"] == "RUNNING"}
        assert running and all(r.startswith(WF) for r in running)
        site = next(r for r in corpus if r["type"] == "Microsoft.Web/sites")
        site["properties"]["state"] = "Stopped"
        server.load([site])
        stopped = server.fault(r"/sites/ledger-app/", 403, times=1000)   # a stopped app's runtime answers no call
        server.counts.clear()
        [later] = az.sync(src(server, lag="1h"), store, now=NOW + dt.timedelta(days=3))
    assert later.status == RunStatus.SUCCEEDED, later.row()
    assert json.loads(later.row()["details"])["stopped_apps"] == [SITE.lower()]
    assert stopped.hits == 0 and server.counts["runs.get"] == 0
    assert {e["execution_id"] for e in store.read_rows("executions") if e["status"] == "RUNNING"} == running
    assert {w["workflow_id"] for w in store.read_rows("workflows")} >= {WF}


def _standard_runs_split() -> tuple[dt.datetime, list, set, Any]:
    """A simulated Standard corpus split at a time: (the split, the corpus, the runs started after it, whether
    a record belongs to one of those runs)."""
    split = dt.datetime(2026, 10, 31, 12, tzinfo=dt.timezone.utc)
    corpus = simulated_corpus(120, standard=True)
    standard_runs = [r for r in corpus if "/hostruntime/" in r["id"].lower() and r["type"].lower().endswith("/runs")]
    late = {r["id"].lower() for r in standard_runs if r["properties"]["startTime"] >= split.isoformat()[:19]}
    assert late and len(late) < len(standard_runs)

    def is_late(record):
        return any(record["id"].lower() == run or record["id"].lower().startswith(run + "/") for run in late)

    return split, corpus, late, is_late


def test_the_runs_of_an_app_stopped_before_a_sync_are_read_once_it_runs_again(tmp_path):
    """A Standard app that ran, then was stopped before the next sync: that sync could not read its
    runs (its runtime does not answer), said nothing of it, and moved the watermark past them, so
    once the app ran again its runs of before the stop were never read. A stopped app is now a
    warning, and the app remembers (`details.stopped_apps_unread_since`) where its runs were last
    read: once it runs again its workflows are listed from there, the scope's watermark unheld."""
    split, corpus, late, is_late = _standard_runs_split()

    store = Store(tmp_path / "s")
    site = next(r for r in corpus if r["type"] == "Microsoft.Web/sites")
    with ArmServer() as server:
        server.load_documents([r for r in corpus if not is_late(r)])
        [first] = az.sync(src(server, lag="1h"), store, now=split)
        assert first.status == RunStatus.SUCCEEDED, first.row()
        server.load([r for r in corpus if is_late(r)])             # the app ran, then was stopped
        site["properties"]["state"] = "Stopped"
        server.load([site])
        stopped = server.fault(r"/sites/ledger-app/", 403, times=1000)
        [during] = az.sync(src(server, lag="1h"), store, now=NOW)
        assert during.status == RunStatus.SUCCEEDED, during.row()
        assert any("ledger-app" in w and "stopped" in w for w in during.warnings), during.warnings
        assert during.watermark == NOW                              # the other workflows are not held
        unread = json.loads(during.row()["details"])["stopped_apps_unread_since"]
        assert unread == {SITE.lower(): (split - dt.timedelta(hours=1)).isoformat()}
        [still] = az.sync(src(server, lag="1h"), store, now=NOW + dt.timedelta(hours=6))   # still stopped
        assert json.loads(still.row()["details"])["stopped_apps_unread_since"] == unread
        site["properties"]["state"] = "Running"                     # started again
        server.load([site])
        stopped.times = 0
        [after] = az.sync(src(server, lag="1h"), store, now=NOW + dt.timedelta(days=1))
    assert after.status == RunStatus.SUCCEEDED, after.row()
    assert "stopped_apps_unread_since" not in json.loads(after.row()["details"])
    stored = {e["execution_id"] for e in store.read_rows("executions")}
    assert {run.split("/runs/")[1] for run in late} <= {e.split("/runs/")[1] for e in stored if e.startswith(WF)}


def test_an_app_stopped_during_a_sync_then_found_stopped_keeps_its_unread_runs(tmp_path):
    """An app that stopped during a sync (listed running, then its runtime refused the runs
    listing) has its workflows remembered as unread (`workflows_unread_since`); the next sync,
    finding the app stopped, did not list them and dropped them as no longer there, so once the app
    ran again its runs of before the stop were never read. They stay remembered while the app is
    stopped."""
    split, corpus, late, is_late = _standard_runs_split()

    store = Store(tmp_path / "s")
    site = next(r for r in corpus if r["type"] == "Microsoft.Web/sites")
    with ArmServer() as server:
        server.load_documents([r for r in corpus if not is_late(r)])
        assert az.sync(src(server, lag="1h"), store, now=split)[0].status == RunStatus.SUCCEEDED
        server.load([r for r in corpus if is_late(r)])
        stopping = server.fault(r"/workflows/ledger-standard/runs$", 403, times=1000)   # stopped mid-sync
        [during] = az.sync(src(server, lag="1h"), store, now=NOW)
        assert during.status == RunStatus.PARTIAL and during.watermark == NOW, during.row()
        assert json.loads(during.row()["details"])["workflows_unread_since"] == \
            {WF: (split - dt.timedelta(hours=1)).isoformat()}
        site["properties"]["state"] = "Stopped"
        server.load([site])
        [stopped] = az.sync(src(server, lag="1h"), store, now=NOW + dt.timedelta(days=1))
        assert stopped.status == RunStatus.SUCCEEDED, stopped.row()
        assert json.loads(stopped.row()["details"])["workflows_unread_since"] == \
            {WF: (split - dt.timedelta(hours=1)).isoformat()}
        site["properties"]["state"] = "Running"
        server.load([site])
        stopping.times = 0
        [after] = az.sync(src(server, lag="1h"), store, now=NOW + dt.timedelta(days=2))
    assert after.status == RunStatus.SUCCEEDED and "workflows_unread_since" not in json.loads(after.row()["details"])
    stored = {e["execution_id"] for e in store.read_rows("executions")}
    assert {run.split("/runs/")[1] for run in late} <= {e.split("/runs/")[1] for e in stored if e.startswith(WF)}


def test_a_stored_running_run_of_a_deployment_slot_is_not_taken_for_gone(tmp_path):
    """A slot's runs reach the store only by import: no documented API serves them, and the paths route none
    (a slot run was asked for at `.../slots/<slot>/workflows/<wf>/runs/<run>` with the Logic Apps api-version,
    which Microsoft.Web refuses): every sync of the subscription recorded the refusal and ended partial, for
    as long as the run was stored running (a 404 there would have marked it gone). It is not asked about, and
    the sync says how many it left as stored."""
    store = store_with_running_slot_run(tmp_path, f"{SITE}/slots/staging")
    with ArmServer() as server:
        server.load_documents(simulated_corpus(40, standard=True))
        [result] = az.sync(src(server, lag="30d"), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    [row] = [e for e in store.read_rows("executions") if "/slots/" in e["execution_id"]]
    assert row["status"] == "RUNNING" and "gone" not in (row["attributes"] or "")
    assert result.counts.get("running_gone", 0) == 0 and result.counts["slot_runs_not_revisited"] == 1
    assert any("deployment slot" in w for w in result.warnings), result.warnings
