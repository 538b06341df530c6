"""An unreadable Step Functions definition (not JSON, not an object, States not an object, a
Parallel branch or Map processor that is not one) is reported through the importer, naming the
file, the state machine and the parse error, as the GCP and Azure transforms do; the workflow row
is still recorded and the import never crashes on it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from flowscope.collectors.importer import import_files
from flowscope.model import C
from flowscope.store import Store

SM_ARN = "arn:aws:states:eu-west-1:111111111111:stateMachine:OrderFlow"
ARN = "arn:aws:states:eu-west-1:111111111111:execution:OrderFlow:run-0001"
START = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.timezone.utc)


def _ts(ms: int) -> str:
    return (START + dt.timedelta(milliseconds=ms)).isoformat().replace("+00:00", "Z")


def _machine(definition) -> dict:
    return {"stateMachineArn": SM_ARN, "name": "OrderFlow", "type": "STANDARD", "status": "ACTIVE",
            "definition": definition, "roleArn": "arn:aws:iam::111111111111:role/sfn",
            "creationDate": "2026-11-01T09:00:00Z"}


def _history() -> dict:
    """A finished run with one Parallel state whose branch ran one Pass state."""
    return {"events": [
        {"id": 1, "previousEventId": 0, "timestamp": _ts(0), "type": "ExecutionStarted",
         "executionStartedEventDetails": {"input": "{}", "roleArn": "arn:aws:iam::111111111111:role/sfn",
                                          "stateMachineArn": SM_ARN}},
        {"id": 2, "previousEventId": 1, "timestamp": _ts(10), "type": "ParallelStateEntered",
         "stateEnteredEventDetails": {"name": "Fan", "input": "{}"}},
        {"id": 3, "previousEventId": 2, "timestamp": _ts(20), "type": "ParallelStateStarted"},
        {"id": 4, "previousEventId": 3, "timestamp": _ts(30), "type": "PassStateEntered",
         "stateEnteredEventDetails": {"name": "Inner", "input": "{}"}},
        {"id": 5, "previousEventId": 4, "timestamp": _ts(40), "type": "PassStateExited",
         "stateExitedEventDetails": {"name": "Inner", "output": "{}"}},
        {"id": 6, "previousEventId": 5, "timestamp": _ts(50), "type": "ParallelStateSucceeded"},
        {"id": 7, "previousEventId": 6, "timestamp": _ts(60), "type": "ParallelStateExited",
         "stateExitedEventDetails": {"name": "Fan", "output": "[{}]"}},
        {"id": 8, "previousEventId": 7, "timestamp": _ts(70), "type": "ExecutionSucceeded",
         "executionSucceededEventDetails": {"output": "[{}]"}},
    ]}


def _write(folder: Path, name: str, doc) -> Path:
    path = folder / name
    path.write_text(json.dumps(doc))
    return path


GOOD = {"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "End": True, "Branches": [
    {"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "End": True}}}]}}}


@pytest.mark.parametrize("definition, words", [
    ('{"StartAt": "A", "States": {', "not JSON"),                       # truncated ASL text
    ('["A"]', "not a JSON object"),                                    # JSON, but not an object
    (json.dumps({"StartAt": "A", "States": ["A"]}), "States"),          # States not an object
    (json.dumps({"StartAt": "A"}), "States"),                           # no States at all
    (json.dumps({"StartAt": "A", "States": {"A": "Pass"}}), "A"),        # a state not an object
    (json.dumps({"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "Branches": ["x"]}}}), "Fan"),
    (json.dumps({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": "x"}}}), "M"),
])
def test_an_unreadable_definition_is_reported_naming_file_machine_and_error(tmp_path, definition, words):
    machine = _write(tmp_path, "machine.json", _machine(definition))
    store = Store(tmp_path / "store")
    result = import_files(store, [machine])
    (warning,) = [w for w in result.warnings if SM_ARN in w]
    assert str(machine) in warning and "OrderFlow" in warning
    assert "could not be read" in warning and words in warning
    assert [row[C.workflow_id] for row in store.read_rows("workflows")] == [SM_ARN]   # still recorded


@pytest.mark.parametrize("definition", [
    json.dumps({"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "Branches": ["x"]}}}),
    json.dumps({"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "Branches": "x"}}}),
    json.dumps({"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "Iterator": {"States": ["x"]}}}}),
])
def test_a_history_imported_with_a_malformed_definition_still_imports(tmp_path, definition):
    files = [_write(tmp_path, "machine.json", _machine(definition)), _write(tmp_path, "history.json", _history())]
    store = Store(tmp_path / "store")
    result = import_files(store, files, execution_id=ARN)
    assert [w for w in result.warnings if SM_ARN in w]
    assert sorted(row[C.name] for row in store.read_rows("steps")) == ["Fan", "Inner"]


def test_a_readable_definition_gives_no_warning_and_settles_the_branch(tmp_path):
    files = [_write(tmp_path, "machine.json", _machine(json.dumps(GOOD))), _write(tmp_path, "history.json", _history())]
    store = Store(tmp_path / "store")
    result = import_files(store, files, execution_id=ARN)
    assert result.warnings == []
    assert {row[C.name] for row in store.read_rows("steps")} == {"Fan", "Inner"}
