"""Names from a cloud reach every chart as text, never as markup: plotly.js reads a subset of HTML in
titles, legend and tick labels, hover and annotations (a step named `<a href=...>` drew a live link on
/failures). Each builder is given hostile names; no raw tag may reach the figure."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest

from flowscope.collectors.graph import Graph
from flowscope.model import C
from flowscope.ui import charts, graph

STEP = '<a href="https://example.com/phish">Pay here</a><b>ChargeCard</b>'
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


def assert_literal(fig: go.Figure) -> None:
    texts = _strings(json.loads(fig.to_json()))
    leaked = [t for t in texts if any(r in t for r in RAW)]
    assert not leaked, f"raw markup reached the figure: {leaked[:3]}"
    assert any("&lt;a href" in t or "&lt;span" in t or "&lt;i&gt;" in t for t in texts), "the name is still shown"


def _buckets(n: int = 3) -> list[dt.datetime]:
    return [T0 + dt.timedelta(hours=i) for i in range(n)]


def _gantt_steps() -> pd.DataFrame:
    return pd.DataFrame([{
        C.step_key: "s1", C.parent_step_key: None, C.name: STEP, C.started_at: T0,
        C.ended_at: T0 + dt.timedelta(seconds=5), C.status: "failed", C.iteration: None, C.type: "task",
        C.attempts: 2, C.duration_ms: 5000.0, C.error: ERROR, C.cause: ERROR}])


def _builders() -> dict[str, go.Figure]:
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
        "empty": charts.empty_figure(f"No data for {STEP}", title=WF),
        "percentiles": charts.percentile_bars(pct, label="label"),
        "compare": charts.compare_steps(compare),
        "collection": charts.collection_timeline(runs),
        "gantt": charts.gantt({C.started_at: T0, C.ended_at: T0 + dt.timedelta(seconds=9), C.status: "failed",
                               C.workflow_name: WF, C.execution_id: STEP}, _gantt_steps(), attempts),
        "graph": graph.figure(g, stats, None, title=f"{WF} — definition"),
    }


@pytest.mark.parametrize("name", list(_builders()))
def test_every_chart_shows_hostile_names_as_text(name):
    assert_literal(_builders()[name])


def test_plotly_text_escapes_only_markup():
    from flowscope.textsafety import plotly_text

    assert plotly_text('<a href="x">P</a> & co') == '&lt;a href="x"&gt;P&lt;/a&gt; &amp; co'
    assert plotly_text("line\nbreak\x1b[31m") == "line break"
    assert plotly_text(None) == "" and plotly_text("Charge_Card-2") == "Charge_Card-2"


LONG = "orders-" + "x" * 150 + "-eu-west-1"


def test_a_long_name_is_cut_in_legends_and_axis_labels_not_in_hovers():
    """A 167-character workflow name took the whole width of Failures' "Failed visits by step" (its bars a
    sliver, its x axis's ticks run together) and a legend of three such names wrapped over the chart's title.
    Legends and axis labels show at most `charts.LABEL_CHARS` characters, start and end kept; the bars'
    categories (which the hover shows and which tell bars apart) keep the whole name."""
    longest = charts.LABEL_CHARS
    labelled = pd.DataFrame({"label": [f"{LONG} / ChargeCard", f"{LONG}-2 / ChargeCard", "short / step"],
                             "failures": [3, 2, 1]})
    bars = charts.hbar(labelled, x="failures", y="label")
    ticks = list(bars.layout.yaxis.ticktext)
    assert ticks and max(len(t) for t in ticks) <= longest, ticks
    assert len(set(ticks)) == 3 and all(t.startswith(("orders-", "short")) for t in ticks), ticks
    assert f"{LONG} / ChargeCard" in list(bars.data[0].y), "the category (and hover) keeps the whole name"
    over = pd.DataFrame({"bucket": [T0, T0], "failed": [1, 2], "workflow": [LONG + " (aws)", LONG + " (gcp)"]})
    legend = [t.name for t in charts.lines(over, x="bucket", y="failed", color="workflow", kind="bar").data]
    assert max(len(n) for n in legend) <= charts.LEGEND_CHARS and len(set(legend)) == 2, legend
    assert all(n.endswith(("(aws)", "(gcp)")) for n in legend), "the end that tells them apart is kept"
    pct = pd.DataFrame({"label": [LONG], "p50_ms": [10.0], "p95_ms": [20.0], "p99_ms": [30.0]})
    assert max(len(t) for t in charts.percentile_bars(pct, label="label").layout.yaxis.ticktext) <= longest
    compare = pd.DataFrame([{"step": "ChargeCard", "parent": LONG, "a_ms": 10.0, "b_ms": 20.0, "a_error": None,
                             "b_error": None, "a_retries": 0, "b_retries": 0, "a_visits": 1, "b_visits": 1}])
    assert max(len(t) for t in charts.compare_steps(compare).layout.yaxis.ticktext) <= longest
    assert charts.short("<b>" + "y" * 100).startswith("<b>"), "cut before escaping: no entity cut in two"


def test_a_long_step_name_is_cut_on_the_state_graph_not_in_its_hover():
    """A long step name on the Workflows page's state graph ran over its neighbours and under the colour bar."""
    g = Graph()
    g.add(LONG, "task")
    g.add("next", "task")
    g.link(LONG, "next")
    stats = pd.DataFrame([{"step": LONG, "visits": 3, "failures": 1, "failure_rate": 0.3, "retries": 0,
                           "p95_ms": 10.0, "cost_usd": 0.0}])
    nodes = next(t for t in graph.figure(g, stats, None).data if t.text is not None and len(t.text) == 2)
    names = [t.split("<br>")[0] for t in nodes.text]
    assert max(len(n) for n in names) <= charts.LABEL_CHARS and names[0].endswith("-eu-west-1"), names
    assert any(LONG in h for h in nodes.hovertext), "the hover keeps the whole name"


def test_two_long_names_that_differ_in_the_middle_are_not_cut_alike():
    """Cut to their start and end, "orders-…-A-…-eu" and "orders-…-B-…-eu" read alike: two series in one
    legend entry's words, two bars of one label. Names whose cut forms would collide keep their whole names."""
    a, b = "orders-" + "x" * 40 + "-A-" + "y" * 40 + "-eu", "orders-" + "x" * 40 + "-B-" + "y" * 40 + "-eu"
    over = pd.DataFrame({"bucket": [T0, T0], "failed": [1, 2], "workflow": [a, b]})
    legend = [t.name for t in charts.lines(over, x="bucket", y="failed", color="workflow", kind="bar").data]
    assert len(set(legend)) == 2, legend
    bars = charts.hbar(pd.DataFrame({"label": [a, b], "failures": [2, 1]}), x="failures", y="label")
    assert len(set(bars.layout.yaxis.ticktext or [])) in (0, 2), bars.layout.yaxis.ticktext


def test_the_state_graphs_title_cuts_a_long_workflow_name(tmp_path, monkeypatch):
    """The Workflows page's state graph was titled with the workflow's whole label: a 160-character name ran past
    the chart's width, where its node labels, axes and legends are cut (`charts.short`)."""
    import json

    from flowscope.model import C, Cloud
    from flowscope.store import Store
    from tests.ui.helpers import build
    from tests.ui.test_pages import app, no_exception, open_page

    batch = build(60, days=3, clouds=(Cloud.AWS,), failed_scope=False)
    for table in ("workflows", "executions"):
        for row in getattr(batch, table):
            row[C.name if table == "workflows" else C.workflow_name] = LONG
    Store(tmp_path / "s").write(batch)
    at = open_page(app(str(tmp_path / "s"), monkeypatch), "workflows")
    no_exception(at)
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "")
              for c in at.get("plotly_chart")]
    graph_title = next(t for t in titles if "—" in t)
    assert LONG not in graph_title and len(graph_title.split(" — ")[0]) <= charts.LABEL_CHARS, graph_title
