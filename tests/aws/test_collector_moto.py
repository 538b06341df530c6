"""The AWS collector against a real moto server that really executes state machines."""

from __future__ import annotations

import json
import time

import pytest

from flowscope.collectors.aws import collector as aws
from flowscope.collectors.aws.clients import (
    READ_ONLY_OPERATIONS,
    ReadOnlyViolation,
    scope_clients,
)
from flowscope.model import RunStatus
from tests.aws.helpers import stored_running

pytestmark = pytest.mark.slow  # real executions on moto's server, with waits for them to run


def _rows(store, table, where="1=1"):
    return store.read_rows(table, where)


def _run_row(result):
    return result.row()


def test_collects_real_executions_like_the_api_histories(moto, store, api_calls, defs):
    machines = {"orders-pass": defs.PASS_CHOICE, "orders-retry": defs.RETRY_CATCH,
                "orders-fanout": defs.MAP_PARALLEL_FAIL}
    arns = {name: moto.machine(name, d) for name, d in machines.items()}
    moto.machine("other-ignored", defs.PASS_CHOICE)
    runs = [moto.run(arns["orders-pass"]), moto.run(arns["orders-retry"]),
            moto.run(arns["orders-fanout"], {"items": [1, 2, 3]})]
    statuses = moto.wait(runs)
    assert set(statuses.values()) <= {"SUCCEEDED", "FAILED"}

    [result] = aws.sync(moto.source(state_machines=["orders-*"]), store)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert result.scope.startswith("aws:123456789012:us-east-1")

    workflows = _rows(store, "workflows")
    assert sorted(w["name"] for w in workflows) == sorted(machines)
    assert {w["kind"] for w in workflows} == {"sfn-standard"}
    assert all(json.loads(w["definition"])["StartAt"] for w in workflows)

    executions = {e["execution_id"]: e for e in _rows(store, "executions")}
    assert set(executions) == set(runs)
    for arn in runs:
        history = moto.history(arn)
        row = executions[arn]
        assert row["status"] == statuses[arn]
        assert row["event_count"] == len(history)
        assert row["source"] == "api"
        steps = [s for s in _rows(store, "steps") if s["execution_id"] == arn]
        entered = [e for e in history if e["type"].endswith("StateEntered")]
        assert len(steps) == len(entered)
        assert sorted(s["name"] for s in steps) == sorted(e["stateEnteredEventDetails"]["name"] for e in entered)
        tries = [e for e in history if e["type"] == "TaskScheduled"]
        attempts = [a for a in _rows(store, "attempts") if a["execution_id"] == arn]
        assert len(attempts) == len(tries)
    retry_arn = runs[1]
    assert len([a for a in _rows(store, "attempts") if a["execution_id"] == retry_arn]) == 2  # first try + 1 retry
    assert executions[runs[2]]["error"] == "Custom.Error"

    # read-only: every operation called is on the allow-list (and nothing else was called)
    called = set(api_calls.calls)
    assert called, "the hook saw no calls"
    assert all(op in READ_ONLY_OPERATIONS[prefix] for prefix, op in called), called
    assert api_calls.count("GetExecutionHistory") == 3

    # no payloads in the store: the inputs given above appear nowhere
    text = json.dumps([_rows(store, t) for t in ("executions", "steps", "attempts", "collection_runs")],
                      default=str)
    assert '"items"' not in text and "testing" not in text


def test_second_sync_collects_only_new_and_unchanged_resync_makes_no_history_calls(moto, store, api_calls, defs):
    arn = moto.machine("orders-inc", defs.PASS_CHOICE)
    first = [moto.run(arn) for _ in range(3)]
    moto.wait(first)
    assert aws.sync(moto.source(), store)[0].status == RunStatus.SUCCEEDED
    assert api_calls.count("GetExecutionHistory") == 3

    api_calls.reset()
    again = aws.sync(moto.source(), store)[0]
    assert again.status == RunStatus.SUCCEEDED
    assert api_calls.count("GetExecutionHistory") == 0          # unchanged account: zero
    assert again.counts.get("executions_skipped_terminal") == 3

    api_calls.reset()
    later = [moto.run(arn) for _ in range(2)]
    moto.wait(later)
    third = aws.sync(moto.source(), store)[0]
    assert api_calls.count("GetExecutionHistory") == 2          # only the new ones
    assert third.counts.get("executions_fetched") == 2
    ids = [e["execution_id"] for e in _rows(store, "executions")]
    assert sorted(ids) == sorted(first + later)                  # no duplicates
    runs = _rows(store, "collection_runs")
    assert sum(r["status"] == "succeeded" for r in runs) == 3
    assert all(r["watermark"] is not None for r in runs)


def test_running_execution_is_revisited_until_terminal(moto, store, api_calls):
    run, source = stored_running(moto, store, "slow")
    [row] = _rows(store, "executions")
    assert row["status"] == "RUNNING"

    moto.wait([run])
    api_calls.reset()
    second = aws.sync(source, store)[0]
    # the listing stops at watermark - 1s, before the run started: found through the store
    assert second.counts.get("running_revisited") == 1
    assert api_calls.count("DescribeExecution") == 1
    assert api_calls.count("GetExecutionHistory") == 1
    [row] = _rows(store, "executions")
    assert row["status"] == "SUCCEEDED" and row["ended_at"] is not None

    api_calls.reset()
    aws.sync(source, store)
    assert api_calls.count("GetExecutionHistory") == 0 and api_calls.count("DescribeExecution") == 0


def test_read_only_guard_refuses_writes_before_sending(moto, api_calls):
    clients = scope_clients(region=moto.region, endpoint_url=moto.endpoint, max_attempts=1)
    with pytest.raises(ReadOnlyViolation):
        clients.sfn.start_execution(stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:x")
    with pytest.raises(ReadOnlyViolation):
        clients.logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[])
    assert clients.calls == {}                       # nothing reached the wire


EXPRESS = {"StartAt": "LogInput", "States": {"LogInput": {"Type": "Pass", "Next": "Done"},
                                              "Done": {"Type": "Succeed"}}}


def _express_records(execution_arn: str, t0_ms: int, *, fail: bool = False) -> list[dict]:
    """Log records in the documented format (see shared/samples/aws/express_cloudwatch_log_records...)."""
    def rec(i, prev, typ, details, dt_ms):
        return {"id": str(i), "type": typ, "details": details, "previous_event_id": str(prev),
                "event_timestamp": str(t0_ms + dt_ms), "execution_arn": execution_arn, "redrive_count": "0"}
    end = ("ExecutionFailed", {"error": "Oops", "cause": "bad"}) if fail else (
        "ExecutionSucceeded", {"output": "{\"secret\":\"x\"}", "outputDetails": {"truncated": False}})
    return [
        rec(1, 0, "ExecutionStarted", {"input": "{\"secret\":\"x\"}", "inputDetails": {"truncated": False},
                                       "roleArn": "arn:aws:iam::123456789012:role/r"}, 0),
        rec(2, 0, "PassStateEntered", {"name": "LogInput", "input": "{}", "inputDetails": {"truncated": False}}, 5),
        rec(3, 2, "PassStateExited", {"name": "LogInput", "output": "{}", "outputDetails": {"truncated": False}}, 8),
        rec(4, 3, "SucceedStateEntered", {"name": "Done", "input": "{}"}, 9),
        rec(5, 4, "SucceedStateExited", {"name": "Done", "output": "{}"}, 9),
        rec(6, 5, end[0], end[1], 10),
    ]


def _log_config(group_arn: str, level: str = "ALL") -> dict:
    return {"level": level, "includeExecutionData": True,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group_arn}}]}


def test_express_executions_from_log_records_and_logging_warnings(moto, store, api_calls):
    group = "/aws/vendedlogs/states/express-orders"
    moto.logs.create_log_group(logGroupName=group)
    moto.logs.create_log_stream(logGroupName=group, logStreamName="states/express-orders/2026/00000000")
    group_arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{group}:*"
    sm = moto.machine("express-orders", EXPRESS, type="EXPRESS", loggingConfiguration=_log_config(group_arn))
    moto.machine("express-quiet", EXPRESS, type="EXPRESS", loggingConfiguration={"level": "OFF"})
    moto.machine("express-errors", EXPRESS, type="EXPRESS", loggingConfiguration=_log_config(group_arn, "ERROR"))
    name = sm.split(":")[-1]
    t0 = int(time.time() * 1000) - 60_000
    arns = [f"arn:aws:states:us-east-1:123456789012:express:{name}:run-{i}:{i:08d}-0000-0000-0000-000000000000"
            for i in range(3)]
    records = [r for i, a in enumerate(arns) for r in _express_records(a, t0 + i * 100, fail=(i == 2))]
    events = [{"timestamp": int(r["event_timestamp"]), "message": json.dumps(r)} for r in records]
    events.append({"timestamp": t0 + 500, "message": "{not json"})
    events.sort(key=lambda e: e["timestamp"])
    moto.logs.put_log_events(logGroupName=group, logStreamName="states/express-orders/2026/00000000",
                             logEvents=events)

    [result] = aws.sync(moto.source(), store)
    row = result.row()
    assert result.status == RunStatus.SUCCEEDED, row
    executions = {e["execution_id"]: e for e in _rows(store, "executions")}
    assert set(executions) == set(arns)
    assert {e["source"] for e in executions.values()} == {"logs"}
    assert {e["kind"] for e in executions.values()} == {"sfn-express"}
    assert executions[arns[2]]["status"] == "FAILED"
    assert all(e["event_count"] == 6 for e in executions.values())
    warnings = json.loads(row["details"])["warnings"]
    assert any("express-quiet" in w and "OFF" in w for w in warnings)
    assert any("express-errors" in w and "ERROR" in w and "partial" in w for w in warnings)
    assert result.counts["log_records_malformed"] == 1
    machines = json.loads(row["details"])["machines"]
    assert machines[sm]["path"] == "logs" and machines[sm]["complete"] is True
    assert api_calls.count("FilterLogEvents") == 1      # the shared group is read once
    assert api_calls.count("GetExecutionHistory") == 0
    assert "secret" not in json.dumps(_rows(store, "executions") + _rows(store, "steps"), default=str)

    api_calls.reset()
    again = aws.sync(moto.source(), store)[0]
    assert again.counts.get("executions_skipped_terminal") == 3
    assert len(_rows(store, "executions")) == 3


def test_standard_at_all_uses_the_logs_path_when_cheaper(moto, store, api_calls, defs):
    group = "/aws/vendedlogs/states/std"
    moto.logs.create_log_group(logGroupName=group)
    group_arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{group}:*"
    arn = moto.machine("std-all", defs.PASS_CHOICE, loggingConfiguration=_log_config(group_arn))
    runs = [moto.run(arn) for _ in range(3)]
    moto.wait(runs)
    # moto does not deliver logs: the logs path finds nothing and falls back to the history
    [result] = aws.sync(moto.source(standard_path="logs"), store)
    machines = json.loads(result.row()["details"])["machines"]
    assert machines[arn]["path"] == "logs"
    assert result.counts["log_path_history_fallback"] == 3
    assert sorted(e["execution_id"] for e in _rows(store, "executions")) == sorted(runs)


def test_standard_at_all_takes_what_the_logs_complete_and_the_rest_from_history(moto, store, api_calls, defs):
    group = "/aws/vendedlogs/states/std-mixed"
    stream = "states/std-mixed/2026/00000000"
    moto.logs.create_log_group(logGroupName=group)
    moto.logs.create_log_stream(logGroupName=group, logStreamName=stream)
    group_arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{group}:*"
    arn = moto.machine("std-mixed", defs.PASS_CHOICE, loggingConfiguration=_log_config(group_arn))
    runs = [moto.run(arn) for _ in range(3)]
    moto.wait(runs)
    t0 = int(time.time() * 1000) - 30_000
    records = [r for i, run in enumerate(runs[:2]) for r in _express_records(run, t0 + i * 100)]
    moto.logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=sorted(
        ({"timestamp": int(r["event_timestamp"]), "message": json.dumps(r)} for r in records),
        key=lambda e: e["timestamp"]))
    [result] = aws.sync(moto.source(standard_path="logs"), store)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert result.counts["executions_from_logs"] == 2
    assert result.counts["log_path_history_fallback"] == 1
    assert api_calls.count("GetExecutionHistory") == 1
    executions = {e["execution_id"]: e for e in _rows(store, "executions")}
    assert set(executions) == set(runs)
    assert {executions[r]["source"] for r in runs[:2]} == {"logs"} and executions[runs[2]]["source"] == "api"


def test_metrics_rows_from_get_metric_data(moto, store):
    arn = moto.machine("metered", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    now = time.time()
    moto.cloudwatch.put_metric_data(Namespace="AWS/States", MetricData=[
        {"MetricName": "ExecutionsStarted", "Dimensions": [{"Name": "StateMachineArn", "Value": arn}],
         "Timestamp": now - 120, "Value": 4.0, "Unit": "Count"},
        {"MetricName": "ExecutionsFailed", "Dimensions": [{"Name": "StateMachineArn", "Value": arn}],
         "Timestamp": now - 120, "Value": 1.0, "Unit": "Count"}])
    [result] = aws.sync(moto.source(), store)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    metrics = _rows(store, "metrics")
    started = [m for m in metrics if m["metric"] == "ExecutionsStarted" and m["statistic"] == "Sum"]
    assert started and started[0]["value"] == 4.0 and started[0]["resource_id"] == arn
    assert any(m["metric"] == "ExecutionsFailed" for m in metrics)
    aws.sync(moto.source(), store)                   # re-sync: same keys, replaced, not added
    assert len(_rows(store, "metrics")) == len(metrics)


def test_a_state_machine_glob_matching_nothing_is_said(moto, store, defs):
    """`state_machines = ["ordrs-*"]` kept none of the listed machines and passed as a clean success:
    the sync report says "0 of N state machines match", exit 3."""
    from flowscope.collectors.sync import SyncReport
    from flowscope.exitcodes import ExitCode

    moto.machine("orders-glob", defs.PASS_CHOICE)
    [result] = aws.sync(moto.source(state_machines=["ordrs-*"]), store)
    report = SyncReport(results=[result])
    assert result.status == RunStatus.SUCCEEDED and report.exit_code == ExitCode.NO_DATA
    listed = result.counts["glob_listed"]
    assert listed >= 1 and f"0 of {listed} state machines match ['ordrs-*']" in report.summary_lines()[0]


def test_a_definition_is_stored_as_aws_returned_it_and_the_same_when_imported(moto, store, tmp_path):
    """A definition is stored as the text Step Functions returns (its author's spacing, key order and
    characters, without credentials), and importing `aws stepfunctions describe-state-machine` output of the
    same machine stores the same row, so neither a re-sync nor a re-import sees a changed workflow."""
    from flowscope.collectors.importer import import_files
    from flowscope.store import Store

    text = ('{\n\t"Comment" : "café ✓",  "StartAt":"P",\n  "States": {"P": {"Type": "Pass", '
            '"Parameters": {"url": "https://h/x?token=abcdefgh"}, "End": true}}}\n')
    arn = moto.sfn.create_state_machine(name="spaced", definition=text, roleArn="arn:aws:iam::123456789012:role/r")[
        "stateMachineArn"]
    [result] = aws.sync(moto.source(state_machines=["spaced"]), store)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    [live] = _rows(store, "workflows")
    assert live["definition"] == text.replace("token=abcdefgh", "token=REDACTED")

    described = moto.sfn.describe_state_machine(stateMachineArn=arn)
    described.pop("ResponseMetadata", None)
    path = tmp_path / "describe.json"                       # as the AWS CLI prints it
    path.write_text(json.dumps(described, indent=4, default=lambda d: d.isoformat()), encoding="utf-8")
    imported = Store(tmp_path / "imported")
    import_files(imported, [path])
    [again] = imported.read_rows("workflows")
    assert (again["definition"], again["revision"]) == (live["definition"], live["revision"])
    import_files(store, [path])                              # over the collected one: the same revision
    assert len(_rows(store, "workflows")) == 1
