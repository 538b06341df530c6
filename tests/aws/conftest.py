"""Fixtures of the AWS collector tests: a real moto server on loopback, a real store.

moto's server runs in this process (ThreadedMotoServer) on a free 127.0.0.1 port, with
`execute_state_machine` on, so StartExecution really runs the state machines. Credentials are
dummies and every config/credential file is pointed at /dev/null: nothing can reach AWS.
"""

from __future__ import annotations

import collections
import json
import socket
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/sfn-role"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def _aws_env() -> Iterator[None]:
    mp = pytest.MonkeyPatch()
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION,
                       "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                       "AWS_EC2_METADATA_DISABLED": "true"}.items():
        mp.setenv(key, value)
    mp.delenv("AWS_PROFILE", raising=False)
    yield
    mp.undo()


@pytest.fixture(scope="session")
def moto_endpoint(_aws_env: None) -> Iterator[str]:
    moto_server = pytest.importorskip("moto.server")
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # moto's state machine interpreter calls the services a Task integrates with (sqs, dynamodb,
    # ...) at http://localhost:$MOTO_PORT (default 5000): point it at this server.
    mp = pytest.MonkeyPatch()
    mp.setenv("MOTO_PORT", str(port))
    yield f"http://127.0.0.1:{port}"
    mp.undo()
    server.stop()


def _post(url: str, body: dict[str, Any] | None = None) -> None:
    data = json.dumps(body or {}).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback only
        resp.read()


@dataclass
class Moto:
    endpoint: str
    sfn: Any
    logs: Any
    cloudwatch: Any
    sqs: Any
    region: str = REGION

    def source(self, **extra: Any) -> dict[str, Any]:
        return {"cloud": "aws", "regions": [self.region], "endpoint_url": self.endpoint,
                "max_attempts": 3, "read_timeout": 10, **extra}

    def machine(self, name: str, definition: dict[str, Any], **kwargs: Any) -> str:
        return self.sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE,
                                             **kwargs)["stateMachineArn"]

    def run(self, machine_arn: str, payload: dict[str, Any] | None = None, name: str | None = None) -> str:
        return self.sfn.start_execution(stateMachineArn=machine_arn, name=name or f"e-{uuid.uuid4().hex[:12]}",
                                        input=json.dumps(payload or {}))["executionArn"]

    def wait(self, arns: list[str], timeout: float = 20) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        statuses: dict[str, str] = {}
        pending = list(arns)
        while pending and time.monotonic() < deadline:
            still = []
            for arn in pending:
                status = self.sfn.describe_execution(executionArn=arn)["status"]
                statuses[arn] = status
                if status == "RUNNING":
                    still.append(arn)
            pending = still
            if pending:
                time.sleep(0.05)
        return statuses

    def history(self, arn: str) -> list[dict[str, Any]]:
        return self.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]


@pytest.fixture
def moto(moto_endpoint: str) -> Moto:
    """A reset moto server that executes state machines, and plain boto3 clients to drive it."""
    boto3 = pytest.importorskip("boto3")
    _post(f"{moto_endpoint}/moto-api/reset")
    _post(f"{moto_endpoint}/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
    kw = {"region_name": REGION, "endpoint_url": moto_endpoint}
    return Moto(endpoint=moto_endpoint, sfn=boto3.client("stepfunctions", **kw), logs=boto3.client("logs", **kw),
                cloudwatch=boto3.client("cloudwatch", **kw), sqs=boto3.client("sqs", **kw))


@pytest.fixture
def store(tmp_path: Any) -> Any:
    from flowscope.store import Store

    return Store(tmp_path / "store")


@dataclass
class CallLog:
    """Every operation the collector's clients called (botocore `before-call`, per logical call)."""

    calls: collections.Counter = field(default_factory=collections.Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, client: Any) -> None:
        def before_call(model: Any = None, **_: Any) -> None:
            with self.lock:
                self.calls[(model.service_model.endpoint_prefix, model.name)] += 1

        # registered first: sees an operation even when the read-only guard then refuses it
        client.meta.events.register_first("before-call", before_call)

    def count(self, operation: str) -> int:
        return sum(n for (_, op), n in self.calls.items() if op == operation)

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()


@pytest.fixture
def api_calls() -> Iterator[CallLog]:
    from flowscope.collectors.aws.clients import client_hook

    log = CallLog()
    with client_hook(log):
        yield log


# ------------------------------------------------------------------ definitions used by the tests

PASS_CHOICE = {
    "StartAt": "Init",
    "States": {
        "Init": {"Type": "Pass", "Result": {"n": 2}, "Next": "Decide"},
        "Decide": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}],
                   "Default": "Small"},
        "Big": {"Type": "Pass", "Next": "Pause"},
        "Small": {"Type": "Pass", "End": True},
        "Pause": {"Type": "Wait", "Seconds": 0, "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}

RETRY_CATCH = {
    "StartAt": "GetItem",
    "States": {
        "GetItem": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:getItem",
            "Parameters": {"TableName": "missing-table", "Key": {"id": {"S": "1"}}},
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1,
                       "BackoffRate": 1.0}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}],
            "Next": "Done",
        },
        "Recover": {"Type": "Pass", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}

MAP_PARALLEL_FAIL = {
    "StartAt": "Fan",
    "States": {
        "Fan": {"Type": "Parallel", "Next": "Each", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}},
        ], "ResultPath": None},
        "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "ResultPath": None,
                 "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Item",
                                   "States": {"Item": {"Type": "Pass", "End": True}}},
                 "Next": "Boom"},
        "Boom": {"Type": "Fail", "Error": "Custom.Error", "Cause": "expected failure"},
    },
}


@pytest.fixture
def defs() -> Any:
    """The state machine definitions above, for the test modules."""
    import types

    return types.SimpleNamespace(PASS_CHOICE=PASS_CHOICE, RETRY_CATCH=RETRY_CATCH,
                                 MAP_PARALLEL_FAIL=MAP_PARALLEL_FAIL)
