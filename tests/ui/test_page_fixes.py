"""Dashboard defects a review reproduced, one AppTest (or pure-function test) each."""

from __future__ import annotations

import pandas as pd
import pytest

from flowscope.model import C, Cloud
from flowscope.store import Store
from flowscope.textsafety import markdown_text
from tests.ui.helpers import build, chart_layers, chart_rows, chart_texts, drawn_charts, shown_ms
from tests.ui.test_pages import app, metrics, no_exception, open_page


@pytest.fixture(scope="module")
def many_errors_store(tmp_path_factory) -> tuple[str, int, int]:
    """Every failed step visit with an error of its own: more distinct errors than the 50 listed."""
    path = tmp_path_factory.mktemp("ui-many-errors")
    batch = build(1800, days=6, seed=7)
    n = caught = 0
    for row in batch.steps:
        if row.get(C.error):
            n += 1
            row[C.error] = f"Err{n:04d}"
            if n % 2:
                row[C.status] = "CAUGHT"
                caught += 1
    Store(path).write(batch)
    return str(path), n, caught


def test_failures_kpis_count_every_error_not_the_listed_fifty(many_errors_store, monkeypatch):
    """'Distinct errors' read 50 and 'Caught step failures' the caught of those 50 rows."""
    path, n, _ = many_errors_store
    at = open_page(app(path, monkeypatch, window="30d"), "failures")
    no_exception(at)
    shown = metrics(at)
    listed = at.dataframe[0].value
    assert len(listed) == 50 and n > 50
    distinct = int(shown["Distinct errors"].replace(",", ""))
    caught = int(shown["Caught step failures"].replace(",", ""))
    assert distinct > 50, shown
    assert caught > int(listed["caught"].sum()), shown
    assert any(f"of {distinct:,} distinct errors" in c.value for c in at.caption)


def test_workflow_runs_trend_leaves_out_the_partial_days(tmp_path):
    """A window ending 5 minutes into a day drew that day's handful of runs as every sparkline's last
    point (0 on all 12 workflows of the demo), and one beginning 5 minutes into a day drew that day's
    runs less 5 minutes as its first: the trend holds whole days only."""
    import datetime as dt

    from flowscope.analysis import tables
    from flowscope.model import UTC

    t0 = dt.datetime(2026, 11, 1, tzinfo=UTC)
    Store(tmp_path).write(build(300, end=t0 + dt.timedelta(days=6), days=6))
    con = tables.prepare(Store(tmp_path).connect().cursor())
    f = tables.Filters(t0 + dt.timedelta(minutes=5), t0 + dt.timedelta(days=6, minutes=5))
    table = tables.workflow_table(con, f)
    assert {len(t) for t in table["trend"]} == {5}, "five whole days; the days the window begins and ends in left out"
    assert sum(t[0] for t in table["trend"]) > 0 and sum(t[-1] for t in table["trend"]) > 0
    whole = tables.Filters(t0, t0 + dt.timedelta(days=6, minutes=5))
    assert {len(t) for t in tables.workflow_table(con, whole)["trend"]} == {6}, "a window starting on a day's edge"
    assert sum(sum(t) for t in table["trend"]) <= table["runs"].sum()


@pytest.fixture(scope="module")
def stuck_store(tmp_path_factory) -> tuple[str, str, str]:
    """One run left running, its last step still running (no end, no duration), seen 3 h after it began."""
    import datetime as dt

    path = tmp_path_factory.mktemp("ui-stuck")
    batch = build(60, days=2, clouds=(Cloud.AWS,), failed_scope=False)
    run = next(e for e in batch.executions if e[C.status] == "SUCCEEDED")
    run.update({C.status: "RUNNING", C.ended_at: None, C.duration_ms: None, C.error: None, C.cause: None,
                C.collected_at: run[C.started_at] + dt.timedelta(hours=3)})
    own = sorted((s for s in batch.steps if s[C.execution_id] == run[C.execution_id]
                  and s[C.type] not in ("map", "parallel", "loop", "scope")), key=lambda s: s[C.started_at])
    last = own[-1]
    last.update({C.status: "RUNNING", C.ended_at: None, C.duration_ms: None})
    for later in own[:-1]:
        if later[C.started_at] > last[C.started_at]:
            batch.steps.remove(later)
    Store(path).write(batch)
    return str(path), run[C.execution_id], last[C.name]


def test_a_running_run_says_what_it_waits_in(stuck_store, monkeypatch):
    """A stuck run read 'Duration n/a', no alert, and its running step '0 ms' in the step table."""
    path, execution_id, step = stuck_store
    at = open_page(app(path, monkeypatch, window="30d", exec=execution_id), "executions")
    no_exception(at)
    said = " ".join(w.value for w in at.warning)
    assert "Still running" in said and "after 3 h" in said, said
    assert f"waiting in step **{markdown_text(step)}**" in said, said
    # "running 23 d 5 h" was cut to "running 23 …" in a quarter of a 1366-pixel page: the label says it runs
    assert metrics(at)["Running for"] == "3 h" and "Duration" not in metrics(at)
    table = next(d.value for d in at.dataframe if "total_ms" in d.value.columns)
    row = table[table["step"] == step].iloc[0]
    assert row["running"] == 1
    assert shown_ms(row["total_ms"]) > 0, "its time so far, not 0 ms"


def test_a_workflow_outside_the_chosen_cloud_is_named_not_silently_dropped(three_cloud_store, monkeypatch):
    """An Azure workflow picked, then the cloud aws: the widget still showed the workflow while the
    page counted every AWS workflow, without a word."""
    from tests.ui.helpers import WORKFLOWS

    at = open_page(app(three_cloud_store, monkeypatch, window="7d"), "workflows")
    at.sidebar.multiselect(key="fs_workflows").set_value([WORKFLOWS[1].workflow_id]).run()
    assert not at.warning
    at.sidebar.multiselect(key="fs_clouds").set_value(["aws"]).run()
    no_exception(at)
    said = " ".join(w.value for w in at.warning)
    assert "invoices" in said and "not in the chosen cloud" in said and "every workflow of aws" in said, said


def test_a_links_unknown_workflow_is_named(three_cloud_store, monkeypatch):
    """`?wf=` naming a workflow the store does not hold was dropped without a word (the page showed all)."""
    at = open_page(app(three_cloud_store, monkeypatch, window="7d", wf="gone-workflow"), "failures")
    no_exception(at)
    said = " ".join(w.value for w in at.warning)
    assert "gone" in said and "not in this store" in said, said
    at.run()
    assert "not in this store" in " ".join(w.value for w in at.warning), "still said after a rerun"


def test_a_findings_evidence_link_filters_to_its_workflow_and_puts_its_step_first(three_cloud_store, monkeypatch):
    """Overview's 'evidence: open' added `focus=` that only the Workflows page read: Retries, Failures,
    Cost and Latency opened on everything. The link now filters to the finding's workflow (`wf=`) and
    names its step (`step=`), which every step table puts first."""
    from tests.ui.helpers import WORKFLOWS

    orders = WORKFLOWS[0]
    plain = open_page(app(three_cloud_store, monkeypatch, window="7d", wf=orders.workflow_id), "latency")
    order = list(next(d.value for d in plain.dataframe if "step" in d.value.columns)["step"])
    assert len(order) > 2 and not plain.info
    last = order[-1]
    at = open_page(app(three_cloud_store, monkeypatch, window="7d", wf=orders.workflow_id, step=last), "latency")
    no_exception(at)
    assert any("From a finding" in i.value and last in i.value for i in at.info)
    steps = next(d.value for d in at.dataframe if "step" in d.value.columns)
    assert set(steps["workflow"]) == {"orders"}
    assert list(steps["step"]) == [last, *order[:-1]]


def test_latency_p95_and_previous_p95_share_one_unit_and_no_value_reads_zero():
    """At 24 h the Latency table had "p95" in s and "previous p95" in min (one slow step of 3 h the
    window before), 29 of 69 previous cells reading "0.000 min"."""
    from flowscope.ui import readable

    frame = pd.DataFrame({"workflow": ["w"] * 4, "step": list("abcd"),
                          "p95_ms": [10.0, 180.0, 30_000.0, 1.0],
                          "prev_p95_ms": [10.0, 183.0, 10_776_105.0, 1.0],
                          "total_ms": [5.0, 5.0, 5.0, 5.0]})
    shown, formats = readable.display_frame(frame)
    now, before = formats["p95_ms"].format, formats["prev_p95_ms"].format
    assert now == before, (now, before)
    assert now == "localized", "1 ms beside 3 h: each cell in its own units, none reads 0.000"
    for column in ("p95_ms", "prev_p95_ms"):
        assert [shown_ms(v) for v in shown[column]] == pytest.approx(frame[column].tolist(), rel=0.01), column
    assert formats["total_ms"].format == "%d ms", "a duration not compared keeps its own unit"


def test_a_duration_column_from_milliseconds_to_days_reads_each_cell_in_its_own_units():
    """No one unit reads 40 ms beside 3 days: the column read "0.000667 min" beside "4320.000000 min".
    Such a column is now durations, each cell in its own units ("40 ms", "3 days"), still sorting by value."""
    from flowscope.ui import readable

    frame = pd.DataFrame({"wait_ms": [0.5 * 86_400_000, 3 * 86_400_000 + 123_456, 2 * 86_400_000, 40.4, None],
                          "p95_ms": [0.5, 30.0, 2_000.0, 12_345.6, 9_000_000.0]})
    shown, formats = readable.display_frame(frame)
    for column in ("wait_ms", "p95_ms"):
        assert formats[column].format == "localized", formats   # Streamlit: a duration in its units per cell
        assert pd.api.types.is_timedelta64_dtype(shown[column]), shown.dtypes
    assert shown["wait_ms"].tolist()[:4] == [pd.Timedelta(hours=12), pd.Timedelta(days=3, minutes=2),
                                             pd.Timedelta(days=2), pd.Timedelta(milliseconds=40)]
    assert pd.isna(shown["wait_ms"].iloc[4]), "no duration stays none"
    # each cell to about three digits in its largest unit: "12 sec, 300 ms", not "12 sec, 345 ms, 600 μs"
    assert shown["p95_ms"].tolist() == [pd.Timedelta(microseconds=500), pd.Timedelta(milliseconds=30),
                                        pd.Timedelta(seconds=2), pd.Timedelta(milliseconds=12_300),
                                        pd.Timedelta(hours=2, minutes=30)]


def test_a_duration_column_one_unit_reads_well_in_keeps_it():
    from flowscope.ui import readable

    shown, formats = readable.display_frame(pd.DataFrame({"p95_ms": [900.0, 2_100.0, 45_000.0]}))
    assert formats["p95_ms"].format == "%.1f s" and shown["p95_ms"].tolist() == [0.9, 2.1, 45.0]


@pytest.mark.parametrize("kind, page", [("failing_step", "failures"), ("retry_storm", "retries"),
                                        ("costly_step", "cost"), ("slow_step", "latency")])
def test_evidence_links_carry_the_findings_workflow_and_step(kind, page):
    """The links said focus=<workflow id>, which their pages did not read."""
    import datetime as dt
    from urllib.parse import parse_qs, urlsplit

    from flowscope.analysis.tables import Filters
    from flowscope.model import UTC
    from flowscope.ui import components

    f = Filters(dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 3, 8, tzinfo=UTC), clouds=("azure",))
    url = urlsplit(components.evidence_link(f, kind, "/subs/wf/crm-export", "Post_summary", ["e1"]))
    query = parse_qs(url.query)
    assert url.path == f"/{page}"
    assert query["wf"] == ["/subs/wf/crm-export"] and query["step"] == ["Post_summary"]
    assert query["cloud"] == ["azure"] and "focus" not in query
    assert components.evidence_link(f, "stuck_execution", "w", "s", ["e1"]).startswith("/executions?")


def test_every_finding_kind_links_to_a_page_that_exists():
    """A kind without a page of its evidence linked to "/overview", which Streamlit serves as "Page not
    found" (the default page lives at "/"): every kind has its page, and a link to Overview is "/"."""
    import datetime as dt

    from flowscope.analysis.base import FindingKind
    from flowscope.analysis.tables import Filters
    from flowscope.model import UTC
    from flowscope.ui import components
    from flowscope.ui.app_main import PAGES

    assert set(FindingKind) <= set(components.EVIDENCE_PAGES)
    assert set(components.EVIDENCE_PAGES.values()) <= {name for name, _t, _i in PAGES}
    f = Filters(dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 3, 8, tzinfo=UTC))
    assert components.link("overview", f).startswith("/?window=7d")
    assert components.link("overview") == "/" and components.link("cost") == "/cost"


@pytest.fixture(scope="module")
def no_failures_store(tmp_path_factory) -> str:
    """Runs in the window, none of them failed, nor any step of them."""
    path = tmp_path_factory.mktemp("ui-no-failures")
    batch = build(120, days=4, seed=3)
    for row in batch.executions + batch.steps + batch.attempts:
        if row[C.status] == "FAILED":
            row[C.status], row[C.error], row[C.cause] = "SUCCEEDED", None, None
    Store(path).write(batch)
    return str(path)


def test_no_failed_run_is_said_as_such_not_as_no_data(no_failures_store, monkeypatch):
    """The window holds runs, none failed: the failed-runs chart said "No data in this window"."""

    at = open_page(app(no_failures_store, monkeypatch), "failures")
    no_exception(at)
    assert metrics(at)["Failed executions"] == "0"
    [chart] = [c for c in drawn_charts(at) if c.key == "fail-time"]
    assert chart_texts(chart.spec) == ["No failed executions in this window"]


def test_longest_first_puts_a_stuck_running_run_first(stuck_store):
    """A run still running has no duration, so 'longest first' put it last, though a stuck run is the
    longest of all: it is ordered by its time so far, to when it was last seen running
    (`runs.seen_running`), in both duration orders."""
    import datetime as dt

    from flowscope.analysis import runs
    from flowscope.analysis import tables as q

    path, execution_id, _ = stuck_store
    con = q.prepare(Store.open(path).connect().cursor())
    now = dt.datetime.now(dt.timezone.utc)
    f = q.Filters(now - dt.timedelta(days=30), now + dt.timedelta(hours=1))
    longest, total = runs.search_executions(con, f, sort="longest first")
    assert longest.iloc[0][C.execution_id] == execution_id
    shortest, _ = runs.search_executions(con, f, sort="shortest first", page=runs.page_count(total) - 1)
    assert shortest.iloc[-1][C.execution_id] == execution_id


def test_a_stuck_run_first_in_longest_first_shows_the_time_that_put_it_there(stuck_store, monkeypatch):
    """"Longest first" put a stuck run at the top by its time so far, but its duration cell was blank ("—"),
    the top row of a longest-first list reading as the one with no length. The cell now holds its time so
    far (3 h, to when it was last seen running: `runs.ELAPSED_MS`, as the order reads it), the status beside
    it saying it runs."""
    path, execution_id, _ = stuck_store
    at = open_page(app(path, monkeypatch, window="30d"), "executions")
    at.selectbox(key="ex-sort").set_value("longest first")
    at.run()
    no_exception(at)
    shown = at.dataframe[0].value
    top = shown.iloc[0]
    assert (top[C.execution_id], top[C.status]) == (execution_id, "RUNNING")
    assert shown_ms(top[C.duration_ms]) == pytest.approx(3 * 3_600_000, rel=0.01), top[C.duration_ms]
    durations = [shown_ms(v) for v in shown[C.duration_ms]]
    assert durations == sorted(durations, reverse=True), "the cells read in the order's own figures"


def test_the_run_picked_is_in_the_address(three_cloud_store, monkeypatch):
    """Picking a run left the address as it was (no ?exec=, or the run a link opened), so a link copied
    to a ticket opened another run; the address now names the run on screen."""
    at = open_page(app(three_cloud_store, monkeypatch, window="30d"), "executions")
    no_exception(at)
    row = at.dataframe[0].value.iloc[3]
    execution_id = row[C.execution_id]
    at.session_state["ex-pick"] = (row[C.cloud], execution_id)
    at.run()
    no_exception(at)
    assert at.query_params["exec"] == execution_id
    from urllib.parse import urlencode

    compare = urlencode({"a": execution_id})
    assert any(compare in str(m.value) for m in at.markdown), "the run shown is the one picked"


def test_failure_findings_that_found_nothing_say_so(no_failures_store, monkeypatch):
    """When the analyses found no failing step (no lockstep retries), the Failures (Retries) page's findings
    part drew nothing, as while they had not run: it now says they found none (as the Cost page does)."""
    at = open_page(app(no_failures_store, monkeypatch), "failures")
    no_exception(at)
    said = " ".join(c.value for c in at.caption)
    assert "The failure analyses found no failing step" in said, said
    at = open_page(app(no_failures_store, monkeypatch), "retries")
    no_exception(at)
    said = " ".join(c.value for c in at.caption)
    assert "The analyses found no synchronized retries" in said, said


def test_the_failure_rate_trend_is_the_headlines_rule(tmp_path):
    """Overview's "Run failure rate" is failed / finished runs (`measures.run_failure_rate`); its trend chart
    divided by every run, running ones too, so it read lower than the headline wherever runs were still
    running (every run here failed or is running: the headline reads 100%, the trend read 5-20%)."""
    import datetime as dt

    from flowscope.analysis import tables as q
    from flowscope.ui import charts

    batch = build(120, days=4, seed=3, clouds=(Cloud.AWS,), failed_scope=False)
    for row in batch.executions:
        if row[C.status] != "FAILED":
            row.update({C.status: "RUNNING", C.ended_at: None, C.duration_ms: None, C.error: None, C.cause: None})
    Store(tmp_path).write(batch)
    con = q.prepare(Store.open(str(tmp_path)).connect().cursor())
    now = dt.datetime.now(dt.timezone.utc)
    f = q.Filters(now - dt.timedelta(days=7), now + dt.timedelta(hours=1))
    overview, _, trend = q.overview_and_trend(con, f, with_previous=False)
    assert overview.iloc[-1]["failure_rate"] == 1.0
    drawn = [r["y"] for r in chart_rows(charts.kpi_trends(trend)["failure_rate"], "line") if r["y"] is not None]
    assert drawn and all(y == 1.0 for y in drawn), drawn


def test_per_cloud_numbers_add_no_unlike_quantities(three_cloud_store, monkeypatch):
    """Overview's "Per-cloud numbers" listed a "quantity" per cloud: state transitions, GB-seconds and
    requests added together (AWS: 69,680.03 on the demo), a number that means nothing."""
    at = open_page(app(three_cloud_store, monkeypatch), "overview")
    no_exception(at)
    [per_cloud] = [d.value for d in at.dataframe if {"cloud", "executions"} <= set(d.value.columns)]
    assert "quantity" not in per_cloud.columns
    assert {"cost_usd", "failure_rate", "monthly_usd"} <= set(per_cloud.columns)


def test_overview_says_when_its_findings_table_is_not_every_finding(three_cloud_store, monkeypatch):
    """Overview lists the 20 most severe findings beside a "Findings" count of every one; on a 30-day demo
    window (22) two were missing from the table and its CSV without a word."""
    from flowscope.ui import components

    monkeypatch.setattr(components, "TOP_FINDINGS", 2)
    at = open_page(app(three_cloud_store, monkeypatch), "overview")
    no_exception(at)
    total = int(metrics(at)["Findings"].replace(",", ""))
    assert total > 2
    said = " ".join(c.value for c in at.caption)
    assert f"The 2 most severe of {total:,} findings" in said, said


def test_a_collection_gaps_evidence_link_names_no_workflow_filter(three_cloud_store, monkeypatch):
    """A collection gap's workflow id is its scope (`gcp:projects/...`): its 'evidence: open' link put the
    scope in `wf=`, so Collection health opened under "The link's workflow filter names gcp:projects/...,
    not in this store, so left out". The page has no workflow filter: the link names none."""
    import datetime as dt
    from urllib.parse import parse_qs, urlsplit

    from flowscope.analysis.tables import Filters
    from flowscope.model import UTC
    from flowscope.ui import components
    from tests.ui.helpers import FAILED_SCOPE

    f = Filters(dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 3, 8, tzinfo=UTC), clouds=("gcp",))
    url = urlsplit(components.evidence_link(f, "collection_gap", FAILED_SCOPE, None, []))
    assert url.path == "/collection_health"
    assert parse_qs(url.query) == {"window": ["7d"], "cloud": ["gcp"]}
    at = open_page(app(three_cloud_store, monkeypatch, **{k: v[0] for k, v in parse_qs(url.query).items()}),
                   "collection_health")
    no_exception(at)
    assert not [w.value for w in at.warning if "link" in w.value]


@pytest.fixture(scope="module")
def old_store(tmp_path_factory) -> str:
    """Data that ends three days before now (an import, a sync that stopped)."""
    import datetime as dt

    from flowscope.model import UTC

    end = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=3)
    path = tmp_path_factory.mktemp("ui-old")
    Store(path).write(build(150, end=end, days=6))
    return str(path)


def test_links_to_other_pages_keep_the_window_ending_now(old_store, monkeypatch):
    """With *End the window now* ticked, a link to another page (a sample run, a finding's evidence, a
    run's comparison) opened a new session on the window ending at the data: another window, other
    numbers, the box unticked. The links now carry `end=now` as the page's own address does."""
    from urllib.parse import parse_qs, urlsplit

    at = open_page(app(old_store, monkeypatch, window="7d", end="now"), "failures")
    no_exception(at)
    assert at.sidebar.checkbox[0].value is True
    sample = next(d.value for d in at.dataframe if "sample" in d.value.columns)["sample"]
    assert len(sample) and all(parse_qs(urlsplit(u).query).get("end") == ["now"] for u in sample), list(sample)
    at.sidebar.checkbox[0].uncheck().run()
    sample = next(d.value for d in at.dataframe if "sample" in d.value.columns)["sample"]
    assert all("end" not in parse_qs(urlsplit(u).query) for u in sample), list(sample)


@pytest.fixture(scope="module")
def silent_cloud_store(tmp_path_factory) -> str:
    """Azure and GCP run to the end; AWS stopped 36 hours before it (a sync that stopped)."""
    import datetime as dt

    from flowscope.model import UTC

    end = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    path = tmp_path_factory.mktemp("ui-silent")
    store = Store(path)
    store.write(build(120, end=end, days=6, clouds=(Cloud.AZURE, Cloud.GCP), failed_scope=False))
    store.write(build(60, end=end - dt.timedelta(hours=36), days=4, clouds=(Cloud.AWS,), failed_scope=False,
                      seed=5))
    return str(path)


def test_overview_says_a_cloud_that_ran_the_window_before_and_not_in_this_one(silent_cloud_store, monkeypatch):
    """AWS ran 6 times the day before and not at all in the last 24 h: Overview drew Azure, GCP and the
    total (-13) with no AWS section, so a cloud gone silent looked like a cloud never collected."""
    at = open_page(app(silent_cloud_store, monkeypatch, window="24h"), "overview")
    no_exception(at)
    headers = [h.value for h in at.subheader][:4]
    assert headers == ["Azure Logic Apps", "GCP Workflows", "AWS Step Functions", "All clouds"], headers
    said = [w.value for w in at.warning if "No executions in this window" in w.value]
    assert said == ["**No executions in this window**, against 6 in the previous one. Check Collection health "
                    "(a sync that stopped or fails) before reading it as quiet."], said


def test_a_links_unknown_parameter_is_named_not_ignored(three_cloud_store, monkeypatch):
    """`?workflow=orders` (the sidebar's filter is `wf=`, a workflow id) filtered nothing and said nothing:
    the page showed every workflow as if asked for. Parameters no page reads are now named in a warning
    until a filter is changed; the ones pages read are not."""
    at = open_page(app(three_cloud_store, monkeypatch, window="7d", workflow="orders"), "failures")
    no_exception(at)
    said = [w.value for w in at.warning if "not a parameter" in w.value]
    assert said == ["**The link's “workflow” is not a parameter of this dashboard, so it filters nothing:** the "
                    "filters are window=, cloud= and wf= (a workflow's id), as the sidebar writes them."], said
    at.run()
    assert [w.value for w in at.warning if "not a parameter" in w.value] == said, "said until a filter changes"
    at.sidebar.selectbox[0].set_value("3d").run()
    assert not [w.value for w in at.warning if "not a parameter" in w.value]
    known = open_page(app(three_cloud_store, monkeypatch, window="7d", step="ChargeCard", exec="x", a="1"),
                      "failures")
    no_exception(known)
    assert not [w.value for w in known.warning if "parameter" in w.value]


def test_overviews_failed_collection_banner_keeps_to_the_chosen_clouds(three_cloud_store, monkeypatch):
    """Overview filtered to AWS said "Collection failed for 1 scope(s). Their executions are missing from
    every number below" about a GCP scope: the AWS numbers below were complete."""
    from tests.ui.helpers import FAILED_SCOPE

    def banner(at) -> list[str]:
        return [e.value for e in at.error if "Collection failed" in e.value]

    at = open_page(app(three_cloud_store, monkeypatch, window="7d", cloud="aws"), "overview")
    no_exception(at)
    assert banner(at) == []
    at = open_page(app(three_cloud_store, monkeypatch, window="7d", cloud="gcp"), "overview")
    assert len(banner(at)) == 1 and markdown_text(FAILED_SCOPE) in banner(at)[0]
    at = open_page(app(three_cloud_store, monkeypatch, window="7d"), "overview")
    assert len(banner(at)) == 1


def test_an_express_workflows_steps_read_no_cost_not_zero_each(demo, monkeypatch):
    """An Express workflow is billed per execution (requests, GB-seconds): the Workflows page's step table
    read "$0.00" on every step and "Cost by step" drew zero bars beside the workflow's spend. Its steps'
    cost is now blank and the chart says the workflow is billed per execution."""

    store, _con, _f = demo
    at = open_page(app(str(store.path), monkeypatch, window="7d"), "workflows")
    no_exception(at)
    box = at.selectbox(key="wf-graph")
    express = next(i for i, label in enumerate(box.options) if "clickstream" in label)
    box.select_index(express).run()
    no_exception(at)
    steps = next(d.value for d in at.dataframe if "visits" in d.value.columns and "type" in d.value.columns)
    assert len(steps) and steps["cost_usd"].isna().all(), steps
    chart = next(c for c in drawn_charts(at) if c.key == "wf-cost")
    assert not chart_layers(chart.spec, "bar") and "Billed per execution, not per step" in chart_texts(chart.spec)[0]


def test_an_express_workflows_graph_painted_by_cost_reads_no_step_cost(demo, monkeypatch):
    """Painted by cost, an Express workflow's graph labelled every step "$0.00" (all one pale green) beside a
    spend of dollars: it is billed per execution. Its nodes now read no cost and the graph's title says why."""
    store, _con, _f = demo
    at = open_page(app(str(store.path), monkeypatch, window="7d"), "workflows")
    box = at.selectbox(key="wf-graph")
    box.select_index(next(i for i, label in enumerate(box.options) if "clickstream" in label)).run()
    at.radio(key="wf-metric").set_value("cost_usd").run()
    no_exception(at)
    from tests.ui.helpers import drawn_charts

    spec = next(c for c in drawn_charts(at) if c.key == "graph").spec
    labels = [r["label"] for layer in spec["layer"] if layer.get("name") == "labels" for r in layer["data"]["values"]]
    assert labels and not [t for t in labels if "$" in t], labels
    painted = next(layer for layer in spec["layer"] if layer.get("name") == "painted")
    assert not painted["data"]["values"], "no step is painted by a cost it has not"
    assert "billed per execution" in spec["title"]["text"], spec["title"]


def test_a_links_run_id_that_is_no_whole_id_is_said_not_taken_for_the_run(three_cloud_store, monkeypatch):
    """`?exec=exec-00001` (an id cut short) opened the first run whose id contains it as if it were the
    run linked, and wrote that run's id to the address. The page now says no run has that id."""
    at = open_page(app(three_cloud_store, monkeypatch, window="7d", exec="exec-00001"), "executions")
    no_exception(at)
    said = [i.value for i in at.info if "No run has the link's id" in i.value]
    assert len(said) == 1 and "exec\\-00001" in said[0] and "contain it" in said[0], [i.value for i in at.info]
    whole = open_page(app(three_cloud_store, monkeypatch, window="7d", exec=at.selectbox(key="ex-pick").value[1]),
                      "executions")
    assert not [i.value for i in whole.info if "No run has the link's id" in i.value]


def test_a_links_unknown_focus_workflow_is_said(three_cloud_store, monkeypatch):
    """Workflows' `?focus=<id>` naming no workflow of the window opened the default graph in silence."""
    from tests.ui.helpers import WORKFLOWS

    at = open_page(app(three_cloud_store, monkeypatch, window="7d", focus="gone-workflow"), "workflows")
    no_exception(at)
    assert [i.value for i in at.info if "gone" in i.value] == [
        "The link's workflow “gone\\-workflow” has no run in this window and filters, so the graph opens on the "
        "workflow that needs attention most."]
    at = open_page(app(three_cloud_store, monkeypatch, window="7d", focus=WORKFLOWS[1].workflow_id), "workflows")
    assert not [i.value for i in at.info if "link's workflow" in i.value]
    assert at.selectbox(key="wf-graph").value == ("azure", WORKFLOWS[1].workflow_id)


def test_collection_health_reads_what_a_sync_collected_as_words_not_json(three_cloud_store, monkeypatch):
    """The counts column read `{"executions": 1}` and `{}`: the JSON the store keeps them as."""
    at = open_page(app(three_cloud_store, monkeypatch, window="7d"), "collection_health")
    no_exception(at)
    table = next(d.value for d in at.dataframe if "counts" in d.value.columns)
    assert sorted(set(table["counts"])) == ["Executions: 1.", "—"], set(table["counts"])


def test_latency_says_when_it_measures_only_the_most_visited_steps(three_cloud_store, monkeypatch):
    """The Latency query kept the 200 most visited steps: a larger estate read "Steps measured: 200" and
    counted a slower step past them as not slower, in silence. The page measures up to
    `data.LATENCY_STEPS` and says when it is cut there."""
    from flowscope.ui import data

    at = open_page(app(three_cloud_store, monkeypatch, window="7d"), "latency")
    every = len(next(d.value for d in at.dataframe if "p95_ms" in d.value.columns and "step" in d.value.columns))
    assert metrics(at)["Steps measured"] == f"{every:,}" and every > 5
    assert not [c.value for c in at.caption if "most visited" in c.value]
    monkeypatch.setattr(data, "LATENCY_STEPS", 5)
    at = open_page(app(three_cloud_store, monkeypatch, window="7d"), "latency")
    no_exception(at)
    assert metrics(at)["Steps measured"] == "5+"
    assert [c.value for c in at.caption if "most visited" in c.value] == [
        "Only the 5 most visited steps are measured (and counted as slower) here: a step visited less is left "
        "out. Filter to fewer workflows in the sidebar to see them all."]


def test_a_run_findings_evidence_without_a_sample_opens_its_workflows_runs():
    """A history_limit_risk or stuck_execution finding without sample ids linked to /executions with no
    filter at all: every run of every workflow, not the finding's."""
    import datetime as dt
    from urllib.parse import parse_qs, urlsplit

    from flowscope.analysis.tables import Filters
    from flowscope.model import UTC
    from flowscope.ui import components

    f = Filters(dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 3, 8, tzinfo=UTC))
    url = urlsplit(components.evidence_link(f, "history_limit_risk", "arn:aws:states:r:1:stateMachine:w", None, []))
    assert (url.path, parse_qs(url.query)) == ("/executions", {"window": ["7d"],
                                                               "wf": ["arn:aws:states:r:1:stateMachine:w"]})
    url = urlsplit(components.evidence_link(f, "stuck_execution", "w", "s", ["e1", "e2"]))
    assert (url.path, parse_qs(url.query)) == ("/executions", {"window": ["7d"], "exec": ["e1"]})


def test_retry_delays_of_no_delay_title_their_chart_without_nan(three_cloud_store, monkeypatch):
    """Retries with no delay between tries (a mean of 0 ms) have no coefficient of variation: the chart's
    title read "(mean 0 ms, cv nan)"."""

    from flowscope.ui import data

    def no_delay(f):
        return pd.DataFrame([{"cloud": "aws", "workflow": "orders", "workflow_id": "w", "step": "Pay", "retry": 2,
                              "samples": 4, "executions": 4, "mean_delay_ms": 0.0, "std_delay_ms": 0.0,
                              "min_delay_ms": 0.0, "max_delay_ms": 0.0, "cv": float("nan"), "lockstep": False}])

    monkeypatch.setattr(data, "retry_delays", no_delay)
    at = open_page(app(three_cloud_store, monkeypatch, window="7d"), "retries")
    no_exception(at)
    chart = next(c for c in drawn_charts(at) if c.key == "delay-hist")
    title = chart.title
    assert title == "Delays before retry 2 of Pay (mean 0 ms, cv —)", title


def test_retries_says_when_its_tables_and_lockstep_count_are_cut(three_cloud_store, monkeypatch):
    """The Retries queries kept 50 rows: a larger estate's lockstep count ("Steps retrying in lockstep")
    was counted among the 50 most sampled retries only, in silence. The page reads up to
    `data.RETRY_ROWS` and says when it is cut there."""
    from flowscope.ui import data

    at = open_page(app(three_cloud_store, monkeypatch, window="7d"), "retries")
    no_exception(at)
    assert not [c.value for c in at.caption if "filter to fewer workflows" in c.value]
    assert not metrics(at)["Steps retrying in lockstep"].endswith("+")
    monkeypatch.setattr(data, "RETRY_ROWS", 1)
    at = open_page(app(three_cloud_store, monkeypatch, window="7d"), "retries")
    no_exception(at)
    assert metrics(at)["Steps retrying in lockstep"].endswith("+")
    said = [c.value for c in at.caption if "filter to fewer workflows" in c.value]
    assert said == ["The 1 steps with the most retries; filter to fewer workflows to see the rest.",
                    "The 1 most sampled retries (and the lockstep count above among them only); filter to fewer "
                    "workflows to see the rest."], said


def test_failures_says_when_its_failing_steps_are_cut(three_cloud_store, monkeypatch):
    """The failing-steps query kept 50 steps: a larger estate's table stopped there, in silence."""
    from flowscope.ui import data

    at = open_page(app(three_cloud_store, monkeypatch, window="7d"), "failures")
    no_exception(at)
    assert not [c.value for c in at.caption if "most failed visits" in c.value]
    monkeypatch.setattr(data, "FAILING_STEPS", 2)
    at = open_page(app(three_cloud_store, monkeypatch, window="7d"), "failures")
    no_exception(at)
    assert [c.value for c in at.caption if "most failed visits" in c.value] == [
        "The 2 steps with the most failed visits; filter to fewer workflows to see the rest."]


def test_retries_without_a_try_recorded_reads_no_amplification(three_cloud_store, monkeypatch):
    """A window whose runs recorded no tries (history without attempts) read "Amplification 0.00×": at
    least one try per visit is 1.00×, and with none recorded there is no figure."""
    from flowscope.ui import data

    monkeypatch.setattr(data, "retries_over_time",
                        lambda f: pd.DataFrame(columns=["bucket", "cloud", "retries", "tries"]))
    at = open_page(app(three_cloud_store, monkeypatch, window="7d"), "retries")
    no_exception(at)
    assert (metrics(at)["Retries"], metrics(at)["Amplification"]) == ("0", "—")


def test_the_latency_tables_drift_is_in_view_beside_the_step(three_cloud_store, monkeypatch):
    """"Drift per step" listed drift last, after three percentiles, the previous p95 and previous visits: on a
    1366-pixel screen with the sidebar open it was cut off. Drift and the two p95s now follow the names."""
    at = open_page(app(three_cloud_store, monkeypatch, window="24h"), "latency")   # 6 days of data: compared
    no_exception(at)
    steps = next(d.value for d in at.dataframe if "drift" in d.value.columns)
    columns = list(steps.columns)
    assert columns[columns.index("step") + 1:][:4] == ["cloud", "drift", "p95_ms", "prev_p95_ms"], columns


def test_findings_that_price_nothing_read_no_dollars_not_zero(three_cloud_store, monkeypatch):
    """Overview's findings table read "$0.0000" a month beside a failed collection (and a stuck run, a slow
    step): those findings price nothing (the analyses write 0.0), and $0 read as "costs nothing". Only the
    kinds that price something (`measures.PRICED_KINDS`) carry dollars; the others read "—"."""
    from flowscope.analysis import measures

    at = open_page(app(three_cloud_store, monkeypatch, window="7d"), "overview")
    no_exception(at)
    found = next(d.value for d in at.dataframe if "kind" in d.value.columns)
    unpriced = found[~found["kind"].isin(measures.PRICED_KINDS)]
    assert len(unpriced) and unpriced["monthly_usd"].isna().all(), found[["kind", "monthly_usd"]]
    assert found.loc[found["kind"].isin(measures.PRICED_KINDS), "monthly_usd"].notna().all()


def test_a_signed_duration_column_says_which_run_was_slower():
    """Compare runs' "B − A" (`%+d`) must say which run was slower: while one unit reads the column it keeps
    it and its "+"; where none does (1 ms beside 3 hours) it is read per cell, as the run columns beside it,
    a negative difference with its minus (in one unit, 1 ms read "+0.00002 min")."""
    import streamlit as st

    from flowscope.ui import readable

    config = {"delta_ms": st.column_config.NumberColumn("B − A", format="%+d")}
    frame = pd.DataFrame({"a_ms": [2_000.0, 60_000.0], "b_ms": [3_000.0, 30_000.0], "delta_ms": [1_000.0, -30_000.0]})
    shown, formats = readable.display_frame(frame, config)
    assert formats["delta_ms"].format.startswith("%+"), formats
    assert (formats["delta_ms"].format % shown["delta_ms"].iloc[0]).startswith("+")
    wide = pd.DataFrame({"a_ms": [2.0, 10_800_000.0], "b_ms": [3.0, 10_500_000.0], "delta_ms": [1.0, -300_000.0]})
    shown, formats = readable.display_frame(wide, config)
    assert formats["delta_ms"].format == "localized", formats
    assert [shown_ms(v) for v in shown["delta_ms"]] == [1.0, -300_000.0]


def test_latency_over_time_picks_the_new_views_steps_when_the_filter_drops_the_picked_ones(three_cloud_store,
                                                                                          monkeypatch):
    """The "p95 over time" picks were kept across a change of the sidebar's workflow: filtered to a workflow
    none of them belongs to, the picks emptied and the chart drew nothing. The new view's slowest steps are
    picked instead; a pick still in view is kept."""
    at = open_page(app(three_cloud_store, monkeypatch, window="7d"), "latency")
    no_exception(at)
    before = at.multiselect(key="lat-pick").value
    wf = at.sidebar.multiselect[1]
    other = next(o for o in wf.options if not any(p.startswith(o.split(" (")[0] + " / ") for p in before))
    wf.set_value([other]).run()
    no_exception(at)
    picks = at.multiselect(key="lat-pick")
    assert picks.value and set(picks.value) <= set(picks.options), (other, picks.value)
    keep = picks.value[-1]
    picks.set_value([keep]).run()
    at.sidebar.multiselect[1].set_value([]).run()
    assert at.multiselect(key="lat-pick").value == [keep], "a pick still in view is kept"


def test_the_retry_delays_verdict_is_in_view_beside_the_step(three_cloud_store, monkeypatch):
    """"Synchronized retries" listed lockstep and cv last, after four delay statistics: on a 1366-pixel
    screen with the sidebar open the table's verdict was cut off. They now follow the step and retry."""
    at = open_page(app(three_cloud_store, monkeypatch, window="7d"), "retries")
    no_exception(at)
    delays = next(d.value for d in at.dataframe if "lockstep" in d.value.columns)
    columns = list(delays.columns)
    assert columns[columns.index("step") + 1:][:4] == ["cloud", "retry", "lockstep", "cv"], columns


def test_a_row_of_many_metrics_is_split_so_values_fit_at_1366_pixels():
    """Collection health's six metrics in one row left ~150 px each at 1366 px with the sidebar open:
    "Max lag" read "27 min…", cut. More than `components.METRICS_PER_ROW` metrics wrap onto rows of
    equal length."""
    from streamlit.testing.v1 import AppTest

    def six() -> None:
        from flowscope.ui import components as ui

        ui.metric_row([(f"m{i}", "27 min 42 s", None) for i in range(6)])

    at = AppTest.from_function(six).run()
    rows = [b for b in at.main.children.values() if getattr(b, "type", "") == "flex_container"]
    assert [len(r.children) for r in rows] == [3, 3]
    assert [m.label for m in at.metric] == [f"m{i}" for i in range(6)], "in order"


def test_a_metric_that_did_not_change_shows_no_arrow():
    from streamlit.testing.v1 import AppTest

    def metrics() -> None:
        from flowscope.format import fmt_pt_change, fmt_usd_change
        from flowscope.ui import components

        components.metric_row([("Retries", "0.0%", fmt_pt_change(0.0, 0.0), "inverse"),
                               ("Executions", "6,900", "-395"), ("Failure rate", "0.6%", "+0.2 pt", "inverse"),
                               ("Spend", "$2.74", fmt_usd_change(2.74, 2.74))])

    at = AppTest.from_function(metrics).run()
    assert not at.exception
    shown = {m.label: m.proto for m in at.metric}
    for unchanged in ("Retries", "Spend"):         # Streamlit itself draws a rising arrow for "0.0 pt" and "$0"
        assert shown[unchanged].direction == shown[unchanged].NONE and shown[unchanged].color == shown[unchanged].GRAY
    fell, rose = shown["Executions"], shown["Failure rate"]
    assert fell.direction == fell.DOWN and fell.color == fell.RED
    assert rose.direction == rose.UP and rose.color == rose.RED


@pytest.fixture(scope="module")
def redriven_store(tmp_path_factory) -> tuple[str, str]:
    """One run that failed a minute in, was redriven 2 h later (Step Functions keeps its start date) and was
    seen running 3 h after its start: 1 h into its current life."""
    import datetime as dt

    path = tmp_path_factory.mktemp("ui-redriven")
    batch = build(60, days=2, clouds=(Cloud.AWS,), failed_scope=False)
    run = next(e for e in batch.executions if e[C.status] == "SUCCEEDED")
    start = run[C.started_at]
    run.update({C.status: "RUNNING", C.ended_at: None, C.duration_ms: None, C.error: None, C.cause: None,
                C.redrive_count: 1, C.collected_at: start + dt.timedelta(hours=3)})
    own = sorted((s for s in batch.steps if s[C.execution_id] == run[C.execution_id]
                  and s[C.type] not in ("map", "parallel", "loop", "scope")), key=lambda s: s[C.started_at])
    failed, again = own[0], dict(own[0])
    failed.update({C.status: "FAILED", C.started_at: start, C.ended_at: start + dt.timedelta(minutes=1),
                   C.duration_ms: 60_000, C.error: "States.TaskFailed"})
    again.update({C.step_key: f"{failed[C.step_key]}-redriven", C.status: "RUNNING", C.ended_at: None,
                  C.duration_ms: None, C.error: None, C.started_at: start + dt.timedelta(hours=2)})
    batch.steps[:] = [s for s in batch.steps if s[C.execution_id] != run[C.execution_id] or s is failed]
    batch.steps.append(again)
    batch.attempts[:] = [a for a in batch.attempts if a[C.execution_id] != run[C.execution_id]]
    batch.usage[:] = [u for u in batch.usage if u[C.execution_id] != run[C.execution_id]]
    Store(path).write(batch)
    return str(path), run[C.execution_id]


def test_a_redriven_run_says_how_long_its_current_life_has_run(redriven_store, monkeypatch):
    """The stuck check ages a redriven run from its current life; the run page said only "Still running after
    3 h" from its start date (its failure and the 2 h before the redrive included), with no word of the
    redrive: one run, two ages. It now dates the current life by the same rule (`runs.current_life_start`)."""
    path, execution_id = redriven_store
    at = open_page(app(path, monkeypatch, window="30d", exec=execution_id), "executions")
    no_exception(at)
    said = " ".join(w.value for w in at.warning)
    assert "Still running" in said and "after 3 h" in said, said
    assert "redriven" in said and "its current life has run 1 h" in said, said
