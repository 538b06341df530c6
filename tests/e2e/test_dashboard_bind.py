"""`streamlit run app.py`, the documented second way to start the dashboard, keeps the loopback-only
rule: from the repository it binds 127.0.0.1 (.streamlit/config.toml), and bound to every interface
with no sign-in it shows a refusal and no data. Real server, real headless Chromium, loopback only
(the 0.0.0.0 server is fetched through 127.0.0.1)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.helpers import ARGS, ARTIFACTS, CHROMIUM, free_port, stop, wait_healthy

playwright_api = pytest.importorskip("playwright.sync_api")

REPO = Path(__file__).resolve().parents[2]
REFUSAL = "without sign-in, so it shows no data"

pytestmark = [pytest.mark.slow,  # real streamlit servers in headless Chromium
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    from flowscope.simulate.demo import build_demo
    from flowscope.store import Store

    path = tmp_path_factory.mktemp("bind-store")
    build_demo(Store(path), days=7, executions=300, seed=5, workers=1)
    return str(path)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def listening(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) with a listening socket on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if int(hex_port, 16) == port and fields[3] == "0A":        # 0A: LISTEN
                found.add(address)
    return found


def streamlit_run(store: str, port: int, *extra: str):
    """`FLOWSCOPE_STORE=DIR streamlit run app.py` from the repository folder, as the README says."""
    env = {k: v for k, v in os.environ.items() if k not in ("FLOWSCOPE_CONFIG",)}
    env["FLOWSCOPE_STORE"] = store
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
           "--server.fileWatcherType", "none", "--server.headless", "true", *extra]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_healthy(proc, port, "streamlit run app.py")
    return proc


def test_streamlit_run_from_the_repository_binds_loopback_and_serves(store, browser):
    port = free_port()
    proc = streamlit_run(store, port)
    try:
        assert listening(port) == {"0100007F"}, listening(port)       # 127.0.0.1 only, no 0.0.0.0 or ::
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/?window=30d", wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
        assert page.get_by_text(REFUSAL).count() == 0
    finally:
        stop(proc)


def test_streamlit_run_on_every_interface_without_sign_in_shows_no_data(store, browser):
    port = free_port()
    proc = streamlit_run(store, port, "--server.address", "0.0.0.0")
    try:
        assert "00000000" in listening(port)                          # really bound beyond loopback
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/?window=30d", wait_until="domcontentloaded")
        page.get_by_text(REFUSAL).wait_for(timeout=60_000)
        time.sleep(1.0)                                               # nothing else arrives after it
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "e2e-public-bind-refused.png"))
        assert page.locator('[data-testid="stMetric"]').count() == 0
        assert page.locator('[data-testid="stDataFrame"]').count() == 0
        assert page.locator(".vega-embed").count() == 0
        assert page.locator('[data-testid="stException"]').count() == 0
        for link in ("Overview", "Failures", "Cost"):                 # no navigation to the pages either
            assert page.get_by_role("link", name=link).count() == 0
    finally:
        stop(proc)
