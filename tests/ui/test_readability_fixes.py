"""Readability defects found in a browser at 1366x900: a duration column cut to "…c, 10 ms", a failing
step's error cut to "BadGate…" (its parent "For_each…", its cause off screen), a metric tile's "$0.6550"
beside "$1.80", and Compare's "B − A" reading "+0.000 s" for a step that took as long in both runs."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from flowscope.format import BLANK, fmt_usd, fmt_usd_change, is_change
from flowscope.ui import readable
from tests.ui.test_pages import app, metrics, no_exception, open_page

# ---------------------------------------------------------------- the grid's payload of components.table


def _table(frame: pd.DataFrame, column_config: dict | None = None) -> tuple[pd.DataFrame, dict]:
    """What `components.table` sends the grid: its frame and its column config (by column name)."""
    values, _, config = _drawn(frame, column_config)
    return values, config


def _drawn(frame: pd.DataFrame, column_config: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None, dict]:
    """What `components.table` sends the grid: its values, the text a pandas Styler draws over them (None
    without one) and its column config (by column name)."""

    def page(frame, column_config):     # no annotations: AppTest runs the function's source alone
        from flowscope.ui import components

        components.table(frame, "t", column_config=column_config)

    at = AppTest.from_function(page, kwargs={"frame": frame, "column_config": column_config}).run()
    assert not at.exception, [e.value for e in at.exception]
    df = at.dataframe[0]
    styled = df.proto.arrow_data.styler.display_values
    text = dataframe_util.convert_arrow_bytes_to_pandas_df(styled) if styled else None
    return df.value, text, {k.removeprefix("col:"): v for k, v in json.loads(df.proto.columns).items()}


def _fits(width: object, text: str) -> bool:
    return isinstance(width, int) and width >= readable.CELL_PAD_PX + readable.CHAR_PX * len(text)


def test_a_duration_read_per_cell_has_a_column_wide_enough_for_its_longest_cell():
    """Latency at 7d, row etl-nightly / run_query (the table's tenth row): p95 4.01 s read "…c, 10 ms", p50 2.54 s
    ", 540 ms": the grid sized the per-cell columns ("4 sec, 10 ms") by their first rows ("10 ms")."""
    frame = pd.DataFrame({"workflow": ["w"] * 10, "step": [f"s{i}" for i in range(10)],
                          "p50_ms": [6.0, 149.0, 0.4, 10_000.0, 324.0, 130.0, 6.0, 30_000.0, 142.0, 2_540.0],
                          "p95_ms": [10.0, 240.0, 1.0, 10_000.0, 482.0, 182.0, 10.0, 30_000.0, 220.0, 4_010.0],
                          "p99_ms": [10.0, 295.0, 1.0, 10_000.0, 495.0, 213.0, 10.0, 30_000.0, 257.0, 4_960.0]})
    shown, config = _table(frame)
    for column, longest in (("p50_ms", "2 sec, 540 ms"), ("p95_ms", "10 sec"), ("p99_ms", "4 sec, 960 ms")):
        assert config[column]["type_config"]["format"] == "localized", config[column]   # read per cell
        assert _fits(config[column].get("width"), longest), (column, config[column])
    assert readable.localized_duration(shown["p95_ms"].iloc[-1]) == "4 sec, 10 ms"


@pytest.mark.parametrize("ms,text", [(4_010.0, "4 sec, 10 ms"), (0.0, "0 sec"), (-233.0, "-233 ms"),
                                     (3 * 86_400_000.0 + 120_000.0, "3 days, 2 min"), (86_400_000.0, "1 day"),
                                     (0.4, "400 μs")])
def test_the_width_is_measured_on_the_text_the_grid_writes(ms, text):
    assert readable.localized_duration(pd.Timedelta(milliseconds=ms)) == text


def test_a_step_s_error_parent_and_cause_are_as_wide_as_their_text():
    """The run page's step table read the failing step's error "BadGate…", its parent "For_each…" and its
    cause off screen at 1366 px: the grid sized those columns by their headers."""
    frame = pd.DataFrame({"step": ["Post_summary", "Upsert_contact"], "error": ["BadGateway", None],
                          "parent": [None, "For_each_contact"], "type": ["task", "task"], "visits": [1, 50],
                          "total_ms": [161.0, 16_254.0], "cause": ["webhook returned 502", None]})
    _, config = _table(frame)
    assert _fits(config["error"].get("width"), "BadGateway"), config["error"]
    assert _fits(config["parent"].get("width"), "For_each_contact"), config["parent"]
    assert _fits(config["cause"].get("width"), "webhook returned 502"), config["cause"]
    _, labelled = _table(frame.rename(columns={"error": "a_error"}),
                         {"a_error": {"label": "A error", "type_config": {"type": "text"}}})
    assert labelled["a_error"]["label"] == "A error" and _fits(labelled["a_error"].get("width"), "BadGateway")


def test_the_run_page_puts_the_error_and_its_cause_beside_the_step(three_cloud_store, monkeypatch):
    from flowscope.store import Store

    failed = Store.open(three_cloud_store).sql(
        "select execution_id from executions where status = 'FAILED' order by started_at desc limit 1")
    at = open_page(app(three_cloud_store, monkeypatch, window="7d", exec=failed["execution_id"].iloc[0]),
                   "executions")
    no_exception(at)
    steps = next(d for d in at.dataframe if "total_ms" in d.value.columns and "cause" in d.value.columns)
    assert list(steps.value.columns[:4]) == ["step", "error", "cause", "parent"], list(steps.value.columns)


def test_compare_puts_the_times_and_errors_before_visits_and_retries(three_cloud_store, monkeypatch):
    at = open_page(app(three_cloud_store, monkeypatch), "compare")
    no_exception(at)
    table = next(d for d in at.dataframe if "delta_ms" in d.value.columns)
    assert list(table.value.columns[:7]) == ["step", "parent", "a_ms", "b_ms", "delta_ms", "a_error", "b_error"]
    config = {k.removeprefix("col:"): v for k, v in json.loads(table.proto.columns).items()}
    assert isinstance(config["a_error"].get("width"), int), config["a_error"]


def test_compare_of_a_run_with_itself_reads_no_change_unsigned_over_numbers(three_cloud_store, monkeypatch):
    """Run A against itself: every "B − A" is nil, "0 s" (not "+0.000 s"), drawn over the numbers the
    column keeps (it sorts by value), by a NumberColumn without a format of its own."""
    at = open_page(app(three_cloud_store, monkeypatch), "compare")
    at.text_input(key="cmp-b").set_value(at.text_input(key="cmp-a").value).run()
    no_exception(at)
    assert "same run" in " ".join(i.value for i in at.info)
    table = next(d for d in at.dataframe if "delta_ms" in d.value.columns)
    deltas = table.value["delta_ms"]
    assert pd.api.types.is_float_dtype(deltas) and (deltas.dropna() == 0).all() and deltas.notna().any()
    text = dataframe_util.convert_arrow_bytes_to_pandas_df(table.proto.arrow_data.styler.display_values)
    unit = re.fullmatch(r"0 (ms|s|min|h|d)", text["delta_ms"].dropna().iloc[0])
    assert unit, text["delta_ms"].tolist()
    assert text["delta_ms"].tolist() == [f"0 {unit.group(1)}" if pd.notna(v) else BLANK for v in deltas]
    config = {k.removeprefix("col:"): v for k, v in json.loads(table.proto.columns).items()}
    assert config["delta_ms"]["label"] == "B − A" and "format" not in config["delta_ms"]["type_config"]
    assert config["delta_ms"]["help"].startswith("Run B's time"), "the page's help is kept"


# ---------------------------------------------------------------- money in the metric tiles


@pytest.mark.parametrize("value,text", [(0.655, "$0.66"), (1.8, "$1.80"), (0.01, "$0.01"), (0.0099996, "$0.01"),
                                        (0.0034, "$0.0034"), (0.000025, "$0.000025"), (123.4, "$123"),
                                        (-0.138, "-$0.14"), (0, "$0")])
def test_a_tile_reads_money_in_cents_when_cents_suffice(value, text):
    """Overview's tiles read Azure "Spend in window $0.6550" beside AWS "$1.80", deltas "+$0.2304": the tables'
    rule (`dollar` when cents suffice) now, an amount under a cent at the precision it needs."""
    assert fmt_usd(value, cents=True) == text


def test_a_tile_s_money_change_is_in_cents_too():
    assert fmt_usd_change(0.8854, 0.655, cents=True) == "+$0.23"
    assert fmt_usd_change(0.5170, 0.655, cents=True) == "-$0.14"
    assert fmt_usd_change(0.655, 0.655, cents=True) == "$0" and not is_change("$0")
    assert fmt_usd_change(0.0101, 0.01, cents=True) == "+$0.0001"


def test_overview_tiles_say_money_as_the_tables_do(three_cloud_store, monkeypatch):
    at = open_page(app(three_cloud_store, monkeypatch), "overview")
    no_exception(at)
    money = {label: value for label, value in metrics(at).items() if value.startswith(("$", "-$"))}
    assert money, metrics(at)
    for label, value in money.items():
        amount = float(value.lstrip("-$").replace(",", ""))
        assert amount < 0.01 or not re.search(r"\.\d{3,}$", value), (label, value)
    deltas = [m.proto.delta for m in at.metric if "$" in (m.proto.delta or "")]
    for delta in deltas:
        amount = float(delta.lstrip("+-$").replace(",", ""))
        assert amount < 0.01 or not re.search(r"\.\d{3,}$", delta), delta


# ---------------------------------------------------------------- a signed zero


def test_a_difference_that_reads_zero_is_unsigned_with_the_column_s_unit():
    """Compare, row Recurrence: A 0.003 s, B 0.003 s, "B − A" read "+0.000 s" (the grid's printf signs every
    number not below zero). A change is signed, no change reads 0 (`format.is_change`). The column stays
    numbers (it sorts by value: as text, "+0.104 s" sorted before "-3.292 s" and "0 s"), the text drawn
    over them by a pandas Styler, and its NumberColumn has no format (one would be drawn instead)."""
    frame = pd.DataFrame({"step": ["For_each_contact", "Post_summary", "Recurrence", "List_contacts", "Wait"],
                          "a_ms": [16_354.0, 161.0, 3.0, 504.0, None], "b_ms": [13_062.0, 265.0, 3.0, 504.0, 900.0],
                          "delta_ms": [-3_292.0, 104.0, 0.0, -0.0, None]})
    config = {"delta_ms": {"label": "B − A", "type_config": {"type": "number", "format": "%+d"}}}
    values, text, given = _drawn(frame, config)
    assert pd.api.types.is_float_dtype(values["delta_ms"])
    assert values["delta_ms"].tolist()[:4] == pytest.approx([-3.292, 0.104, 0.0, 0.0])
    assert text is not None and text["delta_ms"].tolist() == ["-3.292 s", "+0.104 s", "0 s", "0 s", BLANK]
    assert not any(is_change(c) for c in text["delta_ms"].iloc[2:])
    assert given["delta_ms"]["label"] == "B − A" and given["delta_ms"]["type_config"] == {"type": "number"}
    # the other columns keep their formats (the grid draws a format over a Styler's text) and their text
    assert given["a_ms"]["type_config"]["format"] == "%.3f s"
    assert text["step"].tolist() == frame["step"].tolist()
    # no cell reading zero: no Styler, the column keeps its "+" format
    values, text, given = _drawn(frame.iloc[:2], config)
    assert text is None
    assert pd.api.types.is_float_dtype(values["delta_ms"]) and given["delta_ms"]["type_config"]["format"] == "%+.1f s"


@pytest.mark.parametrize("value,template,text", [
    (0.0, "%+.3f s", "0 s"), (-0.0, "%+.3f s", "0 s"), (0.0004, "%+.3f s", "0 s"), (-0.0004, "%+.3f s", "0 s"),
    (0.104, "%+.3f s", "+0.104 s"), (-3.292, "%+.3f s", "-3.292 s"), (0.4, "%+d ms", "0 ms"), (7.0, "%+d ms", "+7 ms"),
    (None, "%+.3f s", BLANK), (float("nan"), "%+.3f s", BLANK), (pd.NA, "%+d ms", BLANK), (0.0, "%+.1f", "0")])
def test_a_signed_cell_reads_a_change_signed_and_no_change_unsigned(value, template, text):
    assert readable.signed_text(value, template) == text


def test_only_a_signed_column_with_a_cell_reading_zero_is_drawn_over_its_numbers():
    shown = readable.Shown("B − A", "%+.3f s")
    assert readable.unsigned_zeros(pd.Series([0.5, 0.0]), shown) == readable.Shown("B − A", "%+.3f s",
                                                                                  readable.SIGNED)
    assert readable.unsigned_zeros(pd.Series([0.5, -0.0004]), shown).kind == readable.SIGNED
    assert readable.unsigned_zeros(pd.Series([0.5, -0.5, None]), shown) is None
    assert readable.unsigned_zeros(pd.Series([0.5, 0.0]), readable.Shown("a", "%.3f s")) is None
    assert readable.unsigned_zeros(pd.Series([0.5, 0.0]), readable.Shown("a", "localized")) is None


# ---------------------------------------------------------------- a finding link naming a workflow by its name


def test_a_link_naming_a_workflow_by_name_says_so_and_claims_no_filter(three_cloud_store, monkeypatch):
    """/latency?wf=crm-export&step=NoSuchStep warned "names crm-export, not in this store" (a workflow is named so:
    `wf=` takes its id) and noted "From a finding: the page is filtered to its workflow", a filter left out."""
    from tests.ui.helpers import WORKFLOWS

    orders = WORKFLOWS[0]
    at = open_page(app(three_cloud_store, monkeypatch, window="7d", wf=orders.name, step="NoSuchStep"), "latency")
    no_exception(at)
    warned = " ".join(w.value for w in at.warning)
    assert "a workflow's name where its id is needed" in warned, warned
    from flowscope.textsafety import markdown_text

    assert markdown_text(orders.workflow_id) in warned, "the id to use"
    assert "not in this store" not in warned, warned
    noted = " ".join(i.value for i in at.info)
    assert "From a finding" in noted and "NoSuchStep" in noted, noted
    assert "filtered to its workflow" not in noted, noted
    # an id that is no workflow's is still "not in this store"; a link with its workflow still says it filters
    gone = open_page(app(three_cloud_store, monkeypatch, window="7d", wf="no-such-id", step="X"), "latency")
    assert "not in this store" in " ".join(w.value for w in gone.warning)
    kept = open_page(app(three_cloud_store, monkeypatch, window="7d", wf=orders.workflow_id, step="X"), "latency")
    assert "filtered to its workflow" in " ".join(i.value for i in kept.info)

