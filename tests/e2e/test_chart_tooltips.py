"""A name from a cloud in a chart is text in the browser, never markup: Vega draws labels and titles as text,
and its tooltip (vega-tooltip, as Streamlit embeds it) writes a value as text. The builders pass names as they
are (`textsafety.chart_text`: no entities, which would show as "&lt;b&gt;"), so this is where the promise is
kept: a real Streamlit server in headless Chromium, a hostile step name on a bar, hovered."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.helpers import ARGS, ARTIFACTS, CHART, CHROMIUM, script_server

NAME = '<a href="https://evil.example/x">pay</a><img src=x onerror="document.title=1"><b>Charge</b>'
"""A step name a cloud could hold: a link, an image whose error handler runs script, a bold tag."""

SCRIPT = """\
import pandas as pd
from flowscope.ui import charts
from flowscope.ui import components as ui
frame = pd.DataFrame({{"label": [{name!r}], "retries": [7]}})
ui.plot(charts.hbar(frame, x="retries", y="label", title={name!r}), key="hostile")
"""


@pytest.mark.slow  # a real streamlit server in headless Chromium
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_a_hostile_name_is_text_in_a_charts_title_label_and_tooltip(tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    script = tmp_path / "hostile_chart.py"
    script.write_text(SCRIPT.format(name=NAME))
    with script_server(script) as port, playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
            chart = page.locator(CHART).first
            chart.wait_for(timeout=60_000)
            page.wait_for_timeout(500)
            box = chart.locator("canvas, svg").first.bounding_box()
            assert box, "the chart drew nothing"
            # The one bar fills the plot from its left edge: hover its middle, right of the axis labels.
            page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.55)
            tooltip = page.locator("#vg-tooltip-element")
            tooltip.wait_for(state="visible", timeout=10_000)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "chart-hostile-tooltip.png"))
            assert NAME in tooltip.inner_text(), tooltip.inner_text()
            assert tooltip.locator("a, img, b").count() == 0, tooltip.inner_html()
            assert page.locator('a[href*="evil" i], img[src="x"]').count() == 0
            assert page.title() != "1", "the image's error handler ran"
            assert not errors, errors
        finally:
            browser.close()


COUNTS_SCRIPT = """\
import datetime as dt
import pandas as pd
import streamlit as st
from flowscope.ui import charts
svg = {"embedOptions": {"renderer": "svg"}}     # its tick labels readable as the page's text
utc = dt.timezone.utc
bars = pd.DataFrame({"label": ["a / one", "b / two"], "retries": [1, 2]})
trend = pd.DataFrame({"bucket": [dt.datetime(2026, 3, 30, h, tzinfo=utc) for h in (9, 10)],
                      "workflow": ["crm-export", "crm-export"], "failed": [2, 1]})
findings = pd.DataFrame({"severity": ["high", "high", "low"]})
for chart in (charts.hbar(bars, x="retries", y="label", title="Retries by step"),
              charts.lines(trend, x="bucket", y="failed", color="workflow", kind="bar", integer=True,
                           title="Failed executions by workflow", since=dt.datetime(2026, 3, 30, tzinfo=utc),
                           until=dt.datetime(2026, 3, 31, tzinfo=utc), bucket_s=3600),
              charts.severity_counts(findings),
              charts.histogram(pd.Series([1001.0, 1001.0, 2003.0]), title="Delays", x_title="delay",
                               duration=True)):
    st.vega_lite_chart(spec={**chart, "usermeta": svg}, width="stretch")
"""


@pytest.mark.slow  # a real streamlit server in headless Chromium
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_a_count_axis_up_to_two_ticks_every_whole_number_in_the_browser(tmp_path):
    """A count axis whose largest count is 2 (two failed runs in an hour, two findings of a severity, two
    retries of a step) read "0 2" in Chromium: the spec listed 0, 1 and 2 (`charts.integer_axis`), but
    Vega-Lite turns its `tickMinStep` into a tick count of 2, which thinned the three listed values to two.
    Every whole number is a tick, as docs/dashboard.md says (the Failures, Overview and Retries pages)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    script = tmp_path / "count_axes.py"
    script.write_text(COUNTS_SCRIPT)
    with script_server(script) as port, playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
            page.locator(f"{CHART} svg").nth(3).wait_for(timeout=60_000)
            page.wait_for_timeout(500)
            axes = {}
            for chart in page.locator(CHART).all():
                texts = chart.locator("svg").first.evaluate(
                    "s => [...s.querySelectorAll('text')].map(t => t.textContent)")
                axes[texts[-1]] = " ".join(t for t in texts if t.isdigit())      # the title, its count ticks
            assert len(axes) == 4, axes
            assert all(ticks == "0 1 2" for ticks in axes.values()), axes
        finally:
            browser.close()
