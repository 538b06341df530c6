"""Redriven executions: a Standard execution stored terminal that ListExecutions lists again with
another status or a higher `redriveCount` is fetched again and replaced (a redrive keeps the
execution's ARN and appends a later life to its history).

moto cannot redrive, so these run against the loopback fake (tests/aws/sfn_fake.py).
"""

from __future__ import annotations

import json
import time

import pytest

from flowscope.collectors.aws import collector as aws
from flowscope.model import RunStatus
from tests.aws.sfn_fake import ACCOUNT, FakeSfn, machine_handlers

REGION = "us-east-1"
SM = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:orders"
EX = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:orders:run-1"
DEFINITION = {"StartAt": "Charge", "States": {"Charge": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                                         "End": True}}}
TASK = {"resourceType": "lambda", "resource": "invoke"}
SCHEDULED = {**TASK, "region": REGION, "parameters": "{}"}


def _ev(i: int, prev: int, typ: str, ts: float, **details: dict) -> dict:
    return {"id": i, "previousEventId": prev, "type": typ, "timestamp": ts, **details}


class Execution:
    """One execution that fails, then (`redrive()`) is redriven and succeeds."""

    def __init__(self, started: float) -> None:
        self.t0 = started
        self.redriven_at: float | None = None

    def redrive(self, seconds_ago: float = 600) -> None:
        self.redriven_at = time.time() - seconds_ago

    def history(self) -> list[dict]:
        T0 = self.t0
        events = [
            _ev(1, 0, "ExecutionStarted", T0, executionStartedEventDetails={"roleArn": "r"}),
            _ev(2, 1, "TaskStateEntered", T0 + 1, stateEnteredEventDetails={"name": "Charge"}),
            _ev(3, 2, "TaskScheduled", T0 + 1, taskScheduledEventDetails=SCHEDULED),
            _ev(4, 3, "TaskFailed", T0 + 2, taskFailedEventDetails={**TASK, "error": "Boom", "cause": "x"}),
            _ev(5, 4, "ExecutionFailed", T0 + 2, executionFailedEventDetails={"error": "Boom", "cause": "x"}),
        ]
        r = self.redriven_at
        if r is not None:
            events += [
                _ev(6, 5, "ExecutionRedriven", r, executionRedrivenEventDetails={"redriveCount": 1}),
                _ev(7, 6, "TaskStateEntered", r, stateEnteredEventDetails={"name": "Charge"}),
                _ev(8, 7, "TaskScheduled", r, taskScheduledEventDetails=SCHEDULED),
                _ev(9, 8, "TaskSucceeded", r + 1, taskSucceededEventDetails=TASK),
                _ev(10, 9, "TaskStateExited", r + 1, stateExitedEventDetails={"name": "Charge"}),
                _ev(11, 10, "ExecutionSucceeded", r + 1, executionSucceededEventDetails={}),
            ]
        return events

    def item(self) -> dict:
        T0 = self.t0
        if self.redriven_at is None:
            return {"executionArn": EX, "stateMachineArn": SM, "name": "run-1", "status": "FAILED",
                    "startDate": T0, "stopDate": T0 + 2, "redriveCount": 0}
        return {"executionArn": EX, "stateMachineArn": SM, "name": "run-1", "status": "SUCCEEDED",
                "startDate": T0, "stopDate": self.redriven_at + 1, "redriveCount": 1,
                "redriveDate": self.redriven_at}


def _handlers(execution: Execution) -> dict:
    T0 = execution.t0

    def list_executions(body: dict) -> dict:
        item = execution.item()
        if body.get("redriveFilter") == "REDRIVEN" and not item["redriveCount"]:
            return {"executions": []}
        return {"executions": [item]}

    return {
        **machine_handlers({"orders": SM}, "STANDARD", T0 - 86400, status="ACTIVE",
                           definition=json.dumps(DEFINITION)),
        "ListExecutions": list_executions,
        "GetExecutionHistory": lambda b: {"events": execution.history()},
        "DescribeExecution": lambda b: {**execution.item(), "input": "{}"},
    }


@pytest.fixture(params=[300, 3 * 3600], ids=["started-in-window", "started-before-window"])
def execution(request) -> Execution:
    """Started 5 minutes ago (the next sync's window lists it again), or 3 hours ago (only
    ListExecutions(redriveFilter=REDRIVEN) lists it again)."""
    return Execution(time.time() - request.param)


@pytest.fixture
def fake(_aws_env, execution):
    with FakeSfn(_handlers(execution)) as server:
        yield server


def _source(fake: FakeSfn) -> dict:
    return {"cloud": "aws", "regions": [REGION], "endpoint_url": fake.endpoint, "metrics": False, "max_attempts": 1}


def _stored(store) -> list[tuple]:
    return [(e["status"], e["redrive_count"]) for e in store.read_rows("executions")]


def test_redriven_execution_is_fetched_again_and_replaced(fake, store, execution):
    [first] = aws.sync(_source(fake), store)
    assert first.status == RunStatus.SUCCEEDED, first.row()
    assert _stored(store) == [("FAILED", 0)]

    # unchanged listing: the terminal execution is not fetched again
    aws.sync(_source(fake), store)
    assert fake.count("GetExecutionHistory") == 1

    execution.redrive(seconds_ago=60)
    [after] = aws.sync(_source(fake), store)
    assert after.status == RunStatus.SUCCEEDED, after.row()
    assert fake.count("GetExecutionHistory") == 2
    assert after.counts.get("executions_redriven") == 1
    # not on the first sync: nothing stored could have been redriven (its listing took the rest)
    assert fake.count("ListExecutions", redriveFilter="REDRIVEN") == 2
    assert _stored(store) == [("SUCCEEDED", 1)]
    [row] = store.read_rows("executions")
    assert row["ended_at"].timestamp() == pytest.approx(execution.redriven_at + 1, abs=1)
    # the failure of its first life is not the succeeded run's error (it was kept: both rows were
    # finished, and the merge filled the winner's empty error from the stored one)
    assert (row["error"], row["cause"]) == (None, None)

    # and stays put once stored with its redrive
    [again] = aws.sync(_source(fake), store)
    assert again.status == RunStatus.SUCCEEDED
    assert fake.count("GetExecutionHistory") == 2


def test_redrives_are_listed_only_for_machines_with_a_stored_failure(_aws_env, store):
    """ListExecutions(redriveFilter=REDRIVEN) was asked of every Standard machine every sync (at
    2-5 calls a second, a second listing per machine) although only a run that failed, timed out
    or was aborted in the last 14 days can be redriven. A machine with no such run stored is no
    longer asked."""
    execution = Execution(time.time() - 300)
    execution.history = lambda: [   # type: ignore[method-assign] - a run that succeeded
        _ev(1, 0, "ExecutionStarted", execution.t0, executionStartedEventDetails={"roleArn": "r"}),
        _ev(2, 1, "ExecutionSucceeded", execution.t0 + 2, executionSucceededEventDetails={})]
    handlers = _handlers(execution)
    handlers["ListExecutions"] = lambda b: {"executions": [] if b.get("redriveFilter") else [
        {**execution.item(), "status": "SUCCEEDED"}]}
    with FakeSfn(handlers) as fake:
        for _ in range(2):
            [result] = aws.sync(_source(fake), store)
            assert result.status == RunStatus.SUCCEEDED, result.row()
        assert fake.count("ListExecutions", redriveFilter="REDRIVEN") == 0
    assert _stored(store) == [("SUCCEEDED", 0)]


def test_a_stale_running_listing_of_a_stored_finished_run_is_not_read_as_a_redrive(_aws_env, store):
    """ListExecutions is eventually consistent: a run stored FAILED (from its history) may be listed
    RUNNING a while longer, with the same redrive count. That re-fetched its history every sync and
    counted it as redriven; a redrive raises the count, so only a higher count is one now."""
    execution = Execution(time.time() - 300)
    handlers = _handlers(execution)
    stale = {**execution.item(), "status": "RUNNING", "stopDate": None}
    handlers["ListExecutions"] = lambda b: {"executions": [] if b.get("redriveFilter") else [stale]}
    with FakeSfn(handlers) as fake:
        [first] = aws.sync(_source(fake), store)     # not stored yet: fetched, FAILED by its history
        assert first.status == RunStatus.SUCCEEDED, first.row()
        assert _stored(store) == [("FAILED", 0)]
        [second] = aws.sync(_source(fake), store)
        assert second.status == RunStatus.SUCCEEDED, second.row()
        assert fake.count("GetExecutionHistory") == 1
        assert "executions_redriven" not in second.counts
        assert second.counts.get("executions_skipped_terminal") == 1
    assert _stored(store) == [("FAILED", 0)]
