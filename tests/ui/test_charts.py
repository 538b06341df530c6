"""Pure pieces of the dashboard, without Streamlit: chart builders, the state graph, the queries."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re

import pandas as pd
import pytest

from flowscope.analysis import runs
from flowscope.analysis import tables as queries
from flowscope.format import fmt_usd
from flowscope.model import UTC, C
from flowscope.store import Store, reader
from flowscope.ui import charts, graph, run_charts
from tests.ui.helpers import ASL, GCP_YAML, LOGICAPP, WORKFLOWS, build, chart_layers, chart_rows, chart_texts

T0 = dt.datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    path = tmp_path_factory.mktemp("ui-pure")
    Store(path).write(build(300, end=T0 + dt.timedelta(days=6), days=6))
    cursor = queries.prepare(Store(path).connect().cursor())
    yield cursor
    cursor.close()


@pytest.fixture()
def window():
    return queries.Filters(T0, T0 + dt.timedelta(days=7))


# ---------------------------------------------------------------- queries

@pytest.mark.parametrize("since_days, days, clouds, wf", [
    (3, 3, (), ()), (3, 3, ("aws",), ()), (4, 2, ("azure", "gcp"), ()), (5, 1, (), (WORKFLOWS[0].workflow_id,)),
    (0, 3, (), ()),                                    # the previous window holds no data
])
def test_the_overview_its_previous_window_and_its_trend_read_together_equal_each_read_alone(con, since_days, days,
                                                                                             clouds, wf):
    f = queries.Filters(T0 + dt.timedelta(days=since_days), T0 + dt.timedelta(days=since_days + days),
                        clouds, wf, month_days=30.4)
    now, before, trend = queries.overview_and_trend(con, f, with_previous=True)
    assert before is not None
    alone, _none, _one = queries.overview_and_trend(con, f, with_previous=False, with_trend=False)
    pd.testing.assert_frame_equal(now, alone, check_exact=False, rtol=1e-12)
    previous, _none, _one = queries.overview_and_trend(con, f.previous(), with_previous=False, with_trend=False)
    pd.testing.assert_frame_equal(before, previous, check_exact=False, rtol=1e-12)
    assert now.iloc[-1]["executions"] > 0
    assert (before.iloc[-1]["executions"] > 0) == (since_days >= days)
    # The overview is the sum of its trend's buckets, cloud by cloud: the table and the charts agree.
    per_cloud = trend.groupby(C.cloud)[["executions", "failed", "retries", "cost_usd"]].sum()
    table = now[now[C.cloud] != "total"].set_index(C.cloud)[per_cloud.columns]
    pd.testing.assert_frame_equal(table, per_cloud, check_exact=False, rtol=1e-9, check_names=False)
    # And the executions are the store's, counted independently of either.
    where = "started_at >= $since AND started_at < $until"
    where += " AND cloud IN (SELECT unnest($clouds))" if clouds else ""
    where += " AND workflow_id IN (SELECT unnest($wf))" if wf else ""
    params = {"since": f.since, "until": f.until, **({"clouds": list(clouds)} if clouds else {}),
              **({"wf": list(wf)} if wf else {})}
    counted = dict(con.execute(f"SELECT cloud, count(*) FROM executions WHERE {where} GROUP BY ALL", params).fetchall())
    assert table["executions"].to_dict() == counted
    # The trend does not depend on whether the previous window is read with it.
    pd.testing.assert_frame_equal(trend, queries.overview_and_trend(con, f, with_previous=False)[2])


@pytest.mark.parametrize("clouds", [("aws",), ("azure", "gcp"), ("gcp",), ("aws", "azure", "gcp")])
@pytest.mark.parametrize(("since_days", "days", "with_previous"), [(3, 3, True), (4, 2, False), (0, 3, True)])
def test_a_cloud_filters_overview_is_every_clouds_narrowed(con, clouds, since_days, days, with_previous):
    """The dashboard's cloud filter narrows the window's every-cloud overview instead of reading the
    store again (`tables.narrow_overview`): the same frames, to the bit, as the read with the filter."""
    f = queries.Filters(T0 + dt.timedelta(days=since_days), T0 + dt.timedelta(days=since_days + days),
                        clouds, month_days=30.4)
    wide = queries.overview_and_trend(con, dataclasses.replace(f, clouds=()), with_previous=with_previous)
    got = queries.narrow_overview(wide, f)
    read = queries.overview_and_trend(con, f, with_previous=with_previous)
    pd.testing.assert_frame_equal(got[0], read[0], check_exact=True)
    if with_previous:
        pd.testing.assert_frame_equal(got[1], read[1], check_exact=True)
    else:
        assert got[1] is None and read[1] is None
    pd.testing.assert_frame_equal(got[2], read[2], check_exact=True)
    assert got[0][C.cloud].tolist() == [*sorted(clouds), "total"]


def test_a_workflow_filter_is_not_narrowed_from_the_overview(con, window):
    wide = queries.overview_and_trend(con, window, with_previous=False)
    with pytest.raises(ValueError, match="clouds only"):
        queries.narrow_overview(wide, dataclasses.replace(window, workflows=(WORKFLOWS[0].workflow_id,)))


def test_overview_counts_and_cost(con, window):
    frame = queries.overview_by_cloud(con, window).set_index(C.cloud)
    assert list(frame.index) == ["aws", "azure", "gcp", "total"]
    assert frame.loc["total", "executions"] == 300
    assert frame.loc["aws", "executions"] == 100
    assert frame.loc["total", "cost_usd"] == pytest.approx(frame.loc[["aws", "azure", "gcp"], "cost_usd"].sum())
    assert frame.loc["total", "monthly_usd"] == pytest.approx(frame.loc["total", "cost_usd"] * 30 / 7)
    assert 0 < frame.loc["aws", "failure_rate"] < 0.3


def test_a_window_where_no_run_finished_has_no_failure_rate(con):
    """An empty window's overview read 'run failure rate 0.0%' (its trend said no rate): a rate of no
    finished run is missing, not zero, and the report and pages show 'n/a'."""
    empty = queries.Filters(T0 - dt.timedelta(days=30), T0 - dt.timedelta(days=23))
    frame = queries.overview_by_cloud(con, empty).set_index(C.cloud)
    assert frame.loc["total", "executions"] == 0 and pd.isna(frame.loc["total", "failure_rate"])


def test_filters_narrow_every_query(con, window):
    aws = queries.Filters(window.since, window.until, clouds=("aws",))
    assert queries.overview_by_cloud(con, aws)[C.cloud].tolist() == ["aws", "total"]
    assert set(queries.workflow_table(con, aws)[C.cloud]) == {"aws"}
    assert set(queries.cost_drivers(con, aws)[C.cloud]) == {"aws"}
    wf = queries.Filters(window.since, window.until, workflows=(WORKFLOWS[1].workflow_id,))
    assert int(queries.workflow_table(con, wf)["runs"].sum()) == 100
    assert queries.has_executions(con, wf)


def test_a_window_has_executions_from_its_start_up_to_not_including_its_end(con):
    """`has_executions` (every page's "no executions match" check) reads the window as the pages' queries do:
    a run started at the window's start is in it, one started at its end is not."""
    first = pd.Timestamp(con.execute(f"SELECT min({C.started_at}) FROM executions").fetchone()[0]).to_pydatetime()
    tick = dt.timedelta(microseconds=1)
    assert queries.has_executions(con, queries.Filters(first, first + tick))
    assert not queries.has_executions(con, queries.Filters(first - dt.timedelta(hours=1), first))
    assert not queries.has_executions(con, queries.Filters(first, first + tick, clouds=("no-such-cloud",)))


def test_filter_values_are_quoted_not_pasted(con, window):
    hostile = queries.Filters(window.since, window.until, clouds=("aws' OR '1'='1",))
    assert not queries.has_executions(con, hostile)


def test_cost_uses_the_price_table(con, window):
    drivers = queries.cost_drivers(con, window)
    row = drivers[(drivers["step"] == "Get_invoice")].iloc[0]
    assert row["meter"] == "azure.logic.standard_connector"
    assert row["cost_usd"] == pytest.approx(row["quantity"] * 0.000125)


def test_edges_steps_and_retry_delays(con, window):
    aws = WORKFLOWS[0]
    edges = queries.edge_counts(con, window, aws.cloud.value, aws.workflow_id)
    pairs = {(r.source, r.target): r.transitions for r in edges.itertuples()}
    assert pairs[("ValidateOrder", "ChargeCard")] == 100
    assert pairs[("ReserveItems", "ReserveItem")] > 0          # Map items come from their container
    steps = queries.step_metrics(con, window, aws.cloud.value, aws.workflow_id).set_index("step")
    assert steps.loc["ChargeCard", "failures"] > 0 and steps.loc["ChargeCard", "retries"] > 0
    delays = queries.retry_delays(con, window)
    assert delays.loc[delays["step"] == "ChargeCard", "cv"].abs().max() < 1e-9      # every retry number
    assert (delays.loc[delays["step"] == "Get_invoice", "cv"] > 0.1).all()


# (execution, step_key, previous_step_key, parent_step_key, name): a Map whose items start inside it,
# a step after the Map, a run's first step, and a step whose previous visit started before the window.
EDGE_STEPS = [("e1", "1", None, None, "A"), ("e1", "2", "1", None, "Map"), ("e1", "3", None, "2", "Item"),
              ("e1", "4", "3", "2", "ItemEnd"), ("e1", "5", None, "2", "Item"), ("e1", "6", "2", None, "B"),
              ("e2", "1", None, None, "A"), ("e2", "2", "1", None, "B"), ("e3", "9", "8", None, "B")]


@pytest.mark.parametrize(("source", "target", "transitions"), [
    ("", "A", 2), ("A", "Map", 1), ("Map", "Item", 2), ("Item", "ItemEnd", 1), ("Map", "B", 1), ("A", "B", 1),
    ("", "B", 1)])
def test_edge_counts_take_the_previous_step_else_the_container(source, target, transitions):
    """A transition's source is the step named by previous_step_key, else by parent_step_key (the first
    step of a Map item or branch comes from its container), else none: `analysis/transitions.py`' rule."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE TABLE steps ({C.cloud} VARCHAR, {C.workflow_id} VARCHAR, {C.execution_id} VARCHAR, "
                f"{C.step_key} VARCHAR, {C.previous_step_key} VARCHAR, {C.parent_step_key} VARCHAR, "
                f"{C.name} VARCHAR, {C.started_at} TIMESTAMPTZ, {C.start_date} DATE)")
    con.executemany("INSERT INTO steps VALUES ('aws', 'wf', ?, ?, ?, ?, ?, TIMESTAMPTZ '2026-01-02 00:00:00+00', "
                    "DATE '2026-01-02')", EDGE_STEPS)
    # the runs' table the pages read their start dates from (`tables.first_live_date`): none still going
    con.execute(f"CREATE TABLE executions AS {reader.select_sql('executions', reader.TableFiles([], frozenset()))}")
    f = queries.Filters(dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 1, 3, tzinfo=UTC))
    edges = queries.edge_counts(con, f, "aws", "wf")
    got = {(r.source, r.target): r.transitions for r in edges.itertuples()}
    assert len(got) == 7 and sum(got.values()) == len(EDGE_STEPS)
    assert got[(source, target)] == transitions


def test_execution_detail_and_search(con, window):
    failed, _total = runs.search_executions(con, window, error_text="DECLINED")
    assert len(failed) and set(failed[C.status]) == {"FAILED"}
    detail = queries.execution_detail(con, "aws", failed.iloc[0][C.execution_id])
    assert set(detail) == {"execution", "steps", "attempts", "usage"}
    assert detail["usage"]["usd"].sum() > 0
    assert queries.execution_detail(con, "aws", "nope") is None


def test_collection_health_puts_failures_first(con):
    health = queries.collection_health(con, now=T0 + dt.timedelta(days=6))
    assert health.iloc[0][C.status] == "failed" and "PermissionDenied" in health.iloc[0][C.error]
    assert health["lag_minutes"].iloc[1:].notna().all()


def test_collection_health_says_which_failures_are_superseded(tmp_path):
    """A scope whose source a later sync no longer names (its globs changed) failed last: the page's
    banner and 'Failed' count said so for ever while analyze called the collection healthy. The table
    carries the one rule's verdict (`model.superseded_failures`) beside the status."""
    now = T0 + dt.timedelta(days=1)

    def run(run_id: str, scope: str, status: str, at: dt.datetime, source: str, named: list[str]) -> dict:
        return {C.run_id: run_id, C.cloud: "gcp", C.scope: scope, C.status: status, C.started_at: at,
                C.ended_at: at + dt.timedelta(seconds=5), C.watermark: None, C.counts: "{}",
                C.error: "PermissionDenied: 403" if status == "failed" else None,
                C.details: json.dumps({"source": source, "configured_sources": named})}

    Store(tmp_path).write({"collection_runs": [
        run("r1", "gcp:p:l#old", "failed", now - dt.timedelta(hours=3), "gcp:p:l#old", ["gcp:p:l#old", "gcp:q:l"]),
        run("r2", "gcp:q:l", "failed", now - dt.timedelta(hours=3), "gcp:q:l", ["gcp:p:l#old", "gcp:q:l"]),
        run("r3", "gcp:p:l#new", "succeeded", now - dt.timedelta(hours=1), "gcp:p:l#new", ["gcp:p:l#new", "gcp:q:l"]),
    ]})
    health = queries.collection_health(queries.prepare(Store(tmp_path).connect().cursor()), now=now)
    why = dict(zip(health[C.scope], health["superseded"], strict=True))
    assert why["gcp:p:l#old"].startswith("no longer configured")
    assert why["gcp:q:l"] is None and why["gcp:p:l#new"] is None          # still configured: still failing
    assert C.run_id not in health.columns and C.details not in health.columns


def test_latency_drift_against_previous_window(con):
    f = queries.Filters(T0 + dt.timedelta(days=3), T0 + dt.timedelta(days=6))
    frame = queries.latency_by_step(con, f)
    assert {"p50_ms", "p95_ms", "p99_ms", "prev_p95_ms", "drift"} <= set(frame.columns)
    assert frame["drift"].notna().any()
    alone = queries.latency_by_step(con, f, compare=False)     # a previous window the data does not cover
    pd.testing.assert_frame_equal(alone.drop(columns=["prev_p95_ms", "prev_visits", "drift"]),
                                  frame.drop(columns=["prev_p95_ms", "prev_visits", "drift"]))
    assert alone[["prev_p95_ms", "prev_visits", "drift"]].isna().all().all()


def test_every_query_on_an_empty_store(tmp_path, window):
    cursor = queries.prepare(Store(tmp_path).connect().cursor())
    assert queries.store_summary(cursor)["executions"] == 0
    queries.overview_and_trend(cursor, window, with_previous=True)
    for name in ("overview_by_cloud", "workflow_table", "failures_over_time", "top_errors",
                 "failing_steps", "retries_over_time", "amplification", "retry_delays", "cost_drivers",
                 "edge_cost", "latency_by_step", "execution_latency"):
        getattr(queries, name)(cursor, window)
    assert queries.error_totals(cursor, window) == {"distinct_errors": 0, "failures": 0, "caught": 0}
    assert queries.collection_health(cursor).empty


# ---------------------------------------------------------------- charts

def test_every_builder_accepts_empty_frames():
    empty = pd.DataFrame()
    figs = [charts.lines(empty, x="a", y="b"), charts.hbar(empty, x="a", y="b"), charts.storm_timeline(empty),
            charts.histogram(pd.Series([], dtype=float), title="t", x_title="x"),
            charts.percentile_bars(empty, label="x"), charts.severity_counts(empty), run_charts.compare_steps(empty),
            charts.collection_timeline(empty), run_charts.gantt({}, empty), *charts.kpi_trends(empty).values()]
    assert all(isinstance(f, dict) and f.get("layer") for f in figs)
    json.dumps(figs)
    unstarted = pd.DataFrame([{C.step_key: "1", C.parent_step_key: None, C.previous_step_key: None,
                               C.iteration: None, C.name: "a", C.type: "task", C.status: "RUNNING",
                               C.started_at: None, C.ended_at: None, C.duration_ms: None, C.attempts: 1,
                               C.error: None, C.cause: None}])
    assert run_charts.gantt({}, unstarted)["title"]["text"] == "Timeline", "no step started: said, not a KeyError"


def test_trend_charts_colour_clouds(con, window):
    figs = charts.kpi_trends(queries.overview_and_trend(con, window, with_previous=False)[2])
    scale = chart_layers(figs["executions"], "bar")[0]["encoding"]["color"]["scale"]
    assert dict(zip(scale["domain"], scale["range"], strict=True)) == {"aws": "#FF9900", "azure": "#0078D4",
                                                                       "gcp": "#34A853"}
    assert chart_layers(figs["failure_rate"], "line")[0]["encoding"]["y"]["axis"]["format"] == charts.SHARE_TICKS


def _x_domains(chart: dict) -> list[list]:
    """The x scale's span as Vega-Lite reads it from a layered spec: once per layer that declares it, and once
    more where that layer also has an `x2` (it reads the span again for `x2`, as ISO texts against `x`'s
    datetimes, and logged "Conflicting scale property domain" in the browser)."""
    return [x["scale"]["domain"] for layer in charts.layers(chart) for x in [layer.get("encoding", {}).get("x", {})]
            if "domain" in x.get("scale", {}) for _reading in range(2 if "x2" in layer["encoding"] else 1)]


@pytest.mark.parametrize("since, until", [
    (dt.datetime(2026, 11, 1, 10, 35, tzinfo=UTC), dt.datetime(2026, 11, 8, 15, 20, tzinfo=UTC)),  # partial ends
    (dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 11, 8, tzinfo=UTC)),                 # whole buckets
], ids=["partial-ends", "whole-buckets"])
def test_a_trends_time_span_is_declared_once(since, until):
    """Every trend chart (the Overview's four, retries with storm windows) declares its x span once, on a layer
    without an `x2`: a trend whose bars or partial-bucket bands had it with their `x2` logged a Vega warning
    per chart in every browser console (session 60). The span is still the window's, so the chart is unchanged."""
    buckets = pd.date_range("2026-11-01", "2026-11-08", freq="D", tz="UTC", inclusive="left" if until.hour == 0
                            else "both")
    trend = pd.DataFrame([{"bucket": b, C.cloud: c, "executions": 10 + i, "failure_rate": 0.01 * i, "retries": i,
                           "cost_usd": 0.5 * i} for i, b in enumerate(buckets) for c in ("aws", "azure", "gcp")])
    storms = [{"window_start": b, "window_end": b + pd.Timedelta(hours=5), "label": f"wf / step{i}"}
              for i, b in enumerate(buckets[:6])]
    drawn = {**charts.kpi_trends(trend, until=until, bucket_s=86_400, since=since),
             **{f"storms-{n}": charts.storm_timeline(trend, storms[:n], until=until, bucket_s=86_400, since=since)
                for n in (0, 2, 6)}}
    assert (chart_texts(drawn["executions"]).count("partial") == 2) == (until.hour > 0)
    span = [charts.iso(v) for v in charts.window_span(since, until, 86_400, "line")]   # bars' too (`lines`)
    for key, chart in drawn.items():
        assert _x_domains(chart) == [span], key
        assert all(layer["data"]["values"] for layer in charts.layers(chart)
                   if "domain" not in layer["encoding"]["x"].get("scale", {})), f"{key}: only a span's layer is empty"


def test_storm_windows_are_shaded_and_merged():
    retries = pd.DataFrame({"bucket": pd.date_range(T0, periods=8, freq="15min"), C.cloud: "aws",
                            "retries": [0, 1, 40, 50, 2, 0, 30, 1]})
    storms = [{"window_start": T0 + dt.timedelta(minutes=30), "window_end": T0 + dt.timedelta(minutes=60),
               "label": "orders / Charge"},
              {"window_start": T0 + dt.timedelta(minutes=45), "window_end": T0 + dt.timedelta(minutes=75),
               "label": "orders / Charge"},
              {"window_start": T0 + dt.timedelta(minutes=90), "window_end": T0 + dt.timedelta(minutes=105),
               "label": "etl / fetch"}]
    chart = charts.storm_timeline(retries, storms)
    assert len(chart_rows(chart, "rect")) == 2
    assert sorted(chart_texts(chart)) == ["etl / fetch", "orders / Charge"]


def test_many_storm_windows_are_shaded_without_placeholder_labels():
    """Past four windows the labels are left off (the storm table below names every window)."""
    retries = pd.DataFrame({"bucket": pd.date_range(T0, periods=40, freq="15min"), C.cloud: "gcp", "retries": 5})
    storms = [{"window_start": T0 + dt.timedelta(hours=2 * i), "window_end": T0 + dt.timedelta(hours=2 * i, minutes=30),
               "label": f"wf / step{i}"} for i in range(5)]
    chart = charts.storm_timeline(retries, storms)
    assert len(chart_rows(chart, "rect")) == 5
    assert not chart_texts(chart)


def _lanes(chart: dict) -> list[str]:
    """A timeline's (or a compare chart's) lane labels, top to bottom, as its y axis shows them (an indent in
    no-break spaces read as spaces)."""
    [domain] = {tuple(layer["encoding"]["y"]["scale"]["domain"]) for layer in charts.layers(chart)}
    return [key[run_charts.ROW_KEY:].replace("\u00a0", " ").replace("\u200b", "") for key in domain]


def _bars(chart: dict, kind: str | None = None) -> list[dict]:
    """A chart's bar rows (of one kind of timeline bar), each with `tip`: what its tooltip shows, title to text."""
    return [{**row, "tip": {t["title"]: row[t["field"]] for t in layer["encoding"]["tooltip"]}}
            for layer in charts.layers(chart) if layer["mark"]["type"] == "bar"
            for row in layer["data"]["values"] if kind is None or row["kind"] == kind]


def test_gantt_nests_map_items_and_shows_tries(con, window):
    found, _total = runs.search_executions(con, queries.Filters(window.since, window.until, clouds=("aws",)),
                                           page_size=500)
    for run in found.itertuples():
        detail = queries.execution_detail(con, "aws", run.execution_id)
        if detail["steps"]["attempts"].max() > 1 and (detail["steps"]["parent_step_key"].notna()).any():
            break
    else:
        pytest.fail("no retried Map execution in the fixture")
    chart = run_charts.gantt(detail["execution"].iloc[0].to_dict(), detail["steps"], detail["attempts"])
    json.dumps(chart, allow_nan=False)      # the spec travels as JSON
    labels = _lanes(chart)
    assert labels[0].startswith("run: ")  # a text mark: "▶" is emoji-capable (issue 11)
    items = next(label for label in labels if "└ ReserveItem" in label)
    assert re.fullmatch(r" +└ ReserveItem ×\d+( \(\d+ failed\))?", items), items
    assert any(re.fullmatch(r" +· tries \(\d+\)", label) for label in labels)
    assert {b["label"] for b in _bars(chart)} == set(labels), "every lane holds a bar, under its label"
    assert all(layer["encoding"]["x"]["type"] == "temporal" and layer["encoding"]["x"]["scale"]["type"] == "utc"
               and layer["encoding"]["x2"]["field"] == "end" for layer in charts.layers(chart))
    assert all(b["start"].endswith("Z") and b["end"] > b["start"] for b in _bars(chart)), "UTC, never zero long"
    tries = _bars(chart, "try")
    assert tries and all(re.fullmatch(r"try \d+: \w+.*", b["tip"]["try"]) for b in tries)
    layer = next(layer for layer in charts.layers(chart) if layer["data"]["values"][0]["kind"] == "try")
    assert layer["mark"]["height"]["band"] < 0.7, "a try's bar is thinner than its step's"
    colours = charts.layers(chart)[0]["encoding"]["color"]["scale"]
    statuses = {b["status"] for b in _bars(chart)}
    assert set(colours["domain"]) == statuses, "a legend of the statuses drawn"
    assert all(charts.STATUS_COLORS[s] == c for s, c in zip(colours["domain"], colours["range"], strict=True))


def test_gantt_draws_a_loops_iterations_on_its_steps_lanes(demo):
    """Issue 11: a failed step is not buried under its loop's iterations on the Timeline either. An Azure
    run's 40-odd ForEach iterations are two lanes (the iteration and its action), each bar a visit."""
    _store, con, _f = demo
    eid = con.execute(f"SELECT min({C.execution_id}) FROM steps "
                      f"WHERE {C.native_type} = 'ScopeRepetition'").fetchone()[0]
    detail = queries.execution_detail(con, "azure", eid)
    steps = detail["steps"]
    chart = run_charts.gantt(detail["execution"].iloc[0].to_dict(), steps, detail["attempts"])
    labels = _lanes(chart)
    n = int((steps[C.name] == "Upsert_contact").sum())
    assert f"   └ Upsert_contact ×{n}" in labels and len(labels) <= 8, labels
    bars = len([b for b in _bars(chart) if b["kind"] != "try"])
    assert bars == len(steps) + 1, "every visit and the run still drawn"



def test_percentile_bars_read_in_a_unit_from_the_data():
    frame = pd.DataFrame({"label": ["a", "b"], "p50_ms": [40_000.0, 90_000.0], "p95_ms": [300_000.0, 600_000.0],
                          "p99_ms": [400_000.0, 900_000.0]})
    chart = charts.percentile_bars(frame, label="label")
    x = chart_layers(chart, "bar")[0]["encoding"]["x"]
    assert x["title"] == "duration (min)" and "' min'" in x["axis"]["labelExpr"]
    p95 = [r for r in chart_rows(chart, "bar") if r["p"] == "p95"]
    assert [r["x"] for r in p95] == pytest.approx([10.0, 5.0])     # minutes on the axis, longest first
    assert [r["took"] for r in p95] == ["10 min", "5 min"]           # words in the tooltip
    quick = charts.percentile_bars(frame.assign(p50_ms=[20.0, 30.0], p95_ms=[300.0, 600.0], p99_ms=[500.0, 800.0]),
                                   label="label")
    assert chart_layers(quick, "bar")[0]["encoding"]["x"]["title"] == "duration (ms)"


def test_duration_lines_take_one_unit():
    frame = pd.DataFrame({"bucket": pd.date_range(T0, periods=3, freq="1h"), "label": "x",
                          "p95_ms": [2_000.0, 4_000.0, 3_000.0]})
    chart = charts.lines(frame, x="bucket", y="p95_ms", color="label", duration=True)
    axis = chart_layers(chart, "line")[0]["encoding"]["y"]["axis"]
    assert axis["title"] == "duration (s)" and "' s'" in axis["labelExpr"]
    assert [r["y"] for r in chart_rows(chart, "line")] == pytest.approx([2.0, 4.0, 3.0])


def test_compare_chart_marks_failed_retried_and_missing_steps():
    table = pd.DataFrame({"step": ["Charge", "Refund", "Validate"], "parent": [None, None, "Map"],
                          "path": ["both", "only B", "both"], "a_visits": [1, 0, 3], "b_visits": [1, 1, 3],
                          "a_ms": [12_000.0, None, 600.0], "b_ms": [1_500.0, 2_500.0, 900.0],
                          "delta_ms": [-10_500.0, None, 300.0], "a_retries": [2, 0, 0], "b_retries": [0, 0, 0],
                          "a_error": ["Payment.Declined", None, None], "b_error": [None, None, None]})
    chart = run_charts.compare_steps(table)
    json.dumps(chart, allow_nan=False)
    assert _lanes(chart) == ["Charge", "Refund", "Map / Validate"], "lanes in the table's order, top down"
    bars = {(b["step"], b["run"]): b for b in _bars(chart)}
    a = [bars[(s, "run A")] for s in ("Charge", "Refund", "Map / Validate")]
    b = [bars[(s, "run B")] for s in ("Charge", "Refund", "Map / Validate")]
    bar = next(layer for layer in charts.layers(chart) if layer["mark"]["type"] == "bar")["encoding"]
    assert bar["yOffset"]["field"] == "run" and bar["color"]["scale"] == {"domain": ["run A", "run B"],
                                                                         "range": charts.PALETTE[:2]}
    assert bar["x"]["title"] == "time in step (s)" and [r["value"] for r in a] == pytest.approx([12.0, 0.0, 0.6])
    [text] = [layer for layer in charts.layers(chart) if layer["mark"]["type"] == "text"]
    marks = {(r["step"], r["run"]): r["mark"] for r in text["data"]["values"]}
    assert marks == {("Charge", "run A"): "failed, 2 retries", ("Refund", "run A"): "not run"}, marks
    assert [r["mark"] for r in b] == ["", "", ""]
    assert (a[0]["outline_width"], a[0]["outline"]) == (3, charts.STATUS_COLORS["FAILED"])
    assert all(r["outline_width"] == 0 for r in (*a[1:], *b))
    assert a[0]["tip"]["error"] == "Payment.Declined" and a[0]["tip"]["time in step"].startswith("12.0 s")
    assert a[1]["tip"] == {"step": "Refund", "run": "run A", "time in step": "not run"}, \
        "a step one run did not take hovered 'n/a, 0 visit(s)'"
    empty = run_charts.compare_steps(table.iloc[0:0])
    assert charts.layers(empty)[0]["data"]["values"][0]["message"] == "No steps to compare"


# ---------------------------------------------------------------- state graph

@pytest.mark.parametrize("text,fmt,start,edge", [
    (json.dumps(ASL), "asl-json", "ValidateOrder", ("ChargeCard", "PaymentFailed", "catch")),
    (json.dumps(LOGICAPP), "logicapp-json", "manual", ("Get_invoice", "Notify_failure", "catch")),
    (GCP_YAML, "gcp-yaml", "init", ("check", "load", "choice")),
])
def test_definitions_parse_into_graphs(text, fmt, start, edge):
    g = graph.parse(text, fmt)
    assert g.starts[0] == start
    assert any((e.source, e.target, e.kind) == edge for e in g.edges)
    pos = graph.layout(g)
    assert set(pos) == set(g.nodes)
    assert pos[start][1] == max(y for _, y in pos.values())      # the start is on top


def test_asl_nested_map_and_logicapp_nested_actions():
    g = graph.parse(json.dumps(ASL))
    assert g.nodes["ReserveItem"].parent == "ReserveItems"
    la = graph.parse({"properties": {"definition": LOGICAPP}})
    assert la.nodes["Request_approval"].parent == "Check_amount"
    assert la.nodes["Auto_approve"].parent == "Check_amount"


def test_gcp_list_form_loops_and_parallel():
    source = """
- init:
    assign: [{i: 0}]
- loop:
    for:
      value: x
      in: [1, 2]
      steps:
        - work:
            call: http.get
- fan:
    parallel:
      branches:
        - b1:
            steps:
              - one: {call: sys.log}
- back:
    next: init
"""
    g = graph.parse(source, "gcp-yaml")
    assert g.nodes["work"].parent == "loop" and g.nodes["one"].parent == "b1"
    assert any(e.source == "back" and e.target == "init" for e in g.edges)
    graph.layout(g)   # a loop back to the start does not break the layout


def test_a_window_of_tries_without_a_retry_says_no_retries():
    """A window whose runs tried every step once (24 h of one cloud) drew "Retries over time" as an empty
    0-to-1 grid: its buckets of tries hold 0 retries each, and no bar is drawn for 0. It says "No retries in
    this window", as a window without tries does."""
    quiet = pd.DataFrame({"bucket": pd.date_range("2026-12-01", periods=4, freq="6h", tz="UTC"),
                          "cloud": ["aws"] * 4, "retries": [0] * 4, "tries": [12, 9, 30, 4]})
    chart = charts.storm_timeline(quiet, until=dt.datetime(2026, 12, 2, tzinfo=dt.timezone.utc))
    assert chart_texts(chart) == ["No retries in this window"]
    assert not chart_layers(chart, "bar")


def test_retries_by_step_labels_its_bars_as_amplification():
    """The Retries page's "Retries by step" bars (as long as the retries, 130) read "1.11": a number beside a
    count of retries, with nothing saying it is tries per visit. Its labels read "1.11×", as its table does."""
    amp = pd.DataFrame({"label": ["s / check", "p / auth"], "retries": [130, 48], "amplification": [1.107, 1.21]})
    assert chart_texts(charts.hbar(amp, x="retries", y="label", text="amplification",
                                   text_format="{:.2f}×")) == ["1.11×", "1.21×"]
    assert chart_texts(charts.hbar(amp, x="retries", y="label", text="retries")) == ["130", "48"]
    bars = chart_layers(charts.hbar(amp, x="retries", y="label"), "bar")[0]["encoding"]
    assert bars["y"]["sort"] == ["s / check", "p / auth"], "largest on top"
    assert bars["x"]["axis"]["format"] == charts.COUNT_TICKS and bars["x"]["axis"]["tickMinStep"] == 1


def _graph_layer(chart, name):
    """The state graph's layer `name` (`graph.figure` names each: edges, arrowheads, counts, nodes, labels)."""
    return next(layer for layer in charts.layers(chart) if layer.get("name") == name)


def _graph_nodes(chart):
    """{step: its row} of the state graph's nodes, whichever layer draws them."""
    return {r["step"]: r for name in ("unvisited", "visited", "painted")
            for r in _graph_layer(chart, name)["data"]["values"]}


def test_graph_figure_paints_metrics_and_counts():
    g = graph.parse(json.dumps(ASL))
    steps = pd.DataFrame({"step": ["ChargeCard", "ValidateOrder"], "visits": [100, 100], "failures": [8, 0],
                          "failure_rate": [0.08, 0.0], "retries": [30, 0], "p95_ms": [900.0, 50.0],
                          "cost_usd": [0.1, 0.01]})
    edges = pd.DataFrame({"source": ["ValidateOrder", "", "Nowhere"], "target": ["ChargeCard", "ValidateOrder",
                                                                              "Done"], "transitions": [100, 100, 3]})
    g = graph.with_observed(g, edges)
    assert any(e.kind == "observed" and e.source == "Nowhere" for e in g.edges)
    fig = graph.figure(g, steps, edges, metric="failure_rate")
    text = json.dumps(fig, allow_nan=False)          # a Vega-Lite spec, as JSON carries it: no NaN, no numpy
    assert "plotly" not in text and "<br>" not in text and "<b>" not in text
    painted = _graph_layer(fig, "painted")
    assert max(r["value"] for r in painted["data"]["values"]) == pytest.approx(0.08)
    assert painted["encoding"]["fill"]["scale"]["domain"] == [0, pytest.approx(0.08)]
    assert painted["encoding"]["fill"]["scale"]["scheme"] == "reds"
    # one line per edge drawn, in the graph's order, as wide as its share of the busiest edge's transitions, its
    # arrowhead at the target's end, and its count at its middle when it has one
    pos = graph.layout(g)
    drawn = [e for e in g.edges if e.source in pos and e.target in pos]
    counts = {(s, t): n for s, t, n in zip(edges["source"], edges["target"], edges["transitions"], strict=True)}
    lines = _graph_layer(fig, "edges")["data"]["values"]
    assert [(r["from"], r["to"], r["width"]) for r in lines] == [
        (e.source, e.target, pytest.approx(1 + 3 * counts.get((e.source, e.target), 0) / 100)) for e in drawn]
    never = next(r for r in lines if r["to"] == "InStock")
    assert (never["colour"], never["opacity"]) == ("#cccccc", 0.6), "a transition never taken reads grey and faint"
    assert next(r for r in lines if r["kind"] == "catch")["colour"] == graph.EDGE_COLORS["catch"]
    assert next(r for r in lines if r["kind"] == "observed")["colour"] == graph.EDGE_COLORS["observed"]
    heads = _graph_layer(fig, "arrowheads")["data"]["values"]
    assert len(heads) == len(lines)
    for e, head in zip(drawn, heads, strict=True):
        (x0, y0), (x1, y1) = pos[e.source], pos[e.target]
        assert abs(head["x"] - x1) + abs(head["y"] - y1) < abs(head["x"] - x0) + abs(head["y"] - y0), e
    assert [(r["x"], r["count"]) for r in _graph_layer(fig, "counts")["data"]["values"]] == [
        ((pos[e.source][0] + pos[e.target][0]) / 2, f"{counts[(e.source, e.target)]:,}")
        for e in drawn if counts.get((e.source, e.target))]


def test_graph_numbers_read_as_the_tables_read_them():
    """The state graph formatted its own numbers: a step failing 3 of 800 visits read "0%" (healthy), a
    $0.000025 step "$0.0000", and the colour bar beside "39%" read 0.35 (a fraction), p95 in raw
    milliseconds ("60k"), cost without "$". Labels now use format's rules and the bar the labels' units."""
    g = graph.parse(json.dumps(ASL))
    steps = pd.DataFrame({"step": ["ChargeCard", "ValidateOrder"], "visits": [800, 800], "failures": [3, 0],
                          "failure_rate": [3 / 800, 0.0], "retries": [2, 0], "p95_ms": [90_000.0, 30_000.0],
                          "cost_usd": [0.000025, 0.01]})
    figs = {m: graph.figure(g, steps, metric=m) for m in graph.METRICS}
    text = {m: {r["label"] for r in _graph_layer(fig, "labels")["data"]["values"]} for m, fig in figs.items()}
    assert "ChargeCard\n0.4%" in text["failure_rate"]
    assert "ChargeCard\n$0.000025" in text["cost_usd"]
    assert _graph_layer(figs["cost_usd"], "labels")["mark"]["lineBreak"] == "\n"
    bar = {m: _graph_layer(fig, "painted")["encoding"]["fill"]["legend"] for m, fig in figs.items()}
    assert {m: b["title"] for m, b in bar.items()} == {m: label for m, (label, _s, _f) in graph.METRICS.items()}
    assert "%" in bar["failure_rate"]["format"]
    assert bar["cost_usd"]["format"] == "$" + charts.MONEY_TICKS
    assert bar["p95_ms"]["labelExpr"] == "datum.label + ' min'"
    assert max(r["value"] for r in _graph_layer(figs["p95_ms"], "painted")["data"]["values"]) == pytest.approx(1.5)
    assert bar["retries"]["tickMinStep"] == 1


def test_graph_hover_gives_a_visited_step_its_p95_or_says_why_it_has_none():
    """A step whose visits in the window have no end time (a stuck run's step, still running; a call whose
    end was not logged) hovered "p95 n/a", as if the measure failed; one whose p95 came as None read
    "p95 0 ms". A visited step's hover gives its p95, and without one says why."""
    g = graph.parse(json.dumps(ASL))
    steps = pd.DataFrame({"step": ["ChargeCard", "ValidateOrder", "InStock"], "visits": [2, 100, 98],
                          "failures": [0, 0, 0], "failure_rate": [0.0, 0.0, 0.0], "retries": [0, 0, 0],
                          "p95_ms": [float("nan"), 850.0, None], "cost_usd": [0.1, 0.01, 0.0]}).astype(
        {"p95_ms": object})
    fig = graph.figure(g, steps, metric="p95_ms")
    for name in ("visited", "painted"):
        assert {"field": "p95", "title": "p95"} in _graph_layer(fig, name)["encoding"]["tooltip"]
    nodes = _graph_nodes(fig)
    assert nodes["ValidateOrder"]["p95"] == "850 ms"
    for step in ("ChargeCard", "InStock"):
        text = nodes[step]["p95"]
        assert "n/a" not in text and "0 ms" not in text
        assert "no visit has ended" in text and text == graph.NO_P95


def test_graph_hover_of_a_workflow_billed_per_execution_says_why_a_step_has_no_cost():
    """An Express workflow's steps have no cost of their own (it is billed per execution): each node's hover
    read "cost none", which reads as free. It says "cost — (billed per execution, not per step)"."""
    g = graph.parse(json.dumps(ASL))
    steps = pd.DataFrame({"step": ["ChargeCard"], "visits": [10], "failures": [0], "failure_rate": [0.0],
                          "retries": [0], "p95_ms": [120.0], "cost_usd": [float("nan")]})
    fig = graph.figure(g, steps, metric="failure_rate", unpriced="billed per execution, not per step")
    charge = _graph_nodes(fig)["ChargeCard"]
    assert charge["cost"] == "— (billed per execution, not per step)"
    assert not [v for v in charge.values() if isinstance(v, str) and "none" in v.lower()], charge
    assert {"field": "cost", "title": "cost"} in _graph_layer(fig, "painted")["encoding"]["tooltip"]
    unvisited = _graph_nodes(fig)["InStock"]
    assert unvisited["visits"] == "not visited in this window" and "cost" not in unvisited
    assert [t["field"] for t in _graph_layer(fig, "unvisited")["encoding"]["tooltip"]] == ["step", "type", "visits"]


@pytest.mark.parametrize("width", [500, 900, 1800])
def test_graph_arrowheads_point_from_source_to_target(monkeypatch, width):
    """Vega-Lite draws no arrows: each edge ends in a triangle turned (clockwise on the screen, whose y grows
    downwards, where the layout's grows upwards) to point from its source to its target, and stops short of both
    nodes' outlines. Worked out by the chart's own scales in Vega (the plot is as wide as the page): turned for a
    guessed 900-pixel width, a slanted arrowhead pointed a few degrees off on a wider or narrower page. Drawn
    here by Vega itself (vl-convert), at three widths."""
    vl_convert = pytest.importorskip("vl_convert")
    from flowscope.collectors.graph import Graph

    g = Graph()
    for name in ("top", "below", "beside"):
        g.add(name, "task")
    g.link("top", "below")
    g.link("below", "beside")
    g.link("beside", "below")
    g.link("top", "beside")                            # slanted: its angle depends on the plot's shape
    monkeypatch.setattr(graph, "layout", lambda _g: {"top": (0.0, 0.0), "below": (0.0, -1.0), "beside": (1.0, -1.0)})
    fig = graph.figure(g)
    x_domain = _graph_layer(fig, "edges")["encoding"]["x"]["scale"]["domain"]
    y_domain = _graph_layer(fig, "edges")["encoding"]["y"]["scale"]["domain"]
    height = fig["height"]

    def px(x: float, y: float) -> tuple[float, float]:
        return ((x - x_domain[0]) / (x_domain[1] - x_domain[0]) * width,
                (y_domain[1] - y) / (y_domain[1] - y_domain[0]) * height)

    svg = vl_convert.vegalite_to_svg({**fig, "width": width, "autosize": {"type": "none"}}, vl_version="6.4")
    heads = re.findall(r'aria-roledescription="point" transform="translate\(([-\d.e]+),([-\d.e]+)\) '
                       r'rotate\(([-\d.e]+)\)"', svg.split('arrowheads_marks', 1)[1].split("</g>", 1)[0])
    ends = re.findall(r'transform="translate\(([-\d.e]+),([-\d.e]+)\)" x2="([-\d.e]+)" y2="([-\d.e]+)"',
                      svg.split('edges_marks', 1)[1].split("</g>", 1)[0])
    pos = {"top": (0.0, 0.0), "below": (0.0, -1.0), "beside": (1.0, -1.0)}
    lines = _graph_layer(fig, "edges")["data"]["values"]
    assert len(heads) == len(ends) == len(lines) == 4
    for row, (hx, hy, turn), (lx, ly, lx2, ly2) in zip(lines, heads, ends, strict=True):
        (sx, sy), (tx, ty) = px(*pos[row["from"]]), px(*pos[row["to"]])
        length = math.hypot(tx - sx, ty - sy)
        ux, uy = (tx - sx) / length, (ty - sy) / length
        assert float(turn) % 360 == pytest.approx(math.degrees(math.atan2(ux, -uy)) % 360, abs=0.01), row
        back = graph.NODE_REACH + row["head"]          # the arrowhead's middle, before the target's centre
        assert (float(hx), float(hy)) == (pytest.approx(tx - ux * back, abs=0.01),
                                          pytest.approx(ty - uy * back, abs=0.01)), row
        start = (float(lx), float(ly))                 # the line starts at the source's outline
        assert start == (pytest.approx(sx + ux * graph.NODE_REACH, abs=0.01),
                         pytest.approx(sy + uy * graph.NODE_REACH, abs=0.01)), row
        end = (start[0] + float(lx2), start[1] + float(ly2))
        assert end == (pytest.approx(tx - ux * back, abs=0.01), pytest.approx(ty - uy * back, abs=0.01)), row
    turns = {(r["from"], r["to"]): float(h[2]) % 360 for r, h in zip(lines, heads, strict=True)}
    assert turns[("top", "below")] == pytest.approx(180) and turns[("below", "beside")] == pytest.approx(90)
    assert turns[("beside", "below")] == pytest.approx(270)
    arrow = _graph_layer(fig, "arrowheads")
    assert arrow["mark"]["shape"] == "triangle-up"


def test_money_axes_read_in_dollars_not_si_prefixes():
    """The Cost page's "$/month spent on retries" axis read "$0 $50µ $100µ" (SI prefixes) for a
    retry costing $0.0001 a month. Money axes read in decimals ("$0.00005"), as the graph's colour bar does."""
    tiny = pd.DataFrame({"label": ["image-pipeline / download"], "monthly_usd": [0.000108]})
    bars = chart_layers(charts.hbar(tiny, x="monthly_usd", y="label", money=True), "bar")[0]
    assert bars["encoding"]["x"]["axis"]["format"] == "$" + charts.MONEY_TICKS
    spend = pd.DataFrame({"bucket": pd.date_range("2026-12-01", periods=3, freq="D", tz="UTC"),
                          "cloud": ["aws"] * 3, "cost_usd": [0.00002, 0.00005, 0.00001]})
    chart = charts.lines(spend, x="bucket", y="cost_usd", color="cloud", kind="area", money=True)
    assert chart_layers(chart, "area")[0]["encoding"]["y"]["axis"]["format"] == "$" + charts.MONEY_TICKS
    assert [r["value"] for r in chart_rows(chart, "area")] == [fmt_usd(v) for v in spend["cost_usd"]], "as tables"
    assert "~" in charts.MONEY_TICKS and "f" in charts.MONEY_TICKS, "decimals, no SI prefix, no trailing zeros"


def test_a_failure_rate_below_one_percent_reads_on_its_axis():
    """Overview's failure-rate trend of a healthy cloud (0.1% to 0.6%) read "0% 0% 0% 0% 0% 1% 1%" up its axis
    (whole percents). Its ticks keep two decimals where needed ("0.1%", "0.25%", "12%")."""
    frame = pd.DataFrame({"bucket": pd.date_range("2026-12-01", periods=3, freq="D", tz="UTC"), "cloud": ["aws"] * 3,
                          "executions": [1000] * 3, "failure_rate": [0.001, 0.004, 0.006], "retries": [1, 2, 0],
                          "cost_usd": [0.1] * 3})
    chart = charts.kpi_trends(frame)["failure_rate"]
    assert chart_layers(chart, "line")[0]["encoding"]["y"]["axis"]["format"] == charts.SHARE_TICKS == ".2~%"


def test_bars_of_zero_dollars_have_no_negative_axis():
    """Steps that cost nothing (a Logic Apps Standard plan's built-in actions) drew a money axis from
    "$-1" to "$1"; bars of amounts that are never negative keep their axis at zero and above."""
    zero = pd.DataFrame({"label": ["a / Read", "a / Write"], "monthly_usd": [0.0, 0.0]})
    scale = chart_layers(charts.hbar(zero, x="monthly_usd", y="label", money=True), "bar")[0]["encoding"]["x"]["scale"]
    assert scale == {"domainMin": 0}
    saving = pd.DataFrame({"label": ["a", "b"], "monthly_usd": [-2.0, 3.0]})
    bars = chart_layers(charts.hbar(saving, x="monthly_usd", y="label", money=True), "bar")[0]
    assert "domainMin" not in bars["encoding"]["x"]["scale"]


def test_bad_definitions_raise_a_clear_error():
    with pytest.raises(graph.DefinitionError):
        graph.parse(None)
    with pytest.raises(graph.DefinitionError):
        graph.parse('{"States": 3}', "asl-json")


def test_a_duration_histogram_names_its_unit_and_scales_the_values():
    chart = charts.histogram(pd.Series([2000.0, 2100.0, 1900.0, 4000.0]), title="delays", x_title="delay",
                             duration=True)
    bars = chart_layers(chart, "bar")[0]
    assert bars["encoding"]["x"]["title"] == "delay (s)"
    rows = chart_rows(chart, "bar")
    assert sum(r["count"] for r in rows) == 4
    assert min(r["start"] for r in rows) == pytest.approx(1.9) and max(r["end"] for r in rows) == pytest.approx(4.0)


def test_a_histogram_of_few_delays_has_whole_number_ticks():
    """The Retries page's delay histogram of a retry with a few samples read "0 1 1 2 2 3 3" up its axis
    (ticks every 0.5 retries, printed as whole numbers). Its bins are counted here, so the axis ticks every
    retry, and a bin of none draws no bar."""
    few = pd.Series([2001.0, 2002.0, 2002.0, 2003.0, 2100.0, 2100.0, 2100.0, 1990.0, 2050.0, 2051.0, 2060.0])
    chart = charts.histogram(few, title="t", x_title="delay", duration=True)
    axis = chart_layers(chart, "bar")[0]["encoding"]["y"]["axis"]
    assert axis["values"] == list(range(max(axis["values"]) + 1)) and axis["format"] == ",d"
    rows = chart_rows(chart, "bar")
    assert sum(r["count"] for r in rows) == len(few) and all(r["count"] > 0 for r in rows)
    assert all(isinstance(r["count"], int) for r in rows)


def test_storm_labels_do_not_write_over_each_other():
    """Labels sit at each window's top left: one is cut to the room before the next window starts,
    and left off where not even ten characters fit (the storm table below names every window)."""
    days = [T0 + dt.timedelta(days=d) for d in range(30)]
    retries = pd.DataFrame({"bucket": days, C.cloud: "gcp", "retries": 5})
    at = [T0 + dt.timedelta(days=12, hours=14), T0 + dt.timedelta(days=13, hours=6),
          T0 + dt.timedelta(days=17, hours=6), T0 + dt.timedelta(days=18, hours=11)]
    names = ["order-router / Call_fulfilment", "order-router / Call_fulfilment", "payments-standard / Authorize",
             "status-checker / check_status"]
    storms = [{"window_start": start, "window_end": start + dt.timedelta(hours=2), "label": label}
              for start, label in zip(at, names, strict=True)]
    chart = charts.storm_timeline(retries, storms, until=T0 + dt.timedelta(days=30))
    shown = {round((pd.Timestamp(r["at"]) - pd.Timestamp(T0)).total_seconds() / 86_400, 2): r["label"]
             for r in chart_rows(chart, "text") if r.get("label") and r["label"] != "partial"}
    # 30 days on ~850 px: 16 h before the next window is no room, 4 days is 19 characters
    assert shown == {13.25: "order-router / Cal…", 18.46: "status-checker / check_status"}
    px_per_day = charts.PLOT_WIDTH_PX / 30
    for start, text in shown.items():                       # each label ends before the next window
        later = [s for s in shown if s > start] + [30.0]
        assert len(text) * charts.LABEL_CHAR_PX <= (min(later) - start) * px_per_day


@pytest.mark.parametrize("spread", [dt.timedelta(0), dt.timedelta(seconds=3), dt.timedelta(hours=5)], ids=str)
def test_collection_runs_of_one_moment_get_a_readable_time_axis(spread):
    """Every scope synced at 10:55: the axis spans an hour around them, not 10:54:59.999..10:55:00.0005."""
    runs = pd.DataFrame({C.scope: ["aws:1/us-east-1", "gcp:p/l"], C.status: ["succeeded", "failed"],
                         C.started_at: [T0, T0 + spread], C.error: [None, "PermissionDenied"]})
    span = chart_layers(charts.collection_timeline(runs), "point")[0]["encoding"]["x"]["scale"].get("domain")
    if spread < charts.MIN_TIME_SPAN:
        start, end = (pd.Timestamp(v) for v in span)
        assert end - start == charts.MIN_TIME_SPAN and start <= pd.Timestamp(T0) and pd.Timestamp(T0 + spread) <= end
    else:
        assert span is None                     # the runs' own span over hours of runs


def test_latency_by_step_counts_a_gcp_try_and_its_call_once(demo):
    """GCP gives a try around a call as two step entries of one name: the step's row is the call's
    (its type, its visits), not both entries' (visits doubled, type "scope")."""
    _store, con, f = demo
    row = queries.latency_by_step(con, f).set_index("step").loc["check_status"]
    calls = con.execute(f"SELECT count(*) FROM steps WHERE {C.name} = 'check_status' AND {C.native_type} = "
                        f"'STEP_STD_LIB_CALL' AND {C.duration_ms} IS NOT NULL AND {C.started_at} >= ? "
                        f"AND {C.started_at} < ?", [f.since, f.until]).fetchone()[0]
    assert (row[C.type], row["visits"]) == ("task", calls) and calls > 0


def test_state_graph_step_failure_rate_is_the_findings(demo):
    """One engine: image-pipeline/classify (a GCP try, its call, its except: three entries of one name)
    fails on the graph at the failing_step finding's rate over the same visits, not a third of it."""
    from flowscope.analysis.run import analyze_store

    store, con, f = demo
    found = analyze_store(store, since=f.since, until=f.until, now=f.until)
    finding = found[(found["kind"] == "failing_step") & (found["step"] == "classify")].iloc[0]
    metrics = queries.step_metrics(con, f, finding.cloud, finding.workflow_id).set_index("step").loc["classify"]
    failing = queries.failing_steps(con, f).set_index("step").loc["classify"]       # the Failures page's
    for shown in (metrics, failing):
        assert shown["visits"] == finding.evidence["visits"]
        assert shown["failure_rate"] == pytest.approx(finding.evidence["failure_rate"])


def test_a_loop_counts_its_entries_not_its_iterations(demo):
    """Azure gives each iteration of a ForEach as a row named as the loop (ScopeRepetition, with its
    iteration number), GCP each for-loop iteration too: the loop's row on the Workflows graph and the
    Latency page is the loop's (375 entries, the loop's duration), not entries plus iterations."""
    _store, con, f = demo
    for cloud, name in (("azure", "For_each_contact"), ("gcp", "load_tables")):
        wf, entries, iterations = con.execute(
            f"SELECT any_value({C.workflow_id}), count(*) FILTER (WHERE {C.iteration} IS NULL), "
            f"count(*) FILTER (WHERE {C.iteration} IS NOT NULL) FROM steps WHERE {C.cloud} = ? AND {C.name} = ? "
            f"AND {C.started_at} >= ? AND {C.started_at} < ?", [cloud, name, f.since, f.until]).fetchone()
        metrics = queries.step_metrics(con, f, cloud, wf).set_index("step").loc[name]
        latency = queries.latency_by_step(con, f).set_index(["workflow_id", "step"]).loc[(wf, name)]
        over_time = queries.latency_over_time(con, f, [(cloud, wf, name)])      # the chart beside the table
        assert iterations > entries > 0, (cloud, name)
        assert (metrics[C.type], metrics["visits"], latency["visits"]) == ("loop", entries, entries), (cloud, name)
        assert over_time["visits"].sum() == entries, (cloud, name)


def test_the_analyses_count_every_step_as_the_workflows_page_does(demo):
    """One engine: the analyses' step stats (costly steps' visits per execution, retries' unit cost) and
    the Workflows page's step table read the same visits, retries and type for every step of every
    workflow. They read a loop with its iterations (Azure For_each_contact: 36 visits per run for a loop
    entered once) and a GCP try with its block (twice the visits) until both took `step_rank`."""
    from flowscope.analysis import cost
    from flowscope.analysis.suite import build_context
    from flowscope.model import TABLES

    store, con, f = demo
    ctx = build_context({n: store.table(n) for n in TABLES}, since=f.since, until=f.until, now=f.until)
    stats = cost.step_stats(ctx)
    checked = 0
    for (cloud, wf), theirs in stats.groupby([C.cloud, C.workflow_id]):
        page = queries.step_metrics(con, f, cloud, wf).set_index("step")
        for row in theirs.itertuples(index=False):
            shown = page.loc[getattr(row, C.name)]
            assert (row.visits, row.retries, getattr(row, C.type)) == (
                shown["visits"], shown["retries"], shown[C.type]), (cloud, wf, getattr(row, C.name))
            checked += 1
    assert checked > 50 and {"For_each_contact", "load_tables", "fetch_image"} <= set(stats[C.name])


def test_the_cost_page_s_edges_are_the_findings(demo):
    """One engine: the Cost page's "by transition" edges (`tables.edge_cost`) are the edges and dollars
    `cost.edge_costs` gives a costly step's or polling loop's evidence, by `transitions`' rule. The page
    had a rule of its own (previous step only): the first step of every Map item and loop body read
    "(start) -> NormalizeRecord" instead of "NormalizeRecords -> NormalizeRecord", and a GCP polling call
    entered from its wait and from its start step read as one "(start) -> check_status" edge."""
    from flowscope.analysis import cost
    from flowscope.analysis.suite import build_context
    from flowscope.model import TABLES

    store, con, f = demo
    ctx = build_context({n: store.table(n) for n in TABLES}, since=f.since, until=f.until, now=f.until)
    page = queries.edge_cost(con, f, limit=10_000)
    keys = [C.cloud, C.workflow_id, "source", "target"]
    engine = cost.edge_costs(ctx, sorted(set(zip(page[C.cloud], page[C.workflow_id], strict=True)))).rename(
        columns={"from": "source", "to": "target"})
    both = page.merge(engine, on=keys, how="outer", indicator=True)
    assert not (both["_merge"] == "left_only").any(), both[both["_merge"] == "left_only"][keys]
    assert (both.loc[both["_merge"] == "right_only", "usd"] == 0).all()      # the page leaves unpriced edges out
    both = both[both["_merge"] == "both"]
    assert list(both["transitions_x"]) == list(both["transitions_y"])
    assert both["cost_usd"].to_numpy() == pytest.approx(both["usd"].to_numpy())
    sources = set(zip(page["source"], page["target"], strict=True))
    assert ("NormalizeRecords", "NormalizeRecord") in sources and ("wait", "check_status") in sources


def test_a_backoff_without_jitter_is_ticked_as_the_finding_says(demo):
    """One rule for lockstep (`measures.is_lockstep`, per retry number): payments-standard/Authorize
    retries after 2, then 4 s in every run (a backoff without jitter). The synchronized_retries finding
    said "lockstep" while the Retries page, taking one spread over all its delays (cv 0.55), ticked nothing."""
    from flowscope.analysis.base import Thresholds
    from flowscope.analysis.run import analyze_store

    store, con, f = demo
    found = analyze_store(store, since=f.since, until=f.until, now=f.until)
    named = set(zip(*(found.loc[found["kind"] == "synchronized_retries", c] for c in ("workflow_id", "step")),
                    strict=True))
    marked = queries.mark_lockstep(queries.retry_delays(con, f), Thresholds())
    ticked = set(zip(marked.loc[marked["lockstep"], "workflow_id"], marked.loc[marked["lockstep"], "step"],
                     strict=True))
    assert named and named <= ticked
    authorize = marked[marked["step"] == "Authorize"].set_index("retry")
    assert authorize.loc[2, "mean_delay_ms"] == pytest.approx(2000) and authorize.loc[3, "mean_delay_ms"] == \
        pytest.approx(4000)


def test_a_costly_step_s_executions_are_the_cost_table_s(demo):
    """One number: the costly_step finding and the costly-steps table (dashboard Cost page, reports)
    count a step's executions exactly, where HyperLogLog read 517 for 525 and 1,266 for 1,231."""
    from flowscope.analysis.run import analyze_store

    store, con, f = demo
    found = analyze_store(store, since=f.since, until=f.until, now=f.until)
    costly = found[found["kind"] == "costly_step"]
    table = queries.cost_drivers(con, f, limit=1000)
    assert not costly.empty
    for r in costly.itertuples(index=False):
        rows = table[(table["workflow_id"] == r.workflow_id) & (table["step"] == r.step)]
        exact = con.execute(f"SELECT count(DISTINCT {C.execution_id}) FROM steps WHERE {C.workflow_id} = ? AND "
                            f"{C.name} = ? AND {C.started_at} >= ? AND {C.started_at} < ?",
                            [r.workflow_id, r.step, f.since, f.until]).fetchone()[0]
        assert r.executions_affected == int(rows["executions"].max()) == exact, r.step


def test_a_run_keeps_its_loop_with_the_iterations_under_it(demo):
    _store, con, _f = demo
    eid = con.execute(f"SELECT min({C.execution_id}) FROM steps "
                      f"WHERE {C.native_type} = 'ScopeRepetition'").fetchone()[0]
    steps = queries.execution_detail(con, "azure", eid)["steps"]
    folded = runs.collapsed_steps(steps)
    loop = folded[(folded["step"] == "For_each_contact") & folded["parent"].isna()]
    inside = folded[(folded["step"] == "For_each_contact") & (folded["parent"] == "For_each_contact")]
    iterations = int(steps[C.iteration].notna().sum() / 2)
    assert (loop.iloc[0][C.type], loop.iloc[0]["visits"]) == ("loop", 1)
    # the iterations fold into the loop, no step of their own: one visit per run, as the Workflows page counts it
    assert inside.empty
    upsert = folded[folded["step"] == "Upsert_contact"]
    assert list(upsert["parent"]) == ["For_each_contact"] and upsert.iloc[0]["visits"] == iterations > 1


def test_a_try_around_a_block_counts_once(demo):
    """GCP gives a try around a block of steps as the try and the block inside it, both named as the step
    (STEP_TRY_RETRY_EXCEPT, then STEP_TRY): image-pipeline/fetch_image is entered once per run, not twice."""
    _store, con, f = demo
    wf, tries, blocks = con.execute(
        f"SELECT any_value({C.workflow_id}), count(*) FILTER (WHERE {C.native_type} = 'STEP_TRY_RETRY_EXCEPT'), "
        f"count(*) FILTER (WHERE {C.native_type} = 'STEP_TRY') FROM steps WHERE {C.name} = 'fetch_image' "
        f"AND {C.started_at} >= ? AND {C.started_at} < ?", [f.since, f.until]).fetchone()
    assert tries == blocks > 0
    latency = queries.latency_by_step(con, f).set_index(["workflow_id", "step"]).loc[(wf, "fetch_image")]
    metrics = queries.step_metrics(con, f, "gcp", wf).set_index("step").loc["fetch_image"]
    over_time = queries.latency_over_time(con, f, [("gcp", wf, "fetch_image")])
    assert latency["visits"] == metrics["visits"] == over_time["visits"].sum() == tries


def _entries(*rows: tuple) -> pd.DataFrame:
    cols = [C.step_key, C.name, C.type, C.native_type, C.previous_step_key, C.parent_step_key, C.iteration]
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows])


@pytest.mark.parametrize(("entries", "stands"), [
    # a try around a block whose except ran: try, block, except, all named as the step: the block
    (_entries(("t", "fetch", "scope", "STEP_TRY_RETRY_EXCEPT", "p", None, None),
              ("b", "fetch", "scope", "STEP_TRY", None, "t", None),
              ("e", "fetch", "scope", "STEP_EXCEPT", None, "t", None)), {"b"}),
    # a try around a call whose except ran: the call
    (_entries(("t", "classify", "scope", "STEP_TRY_RETRY_EXCEPT", "p", None, None),
              ("c", "classify", "task", "STEP_CALL", None, "t", None),
              ("e", "classify", "scope", "STEP_EXCEPT", None, "t", None)), {"c"}),
    # a loop and its iterations (named as the loop): the loop; a scope of no known kind starting a body
    (_entries(("l", "each", "loop", "STEP_FOR", "p", None, None),
              ("i0", "each", "loop", "STEP_FOR_ITERATION", None, "l", 0),
              ("i1", "each", "loop", "STEP_FOR_ITERATION", None, "l", 1)), {"l"}),
    (_entries(("s", "block", "scope", None, "p", None, None),
              ("x", "block", "scope", None, None, "s", None)), {"x"}),
], ids=["try-block-except", "try-call-except", "loop-iterations", "untyped-scope"])
def test_a_name_s_rows_stand_for_its_step_once_in_sql_and_in_pandas(entries, stands):
    """The rank that picks which entries of one name stand for its step (`step_rank`): GCP's except
    starts the try's body as the block does, and counted beside it (a try around a block whose except
    ran read two visits for one). One rule: the analyses' Ibis expression, the dashboard's SQL and one
    run's rows in pandas give the same ranks."""
    import duckdb
    import ibis

    from flowscope.analysis import step_rank

    pandas_rank = step_rank.ranks_of(entries)
    con = duckdb.connect()
    con.register("steps", entries)
    sql_rank = con.execute(f"SELECT {step_rank.rank_sql()} FROM steps").df()[step_rank.RANK]
    typed = ibis.memtable(entries.astype({C.iteration: "float64"}).astype({c: "object" for c in entries
                                                                           if c != C.iteration}))
    ibis_rank = ibis.duckdb.connect().execute(typed.select(step_rank.rank(typed)))[step_rank.RANK]
    assert list(sql_rank) == list(pandas_rank) == list(ibis_rank)
    kept = step_rank.lowest_rank(entries.assign(**{step_rank.RANK: pandas_rank}), [C.name])
    assert set(kept[C.step_key]) == stands


def test_failing_steps_are_steps_that_do_work_as_the_finding_counts_them(tmp_path):
    """The Failures page listed a Map failing with its item and a Fail state ('Reject') as failing
    steps beside the Task that failed, where the failing_step finding counts steps that do work only
    (`base.NOT_WORK`): one failure read as three failing steps."""
    batch = build(30, end=T0 + dt.timedelta(days=2), days=2)
    aws = next(s for s in batch.steps if s[C.cloud] == "aws" and s[C.name] == "ReserveItems")
    aws[C.status] = "FAILED"
    for s in batch.steps:
        if s[C.execution_id] == aws[C.execution_id] and s[C.parent_step_key] == aws[C.step_key]:
            s[C.status] = "FAILED"
    batch.steps.append({**aws, C.step_key: "999:Reject", C.name: "Reject", C.type: "fail", C.native_type: "Fail",
                        C.parent_step_key: None, C.status: "FAILED"})
    Store(tmp_path / "s").write(batch)
    cursor = queries.prepare(Store(tmp_path / "s").connect().cursor())
    try:
        table = queries.failing_steps(cursor, queries.Filters(T0, T0 + dt.timedelta(days=3)))
    finally:
        cursor.close()
    assert "ReserveItem" in set(table["step"])                  # the item that failed
    assert not {"ReserveItems", "Reject"} & set(table["step"])


def test_a_log_duration_axis_reads_durations_not_si_prefixes():
    """The Latency page's bars from 1 ms to 2 h drew a log axis in seconds with ticks "1000 s" and "10k s"
    (2.8 h): a log axis now ticks at durations written as such ("1 min", "1 h")."""
    frame = pd.DataFrame({"label": ["a", "b"], "p50_ms": [1.0, 2_000.0], "p95_ms": [5.0, 3_600_000.0],
                          "p99_ms": [8.0, 7_200_000.0]})
    chart = charts.percentile_bars(frame, label="label")
    x = chart_layers(chart, "bar")[0]["encoding"]["x"]
    assert x["scale"] == {"type": "log"}
    unit_of_bars = max(r["x"] for r in chart_rows(chart, "bar") if r["p"] == "p95")
    ticks = dict(zip(re.findall(r"'([^']+)'", x["axis"]["labelExpr"]), x["axis"]["values"], strict=False))
    assert {"1 ms", "1 s", "1 min", "1 h"} <= set(ticks), ticks
    assert not any("k" in t for t in ticks)
    assert ticks["1 h"] == pytest.approx(unit_of_bars), "ticks in the bars' unit"


def test_a_collection_run_without_an_error_hovers_its_status_alone():
    """A run read from the store has NaN for no error (not None): its marker's hover read "succeeded: nan".
    It now reads "succeeded"; a failed run's reads its error."""
    runs = pd.DataFrame({C.scope: ["aws:1/us-east-1", "gcp:p/l", "gcp:p/l"],
                         C.status: ["succeeded", "failed", "partial"],
                         C.started_at: [T0, T0, T0], C.error: [float("nan"), "PermissionDenied", ""]})
    hovers = [r["what"] for r in chart_rows(charts.collection_timeline(runs), "point")]
    assert sorted(hovers) == ["failed: PermissionDenied", "partial", "succeeded"], hovers


def test_a_timeline_bar_without_an_error_hovers_no_nan():
    """A run read from the store has NaN (not None) for a step's missing error, cause and tries: every bar of
    a Logic Apps run hovered "nan: nan", a try "try 2: FAILED nan", and NaN tries could not be counted. A
    bar now hovers its error only when it has one, a running step "running", and no tries recorded as one."""
    nan = float("nan")
    steps = pd.DataFrame([
        {C.step_key: "1", C.parent_step_key: None, C.previous_step_key: None, C.iteration: nan, C.name: "Call",
         C.type: "task", C.status: "SUCCEEDED", C.started_at: T0, C.ended_at: T0 + dt.timedelta(seconds=2),
         C.duration_ms: 2_000.0, C.attempts: nan, C.error: nan, C.cause: nan},
        {C.step_key: "2", C.parent_step_key: None, C.previous_step_key: None, C.iteration: nan, C.name: "Wait",
         C.type: "task", C.status: "RUNNING", C.started_at: T0 + dt.timedelta(seconds=2), C.ended_at: pd.NaT,
         C.duration_ms: nan, C.attempts: 2.0, C.error: nan, C.cause: nan}])
    attempts = pd.DataFrame([
        {C.step_key: "2", C.attempt: 1, C.status: "FAILED", C.started_at: T0, C.ended_at: T0, C.error: nan},
        {C.step_key: "2", C.attempt: 2, C.status: "RUNNING", C.started_at: T0, C.ended_at: pd.NaT, C.error: nan}])
    chart = run_charts.gantt({C.started_at: T0, C.status: "RUNNING"}, steps, attempts, now=T0 + dt.timedelta(hours=1))
    hovers = [b["tip"] for b in _bars(chart)]
    text = json.dumps(hovers)
    assert hovers and "nan" not in text.lower() and "null" not in text, hovers
    assert {"step": "Call (task)", "status": "SUCCEEDED", "duration": "2.0 s", "tries": 1} in hovers, hovers
    assert {"step": "Wait (task)", "status": "RUNNING", "duration": "running", "tries": 2} in hovers, hovers
    assert {"try": "try 1: FAILED"} in hovers, hovers


def test_a_small_count_axis_ticks_each_whole_number():
    """`tickMinStep` caps the ticks Vega asks for, not the step it gets: three findings' axis read "0 1 1 2 2"
    (ticks at 0.5 apart, printed whole). Up to `SMALL_COUNT` the ticks are the whole numbers; above, the
    step is left to Vega (whole numbers anyway, at that span)."""
    findings = pd.DataFrame({"severity": ["critical", "medium", "medium"]})
    assert charts.severity_counts(findings)["layer"][0]["encoding"]["y"]["axis"] == {"format": ",d",
                                                                                      "values": [0, 1, 2]}
    # no `tickMinStep` beside the values: Vega-Lite makes it a tick count of 2, and Chromium drew "0 2"
    # (tests/e2e/test_chart_tooltips.py::test_a_count_axis_up_to_two_ticks_every_whole_number_in_the_browser)
    few = pd.DataFrame({"step": ["a", "b"], "retries": [3, 7]})
    assert charts.hbar(few, x="retries", y="step")["layer"][0]["encoding"]["x"]["axis"]["values"] == list(range(8))
    many = pd.DataFrame({"step": ["a", "b"], "retries": [3, 28]})
    assert "values" not in charts.hbar(many, x="retries", y="step")["layer"][0]["encoding"]["x"]["axis"]
    # a stacked count: its top is the buckets' sums (2 + 3), not the largest series' value
    trend = pd.DataFrame({"bucket": pd.to_datetime(["2026-11-01", "2026-11-01", "2026-11-02"], utc=True),
                          C.cloud: ["aws", "gcp", "aws"], "executions": [2, 3, 1]})
    chart = charts.lines(trend, x="bucket", y="executions", color=C.cloud, kind="bar", integer=True)
    axes = [layer["encoding"]["y"]["axis"] for layer in charts.layers(chart) if "y" in layer.get("encoding", {})]
    assert axes and all(axis["values"] == [0, 1, 2, 3, 4, 5] for axis in axes)


def test_time_axes_read_the_24_hour_clock():
    """Vega's own ticks read 23:25 UTC as "11:25", then "12:05" past midnight, with no AM or PM: every time axis
    (trends, the collection timeline, the run's Gantt chart: `charts.time_x`) is on the 24-hour clock, as every
    time the dashboard writes. Drawn by Vega itself (vl-convert)."""
    vl_convert = pytest.importorskip("vl_convert")
    night = pd.DataFrame({"bucket": pd.to_datetime(["2026-03-30T23:20:00Z", "2026-03-30T23:40:00Z",
                                                    "2026-03-31T00:00:00Z"]), "n": [1, 3, 2], "cloud": "aws"})
    runs_frame = pd.DataFrame({C.scope: ["aws:1:us-east-1"] * 2, C.status: ["succeeded", "failed"],
                               C.error: [None, "x"],
                               C.started_at: pd.to_datetime(["2026-03-30T23:25:00Z", "2026-03-31T00:05:00Z"]),
                               C.ended_at: pd.to_datetime(["2026-03-30T23:26:00Z", "2026-03-31T00:06:00Z"])})
    for chart in (charts.lines(night, x="bucket", y="n", color="cloud", integer=True),
                  charts.collection_timeline(runs_frame)):
        svg = vl_convert.vegalite_to_svg({**chart, "width": 600}, vl_version="6.4")
        ticks = re.findall(r">(\d\d?:\d\d)</text>", svg)
        assert ticks and "23:30" in ticks, ticks
        assert not [t for t in ticks if t.startswith("11:")], ticks
