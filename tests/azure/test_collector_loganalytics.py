"""The Log Analytics bulk path against the local query API: which workflows take it and why, the
same rows as the management path, PARTIAL answers split and retried, never taken as complete."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from flowscope.collectors.azure import collector as az
from flowscope.collectors.azure import loganalytics as la
from flowscope.collectors.azure.transform.runtime_log import records_from_rows
from flowscope.model import RunStatus
from flowscope.store import Store
from tests.azure.arm_server import ArmServer, la_rows_from, simulated_corpus, snapshot

SIM_SUB = "5f1e0c2a-7b3d-4e8f-9a10-b2c3d4e5f601"
NOW = dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)
WS = "11111111-2222-3333-4444-555555555555"
LOOP_FREE = ("invoice-sync", "order-router")
EXEC_COLUMNS = ("cloud", "workflow_id", "workflow_name", "execution_id", "name", "status", "native_status",
                "started_at", "ended_at", "duration_ms", "error", "cause", "kind", "account")


@pytest.fixture(autouse=True)
def _token(monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_AZURE_TOKEN", "test-token")


def src(server, **kw):
    return {"cloud": "azure", "subscription_id": SIM_SUB, "arm_endpoint": server.endpoint, "lag": "30d",
            "metrics": False, **kw}


def loaded(server, corpus):
    server.load_documents(corpus)
    server.la_rows[WS] = la_rows_from([r for r in corpus if any(f"/workflows/{n}/" in r["id"] for n in LOOP_FREE)])


def test_loop_free_workflows_take_the_bulk_path_with_the_same_rows(tmp_path):
    corpus = simulated_corpus(120)
    with ArmServer(page_size=50) as server:
        loaded(server, corpus)
        managed = Store(tmp_path / "management")
        assert az.sync(src(server), managed, now=NOW)[0].status == RunStatus.SUCCEEDED
        server.counts.clear()
        bulk = Store(tmp_path / "bulk")
        [result] = az.sync(src(server, workspace_id=WS, logs_endpoint=server.endpoint), bulk, now=NOW)
        assert result.status == RunStatus.SUCCEEDED, result.row()
        details = json.loads(result.row()["details"])
        assert details["paths"]["crm-export"] == {"path": "management",
                                                  "why": "has loops: the runtime log has no iteration index"}
        assert {details["paths"][n]["path"] for n in LOOP_FREE} == {"log_analytics"}
        assert details["path"] == "management+log_analytics"
        crm_runs = sum(1 for r in corpus if "/workflows/crm-export/runs/" in r["id"] and r["type"].endswith("/runs"))
        assert server.counts["actions.list"] == crm_runs                 # one call per run only where needed
        assert result.counts["la_queries"] == len(server.la_queries) == 120      # 30 days in 6-hour slices
        assert result.counts["runs_from_logs"] == \
            sum(1 for r in corpus if r["type"].endswith("/runs") and "crm-export" not in r["id"])
    a, b = snapshot(bulk), snapshot(managed)
    for table in ("steps", "attempts", "usage", "workflows"):
        assert a[table] == b[table], table

    def cols(store):
        return sorted(json.dumps({k: r[k] for k in EXEC_COLUMNS}, default=str) for r in store.read_rows("executions"))
    assert cols(bulk) == cols(managed)        # what the log carries; revision and content sizes it does not


def test_a_second_sync_skips_stored_runs_and_partial_answers_are_split_until_whole(tmp_path):
    corpus = simulated_corpus(60)
    with ArmServer() as server:
        loaded(server, corpus)
        server.la_partial_over = dt.timedelta(hours=2)
        store = Store(tmp_path / "s")
        source = src(server, workspace_id=WS, logs_endpoint=server.endpoint, lag="3d")
        [first] = az.sync(source, store, now=NOW, since=NOW - dt.timedelta(days=4))
        assert first.status == RunStatus.SUCCEEDED, first.row()
        # 16 slices of 6 h, each answered PARTIAL, split in 3 h then 1.5 h halves: 16 * (1 + 2 + 4)
        assert first.counts["la_queries"] == len(server.la_queries) == 112
        assert sum(hi - lo <= dt.timedelta(hours=2) for lo, hi in server.la_queries) == 64    # the whole ones
        clean = Store(tmp_path / "clean")
        server.la_partial_over = None
        assert az.sync(source, clean, now=NOW, since=NOW - dt.timedelta(days=4))[0].status == RunStatus.SUCCEEDED
        assert snapshot(store) == snapshot(clean)
        before = store.row_counts()
        [second] = az.sync(source, store, now=NOW + dt.timedelta(hours=1))
    assert second.status == RunStatus.SUCCEEDED
    assert second.counts.get("runs_from_logs", 0) == 0 and second.counts["runs_skipped_terminal"] > 0
    assert store.row_counts()["steps"] == before["steps"]


def test_a_slice_still_partial_at_the_smallest_size_is_a_recorded_gap(tmp_path):
    corpus = simulated_corpus(60)
    with ArmServer() as server:
        loaded(server, corpus)
        server.la_partial_over = dt.timedelta(minutes=1)
        store = Store(tmp_path / "s")
        since = NOW - dt.timedelta(minutes=20)
        [result] = az.sync(src(server, workspace_id=WS, logs_endpoint=server.endpoint), store, now=NOW, since=since)
    assert result.status == RunStatus.PARTIAL
    assert result.errors[0]["code"] == "PartialResult" and result.errors[0]["operation"] == "logs.query"
    assert result.error_count == 4                      # 20 min -> 10 -> 5: four slices never whole
    assert result.watermark == NOW - la.INGESTION_DELAY  # not held: the bulk workflows are asked again
    unread = json.loads(result.row()["details"])["workflows_unread_since"]       # from the first gap on
    assert unread and set(unread.values()) == {since.isoformat()}


def test_records_from_rows_build_management_shapes():
    rows = [
        {"ResourceId": "/subscriptions/s/resourcegroups/r/providers/microsoft.logic/workflows/orders",
         "WorkflowName": "Orders", "RunId": "run1", "OperationName": "Microsoft.Logic/workflows/workflowRunStarted",
         "Status": "Running", "StartTime": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), "EndTime": None},
        {"ResourceId": "/subscriptions/s/resourcegroups/r/providers/microsoft.logic/workflows/orders",
         "WorkflowName": "Orders", "RunId": "run1",
         "OperationName": "Microsoft.Logic/workflows/workflowActionCompleted",
         "ActionName": "Call", "Status": "Failed", "Code": "BadGateway", "Error": "upstream 502",
         "StartTime": "2026-01-01T00:00:01Z", "EndTime": "2026-01-01T00:00:02Z",
         "RetryHistory": '[{"startTime": "2026-01-01T00:00:00.5Z", "code": "BadGateway"}]'},
        {"ResourceId": "/subscriptions/s/resourcegroups/r/providers/microsoft.logic/workflows/orders",
         "WorkflowName": "Orders", "RunId": "poll9",
         "OperationName": "Microsoft.Logic/workflows/workflowTriggerCompleted",
         "TriggerName": "Every_minute", "Status": "Skipped", "StartTime": "2026-01-01T00:01:00Z",
         "EndTime": "2026-01-01T00:01:00Z"},
        {"ResourceId": "", "RunId": "x", "OperationName": "workflowRunStarted"},          # no workflow: ignored
    ]
    records = {r["id"]: r for r in records_from_rows(rows)}
    base = "/subscriptions/s/resourcegroups/r/providers/microsoft.logic/workflows/Orders"
    assert set(records) == {f"{base}/runs/run1", f"{base}/runs/run1/actions/Call",
                            f"{base}/triggers/Every_minute/histories/poll9"}
    assert records[f"{base}/runs/run1"]["properties"] == {"startTime": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
                                                           "status": "Running"}        # no round trip through text
    action = records[f"{base}/runs/run1/actions/Call"]["properties"]
    assert action["error"] == {"code": "BadGateway", "message": "upstream 502"} and len(action["retryHistory"]) == 1
    assert records[f"{base}/triggers/Every_minute/histories/poll9"]["properties"]["fired"] is False
    with pytest.raises(ValueError, match="not a canonical workflow id"):
        la.build_query(['/subscriptions/x/y") | union evil'], NOW, NOW)


def test_query_api_throttling_is_retried_and_a_401_fails_the_scope(tmp_path):
    corpus = simulated_corpus(40)
    with ArmServer() as server:
        loaded(server, corpus)
        server.fault(r"/v1/workspaces/.*/query$", 429, times=2, retry_after=0)
        source = src(server, workspace_id=WS, logs_endpoint=server.endpoint)
        [ok] = az.sync(source, Store(tmp_path / "a"), now=NOW, since=NOW - dt.timedelta(days=3))
        assert ok.status == RunStatus.SUCCEEDED and json.loads(ok.row()["details"])["logs_api"]["throttled_429"] == 2
        server.fault(r"/v1/workspaces/.*/query$", 401, times=100)
        [failed] = az.sync(source, Store(tmp_path / "b"), now=NOW, since=NOW - dt.timedelta(days=3))
    assert failed.status == RunStatus.FAILED and "HTTP 401" in failed.error and "Log Analytics" in failed.error


def test_a_workspace_that_cannot_be_queried_leaves_its_workflows_to_the_management_path(tmp_path):
    """A `workspace_id` the identity may not query (a 403 on every query, a role without
    workspaces/query/read): the loop-free workflows' runs were left uncollected, the sync partial,
    every sync, for as long as the role lacked it. The bulk path is a shortcut: their runs are read
    through the management API instead (the same rows as without a workspace), and a warning says so."""
    corpus = simulated_corpus(60)
    with ArmServer(page_size=50) as server:
        loaded(server, corpus)
        managed = Store(tmp_path / "management")
        assert az.sync(src(server), managed, now=NOW)[0].status == RunStatus.SUCCEEDED
        server.fault(r"/v1/workspaces/.*/query$", 403, times=100)
        store = Store(tmp_path / "bulk")
        [result] = az.sync(src(server, workspace_id=WS, logs_endpoint=server.endpoint, max_attempts=1), store,
                           now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    details = json.loads(result.row()["details"])
    assert "workflows_unread_since" not in details
    assert {details["paths"][n]["path"] for n in LOOP_FREE} == {"management"}
    assert all("could not be queried" in details["paths"][n]["why"] for n in LOOP_FREE)
    assert any(f"workspace {WS} could not be queried" in w and "403" in w for w in result.warnings), result.warnings
    assert snapshot(store) == snapshot(managed)


def test_a_workflow_whose_id_cannot_go_into_a_query_takes_the_management_path():
    """Resource group names may hold Unicode letters (`ventes-été`), which the KQL builder refuses to
    embed: such a workflow on the bulk path failed every slice's query, for every bulk workflow, on
    every sync (an error each time, the watermark never moving, none of their runs collected). It
    takes the management path instead, and says why."""
    from types import SimpleNamespace

    from flowscope.collectors.azure.definition import parse_definition
    from flowscope.collectors.azure.logs_path import choose_paths
    from flowscope.collectors.window import ScopeResult

    definition = parse_definition({"triggers": {}, "actions": {"Tally": {"type": "Compose", "inputs": 1}}})
    plain = "/subscriptions/s/resourcegroups/sales/providers/microsoft.logic/workflows/orders"
    accented = "/subscriptions/s/resourcegroups/ventes-été/providers/microsoft.logic/workflows/commandes"
    result = ScopeResult(cloud="azure", scope="azure:s", started_at=NOW)
    sc = SimpleNamespace(definitions={plain: definition, accented: definition}, result=result)
    scope = az.AzureScope(subscription="s", workspace_id=WS)
    bulk = choose_paths(scope, sc, {plain: {"name": "orders"}, accented: {"name": "commandes"}})  # type: ignore[arg-type]
    assert bulk == {plain: "orders"}
    assert result.details["paths"]["commandes"]["path"] == "management"
    assert "query" in result.details["paths"]["commandes"]["why"]
    la.build_query(list(bulk), NOW, NOW)                    # what is left can be queried


def test_a_bulk_run_whose_completion_was_logged_too_late_is_read_again_from_the_management_api(tmp_path):
    """Log Analytics makes events queryable minutes after they happen (Microsoft: completed events up
    to 10-15 minutes). A run whose Completed event was not yet in the workspace was stored RUNNING,
    and when the event came in later than the lag window reaches back, no query returned it and the
    management revisit left bulk workflows out: the run stayed RUNNING for ever. A bulk run stored
    running that this sync's log rows do not mention is read again (`runs.get`), like any other."""
    corpus = simulated_corpus(60)
    with ArmServer() as server:
        loaded(server, corpus)
        rows = server.la_rows[WS]
        late = next(r for r in rows if r["OperationName"].endswith("workflowRunCompleted")
                    and r["Status"] == "Succeeded")
        rows.remove(late)                                    # not ingested yet at the first sync
        store = Store(tmp_path / "s")
        source = src(server, workspace_id=WS, logs_endpoint=server.endpoint, lag="15m")
        [first] = az.sync(source, store, now=NOW, since=NOW - dt.timedelta(days=40))
        assert first.status == RunStatus.SUCCEEDED, first.row()

        def status() -> str:
            [run] = [r for r in store.read_rows("executions")
                     if r["execution_id"].endswith("/runs/" + late["RunId"].lower())]
            return run["status"]
        assert status() == "RUNNING"
        rows.append(late)                                    # in the workspace now, long before the window
        [second] = az.sync(source, store, now=NOW + dt.timedelta(hours=1))
        assert second.status == RunStatus.SUCCEEDED, second.row()
        assert second.counts.get("running_revisited") == 1, second.counts
    assert status() == "SUCCEEDED"


def test_a_bulk_run_logged_later_than_the_lag_is_read_by_the_next_sync(tmp_path):
    """The log answers for events minutes after they happen. The window moved to the sync's now, so
    a run whose events reached the workspace later than the lag window reaches back (Microsoft:
    completed events can take 10-15 minutes) was read by no query: the run was never collected. The
    watermark of a sync that read the log stays `la.INGESTION_DELAY` before its now."""
    corpus = simulated_corpus(60)
    with ArmServer() as server:
        loaded(server, corpus)
        rows = server.la_rows[WS]
        done = next(r for r in rows if r["OperationName"].endswith("workflowRunCompleted"))
        run_rows = [r for r in rows if r["RunId"] == done["RunId"]]
        last = max(dt.datetime.fromisoformat(str(r["TimeGenerated"]).replace("Z", "+00:00")) for r in run_rows)
        now = last + dt.timedelta(minutes=20)            # its events happened 20 minutes before the sync
        for r in run_rows:
            rows.remove(r)                               # not in the workspace yet
        store = Store(tmp_path / "s")
        source = src(server, workspace_id=WS, logs_endpoint=server.endpoint, lag="15m")
        [first] = az.sync(source, store, now=now, since=now - dt.timedelta(days=40))
        assert first.status == RunStatus.SUCCEEDED, first.row()
        rows.extend(run_rows)                            # ingested 25 minutes late
        [second] = az.sync(source, store, now=now + dt.timedelta(hours=1))
        assert second.status == RunStatus.SUCCEEDED, second.row()
    stored = [r for r in store.read_rows("executions") if r["execution_id"].endswith("/runs/" + done["RunId"].lower())]
    assert [r["status"] for r in stored] == ["SUCCEEDED"]
