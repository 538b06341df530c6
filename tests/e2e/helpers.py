"""What the browser tests share: Debian's Chromium, its headless flags, a free loopback port, the
screenshot folder (test-artifacts/), and `listen`: what the server said over the page's websocket
(when its script started and stopped running, when a chart was sent), read by the browser tests and
by bench/bench_dashboard.py to know that a run, fragments included, is over."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(proc: subprocess.Popen, port: int, what: str, timeout_s: float = 40.0) -> None:
    """Wait until the Streamlit server `proc` started answers its health check on loopback `port`; a test
    failure naming `what` (killed first) when it exits or `timeout_s` passes before."""
    import pytest

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{what} did not start (exit code {proc.poll()})")
        time.sleep(0.3)


def stop(proc: subprocess.Popen) -> None:
    """Stop a server the test started: SIGTERM, then SIGKILL if it has not ended within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@contextlib.contextmanager
def script_server(script: Path) -> Iterator[int]:
    """`streamlit run script` (a test's own small app) on a free loopback port, answering health checks: its
    port; stopped on exit."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false"]
    proc = subprocess.Popen(cmd, cwd=script.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(proc, port, f"streamlit run {script.name}")
        yield port
    finally:
        stop(proc)


CHART = ".vega-embed:visible"
"""A drawn chart of the page (Vega-Lite's embed), not the hidden one that preloads the renderer."""


def listen(ws: Any, heard: dict[str, float]) -> None:
    """Record on `heard` when the server last said the session's script started (`busy`) and stopped
    (`idle`) running, and when one of the page's own charts was last sent (`chart`). The page itself
    has no running indicator to read (none is drawn with the minimal toolbar), and between a page's
    charts and the note of its findings fragment it looks finished: only the server's session status
    says the run, fragments included, is over."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    from flowscope.ui import chart_preload

    def received(frame: Any) -> None:
        now = time.monotonic()
        try:
            msg = ForwardMsg.FromString(frame if isinstance(frame, bytes) else frame.encode("latin-1"))
        except Exception:  # noqa: BLE001 - not a message of Streamlit's protocol
            return
        kind = msg.WhichOneof("type")
        if kind == "session_status_changed":
            heard["busy" if msg.session_status_changed.script_is_running else "idle"] = now
        elif (kind == "delta" and msg.delta.WhichOneof("type") == "new_element"
              and msg.delta.new_element.WhichOneof("type") == "vega_lite_chart"
              and chart_preload.CHART_KEY not in msg.delta.new_element.vega_lite_chart.spec):
            heard["chart"] = now            # one of the page's own charts (not the renderer's preload)

    ws.on("framereceived", received)


def run_over(heard: dict[str, float], since: float) -> bool:
    """Whether the server's last word since `since` (a `time.monotonic()`) is that the script stopped."""
    idle = heard.get("idle", 0.0)
    return idle > since and idle >= heard.get("busy", 0.0)
