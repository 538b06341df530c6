"""An SRE's pass over Executions, the run page, Compare runs and Collection health: what a page said
that was wrong or unsaid, each checked against the page as drawn (AppTest)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse

import pytest

from flowscope.analysis import runs
from flowscope.analysis import tables as q
from flowscope.format import fmt_pct, fmt_usd
from flowscope.model import UTC, C, Cloud
from flowscope.store import Store
from flowscope.ui import readable
from tests.ui.helpers import build, chart_rows, shown_ms
from tests.ui.test_page_fixes import stuck_store  # noqa: F401 - a fixture
from tests.ui.test_pages import app, metrics, no_exception, open_page, page_charts
from tests.ui.test_triage import ITERATIONS, LOOP_RUN, MANY, loop_store, many_store  # noqa: F401 - fixtures


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
    said = " ".join(i.value for i in at.info).replace("\\", "").replace("**", "")
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
    assert shown_ms(row["a_ms"]) > 0 and shown_ms(row["b_ms"]) > 0, "the running step's time so far"
    run_page = open_page(app(path, monkeypatch, window="30d", exec=execution_id), "executions")
    assert metrics(run_page)["Running for"] == "3 h"


@pytest.fixture(scope="module")
def halfway_store(tmp_path_factory) -> tuple[str, str]:
    """A run still running in its second step (ChargeCard), the steps after it not reached yet."""
    batch = build(60, days=2, clouds=(Cloud.AWS,), failed_scope=False)
    run = next(e for e in batch.executions if e[C.status] == "SUCCEEDED")
    run.update({C.status: "RUNNING", C.ended_at: None, C.duration_ms: None,
                C.collected_at: run[C.started_at] + dt.timedelta(hours=1)})
    mine = [s for s in batch.steps if s[C.execution_id] == run[C.execution_id]]
    kept = {s[C.step_key] for s in mine if s[C.name] in ("ValidateOrder", "ChargeCard")}
    for table in (batch.steps, batch.attempts, batch.usage):
        table[:] = [r for r in table if r[C.execution_id] != run[C.execution_id] or r[C.step_key] in kept]
    charge = next(s for s in batch.steps if s[C.execution_id] == run[C.execution_id] and s[C.name] == "ChargeCard")
    charge.update({C.status: "RUNNING", C.ended_at: None, C.duration_ms: None, C.error: None, C.cause: None})
    path = tmp_path_factory.mktemp("ui-halfway")
    Store(path).write(batch)
    return str(path), run[C.execution_id]


def test_compare_of_a_running_run_does_not_read_its_steps_to_come_as_another_path(halfway_store, monkeypatch):
    """A run still running against a finished one read "The paths differ. Only in A: none. Only in B: ..." and
    its chart marked every step it had not reached "not run", as if it had taken another path. The page
    says the run is still running, so a step only in the other run may be one it has not reached, and the
    chart marks such a step "not yet"."""
    path, execution_id = halfway_store
    at = open_page(app(path, monkeypatch, window="30d", a=execution_id), "compare")
    no_exception(at)
    a, b = _cmp(at)
    assert a == execution_id and b and b != a, "B: the newest successful run of its workflow"
    table = at.dataframe[0].value
    assert (table["path"] == "only B").any(), "the running run has not reached some steps"
    said = " ".join(w.value for w in at.warning).replace("\\", "")
    assert "still running" in said and "not reached" in said, said
    chart = next(c for c in page_charts(at) if "run A against run B" in c.title)
    marks = [r["mark"] for r in chart_rows(chart.spec, "bar") if r["run"] == "run A"]
    assert "not yet" in marks and "not run" not in marks, marks


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


def test_executions_sort_by_duration_is_over_every_match(many_store, monkeypatch):  # noqa: F811
    """A click on the duration header sorted the 100 runs shown, newest first, of 520 matches: the longest
    run on another page never came to the top. The Order choice sorts every match, and pages follow it."""
    path, batch = many_store
    longest = max((r for r in batch.executions if r[C.duration_ms] is not None),
                  key=lambda r: (r[C.duration_ms], r[C.started_at]))
    at = open_page(app(path, monkeypatch), "executions")
    newest_first = at.dataframe[0].value
    assert longest[C.execution_id] not in set(newest_first[C.execution_id]), "the fixture's longest is not on page 1"
    at.selectbox(key="ex-sort").set_value("longest first")
    at.run()
    no_exception(at)
    shown = at.dataframe[0].value
    assert shown.iloc[0][C.execution_id] == longest[C.execution_id]
    assert shown[C.duration_ms].is_monotonic_decreasing
    assert any("longest first" in c.value for c in at.caption)
    con = q.prepare(Store.open(path).connect().cursor())
    now = dt.datetime.now(UTC)
    f = q.Filters(now - dt.timedelta(days=8), now + dt.timedelta(hours=1))
    seen: list[str] = []
    for page in range(runs.page_count(MANY)):
        rows, _ = runs.search_executions(con, f, page=page, sort="shortest first")
        seen += list(rows[C.execution_id])
    assert len(seen) == len(set(seen)) == MANY, "pages of a duration order never overlap"


def test_executions_table_shows_the_part_of_the_id_that_tells_runs_apart():
    """Ids of one workflow share a long prefix, all that the pinned 200-pixel column showed at 1366 px
    ("projects/flowscope-demo/locatio..." on every GCP row); the "run" column, pinned beside the
    workflow, is the id's last segment."""
    assert runs.short_id("projects/p/locations/us-central1/workflows/etl/executions/3f2c-11") == "3f2c-11"
    assert runs.short_id("arn:aws:states:us-east-1:1:execution:orders:run-1") == "run-1"
    assert runs.short_id("/subscriptions/s/resourcegroups/rg/providers/microsoft.logic/workflows/w/runs/0858") == "0858"
    assert runs.short_id("exec-000004") == "exec-000004"
    assert readable.layout(["workflow", "execution_id", "run", "error", "status"])[1] == ["workflow", "run"]


def test_azure_run_ids_read_by_the_digits_that_tell_them_apart(demo):
    """A Logic Apps run name is 29+ digits and its scale unit ("08586676746934337772206998657CU22"): the
    run column at 1366 px cut every one inside the digits their day's runs share ("0858400000000000000000..."
    on each demo row), so Azure runs read alike. The run column now keeps the name's end, marked cut, and
    that text typed in the id search finds the run."""
    real = "/subscriptions/s/resourcegroups/rg/providers/microsoft.logic/workflows/w/runs/"
    a, b = real + "08586676746934337772206998657CU22", real + "08586676746934337772206998658CU22"
    assert runs.short_id(a) != runs.short_id(b)
    assert runs.short_id(a).startswith("…") and "08586676746934337772206998657CU22".endswith(runs.short_id(a)[1:])
    assert len(runs.short_id(a)) <= 20                   # the pinned 200-pixel column shows about 26 characters
    simulated = [real + f"08584{n:022d}cu{n % 97:02d}" for n in (291, 292, 476)]
    shown = [runs.short_id(i) for i in simulated]
    assert shown == ["…291cu00", "…292cu01", "…476cu88"]
    assert runs.short_id("exec-000004") == "exec-000004"   # an id not of that shape is its last segment
    _store, con, window = demo
    f = q.Filters(window.since, window.until, ("azure",))
    rows, _ = runs.search_executions(con, f, page_size=50)
    assert rows["run"].is_unique and rows["run"].str.startswith("…").all()
    found, _ = runs.search_executions(con, f, execution_id=rows.iloc[0]["run"])
    assert rows.iloc[0][C.execution_id] in set(found[C.execution_id])


def test_an_executions_search_that_finds_nothing_says_what_was_searched(three_cloud_store, monkeypatch):
    """A typo read "0 matching execution(s) ... showing 0–0", "Nothing to show." and a generic "No execution
    matches" at the page's foot; one note now names what found nothing."""
    at = open_page(app(three_cloud_store, monkeypatch), "executions")
    at.text_input(key="ex-step").set_value("ChargeCrad")
    at.run()
    no_exception(at)
    said = " ".join(i.value for i in at.info).replace("\\", "").replace("**", "")
    assert "No execution in this window matches a step named like “ChargeCrad”" in said, said
    assert not any("0–0" in c.value or "Nothing to show" in c.value for c in at.caption)


def test_a_links_bad_window_and_cloud_are_named(three_cloud_store, monkeypatch):
    """`?window=2w` showed 7 days and `?cloud=amazon` every cloud, in silence, as if asked for."""
    at = open_page(app(three_cloud_store, monkeypatch, window="2w", cloud="amazon"), "overview")
    no_exception(at)
    said = " ".join(w.value for w in at.warning).replace("\\", "")
    assert "The link's time window “2w” is not one of 24h, 3d, 7d, 14d, 30d, 90d, so 7d is shown" in said, said
    assert "The link's cloud filter names amazon, not a cloud in this store (aws, azure, gcp)" in said, said
    at.selectbox(key="fs_window").set_value("30d")
    at.run()
    said = " ".join(w.value for w in at.warning)
    assert "time window" not in said and "cloud filter" in said, "each note goes once its filter is changed"
    good = open_page(app(three_cloud_store, monkeypatch, window="30d", cloud="aws"), "overview")
    assert not any("The link's" in w.value for w in good.warning)


def test_a_links_bad_end_and_empty_filters_are_named(three_cloud_store, monkeypatch):
    """`?end=tomorrow` ended the window at the data in silence (only `?end=now` is read), and an empty
    `?cloud=` or `?wf=` (a link built from unset variables) was named as nothing: "names , not a cloud"."""
    at = open_page(app(three_cloud_store, monkeypatch, end="tomorrow", cloud="", wf=""), "overview")
    no_exception(at)
    said = " ".join(w.value for w in at.warning).replace("\\", "")
    assert "The link's end “tomorrow” is not “now”" in said, said
    assert "names an empty value, not a cloud" in said and "names an empty value, not in this store" in said, said
    assert "names ," not in said, said
    at.checkbox(key="fs_end_now").check()
    at.run()
    assert "The link's end" not in " ".join(w.value for w in at.warning), "the note goes once the end is chosen"
    good = open_page(app(three_cloud_store, monkeypatch, end="now"), "overview")
    assert not any("The link's" in w.value for w in good.warning)


def test_latency_tables_are_titled_and_the_default_lines_are_the_slowest(three_cloud_store, monkeypatch):
    """The Latency page's findings and per-workflow durations were two tables without a heading at its foot,
    and with no previous window to measure drift by, "p95 over time" opened on the first three steps by
    visits (a Choice step's 1 ms among them) rather than the slowest."""
    at = open_page(app(three_cloud_store, monkeypatch, window="7d"), "latency")    # 6 days of data: no drift
    no_exception(at)
    heads = [h.value for h in at.subheader]
    assert "Latency findings" in heads and "Execution duration per workflow" in heads, heads
    steps = next(df.value for df in at.dataframe if "p95_ms" in df.value.columns and "step" in df.value.columns)
    labels = steps["workflow"] + " / " + steps["step"]
    assert "drift" not in steps.columns
    slowest = list(labels[steps["p95_ms"].rank(ascending=False, method="first") <= 3])
    assert sorted(at.multiselect(key="lat-pick").value) == sorted(slowest)


def test_a_links_step_that_no_table_holds_is_said(three_cloud_store, monkeypatch):
    """`?step=` naming a step the table does not hold (a typo, another window) still said it "comes first
    in its step tables", over tables that do not have it."""
    from tests.ui.helpers import WORKFLOWS

    orders = WORKFLOWS[0]
    at = open_page(app(three_cloud_store, monkeypatch, window="7d", wf=orders.workflow_id, step="ChargeCrad"),
                   "latency")
    no_exception(at)
    said = " ".join(c.value for c in at.caption).replace("\\", "")
    assert "Step **ChargeCrad**, which the link names, has no row in this table" in said, said
    real = open_page(app(three_cloud_store, monkeypatch, window="7d", wf=orders.workflow_id, step="ChargeCard"),
                     "latency")
    assert not any("has no row in this table" in c.value for c in real.caption)


def test_a_linked_run_outside_the_window_is_said_not_called_no_match(three_cloud_store, monkeypatch):
    """A link to a run older than the sidebar's window (or its whole id typed) read "No execution matches"
    above the run itself, or showed nothing for a typed id; it says the run is outside the window and
    shows it."""
    at = open_page(app(three_cloud_store, monkeypatch, window="30d"), "executions")
    at.selectbox(key="ex-sort").set_value("oldest first")
    at.run()
    eid = at.dataframe[0].value.iloc[0][C.execution_id]         # 6 days old: outside 24 hours
    for params, typed in (({"exec": eid}, None), ({}, eid)):
        at = open_page(app(three_cloud_store, monkeypatch, window="24h", **params), "executions")
        if typed:
            at.text_input(key="ex-id").set_value(typed)
            at.run()
        no_exception(at)
        said = " ".join(i.value for i in at.info).replace("\\", "")
        assert "started outside this window" in said and "No execution in this window" not in said, said
        assert any("Duration" == m.label for m in at.metric), "the run is shown"


def test_compare_puts_a_step_taken_or_retried_a_different_number_of_times_first():
    """A loop of 26 items against one of 35, or a step retried in one run only, sorted among the steps
    that did not differ (below List_contacts and the trigger): only paths and errors counted."""
    import pandas as pd

    from flowscope.model import Batch
    from tests.ui.test_triage import loop_run

    batch = Batch()
    loop_run(batch)
    a = pd.DataFrame(batch.steps)
    a = a.assign(**{C.status: "SUCCEEDED", C.error: None, C.cause: None, C.attempts: 1})
    b = a[~((a[C.name] == "Call_api") & (a[C.iteration] >= 60))]               # 60 iterations, not 72
    b = b.assign(**{C.attempts: [3 if n == "manual" else 1 for n in b[C.name]]})    # the trigger retried twice
    table = runs.compare_runs(a, b)
    assert set(table.head(2)["step"]) == {"Call_api", "manual"}, table
    assert table.iloc[-1]["step"] == "For_each"


def test_the_execution_picker_names_runs_as_the_table_does(three_cloud_store, monkeypatch):
    """The "Execution" box listed 100 whole ids, which for one workflow differ only past where the box cuts
    them ("projects/flowscope-demo/locations/us-central1/workflows/image-pipeline/executions/..."). Each
    choice reads workflow · the id's end · status · start now."""
    at = open_page(app(three_cloud_store, monkeypatch, window="30d"), "executions")
    no_exception(at)
    first = at.dataframe[0].value.iloc[0]
    option = at.selectbox(key="ex-pick").options[0]
    assert option == (f"{first['workflow']} · {first['run']} · {first['status']} · "
                      f"{first['started_at']:%Y-%m-%d %H:%M} UTC"), option


def test_the_status_search_caught_finds_runs_that_handled_a_failure(demo, three_cloud_store, monkeypatch):
    """The Status box offered CAUGHT and SKIPPED, which no run ends in (they are a step's): choosing CAUGHT
    found nothing while Failures counted the caught step failures. CAUGHT now finds the runs in which a
    step's failure was handled; SKIPPED is not offered."""
    _store, cursor, window = demo
    rows, total = runs.search_executions(cursor, window, statuses=("CAUGHT",), page_size=1000)
    caught = cursor.execute("SELECT count(DISTINCT execution_id) FROM steps WHERE status = 'CAUGHT' "
                            "AND started_at >= $1 AND started_at < $2", [window.since, window.until]).fetchone()[0]
    assert total > 0 and abs(total - caught) <= 2, (total, caught)    # a run started at the window's edge
    assert set(rows["status"]) <= {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "RUNNING"}
    both = runs.search_executions(cursor, window, statuses=("CAUGHT", "FAILED"))[1]
    failed = runs.search_executions(cursor, window, statuses=("FAILED",))[1]
    assert max(total, failed) <= both <= total + failed
    at = open_page(app(three_cloud_store, monkeypatch), "executions")
    options = at.multiselect(key="ex-status").options
    assert "SKIPPED" not in options and any(o.startswith("CAUGHT") for o in options)


def test_a_sync_killed_mid_run_reads_interrupted_not_running(tmp_path, monkeypatch):
    """A sync killed mid-run leaves its scope's row "running" for ever: Collection health read "running"
    two days on, with no banner, while the analyses' collection_gap finding called it interrupted. The
    page and every page's banner say interrupted now, by the same rule (runstate.interrupted)."""
    from flowscope.model import Cloud, RunStatus
    from tests.ui.helpers import build

    batch = build(30, days=3, clouds=(Cloud.AWS,), failed_scope=False)
    started = dt.datetime.now(UTC) - dt.timedelta(days=2)
    batch.collection_runs.append({C.run_id: "killed", C.cloud: "aws", C.scope: "aws:999/eu-west-1",
                                  C.started_at: started, C.ended_at: None, C.status: RunStatus.RUNNING.value,
                                  C.watermark: None, C.counts: "{}", C.error: None, C.details: "{}"})
    Store(tmp_path).write(batch)
    at = open_page(app(str(tmp_path), monkeypatch), "collection_health")
    no_exception(at)
    table = at.dataframe[0].value
    row = table[table["scope"] == "aws:999/eu-west-1"].iloc[0]
    assert row["status"].startswith("INTERRUPTED (running for more than 24 h)"), row["status"]
    banner = " ".join(e.value for e in at.error).replace("\\", "")
    assert "aws:999/eu-west-1** (interrupted)" in banner, banner
    overview = open_page(app(str(tmp_path), monkeypatch, window="7d"), "overview")
    assert any("(interrupted)" in e.value for e in overview.error)


def test_latency_runs_say_they_are_the_finished_ones(stuck_store, monkeypatch):  # noqa: F811
    """The Latency table's "runs" counted finished runs only (a duration to rank), so a workflow with a run
    still running read one run fewer than on Workflows under the same label."""

    path, _execution_id, _step = stuck_store
    at = open_page(app(path, monkeypatch, window="7d"), "latency")
    no_exception(at)
    table = next(df for df in at.dataframe if "max_ms" in df.value.columns)
    workflows = open_page(app(path, monkeypatch, window="7d"), "workflows")
    listed = next(df.value for df in workflows.dataframe if "runs" in df.value.columns)
    assert int(table.value["runs"].sum()) < int(listed["runs"].sum()), "the running run has no duration"
    labels = {name: (c or {}).get("label") for name, c in json.loads(table.proto.columns).items()}
    assert labels.get("runs") == "finished runs", labels


def test_compare_says_when_run_a_has_no_successful_run_to_pair_with(tmp_path, monkeypatch):
    """Compare opened on a failed run whose workflow had no successful run in the window with only
    "Enter the execution id of run B", as if none had been looked for."""
    from flowscope.model import Cloud
    from tests.ui.helpers import build

    batch = build(12, days=2, clouds=(Cloud.AWS,), failed_scope=False)
    for e in batch.executions:
        e.update({C.status: "FAILED", C.error: "Boom", C.cause: "all of them"})
    Store(tmp_path).write(batch)
    at = open_page(app(str(tmp_path), monkeypatch, window="7d"), "compare")
    no_exception(at)
    assert at.text_input(key="cmp-a").value and not at.text_input(key="cmp-b").value
    said = " ".join(i.value for i in at.info).replace("\\", "").replace("**", "")
    assert "No other successful run of" in said and "in this window" in said, said


def test_collection_health_does_not_link_to_itself(three_cloud_store, monkeypatch):
    """Collection health's failed-scope banner ended with "Open collection health", a link to the page it is
    on; the other pages keep it."""
    def links(page: str) -> list[str]:
        at = open_page(app(three_cloud_store, monkeypatch), page)
        no_exception(at)
        assert any("Collection failed for" in e.value for e in at.error)
        return [str(p.proto.label) for p in at.get("page_link")]

    assert "Open collection health" in links("overview")
    assert "Open collection health" not in links("collection_health")


def test_overviews_sample_runs_read_by_the_end_of_their_ids(demo, monkeypatch):
    """The chosen finding's sample runs were listed by their whole ids, each an ARN or resource path that
    took two lines ("/subscriptions/5f1e.../workflows/crm-export/runs/0858400000000000000000000499cu14") and
    differed only at its end. Each reads as the run column does (`runs.short_id`), linking to the whole id."""
    store, _con, window = demo
    at = open_page(app(str(store.path), monkeypatch, window="7d"), "overview")
    no_exception(at)
    picker = next(b for b in at.selectbox if b.label == "Evidence of finding")
    picker.select(next(t for t in picker.options if " fails " in str(t))).run()     # a finding with sample runs
    samples = [m.value for m in at.markdown if str(m.value).startswith("- [")]
    assert samples, "the chosen finding lists its sample runs"
    for line in samples:
        text, target = line[3:].split("](", 1)
        whole = urllib.parse.parse_qs(urllib.parse.urlsplit(target.rstrip(")")).query)["exec"][0]
        assert text.replace("\\", "") == runs.short_id(whole) != whole



def test_a_links_run_not_in_the_store_is_said_not_blamed_on_the_window(three_cloud_store, monkeypatch):
    """A link to a run the store does not hold (from another store, or a run a newer sync replaced) read
    "No execution in this window matches an id containing …: widen the time window or clear the sidebar's
    filters", which no window or filter could change. The page says the store holds no run with that id."""
    stale = "arn:aws:states:us-east-1:111:execution:orders:gone-4711"
    at = open_page(app(three_cloud_store, monkeypatch, window="90d", exec=stale), "executions")
    no_exception(at)
    said = " ".join(i.value for i in (*at.info, *at.warning)).replace("\\", "")
    assert "not in this store" in said and "gone-4711" in said, said
    assert "widen the time window" not in said, said
    at.text_input(key="ex-id").set_value("no-such-run").run()
    said = " ".join(i.value for i in (*at.info, *at.warning)).replace("\\", "")
    assert "No run in this store has an id containing “no-such-run”" in said, said


def test_an_id_found_only_outside_the_window_still_asks_for_a_wider_window(three_cloud_store, monkeypatch):
    at = open_page(app(three_cloud_store, monkeypatch, window="30d"), "executions")
    oldest = at.dataframe[0].value.sort_values("started_at")["execution_id"].iloc[0]
    at = open_page(app(three_cloud_store, monkeypatch, window="24h"), "executions")
    at.text_input(key="ex-id").set_value(oldest[-11:]).run()
    no_exception(at)
    said = " ".join(i.value for i in (*at.info, *at.warning)).replace("\\", "")
    assert "No execution in this window matches" in said and "widen the time window" in said, said


def test_a_blank_exec_in_a_link_opens_the_search_as_without_one(three_cloud_store, monkeypatch):
    """`?exec=%20` (a template whose id was empty) read "No run has the link's id “ ”: 300 run(s) in this
    window contain it", every run "containing" the blank; it is read as no id."""
    at = open_page(app(three_cloud_store, monkeypatch, window="30d", exec="   "), "executions")
    no_exception(at)
    said = " ".join(i.value for i in (*at.info, *at.warning))
    assert "link's id" not in said, said
    assert at.dataframe and len(at.dataframe[0].value) > 0


def test_compare_names_each_step_only_one_run_took_once(demo, monkeypatch):
    """A Logic Apps loop has a row for itself and one for its iterations, both named as the loop: runs of
    two workflows read "Only in B: For_each_contact, For_each_contact, List_contacts, ...", as if two steps."""
    store, cursor, _window = demo
    pick = ("SELECT execution_id FROM executions WHERE workflow_name = ? AND status = 'SUCCEEDED' "
            "ORDER BY started_at DESC LIMIT 1")
    a = cursor.execute(pick, ["status-checker"]).fetchone()[0]
    b = cursor.execute(pick, ["crm-export"]).fetchone()[0]
    at = open_page(app(str(store.path), monkeypatch, window="30d", a=a, b=b), "compare")
    no_exception(at)
    said = next(w.value for w in at.warning if "Only in B" in w.value).replace("\\", "")
    only_b = said.split("Only in B: ", 1)[1].rstrip(".").split(", ")
    assert "For_each_contact" in only_b and len(only_b) == len(set(only_b)), only_b


def test_the_cost_drivers_cut_at_the_top_say_so(demo, monkeypatch):
    """The Cost page's drivers table (and its CSV) held the 25 dearest (workflow, step, meter) rows of 60-odd, 90%
    of the spend, in silence, read as every step's spend. The page says how many rows and what share it shows."""
    store, cursor, _window = demo
    at = open_page(app(str(store.path), monkeypatch, window="7d"), "cost")
    no_exception(at)
    table = next(df.value for df in at.dataframe if "share" in df.value.columns)
    f = at.session_state["_fs_filters"]
    every = q.cost_spend_drivers(q.prepare(store.connect().cursor()), f, 10_000)
    assert len(every) > len(table), "the demo store has more drivers than the page reads"
    share = every["share"].head(len(table)).sum()
    said = " ".join(c.value for c in at.caption)
    assert f"The {len(table):,} dearest" in said and fmt_pct(share) in said, said


def test_the_cost_by_transition_cut_at_the_top_says_so(demo, monkeypatch):
    """"By transition" listed the 25 dearest transitions of many, in silence, read as every transition."""
    store, _cursor, _window = demo
    at = open_page(app(str(store.path), monkeypatch, window="7d"), "cost")
    at.toggle(key="cost-edges").set_value(True).run()
    no_exception(at)
    table = next(df.value for df in at.dataframe if "target" in df.value.columns)
    every = q.edge_cost(q.prepare(store.connect().cursor()), at.session_state["_fs_filters"], 10_000)
    assert len(every) > len(table), "the demo store has more transitions than the page reads"
    said = " ".join(c.value for c in at.caption)
    assert f"The {len(table):,} dearest transitions" in said, said


def test_a_scope_left_out_of_the_collection_chart_is_said(tmp_path, monkeypatch):
    """The collection chart draws the 2,000 latest runs: a scope that last synced before them (the stale one
    an SRE looks for) was not on it, in silence. The page says where the chart begins and that the table
    below lists every scope."""
    batch = build(30, days=2, clouds=(Cloud.AWS,), failed_scope=False)
    end = max(r[C.started_at] for r in batch.executions)
    runs_ = [{C.run_id: f"busy-{i}", C.cloud: "aws", C.scope: "aws:acct/us-east-1",
              C.started_at: end - dt.timedelta(minutes=i), C.ended_at: end - dt.timedelta(minutes=i),
              C.status: "succeeded", C.watermark: end, C.counts: "{}", C.error: None, C.details: "{}"}
             for i in range(2_100)]
    runs_.append({**runs_[0], C.run_id: "stale", C.scope: "aws:acct/eu-west-1",
                  C.started_at: end - dt.timedelta(days=5), C.ended_at: end - dt.timedelta(days=5)})
    batch.collection_runs[:] = runs_
    Store(tmp_path).write(batch)
    at = open_page(app(str(tmp_path), monkeypatch), "collection_health")
    no_exception(at)
    said = " ".join(c.value for c in at.caption)
    assert "2,000 latest collection runs" in said and "table below" in said, said
