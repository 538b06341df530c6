"""`flowscope import` of Logic Apps runtime events archived by a diagnostic setting (PT1H.json blobs of
`insights-logs-workflowruntime`, or `{"records": [...]}`): the runs read as the same runs the management
API gives, bad records are counted skips with their line, and what the log cannot say is said."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flowscope.collectors.azure.transform import detect, diagnostic_logs
from flowscope.collectors.azure.transform.documents import transform_diagnostic_logs
from flowscope.collectors.importer import NothingImportedError, import_files
from flowscope.model import Kind
from flowscope.store import Store
from tests.azure.arm_server import la_rows_from, simulated_corpus, snapshot

LOOP_FREE = ("invoice-sync", "order-router")

# The record Microsoft's "Monitor and collect diagnostic data for workflows" page shows for an action
# (its placeholders filled in): upper-case resource ids, seven-digit fractions, correlation ids.
DOCS_RECORD = {
    "time": "2016-07-09T17:09:54.4773148Z",
    "workflowId": "/SUBSCRIPTIONS/80D4FE69-XXXX-XXXX-XXXX-XXXXXXXXXXXX/RESOURCEGROUPS/FABRIKAM-RG/PROVIDERS/"
                  "MICROSOFT.LOGIC/WORKFLOWS/FABRIKAM-LOGIC-APP",
    "resourceId": "/SUBSCRIPTIONS/80D4FE69-XXXX-XXXX-XXXX-XXXXXXXXXXXX/RESOURCEGROUPS/FABRIKAM-RG/PROVIDERS/"
                  "MICROSOFT.LOGIC/WORKFLOWS/FABRIKAM-LOGIC-APP/RUNS/08587361146922712057/ACTIONS/HTTP",
    "category": "WorkflowRuntime",
    "level": "Information",
    "operationName": "Microsoft.Logic/workflows/workflowActionCompleted",
    "properties": {
        "$schema": "2016-04-01-preview",
        "startTime": "2016-07-09T17:09:53.4336305Z",
        "endTime": "2016-07-09T17:09:53.5430281Z",
        "status": "Succeeded",
        "code": "OK",
        "resource": {"subscriptionId": "80d4fe69-xxxx-xxxx-xxxx-xxxxxxxxxxxx", "resourceGroupName": "fabrikam-rg",
                     "workflowId": "a1b2c3d4e5f6", "workflowName": "fabrikam-logic-app",
                     "runId": "08587361146922712057", "location": "westus", "actionName": "Http"},
        "correlation": {"actionTrackingId": "e1931543-906d-4d1d-baed-dee72ddf1047",
                        "clientTrackingId": "08587361146922712057"},
    },
}


def archived(row: dict[str, Any]) -> dict[str, Any]:
    """A Log Analytics row (what `la_rows_from` says Azure logs) as the diagnostic setting archives the
    same event: the resource ids upper-cased, the run's, action's or trigger's names under
    properties.resource, the error as {code, message}."""
    wf = row["ResourceId"].upper()
    resource: dict[str, Any] = {"workflowName": row["WorkflowName"], "runId": row["RunId"], "location": "westeurope"}
    rid = f"{wf}/RUNS/{row['RunId']}"
    if row["ActionName"]:
        resource["actionName"] = row["ActionName"]
        rid += f"/ACTIONS/{row['ActionName'].upper()}"
    if row["TriggerName"]:
        resource["triggerName"] = row["TriggerName"]
        rid += f"/TRIGGERS/{row['TriggerName'].upper()}"
    props: dict[str, Any] = {"$schema": "2016-04-01-preview", "startTime": row["StartTime"],
                             "status": row["Status"], "code": row["Code"], "resource": resource,
                             "correlation": {"actionTrackingId": "00000000-0000-0000-0000-000000000000"}}
    if row["EndTime"]:
        props["endTime"] = row["EndTime"]
    if row["Error"]:
        props["error"] = {"code": row["Code"], "message": row["Error"]}
    if row["RetryHistory"]:
        props["retryHistory"] = json.loads(row["RetryHistory"])
    return {"time": row["TimeGenerated"], "workflowId": wf, "resourceId": rid, "category": "WorkflowRuntime",
            "level": "Error" if row["Error"] else "Information", "operationName": row["OperationName"],
            "properties": props}


def loop_free(corpus: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in corpus if any(f"/workflows/{n}" in r["id"] for n in LOOP_FREE)]


def with_failures(corpus: list[dict[str, Any]], runs: int = 3) -> list[dict[str, Any]]:
    """The corpus with its first finished runs failed at their first finished action (the simulator's
    loop-free workflows never fail): the run's and the action's status, code and error, as ARM gives them."""
    corpus = json.loads(json.dumps(corpus))
    failed = 0
    for run in (r for r in corpus if r["type"].lower() == "microsoft.logic/workflows/runs"):
        action = next((a for a in corpus if a["type"].lower() == "microsoft.logic/workflows/runs/actions"
                       and a["id"].startswith(run["id"] + "/") and a["properties"].get("endTime")), None)
        if action is None or not run["properties"].get("endTime") or failed == runs:
            continue
        message = f"The service answered 502 <b>Bad Gateway</b> ({failed})"
        action["properties"].update(status="Failed", code="BadGateway",
                                    error={"code": "BadGateway", "message": message})
        run["properties"].update(status="Failed", code="ActionFailed", error={
            "code": "ActionFailed", "message": "An action failed. No dependent actions succeeded."})
        failed += 1
    assert failed == runs
    return corpus


def write_lines(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_the_docs_record_is_detected_and_read_as_a_visit_of_its_action():
    assert detect([DOCS_RECORD]) == diagnostic_logs.FORMAT
    assert detect({"records": [DOCS_RECORD]}) == diagnostic_logs.FORMAT
    row = diagnostic_logs.row_of(DOCS_RECORD)
    assert row["ResourceId"].endswith("/microsoft.logic/workflows/fabrikam-logic-app")
    assert (row["RunId"], row["ActionName"], row["Status"]) == ("08587361146922712057", "Http", "Succeeded")
    batch = transform_diagnostic_logs([DOCS_RECORD])
    [step] = batch.steps
    assert step["name"] == "Http" and step["status"] == "SUCCEEDED" and step["duration_ms"] == 109
    assert step["workflow_id"].endswith("/workflows/fabrikam-logic-app") and not batch.skips


@pytest.mark.parametrize("shape", ["json_lines", "records"])
def test_an_archive_imports_as_the_same_runs_as_the_management_api(tmp_path, shape):
    corpus = with_failures(loop_free(simulated_corpus(200)))
    workflows = [r for r in corpus if r["type"].lower() == "microsoft.logic/workflows"]
    managed = tmp_path / "managed"
    # the management API's records, one per line, but request histories: the runtime log has none, so
    # a retried action's last try has no start on either path (`records.attempts_for`)
    write_lines(managed / "all.json", [r for r in corpus if "/requesthistories/" not in r["id"].lower()])
    import_files(Store(tmp_path / "m"), [managed])

    events = [archived(row) for row in la_rows_from(corpus)]
    blob = tmp_path / "insights-logs-workflowruntime" / "y=2026" / "m=10" / "d=31" / "h=10" / "m=00" / "PT1H.json"
    if shape == "json_lines":
        write_lines(blob, events)
    else:
        blob.parent.mkdir(parents=True)
        blob.write_text(json.dumps({"records": events}))
    write_lines(tmp_path / "definitions" / "workflows.json", workflows)
    result = import_files(Store(tmp_path / "a"), [tmp_path / "definitions", tmp_path / "insights-logs-workflowruntime"])
    assert not result.skips and result.new_executions > 20, result
    a, b = snapshot(Store(tmp_path / "a")), snapshot(Store(tmp_path / "m"))
    for table in ("steps", "attempts", "usage", "workflows"):
        assert a[table] == b[table], table
    cols = ("workflow_id", "execution_id", "status", "started_at", "ended_at", "duration_ms", "error", "cause")

    def runs(path: Path) -> list[tuple]:
        return sorted(tuple(str(r[c]) for c in cols) for r in Store(path).read_rows("executions"))
    assert runs(tmp_path / "a") == runs(tmp_path / "m")
    failed = [r for r in Store(tmp_path / "a").read_rows("steps") if r["status"] == "FAILED"]
    assert len(failed) == 3 and all(r["error"] == "BadGateway" for r in failed), failed

    again = import_files(Store(tmp_path / "a"), [tmp_path / "definitions", tmp_path / "insights-logs-workflowruntime"])
    assert snapshot(Store(tmp_path / "a")) == a                                 # a re-import changes nothing
    assert again.new_executions == again.changed_executions == 0


def test_bad_records_are_counted_skips_with_their_line_and_loops_are_said(tmp_path):
    corpus = loop_free(simulated_corpus(20))
    events = [archived(row) for row in la_rows_from(corpus)]
    bad_status = json.loads(json.dumps(events[1]))
    bad_status["properties"]["status"] = ["Succeeded"]
    standard = json.loads(json.dumps(events[2]))
    standard["workflowId"] = "/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.WEB/SITES/APP"
    del standard["properties"]["resource"]["workflowName"]         # which of the app's workflows: not said
    no_run = json.loads(json.dumps(events[3]))
    del no_run["properties"]["resource"]["runId"]
    action = next(e for e in events if e["operationName"].endswith("workflowActionCompleted"))
    records = [events[0], bad_status, standard, no_run, *events[4:], action, action]   # an action logged 3 times
    path = write_lines(tmp_path / "PT1H.json", records)
    result = import_files(Store(tmp_path / "s"), [path])
    where = {s.location: s.reason for s in result.skips}
    assert set(where) == {"line 2", "line 3", "line 4"}, where
    assert "status is list, not text" in where["line 2"]
    assert "Logic Apps Standard" in where["line 3"] and "runId" in where["line 4"]
    assert any("2 action event(s) repeat an action" in w for w in result.warnings), result.warnings


def test_an_archive_of_nothing_usable_writes_nothing(tmp_path):
    record = json.loads(json.dumps(DOCS_RECORD))
    record["workflowId"] = "/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.WEB/SITES/APP"
    del record["properties"]["resource"]["workflowName"]
    path = write_lines(tmp_path / "PT1H.json", [record, record])
    with pytest.raises(NothingImportedError):
        import_files(tmp_path / "s", [path])
    assert not (tmp_path / "s").exists()


def test_a_standard_apps_events_import_as_the_same_runs_as_the_management_api(tmp_path):
    """A Standard app's events name the app (the site), not the workflow: every one was a skip, so
    an archive of a Standard app imported nothing. The record's workflowName places it under
    `<site>/workflows/<name>`: the same runs, steps, tries and usage as the app's management API
    records give; an event without a workflow name is still a skip, saying why."""
    corpus = [r for r in simulated_corpus(40, standard=True) if "/sites/" in r["id"].lower()
              and "/requesthistories/" not in r["id"].lower()]
    rows = la_rows_from(corpus)
    site = rows[0]["ResourceId"].split("/workflows/")[0].upper()      # what a Standard app's record names
    events = [{**archived(row), "workflowId": site, "resourceId": site} for row in rows]
    nameless = json.loads(json.dumps(events[0]))
    del nameless["properties"]["resource"]["workflowName"]
    write_lines(tmp_path / "definitions" / "app.json", [r for r in corpus if r["type"].startswith("Microsoft.Web")])
    write_lines(tmp_path / "logs" / "PT1H.json", [nameless, *events])
    result = import_files(Store(tmp_path / "a"), [tmp_path / "definitions", tmp_path / "logs"])
    [skip] = result.skips
    assert skip.location == "line 1" and "workflowName" in skip.reason, skip
    assert result.new_executions == sum(1 for r in corpus if r["type"].lower().endswith("/runs")) > 0

    write_lines(tmp_path / "managed" / "all.json", corpus)
    import_files(Store(tmp_path / "m"), [tmp_path / "managed"])
    a, b = snapshot(Store(tmp_path / "a")), snapshot(Store(tmp_path / "m"))
    for table in ("steps", "attempts", "usage"):
        assert a[table] == b[table], table
    executions = Store(tmp_path / "a").read_rows("executions")
    assert {e["kind"] for e in executions} == {Kind.LOGICAPP_STANDARD.value}
    assert sorted(e["execution_id"] for e in executions) == \
        sorted(e["execution_id"] for e in Store(tmp_path / "m").read_rows("executions"))
