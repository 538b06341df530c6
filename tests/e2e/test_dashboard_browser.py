"""End to end: the real dashboard server in real headless Chromium, on a small demo store.

Starts `flowscope.ui.server.serve` on a free 127.0.0.1 port, visits every page, checks that the
Vega-Lite charts render, that no exception element appears and that Vega logs no warning in the
console, and saves a screenshot per page to test-artifacts/. On a 1366x768 screen with the sidebar
open, every table keeps its name and money columns in view without scrolling sideways (screenshots
e2e-1366-<page>.png). Needs Debian's
`chromium` and the `playwright` Python package (its own browser download is not used); skipped when
either is missing.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from flowscope.ui import readable
from tests.e2e.helpers import ARGS, ARTIFACTS, CHART, CHROMIUM, free_port, listen, run_over, wait_healthy

playwright_api = pytest.importorskip("playwright.sync_api")

PAGES = {"overview": "", "workflows": "workflows", "executions": "executions", "compare": "compare",
         "failures": "failures", "retries": "retries", "cost": "cost", "latency": "latency",
         "collection_health": "collection_health"}
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
    wait_healthy(proc, port, "dashboard")
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


def watched(browser, **kwargs):
    """A new page whose websocket `listen` reads: (page, heard)."""
    page = browser.new_page(**kwargs)
    heard: dict[str, float] = {}
    page.on("websocket", lambda ws: listen(ws, heard))
    return page, heard


def settle(page, heard: dict[str, float], since: float, timeout_s: float = 45.0) -> None:
    """Wait until a chart is drawn and the server says the run that began after `since` (fragments
    included: the findings) stopped."""
    page.wait_for_selector('[data-testid="stAppViewContainer"]', timeout=timeout_s * 1000)
    page.locator(CHART).first.wait_for(timeout=timeout_s * 1000)   # not the hidden preload
    deadline = time.monotonic() + timeout_s
    while not run_over(heard, since):
        if time.monotonic() > deadline:
            raise AssertionError(f"the page's run did not end within {timeout_s:.0f} s: {page.url}")
        page.wait_for_timeout(100)       # lets Playwright deliver the websocket events


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
    page, heard = watched(browser, viewport={"width": 1400, "height": 1000})
    problems = []
    # Vega's own warnings ("WARN ..."), by page: each trend chart logged "Conflicting scale property
    # "domain"" and "Infinite extent" (session 60), a console of noise that would hide a real warning.
    vega = []       # (page, text)
    at = [""]
    page.on("console", lambda m: vega.append((at[0], m.text)) if m.text.startswith("WARN ") else None)
    for name, path in PAGES.items():
        at[0] = name
        since = time.monotonic()
        page.goto(f"{server}/{path}?{WINDOW}", wait_until="domcontentloaded")
        settle(page, heard, since)
        charts = page.locator(CHART).count()      # not the renderer's hidden preload
        errors = page.locator('[data-testid="stException"]').count()
        shoot(page, ARTIFACTS / f"e2e-{name}.png")
        if charts == 0 or errors:
            problems.append(f"{name}: {charts} charts, {errors} exceptions")
    assert not problems, problems
    assert not vega, vega


def test_failed_scope_is_visible_and_filters_travel_in_the_url(server, browser):
    """Filtered to GCP, the cloud of the demo's failed scope: the banner keeps to the chosen clouds (an
    AWS-only view's numbers are not missing a GCP scope's executions)."""
    page, heard = watched(browser, viewport={"width": 1400, "height": 1000})
    since = time.monotonic()
    page.goto(f"{server}/?{WINDOW}&cloud=gcp", wait_until="domcontentloaded")
    settle(page, heard, since)
    assert page.get_by_text("Collection failed for 1 scope").count() >= 1
    since = time.monotonic()
    page.get_by_role("link", name="Cost").first.click()
    page.wait_for_url("**/cost**", timeout=20_000)
    settle(page, heard, since)
    assert "window=30d" in page.url and "cloud=gcp" in page.url
    assert page.locator('[data-testid="stException"]').count() == 0


# ---------------------------------------------------------------- a 1366-pixel screen

GRID_COLUMNS = """(frame) => {
  // Streamlit's dataframe is glide-data-grid: a canvas, whose header cells have no layout box (its
  // accessible <table> is not laid out). The grid's own column widths and frozen count are the props
  // of the component that draws the canvas; read them there, beside the accessible header texts.
  const canvas = frame.querySelector('canvas');
  if (!canvas) return null;
  const key = Object.keys(canvas).find(k => k.startsWith('__reactFiber'));
  let fiber = key ? canvas[key] : null;
  while (fiber) {
    const p = fiber.memoizedProps || {};
    if (Array.isArray(p.columns) && p.columns.length && typeof p.columns[0].width === 'number') {
      const box = canvas.getBoundingClientRect();
      const scroller = frame.querySelector('.dvn-scroller');
      return {left: box.x, width: box.width, freeze: p.freezeColumns || 0,
              scroll: scroller ? scroller.scrollLeft : 0,
              columns: p.columns.map(c => [String(c.id), String(c.title), c.width]),
              headers: [...frame.querySelectorAll('th[role=columnheader]')].map(t => t.textContent)};
    }
    fiber = fiber.return;
  }
  return null;
}"""
COLUMN_ID = re.compile(r"^_column-(?P<name>.*)-\d+$")


def grid_layout(frame) -> dict | None:
    """One table's columns as the screen shows them: [(name, title, left, right)] in the grid's pixels
    (frozen columns first, the rest shifted by the sideways scroll), and the grid's visible width."""
    grid = frame.evaluate(GRID_COLUMNS)
    if grid is None:
        return None
    x, placed = 0.0, []
    for i, (column_id, title, width) in enumerate(grid["columns"]):
        match = COLUMN_ID.match(column_id)
        left = x - (grid["scroll"] if i >= grid["freeze"] else 0)
        placed.append((match.group("name") if match else column_id, title, left, left + width))
        x += width
    return {**grid, "placed": placed}


def must_see(grid: dict) -> list[tuple[str, str, float]]:
    """(name, title, right edge) of the columns a narrow screen must keep in view: the pinned name
    column(s) and the money, and a finding's severity and kind beside its title."""
    finding = any(n == "title" for n, _, _, _ in grid["placed"][:grid["freeze"]])
    return [(n, t, right) for i, (n, t, _, right) in enumerate(grid["placed"])
            if i < grid["freeze"] or n.endswith("_usd") or n == "usd" or (finding and n in readable.FINDING_MARKS)]


def test_names_and_money_stay_in_view_at_1366_pixels(server, browser):
    """Every table on every page, at 1366x768 with the sidebar open: its name column is pinned and it
    and the money columns end inside the grid's visible width (no sideways scroll needed)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page, heard = watched(browser, viewport={"width": 1366, "height": 768})
    problems: list[str] = []
    checked = 0
    for name, path in PAGES.items():
        since = time.monotonic()
        page.goto(f"{server}/{path}?{WINDOW}", wait_until="domcontentloaded")
        settle(page, heard, since)
        if name == "overview":   # the findings table comes when the analyses finish
            page.wait_for_function("() => [...document.querySelectorAll('th[role=columnheader]')]"
                                   ".some(t => t.textContent === 'title')", timeout=120_000)
        assert page.locator('[data-testid="stSidebar"]').first.is_visible(), "the sidebar is open"
        frames = page.locator('[data-testid="stDataFrame"]')
        # The grid's renderer is a module the browser loads on the first table of a document, so a
        # table can appear after the run is over and a chart (whose renderer is preloaded) is drawn.
        try:
            frames.first.wait_for(state="attached", timeout=15_000)
        except playwright_api.TimeoutError:
            raise AssertionError(f"{name}: no table") from None
        for i in range(frames.count()):
            frame = frames.nth(i)
            if not frame.is_visible():
                continue   # inside a closed expander
            frame.scroll_into_view_if_needed()
            deadline = time.monotonic() + 15
            grid = grid_layout(frame)
            while grid is None and time.monotonic() < deadline:
                time.sleep(0.3)
                grid = grid_layout(frame)
            assert grid is not None, f"{name}: table {i} never drew its grid"
            assert [t for _, t, _, _ in grid["placed"]][:len(grid["headers"])] == grid["headers"][:len(grid["placed"])]
            assert grid["left"] >= 0 and grid["left"] + grid["width"] <= 1366 + 1, f"{name}: table {i} off screen"
            wanted = must_see(grid)
            if any(n in readable.IDENTITY for n, _, _, _ in grid["placed"]) and not grid["freeze"]:
                problems.append(f"{name}: table {i} pins no name column")
            for _column, title, right in wanted:
                checked += 1
                if right > grid["width"] + 1:
                    problems.append(f"{name}: table {i} column {title!r} ends at {right:.0f} px of "
                                    f"{grid['width']:.0f} visible")
        first = next((frames.nth(i) for i in range(frames.count()) if frames.nth(i).is_visible()), None)
        if first is not None:
            first.scroll_into_view_if_needed()    # the screenshot shows the first table as a 1366 screen does
        time.sleep(0.5)
        page.screenshot(path=str(ARTIFACTS / f"e2e-1366-{name}.png"))
    assert checked, "no name or money column was found to check"
    assert not problems, problems
