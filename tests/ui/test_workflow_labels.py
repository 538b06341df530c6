"""Workflows that share a name (one state machine per region, one Logic App per resource group) read
apart on every page: tables, charts by "workflow / step" and the sidebar's workflow filter."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from flowscope.store import Store
from flowscope.ui import readable
from tests.ui import helpers
from tests.ui.test_pages import app, no_exception, open_page, page_charts

EAST = helpers.WORKFLOWS[0]
WEST = dataclasses.replace(EAST, workflow_id="arn:aws:states:eu-west-1:111:stateMachine:orders", region="eu-west-1")


@pytest.fixture(scope="module")
def twin_store(tmp_path_factory, monkeypatch_module) -> str:
    """The three-cloud store with a second "orders" state machine, in eu-west-1."""
    monkeypatch_module.setattr(helpers, "WORKFLOWS", [*helpers.WORKFLOWS, WEST])
    path = tmp_path_factory.mktemp("ui-twins")
    Store(path).write(helpers.build(400, days=6))
    return str(path)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_workflow_labels_name_what_tells_workflows_sharing_a_name_apart():
    options = pd.DataFrame({
        "cloud": ["aws", "aws", "aws", "azure", "gcp", "gcp"],
        "workflow_id": ["arn:aws:states:us-east-1:111:stateMachine:orders",
                        "arn:aws:states:eu-west-1:111:stateMachine:orders",
                        "arn:aws:states:us-east-1:111:stateMachine:billing",
                        "/subscriptions/s/resourcegroups/rg/providers/microsoft.logic/workflows/orders",
                        "projects/a/locations/l/workflows/etl", "projects/b/locations/l/workflows/etl"],
        "workflow_name": ["orders", "orders", "billing", "orders", "etl", "etl"]})
    assert readable.workflow_labels(options) == {
        ("aws", "arn:aws:states:us-east-1:111:stateMachine:orders"): "orders (aws · us-east-1)",
        ("aws", "arn:aws:states:eu-west-1:111:stateMachine:orders"): "orders (aws · eu-west-1)",
        ("azure", "/subscriptions/s/resourcegroups/rg/providers/microsoft.logic/workflows/orders"): "orders (azure)",
        ("gcp", "projects/a/locations/l/workflows/etl"): "etl (a)",
        ("gcp", "projects/b/locations/l/workflows/etl"): "etl (b)"}
    labelled = readable.workflow_labels(options, with_cloud=True)
    assert labelled[("aws", "arn:aws:states:us-east-1:111:stateMachine:billing")] == "billing (aws)"
    assert list(labelled) == list(zip(options["cloud"], options["workflow_id"], strict=True)), "options' order kept"


def test_a_frame_of_workflows_reads_them_apart_and_keeps_the_others():
    labels = {("aws", "w2"): "orders (eu-west-1)", ("aws", "w1"): "orders (us-east-1)"}
    frame = pd.DataFrame({"cloud": ["aws", "aws", "gcp"], "workflow": ["orders", "orders", "etl"],
                          "workflow_id": ["w1", "w2", "w3"], "runs": [1, 2, 3]})
    out = readable.with_workflow_labels(frame, labels)
    assert out.to_dict("list") == {"cloud": ["aws", "aws", "gcp"],
                                   "workflow": ["orders (us-east-1)", "orders (eu-west-1)", "etl"],
                                   "workflow_id": ["w1", "w2", "w3"], "runs": [1, 2, 3]}
    assert frame["workflow"].tolist() == ["orders", "orders", "etl"], "the cached frame is not changed"


def test_two_state_machines_named_alike_read_apart_in_tables_charts_and_the_sidebar(twin_store, monkeypatch):
    """They read "orders · aws" twice in every table, the sidebar offered "orders (aws)" twice, and the
    Latency page's p95 line of "orders / ChargeCard" zigzagged through both machines' buckets."""
    at = open_page(app(twin_store, monkeypatch, window="7d"), "latency")
    no_exception(at)
    runs = next(d.value for d in at.dataframe if "runs" in d.value.columns)
    assert sorted(runs["workflow"]) == ["etl", "invoices", "orders (eu-west-1)", "orders (us-east-1)"]
    options = at.sidebar.multiselect[1].options
    assert sorted(o for o in options if o.startswith("orders")) == ["orders (aws · eu-west-1)",
                                                                   "orders (aws · us-east-1)"]
    picked = [o for o in at.multiselect(key="lat-pick").options if o.endswith("/ ChargeCard")]
    assert sorted(picked) == ["orders (eu-west-1) / ChargeCard", "orders (us-east-1) / ChargeCard"]
    at.multiselect(key="lat-pick").set_value(picked).run()
    no_exception(at)
    chart = next(c for c in page_charts(at) if c.key == "lat-time")
    traces = {r["name"] for r in helpers.chart_rows(chart.spec) if r.get("name")}
    assert sorted(traces) == sorted(picked)


def _series(at, key: str) -> list[str]:
    chart = next(c for c in page_charts(at) if c.key == key)
    return sorted({r["name"] for r in helpers.chart_rows(chart.spec) if r.get("name")})


def test_failures_and_cost_over_time_draw_each_of_two_workflows_named_alike(twin_store, monkeypatch):
    """The failed-runs chart grouped by workflow name and the cost chart by workflow (and by step) keyed
    its series by name: both "orders" state machines were summed into one series."""
    at = open_page(app(twin_store, monkeypatch, window="7d"), "failures")
    no_exception(at)
    assert [s for s in _series(at, "fail-time") if s.startswith("orders")] == ["orders (eu-west-1)",
                                                                             "orders (us-east-1)"]
    at = open_page(app(twin_store, monkeypatch, window="7d"), "cost")
    at.radio(key="cost-by").set_value("workflow").run()
    no_exception(at)
    assert [s for s in _series(at, "cost-time") if s.startswith("orders")] == ["orders (eu-west-1)",
                                                                             "orders (us-east-1)"]
    at.radio(key="cost-by").set_value("step").run()
    no_exception(at)
    assert {"orders (eu-west-1) / ChargeCard", "orders (us-east-1) / ChargeCard"} <= set(_series(at, "cost-time"))


def test_a_findings_title_names_its_workflow_told_apart():
    """Titles read "ChargeCard in orders fails 11%" for either "orders" state machine: on Overview's
    "Evidence of finding" list (titles alone) the two findings could not be told apart."""
    labels = {("aws", "w1"): "orders (us-east-1)", ("aws", "w2"): "orders (eu-west-1)"}
    found = pd.DataFrame({
        "cloud": ["aws", "aws", "aws", "aws"], "workflow_id": ["w1", "w2", "w2", "w3"],
        "workflow": ["orders", "orders", "orders", "orders"], "step": ["ChargeCard", None, "orders", "orders"],
        "title": ["ChargeCard in orders fails 11%", "orders got slower: p95 2 s vs 1 s",
                  "orders is 40% of orders's cost", "orders is 40% of orders's cost"]})
    out = readable.with_workflow_labels(found, labels)
    assert out["title"].tolist() == ["ChargeCard in orders (us-east-1) fails 11%",
                                     "orders (eu-west-1) got slower: p95 2 s vs 1 s",
                                     "orders (eu-west-1): orders is 40% of orders's cost",
                                     "orders is 40% of orders's cost"], "a workflow not told apart keeps its title"


def test_overview_lists_the_findings_of_two_workflows_named_alike_apart(twin_store, monkeypatch):
    at = open_page(app(twin_store, monkeypatch, window="7d"), "overview")
    no_exception(at)
    picker = next(s for s in at.selectbox if s.label == "Evidence of finding")
    titles = list(picker.options)     # as the list shows them
    charge = sorted(t for t in titles if t.startswith("ChargeCard in orders"))
    assert len(charge) == 2 and charge[0].startswith("ChargeCard in orders (eu-west-1)") \
        and charge[1].startswith("ChargeCard in orders (us-east-1)"), titles


def test_the_state_graphs_workflow_list_names_them_as_the_sidebar_does(twin_store, monkeypatch):
    """The Workflows page's graph picker read "orders (eu-west-1) (aws)" where the sidebar reads
    "orders (aws · eu-west-1)": one name per workflow on every page."""
    at = open_page(app(twin_store, monkeypatch, window="7d"), "workflows")
    no_exception(at)
    options = at.selectbox(key="wf-graph").options
    assert sorted(o for o in options if o.startswith("orders")) == ["orders (aws · eu-west-1)",
                                                                   "orders (aws · us-east-1)"], options
    assert sorted(options) == sorted(at.sidebar.multiselect[1].options), "the sidebar's names"


def test_the_labels_are_made_once_per_snapshot_and_name_every_query(twin_store, monkeypatch):
    """Every query a page reads names its workflows by `workflow_labels`, made once per store snapshot (each query
    made them again); the names read the same."""
    import datetime as dt

    from flowscope.analysis.tables import Filters
    from flowscope.model import UTC
    from flowscope.ui import data

    monkeypatch.setenv("FLOWSCOPE_STORE", twin_store)
    data._cached.clear()
    data._labels.clear()
    made: list[int] = []
    real = readable.workflow_labels
    monkeypatch.setattr(readable, "workflow_labels", lambda *a, **k: (made.append(1), real(*a, **k))[1])
    now = dt.datetime.now(UTC)
    f = Filters(now - dt.timedelta(days=7), now)
    table, drivers = data.workflow_table(f), data.cost_drivers(f)
    assert len(made) == 1, made
    told = {w for w in table["workflow"] if w.startswith("orders (")}
    assert told == {"orders (us-east-1)", "orders (eu-west-1)"}, set(table["workflow"])
    assert told <= set(drivers["workflow"]), set(drivers["workflow"])
    data._labels(twin_store, "another snapshot")        # another snapshot's are its own
    assert len(made) == 2, made
