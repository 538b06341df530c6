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
from collections.abc import Callable
from typing import Any

ACCOUNT = "123456789012"

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class FakeSfn:
    def __init__(self, handlers: dict[str, Handler]) -> None:
        self.handlers = handlers
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        fake = self

        class _Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                target = self.headers.get("X-Amz-Target")
                if target is None:   # STS, query protocol
                    data = (f"<GetCallerIdentityResponse><GetCallerIdentityResult><Account>{ACCOUNT}"
                            f"</Account><Arn>arn:aws:iam::{ACCOUNT}:user/t</Arn><UserId>x</UserId>"
                            "</GetCallerIdentityResult></GetCallerIdentityResponse>").encode()
                    status, ctype = 200, "text/xml"
                else:
                    op = target.rsplit(".", 1)[1]
                    body = json.loads(raw or b"{}")
                    with fake.lock:
                        fake.calls.append((op, body))
                    handler = fake.handlers.get(op)
                    if handler is None:
                        status, doc = 400, {"__type": "UnknownOperationException", "message": op}
                    else:
                        status, doc = 200, handler(body)
                    data, ctype = json.dumps(doc).encode(), "application/x-amz-json-1.0"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeSfn":  # noqa: PYI034, UP037
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def count(self, op: str, **match: Any) -> int:
        with self.lock:
            return sum(1 for o, body in self.calls
                       if o == op and all(body.get(k) == v for k, v in match.items()))

    def ops(self) -> collections.Counter:
        with self.lock:
            return collections.Counter(o for o, _ in self.calls)
