"""Tables that sort by value and keep their name and money in view (issue 11, "Readable"): cells stay
numbers shown through a number format with the unit (one duration unit per column, money at the
precision its smallest amount needs, integer counts), the name columns first and pinned, money next."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from flowscope.model import C, Cloud, Status
from flowscope.store import Store
from flowscope.ui import components, readable
from tests.ui.helpers import build, chart_rows, shown_ms
from tests.ui.test_pages import app, no_exception, open_page, page_charts


def test_a_header_click_sorts_durations_and_money_by_value():
    frame = pd.DataFrame({"step": ["a", "b", "c", "d"], "p95_ms": [900.0, 2_100.0, 65_000.0, 450.0],
                          "cost_usd": [9.0, 10.0, 0.5, 100.0]})
    shown, formats = readable.display_frame(frame)
    by_time = shown.sort_values("p95_ms", ascending=False)["step"].tolist()
    by_money = shown.sort_values("cost_usd", ascending=False)["step"].tolist()
    assert by_time == ["c", "b", "a", "d"], "65 s > 2.1 s > 900 ms > 450 ms, not text order"
    assert by_money == ["d", "b", "a", "c"], "$100 > $10 > $9 > $0.50"
    assert formats["p95_ms"].format == "%.1f s" and shown["p95_ms"].tolist() == pytest.approx([0.9, 2.1, 65, 0.45])


@pytest.mark.parametrize("values,unit", [([120.0, 850.0, 40.0], "ms"), ([900.0, 2_100.0, 5_000.0], "s"),
                                         ([90_000.0, 312_000.0], "min"), ([5_163_647.0, 7_200_000.0], "h"),
                                         ([3 * 86_400_000.0], "d"), ([float("nan")], "ms"),
                                         ([6.0, 150.0, 300.0, 30_000.0], "s")])   # no "30000 ms"
def test_one_duration_unit_per_column_from_its_typical_value(values, unit):
    assert readable.duration_unit(pd.Series(values))[0] == unit


def test_duration_formats_keep_small_values_readable_and_signs():
    shown, formats = readable.display_frame(pd.DataFrame({"a_ms": [30.0, 4_000.0, 9_000.0],
                                                          "delta_ms": [-1_500.0, 2_000.0, 3_000.0]}),
                                            {"delta_ms": {"label": "B − A (ms)", "type_config": {
                                                "type": "number", "format": "%+d"}}})
    assert formats["a_ms"].format == "%.2f s", "30 ms in a seconds column reads 0.03 s, not 0.0 s"
    # run A and B − A share one unit and decimals (Compare runs reads them side by side)
    assert formats["delta_ms"] == readable.Shown("B − A", "%+.2f s")
    assert shown["delta_ms"].tolist() == pytest.approx([-1.5, 2.0, 3.0])
    _, formats = readable.display_frame(pd.DataFrame({"p95_ms": [1.0, 150.0, 300.0, 30_000.0]}))
    assert formats["p95_ms"].format == "%.3f s", "1 ms beside 30 s reads 0.001 s"


@pytest.mark.parametrize("values,template", [([12.34, 0.5, 1_234.0], "dollar"), ([0.004, 0.2], "$%.4f"),
                                             ([0.000025, 0.3], "$%.6f"), ([0.0, 0.0], "dollar"),
                                             ([float("nan"), 2.0], "dollar")])
def test_money_precision_is_chosen_per_column(values, template):
    assert readable.money_format(pd.Series(values)) == template


def test_counts_are_integers_and_ratios_are_not():
    shown, formats = readable.display_frame(pd.DataFrame({"runs": [1.0, 12_345.0, None], "drift": [1.0, 2.0, 3.0],
                                                          "failures": pd.Series([3, 4, 5], dtype="int64")}))
    assert str(shown["runs"].dtype) == "Int64" and shown["runs"].tolist()[:2] == [1, 12_345]
    assert formats["runs"].format == "localized" and formats["failures"].format == "localized"
    assert "drift" not in formats and shown["drift"].dtype == "float64"


def test_a_count_whose_name_holds_a_ratio_word_is_still_a_count():
    """Ratio words are whole words of the name: "iterations" holds "ratio", "operations" too."""
    shown, formats = readable.display_frame(pd.DataFrame({"iterations": [72.0, 3.0], "operations": [10.0, 2.0],
                                                          "failure_rate": [1.0, 0.0], "p95 drift": [2.0, 1.0]}))
    assert formats["iterations"].format == "localized" and str(shown["operations"].dtype) == "Int64"
    assert formats["failure_rate"].format == "percent", "a share, not a count: read as a percent"
    assert "p95 drift" not in formats


def test_names_come_first_and_are_pinned_then_money():
    order, pinned = readable.layout(["severity", "kind", "cloud", "workflow", "step", "title", "recommendation",
                                     "monthly_usd", "executions_affected"])
    assert order[:5] == ["title", "monthly_usd", "severity", "kind", "workflow"] and pinned == ["title"]
    order, pinned = readable.layout(["cloud", "workflow", "step", "meter", "quantity", "cost_usd", "retry_usd",
                                     "monthly_usd", "share"])
    assert order[:5] == ["workflow", "step", "cost_usd", "retry_usd", "monthly_usd"]
    assert pinned == ["workflow", "step"]
    # a long error text is pinned only when nothing else names the row (wide pins make Streamlit pin none)
    assert readable.layout(["status", "scope", "error", "runs"]) == (["scope", "status", "error", "runs"], ["scope"])
    assert readable.layout(["error", "count"])[1] == ["error"]


def test_a_findings_severity_and_kind_come_beside_its_title_and_money():
    """Overview's findings table (three quarters of the page beside the severity chart) showed title,
    $/month, workflow and step at 1366 px: severity and kind, what a finding is, were off its right edge."""
    columns = ["severity", "kind", "cloud", "workflow", "step", "title", "monthly_usd", "executions_affected",
               "evidence_link", "recommendation"]
    order, pinned = readable.layout(columns)
    assert order[:4] == ["title", "monthly_usd", "severity", "kind"] and pinned == ["title"]
    assert sorted(order) == sorted(columns)
    # tables that name their rows otherwise keep their order: a workflow's kind is not a finding's
    assert readable.layout(["cloud", "workflow", "kind", "runs", "cost_usd"])[0] == [
        "workflow", "cost_usd", "cloud", "kind", "runs"]


def test_table_config_pins_names_with_a_width_and_keeps_page_labels():
    frame = pd.DataFrame({"cloud": ["aws"], "workflow": ["orders"], "p95_ms": [1_500.0], "cost_usd": [0.5]})
    given = {"p95_ms": {"label": "p95 (ms)", "help": "slow", "type_config": {"type": "number", "format": "%d"}},
             "workflow": {"label": "workflow name", "width": None}}
    shown, formats = readable.display_frame(frame, given)
    order, config = components.table_config(shown, formats, given)
    assert order == ["workflow", "cost_usd", "cloud", "p95_ms"]
    assert config["workflow"]["pinned"] is True and config["workflow"]["width"] == "medium"
    assert config["workflow"]["label"] == "workflow name"
    assert config["p95_ms"]["label"] == "p95" and config["p95_ms"]["help"] == "slow"
    assert config["p95_ms"]["type_config"]["format"] == "%.1f s"
    assert config["cost_usd"]["type_config"]["format"] == "dollar"


def test_moments_read_to_the_minute_in_utc_and_names_in_words():
    """Top errors drew "last_seen" over "2026-12-01 13:04:42+00", the offset cut by the column."""
    frame = pd.DataFrame({"error": ["HttpError 500"], "native_type": ["Task"], "sample_cause": ["boom"],
                          "last_seen": pd.to_datetime(["2026-12-01T13:04:42Z"], utc=True)})
    given = {"sample_cause": {"label": "cause", "width": "large"}}
    shown, formats = readable.display_frame(frame, given)
    assert formats["last_seen"] == readable.Shown("last seen", readable.TIME_FORMAT, readable.DATETIME)
    assert formats["native_type"] == readable.Shown("native type", "", readable.TEXT)
    assert "sample_cause" not in formats and "error" in formats, "a page's own label is kept"
    _, config = components.table_config(shown, formats, given)
    assert config["last_seen"]["label"] == "last seen"
    moment = config["last_seen"]["type_config"]
    assert (moment["type"], moment["format"], moment["timezone"]) == ("datetime", "YYYY-MM-DD HH:mm", "UTC")
    assert config["native_type"]["label"] == "native type" and config["sample_cause"]["label"] == "cause"
    assert shown["last_seen"].iloc[0] == frame["last_seen"].iloc[0], "a moment stays a moment (sorts by time)"


# ---------------------------------------------------------------- pages (AppTest)

def test_pages_send_numbers_with_unit_formats_and_pinned_names(three_cloud_store, monkeypatch):
    at = open_page(app(three_cloud_store, monkeypatch), "workflows")
    no_exception(at)
    df = at.dataframe[0]
    config = {k.removeprefix("col:"): v for k, v in json.loads(df.proto.columns).items()}
    assert list(df.value.columns[:3]) == ["workflow", "cost_usd", "monthly_usd"]
    assert config["workflow"]["pinned"] is True
    assert config["p95_ms"]["type_config"]["format"].endswith((" ms", " s", " min", " h"))
    assert pd.api.types.is_float_dtype(df.value["p95_ms"]) and pd.api.types.is_float_dtype(df.value["cost_usd"])


def test_compare_page_draws_both_runs_step_by_step(three_cloud_store, monkeypatch):
    at = open_page(app(three_cloud_store, monkeypatch), "compare")
    no_exception(at)
    a, b = at.text_input(key="cmp-a").value, at.text_input(key="cmp-b").value
    assert a and b and a != b
    bars = chart_rows(page_charts(at)[0].spec, "bar")
    assert sorted({r["run"] for r in bars}) == ["run A", "run B"]
    marks = [r["mark"] for r in bars]
    assert "failed" in " ".join(marks), "run A failed: its failing step is marked on its bar"
    assert "not run" in marks, "a step only one run took"
    table = at.dataframe[0].value
    assert len([r for r in bars if r["run"] == "run A"]) == min(len(table), 30)


def test_compare_opens_on_two_successful_runs_when_none_failed(tmp_path, monkeypatch):
    batch = build(40, days=3, clouds=(Cloud.AWS,), failed_scope=False, seed=5)
    for ex in batch.executions:
        ex.update({C.status: Status.SUCCEEDED.value, C.error: None, C.cause: None})
    Store(tmp_path).write(batch)
    at = open_page(app(str(tmp_path), monkeypatch), "compare")
    no_exception(at)
    a, b = at.text_input(key="cmp-a").value, at.text_input(key="cmp-b").value
    assert a and b and a != b, "no failed run: the two newest successful runs of one workflow"
    assert page_charts(at), "the step chart is drawn"


def test_compare_runs_totals_and_their_difference_read_in_one_unit():
    """Compare runs read "A total 30.0 s" beside "B total 2.50 min" and "B − A +2.0 min": each column
    picked its own unit. Run A's, run B's and their difference share one now."""
    frame = pd.DataFrame({"step": ["x", "y"], "a_ms": [30_000.0, 1_000.0], "b_ms": [150_000.0, 1_000.0],
                          "delta_ms": [120_000.0, 0.0]})
    shown, formats = readable.display_frame(frame, {"delta_ms": {"type_config": {"type": "number",
                                                                                "format": "%+d"}}})
    assert {c: formats[c].format for c in ("a_ms", "b_ms", "delta_ms")} == {
        "a_ms": "%.1f s", "b_ms": "%.1f s", "delta_ms": "%+.1f s"}
    assert shown[["a_ms", "b_ms", "delta_ms"]].to_dict("list") == {
        "a_ms": [30.0, 1.0], "b_ms": [150.0, 1.0], "delta_ms": [120.0, 0.0]}


def test_a_difference_no_one_unit_reads_is_read_per_cell_with_its_sign():
    """Compare runs of a run still running 2 days in a Wait against one of 2.5 minutes: "B − A" kept one unit,
    hours with six decimals, and read "-52.958183 h" and "-0.000065 h" (a step 233 ms faster, cut to
    "…00065 h" in the grid) beside totals read per cell ("517 ms", "284 ms"). It is read per cell as they are;
    a negative difference keeps its minus."""
    frame = pd.DataFrame({"step": ["WaitForReport", "StartReport"], "a_ms": [190_800_000.0, 517.0],
                          "b_ms": [120_000.0, 284.0], "delta_ms": [-190_680_000.0, -233.0]})
    shown, formats = readable.display_frame(frame, {"delta_ms": {"type_config": {"type": "number",
                                                                                "format": "%+d"}}})
    assert formats["delta_ms"].format == formats["a_ms"].format == "localized", formats
    assert [shown_ms(v) for v in shown["delta_ms"]] == [-190_680_000.0, -233.0]
    assert [shown_ms(v) for v in shown["a_ms"]] == [190_800_000.0, 517.0]


def test_a_rate_column_the_page_did_not_format_reads_as_a_percent():
    """Overview's "Per-cloud numbers" read failure_rate 0.002967 beside the metric's "0.3%": a share
    column with no format from the page had none. A page's own format is kept."""
    frame = pd.DataFrame({"cloud": ["aws", "total"], "executions": [340, 673], "failure_rate": [0.002967, 0.007463]})
    shown, formats = readable.display_frame(frame)
    assert formats["failure_rate"] == readable.Shown("failure rate", "percent")
    assert shown["failure_rate"].tolist() == [0.002967, 0.007463]
    _, formats = readable.display_frame(frame, {"failure_rate": {"label": "visits failed", "type_config": {
        "type": "number", "format": "%.1f%%"}}})
    assert formats["failure_rate"] == readable.Shown("visits failed", "%.1f%%")


def test_a_lambda_errors_cause_reads_as_its_type_and_message():
    """Failures' top errors showed a Lambda error's cause as its raw JSON ({"errorMessage": ..,
    "requestId": .., "stackTrace": [..]}); a cause column now reads its type and message. Other causes
    (plain text, a JSON that is no Lambda error's, a cut JSON) stay as written."""
    lam = json.dumps({"errorMessage": "card declined", "errorType": "PaymentError", "requestId": "r-1",
                      "stackTrace": ["  File handler.py, line 3"]})
    other = json.dumps({"Cause": "the job stopped"})
    frame = pd.DataFrame({"sample_cause": [lam, "States.Timeout after 60 s", other, '{"errorMessage": "cu', None],
                          "error": [lam, "x", "y", "z", "w"]})
    shown, _ = readable.display_frame(frame)
    assert list(shown["sample_cause"]) == ["PaymentError: card declined", "States.Timeout after 60 s", other,
                                           '{"errorMessage": "cu', "—"]
    assert shown["error"].iloc[0] == lam            # not a cause column: as it is


def test_a_runs_status_comes_before_its_long_texts_and_the_whole_id_last():
    """At 1366 px the Executions table showed workflow, run, error and the whole execution id (a long
    ARN or resource path), and every run's status, start and duration were off its right edge. A row's
    status now follows its names, and the whole id (the pinned "run" is its telling end) comes last."""
    columns = ["run", "cloud", "workflow", "execution_id", "status", "started_at", "ended_at", "duration_ms",
               "error", "cause", "redrive_count"]
    order, pinned = readable.layout(columns)
    assert pinned == ["workflow", "run"]
    assert order[:4] == ["workflow", "run", "status", "error"] and order[-1] == "execution_id", order
    assert readable.layout(["workflow", "execution_id", "status"])[0] == ["workflow", "execution_id", "status"], \
        "the whole id stays beside the workflow when it is the only one"


def test_findings_dollars_say_an_episode_costs_once():
    """Overview's findings column read "$/month" over a retry storm's one-off cost."""
    column = components.finding_dollars_column(format="$%.2f")
    assert column["label"] == "$" and "retry storm" in column["help"] and "once" in column["help"]


@pytest.mark.parametrize("values", [[1.0, 2 * 3_600_000.0],                 # read "0.001 s" beside "7200.000 s"
                                    [500.0] * 50 + [5 * 3_600_000.0],        # "0.008 min" beside "300.000 min"
                                    [30_000.0, 9.5 * 3_600_000.0],           # "0.008 h" beside "9.500 h"
                                    [1_500.0, 2_000.0, 10 * 3_600_000.0],    # "0.03 min" beside "600.00 min"
                                    [2 * 3_600_000.0] * 5 + [400 * 86_400_000.0]])   # "9600.0 h"
def test_a_duration_column_never_reads_hours_in_seconds_nor_seconds_as_a_sliver_of_an_hour(values):
    """One unit read hours as thousands of seconds and seconds as "0.008 h": a column whose shortest
    non-zero value would read under a tenth of the unit, or whose longest a thousand of it or more, now
    reads each cell in its own units ("1 ms", "2 hours")."""
    shown, formats = readable.display_frame(pd.DataFrame({"total_ms": values}))
    assert formats["total_ms"].format == "localized", formats
    assert shown["total_ms"].tolist() == [pd.Timedelta(milliseconds=v) for v in values]


@pytest.mark.parametrize("values,unit", [([1.0, 3 * 3_600_000.0], "h"),          # the axis read 0..10,800 s
                                         ([40_000.0, 50_000.0, 2 * 3_600_000.0], "min"),     # 0..7,200 s
                                         ([100.0, 200.0, 5_000.0], "s")])                      # 0..5,000 ms
def test_a_chart_axis_unit_holds_its_longest_value_under_a_thousand(values, unit):
    """A chart's axis (and the graph's colour bar) read 3 hours as 10,800 s: the unit stepped down to
    keep a 1 ms value off 0.000 in a table, and climbed only at 10,000. An axis starts at 0 and needs no
    step down; it climbs while its longest value reads a thousand or more."""
    assert readable.duration_unit(pd.Series(values))[0] == unit


def test_a_list_cell_leaves_out_its_missing_items():
    """A list cell joined every item as text: ["a", None, nan] read "a, None, nan" and [None] "None". Its
    missing and blank items are now left out, and a list of none reads as the placeholder."""
    frame = pd.DataFrame({"steps": [["a", None, float("nan")], [None, ""], ("x", pd.NA, "y"), []]})
    shown, _ = readable.display_frame(frame)
    assert shown["steps"].tolist() == ["a", readable.BLANK, "x, y", readable.BLANK]


def test_a_rare_failure_rate_does_not_read_as_none_in_a_table():
    """Streamlit's "percent" shows two decimals: a step failing 1 visit in 100,000 read "0.00%" in the Failures
    and Workflows tables, an all-clear that is not one. A share column whose smallest non-zero value would
    read so is shown in percent numbers to the decimals it needs ("0.001%"), still sorting by value; a page's
    "percent" is read the same way, and a column of ordinary rates keeps "percent"."""
    frame = pd.DataFrame({"step": ["a", "b", "c"], "failure_rate": [0.2, 0.00001, 0.0]})
    for config in (None, {"failure_rate": {"label": "failure rate", "type_config": {"type": "number",
                                                                                    "format": "percent"}}}):
        shown, formats = readable.display_frame(frame, config)
        assert formats["failure_rate"] == readable.Shown("failure rate", "%.3f%%"), formats
        assert shown["failure_rate"].tolist() == pytest.approx([20.0, 0.001, 0.0])
    _, formats = readable.display_frame(frame.assign(failure_rate=[0.2, 0.0001, 0.0]))
    assert formats["failure_rate"].format == "percent", "0.01% reads at two decimals"


def test_a_finding_that_prices_nothing_reads_blank_not_free():
    """A failing step's finding prices nothing: the CLI and reports say "no cost measured" (`format.fmt_monthly`),
    but the dashboard's findings tables read "$0.00" beside it, as if there were nothing to lose. Its dollars
    now read as the placeholder, which the column's help names, and priced findings keep theirs."""
    found = pd.DataFrame({"kind": ["failing_step", "costly_step", "stuck_execution"],
                          "monthly_usd": [0.0, 0.3581, float("nan")]})
    shown = components.finding_dollars(found)
    assert shown["monthly_usd"].isna().tolist() == [True, False, True]
    assert shown["monthly_usd"].iloc[1] == pytest.approx(0.3581)
    assert found["monthly_usd"].iloc[0] == 0.0, "the frame given (and its CSV) is left as it is"
    assert "no cost measured" in components.finding_dollars_column(format="$%.2f")["help"]


def test_a_finished_run_without_a_duration_says_so_not_n_a():
    """A run that ended without a recorded end (aborted, timed out as the collector last saw it) read
    "Duration n/a" on the run page and Compare runs; it now says "not recorded", and a run that has one
    still reads it."""
    t0 = pd.Timestamp("2026-12-01 10:00", tz="UTC")
    aborted = {C.status: Status.ABORTED.value, C.started_at: t0, C.ended_at: None, C.duration_ms: float("nan")}
    assert components.run_duration(aborted, None) == "not recorded"
    assert components.run_duration({**aborted, C.duration_ms: 90_000.0}, None) == "1 min 30 s"
