"""A state machine that could not be read (DescribeStateMachine or ListExecutions failing for it
alone) is read again from where it was not, without holding the scope's watermark."""

from __future__ import annotations

import datetime as dt
import json
import time

from flowscope.collectors.aws import collector as aws
from flowscope.model import C, RunStatus
from tests.aws.sfn_fake import ACCOUNT, FakeSfn, described_machine, machine_handlers

UTC = dt.timezone.utc
REGION = "us-east-1"


def _history(t0: float) -> list[dict]:
    return [
        {"id": 1, "previousEventId": 0, "timestamp": t0, "type": "ExecutionStarted",
         "executionStartedEventDetails": {"roleArn": "r"}},
        {"id": 2, "previousEventId": 1, "timestamp": t0 + 1, "type": "ExecutionSucceeded",
         "executionSucceededEventDetails": {}},
    ]


def test_a_machine_that_could_not_be_read_is_read_again_without_holding_the_scope(_aws_env, store):
    """One machine's DescribeStateMachine denied (a resource-level policy) held the whole scope's
    watermark where it was: every later sync listed every machine from that old point, a window
    growing sync after sync for as long as the one machine stayed unreadable. Now the watermark
    moves on and that machine alone is listed from where it was not read (the run's
    `details.machines_unread_from`), until a sync reads it."""
    now = time.time()
    machines = {name: f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}" for name in ("open", "locked")}
    run = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:locked:run-1"
    started = now - 50 * 60                       # after the first window's start, before the second's
    denied = [True]
    listed_bounds: list[str] = []

    def describe(b: dict) -> dict | tuple:
        name = b["stateMachineArn"].rsplit(":", 1)[1]
        if name == "locked" and denied[0]:
            return 400, {"__type": "AccessDeniedException", "message": "not authorized"}
        return described_machine(b["stateMachineArn"], "STANDARD", now - 7200)

    def list_executions(b: dict) -> dict:
        if b.get("redriveFilter"):
            return {"executions": []}
        listed_bounds.append(b["stateMachineArn"])
        if b["stateMachineArn"] == machines["locked"]:
            return {"executions": [{"executionArn": run, "name": "run-1", "stateMachineArn": machines["locked"],
                                    "startDate": started, "status": "SUCCEEDED", "stopDate": started + 1}]}
        return {"executions": []}

    handlers = {
        **machine_handlers(machines, "STANDARD", now - 7200, describe=describe),
        "ListExecutions": list_executions,
        "GetExecutionHistory": lambda b: {"events": _history(started)},
    }
    since = dt.datetime.now(UTC) - dt.timedelta(hours=1)
    source = {"cloud": "aws", "regions": [REGION], "metrics": False, "max_attempts": 1}
    with FakeSfn(handlers) as fake:
        [first] = aws.sync({**source, "endpoint_url": fake.endpoint}, store, since=since)
    assert first.status == RunStatus.PARTIAL                       # the denial is recorded
    assert first.watermark is not None and first.watermark > since + dt.timedelta(minutes=59)
    unread = json.loads(first.row()["details"])[aws.MACHINES_UNREAD]
    assert unread == {machines["locked"]: since.isoformat()}

    denied[0] = False
    with FakeSfn(handlers) as fake:
        [second] = aws.sync({**source, "endpoint_url": fake.endpoint}, store)
    assert second.status == RunStatus.SUCCEEDED, second.row()
    assert aws.MACHINES_UNREAD not in json.loads(second.row()["details"])
    assert [r[C.execution_id] for r in store.read_rows("executions")] == [run]   # listed from where it was not
