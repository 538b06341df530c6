"""A tiny loopback HTTP fake that speaks the Step Functions JSON protocol (awsJson1_0).

For what moto cannot do (ListExecutions by mapRunArn, ListMapRuns, DescribeMapRun): each
operation is a function of the request body returning the response document; STS
GetCallerIdentity (query protocol) is answered for the account. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import collections
import http.server
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from tests.loopback import LoopbackServer, send

ACCOUNT = "123456789012"

Answer = dict[str, Any] | tuple[int, dict[str, Any]]
"""What a handler answers: the response document (HTTP 200), or (HTTP status, error document), e.g.
`(400, {"__type": "StateMachineDoesNotExist", "message": "..."})`, which the client reads as that error."""
Handler = Callable[[dict[str, Any]], Answer]
PASS_DEFINITION = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


def described_machine(arn: str, type_: str, created: float, **fields: Any) -> dict[str, Any]:
    """DescribeStateMachine of `arn` (named after its last segment): one Pass state, logging OFF,
    unless `fields` (definition=, loggingConfiguration=, ...) say otherwise."""
    return {"stateMachineArn": arn, "name": arn.rsplit(":", 1)[1], "roleArn": "r", "type": type_,
            "creationDate": created, "definition": PASS_DEFINITION, "loggingConfiguration": {"level": "OFF"},
            **fields}


def machine_handlers(machines: Mapping[str, str], type_: str, created: float, *,
                     describe: Handler | None = None, **described: Any) -> dict[str, Handler]:
    """The handlers every sync asks before any execution: ListStateMachines lists `machines`
    (name -> ARN), all of `type_` and created at `created` (epoch seconds); DescribeStateMachine
    answers by `describe`, else `described_machine(arn, type_, created, **described)`; no version
    nor alias. A test adds (or replaces) the operations it is about, e.g.
    `{**machine_handlers({"orders": sm}, "STANDARD", now), "ListExecutions": ...}`."""
    return {
        "ListStateMachines": lambda b: {"stateMachines": [
            {"stateMachineArn": arn, "name": name, "type": type_, "creationDate": created}
            for name, arn in machines.items()]},
        "DescribeStateMachine": describe or (
            lambda b: described_machine(b["stateMachineArn"], type_, created, **described)),
        "ListStateMachineVersions": lambda b: {"stateMachineVersions": []},
        "ListStateMachineAliases": lambda b: {"stateMachineAliases": []},
    }


class FakeSfn(LoopbackServer):
    thread_name = "sfn-fake"

    def __init__(self, handlers: dict[str, Handler]) -> None:
        self.handlers = handlers
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        super().__init__()

    def handle(self, h: http.server.BaseHTTPRequestHandler, method: str) -> None:
        if method != "POST":
            return send(h, 405, {"__type": "MethodNotAllowed", "message": method},
                        content_type="application/x-amz-json-1.0")
        raw = h.rfile.read(int(h.headers.get("Content-Length", 0)))
        target = h.headers.get("X-Amz-Target")
        if target is None:   # STS, query protocol
            data = (f"<GetCallerIdentityResponse><GetCallerIdentityResult><Account>{ACCOUNT}"
                    f"</Account><Arn>arn:aws:iam::{ACCOUNT}:user/t</Arn><UserId>x</UserId>"
                    "</GetCallerIdentityResult></GetCallerIdentityResponse>").encode()
            return send(h, 200, data, content_type="text/xml")
        op = target.rsplit(".", 1)[1]
        body = json.loads(raw or b"{}")
        with self.lock:
            self.calls.append((op, body))
        handler = self.handlers.get(op)
        if handler is None:
            status, doc = 400, {"__type": "UnknownOperationException", "message": op}
        else:
            answer = handler(body)     # a document, or (HTTP status, error document)
            status, doc = answer if isinstance(answer, tuple) else (200, answer)
        send(h, status, doc, content_type="application/x-amz-json-1.0")

    def count(self, op: str, **match: Any) -> int:
        with self.lock:
            return sum(1 for o, body in self.calls
                       if o == op and all(body.get(k) == v for k, v in match.items()))

    def ops(self) -> collections.Counter:
        with self.lock:
            return collections.Counter(o for o, _ in self.calls)


def sync_once(handlers: Mapping[str, Any], store: Any) -> Any:
    """One AWS sync of the last hour against a fake Step Functions answering with `handlers`, one attempt a
    call, no metrics: the scope's result."""
    import datetime as dt

    from flowscope.collectors.aws import collector as aws

    with FakeSfn(handlers) as fake:
        source = {"cloud": "aws", "regions": ["us-east-1"], "endpoint_url": fake.endpoint, "metrics": False,
                  "max_attempts": 1}
        [result] = aws.sync(source, store, since=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1))
    return result
