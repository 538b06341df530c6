"""An SRE's pass over Executions, the run page, Compare runs and Collection health: what a page said
that was wrong or unsaid, each checked against the page as drawn (AppTest)."""

from __future__ import annotations

from flowscope.format import fmt_usd
from tests.ui.test_page_fixes import stuck_store  # noqa: F401 - a fixture
from tests.ui.test_pages import app, metrics, no_exception, open_page
from tests.ui.test_triage import ITERATIONS, LOOP_RUN, loop_store  # noqa: F401 - loop_store: a fixture


def _cmp(at):
    return at.text_input(key="cmp-a").value, at.text_input(key="cmp-b").value


def test_compare_of_a_run_with_itself_says_so(three_cloud_store, monkeypatch):
    """The same id in both boxes read "Both runs took the same path" over a table of zero differences."""
    at = open_page(app(three_cloud_store, monkeypatch), "compare")
    a, _ = _cmp(at)
    at = open_page(app(three_cloud_store, monkeypatch, a=a, b=a), "compare")
    no_exception(at)
    assert any("Run A and run B are the same run" in i.value for i in at.info)


def test_compare_of_two_workflows_says_so(three_cloud_store, monkeypatch):
    """Runs of two workflows read only as "The paths differ", every step listed as in one run alone."""
    at = open_page(app(three_cloud_store, monkeypatch, window="30d"), "executions")
    table = at.dataframe[0].value
    first = table.drop_duplicates("workflow").head(2)
    a, b = first["execution_id"].tolist()
    at = open_page(app(three_cloud_store, monkeypatch, window="30d", a=a, b=b), "compare")
    no_exception(at)
    said = " ".join(i.value for i in at.info).replace("\\", "")
    assert "Runs of two workflows" in said, said
    assert all(w in said for w in first["workflow"]), said


def test_compare_keeps_the_typed_runs_in_the_address(three_cloud_store, monkeypatch):
    """Typing another id compared it, but the address kept the runs of the opening view: a copied link
    opened other runs than the ones on screen."""
    at = open_page(app(three_cloud_store, monkeypatch), "compare")
    no_exception(at)
    a, b = _cmp(at)
    assert (at.query_params.get("a"), at.query_params.get("b")) in ((a, b), ([a], [b]))
    at.text_input(key="cmp-b").set_value(a)
    at.run()
    no_exception(at)
    assert at.query_params.get("b") in (a, [a])


def test_compare_reads_a_running_run_as_the_run_page_does(stuck_store, monkeypatch):  # noqa: F811
    """Compare said "Duration n/a" and left the running step's time out, where the run page says
    "running 3 h" and counts the step's time so far."""
    path, execution_id, step = stuck_store
    at = open_page(app(path, monkeypatch, window="30d", a=execution_id, b=execution_id), "compare")
    no_exception(at)
    assert [m.value for m in at.metric if m.label == "Duration"] == ["running 3 h"] * 2
    table = at.dataframe[0].value
    row = table[table["step"] == step].iloc[0]
    assert row["a_ms"] > 0 and row["b_ms"] > 0, "the running step's time so far"
    run_page = open_page(app(path, monkeypatch, window="30d", exec=execution_id), "executions")
    assert metrics(run_page)["Duration"] == "running 3 h"


def test_the_run_pages_cost_folds_a_loops_iterations(loop_store, monkeypatch):  # noqa: F811
    """The run's cost table listed a row per loop iteration (72 rows of Call_api, each with its step key);
    it is one row per step and meter, with the iterations counted, adding up to the run's Cost."""
    at = open_page(app(loop_store, monkeypatch, exec=LOOP_RUN), "executions")
    no_exception(at)
    cost = next(df.value for df in at.dataframe if "meter" in df.value.columns)
    calls = cost[cost["step"] == "Call_api"]
    assert len(calls) == 1 and calls.iloc[0]["visits"] == ITERATIONS and calls.iloc[0]["parent"] == "For_each"
    assert not cost.duplicated(["step", "parent", "meter"]).any()
    assert metrics(at)["Cost"] == fmt_usd(cost["usd"].sum())


def test_collection_health_names_a_scope_that_never_synced(three_cloud_store, monkeypatch):
    """A scope whose only sync failed has no watermark: "Max lag" read the synced scopes' few minutes and
    its row a blank lag and last success, as if it were the least behind. It is counted and named now."""
    at = open_page(app(three_cloud_store, monkeypatch), "collection_health")
    no_exception(at)
    shown = metrics(at)
    assert shown["Never synced"] == "1"
    assert "Max lag of the synced" in shown
    table = at.dataframe[0].value
    never = table[table["status"].str.contains("never synced")]
    assert len(never) == 1 and never.iloc[0]["status"] == "FAILED, never synced"
