"""One engine: a report's figures are analyze's and the dashboard's for the same window and filters."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from flowscope.analysis import tables as q
from flowscope.cli import app
from flowscope.model import C
from flowscope.report import build_content
from flowscope.store import Store
from tests.report.helpers import END

runner = CliRunner()
UNTIL = END.isoformat()
SINCE = (END - dt.timedelta(days=7)).isoformat()


@pytest.mark.parametrize("filters", [
    pytest.param([], marks=pytest.mark.slow),   # ~7 s each: analyze twice, report once
    pytest.param(["--cloud", "aws"], marks=pytest.mark.slow),
    pytest.param(["--workflow", "invoices"], marks=pytest.mark.slow),
    pytest.param(["--cloud", "azure", "--cloud", "gcp"], marks=pytest.mark.slow)])
def test_report_figures_equal_analyze_and_the_dashboard_measures(report_store, tmp_path, filters):
    args = ["--store", report_store, "--since", SINCE, "--until", UNTIL, *filters]
    analyzed = runner.invoke(app, ["analyze", *args, "--format", "json"])
    doc = json.loads(analyzed.stdout)
    clouds = [v for k, v in zip(filters, filters[1:], strict=False) if k == "--cloud"] or None
    workflows = [v for k, v in zip(filters, filters[1:], strict=False) if k == "--workflow"] or None
    store = Store.open(report_store)
    content = build_content(store, since=SINCE, until=END, clouds=clouds, workflows=workflows)

    # the findings and the coverage are analyze's, finding for finding
    assert [f["id"] for f in doc["findings"]] == list(content.findings["id"])
    # to 1e-4: the analyses round a float sum to 4 decimals, and DuckDB's parallel sum can land either
    # side of a rounding boundary from one run to the next (seen: 0.0037 / 0.0038)
    assert [f["monthly_usd"] for f in doc["findings"]] == pytest.approx(list(content.findings["monthly_usd"]),
                                                                         abs=1.01e-4)
    assert doc["counts"]["executions"] == content.coverage.executions
    assert doc["status"] == content.coverage.status
    # the summary per cloud is the dashboard's overview_by_cloud for the same Filters
    con = q.prepare(store.connect().cursor())
    ids = tuple(sorted({w for w in content.findings["workflow_id"].dropna()} | set(content.filters.workflows)))
    assert set(content.filters.workflows) <= set(ids)
    f = q.Filters(since=content.coverage.since, until=content.coverage.until, clouds=tuple(clouds or ()),
                  workflows=content.filters.workflows)
    pd.testing.assert_frame_equal(content.overview, q.overview_by_cloud(con, f))
    pd.testing.assert_frame_equal(content.previous, q.overview_by_cloud(con, f.previous()))
    pd.testing.assert_frame_equal(content.cost_drivers, q.cost_drivers(con, f, limit=10))
    total = content.overview[content.overview[C.cloud] == "total"].iloc[0]
    assert total["executions"] == doc["counts"]["executions"] > 0

    # the written report shows those figures: the CSV summary and the Markdown total
    out = tmp_path / "csv"
    result = runner.invoke(app, ["report", *args, "--format", "csv", "--out", str(out), "--no-history"])
    assert result.exit_code in (0, 3), result.output
    summary = pd.read_csv(out / "summary.csv")
    window = summary[(summary["period"] == "window") & (summary[C.cloud] == "total")].iloc[0]
    assert window["executions"] == total["executions"]
    assert window["cost_usd"] == pytest.approx(total["cost_usd"])
    findings = pd.read_csv(out / "findings.csv") if len(content.findings) else pd.DataFrame({"id": []})
    assert list(findings["id"]) == [f["id"] for f in doc["findings"]]


def test_workflow_filter_by_name_narrows_the_measures_to_its_id(report_store):
    store = Store.open(report_store)
    content = build_content(store, since=SINCE, until=END, workflows=["invoices"])
    assert content.filters.workflows == ("/subscriptions/s1/resourcegroups/rg/providers/microsoft.logic/workflows/"
                                         "invoices",)
    assert list(content.overview[C.cloud]) == ["azure", "total"]


@pytest.mark.parametrize("days, covered", [(7, True), (10, False)])
def test_report_compares_with_the_previous_window_by_the_dashboards_rule(report_store, days, covered):
    """The store holds 14 days: a 7-day window's previous 7 are covered, a 10-day window's previous 10
    hold 4 days of data, and neither the report nor the dashboard (filters.time_window, the same rule:
    measures.previous_covered) shows a change against them; the HTML says so by leaving the grey
    previous-period figures out."""
    from flowscope.report.html import render_html
    from flowscope.ui import filters

    content = build_content(Store.open(report_store), since=END - dt.timedelta(days=days), until=END, now=END)
    span = filters.time_window(days, first_data=content.coverage.first, last_data=content.coverage.last,
                               now=END, end_at_now=True)
    assert (span.since, span.until) == (content.filters.since, content.filters.until)
    assert content.previous_has_data is covered
    assert span.previous_has_data is covered
    previous_total = content.previous[content.previous[C.cloud] == "total"]
    assert int(previous_total["executions"].iloc[0]) > 0      # data there: only its coverage is short
    assert ("Grey: the previous period" in render_html(content, charts="cdn")) is covered


def test_the_summary_line_says_the_report_s_figures_as_the_report_formats_them(report_store):
    """A chat message or log line said "spend $0.01" for the $0.0140 the report shows (and "$0.00" for a
    spend under half a cent): its amounts were formatted on their own, not as every other surface."""
    from flowscope.format import fmt_pct, fmt_usd

    content = build_content(Store.open(report_store), since=SINCE, until=END)
    total = content.overview[content.overview[C.cloud] == "total"].iloc[0]
    line = content.summary_line()
    assert 0 < total["cost_usd"] < 1, total        # an amount that two decimals misstate
    assert f"spend {fmt_usd(total['cost_usd'])} " in line
    assert f"({fmt_usd(total['monthly_usd'])}/month projected)" in line
    assert f"run failure rate {fmt_pct(total['failure_rate'])}" in line


def test_the_summary_table_adds_no_unlike_quantities(report_store):
    """The summary export (csv, parquet, xlsx) carried each cloud's "quantity": state transitions,
    GB-seconds and requests added together, a number that means nothing (Overview dropped it first;
    the measure itself no longer makes it)."""
    from flowscope.report.tables import frames

    content = build_content(Store.open(report_store), since=SINCE, until=END)
    assert C.quantity not in content.overview.columns
    assert C.quantity not in frames(content)["summary"].columns
