"""The HTTP scaffolding every loopback cloud server of the tests shares (ARM, GCP, Step Functions).

`LoopbackServer` binds 127.0.0.1 on a free port (tests talk to loopback only), serves each
request on its own daemon thread, and hands every method to the subclass's `handle(handler,
method)`; `send` writes one response with its body and headers. A subclass only speaks its API.
`snapshot` is what the live-versus-import tests compare: two stores' model rows; `kill_mid_sync`
runs a sync in a child process and SIGKILLs it once it has committed some executions.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Collection, Mapping
from typing import Any, Self


class LoopbackServer:
    """A threading HTTP server on 127.0.0.1; `endpoint` is `http://127.0.0.1:<port>`. Use as a
    context manager (or `start()` / `close()`)."""

    thread_name = "loopback-server"
    http_methods = ("GET", "POST", "PUT", "PATCH", "DELETE")

    def __init__(self) -> None:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True      # headers and body leave at once (no 40 ms delayed-ACK stall)

            def log_message(self, *args: Any) -> None:
                pass

        for method in self.http_methods:
            setattr(Handler, f"do_{method}", lambda h, m=method: server.handle(h, m))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread: threading.Thread | None = None

    def handle(self, handler: http.server.BaseHTTPRequestHandler, method: str) -> None:
        raise NotImplementedError

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True, name=self.thread_name)
            self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def send(handler: http.server.BaseHTTPRequestHandler, status: int, body: Any, *,
         content_type: str = "application/json; charset=utf-8", headers: dict[str, str] | None = None) -> None:
    """One response: `body` as JSON (bytes as they are), Content-Length, then `headers`."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(data)


MODEL_TABLES = ("workflows", "executions", "steps", "attempts", "usage")


def snapshot(store: Any, drop: Mapping[str, Collection[str]]) -> dict[str, list[str]]:
    """Model rows minus the columns `drop` names per table (when and how they were collected),
    sorted: two stores holding the same data compare equal."""
    out = {}
    for table in MODEL_TABLES:
        try:
            rows = store.read_rows(table)
        except Exception:  # noqa: BLE001 - table never written
            rows = []
        skip = drop.get(table, ())
        out[table] = sorted(json.dumps({k: v for k, v in r.items() if k not in skip}, sort_keys=True, default=str)
                            for r in rows)
    return out


def kill_mid_sync(script: str, store_path: Any, *args: str, after: int, env: Mapping[str, str] | None = None,
                  timeout: float = 60, poll: float = 0.1) -> int:
    """Run `script` (a sync that prints "start" first; argv: store path, then `args`) in a child
    process, SIGKILL it once `after` executions are committed in `store_path` (or at `timeout`);
    returns how many executions it left there."""
    from flowscope.store import Store

    proc = subprocess.Popen([sys.executable, "-c", script, str(store_path), *args], stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": os.getcwd(), **(env or {})})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"start"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:          # wait until some executions are committed
            try:
                if len(Store(store_path).read_rows("executions")) >= after:
                    break
            except Exception:  # noqa: BLE001 - nothing written yet
                pass
            time.sleep(poll)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return len(Store(store_path).read_rows("executions"))
