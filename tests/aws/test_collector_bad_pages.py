"""A 200 whose body is no Step Functions answer (a proxy's, a broken gateway's `{}`): a listing without its
list, a history without events. Read as empty they were "no executions" and an execution stored finished
with no steps, never read again; each is that call's recorded error now, and the next sync reads it again."""

from __future__ import annotations

import time

import pytest

from flowscope.model import RunStatus
from flowscope.store import Store
from tests.aws.sfn_fake import sync_once


def _machine(now: float):
    from tests.aws.sfn_fake import ACCOUNT

    sm = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:orders"
    item = {"executionArn": f"arn:aws:states:us-east-1:{ACCOUNT}:execution:orders:e1", "stateMachineArn": sm,
            "name": "e1", "status": "SUCCEEDED", "startDate": now - 120, "stopDate": now - 60}
    return sm, item


@pytest.mark.parametrize("page", [{}, {"executions": None}, {"nextToken": None}])
def test_a_listing_page_without_executions_is_an_error_not_no_executions(_aws_env, tmp_path, page):
    from tests.aws.sfn_fake import machine_handlers

    now = time.time()
    sm, _ = _machine(now)
    result = sync_once({**machine_handlers({"orders": sm}, "STANDARD", now - 3600),
                    "ListExecutions": lambda b: page}, Store(tmp_path / "s"))
    assert result.status in (RunStatus.PARTIAL, RunStatus.FAILED), result.row()
    assert "BadPage" in str(result.errors) and "executions" in result.error, result.row()


def test_a_history_without_events_is_that_executions_error_and_read_again(_aws_env, tmp_path):
    from tests.aws.sfn_fake import machine_handlers

    now = time.time()
    sm, item = _machine(now)
    good = [{"id": 1, "previousEventId": 0, "timestamp": now - 120, "type": "ExecutionStarted",
             "executionStartedEventDetails": {"input": "{}", "roleArn": "r"}},
            {"id": 2, "previousEventId": 1, "timestamp": now - 60, "type": "ExecutionSucceeded",
             "executionSucceededEventDetails": {"output": "{}"}}]
    answers = {"history": {}}
    handlers = {**machine_handlers({"orders": sm}, "STANDARD", now - 3600),
                "ListExecutions": lambda b: {"executions": [item]},
                "DescribeExecution": lambda b: {**item, "input": "{}"},
                "GetExecutionHistory": lambda b: answers["history"]}
    store = Store(tmp_path / "s")
    first = sync_once(handlers, store)
    assert first.status == RunStatus.PARTIAL and "BadPage" in str(first.errors), first.row()
    assert not store.read_rows("executions")                    # not stored finished with no steps
    answers["history"] = {"events": good}
    second = sync_once(handlers, store)
    assert second.status == RunStatus.SUCCEEDED, second.row()
    [execution] = store.read_rows("executions")
    assert execution["status"] == "SUCCEEDED" and execution["event_count"] == 2
