"""Issue 11, "Time that tells the truth" and "Readable": the window ends at the data, deltas only
against a previous window with data, a partial last bucket marked, durations and money with units,
no None/nan cells, evidence as sentences, no emoji status marks."""

from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd
import pyarrow as pa
import pytest

from flowscope.format import fmt_duration, fmt_evidence
from flowscope.model import UTC
from flowscope.store import Store
from flowscope.ui import charts, readable
from flowscope.ui.filters import time_window
from tests.ui.helpers import build, chart_layers, chart_rows, chart_texts
from tests.ui.test_pages import PAGES, app, no_exception, open_page

NOW = dt.datetime(2026, 3, 10, 12, 2, tzinfo=UTC)
EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u25B6\u25C0\u25FB-\u25FE\uFE0F\u200D]")
BAD_CELLS = {"None", "nan", "NaN", "<NA>", "NaT", "none"}
FORMAT_UNIT = re.compile(r"^%\+?(d ms|\.\df (s|min|h|d))$")
MONEY_FORMAT = re.compile(r"^(dollar|\$%\.[46]f)$")


# ---------------------------------------------------------------- the time rule (pure)

def test_window_ends_at_the_latest_data_when_it_ends_before_now():
    last = NOW - dt.timedelta(days=3, minutes=7)
    span = time_window(7, first_data=last - dt.timedelta(days=6), last_data=last, now=NOW)
    assert span.ends_at_data and span.data_end == last
    assert last < span.until <= last + dt.timedelta(minutes=5)
    assert span.until - span.since == dt.timedelta(days=7)
    assert not span.previous_has_data        # 6 days of data: the previous 7 days are empty


def test_window_ends_now_for_fresh_data_or_when_asked():
    fresh = time_window(7, first_data=NOW - dt.timedelta(days=30), last_data=NOW - dt.timedelta(minutes=1), now=NOW)
    assert not fresh.ends_at_data and fresh.until >= NOW and fresh.previous_has_data
    stale = NOW - dt.timedelta(days=3)
    asked = time_window(7, first_data=None, last_data=stale, now=NOW, end_at_now=True)
    assert not asked.ends_at_data and asked.until >= NOW
    assert not time_window(7, first_data=None, last_data=None, now=NOW).ends_at_data


def test_previous_window_has_data_only_when_the_data_covers_it():
    last = NOW - dt.timedelta(hours=2)
    barely = time_window(30, first_data=last - dt.timedelta(days=31), last_data=last, now=NOW)
    assert not barely.previous_has_data      # 1 day of a 30-day previous window: no "+15,301"
    covered = time_window(30, first_data=last - dt.timedelta(days=60), last_data=last, now=NOW)
    assert covered.previous_has_data


def test_coverage_is_judged_for_the_data_the_filters_show():
    """A cloud collected since last week has no previous month even when another cloud has a year:
    the first execution is the filtered workflows' (`tables.first_execution`, as a report's coverage)."""
    from flowscope.analysis.tables import first_execution

    year, week = NOW - dt.timedelta(days=365), NOW - dt.timedelta(days=7)
    options = pd.DataFrame({"cloud": ["aws", "aws", "gcp", "azure"], "workflow_id": ["a1", "a2", "g1", "z1"],
                            "first": [year, week, week, pd.NaT]})
    assert first_execution(options) == year
    assert first_execution(options, ("gcp",)) == week
    assert first_execution(options, (), ("a2",)) == week
    assert first_execution(options, ("aws",), ("a1", "a2")) == year
    assert first_execution(options, ("azure",)) is None          # defined, never ran
    assert first_execution(options.iloc[:0]) is None
    for clouds, compared in [((), True), (("gcp",), False)]:
        span = time_window(30, first_data=first_execution(options, clouds), last_data=NOW, now=NOW)
        assert span.previous_has_data is compared


# ---------------------------------------------------------------- partial bucket (pure)

def _trend(until: dt.datetime) -> pd.DataFrame:
    buckets = pd.date_range(end=pd.Timestamp(until).floor("6h"), periods=6, freq="6h", tz="UTC")
    executions = [40, 42, 41, 39, 40, 3]
    return pd.DataFrame({"bucket": buckets, "cloud": "aws", "executions": executions, "failed": 1,
                         "finished": executions, "failure_rate": [1 / n for n in executions], "retries": 2,
                         "cost_usd": 0.5})


def _pieces(chart: dict) -> tuple[list[list[dict]], list[list[dict]]]:
    """A line chart's solid and dotted pieces, each its rows."""
    solid, dotted = [], []
    for layer in chart_layers(chart, "line"):
        groups: dict[str, list[dict]] = {}
        for row in layer["data"]["values"]:
            groups.setdefault(row["group"], []).append(row)
        (dotted if "strokeDash" in layer["mark"] else solid).extend(groups.values())
    return solid, dotted


def test_partial_last_bucket_is_marked_not_a_drop():
    until = dt.datetime(2026, 3, 10, 13, 0, tzinfo=UTC)      # 1 h into a 6-hour bucket
    figs = charts.kpi_trends(_trend(until), until=until, bucket_s=6 * 3600)
    for name in ("executions", "failure_rate", "retries", "cost"):
        assert "partial" in chart_texts(figs[name]), name
    bars = chart_layers(figs["executions"], "bar")[0]
    assert bars["encoding"]["opacity"]["condition"] == {"test": "datum.partial", "value": 0.4}
    flags = [r["partial"] for r in bars["data"]["values"]]
    assert flags[-1] and not flags[0]
    _solid, dotted = _pieces(figs["failure_rate"])
    assert dotted and len(dotted[0]) == 2                  # last full point -> partial point


def test_no_partial_mark_when_the_window_ends_on_a_bucket_edge():
    until = dt.datetime(2026, 3, 10, 18, 0, tzinfo=UTC)
    frame = _trend(until)
    frame["bucket"] = frame["bucket"] - pd.Timedelta(hours=6)
    fig = charts.lines(frame, x="bucket", y="executions", color="cloud", kind="bar", until=until, bucket_s=6 * 3600)
    assert "partial" not in chart_texts(fig) and not chart_layers(fig, "rect")


def test_partial_first_bucket_is_marked_not_a_dip():
    """A 7-day window from 10:35 has a first 6-hour bucket (06:00-12:00) holding 1 h 25 min of it: drawn
    like the others it read as a dip at the start of every trend chart. It is marked as the last one is."""
    until = dt.datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
    frame = _trend(until)
    frame.loc[0, "executions"] = 10
    since = frame["bucket"].iloc[0].to_pydatetime() + dt.timedelta(hours=4, minutes=35)
    figs = charts.kpi_trends(frame, since=since, until=until, bucket_s=6 * 3600)
    for name in ("executions", "failure_rate", "retries", "cost"):
        assert chart_texts(figs[name]).count("partial") == 2, name
    shade = chart_rows(figs["executions"], "rect")[0]
    assert pd.Timestamp(shade["start"]) == pd.Timestamp(since)
    assert pd.Timestamp(shade["end"]) == frame["bucket"].iloc[1]            # to the first bucket's end
    flags = [r["partial"] for r in chart_rows(figs["executions"], "bar")]
    assert flags[0] and flags[-1] and not any(flags[1:-1])
    solid, dotted = _pieces(figs["failure_rate"])
    assert sorted(len(p) for p in dotted) == [2, 2]                    # partial -> first whole; last whole -> partial
    assert len(solid) == 1 and len(solid[0]) == len(frame) - 2


def test_no_first_partial_mark_when_the_window_begins_on_a_bucket_edge():
    until = dt.datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
    frame = _trend(until)
    fig = charts.lines(frame, x="bucket", y="executions", color="cloud", kind="bar",
                       since=frame["bucket"].iloc[0].to_pydatetime(), until=until, bucket_s=6 * 3600)
    assert chart_texts(fig).count("partial") == 1          # the last bucket only
    assert not chart_rows(fig, "bar")[0]["partial"]


def test_count_charts_have_integer_axes():
    fig = charts.lines(_trend(NOW), x="bucket", y="executions", color="cloud", kind="bar", integer=True)
    axis = chart_layers(fig, "bar")[0]["encoding"]["y"]["axis"]
    assert axis["format"] == ",d" and axis["tickMinStep"] == 1
    small = charts.severity_counts(pd.DataFrame({"severity": ["high", "low", "low"]}))
    axis = chart_layers(small, "bar")[0]["encoding"]["y"]["axis"]
    assert axis["format"] == ",d" and axis["values"] == [0, 1, 2]


# ---------------------------------------------------------------- readable (pure)

@pytest.mark.parametrize("ms,text", [(850, "850 ms"), (1234, "1.2 s"), (312_000, "5 min 12 s"),
                                     (5_163_647, "1 h 26 min"), (3 * 86_400_000 + 4 * 3_600_000, "3 d 4 h"),
                                     (None, "n/a"), (dt.timedelta(days=3, hours=4), "3 d 4 h"),
                                     (dt.timedelta(milliseconds=850), "850 ms")])
def test_durations_read_with_units(ms, text):
    assert fmt_duration(ms) == text


def test_table_columns_read_with_units_and_no_missing_cells():
    frame = pd.DataFrame({"step": ["a", None], "p95_ms": [5_163_647.0, float("nan")], "cost_usd": [12.3456, None],
                          "runs": [3.0, 4.0], "visits": [1.0, float("nan")], "drift": [1.5, float("nan")],
                          "lag_minutes": [312.0 / 60, None], "last": pd.to_datetime([NOW, None], utc=True),
                          "evidence": [{"p95_ms": 312_000, "executions": 1234}, None]})
    shown, formats = readable.display_frame(frame, {"drift": {"label": "drift", "type_config": {
        "type": "number", "format": "%.2f×"}}})
    # numbers stay numbers (sortable by value), in the unit their format names
    assert shown.loc[0, "p95_ms"] == pytest.approx(5_163_647 / 3_600_000)
    assert formats["p95_ms"] == readable.Shown("p95", "%.1f h")
    assert shown.loc[0, "cost_usd"] == pytest.approx(12.3456)
    assert formats["cost_usd"] == readable.Shown("cost", "dollar")
    assert shown.loc[0, "lag_minutes"] == pytest.approx(5.2) and formats["lag_minutes"].format == "%.1f min"
    assert str(shown["runs"].dtype) == "Int64" and str(shown["visits"].dtype) == "Int64"
    assert formats["runs"].format == "localized"
    assert "drift" not in formats, "a page's own number format stays"
    assert shown.loc[0, "evidence"] == "P95: 5 min 12 s; executions: 1,234."
    # a missing number is a null (the grid shows an empty cell); a missing text reads "—"
    sent = pa.Table.from_pandas(shown, preserve_index=False)
    for column in ("p95_ms", "cost_usd", "visits", "drift", "lag_minutes", "last"):
        assert sent.column(column).null_count == 1, column
    for column in ("step", "evidence"):
        assert shown.loc[1, column] == "—"
        assert not any(str(v) in BAD_CELLS for v in shown[column])


def test_evidence_reads_as_a_sentence():
    text = fmt_evidence({"failure_rate": 0.29, "visits": 885, "monthly_usd": 1.5, "mean_delay_ms": 2000,
                         "steps": ["a", "b"]})
    assert text == "Failure rate: 29.0%; visits: 885; monthly: $1.50; mean delay: 2.0 s; steps: a, b."
    assert fmt_evidence('{"p95_ms": 850}') == "P95: 850 ms."
    assert "{" not in text


def test_evidence_moments_read_as_the_window_lines_do():
    """first_seen / last_seen / as_of read "2026-03-24T08:29:29.660717+00:00" (the JSON of a datetime)."""
    when = dt.datetime(2026, 3, 24, 8, 29, 29, 660717, tzinfo=UTC)
    for value in (when, when.isoformat(), "2026-03-24T08:29:29Z", pd.Timestamp(when),
                  when.astimezone(dt.timezone(dt.timedelta(hours=2))).isoformat()):
        assert fmt_evidence({"first_seen": value}) == "First seen: 2026-03-24 08:29 UTC.", value
    assert fmt_evidence({"episode": {"start": when.isoformat(), "visits": 3}}) == \
        "Episode: (start: 2026-03-24 08:29 UTC; visits: 3)."
    assert fmt_evidence({"throttling": False, "in_loop": True}) == "Throttling: no; in loop: yes."
    for text in ("08586000000000000010", "2026-03-24", "deploy at 2026-03-24T08:29Z failed", "000003-1a2"):
        assert fmt_evidence({"first_revision": text}) == f"First revision: {text}.", text


@pytest.mark.parametrize("value, shown", [
    (3390.5, "3,390"), (5276.3, "5,276"), (1_234_567.8, "1,234,568"), (436.6, "437"), (43.6, "43.6"),
    (13.84, "13.8"), (0.0768, "0.0768"), (-3390.5, "-3,390"), (2860, "2,860"),
], ids=str)
def test_evidence_numbers_never_in_exponent_form(value, shown):
    assert fmt_evidence({"builtin_operations_monthly": value}) == f"Builtin operations monthly: {shown}."


def test_evidence_money_follows_the_key_suffix_in_nested_evidence():
    """The analyses name money `*_usd` (edges' monthly_usd, retries' per_attempt_usd): shown as dollars."""
    text = fmt_evidence({"edges": [{"from": "A", "to": "B", "transitions": 2860, "monthly_usd": 0.306}],
                         "per_attempt_usd": 0.000025})
    assert text == "Edges: (from: A; to: B; transitions: 2,860; monthly: $0.3060); per attempt: $0.000025."


# ---------------------------------------------------------------- pages (AppTest)

@pytest.fixture(scope="module")
def stale_store(tmp_path_factory) -> tuple[str, dt.datetime]:
    """A store whose data ended 3 days ago (an import, a sync that stopped)."""
    end = (dt.datetime.now(UTC) - dt.timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    path = tmp_path_factory.mktemp("ui-stale")
    Store(path).write(build(60, end=end, days=6, seed=11))
    return str(path), end


@pytest.fixture(scope="module")
def long_store(tmp_path_factory) -> str:
    """Twenty days of data: a 7-day window's previous 7 days hold data."""
    path = tmp_path_factory.mktemp("ui-long")
    Store(path).write(build(90, days=20, seed=12))
    return str(path)


def _texts(at) -> list[str]:
    out: list[str] = []
    for kind in ("title", "caption", "markdown", "error", "warning", "info", "success", "subheader"):
        out += [str(e.value) for e in getattr(at, kind)]
    out += [f"{m.label} {m.value} {m.delta or ''}" for m in at.metric]
    for df in at.dataframe:
        out += [str(v) for v in df.value.astype(str).to_numpy().ravel()] + [str(c) for c in df.value.columns]
    return out


def test_stale_store_window_ends_at_the_data_and_says_so(stale_store, monkeypatch):
    path, end = stale_store
    at = open_page(app(path, monkeypatch), "overview")
    no_exception(at)
    notes = [c.value for c in at.caption]
    assert any("data in this store ends at" in n and "not now" in n for n in notes), notes
    assert any("to the latest data" in n for n in notes)
    assert [m.value for m in at.metric if m.label == "Executions"][-1] != "0"
    # the data covers 6 of the previous 7 days' window at most: no delta against it
    assert all(m.delta in (None, "") for m in at.metric), [(m.label, m.delta) for m in at.metric]
    assert any("No change against the previous window" in n for n in notes)


def test_deltas_shown_when_the_previous_window_has_data(long_store, monkeypatch):
    at = open_page(app(long_store, monkeypatch), "overview")
    no_exception(at)
    assert any(m.delta for m in at.metric if m.label == "Executions")


def number_formats(df) -> dict[str, str]:
    """{column: number format} of a rendered table (its column config, as the browser gets it)."""
    config = json.loads(df.proto.columns or "{}")
    return {k.removeprefix("col:"): (v.get("type_config") or {}).get("format") for k, v in config.items()
            if (v.get("type_config") or {}).get("type") == "number"}


def test_duration_and_money_columns_render_with_units(three_cloud_store, monkeypatch):
    at = open_page(app(three_cloud_store, monkeypatch), "latency")
    no_exception(at)
    tables = [df for df in at.dataframe if "p95_ms" in df.value.columns]
    assert tables
    for df in tables:
        assert pd.api.types.is_float_dtype(df.value["p95_ms"]), "durations stay numbers: sortable"
        assert FORMAT_UNIT.match(number_formats(df)["p95_ms"]), number_formats(df)
    at = open_page(app(three_cloud_store, monkeypatch), "cost")
    money = [df for df in at.dataframe if "monthly_usd" in df.value.columns]
    assert money and pd.api.types.is_float_dtype(money[0].value["monthly_usd"])
    assert MONEY_FORMAT.match(number_formats(money[0])["monthly_usd"])


@pytest.mark.parametrize("page", [*PAGES, "compare"])
def test_no_none_or_nan_cells_and_no_emoji(page, three_cloud_store, monkeypatch):
    at = open_page(app(three_cloud_store, monkeypatch), page)
    no_exception(at)
    for df in at.dataframe:
        frame, formats = df.value, number_formats(df)
        assert df.proto.placeholder == "—", "the grid draws a null (a missing number or time) as —, not None"
        for column in frame.columns:
            if pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column]):
                # a missing number arrives as a null, drawn as the placeholder
                if str(column).endswith(("_ms", "_minutes")):
                    assert FORMAT_UNIT.match(formats.get(str(column)) or ""), (page, column, formats)
                if str(column).endswith("_usd"):
                    assert MONEY_FORMAT.match(formats.get(str(column)) or ""), (page, column, formats)
                continue
            for value in frame[column]:
                if isinstance(value, (list, tuple)) or hasattr(value, "__len__") and not isinstance(value, str):
                    continue   # sparkline columns
                if pd.api.types.is_datetime64_any_dtype(frame[column]):
                    continue   # NaT arrives as a null: drawn as the placeholder
                assert not (value is None or (isinstance(value, float) and value != value)), (page, column)
                assert str(value) not in BAD_CELLS, (page, column, value)
    marks = [t for t in _texts(at) if EMOJI.search(t)]
    assert not marks, (page, marks[:5])


def test_collection_health_status_is_text(three_cloud_store, monkeypatch):
    at = open_page(app(three_cloud_store, monkeypatch), "collection_health")
    status = next(df.value for df in at.dataframe if "status" in df.value.columns)["status"]
    assert any(s.startswith("FAILED") for s in status) and not any(EMOJI.search(s) for s in status)


def test_overview_evidence_is_a_sentence(three_cloud_store, monkeypatch):
    at = open_page(app(three_cloud_store, monkeypatch), "overview")
    evidence = [m.value for m in at.markdown if str(m.value).startswith("Evidence:")]
    assert evidence and "{" not in evidence[0] and evidence[0].endswith(".")
    assert not at.json


@pytest.mark.parametrize("fixture, compared", [("stale_store", False), ("long_store", True)])
def test_latency_page_shows_drift_only_against_a_covered_previous_window(fixture, compared, request, monkeypatch):
    """The Latency page's drift count, its table's drift and previous-p95 columns follow the one rule
    (measures.previous_covered): '—' and hidden columns when the data covers 6 of the previous 7 days."""
    store = request.getfixturevalue(fixture)
    path = store[0] if isinstance(store, tuple) else store
    at = open_page(app(path, monkeypatch), "latency")
    no_exception(at)
    drift = [m.value for m in at.metric if m.label.startswith("Steps slower than last window")]
    assert drift and (drift[0] != "—") is compared
    shown = set(at.dataframe[0].value.columns)
    assert ({"drift", "prev_p95_ms", "prev_visits"} <= shown) is compared, shown
    assert not ({"drift", "prev_p95_ms", "prev_visits"} & shown) or compared


D = dt.datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize("since, until, data_since, days", [
    (D, D + dt.timedelta(days=90), D + dt.timedelta(days=60), 30.0),      # a 90-day window over 30 days of data
    (D, D + dt.timedelta(days=30), D + dt.timedelta(minutes=7), 30.0),    # a first run minutes in: the window's
    (D, D + dt.timedelta(days=30), D + dt.timedelta(days=2), 30.0),       # under a tenth of the window: the window's
    (D, D + dt.timedelta(days=30), D + dt.timedelta(days=3), 27.0),       # a tenth: from the data
    (D, D + dt.timedelta(days=3), D + dt.timedelta(hours=20), 3.0),       # under a day: the window's
    (D, D + dt.timedelta(days=7), D - dt.timedelta(days=5), 7.0),         # data before the window
    (D, D + dt.timedelta(days=7), None, 7.0),                             # no runs
    (D, D + dt.timedelta(days=7), D + dt.timedelta(days=8), 1 / 24),      # data after the window: an hour at least
])
def test_projections_divide_by_the_days_the_data_speaks_for(since, until, data_since, days):
    """`measures.measured_days`: a projection's days start at the data when the data begins well inside
    the window (a tenth of it and at least a day, the end-of-window gap's rule), else at the window's start."""
    from flowscope.analysis import measures

    assert measures.measured_days(since, until, data_since) == pytest.approx(days)


def _domain(chart: dict) -> list[pd.Timestamp]:
    [domain] = [layer["encoding"]["x"]["scale"]["domain"] for layer in chart_layers(chart)
                if "domain" in layer.get("encoding", {}).get("x", {}).get("scale", {})]
    return [pd.Timestamp(v) for v in domain]


def test_a_chart_of_sparse_rows_spans_the_window_and_marks_its_last_bucket():
    """Failures are drawn only in buckets that had one: the chart's axis stopped at the last failure, a day
    before the window's end, and its partial last bucket went unmarked (the partial ends were read from the
    rows, not from the window)."""
    until = dt.datetime(2026, 3, 10, 13, 0, tzinfo=UTC)             # 1 h into a 6-hour bucket
    since = until - dt.timedelta(days=7)
    frame = _trend(until).iloc[:2]                                    # rows stop 30 h before the end
    fig = charts.lines(frame, x="bucket", y="failed", color="cloud", kind="bar", integer=True, since=since,
                       until=until, bucket_s=6 * 3600)
    assert chart_texts(fig).count("partial") == 2
    tail = [r for r in chart_rows(fig, "rect") if pd.Timestamp(r["end"]) == pd.Timestamp(until)]
    assert tail and pd.Timestamp(tail[0]["start"]) == pd.Timestamp("2026-03-10T12:00Z")
    # the first bucket to the window's end: each bar spans its bucket (x to x2), the last one clipped at the end
    assert _domain(fig) == [pd.Timestamp("2026-03-03T12:00Z"), pd.Timestamp(until)]
    bars = chart_rows(fig, "bar")
    assert [r["partial"] for r in bars] == [False, False]                        # neither row is partial
    assert all(pd.Timestamp(r["x2"]) - pd.Timestamp(r["x"]) == pd.Timedelta(hours=6) for r in bars)
    line = charts.lines(frame, x="bucket", y="failed", color="cloud", since=since, until=until, bucket_s=6 * 3600)
    assert _domain(line) == [pd.Timestamp("2026-03-03T12:00Z"), pd.Timestamp(until)]


def test_a_stacked_areas_partial_last_bucket_is_dotted_not_a_drop():
    """The Cost trend (a stacked area) drew its partial last bucket solid: a steep drop outside the shaded
    band. Its partial pieces are dotted, pale and stacked apart, as a line's are dotted."""
    until = dt.datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
    trend = _trend(until)
    frame = pd.concat([trend, trend.assign(cloud="gcp", cost_usd=0.25)], ignore_index=True)
    frame.loc[frame["bucket"] == frame["bucket"].max(), "cost_usd"] = 0.01       # the last bucket: 1 h of 6
    fig = charts.lines(frame, x="bucket", y="cost_usd", color="cloud", kind="area", money=True, until=until,
                       bucket_s=6 * 3600)
    whole, tail = chart_layers(fig, "area")
    assert whole["mark"]["line"] is True and tail["mark"]["line"] == {"strokeDash": [2, 3]}
    assert tail["mark"]["opacity"] < whole["mark"]["opacity"]
    assert {r["series"] for r in whole["data"]["values"]} == {"aws", "gcp"}
    assert all(sum(1 for r in whole["data"]["values"] if r["series"] == c) == len(trend) - 1 for c in ("aws", "gcp"))
    dotted = tail["data"]["values"]
    assert len(dotted) == 4 and [r["y"] for r in dotted if r["partial"]] == [0.01, 0.01]   # last whole -> partial
    # stacked apart: the partial pieces' bands start from zero, not from the whole areas' tops
    aws, gcp = ([r for r in dotted if r["series"] == c] for c in ("aws", "gcp"))
    assert aws[-1]["y0"] == 0 and gcp[-1]["y0"] == pytest.approx(0.01)


def test_the_bucket_the_data_begins_inside_is_marked_partial():
    """A 90-day window over a store whose data begins at 20:00 on a day inside it: that day's bar holds 4 h of
    runs and read as a dip at the data's start, unmarked (only the window's own ends were). It is marked as
    the window's first bucket is, from where the data begins to the bucket's end; the axis still spans the
    whole window. Data that began before the window changes nothing."""
    until = dt.datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
    since = until - dt.timedelta(days=90)
    begins = dt.datetime(2026, 2, 5, 20, 0, tzinfo=UTC)
    buckets = pd.date_range("2026-02-05", "2026-03-09", freq="D", tz="UTC")
    frame = pd.DataFrame({"bucket": buckets, "cloud": "aws", "executions": [80] + [1000] * (len(buckets) - 1)})
    fig = charts.lines(frame, x="bucket", y="executions", color="cloud", kind="bar", integer=True, since=since,
                       until=until, bucket_s=86400, begins=begins)
    [shade] = chart_rows(fig, "rect")
    assert (pd.Timestamp(shade["start"]), pd.Timestamp(shade["end"])) == (pd.Timestamp(begins),
                                                                       pd.Timestamp("2026-02-06T00:00Z"))
    assert chart_texts(fig) == ["partial"]
    flags = [r["partial"] for r in chart_rows(fig, "bar")]
    assert flags[0] and not any(flags[1:])
    assert _domain(fig) == [pd.Timestamp(since), pd.Timestamp(until)]          # the whole window, still
    before = charts.lines(frame, x="bucket", y="executions", color="cloud", kind="bar", since=since, until=until,
                          bucket_s=86400, begins=since - dt.timedelta(days=3))
    assert not chart_rows(before, "rect") and _domain(fig) == _domain(before)
    assert charts.data_start(since, None) == since and charts.data_start(None, begins) is None
