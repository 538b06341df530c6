"""AWS transform tests against the REAL recordings in shared/samples/aws.

The LocalStack snapshots were recorded against real AWS but normalised (timestamps are the string
"timestamp", ARNs have placeholders, parallel-branch event ids are "[0]"). `history()` and
`log_records()` undo that: increasing timestamps (1 s apart from BASE), a realistic ARN, and ids
renumbered by position where they were normalised away.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path

import pytest

from flowscope.collectors.aws import transform as T
from flowscope.collectors.aws.events import state_machine_arn
from flowscope.collectors.aws.transform import causes
from flowscope.collectors.native import ImportContext, NativeFormatError
from flowscope.model import C, Meter, Source, Status, StepType

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples" / "aws"
if not SAMPLES.exists():  # running from another checkout
    SAMPLES = Path("/work/shared/samples/aws")
SNAP = SAMPLES / "localstack_snapshots"
UTC = dt.timezone.utc
BASE = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
SEEN = dt.datetime(2024, 5, 2, tzinfo=UTC)
ARN = "arn:aws:states:eu-west-1:111111111111:execution:OrderFlow:run-0001"
SM_ARN = "arn:aws:states:eu-west-1:111111111111:stateMachine:OrderFlow"
EXPRESS_ARN = "arn:aws:states:eu-west-1:111111111111:express:OrderFlow:run-0001:5c1c8a0e-1d0a-4b0e-9a43-2f0b0c5d9e11"
LAMBDA = "arn:aws:lambda:eu-west-1:111111111111:function:order-fn"


def _entry(file: str, test: str) -> dict:
    data = json.loads((SNAP / file).read_text())
    for key, value in data.items():
        if key.split("::")[-1] == test:
            return value["recorded-content"]
    raise KeyError(test)


def _fix(value):
    """Placeholders -> realistic values, recursively (lambda ARNs in details and causes)."""
    if isinstance(value, str):
        return (value.replace("arn:<partition>:lambda:<region>:111111111111:function:<lambda_function_1_name>", LAMBDA)
                .replace("<region>", "eu-west-1").replace("<partition>", "aws"))
    if isinstance(value, dict):
        return {k: _fix(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fix(v) for v in value]
    return value


def history(file: str, test: str, key: str = "get_execution_history") -> dict:
    events = copy.deepcopy(_entry(file, test)[key]["events"])
    out = []
    for i, ev in enumerate(events):
        ev = _fix(ev)
        if not isinstance(ev["id"], int):
            ev["id"], ev["previousEventId"] = i + 1, 0
        ev["timestamp"] = (BASE + dt.timedelta(seconds=i)).isoformat()
        out.append(ev)
    return {"events": out}


def log_records(file: str, test: str, arn: str = ARN, key: str = "logged_execution_events") -> list[dict]:
    recs = copy.deepcopy(_entry(file, test)[key])
    by_arn: dict[str, str] = {}
    out = []
    for rec in recs:
        placeholder = rec["execution_arn"]
        if placeholder not in by_arn:
            by_arn[placeholder] = arn if not by_arn else arn + f"-{len(by_arn)}"
        rec = _fix(rec)
        rec["execution_arn"] = by_arn[placeholder]
        rec["event_timestamp"] = str(int((BASE + dt.timedelta(seconds=int(rec["id"]) - 1)).timestamp() * 1000))
        out.append(rec)
    return out


def ctx(execution_id: str | None = ARN, **options) -> ImportContext:
    return ImportContext(source_name="sample.json", seen_at=SEEN, source=Source.IMPORT,
                         execution_id=execution_id, options=options)


def at(seconds: int) -> dt.datetime:
    return BASE + dt.timedelta(seconds=seconds)


def run_history(file: str, test: str, **kw):
    return T.FORMATS["aws.history"](history(file, test, **kw), ctx())


# ---------------------------------------------------------------------- whole rows

CAUSE_4 = json.dumps({"errorMessage": "Some exception was raised.", "errorType": "Exception",
                      "requestId": "<uuid:4>", "stackTrace": [
                          "  File \"/var/task/handler.py\", line 2, in handler\n"
                          "    raise Exception(\"Some exception was raised.\")\n"]},
                     separators=(",", ":"), sort_keys=True)


def test_lambda_invoke_with_retry_base_whole_rows():
    b = run_history("scenarios_test_base_scenarios.snapshot.json", "test_lambda_invoke_with_retry_base")
    assert not b.skips and not b.unknown_event_types
    inp = json.dumps({"Value1": "HelloWorld!", "Value2": None}, separators=(",", ":"), sort_keys=True).encode()
    import hashlib
    out = b.executions[0][C.output_bytes]
    assert b.executions == [{
        C.cloud: "aws", C.account: "111111111111", C.region: "eu-west-1",
        C.workflow_id: SM_ARN, C.workflow_name: "OrderFlow", C.kind: "sfn-standard", C.revision: None,
        C.execution_id: ARN, C.name: "run-0001", C.status: "SUCCEEDED", C.native_status: "SUCCEEDED",
        C.started_at: at(0), C.ended_at: at(17), C.duration_ms: 17_000, C.error: None, C.cause: None,
        C.redrive_count: 0, C.parent_execution_id: None, C.billed_duration_ms: None, C.billed_memory_mb: None,
        C.input_bytes: len(inp), C.output_bytes: out, C.input_sha256: hashlib.sha256(inp).hexdigest(),
        C.event_count: 18, C.attributes: None, C.source: "import", C.collected_at: SEEN,
        C.start_date: dt.date(2024, 5, 1),
    }]
    assert out and out > 0
    d = dt.date(2024, 5, 1)
    common = {C.cloud: "aws", C.workflow_id: SM_ARN, C.execution_id: ARN, C.start_date: d}
    assert b.steps == [
        {**common, C.step_key: "2", C.previous_step_key: None, C.parent_step_key: None, C.iteration: None,
         C.name: "InvokeLambdaWithRetry", C.type: StepType.TASK, C.native_type: "Task", C.resource: LAMBDA,
         C.status: Status.CAUGHT, C.started_at: at(1), C.ended_at: at(14), C.duration_ms: 13_000,
         C.attempts: 4, C.error: "Exception", C.cause: CAUSE_4},
        {**common, C.step_key: "16", C.previous_step_key: "2", C.parent_step_key: None, C.iteration: None,
         C.name: "HandleError", C.type: StepType.PASS, C.native_type: "Pass", C.resource: None,
         C.status: Status.SUCCEEDED, C.started_at: at(15), C.ended_at: at(16), C.duration_ms: 1_000,
         C.attempts: 1, C.error: None, C.cause: None},
    ]
    assert len(b.attempts) == 4
    for n, row in enumerate(b.attempts, start=1):
        first = 2 + 3 * (n - 1)          # LambdaFunctionScheduled at position first (0-based)
        cause = CAUSE_4.replace("<uuid:4>", f"<uuid:{n}>")
        assert row == {**common, C.step_key: "2", C.attempt: n, C.started_at: at(first),
                       C.ended_at: at(first + 2), C.duration_ms: 2_000, C.status: Status.FAILED,
                       C.error: "Exception", C.cause: cause}
    # Standard billing: 4 tries of the task + 1 Pass = 5 state transitions.
    assert [(u[C.step_key], u[C.meter], u[C.quantity]) for u in b.usage] == [
        ("2", Meter.AWS_SFN_STATE_TRANSITION, 4.0), ("16", Meter.AWS_SFN_STATE_TRANSITION, 1.0)]
    assert all(u[C.started_at] == at(0) and u[C.region] == "eu-west-1" and u[C.workflow_id] == SM_ARN
               and u[C.start_date] == d for u in b.usage)


def _moralesl_records() -> list[dict]:
    """Parse the `sam logs` output: '<stream> <ingest time> {' then the JSON message."""
    text = (SAMPLES / "express_cloudwatch_log_records_moralesl_readme.txt").read_text()
    recs, buf = [], None
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^\S+ \S+ (\{)$", line)
        if m:
            buf = ["{"]
        elif buf is not None:
            buf.append(line)
            if line == "}":
                recs.append(json.loads("\n".join(buf)))
                buf = None
    return recs


def test_moralesl_express_log_records_whole_rows():
    recs = _moralesl_records()
    assert len(recs) == 4
    doc = {"events": [{"logStreamName": "s", "timestamp": 1, "message": json.dumps(r)} for r in recs]}
    assert T.detect(recs) == "aws.log_records" and T.detect(doc) == "aws.log_records"
    b1 = T.FORMATS["aws.log_records"](recs, ctx(None))
    b2 = T.FORMATS["aws.log_records"](doc, ctx(None))
    assert b1.executions == b2.executions and b1.steps == b2.steps
    arn = recs[0]["execution_arn"]
    start = dt.datetime(2024, 4, 24, 11, 54, 30, 672000, tzinfo=UTC)
    end = dt.datetime(2024, 4, 24, 11, 54, 30, 680000, tzinfo=UTC)
    inp = recs[0]["details"]["input"].encode()
    import hashlib
    assert b1.executions == [{
        C.cloud: "aws", C.account: "123456789012", C.region: "eu-central-1",
        C.workflow_id: "arn:aws:states:eu-central-1:123456789012:stateMachine:LoggingAndMaskingWorkflow",
        C.workflow_name: "LoggingAndMaskingWorkflow", C.kind: "sfn-express", C.revision: None,
        C.execution_id: arn, C.name: "cli-test-run", C.status: "SUCCEEDED", C.native_status: "SUCCEEDED",
        C.started_at: start, C.ended_at: end, C.duration_ms: 8, C.error: None, C.cause: None,
        C.redrive_count: 0, C.parent_execution_id: None, C.billed_duration_ms: None, C.billed_memory_mb: None,
        C.input_bytes: len(inp), C.output_bytes: len(recs[3]["details"]["output"].encode()),
        C.input_sha256: hashlib.sha256(inp).hexdigest(), C.event_count: 4, C.attributes: None,
        C.source: "import", C.collected_at: SEEN, C.start_date: dt.date(2024, 4, 24),
    }]
    assert b1.steps == [{
        C.cloud: "aws", C.workflow_id: b1.executions[0][C.workflow_id], C.execution_id: arn,
        C.step_key: "2", C.previous_step_key: None, C.parent_step_key: None, C.iteration: None,
        C.name: "LogInput", C.type: "pass", C.native_type: "Pass", C.resource: None, C.status: "SUCCEEDED",
        C.started_at: end, C.ended_at: end, C.duration_ms: 0, C.attempts: 1, C.error: None, C.cause: None,
        C.start_date: dt.date(2024, 4, 24)}]
    # Express: one request, and 8 ms -> 100 ms x 64 MB = 0.1 s x 0.0625 GB = 0.00625 GB-s.
    assert [(u[C.step_key], u[C.meter], u[C.quantity]) for u in b1.usage] == [
        (None, "aws.sfn.express_request", 1.0), (None, "aws.sfn.express_gb_second", pytest.approx(0.00625))]


# ---------------------------------------------------------------------- structure

def test_parallel_retry_counts_restarts_and_branches():
    b = run_history("scenarios_test_base_scenarios.snapshot.json", "test_parallel_state_retry")
    par, *branches = b.steps
    assert (par[C.name], par[C.type], par[C.status], par[C.attempts], par[C.error], par[C.cause]) == (
        "ParallelState", "parallel", "FAILED", 3, "FailureType", "Cause description")
    assert [(s[C.name], s[C.status], s[C.parent_step_key], s[C.iteration]) for s in branches] == [
        ("Branch1", "FAILED", "2", 0)] * 3
    assert b.executions[0][C.status] == "FAILED"
    assert sum(u[C.quantity] for u in b.usage) == 3 + 3


def test_parallel_catch_is_caught_with_error_from_output():
    b = run_history("scenarios_test_base_scenarios.snapshot.json", "test_parallel_state_catch")
    par = b.steps[0]
    assert (par[C.status], par[C.error], par[C.cause]) == ("CAUGHT", "FailureType", "Cause description")
    assert b.steps[1][C.parent_step_key] == "2" and b.steps[1][C.iteration] == 0
    assert b.steps[2][C.previous_step_key] == "2" and b.steps[2][C.parent_step_key] is None


def test_map_iterations_parents_and_previous():
    b = run_history("scenarios_test_base_scenarios.snapshot.json", "test_map_state")
    items = [s for s in b.steps if s[C.name] == "HandleItem"]
    assert [s[C.iteration] for s in items] == list(range(8))
    assert {s[C.parent_step_key] for s in items} == {"4"}
    assert all(s[C.previous_step_key] is None for s in items)   # first state of its iteration
    final = [s for s in b.steps if s[C.name] == "Final"][0]
    assert final[C.previous_step_key] == "4" and final[C.parent_step_key] is None


def test_map_nested_parents():
    b = run_history("scenarios_test_base_scenarios.snapshot.json", "test_map_state_nested")
    rows = [(s[C.step_key], s[C.name], s[C.parent_step_key], s[C.iteration]) for s in b.steps]
    assert rows[:3] == [("2", "MapL1", None, None), ("5", "MapL2", "2", 0), ("8", "MapL2Pass", "5", 0)]
    assert ("23", "MapL2", "2", 1) in rows and ("34", "MapL2Pass", "23", 2) in rows


def test_map_retry_and_catch():
    b = run_history("scenarios_test_base_scenarios.snapshot.json", "test_map_state_retry")
    m = b.steps[1]
    assert (m[C.name], m[C.attempts], m[C.status], m[C.error]) == ("MapState", 3, "FAILED", "HandleItemFailError")
    assert [s[C.iteration] for s in b.steps[2:]] == [0, 0, 0]
    c = run_history("scenarios_test_base_scenarios.snapshot.json", "test_map_state_catch")
    assert [(s[C.name], s[C.status]) for s in c.steps] == [
        ("StartState", "SUCCEEDED"), ("MapState", "CAUGHT"), ("HandleItemFail", "FAILED"), ("FinalCaught", "SUCCEEDED")]
    assert c.steps[1][C.error] == "HandleItemFailError"


def test_distributed_map_run_becomes_map_resource():
    b = run_history("scenarios_test_base_scenarios.snapshot.json", "test_map_state_config_distributed_parameters")
    m = b.steps[0]
    assert m[C.native_type] == "Map" and m[C.status] == "SUCCEEDED"
    assert m[C.resource].startswith("arn:aws:states:eu-west-1:111111111111:mapRun:")
    assert json.loads(b.executions[0][C.attributes])["map_run_arns"] == [m[C.resource]]


def test_callback_wait_for_task_token():
    b = run_history("callback_test_callback.snapshot.json", "test_sqs_wait_for_task_token")
    s = b.steps[0]
    assert (s[C.resource], s[C.status], s[C.attempts]) == (
        "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "SUCCEEDED", 1)
    assert [(a[C.attempt], a[C.status], a[C.started_at], a[C.ended_at]) for a in b.attempts] == [
        (1, "SUCCEEDED", at(2), at(5))]
    f = run_history("callback_test_callback.snapshot.json", "test_sqs_failure_in_wait_for_task_token")
    assert f.steps[0][C.status] == "FAILED" and f.attempts[0][C.status] == "FAILED"


@pytest.mark.parametrize("test,cause", [
    ("test_start_execution_sync_delegate_failure",
     "SomeFailure: This state machines raises a 'SomeFailure' failure. (arn:aws:states:eu-west-1:111111111111:"
     "execution:<ArnPart_0idx>:TestStartTarget)"),
    ("test_start_execution_sync_delegate_timeout",
     "States.Timeout (arn:aws:states:eu-west-1:111111111111:execution:<ArnPart_0idx>:TestStartTarget)")])
def test_a_sync_jobs_cause_keeps_its_message_not_its_payloads(test, cause):
    """A failed startExecution.sync gives the child execution's description as its cause, with the child's
    Input (and Output): the rows keep the child's error, message and id, never its payload (recorded)."""
    doc = history("callback_test_callback.snapshot.json", test)
    raw = [e["taskFailedEventDetails"]["cause"] for e in doc["events"] if "taskFailedEventDetails" in e]
    assert raw and "Input" in json.dumps(raw[0]), "the recording carries the child's input"
    for e in doc["events"]:             # the API gives the cause as JSON text
        if "taskFailedEventDetails" in e:
            e["taskFailedEventDetails"]["cause"] = json.dumps(e["taskFailedEventDetails"]["cause"])
    b = T.FORMATS["aws.history"](doc, ctx())
    failed = [s for s in b.steps if s[C.status] == "FAILED"]
    assert [s[C.cause] for s in failed] == [cause]
    assert [a[C.cause] for a in b.attempts if a[C.status] == "FAILED"] == [cause]
    assert b.executions[0][C.cause] == cause
    assert not any("Input" in str(r[C.cause]) for r in [*b.steps, *b.attempts, *b.executions])


@pytest.mark.parametrize("cause,kept", [
    ({"Containers": [{"ExitCode": 1, "Reason": "x"}], "StoppedReason": "Essential container in task exited",
      "Overrides": {"ContainerOverrides": [{"Environment": [{"Name": "DB_PASSWORD", "Value": "hunter2"}]}]},
      "TaskArn": "arn:aws:ecs:eu-west-1:1:task/c/abc"},
     "Essential container in task exited (arn:aws:ecs:eu-west-1:1:task/c/abc)"),
    ({"Arguments": {"--password": "hunter2"}, "ErrorMessage": "Command failed with exit code 1", "Id": "jr_1",
      "JobName": "etl"}, "Command failed with exit code 1 (jr_1)"),
    ({"QueryExecution": {"Query": "SELECT 'hunter2'", "QueryExecutionId": "q-1",
                         "Status": {"State": "FAILED", "StateChangeReason": "SYNTAX_ERROR: line 1:8"}}},
     "SYNTAX_ERROR: line 1:8 (q-1)"),
    ({"JobName": "x", "Container": {"Environment": [{"Name": "TOKEN", "Value": "hunter2"}]}, "JobId": "j-1",
      "StatusReason": "Essential container in task exited"}, "Essential container in task exited (j-1)"),
    ({"Unknown": {"Payload": "hunter2", "Size": 3}}, '{"Unknown":{"Size":3}}'),
    ({"Error": "States.TaskFailed", "ExecutionArn": "arn:child", "Input": "hunter2",
      "Cause": json.dumps({"Error": "Boom", "Cause": "grandchild failed", "Input": "hunter2",
                           "ExecutionArn": "arn:grandchild"})},
     "States.TaskFailed: Boom: grandchild failed (arn:grandchild) (arn:child)"),
    ('{"Input": "{\"card\": \"hunter2', causes.CUT_SHORT),
    ("plain text, kept as written", "plain text, kept as written"),
])
def test_job_descriptions_give_their_message(cause, kept):
    """ECS, Glue, Athena, Batch: the message and the job's id; anything else loses its payload-like keys."""
    text = cause if isinstance(cause, str) else json.dumps(cause)
    assert causes.readable_cause(text) == kept
    assert "hunter2" not in (causes.readable_cause(text) or "")


def test_a_lambda_errors_cause_stays_as_written():
    assert causes.readable_cause(CAUSE_4) == CAUSE_4


@pytest.mark.parametrize("test,kind", [("test_fixed_timeout_lambda", "lambda"),
                                       ("test_fixed_timeout_service_lambda", "task")])
def test_timeouts(test, kind):
    b = run_history("timeouts_test_timeouts.snapshot.json", test)
    e, s, a = b.executions[0], b.steps[0], b.attempts
    assert (e[C.status], e[C.error]) == ("FAILED", "States.Timeout")
    assert (s[C.status], s[C.error]) == ("TIMED_OUT", "States.Timeout")
    assert [x[C.status] for x in a] == ["TIMED_OUT"]


def test_map_timeout_with_aborted_siblings():
    b = run_history("timeouts_test_timeouts.snapshot.json", "test_service_lambda_map_timeout")
    inner = [s for s in b.steps if s[C.name] == "LambdaInvoke"]
    assert [s[C.iteration] for s in inner] == [0, 1, 2, 3]
    assert {s[C.status] for s in inner} == {"TIMED_OUT"}
    assert b.steps[0][C.status] == "FAILED"


def test_heartbeat_timeout():
    b = run_history("timeouts_test_heartbeats.snapshot.json", "test_heartbeat_timeout")
    assert b.steps[0][C.status] == "TIMED_OUT" and b.attempts[0][C.status] == "TIMED_OUT"


def test_states_errors():
    b = run_history("error_handling_test_states_errors.snapshot.json",
                    "test_task_lambda_catch_state_all_data_limit_exceeded_on_large_utf8_response")
    assert b.steps[0][C.status] == "CAUGHT" and b.steps[0][C.error] == "States.DataLimitExceeded"
    assert b.attempts[0][C.status] == "FAILED" and b.attempts[0][C.error] == "States.DataLimitExceeded"
    f = run_history("error_handling_test_states_errors.snapshot.json", "test_start_large_input")
    assert f.executions[0][C.error] == "States.DataLimitExceeded"
    assert (f.steps[0][C.status], f.steps[0][C.error]) == ("FAILED", "States.DataLimitExceeded")


def test_activity_and_stopped_execution():
    b = run_history("activities_test_activities.snapshot.json", "test_activity_task")
    assert b.steps[0][C.resource] == "activity_arn"   # the recording normalised the activity ARN
    assert [(a[C.attempt], a[C.status]) for a in b.attempts] == [(1, "SUCCEEDED")]
    s = T.FORMATS["aws.history"](history("test_sfn_api.snapshot.json", "test_stop_execution", key="exec_hist_resp"),
                                 ctx())
    assert s.executions[0][C.status] == "ABORTED" and s.steps[0][C.status] == "ABORTED"


@pytest.mark.slow  # every recorded snapshot history
def test_every_snapshot_history_transforms_without_skips_or_unknown_types():
    n = 0
    for path in sorted(SNAP.glob("*.json")):
        for key, value in json.loads(path.read_text()).items():
            for step, content in value["recorded-content"].items():
                if isinstance(content, dict) and content.get("events") and "type" in content["events"][0]:
                    b = T.FORMATS["aws.history"](history(path.name, key.split("::")[-1], key=step), ctx())
                    assert not b.skips and not b.unknown_event_types, (key, step)
                    assert len(b.executions) == 1
                    n += 1
    assert n > 200


# ---------------------------------------------------------------------- log records

def test_log_records_all_level_matches_history():
    recs = log_records("logs_test_logs.snapshot.json", "test_base[raise_failure.json5_ALL_True]")
    b = T.FORMATS["aws.log_records"](recs, ctx(None))
    e = b.executions[0]
    assert (e[C.status], e[C.error], e[C.event_count], e[C.kind]) == ("FAILED", "SomeFailure", 3, "sfn-standard")
    assert [(s[C.name], s[C.status]) for s in b.steps] == [("FailState", "FAILED")]


@pytest.mark.parametrize("arn,kind", [(ARN, "sfn-standard"), (EXPRESS_ARN, "sfn-express")])
def test_log_records_error_level_partial(arn, kind):
    recs = log_records("logs_test_logs.snapshot.json", "test_partial_log_levels[raise_failure.json5_ERROR_True]", arn)
    b = T.FORMATS["aws.log_records"](recs, ctx(None))
    e = b.executions[0]
    assert e[C.kind] == kind and e[C.status] == "FAILED" and e[C.started_at] == at(1)
    assert json.loads(e[C.attributes]) == {"partial_history": True}
    assert [u[C.meter] for u in b.usage] == (["aws.sfn.state_transition"] if kind == "sfn-standard"
                                             else ["aws.sfn.express_request", "aws.sfn.express_gb_second"])


def test_log_group_with_multiple_runs_groups_by_execution():
    recs = log_records("logs_test_logs.snapshot.json", "test_log_group_with_multiple_runs")
    b = T.FORMATS["aws.log_records"](recs, ctx(None))
    assert len(b.executions) == 3 and len({e[C.execution_id] for e in b.executions}) == 3
    assert all(e[C.status] == "SUCCEEDED" for e in b.executions)


def test_duplicate_and_out_of_order_records_give_identical_rows():
    recs = log_records("logs_test_logs.snapshot.json", "test_log_group_with_multiple_runs")
    base = T.FORMATS["aws.log_records"](recs, ctx(None))
    shuffled = list(reversed(recs)) + recs[:5]
    again = T.FORMATS["aws.log_records"](shuffled, ctx(None))
    key = lambda r: (r[C.execution_id], r.get(C.step_key) or "")  # noqa: E731
    for table in ("executions", "steps", "attempts", "usage"):
        assert sorted(base.rows(table), key=key) == sorted(again.rows(table), key=key)


# ---------------------------------------------------------------------- errors

def test_unknown_event_type_is_counted_not_fatal():
    doc = history("scenarios_test_base_scenarios.snapshot.json", "test_lambda_invoke_with_retry_base")
    doc["events"].insert(3, {"id": 100, "previousEventId": 3, "timestamp": at(2).isoformat(), "type": "BrandNewEvent"})
    b = T.FORMATS["aws.history"](doc, ctx())
    assert b.unknown_event_types == {"BrandNewEvent": 1}
    assert b.steps[0][C.status] == "CAUGHT" and b.executions[0][C.event_count] == 19


def test_an_unknown_state_type_is_still_a_step_and_counted():
    """A state type newer than the event table: its Entered / Exited events were counted as
    unknown and the visit dropped, with its billed transition. Now it is a step (type other)."""
    events = [
        {"id": 1, "previousEventId": 0, "timestamp": at(0).isoformat(), "type": "ExecutionStarted",
         "executionStartedEventDetails": {"roleArn": "r"}},
        {"id": 2, "previousEventId": 0, "timestamp": at(1).isoformat(), "type": "SleepStateEntered",
         "stateEnteredEventDetails": {"name": "Nap"}},
        {"id": 3, "previousEventId": 2, "timestamp": at(2).isoformat(), "type": "SleepStateExited",
         "stateExitedEventDetails": {"name": "Nap"}},
        {"id": 4, "previousEventId": 3, "timestamp": at(3).isoformat(), "type": "PassStateEntered",
         "stateEnteredEventDetails": {"name": "After"}},
        {"id": 5, "previousEventId": 4, "timestamp": at(4).isoformat(), "type": "PassStateExited",
         "stateExitedEventDetails": {"name": "After"}},
        {"id": 6, "previousEventId": 5, "timestamp": at(5).isoformat(), "type": "ExecutionSucceeded",
         "executionSucceededEventDetails": {}},
    ]
    b = T.FORMATS["aws.history"]({"events": events}, ctx())
    assert b.unknown_event_types == {"SleepStateEntered": 1, "SleepStateExited": 1}
    nap, after = b.steps
    assert (nap[C.name], nap[C.native_type], nap[C.type], nap[C.status]) == ("Nap", "Sleep", "other", "SUCCEEDED")
    assert nap[C.duration_ms] == 1000 and after[C.previous_step_key] == nap[C.step_key]
    assert sum(u[C.quantity] for u in b.usage) == 2.0       # both transitions billed


def _ev(i: int, prev: int, typ: str, **details) -> dict:
    return {"id": i, "previousEventId": prev, "timestamp": at(i).isoformat(), "type": typ, **details}


def test_a_task_between_retries_of_a_running_execution_is_running_not_failed():
    """A history read while a Task waits for its Retry (or runs its next try): the step was
    FAILED and the open try a FAILED attempt carrying the first try's error, while the execution
    was RUNNING and the Task still had tries left. The step is RUNNING; finished tries keep theirs."""
    task = {"resourceType": "lambda", "resource": "invoke"}
    events = [
        _ev(1, 0, "ExecutionStarted", executionStartedEventDetails={"roleArn": "r"}),
        _ev(2, 0, "TaskStateEntered", stateEnteredEventDetails={"name": "Charge"}),
        _ev(3, 2, "TaskScheduled", taskScheduledEventDetails={**task, "region": "eu-west-1", "parameters": "{}"}),
        _ev(4, 3, "TaskStarted", taskStartedEventDetails=task),
        _ev(5, 4, "TaskFailed", taskFailedEventDetails={**task, "error": "Lambda.TooManyRequests", "cause": "x"}),
    ]
    waiting = T.FORMATS["aws.history"]({"events": events}, ctx())
    [step] = waiting.steps
    assert waiting.executions[0][C.status] == "RUNNING"
    assert (step[C.status], step[C.ended_at], step[C.error]) == ("RUNNING", None, None)
    assert [(a[C.status], a[C.error]) for a in waiting.attempts] == [("FAILED", "Lambda.TooManyRequests")]

    events += [_ev(6, 5, "TaskScheduled", taskScheduledEventDetails={**task, "region": "eu-west-1",
                                                                     "parameters": "{}"}),
               _ev(7, 6, "TaskStarted", taskStartedEventDetails=task)]
    retrying = T.FORMATS["aws.history"]({"events": events}, ctx())
    assert retrying.steps[0][C.status] == "RUNNING" and retrying.steps[0][C.attempts] == 2
    assert [(a[C.status], a[C.error], a[C.ended_at]) for a in retrying.attempts] == [
        ("FAILED", "Lambda.TooManyRequests", at(5)), ("RUNNING", None, None)]


def test_a_failure_a_closed_parallel_caught_stays_failed_while_the_execution_runs():
    task = {"resourceType": "lambda", "resource": "invoke"}
    events = [
        _ev(1, 0, "ExecutionStarted", executionStartedEventDetails={"roleArn": "r"}),
        _ev(2, 0, "ParallelStateEntered", stateEnteredEventDetails={"name": "Fan"}),
        _ev(3, 2, "ParallelStateStarted"),
        _ev(4, 3, "TaskStateEntered", stateEnteredEventDetails={"name": "Inner"}),
        _ev(5, 4, "TaskScheduled", taskScheduledEventDetails={**task, "region": "eu-west-1", "parameters": "{}"}),
        _ev(6, 5, "TaskFailed", taskFailedEventDetails={**task, "error": "Boom", "cause": "x"}),
        _ev(7, 6, "ParallelStateFailed"),
        _ev(8, 7, "ParallelStateExited", stateExitedEventDetails={"name": "Fan"}),
        _ev(9, 8, "WaitStateEntered", stateEnteredEventDetails={"name": "Later"}),
    ]
    b = T.FORMATS["aws.history"]({"events": events}, ctx())
    status = {s[C.name]: s[C.status] for s in b.steps}
    assert status == {"Fan": "CAUGHT", "Inner": "FAILED", "Later": "RUNNING"}


def test_malformed_record_becomes_skip():
    recs = log_records("logs_test_logs.snapshot.json", "test_base[raise_failure.json5_ALL_True]")
    recs.insert(1, {"id": "7", "type": "PassStateEntered", "execution_arn": ARN, "event_timestamp": "yesterday"})
    recs.append({"type": "PassStateEntered"})
    b = T.FORMATS["aws.log_records"](recs, ctx(None))
    assert [(s.source, s.location) for s in b.skips] == [("sample.json", "[1]"), ("sample.json", "[4]")]
    assert "event_timestamp" in b.skips[0].reason and "execution_arn" in b.skips[1].reason
    assert b.executions[0][C.status] == "FAILED"
    doc = {"events": [{"message": json.dumps(recs[0])}, {"message": '{"id": "2", "ty'}]}
    b = T.FORMATS["aws.log_records"](doc, ctx(None))
    assert [s.location for s in b.skips] == ["events[1].message"]


def test_truncated_json_raises_with_location():
    text = json.dumps(history("scenarios_test_base_scenarios.snapshot.json", "test_map_state"), indent=1)
    with pytest.raises(NativeFormatError) as info:
        T.FORMATS["aws.history"](text[: len(text) // 2], ctx())
    assert info.value.source_name == "sample.json" and info.value.location.startswith("line ")
    with pytest.raises(NativeFormatError):
        T.FORMATS["aws.history"]({"not": "a history"}, ctx())
    with pytest.raises(NativeFormatError, match="execution ARN"):
        T.FORMATS["aws.history"](history("scenarios_test_base_scenarios.snapshot.json", "test_map_state"), ctx(None))
    with pytest.raises(NativeFormatError):
        T.FORMATS["aws.log_records"]([{"foo": 1}], ctx(None))


def test_detect():
    assert T.detect(history("scenarios_test_base_scenarios.snapshot.json", "test_map_state")) == "aws.history"
    sm = _fix(_entry("test_sfn_api_logs.snapshot.json", "test_logging_configuration[ALL-True]")["describe_resp"])
    assert T.detect(sm) == "aws.state_machine"
    assert T.detect({"executions": [{"executionArn": ARN, "stateMachineArn": SM_ARN}]}) == "aws.execution"
    assert T.detect({"value": []}) is None and T.detect([1, 2]) is None


# ---------------------------------------------------------------------- workflows / executions

def test_state_machine_row():
    doc = _fix(_entry("test_sfn_api_logs.snapshot.json", "test_logging_configuration[ALL-True]")["describe_resp"])
    doc["stateMachineArn"] = SM_ARN
    doc["name"] = "OrderFlow"
    b = T.FORMATS["aws.state_machine"](doc, ctx(None))
    row = b.workflows[0]
    attrs = json.loads(row[C.attributes])
    assert (row[C.workflow_id], row[C.name], row[C.kind], row[C.definition_format], row[C.seen_at]) == (
        SM_ARN, "OrderFlow", "sfn-standard", "asl-json", SEEN)
    assert json.loads(row[C.definition])["StartAt"] == "State_1"
    assert attrs["logging_level"] == "ALL" and attrs["include_execution_data"] is True
    assert attrs["log_group_arns"] == ["arn:aws:logs:eu-west-1:111111111111:log-group:log_group_name:*"]
    assert len(row[C.revision]) == 16 and (
        T.FORMATS["aws.state_machine"](doc, ctx(None)).workflows[0][C.revision] == row[C.revision])
    v = _fix(_entry("test_sfn_api_versioning.snapshot.json",
                    "test_describe_state_machine_for_execution_of_version_with_revision")["describe_resp"])
    v["stateMachineArn"] = SM_ARN
    assert T.FORMATS["aws.state_machine"](v, ctx(None)).workflows[0][C.revision] == "<uuid:1>"


def test_execution_rows_with_billing_details():
    resp = _fix(_entry("express_test_express_sync.snapshot.json", "test_retry")["start_execution_sync_response"])
    resp.update(executionArn=EXPRESS_ARN, stateMachineArn=SM_ARN, startDate=at(0).isoformat(),
                stopDate=at(7).isoformat())
    b = T.FORMATS["aws.execution"](resp, ctx(None))
    e = b.executions[0]
    assert (e[C.status], e[C.kind], e[C.billed_duration_ms], e[C.billed_memory_mb], e[C.duration_ms]) == (
        "SUCCEEDED", "sfn-express", 7600, 64, 7000)
    # billed 7600 ms x 64 MB = 7.6 s x 0.0625 GB = 0.475 GB-s
    assert [u[C.quantity] for u in b.usage] == [1.0, pytest.approx(0.475)]
    items = {"executions": [{"executionArn": ARN.replace("OrderFlow:", "OrderFlow/lbl:"), "stateMachineArn": SM_ARN,
                             "status": "RUNNING", "startDate": at(0).isoformat(),
                             "mapRunArn": "arn:aws:states:eu-west-1:111111111111:mapRun:OrderFlow/lbl:abc"},
                            {"bad": 1}]}
    b = T.FORMATS["aws.execution"](items, ctx(None))
    assert b.executions[0][C.workflow_id] == SM_ARN and b.executions[0][C.status] == "RUNNING"
    # the parent EXECUTION is not known from the child alone (`link_parents` finds it); its Map Run is kept
    assert b.executions[0][C.parent_execution_id] is None
    assert json.loads(b.executions[0][C.attributes])["mapRunArn"].endswith("mapRun:OrderFlow/lbl:abc")
    assert [s.location for s in b.skips] == ["executions[1]"]


def test_history_with_describe_execution_enrichment():
    describe = {"executionArn": EXPRESS_ARN, "billingDetails": {"billedDurationInMilliseconds": 300,
                                                                "billedMemoryUsedInMB": 128}}
    doc = history("scenarios_test_base_scenarios.snapshot.json", "test_lambda_invoke_with_retry_base")
    b = T.FORMATS["aws.history"](doc, ctx(None, describe_execution=describe))
    e = b.executions[0]
    assert e[C.execution_id] == EXPRESS_ARN and e[C.billed_memory_mb] == 128
    assert [u[C.quantity] for u in b.usage] == [1.0, pytest.approx(0.3 * 0.125)]


def test_state_machine_arn_derivation():
    assert (state_machine_arn("arn:aws:states:us-east-1:1:execution:SM:name")
            == "arn:aws:states:us-east-1:1:stateMachine:SM")
    assert (state_machine_arn("arn:aws:states:us-east-1:1:express:SM:n:u")
            == "arn:aws:states:us-east-1:1:stateMachine:SM")
    assert (state_machine_arn("arn:aws:states:us-east-1:1:execution:SM/lbl:uuid")
            == "arn:aws:states:us-east-1:1:stateMachine:SM")
    assert (state_machine_arn("arn:aws-cn:states:cn-north-1:1:execution:SM:x")
            == "arn:aws-cn:states:cn-north-1:1:stateMachine:SM")


# ---------------------------------------------------------------------- assemble

def test_assemble_idempotent_and_settles_branches_from_definition():
    b = run_history("scenarios_test_base_scenarios.snapshot.json", "test_parallel_state",)
    ex = b.executions[0]
    branches = [s for s in b.steps if s[C.parent_step_key] is not None]
    assert {s[C.iteration] for s in branches} == {None}   # recording lost previousEventId of branch events
    definition = {"StartAt": "LoadInput", "States": {
        "LoadInput": {"Type": "Pass", "Next": "ParallelState"},
        "ParallelState": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "Branch1", "States": {"Branch1": {"Type": "Pass", "End": True}}},
            {"StartAt": "Branch21", "States": {"Branch21": {"Type": "Pass", "Next": "Branch22"},
                                               "Branch22": {"Type": "Pass", "End": True}}},
            {"StartAt": "Branch31", "States": {"Branch31": {"Type": "Pass", "Next": "Branch32"},
                                               "Branch32": {"Type": "Pass", "Next": "Branch33"},
                                               "Branch33": {"Type": "Pass", "End": True}}}]}}}
    wf = {C.definition: json.dumps(definition), C.kind: "sfn-standard"}
    before = copy.deepcopy(b.steps)
    steps, attempts, usage = T.assemble(ex, b.steps, b.attempts, wf)
    assert b.steps == before                                # inputs untouched
    assert [(s[C.name], s[C.iteration]) for s in steps if s[C.parent_step_key]] == [
        ("Branch1", 0), ("Branch21", 1), ("Branch22", 1), ("Branch31", 2), ("Branch32", 2), ("Branch33", 2)]
    again = T.assemble(ex, steps, attempts, wf)
    assert again == (steps, attempts, usage)
    assert T.assemble(ex, b.steps, b.attempts, None) == T.assemble(ex, b.steps, b.attempts, None)


def test_usage_hand_computed():
    ex = {C.execution_id: ARN, C.workflow_id: SM_ARN, C.region: "eu-west-1", C.kind: "sfn-standard",
          C.started_at: at(0), C.start_date: dt.date(2024, 5, 1), C.duration_ms: 1234,
          C.billed_duration_ms: None, C.billed_memory_mb: None}
    steps = [{C.step_key: "2", C.attempts: 3}, {C.step_key: "9", C.attempts: 1}, {C.step_key: "11", C.attempts: 1}]
    _, _, usage = T.assemble(ex, steps, [], None)
    assert sum(u[C.quantity] for u in usage) == 5.0 and all(u[C.meter] == "aws.sfn.state_transition" for u in usage)
    _, _, usage = T.assemble({**ex, C.kind: "sfn-express"}, steps, [], None)
    # 1234 ms -> 1300 ms; 64 MB -> 1.3 s x 0.0625 GB = 0.08125 GB-s
    assert [(u[C.meter], u[C.quantity], u[C.step_key]) for u in usage] == [
        ("aws.sfn.express_request", 1.0, None), ("aws.sfn.express_gb_second", pytest.approx(0.08125), None)]
    assert T.express_gb_seconds(100, 65) == pytest.approx(0.1 * 0.125)
    assert T.express_gb_seconds(0) == pytest.approx(0.1 * 0.0625)


# ---------------------------------------------------------------------- States.Runtime (issue 9)

def _runtime_history(before_failure: list[dict], state: str, entered: int, detail: str) -> dict:
    """A history shaped like the real States.Runtime failures: ExecutionFailed with previousEventId 0
    naming the state only in its cause (the samples' 'test_catch_states_runtime' form, with the
    chain cut as AWS records it)."""
    events = [{"id": 1, "previousEventId": 0, "type": "ExecutionStarted",
               "executionStartedEventDetails": {"input": "{}", "roleArn": "arn:aws:iam::111111111111:role/r"}}]
    events += before_failure
    events.append({"id": len(events) + 1, "previousEventId": 0, "type": "ExecutionFailed",
                   "executionFailedEventDetails": {
                       "error": "States.Runtime",
                       "cause": f"An error occurred while executing the state '{state}' "
                                f"(entered at the event id #{entered}). {detail}"}})
    for i, ev in enumerate(events):
        ev["timestamp"] = (BASE + dt.timedelta(seconds=i)).isoformat()
    return {"events": events}


def test_states_runtime_glue_failure_names_the_failed_step():
    doc = _runtime_history([
        {"id": 2, "previousEventId": 1, "type": "PassStateEntered", "stateEnteredEventDetails": {"name": "Prepare"}},
        {"id": 3, "previousEventId": 2, "type": "PassStateExited", "stateExitedEventDetails": {"name": "Prepare"}},
        {"id": 4, "previousEventId": 3, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "RunGlueJob"}},
        {"id": 5, "previousEventId": 4, "type": "TaskScheduled", "taskScheduledEventDetails": {
            "resource": "startJobRun.sync", "resourceType": "glue", "region": "eu-west-1", "parameters": "{}"}},
        {"id": 6, "previousEventId": 5, "type": "TaskStarted", "taskStartedEventDetails": {
            "resource": "startJobRun.sync", "resourceType": "glue"}},
        {"id": 7, "previousEventId": 6, "type": "TaskSubmitted", "taskSubmittedEventDetails": {
            "resource": "startJobRun.sync", "resourceType": "glue", "output": "{}"}},
    ], "RunGlueJob", 4, "Glue job run failed: JobRunState FAILED")
    b = T.FORMATS["aws.history"](doc, ctx())
    assert not b.skips
    steps = {s[C.name]: s for s in b.steps}
    glue = steps["RunGlueJob"]
    assert (glue[C.status], glue[C.error]) == (Status.FAILED, "States.Runtime")
    assert "RunGlueJob" in glue[C.cause] and glue[C.ended_at] == at(7)
    assert steps["Prepare"][C.status] == Status.SUCCEEDED
    assert [(a[C.status], a[C.error]) for a in b.attempts] == [(Status.FAILED, "States.Runtime")]


def test_states_runtime_bad_parameters_path_is_the_failed_step_not_aborted():
    doc = _runtime_history([
        {"id": 2, "previousEventId": 1, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "CallLambda"}},
    ], "CallLambda", 2, "The JSONPath '$.missing' specified for the field 'FunctionName.$' could not be found "
                        "in the input '{}'")
    b = T.FORMATS["aws.history"](doc, ctx())
    [step] = b.steps
    assert (step[C.status], step[C.error]) == (Status.FAILED, "States.Runtime")
    assert "$.missing" in step[C.cause]
    assert b.executions[0][C.status] == Status.FAILED


def test_a_listed_map_run_child_belongs_to_the_parent_state_machine():
    """ListExecutions(mapRunArn) names a child's state machine `stateMachine:SM/<label>` (as recorded
    in test_sfn_api_map_run.snapshot.json). The listing's row took that as its workflow: a Standard
    child imported from list-executions output was a workflow `SM/label` of its own, where its
    history (and the live collector) files it under SM, which is billed for its transitions."""
    child_sm = SM_ARN + "/lbl"
    assert state_machine_arn(child_sm) == SM_ARN
    items = {"executions": [{"executionArn": ARN.replace("OrderFlow:", "OrderFlow/lbl:"), "stateMachineArn": child_sm,
                             "status": "SUCCEEDED", "startDate": at(0).isoformat(), "stopDate": at(1).isoformat(),
                             "mapRunArn": "arn:aws:states:eu-west-1:111111111111:mapRun:OrderFlow/lbl:abc"}]}
    [row] = T.FORMATS["aws.execution"](items, ctx(None)).executions
    assert (row[C.workflow_id], row[C.workflow_name]) == (SM_ARN, "OrderFlow")


# ---------------------------------------------------------------- logging level ERROR: failed Tasks

def _error_level_records(arn: str, failures: list[tuple[str, str, str]]) -> list[dict]:
    """Records a run logs at level ERROR: each Task failure (type, resource type, error), then
    ExecutionFailed; the events they chain from (TaskStateEntered, TaskScheduled) are not logged."""
    out, eid = [], 4
    for etype, resource_type, error in failures:
        out.append({"id": str(eid), "type": etype, "previous_event_id": str(eid - 1),
                    "event_timestamp": str(1_700_000_000_000 + eid * 100), "execution_arn": arn,
                    "details": {"resource": "invoke", "resourceType": resource_type, "error": error,
                                "cause": f"{error} happened"}})
        eid += 3
    out.append({"id": str(eid), "type": "ExecutionFailed", "previous_event_id": str(eid - 3),
                "event_timestamp": str(1_700_000_000_000 + eid * 100), "execution_arn": arn,
                "details": {"error": failures[-1][2], "cause": f"{failures[-1][2]} happened"}})
    return out


def test_a_task_failure_logged_at_error_level_is_a_failed_step_with_its_error():
    """At logging level ERROR a Task's failure is logged without the TaskStateEntered it chains
    from: the failure was an orphan event, so the run read FAILED with no step at all, and the
    step that failed, its error and its tries were nowhere. It is now a Task step (entry time
    unknown, ended at the failure; FAILED if it failed the run, else CAUGHT), its failures its
    tries (a Retry's failures of one resource in a row are one visit), named from the definition
    when one Task calls that resource."""
    from flowscope.collectors.aws.transform.assemble import assemble
    from flowscope.collectors.aws.transform.names import UNLOGGED_TASK

    arn = "arn:aws:states:us-east-1:123456789012:express:orders:run-1:0000"
    records = _error_level_records(arn, [("TaskFailed", "lambda", "Lambda.Unknown"),
                                         ("TaskFailed", "lambda", "Lambda.Unknown"),
                                         ("TaskTimedOut", "sqs", "States.Timeout")])
    batch = T.transform_log_records(records, ImportContext(source_name="errors.json"))
    [execution] = batch.executions
    assert execution[C.status] == "FAILED" and execution[C.error] == "States.Timeout"
    assert [(s[C.name], s[C.resource], s[C.status], s[C.error], s[C.attempts]) for s in batch.steps] == [
        (UNLOGGED_TASK, "arn:aws:states:::lambda:invoke", "CAUGHT", "Lambda.Unknown", 2),   # the run went on
        (UNLOGGED_TASK, "arn:aws:states:::sqs:invoke", "TIMED_OUT", "States.Timeout", 1)]
    assert [s[C.started_at] for s in batch.steps] == [None, None]
    assert all(s[C.ended_at] is not None for s in batch.steps)
    assert [(a[C.attempt], a[C.status], a[C.error]) for a in batch.attempts] == [
        (1, "FAILED", "Lambda.Unknown"), (2, "FAILED", "Lambda.Unknown"), (1, "TIMED_OUT", "States.Timeout")]

    definition = json.dumps({"StartAt": "Charge", "States": {
        "Charge": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Notify"},
        "Notify": {"Type": "Task", "Resource": "arn:aws:states:::sqs:invoke", "Next": "Tell"},
        "Tell": {"Type": "Task", "Resource": "arn:aws:states:::sqs:invoke", "End": True}}})
    steps, _, _ = assemble(execution, batch.steps, batch.attempts, {C.definition: definition})
    # one Task calls lambda:invoke: named; two call sqs:invoke: which one is not known
    assert [s[C.name] for s in steps] == ["Charge", UNLOGGED_TASK]


def test_credentials_written_into_a_definition_are_not_stored():
    """A definition that quotes a credential (a URL's token or user:password, a bearer token in a
    Task's Parameters) was stored as is, and shown in the dashboard and exported with the
    workflows table; the same rules as error texts now take them out (the JSON stays readable)."""
    definition = {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::http:invoke", "End": True,
        "Parameters": {"ApiEndpoint": "https://hooks.example.com/run?token=s3cr3tT0ken&x=1",
                       "Mirror": "https://deploy:hunter22@git.example.com/repo",
                       "Headers": {"X-Forward": "Bearer abcdefgh12345678"}}}}}
    doc = {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:hooks",
           "name": "hooks", "type": "STANDARD", "definition": json.dumps(definition)}
    [row] = T.transform_state_machine(doc, ctx(None)).workflows
    stored = row[C.definition]
    assert "s3cr3tT0ken" not in stored and "hunter22" not in stored and "abcdefgh12345678" not in stored
    params = json.loads(stored)["States"]["Call"]["Parameters"]
    assert params["ApiEndpoint"] == "https://hooks.example.com/run?token=REDACTED&x=1"
    assert params["Headers"]["X-Forward"] == "Bearer REDACTED"


def test_the_optional_run_link_hooks_are_read_through_the_contract():
    """`link_parents` and `stored_children` are optional members of a cloud's transforms
    (native.py): AWS has both, a package without them (or with something else under the name)
    gives None instead of failing the assembly."""
    import types

    from flowscope.collectors.native import link_parents_of, stored_children_of

    assert link_parents_of(T) is T.link_parents and stored_children_of(T) is T.stored_children
    bare = types.SimpleNamespace(FORMATS={}, link_parents="not a function")
    assert link_parents_of(bare) is None and stored_children_of(bare) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(("field", "value"), [
    ("name", 5), ("type", 5), ("revisionId", ["a"]), ("loggingConfiguration", "ALL"),
    ("loggingConfiguration", {"level": 5}), ("loggingConfiguration", {"destinations": "x"}),
    ("tracingConfiguration", "on"), ("definition", 7)])
def test_a_describe_state_machine_field_of_the_wrong_type_is_named(field, value):
    """A describe-state-machine document with a field of the wrong type failed the import with a
    Python error ("'int' object has no attribute 'upper'") or the store's ("workflows: column
    'name' expects string"), naming neither the field nor the file; it now names both."""
    doc = {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:x", "name": "x",
           "definition": json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
           field: value}
    with pytest.raises(NativeFormatError, match=re.escape(field)) as info:
        T.transform_state_machine(doc, ImportContext(source_name="sm.json"))
    assert str(info.value).startswith("sm.json: ")


@pytest.mark.parametrize(("event_type", "details"), [
    ("MapIterationStarted", {"name": "Each", "index": "first"}),
    ("MapIterationStarted", {"name": "Each", "index": [0]}),
    ("TaskScheduled", {"resourceType": "lambda", "resource": 5, "region": "us-east-1"}),
])
def test_one_event_with_a_field_of_the_wrong_type_is_skipped_not_the_whole_file(event_type, details):
    """A log record whose details held a field of the wrong type (a Map iteration's index that is
    no number, a Task's resource that is no text) failed the whole file with a Python error
    ("int() argument must be ...", "'int' object has no attribute 'startswith'"). That event is
    skipped now, named with its execution and id, and the rest of the execution is kept."""
    arn = "arn:aws:states:us-east-1:123456789012:express:m:run-1:00000000-0000-0000-0000-000000000000"
    types = [("ExecutionStarted", {}), ("MapStateEntered", {"name": "Each"}),
             ("TaskStateEntered", {"name": "Call"}), (event_type, details),
             ("TaskStateExited", {"name": "Call"}), ("MapStateExited", {"name": "Each"}),
             ("ExecutionSucceeded", {})]
    records = [{"id": str(i + 1), "type": t, "details": d, "previous_event_id": str(i),
                "event_timestamp": str(1_700_000_000_000 + i), "execution_arn": arn}
               for i, (t, d) in enumerate(types)]
    batch = T.transform_log_records(records, ImportContext(source_name="f.jsonl"))
    [execution] = batch.executions
    assert execution[C.status] == "SUCCEEDED"
    [skip] = batch.skips
    assert skip.source == "f.jsonl" and f"{arn} event 4" in skip.location
    assert event_type in skip.reason


@pytest.mark.parametrize("where", ["record", "event", "describe"])
def test_a_redrive_count_that_is_no_count_is_said_not_a_failed_import(where):
    """A redrive count out of range ("99999999999999999999") went through the transform and failed
    the whole import at the store ("column 'redrive_count' expects int32"); a log record's that was
    no number was dropped without a word. Either is now a skip naming the file and the value, and
    the execution is kept without it."""
    arn = "arn:aws:states:us-east-1:123456789012:execution:m:run-1"
    bad = "99999999999999999999"
    if where == "describe":
        item = {"executionArn": arn, "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m",
                "name": "run-1", "startDate": 1_700_000_000, "status": "SUCCEEDED", "stopDate": 1_700_000_001,
                "redriveCount": bad}
        good = {**item, "executionArn": arn + "-good", "name": "run-1-good", "redriveCount": 1}
        batch = T.transform_execution({"executions": [item, good]}, ImportContext(source_name="list.json"))
        assert [e[C.execution_id] for e in batch.executions] == [arn + "-good"]
        [skip] = batch.skips
        assert skip.source == "list.json" and bad in skip.reason
        return
    types = [("ExecutionStarted", {}), ("ExecutionRedriven", {"redriveCount": bad if where == "event" else 1}),
             ("ExecutionSucceeded", {})]
    records = [{"id": str(i + 1), "type": t, "details": d, "previous_event_id": str(i),
                "event_timestamp": str(1_700_000_000_000 + i), "execution_arn": arn,
                "redrive_count": bad if where == "record" and i == 2 else "1"}
               for i, (t, d) in enumerate(types)]
    batch = T.transform_log_records(records, ImportContext(source_name="f.jsonl"))
    [execution] = batch.executions
    assert 0 <= execution[C.redrive_count] < 2**31
    [skip] = batch.skips
    assert skip.source == "f.jsonl" and bad in skip.reason


@pytest.mark.parametrize(("event", "said"), [
    ({"type": "TaskScheduled", "taskScheduledEventDetails": {"resource": {"fn": "x"}, "resourceType": ""}},
     "resource"),
    ({"type": "TaskStarted", "taskStartedEventDetails": {"resource": True}}, "resource"),
    ({"type": "", "stateEnteredEventDetails": {}}, "type"),
    ({"type": ["TaskScheduled"]}, "type"),
])
def test_a_history_event_whose_type_or_resource_is_not_text_is_skipped(event, said):
    """A Task resource that is no text went into the steps row and failed the whole import at the
    store ("column 'resource' expects string"); an event type that is empty or no text failed it
    with an IndexError or TypeError traceback. The event is skipped now, named, and the rest kept."""
    from flowscope.collectors.assemble import assemble_batch
    from flowscope.store.validate import validate_batch

    events = [
        {"id": 1, "previousEventId": 0, "timestamp": 1_700_000_000, "type": "ExecutionStarted",
         "executionStartedEventDetails": {}},
        {"id": 2, "previousEventId": 1, "timestamp": 1_700_000_001, "type": "TaskStateEntered",
         "stateEnteredEventDetails": {"name": "Call"}},
        {"id": 3, "previousEventId": 2, "timestamp": 1_700_000_002, **event},
        {"id": 4, "previousEventId": 3, "timestamp": 1_700_000_003, "type": "TaskStateExited",
         "stateExitedEventDetails": {"name": "Call"}},
        {"id": 5, "previousEventId": 4, "timestamp": 1_700_000_004, "type": "ExecutionSucceeded",
         "executionSucceededEventDetails": {}},
    ]
    batch = T.transform_history({"events": events}, ImportContext(source_name="h.json", execution_id=ARN))
    validate_batch(assemble_batch(batch, None, transforms_for=lambda cloud: T))    # what the store accepts
    [execution] = batch.executions
    assert execution[C.status] == "SUCCEEDED" and [s[C.name] for s in batch.steps] == ["Call"]
    [skip] = batch.skips
    assert skip.source == "h.json" and said in skip.reason


def test_an_execution_item_with_a_status_step_functions_does_not_have_is_skipped():
    """A list-executions / describe-execution item whose status is none of Step Functions' (a typo,
    another tool's vocabulary: "COMPLETED") was stored RUNNING, a run that never ends, without a
    word. It is a skip now naming the file and the status; the other items are kept."""
    base = {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m",
            "startDate": 1_700_000_000, "stopDate": 1_700_000_001}
    items = [{**base, "executionArn": f"arn:aws:states:us-east-1:123456789012:execution:m:{name}", "name": name,
              "status": status} for name, status in (("a", "COMPLETED"), ("b", "SUCCEEDED"), ("c", "PENDING_REDRIVE"))]
    batch = T.transform_execution({"executions": items}, ImportContext(source_name="list.json"))
    assert [(e[C.name], e[C.status]) for e in batch.executions] == [("b", "SUCCEEDED"), ("c", "RUNNING")]
    [skip] = batch.skips
    assert skip.source == "list.json" and skip.location == "executions[0]" and "'COMPLETED'" in skip.reason


def test_a_state_machines_description_is_stored_without_credentials_then_cut():
    """A state machine's (or version's) description is its author's text, any length: it was kept whole
    in the row's attributes, credentials included. It is cleaned, then cut, as errors are."""
    doc = {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:hooks", "name": "hooks",
           "type": "STANDARD", "definition": json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass",
                                                                                         "End": True}}}),
           "description": "mirror https://deploy:hunter22@git.example.com/repo " + "d" * 5000,
           "versionDescription": "token=abc?token=s3cr3tT0ken"}
    [row] = T.transform_state_machine(doc, ctx(None)).workflows
    attributes = json.loads(row[C.attributes])
    assert "hunter22" not in row[C.attributes] and "s3cr3tT0ken" not in row[C.attributes]
    assert attributes["description"].startswith("mirror https://REDACTED@git.example.com/repo")
    assert len(attributes["description"]) == 1024
