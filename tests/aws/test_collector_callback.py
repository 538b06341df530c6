"""`.waitForTaskToken` through SQS on moto's server: the step shows the callback wait."""

from __future__ import annotations

import json
import time

import pytest

from flowscope.collectors.aws import collector as aws
from flowscope.model import RunStatus

pytestmark = pytest.mark.slow  # a task-token callback through SQS on moto, with waits


def test_wait_for_task_token_via_sqs_is_collected_with_its_wait(moto, store):
    queue = moto.sqs.create_queue(QueueName="callbacks")["QueueUrl"]
    definition = {"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}},
                "Next": "Done"},
        "Done": {"Type": "Succeed"}}}
    machine = moto.machine("callback", definition)
    run = moto.run(machine)
    token = None
    deadline = time.monotonic() + 10
    while token is None and time.monotonic() < deadline:
        messages = moto.sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
        for message in messages:
            token = json.loads(message["Body"])["token"]
    assert token, moto.history(run)
    time.sleep(0.3)                                 # a measurable wait between submit and success
    moto.sfn.send_task_success(taskToken=token, output=json.dumps({"ok": True}))   # the test, not the collector
    assert moto.wait([run])[run] == "SUCCEEDED"

    [result] = aws.sync(moto.source(metrics=False), store)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    history = moto.history(run)
    types = [e["type"] for e in history]
    assert "TaskSubmitted" in types and "TaskSucceeded" in types
    [step] = [s for s in store.read_rows("steps") if s["name"] == "Ask"]
    assert step["status"] == "SUCCEEDED"
    assert step["resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
    [attempt] = [a for a in store.read_rows("attempts") if a["step_key"] == step["step_key"]]
    submitted = next(e["timestamp"] for e in history if e["type"] == "TaskSubmitted")
    succeeded = next(e["timestamp"] for e in history if e["type"] == "TaskSucceeded")
    wait_ms = (succeeded - submitted).total_seconds() * 1000
    assert wait_ms >= 300
    assert attempt["duration_ms"] >= wait_ms - 1 and step["duration_ms"] >= attempt["duration_ms"]
