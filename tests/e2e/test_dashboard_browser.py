"""End to end: the real dashboard server in real headless Chromium, on a small demo store.

Starts `flowscope.ui.server.serve` on a free 127.0.0.1 port, visits every page, checks that the
plotly charts render and that no exception element appears, and saves a screenshot per page to
test-artifacts/. Needs Debian's `chromium` and the `playwright` Python package (its own browser
download is not used); skipped when either is missing.
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.helpers import ARGS, ARTIFACTS, CHROMIUM, free_port

playwright_api = pytest.importorskip("playwright.sync_api")

PAGES = {"overview": "", "workflows": "workflows", "executions": "executions", "failures": "failures",
         "retries": "retries", "cost": "cost", "latency": "latency", "collection_health": "collection_health"}
WINDOW = "window=30d"

pytestmark = [pytest.mark.slow,  # real dashboard server in headless Chromium
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from flowscope.simulate.demo import build_demo
    from flowscope.store import Store
    from flowscope.ui.server import serve

    store = tmp_path_factory.mktemp("e2e-store")
    build_demo(Store(store), days=30, executions=3000, seed=7)
    port = free_port()
    proc = serve(str(store), port=port, wait=False)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 40
    while True:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"dashboard did not start (exit code {proc.poll()})")
        time.sleep(0.3)
    yield base
    proc.terminate()
    try:
        proc.wait(10)
    except Exception:  # noqa: BLE001
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def settle(page, timeout_s: float = 45.0) -> None:
    """Wait until Streamlit has finished the run (no running indicator) and a chart is drawn."""
    page.wait_for_selector('[data-testid="stAppViewContainer"]', timeout=timeout_s * 1000)
    page.wait_for_selector(".js-plotly-plot", timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while time.monotonic() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count()
        quiet = quiet + 1 if running == 0 else 0
        if quiet >= 3:
            return
        time.sleep(0.3)


def shoot(page, path: Path) -> None:
    """Streamlit scrolls inside its main block, not the document: grow the viewport to fit it."""
    height = page.evaluate("() => { const m = document.querySelector('[data-testid=stMain]');"
                           " return m ? m.scrollHeight : 1000 }")
    page.set_viewport_size({"width": 1400, "height": max(1000, min(int(height), 8000))})
    time.sleep(0.8)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_every_page_renders_in_chromium(server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems = []
    for name, path in PAGES.items():
        page.goto(f"{server}/{path}?{WINDOW}", wait_until="domcontentloaded")
        settle(page)
        charts = page.locator(".js-plotly-plot").count()
        errors = page.locator('[data-testid="stException"]').count()
        shoot(page, ARTIFACTS / f"e2e-{name}.png")
        if charts == 0 or errors:
            problems.append(f"{name}: {charts} charts, {errors} exceptions")
    assert not problems, problems


def test_failed_scope_is_visible_and_filters_travel_in_the_url(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/?{WINDOW}&cloud=aws", wait_until="domcontentloaded")
    settle(page)
    assert page.get_by_text("Collection failed for 1 scope").count() >= 1
    page.get_by_role("link", name="Cost").first.click()
    page.wait_for_url("**/cost**", timeout=20_000)
    settle(page)
    assert "window=30d" in page.url and "cloud=aws" in page.url
    assert page.locator('[data-testid="stException"]').count() == 0
