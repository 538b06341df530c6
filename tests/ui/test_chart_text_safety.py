"""Names from a cloud reach every chart as text, never as markup. The dashboard's charts are Vega-Lite: Vega
draws text as text and its tooltips escape HTML, so a name reaches the spec as written, minus escape
sequences and line breaks (`textsafety.chart_text`), and never as entities a reader would see ("&lt;b&gt;").
(Under plotly, which reads a subset of HTML, a step named `<a href=...>` drew a live link on /failures;
the report's plotly figures still escape, `textsafety.plotly_text`.) The browser side, that a tooltip of
a hostile name shows text and no element, is `tests/e2e/test_chart_tooltips.py`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
import pytest

from flowscope.collectors.graph import Graph
from flowscope.model import C
from flowscope.ui import charts, graph, run_charts
from tests.ui.helpers import chart_layers, chart_rows

STEP = '<a href="https://example.com/phish">Pay here</a><b>ChargeCard</b>\x1b[31m'
ERROR = '<span style="font-size:40px;color:red">HACKED</span> declined & more'
WF = "<i>billing</i>"
RAW = ("<a ", "</a>", "<b>ChargeCard", "<span", "<i>billing")
T0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def assert_verbatim(chart: charts.Chart) -> None:
    """Every hostile name the chart shows is as written (its escape sequence gone), never as entities."""
    texts = _strings(chart)
    assert not [t for t in texts if "&lt;" in t or "&amp;" in t or "&gt;" in t], "entities a reader would see"
    assert not [t for t in texts if "\x1b" in t], "an escape sequence reached the chart"
    assert any(r in t for t in texts for r in RAW), "the name is still shown, as written"
    json.dumps(chart)       # what Streamlit sends: plain JSON


def _buckets(n: int = 3) -> list[dt.datetime]:
    return [T0 + dt.timedelta(hours=i) for i in range(n)]


def _gantt_steps() -> pd.DataFrame:
    return pd.DataFrame([{
        C.step_key: "s1", C.parent_step_key: None, C.name: STEP, C.started_at: T0,
        C.ended_at: T0 + dt.timedelta(seconds=5), C.status: "failed", C.iteration: None, C.type: "task",
        C.attempts: 2, C.duration_ms: 5000.0, C.error: ERROR, C.cause: ERROR}])


def _builders() -> dict[str, charts.Chart]:
    labelled = pd.DataFrame({"label": [f"{WF} / {STEP}", "plain / step"], "failures": [3, 1]})
    over = pd.DataFrame({"bucket": _buckets() * 2, "failed": [1, 2, 3, 1, 1, 1],
                         "workflow": [WF] * 3 + ["other"] * 3})
    retries = pd.DataFrame({"bucket": _buckets(), "retries": [1, 5, 2], C.cloud: ["aws"] * 3})
    storms = [{"window_start": T0, "window_end": T0 + dt.timedelta(hours=1), "label": f"{WF} / {STEP}"}]
    pct = pd.DataFrame({"label": [STEP], "p50_ms": [10.0], "p95_ms": [20.0], "p99_ms": [30.0]})
    compare = pd.DataFrame([{"step": STEP, "parent": WF, "a_ms": 10.0, "b_ms": 20.0, "a_error": ERROR,
                             "b_error": None, "a_retries": 1, "b_retries": 0, "a_visits": 1, "b_visits": 1}])
    runs = pd.DataFrame({C.started_at: [T0], C.scope: [WF], C.status: ["failed"], C.error: [ERROR]})
    attempts = pd.DataFrame({C.step_key: ["s1", "s1"], C.attempt: [1, 2], C.started_at: [T0, T0],
                             C.ended_at: [T0, T0], C.status: ["failed", "failed"], C.error: [ERROR, ERROR]})
    g = Graph()
    g.add(STEP, "task")
    g.add("next", "task")
    g.link(STEP, "next")
    stats = pd.DataFrame([{"step": STEP, "visits": 3, "failures": 1, "failure_rate": 0.3, "retries": 0,
                           "p95_ms": 10.0, "cost_usd": 0.0}])
    return {
        "hbar": charts.hbar(labelled, x="failures", y="label", title=f"Failed visits of {WF}"),
        "lines": charts.lines(over, x="bucket", y="failed", color="workflow", kind="bar"),
        "storms": charts.storm_timeline(retries, storms),
        "histogram": charts.histogram(pd.Series([1.0, 2.0]), title=f"Retry delays of {STEP}", x_title="delay"),
        "empty": charts.empty_chart(f"No data for {STEP}", title=WF),
        "percentiles": charts.percentile_bars(pct, label="label"),
        "compare": run_charts.compare_steps(compare),
        "collection": charts.collection_timeline(runs),
        "gantt": run_charts.gantt({C.started_at: T0, C.ended_at: T0 + dt.timedelta(seconds=9), C.status: "failed",
                               C.workflow_name: WF, C.execution_id: STEP}, _gantt_steps(), attempts),
        "graph": graph.figure(g, stats, None, title=f"{WF} — definition"),
    }


@pytest.mark.parametrize("name", list(_builders()))
def test_every_chart_shows_hostile_names_as_text(name):
    assert_verbatim(_builders()[name])


def test_plotly_text_escapes_only_markup():
    from flowscope.textsafety import plotly_text

    assert plotly_text('<a href="x">P</a> & co') == '&lt;a href="x"&gt;P&lt;/a&gt; &amp; co'
    assert plotly_text("line\nbreak\x1b[31m") == "line break"
    assert plotly_text(None) == "" and plotly_text("Charge_Card-2") == "Charge_Card-2"


LONG = "orders-" + "x" * 150 + "-eu-west-1"


def test_a_long_name_is_cut_in_legends_and_axis_labels_not_in_hovers():
    """A 167-character workflow name took the whole width of Failures' "Failed visits by step" (its bars a
    sliver, its x axis's ticks run together) and a legend of three such names wrapped over the chart's title.
    Legends and axis labels show at most `charts.LABEL_CHARS` characters, start and end kept; the tooltip keeps
    the whole name."""
    longest = charts.LABEL_CHARS
    labelled = pd.DataFrame({"label": [f"{LONG} / ChargeCard", f"{LONG}-2 / ChargeCard", "short / step"],
                             "failures": [3, 2, 1]})
    rows = chart_rows(charts.hbar(labelled, x="failures", y="label"), "bar")
    ticks = [r["label"] for r in rows]
    assert ticks and max(len(t) for t in ticks) <= longest, ticks
    assert len(set(ticks)) == 3 and all(t.startswith(("orders-", "short")) for t in ticks), ticks
    assert f"{LONG} / ChargeCard" in [r["name"] for r in rows], "the tooltip keeps the whole name"
    over = pd.DataFrame({"bucket": [T0, T0], "failed": [1, 2], "workflow": [LONG + " (aws)", LONG + " (gcp)"]})
    chart = charts.lines(over, x="bucket", y="failed", color="workflow", kind="bar")
    legend = chart_layers(chart, "bar")[0]["encoding"]["color"]["scale"]["domain"]
    assert max(len(n) for n in legend) <= charts.LEGEND_CHARS and len(set(legend)) == 2, legend
    assert all(n.endswith(("(aws)", "(gcp)")) for n in legend), "the end that tells them apart is kept"
    pct = pd.DataFrame({"label": [LONG], "p50_ms": [10.0], "p95_ms": [20.0], "p99_ms": [30.0]})
    assert max(len(r["label"]) for r in chart_rows(charts.percentile_bars(pct, label="label"), "bar")) <= longest

