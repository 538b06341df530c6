"""Names from a cloud reach every chart as text, never as markup. The dashboard's charts are Vega-Lite: Vega
draws text as text and its tooltips escape HTML, so a name reaches the spec as written, minus escape
sequences and line breaks (`textsafety.chart_text`), and never as entities a reader would see ("&lt;b&gt;").
(Under plotly, which reads a subset of HTML, a step named `<a href=...>` drew a live link on /failures;
the reports draw these same specs, `report/vega.py`.) The browser side, that a tooltip of
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


def _two_steps(name: str) -> tuple[Graph, pd.DataFrame]:
    """A graph of a step named `name` before one named "next", and the stats of the first (visited, failing)."""
    g = Graph()
    g.add(name, "task")
    g.add("next", "task")
    g.link(name, "next")
    return g, pd.DataFrame([{"step": name, "visits": 3, "failures": 1, "failure_rate": 0.3, "retries": 0,
                             "p95_ms": 10.0, "cost_usd": 0.0}])


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
    g, stats = _two_steps(STEP)
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


def test_a_long_step_name_is_cut_on_the_state_graph_not_in_its_hover():
    """A long step name on the Workflows page's state graph ran over its neighbours and under the colour bar."""
    g, stats = _two_steps(LONG)
    fig = graph.figure(g, stats, None)
    labels = next(layer for layer in charts.layers(fig) if layer.get("name") == "labels")["data"]["values"]
    names = [r["label"].split("\n")[0] for r in labels]
    assert max(len(n) for n in names) <= charts.LABEL_CHARS and names[0].endswith("-eu-west-1"), names
    painted = next(layer for layer in charts.layers(fig) if layer.get("name") == "painted")
    assert [r["step"] for r in painted["data"]["values"]] == [LONG], "the tooltip keeps the whole name"
    assert {"field": "step", "title": "step"} in painted["encoding"]["tooltip"]


GRAPH_NAME = '<a href="http://x">x</a>\x1b[31m & co'
"""A hostile step name on the state graph: markup Vega draws as text, and an escape sequence a terminal would run."""


def test_the_state_graph_shows_a_hostile_name_verbatim_without_its_escape():
    """Vega draws text as text and vega-tooltip escapes HTML: the state graph (Vega-Lite, no longer plotly) shows
    a name as the cloud wrote it, no entities (they would read "&lt;a"), minus the escape sequence."""
    g, stats = _two_steps(GRAPH_NAME)
    fig = graph.figure(g, stats, pd.DataFrame({"source": [GRAPH_NAME], "target": ["next"], "transitions": [3]}),
                       title=f"{GRAPH_NAME} — definition")
    texts = _strings(json.loads(json.dumps(fig)))
    shown = '<a href="http://x">x</a> & co'
    assert not [t for t in texts if "\x1b" in t or "[31m" in t], "the escape sequence is gone"
    assert not [t for t in texts if "&lt;" in t or "&gt;" in t or "&amp;" in t], "no entities"
    assert fig["title"]["text"] == f"{shown} — definition"
    layer = {lay["name"]: lay["data"]["values"] for lay in charts.layers(fig)}
    assert [r["label"] for r in layer["labels"]][0] == f"{shown}\n30.0%"
    assert layer["painted"][0]["step"] == shown and layer["edges"][0]["from"] == shown


def test_two_long_names_that_differ_in_the_middle_are_not_cut_alike():
    """Cut to their start and end, "orders-…-A-…-eu" and "orders-…-B-…-eu" read alike: two series in one
    legend entry's words, two bars of one label. Names whose cut forms would collide keep their whole names."""
    a, b = "orders-" + "x" * 40 + "-A-" + "y" * 40 + "-eu", "orders-" + "x" * 40 + "-B-" + "y" * 40 + "-eu"
    over = pd.DataFrame({"bucket": [T0, T0], "failed": [1, 2], "workflow": [a, b]})
    chart = charts.lines(over, x="bucket", y="failed", color="workflow", kind="bar")
    legend = chart_layers(chart, "bar")[0]["encoding"]["color"]["scale"]["domain"]
    assert len(set(legend)) == 2, legend
    bars = chart_rows(charts.hbar(pd.DataFrame({"label": [a, b], "failures": [2, 1]}), x="failures", y="label"), "bar")
    assert len({r["label"] for r in bars}) == 2, bars


def test_the_state_graphs_title_cuts_a_long_workflow_name(tmp_path, monkeypatch):
    """The Workflows page's state graph was titled with the workflow's whole label: a 160-character name ran past
    the chart's width, where its node labels, axes and legends are cut (`charts.short`)."""
    from flowscope.model import C, Cloud
    from flowscope.store import Store
    from tests.ui.helpers import build, drawn_charts
    from tests.ui.test_pages import app, no_exception, open_page

    batch = build(60, days=3, clouds=(Cloud.AWS,), failed_scope=False)
    for table in ("workflows", "executions"):
        for row in getattr(batch, table):
            row[C.name if table == "workflows" else C.workflow_name] = LONG
    Store(tmp_path / "s").write(batch)
    at = open_page(app(str(tmp_path / "s"), monkeypatch), "workflows")
    no_exception(at)
    graph_title = next(c.title for c in drawn_charts(at) if c.key == "graph")
    assert "—" in graph_title, graph_title
    assert LONG not in graph_title and len(graph_title.split(" — ")[0]) <= charts.LABEL_CHARS, graph_title


# ---------------------------------------------------------------- one run's charts (Vega-Lite)

VEGA_NAME = '<a href="http://x">x</a>\x1b[31m'
"""A hostile step name: markup Vega draws as text (no entities needed), and an escape sequence it must not get."""
VEGA_SHOWN = '<a href="http://x">x</a>'


def _run_charts(name: str) -> dict[str, dict]:
    from flowscope.ui import run_charts

    steps = pd.DataFrame([{
        C.step_key: "s1", C.parent_step_key: None, C.name: name, C.started_at: T0,
        C.ended_at: T0 + dt.timedelta(seconds=5), C.status: "FAILED", C.iteration: None, C.type: "task",
        C.attempts: 2, C.duration_ms: 5000.0, C.error: name, C.cause: name}])
    attempts = pd.DataFrame({C.step_key: ["s1", "s1"], C.attempt: [1, 2], C.started_at: [T0, T0],
                             C.ended_at: [T0, T0], C.status: ["FAILED", "FAILED"], C.error: [name, name]})
    compare = pd.DataFrame([{"step": "ChargeCard", "parent": name, "a_ms": 10.0, "b_ms": 20.0, "a_error": name,
                             "b_error": None, "a_retries": 1, "b_retries": 0, "a_visits": 1, "b_visits": 1}])
    return {"gantt": run_charts.gantt({C.started_at: T0, C.ended_at: T0 + dt.timedelta(seconds=9),
                                       C.status: "FAILED", C.workflow_name: name, C.execution_id: name},
                                      steps, attempts),
            "compare": run_charts.compare_steps(compare, title=f"{name} against itself")}


def _labels(chart: dict) -> list[str]:
    from flowscope.ui import run_charts

    return [key[run_charts.ROW_KEY:].replace("\u00a0", " ").replace("\u200b", "")
            for key in charts.layers(chart)[0]["encoding"]["y"]["scale"]["domain"]]


@pytest.mark.parametrize("name", ["gantt", "compare"])
def test_a_run_chart_shows_a_hostile_name_verbatim_without_its_escape(name):
    """Vega draws text as text and vega-tooltip escapes HTML: a name reaches the spec as the cloud wrote it,
    no entities (they would show as "&lt;"), minus the escape sequence a terminal would run."""
    chart = _run_charts(VEGA_NAME)[name]
    texts = _strings(json.loads(json.dumps(chart)))
    assert not [t for t in texts if "\x1b" in t or "[31m" in t], "the escape sequence is gone"
    assert not [t for t in texts if "&lt;" in t or "&gt;" in t or "&amp;" in t], "no entities"
    assert any(VEGA_SHOWN in t for t in texts), "the name shown as written"
    assert any(VEGA_SHOWN in label for label in _labels(chart)), "in the lane labels too"


def test_a_long_name_is_cut_in_a_run_charts_labels_not_in_its_tooltips():
    for name, chart in _run_charts(LONG).items():
        labels = _labels(chart)
        assert labels and max(len(t.strip()) for t in labels) <= charts.LABEL_CHARS + len("└ run: "), (name, labels)
        assert any("…" in t and t.endswith(("-eu-west-1", "-west-1 / ChargeCard")) for t in labels), \
            (name, labels, "cut in the middle, its start and its end kept")
        tips = [row[t["field"]] for layer in charts.layers(chart) if layer["mark"]["type"] == "bar"
                for row in layer["data"]["values"] for t in layer["encoding"]["tooltip"]]
        assert any(LONG in str(t) for t in tips), (name, "the tooltip keeps the whole name")
