"""A forced `--format` that none of a file's records is, through the real `flowscope import`.

Forced onto CloudWatch Logs records, the Logic Apps formats (and `gcp.log_entries`) counted every
record as one of an unknown type and said "nothing imported: 0 record(s) skipped", naming no file:
an all-clear for a file of which nothing was read. Now, as `aws.state_machine` or
`azure.diagnostic_logs` do, the import is refused with an error naming the file (exit 2), and a
foreign record in a Logic Apps page is a skip with its line, not an "unknown type".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.exitcodes import ExitCode
from flowscope.model import C
from flowscope.store import Store

runner = CliRunner(env={"COLUMNS": "400"})

ARN = "arn:aws:states:us-east-1:1:express:m:e:1"
AWS_RECORDS = [
    {"id": "1", "type": "ExecutionStarted", "details": {}, "previous_event_id": "0",
     "event_timestamp": "1764900000000", "execution_arn": ARN, "redrive_count": "0"},
    {"id": "2", "type": "ExecutionSucceeded", "details": {}, "previous_event_id": "1",
     "event_timestamp": "1764900001000", "execution_arn": ARN, "redrive_count": "0"},
]
AZURE_FORMATS = ["azure.workflow", "azure.runs", "azure.run_actions", "azure.action_repetitions",
                 "azure.scope_repetitions", "azure.request_histories", "azure.trigger_histories"]
RUN = "/subscriptions/s1/resourceGroups/RG/providers/Microsoft.Logic/workflows/Orders/runs/R1"


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _import(store: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["import", "--store", str(store), *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize("fmt", [*AZURE_FORMATS, "gcp.log_entries"])
def test_a_forced_format_no_record_is_refused_naming_the_file(tmp_path, fmt):
    path = _jsonl(tmp_path / "t2.jsonl", AWS_RECORDS)
    code, text = _import(tmp_path / "store", "--format", fmt, str(path))
    assert code == ExitCode.USAGE, text
    assert str(path) in text and "0 record(s) skipped" not in text, text
    assert ("Azure Logic Apps record" if fmt.startswith("azure.") else "Workflows resource") in text, text
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("fmt", ["azure.runs", "gcp.log_entries"])
def test_a_forced_format_on_one_foreign_object_is_refused_naming_the_file(tmp_path, fmt):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(AWS_RECORDS[0]))
    code, text = _import(tmp_path / "store", "--format", fmt, str(path))
    assert code == ExitCode.USAGE and str(path) in text, text


def test_a_foreign_record_in_a_logic_apps_page_is_skipped_with_its_line(tmp_path):
    run = {"id": RUN, "name": "R1", "type": "Microsoft.Logic/workflows/runs",
           "properties": {"startTime": "2025-01-06T09:00:00Z", "endTime": "2025-01-06T09:00:05Z",
                          "status": "Succeeded"}}
    path = _jsonl(tmp_path / "mixed.jsonl", [run, AWS_RECORDS[0]])
    store = tmp_path / "store"
    code, text = _import(store, "--format", "azure.runs", str(path))
    assert code == ExitCode.OK, text
    assert f"{path}: line 2: not a Logic Apps record" in text and "1 record(s) skipped" in text, text
    assert "ExecutionStarted" in text and "not understood" not in text, text
    assert [r[C.name] for r in Store(store).read_rows("executions")] == ["R1"]


def test_a_file_of_logic_apps_records_of_kinds_not_read_says_what_they_are(tmp_path):
    """Logic Apps records of a kind flowscope does not read (a page of triggers) said "nothing imported: 0
    record(s) skipped" alone: the file read as empty. The error now counts and names them (exit 3, no data)."""
    trigger = {"id": "/subscriptions/s1/resourceGroups/RG/providers/Microsoft.Logic/workflows/Orders/triggers/manual",
               "name": "manual", "type": "Microsoft.Logic/workflows/triggers",
               "properties": {"provisioningState": "Succeeded", "state": "Enabled"}}
    path = tmp_path / "triggers.json"
    path.write_text(json.dumps({"value": [trigger, {**trigger, "name": "nightly",
                                                     "id": trigger["id"].replace("manual", "nightly")}]}))
    store = tmp_path / "store"
    result = runner.invoke(app, ["import", "--store", str(store), "--format", "azure.workflow", str(path)])
    text = " ".join(result.output.split())
    assert result.exit_code == ExitCode.NO_DATA, text
    assert "2 record(s) of kinds flowscope does not read: Microsoft.Logic/workflows/triggers x2" in text, text
    assert not store.exists()


def test_records_of_kinds_not_read_beside_a_run_are_said_as_not_stored(tmp_path):
    """They were listed as "kept but not understood", but nothing of them is stored."""
    run = {"id": RUN, "name": "R1", "type": "Microsoft.Logic/workflows/runs",
           "properties": {"startTime": "2025-01-06T09:00:00Z", "endTime": "2025-01-06T09:00:05Z",
                          "status": "Succeeded"}}
    trigger = {"id": RUN.replace("runs/R1", "triggers/manual"), "name": "manual",
               "type": "Microsoft.Logic/workflows/triggers", "properties": {"state": "Enabled"}}
    path = tmp_path / "page.json"
    path.write_text(json.dumps({"value": [run, trigger]}))
    code, text = _import(tmp_path / "store", str(path))
    assert code == ExitCode.OK, text
    assert "read but not understood (nothing of them stored): Microsoft.Logic/workflows/triggers x1" in text, text
    assert "kept" not in text, text


GCP_WORKFLOW = {"type": "workflows.googleapis.com/Workflow",
                "labels": {"project_id": "acme-prod", "location": "europe-west1", "workflow_id": "orders"}}


def _workflows_log(n: int, payload: dict) -> dict:
    return {"insertId": f"i{n}", "resource": GCP_WORKFLOW, "timestamp": f"2026-11-01T10:00:0{n}.000000000Z",
            "labels": {"workflows.googleapis.com/execution_id": "e1"},
            "jsonPayload": {"@type": "type.googleapis.com/google.cloud.workflows.type.ExecutionsSystemLog",
                            "activityTime": f"2026-11-01T10:00:0{n}.000000000Z", **payload}}


@pytest.mark.parametrize("fmt", [None, "gcp.log_entries"])
def test_records_that_are_no_workflows_log_entry_are_skipped_with_their_line(tmp_path, fmt):
    """Among Cloud Logging entries of Workflows, a stray JSON object and another service's entry (a GCE
    instance's) were counted as "unknown types" (`log.resource:None`, `log.resource:gce_instance`), as if
    they were Workflows entries of a kind not read: the import said "1 execution, 0 record(s) skipped". Each is
    now a skip naming its file and line and why, as a foreign record in a Logic Apps page is."""
    gce = {"insertId": "g1", "resource": {"type": "gce_instance", "labels": {"instance_id": "1"}},
           "timestamp": "2026-11-01T10:00:03Z", "textPayload": "kernel: eth0 up"}
    entries = [_workflows_log(1, {"state": "ACTIVE", "start": {"argument": "{}"}}), {"hello": "world"}, gce,
               _workflows_log(4, {"state": "SUCCEEDED", "success": {"result": "1"}})]
    path = _jsonl(tmp_path / "sink.jsonl", entries)
    store = tmp_path / "store"
    code, text = _import(store, *(("--format", fmt) if fmt else ()), str(path))
    assert code == ExitCode.OK, text
    assert f"{path}: line 2: not a Workflows log entry (no resource.type)" in text, text
    assert f"{path}: line 3: not a Workflows log entry (resource.type 'gce_instance')" in text, text
    assert "2 record(s) skipped" in text and "log.resource" not in text, text
    [run] = Store(store).read_rows("executions")
    assert (run[C.status], run[C.name]) == ("SUCCEEDED", "e1")
