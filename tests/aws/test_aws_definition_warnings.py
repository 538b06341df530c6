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


def test_a_definition_nested_thousands_deep_is_said_and_the_sync_goes_on(_aws_env, tmp_path):
    """An ASL whose Pass Result nests 3,000 levels deep: guessing its history length (`estimate_events`)
    raised RecursionError out of the scope's planning, so the scope failed, its other machine unread.
    The machine is stored with a warning naming it, and both machines' executions are listed."""
    import time

    from flowscope.collectors.aws import collector as aws
    from flowscope.model import RunStatus
    from tests.aws.sfn_fake import ACCOUNT, FakeSfn, described_machine, machine_handlers

    now = time.time()
    arns = {name: f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{name}" for name in ("deep", "plain")}
    deep = ('{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true, "Result": '
            + '{"a":' * 3000 + "1" + "}" * 3000 + "}}}")

    def describe(b: dict) -> dict:
        arn = b["stateMachineArn"]
        return described_machine(arn, "STANDARD", now - 60, **({"definition": deep} if arn == arns["deep"] else {}))

    listed: list[str] = []

    def list_executions(b: dict) -> dict:
        listed.append(b["stateMachineArn"])
        return {"executions": []}

    handlers = {**machine_handlers(arns, "STANDARD", now - 60, describe=describe), "ListExecutions": list_executions}
    store = Store(tmp_path / "store")
    with FakeSfn(handlers) as fake:
        source = {"cloud": "aws", "regions": ["us-east-1"], "endpoint_url": fake.endpoint, "metrics": False,
                  "max_attempts": 1}
        [result] = aws.sync(source, store, since=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1))
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert sorted(listed) == sorted(arns.values())
    assert any("deep" in w and "nested too deeply" in w for w in result.warnings), result.warnings
    assert sorted(w["name"] for w in store.read_rows("workflows")) == ["deep", "plain"]


DEEP_JSON = '{"Error": "E", "a":' + '{"a":' * 3000 + "1" + "}" * 3001


def test_a_cause_or_an_output_nested_thousands_deep_is_kept_as_text_not_a_recursion_error():
    """A failure's cause, or a caught error passed on as a state's output, that nests 3,000 levels deep
    raised RecursionError out of the history's transform (the execution, and a live scope, lost)."""
    from flowscope.collectors.aws.transform.causes import readable_cause
    from flowscope.collectors.aws.transform.values import error_from_output
    assert isinstance(readable_cause(DEEP_JSON), str)      # read as JSON it cannot parse (`causes._unparsed`)
    assert error_from_output(DEEP_JSON) == (None, None)


def test_a_log_message_nested_thousands_deep_is_a_skip_naming_it():
    from flowscope.collectors.aws.transform.log_records import _log_records_of
    from flowscope.collectors.native import ImportContext

    records, _, skips = _log_records_of({"events": [{"message": DEEP_JSON}]}, ImportContext(source_name="logs.json"))
    assert records == [None] and [(s.location, "nested too deeply" in s.reason) for s in skips] == \
        [("events[0].message", True)]


def test_a_definition_over_the_models_limit_is_not_stored_cut_but_said():
    """A definition over the model's 2,000,000 characters (only an imported file holds one: AWS allows
    1 MiB) was stored cut, broken JSON, where Azure and GCP store none. It is not stored, a warning names
    the state machine and why, and the revision is of the whole definition (two differing only past the
    cut are two revisions)."""
    from flowscope.collectors.aws.transform.state_machines import transform_state_machine
    from flowscope.collectors.native import ImportContext
    from flowscope.model import MAX_DEFINITION_CHARS

    def machine(tail: str) -> dict:
        states = {"A": {"Type": "Pass", "Comment": "x" * MAX_DEFINITION_CHARS + tail, "End": True}}
        return _machine(json.dumps({"StartAt": "A", "States": states}))

    one, two = (transform_state_machine(machine(tail), ImportContext(source_name="big.json")) for tail in "12")
    (row,) = one.workflows
    assert row[C.definition] is None
    (warning,) = one.warnings
    assert "big.json" in warning and "OrderFlow" in warning and "not stored" in warning, warning
    assert f"{MAX_DEFINITION_CHARS:,}" in warning
    assert row[C.revision] != two.workflows[0][C.revision]
