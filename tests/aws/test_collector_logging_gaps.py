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
