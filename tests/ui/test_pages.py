"""Every dashboard page under Streamlit's AppTest: no exception, key numbers, filters that change them,
and helpful states for an empty store, a one-cloud store and a store being written."""

from __future__ import annotations

import threading

import pytest
from streamlit.testing.v1 import AppTest

from flowscope.model import Cloud
from flowscope.store import Store
from flowscope.textsafety import markdown_text
from flowscope.ui import chart_preload
from flowscope.ui.app_main import page_file
from tests.ui.helpers import APP, N, build, drawn_charts

PAGES = ["overview", "workflows", "executions", "failures", "retries", "cost", "latency", "collection_health"]
WINDOWED = [p for p in PAGES if p != "collection_health"]


def app(store: str, monkeypatch, **params: str) -> AppTest:
    monkeypatch.setenv("FLOWSCOPE_STORE", store)
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    return at


def open_page(at: AppTest, page: str) -> AppTest:
    if page != "overview":
        at.switch_page(str(page_file(page)))
    at.run()
    return at


def page_charts(at: AppTest) -> list:
    """The page's own charts: every run also sends the hidden chart that preloads the browser's renderer."""
    return drawn_charts(at)


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def metrics(at: AppTest) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in at.metric:
        out.setdefault(m.label, m.value)
    return out


def snapshot(at: AppTest) -> list:
    """What the page shows, for comparing two filter states: metrics and table shapes, sums and text
    (durations and money read as text with units, so numeric sums alone no longer see them)."""
    shown = [(m.label, m.value) for m in at.metric]
    for df in at.dataframe:
        frame = df.value
        shown.append(frame.shape)
        numeric = frame.select_dtypes("number")
        shown.append(round(float(numeric.sum().sum()), 6) if not numeric.empty else None)
        shown.append(frame.astype(str).to_csv(index=False))
    return shown


@pytest.mark.parametrize("page", ["overview", "collection_health"])
def test_every_run_first_sends_the_hidden_chart_that_preloads_the_renderer(page, three_cloud_store, monkeypatch):
    """The browser loads its chart renderer while the page's queries run (ui/chart_preload.py): the
    hidden chart is the first element of the page, in the container the style hides, on every run."""
    at = open_page(app(three_cloud_store, monkeypatch), page)
    for _ in range(2):
        no_exception(at)
        first = at.main.children[0]
        assert first.key == chart_preload.KEY
        assert [c.key for c in drawn_charts(first, preload=True)] == [chart_preload.CHART_KEY]
        assert any(f".st-key-{chart_preload.KEY}" in h.proto.body and "display: none" in h.proto.body
                   for h in at.get("html"))
        at.run()


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_numbers_and_the_cloud_filter_changes_them(page, three_cloud_store, monkeypatch):
    at = open_page(app(three_cloud_store, monkeypatch), page)
    no_exception(at)
    assert metrics(at), "every page shows headline numbers"
    assert page_charts(at), "every page draws at least one chart"
    before = snapshot(at)
    if page in WINDOWED:
        at.multiselect(key="fs_clouds").set_value(["aws"])
        at.run()
        no_exception(at)
        assert snapshot(at) != before, "the cloud filter changes what the page shows"
        assert at.query_params.get("cloud") in (["aws"], "aws")


def test_overview_key_numbers(three_cloud_store, monkeypatch):
    at = open_page(app(three_cloud_store, monkeypatch), "overview")
    no_exception(at)
    executions = [m.value for m in at.metric if m.label == "Executions"]
    assert executions[:4] == ["100", "100", "100", f"{N}"]   # aws, azure, gcp, total
    assert any("Collection failed for 1 scope" in e.value for e in at.error)
    at.multiselect(key="fs_clouds").set_value(["gcp"])
    at.run()
    assert [m.value for m in at.metric if m.label == "Executions"][:2] == ["100", "100"]


def test_filters_come_from_the_url(three_cloud_store, monkeypatch):
    at = open_page(app(three_cloud_store, monkeypatch, cloud="azure", window="30d"), "overview")
    no_exception(at)
    assert at.selectbox(key="fs_window").value == "30d"
    assert at.multiselect(key="fs_clouds").value == ["azure"]
    assert [m.value for m in at.metric if m.label == "Executions"][0] == "100"


def test_filters_survive_page_switches(three_cloud_store, monkeypatch):
    at = open_page(app(three_cloud_store, monkeypatch), "overview")
    at.multiselect(key="fs_clouds").set_value(["aws"])
    at.selectbox(key="fs_window").set_value("14d")
    at.run()
    for page in ("cost", "failures"):
        open_page(at, page)
        no_exception(at)
        assert at.multiselect(key="fs_clouds").value == ["aws"]
        assert at.selectbox(key="fs_window").value == "14d"


def test_workflow_filter_and_graph_metric(three_cloud_store, monkeypatch):
    at = open_page(app(three_cloud_store, monkeypatch), "workflows")
    assert at.dataframe[0].value.shape[0] == 3
    at.radio(key="wf-metric").set_value("retries")
    at.run()
    no_exception(at)
    options = at.multiselect(key="fs_workflows").options
    at.multiselect(key="fs_workflows").set_value([options[0]])
    at.run()
    no_exception(at)
    assert at.dataframe[0].value.shape[0] == 1


def test_executions_search_by_error_and_id(three_cloud_store, monkeypatch):
    at = open_page(app(three_cloud_store, monkeypatch), "executions")
    total = at.dataframe[0].value.shape[0]
    at.text_input(key="ex-error").set_value("declined")
    at.run()
    no_exception(at)
    declined = at.dataframe[0].value
    assert 0 < len(declined) < total
    assert set(declined["status"]) == {"FAILED"}
    assert any(markdown_text("Payment.Declined") in e.value for e in at.error)   # literal text, escaped
    at.text_input(key="ex-error").set_value("")
    at.text_input(key="ex-id").set_value("exec-000004")
    at.run()
    assert at.dataframe[0].value["execution_id"].str.endswith("exec-000004").all()


def test_cost_page_edges_on_demand(three_cloud_store, monkeypatch):
    at = open_page(app(three_cloud_store, monkeypatch), "cost")
    no_exception(at)
    assert not any("source" in df.value.columns for df in at.dataframe), "edges wait for the toggle"
    spent = next(m.value for m in at.metric if m.label == "Spent on retries")
    assert spent not in ("$0", "$0.00", "$0.0000")
    at.toggle(key="cost-edges").set_value(True)
    at.run()
    no_exception(at)
    edges = next(df.value for df in at.dataframe if "source" in df.value.columns)
    # Money stays a number (sorts by value; its dollar format is the column's): every edge costs something.
    assert len(edges) > 0 and (edges["cost_usd"] > 0).all()


def test_retries_page_shows_lockstep_evidence(three_cloud_store, monkeypatch):
    at = open_page(app(three_cloud_store, monkeypatch), "retries")
    no_exception(at)
    delays = next(df.value for df in at.dataframe if "cv" in df.value.columns)
    charge = delays[delays["step"] == "ChargeCard"].iloc[0]
    assert charge["cv"] == pytest.approx(0.0) and bool(charge["lockstep"])


@pytest.mark.parametrize("page", PAGES)
def test_empty_store_is_a_helpful_state(page, empty_store, monkeypatch):
    at = open_page(app(empty_store, monkeypatch), page)
    no_exception(at)
    text = " ".join(i.value for i in at.info)
    assert "No executions in this store yet" in text or "No collection runs recorded yet" in text


@pytest.mark.parametrize("page", ["overview", "collection_health"])
def test_first_sync_running_is_a_helpful_state(page, syncing_store, monkeypatch):
    at = open_page(app(syncing_store, monkeypatch), page)
    no_exception(at)
    if page == "overview":
        assert any("No executions in this store yet" in i.value for i in at.info)
    else:
        assert any("running" in str(df.value["status"].tolist()) for df in at.dataframe)


@pytest.mark.parametrize("page", PAGES)
def test_one_cloud_store(page, one_cloud_store, monkeypatch):
    at = open_page(app(one_cloud_store, monkeypatch), page)
    no_exception(at)
    assert at.multiselect(key="fs_clouds").options == ["aws"]


def test_window_with_no_data_says_so(one_cloud_store, monkeypatch):
    at = open_page(app(one_cloud_store, monkeypatch, window="24h"), "overview")
    no_exception(at)
    # 90 runs over 6 days: the last day may hold some; a filter to an absent cloud never does.
    at.multiselect(key="fs_clouds").set_value(["aws"])
    at.run()
    no_exception(at)


@pytest.mark.slow  # pages rendered while a writer thread syncs
def test_pages_while_a_sync_writes(tmp_path, monkeypatch):
    """A writer commits batches while every page renders: snapshots keep reads consistent."""
    store = Store(tmp_path)
    store.write(build(60, days=6, seed=1))
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        seed = 10
        try:
            while not stop.is_set():
                store.write(build(30, days=6, seed=seed, clouds=(Cloud.GCP,)))
                stop.wait(0.3)
                seed += 1
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        at = app(str(tmp_path), monkeypatch)
        for page in PAGES:
            open_page(at, page)
            no_exception(at)
    finally:
        stop.set()
        thread.join(60)
    assert not errors, errors
