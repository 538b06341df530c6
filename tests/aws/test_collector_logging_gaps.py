"""Express machines logging below ALL: the sync succeeds, and the analysis reports the gap."""

from __future__ import annotations

import datetime as dt
import json

from flowscope.analysis.run import analyze_store
from flowscope.collectors.aws import collector as aws
from flowscope.model import RunStatus

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def test_express_logging_error_or_off_becomes_a_collection_gap_finding(moto, store):
    group = "/aws/vendedlogs/states/express-gaps"
    moto.logs.create_log_group(logGroupName=group)
    group_arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{group}:*"
    errors = moto.machine("express-errors-only", PASS, type="EXPRESS", loggingConfiguration={
        "level": "ERROR", "includeExecutionData": False,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group_arn}}]})
    quiet = moto.machine("express-quiet", PASS, type="EXPRESS", loggingConfiguration={"level": "OFF"})
    full = moto.machine("express-full", PASS, type="EXPRESS", loggingConfiguration={
        "level": "ALL", "includeExecutionData": False,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group_arn}}]})

    [result] = aws.sync(moto.source(metrics=False), store)
    assert result.status == RunStatus.SUCCEEDED            # partial data is said, not failed
    details = json.loads(result.row()["details"])
    assert details["machines"][errors]["logging_level"] == "ERROR"
    assert details["machines"][errors]["state_machine_arn"] == errors
    assert any("express-errors-only" in w and "ERROR" in w for w in details["warnings"])

    findings = analyze_store(store, since=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    gaps = findings[findings["kind"] == "collection_gap"]
    by_machine = {row.workflow_id: row for row in gaps.itertuples(index=False)}
    assert set(by_machine) == {errors, quiet}, gaps[["workflow_id", "title"]]
    assert by_machine[errors].workflow == "express-errors-only"
    assert "ERROR" in by_machine[errors].title and "express-errors-only" in by_machine[errors].title
    assert "OFF" in by_machine[quiet].title
    assert full not in by_machine
    evidence = by_machine[errors].evidence
    evidence = json.loads(evidence) if isinstance(evidence, str) else evidence
    assert evidence["source"] == "collection_run" and evidence["level"] == "ERROR"   # read from details


def test_an_express_run_logged_at_error_whose_end_was_not_logged_is_not_running_for_ever(_aws_env, store):
    """Level ERROR logs a run's failures, never its success: a run that caught a TaskFailed and
    succeeded left only that record, and was stored RUNNING for ever (Express runs are never
    revisited), counted among the runs in flight weeks later though Express stops a run at five
    minutes. Once its first record is older than five minutes and the lag (a late ExecutionFailed
    would have been read), it is stored SUCCEEDED, its end unknown, and says why; a run whose
    failure was logged stays FAILED, a recent one RUNNING."""
    import time

    from flowscope.model import C
    from tests.aws.sfn_fake import ACCOUNT, FakeSfn, machine_handlers

    sm = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:orders"
    group_arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/states/orders:*"
    now = time.time()

    def run(name: str) -> str:
        return f"arn:aws:states:us-east-1:{ACCOUNT}:express:orders:{name}:0000-{name}"

    def record(arn: str, eid: int, kind: str, at: float, **details: str) -> dict:
        return {"id": str(eid), "type": kind, "details": details, "previous_event_id": str(eid - 1),
                "event_timestamp": str(int(at * 1000)), "execution_arn": arn, "redrive_count": "0"}

    task = {"resourceType": "lambda", "resource": "invoke", "error": "Boom", "cause": "retry me"}
    records = [record(run("caught"), 4, "TaskFailed", now - 1800, **task),
               record(run("failed"), 4, "TaskFailed", now - 1800, **task),
               record(run("failed"), 6, "ExecutionFailed", now - 1799, error="Boom", cause="retry me"),
               record(run("recent"), 4, "TaskFailed", now - 60, **task)]
    events = [{"eventId": f"{r['execution_arn'][-6:]}-{r['id']}", "logStreamName": "s",
               "timestamp": int(r["event_timestamp"]), "message": json.dumps(r)} for r in records]
    handlers = {
        **machine_handlers({"orders": sm}, "EXPRESS", now - 9000, definition=json.dumps(PASS), loggingConfiguration={
            "level": "ERROR", "includeExecutionData": False,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group_arn}}]}),
        "FilterLogEvents": lambda b: {"events": [e for e in events
                                                 if b.get("startTime", 0) <= e["timestamp"] <= b["endTime"]]},
    }
    with FakeSfn(handlers) as fake:
        source = {"cloud": "aws", "regions": ["us-east-1"], "endpoint_url": fake.endpoint, "metrics": False,
                  "max_attempts": 1}
        [result] = aws.sync(source, store, since=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    assert result.status == RunStatus.SUCCEEDED, result.row()
    rows = {r[C.execution_id]: r for r in store.read_rows("executions")}
    assert {arn: (r[C.status], r[C.ended_at]) for arn, r in rows.items()} == {
        run("caught"): ("SUCCEEDED", None),
        run("failed"): ("FAILED", rows[run("failed")][C.started_at] + dt.timedelta(seconds=1)),
        run("recent"): ("RUNNING", None)}
    assert json.loads(rows[run("caught")][C.attributes])["end_not_logged"].startswith("logging level ERROR")
    # the failing Task of each run is a step with its error (CAUGHT: the run went on past it)
    steps = {s[C.execution_id]: s for s in store.read_rows("steps")}
    assert {arn: (s[C.status], s[C.error], s[C.resource]) for arn, s in steps.items()} == {
        run("caught"): ("CAUGHT", "Boom", "arn:aws:states:::lambda:invoke"),
        run("failed"): ("FAILED", "Boom", "arn:aws:states:::lambda:invoke"),
        run("recent"): ("CAUGHT", "Boom", "arn:aws:states:::lambda:invoke")}
    assert result.counts["express_ends_not_logged"] == 1
