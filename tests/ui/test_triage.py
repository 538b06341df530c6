"""Triage first (issue 11): the run page opens on the failing step's own error with loops folded,
the executions search pages through every match, two runs compare step by step, the state graph
opens on the failing workflow; and the console links, one per cloud."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from flowscope.analysis import runs
from flowscope.analysis import tables as q
from flowscope.model import UTC, Batch, C, Cloud, Meter, Status, StepType
from flowscope.store import Store
from flowscope.ui import graph
from tests.ui.helpers import WORKFLOWS, build
from tests.ui.test_pages import app, no_exception, open_page

AZURE = next(w for w in WORKFLOWS if w.cloud is Cloud.AZURE)
LOOP_RUN = f"{AZURE.workflow_id}/runs/08584000000000000000000000cu42"
ITERATIONS, FAILED_ITERATION = 72, 40


# ---------------------------------------------------------------- console links, one per cloud

def test_console_url_aws():
    arn = "arn:aws:states:eu-west-1:111122223333:execution:orders:run-1"
    assert runs.console_url({C.cloud: "aws", C.region: "eu-west-1", C.execution_id: arn}) == (
        "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1"
        f"#/v2/executions/details/{arn}")
    assert runs.console_url({C.cloud: "aws", C.region: None, C.execution_id: arn}).startswith(
        "https://eu-west-1.console.aws.amazon.com/"), "the region comes from the ARN when not stored"


def test_console_url_aws_express_opens_the_express_execution_page():
    """An Express run (not kept by Step Functions: its history is in CloudWatch Logs, which the console reads
    from its start) linked to the Standard execution page, which cannot find it. It now links to the
    console's Express page with its start (epoch milliseconds), which that page needs."""
    arn = "arn:aws:states:us-east-1:111122223333:express:clicks:3810645c-f9b4:12909e05-e4f6"
    started = dt.datetime(2026, 12, 1, 10, 0, 0, 250000, tzinfo=UTC)
    assert runs.console_url({C.cloud: "aws", C.region: "us-east-1", C.execution_id: arn, C.started_at: started}) == (
        "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1"
        f"#/express-executions/details/{arn}?startDate={int(started.timestamp() * 1000)}")
    assert runs.console_url({C.cloud: "aws", C.execution_id: arn, C.started_at: pd.Timestamp(started)}).endswith(
        f"?startDate={int(started.timestamp() * 1000)}"), "a stored start reads as a pandas Timestamp"
    assert "express-executions" in runs.console_url({C.cloud: "aws", C.execution_id: arn, C.started_at: None})


def test_console_url_azure_consumption_opens_the_run_in_the_monitor_blade():
    """A Consumption run linked to `#resource/<run id>`: a run is no ARM resource the portal's resource route
    opens. It now opens the Logic Apps monitor blade on the run, the blade's `runid` input percent-encoded
    whole (the link a workflow builds for itself: `encodeUriComponent(workflow()['run']['id'])`)."""
    run_id = "/subscriptions/s1/resourcegroups/rg/providers/microsoft.logic/workflows/invoices/runs/0858"
    assert runs.console_url({C.cloud: "azure", C.execution_id: run_id}) == (
        "https://portal.azure.com/#view/Microsoft_Azure_EMA/LogicAppsMonitorBlade/runid/"
        "%2Fsubscriptions%2Fs1%2Fresourcegroups%2Frg%2Fproviders%2Fmicrosoft.logic%2Fworkflows%2Finvoices"
        "%2Fruns%2F0858")


def test_console_url_azure_standard_opens_the_workflow_whose_run_history_lists_the_run():
    """A Standard workflow's run is no ARM resource either, and the Consumption monitor blade does not read
    a Standard run: the link opens the workflow's own page (its run history lists the run), said so."""
    workflow = "/subscriptions/s1/resourcegroups/rg/providers/microsoft.web/sites/la-std/workflows/orders"
    assert runs.console_url({C.cloud: "azure", C.execution_id: f"{workflow}/runs/0858"}) == (
        f"https://portal.azure.com/#resource{workflow}")
    assert not runs.console_opens_run({C.cloud: "azure", C.execution_id: f"{workflow}/runs/0858"}), (
        "the button says it opens the workflow's run history, not the run")
    assert runs.console_opens_run({C.cloud: "azure", C.execution_id: workflow.replace(
        "microsoft.web/sites/la-std", "microsoft.logic") + "/runs/0858"})
    assert runs.console_url({C.cloud: "azure", C.execution_id: "/subscriptions/s1/runs/x"}) is None, (
        "an id naming no workflow links nowhere")


def test_console_url_azure_standard_in_a_deployment_slot_opens_that_slots_workflow():
    """A Standard logic app's deployment slot holds its own workflows, an ARM resource of their own
    (`Microsoft.Web/sites/<app>/slots/<slot>/workflows/<wf>`, App Service's WebApps_GetInstanceWorkflowSlot):
    a run under one got no link. It opens that workflow's page, as a Standard run does, never the
    production slot's workflow of the same name."""
    workflow = "/subscriptions/s1/resourcegroups/rg/providers/microsoft.web/sites/la-std/slots/staging/workflows/orders"
    run = {C.cloud: "azure", C.execution_id: f"{workflow}/runs/0858"}
    assert runs.console_url(run) == f"https://portal.azure.com/#resource{workflow}"
    assert not runs.console_opens_run(run)
    assert runs.console_url({C.cloud: "azure", C.execution_id: workflow.replace("/slots/staging", "/slots")
                             + "/runs/0858"}) is None, "a slot without its name is no resource path"


def test_console_url_gcp():
    eid = "projects/p1/locations/us-central1/workflows/etl/executions/3f2c-11"
    assert runs.console_url({C.cloud: "gcp", C.execution_id: eid}) == (
        "https://console.cloud.google.com/workflows/workflow/us-central1/etl/execution/3f2c-11?project=p1")


def test_console_url_quotes_what_it_is_given_and_declines_unknown_ids():
    for wf in ("microsoft.logic/workflows/w", "microsoft.web/sites/app/workflows/w b)\"<x>"):
        eid = f"/subscriptions/s/resourcegroups/r/providers/{wf}/runs/a b)\"<script>"
        url = runs.console_url({C.cloud: "azure", C.execution_id: eid})
        assert url is not None and " " not in url and "<" not in url and '"' not in url and ")" not in url
    assert runs.console_url({C.cloud: "aws", C.execution_id: "not-an-arn"}) is None
    assert runs.console_url({C.cloud: "gcp", C.execution_id: "whatever"}) is None


# ---------------------------------------------------------------- a run with a loop of 72 and one failure

def loop_run(batch: Batch, eid: str = LOOP_RUN, started: dt.datetime | None = None) -> None:
    """An Azure run whose For_each runs Call_api 72 times; one iteration fails with BadGateway, so the
    loop and the run report only Logic Apps' generic ActionFailed."""
    started = started or dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(hours=2)
    base = {C.cloud: "azure", C.workflow_id: AZURE.workflow_id, C.execution_id: eid, C.start_date: started.date()}
    generic = ("ActionFailed", "An action failed. No dependent actions succeeded.")

    def step(key, name, type_, status, at, ms, *, parent=None, previous=None, iteration=None, error=(None, None),
             attempts=1):
        batch.steps.append({**base, C.step_key: key, C.previous_step_key: previous, C.parent_step_key: parent,
                            C.iteration: iteration, C.name: name, C.type: type_.value, C.native_type: name,
                            C.resource: None, C.status: status.value, C.started_at: at,
                            C.ended_at: at + dt.timedelta(milliseconds=ms), C.duration_ms: ms, C.attempts: attempts,
                            C.error: error[0], C.cause: error[1]})
        batch.usage.append({**base, C.region: AZURE.region, C.step_key: key, C.name: name,
                            C.meter: Meter.AZURE_LOGIC_BUILTIN_ACTION.value, C.quantity: float(attempts),
                            C.started_at: at})

    step("@manual", "manual", StepType.TRIGGER, Status.SUCCEEDED, started, 10)
    step("for_each", "For_each", StepType.LOOP, Status.FAILED, started, 60_000, previous="@manual", error=generic)
    for i in range(ITERATIONS):
        failed = i == FAILED_ITERATION
        step(f"call_api#for_each:{i}", "Call_api", StepType.TASK, Status.FAILED if failed else Status.SUCCEEDED,
             started + dt.timedelta(milliseconds=100 * i), 90, parent="for_each", iteration=i,
             error=("BadGateway", "The upstream service returned 502") if failed else (None, None),
             attempts=3 if failed else 1)
    batch.executions.append({**base, C.account: "acct", C.region: AZURE.region, C.workflow_name: AZURE.name,
                             C.kind: AZURE.kind.value, C.revision: "1", C.name: eid.rsplit("/", 1)[-1],
                             C.status: Status.FAILED.value, C.native_status: "Failed", C.started_at: started,
                             C.ended_at: started + dt.timedelta(minutes=1), C.duration_ms: 60_000,
                             C.error: generic[0], C.cause: generic[1], C.redrive_count: 0, C.source: "simulate",
                             C.collected_at: started})


@pytest.fixture(scope="module")
def loop_store(tmp_path_factory) -> str:
    batch = build(30, days=6, clouds=(Cloud.AZURE,), failed_scope=False)
    loop_run(batch)
    path = tmp_path_factory.mktemp("ui-loop")
    Store(path).write(batch)
    return str(path)


def test_failing_step_is_the_deepest_with_its_own_error():
    batch = Batch()
    loop_run(batch)
    steps = pd.DataFrame(batch.steps)
    failing = runs.failing_step(steps)
    assert failing is not None
    assert (failing[C.name], failing[C.error], failing["parent"]) == ("Call_api", "BadGateway", "For_each")
    folded = runs.collapsed_steps(steps)
    first = folded.iloc[0]
    assert (first["step"], first["visits"], first["failed"], first["retries"]) == ("Call_api", ITERATIONS, 1, 2)
    assert len(folded) == 3


def test_a_skipped_step_is_counted_as_skipped_not_only_as_a_run_of_it():
    """A Logic Apps action skipped (a branch not taken, its runAfter not met) read "runs of step 1, failed 0"
    in the run page's step table, like an action that ran; only the Timeline's grey bar said otherwise. The
    table now counts each step's skipped visits."""
    batch = Batch()
    loop_run(batch)
    at = batch.steps[-1][C.started_at]
    batch.steps.append({**batch.steps[-1], C.step_key: "9:Notify", C.previous_step_key: None, C.parent_step_key: None,
                        C.iteration: None, C.name: "Notify", C.type: StepType.TASK.value, C.native_type: "Http",
                        C.status: Status.SKIPPED.value, C.started_at: at, C.ended_at: at, C.duration_ms: 0,
                        C.attempts: 0, C.error: None, C.cause: None})
    folded = runs.collapsed_steps(pd.DataFrame(batch.steps)).set_index("step")
    assert folded.loc["Notify", "skipped"] == 1 and folded.loc["Notify", "failed"] == 0
    assert folded.loc["Call_api", "skipped"] == 0


def test_run_page_opens_on_the_failing_step_with_loops_folded(loop_store, monkeypatch):
    at = open_page(app(loop_store, monkeypatch, exec=LOOP_RUN), "executions")
    no_exception(at)
    assert at.selectbox(key="ex-pick").value == ("azure", LOOP_RUN)
    first = at.error[0].value
    assert "Call" in first and "BadGateway" in first and "ActionFailed" not in first
    folded = next(df.value for df in at.dataframe if "visits" in df.value.columns)
    assert (folded.iloc[0]["step"], folded.iloc[0]["visits"], folded.iloc[0]["failed"]) == ("Call_api", 72, 1)
    assert folded.iloc[0]["attempts"] == ITERATIONS + 2, "retries show per step"
    assert any("portal.azure.com/#view/Microsoft_Azure_EMA/LogicAppsMonitorBlade/runid/" in b.proto.url
               for b in at.get("link_button"))


def test_search_by_error_finds_the_step_error_under_a_generic_run_error(loop_store, monkeypatch):
    at = open_page(app(loop_store, monkeypatch), "executions")
    at.text_input(key="ex-error").set_value("badgateway")
    at.run()
    no_exception(at)
    assert LOOP_RUN in set(at.dataframe[0].value[C.execution_id])
    at.text_input(key="ex-error").set_value("")
    at.text_input(key="ex-step").set_value("call_api")
    at.run()
    assert list(at.dataframe[0].value[C.execution_id]) == [LOOP_RUN]


# ---------------------------------------------------------------- paging through every match

MANY = 620


@pytest.fixture(scope="module")
def many_store(tmp_path_factory) -> tuple[str, Batch]:
    batch = build(MANY, days=6, clouds=(Cloud.AWS,), failed_scope=False)
    path = tmp_path_factory.mktemp("ui-many")
    Store(path).write(batch)
    return str(path), batch


def test_search_pages_to_the_last_of_more_than_500_matches(many_store, monkeypatch):
    path, batch = many_store
    oldest = min(batch.executions, key=lambda r: (r[C.started_at], r[C.execution_id]))[C.execution_id]
    at = open_page(app(path, monkeypatch), "executions")
    at.text_input(key="ex-id").set_value("exec-")
    at.run()
    no_exception(at)
    assert len(at.dataframe[0].value) == runs.PAGE_SIZE
    assert any(f"{MANY:,} matching" in c.value for c in at.caption)
    last = runs.page_count(MANY)
    at.number_input(key="ex-page").set_value(last)
    at.run()
    no_exception(at)
    shown = at.dataframe[0].value
    assert len(shown) == MANY - (last - 1) * runs.PAGE_SIZE
    assert shown.iloc[-1][C.execution_id] == oldest


def test_search_pages_do_not_overlap(many_store):
    path, _ = many_store
    con = q.prepare(Store.open(path).connect().cursor())
    now = dt.datetime.now(UTC)
    f = q.Filters(now - dt.timedelta(days=8), now + dt.timedelta(hours=1))
    seen: list[str] = []
    for page in range(runs.page_count(MANY)):
        rows, total = runs.search_executions(con, f, page=page)
        assert total == MANY
        seen += list(rows[C.execution_id])
    assert len(seen) == len(set(seen)) == MANY


def test_search_text_is_matched_as_typed_not_as_wildcards(many_store):
    """`_` and `%` in a search are characters: "exec_" is not "exec-" (an ILIKE wildcard matched any
    character there), and "%" alone matched every run."""
    path, _ = many_store
    con = q.prepare(Store.open(path).connect().cursor())
    now = dt.datetime.now(UTC)
    f = q.Filters(now - dt.timedelta(days=8), now + dt.timedelta(hours=1))
    assert runs.search_executions(con, f, execution_id="exec-")[1] == MANY
    for typed in ("exec_", "%", "exec\\", "ex%c"):
        assert runs.search_executions(con, f, execution_id=typed)[1] == 0, typed
    assert runs.search_executions(con, f, step="%")[1] == 0
    assert runs.search_executions(con, f, error_text="_")[1] == 0


# ---------------------------------------------------------------- comparing two runs

def test_compare_lists_the_path_difference(three_cloud_store, monkeypatch):
    at = open_page(app(three_cloud_store, monkeypatch), "compare")
    no_exception(at)
    a, b = at.text_input(key="cmp-a").value, at.text_input(key="cmp-b").value
    assert a and b and a != b, "opens on the newest failed run against a successful one"
    assert any("The paths differ" in w.value and "Only in B" in w.value for w in at.warning)
    table = at.dataframe[0].value
    assert "only B" in set(table["path"])
    assert table.iloc[0]["path"] != "both" or table.iloc[0]["a_error"], "differences come first"


def test_compare_of_a_run_columns_cut_id_names_the_column_with_the_whole_id(three_cloud_store, monkeypatch):
    """The Executions page's run column shows an Azure run's end ("…476cu88"); Compare runs, given that, asked
    for the id "as the Executions page shows it", which it had been given. It names the execution id column,
    which holds the whole id."""
    at = open_page(app(three_cloud_store, monkeypatch, a="…476cu88"), "compare")
    no_exception(at)
    said = " ".join(w.value for w in at.warning).replace("\\", "")
    assert "No run A with id …476cu88 in the store" in said
    assert "execution id column" in said and "as the Executions page shows it" not in said


def test_compare_says_which_typed_id_is_not_in_the_store(three_cloud_store, monkeypatch):
    """A typed id that is no run said "Enter the execution id of run A", as if nothing had been typed."""
    at = open_page(app(three_cloud_store, monkeypatch, a="no-such-run"), "compare")
    no_exception(at)
    said = " ".join(w.value for w in at.warning).replace("\\", "")     # Markdown escapes of the id
    assert "No run A with id no-such-run in the store" in said
    assert not any("run A" in i.value for i in at.info)
    assert at.text_input(key="cmp-b").value == "", "no run to pair it with"
    assert any("Enter the execution id of run B" in i.value for i in at.info)


def test_a_run_retries_are_its_step_table_retries(loop_store, monkeypatch):
    """The run page's Retries (and Compare's) is `runs.run_retries`, the sum of its steps table's column."""
    batch = Batch()
    loop_run(batch)
    steps = pd.DataFrame(batch.steps)
    assert runs.run_retries(steps) == int(runs.collapsed_steps(steps)["retries"].sum()) == 2
    assert runs.run_retries(steps.iloc[0:0]) == 0
    at = open_page(app(loop_store, monkeypatch, exec=LOOP_RUN), "executions")
    no_exception(at)
    assert next(m.value for m in at.metric if m.label == "Retries") == "2"


def test_compare_runs_is_per_step():
    batch = Batch()
    loop_run(batch)
    failed = pd.DataFrame(batch.steps)
    ok = failed[failed[C.name] != "Call_api"].assign(**{C.status: Status.SUCCEEDED.value, C.error: None})
    table = runs.compare_runs(failed, ok)
    row = table[table["step"] == "Call_api"].iloc[0]
    assert (row["path"], row["a_visits"], row["b_visits"], row["a_error"]) == ("only A", ITERATIONS, 0, "BadGateway")


# ---------------------------------------------------------------- the graph opens on the failing workflow

@pytest.fixture(scope="module")
def one_failing_store(tmp_path_factory) -> tuple[str, str]:
    """Three workflows; only GCP's etl (not the first row by spend) has a failed run."""
    batch = build(90, days=6, failed_scope=False)
    failing = WORKFLOWS[-1].workflow_id
    for ex in batch.executions:
        if ex[C.workflow_id] != failing and ex[C.status] == Status.FAILED.value:
            ex.update({C.status: Status.SUCCEEDED.value, C.error: None, C.cause: None})
    for ex in batch.executions:
        if ex[C.workflow_id] == failing and ex[C.status] == Status.SUCCEEDED.value:
            ex.update({C.status: Status.FAILED.value, C.error: "HttpError", C.cause: "503"})
            break
    path = tmp_path_factory.mktemp("ui-failing")
    Store(path).write(batch)
    return str(path), failing


def test_graph_opens_on_the_failing_workflow(one_failing_store, monkeypatch):
    path, failing = one_failing_store
    at = open_page(app(path, monkeypatch), "workflows")
    no_exception(at)
    table = at.dataframe[0].value
    assert table.iloc[0]["workflow_id"] != failing, "not simply the first row"
    assert at.selectbox(key="wf-graph").value[1] == failing


def test_default_workflow_ranks_failures_then_spend():
    table = pd.DataFrame({"failed": [0, 0, 3, 1], "cost_usd": [9.0, 8.0, 0.1, 5.0]})
    assert graph.default_workflow(table) == 2
    assert graph.default_workflow(table.assign(failed=0)) == 0
    assert graph.default_workflow(table.iloc[0:0]) == 0


def test_subworkflow_calls_are_not_unknown_transitions():
    source = ("main:\n  steps:\n    - run_sub:\n        call: helper\n    - done:\n        return: ok\n"
              "helper:\n  steps:\n    - fetch:\n        call: http.get\n        args: {url: https://x.example}\n")
    edges = pd.DataFrame({"source": ["run_sub", "helper/fetch", "done"], "target": ["helper/fetch", "done", "ghost"],
                          "transitions": [5, 5, 1]})
    g = graph.with_observed(graph.parse(source, "gcp-yaml"), edges)
    kinds = {(e.source, e.target): e.kind for e in g.edges}
    assert kinds[("run_sub", "helper/fetch")] == "call" and kinds[("helper/fetch", "done")] == "call"
    assert kinds[("done", "ghost")] == "observed", "a step missing from the definition is still flagged"



# ---------------------------------------------------------------- a GCP try reads as its call

def _gcp_run(con, name: str, where: str) -> tuple[str, pd.DataFrame]:
    eid = con.execute(f"SELECT min({C.execution_id}) FROM steps WHERE {C.cloud} = 'gcp' AND {C.name} = ? "
                      f"AND {C.native_type} = 'STEP_STD_LIB_CALL' AND {where}", [name]).fetchone()[0]
    assert eid, f"the demo has a GCP run where {name}: {where}"
    return eid, q.execution_detail(con, "gcp", eid)["steps"]


def test_a_gcp_try_reads_as_its_call_with_its_error_and_tries(demo):
    """GCP gives a try, its call and its except as entries of one name: the run's step table has one row
    for the step, the call's (not a scope holding a task of its own name, nor call and except summed), and
    the run page's failing step is the call, not "classify inside classify"."""
    _store, con, _f = demo
    _eid, steps = _gcp_run(con, "classify", f"{C.status} = 'CAUGHT'")
    folded = runs.collapsed_steps(steps)
    row = folded[folded["step"] == "classify"]
    assert len(row) == 1, folded
    row = row.iloc[0]
    assert (row[C.type], row["visits"], row["failed"]) == ("task", 1, 1) and pd.isna(row["parent"])
    assert row[C.error].startswith("HttpError")
    assert folded.iloc[0]["step"] == "classify", "the failure comes first"
    assert set(folded.loc[folded["step"] == "record_failure", "parent"]) == {"classify"}, "the except's steps"
    failing = runs.failing_step(steps)
    assert failing is not None and (failing[C.name], failing["parent"]) == ("classify", None)

    _eid, steps = _gcp_run(con, "check_status", f"{C.attempts} > 1")
    folded = runs.collapsed_steps(steps).set_index("step")
    calls = steps[(steps[C.name] == "check_status") & (steps[C.type] == "task")]
    assert list(folded.index).count("check_status") == 1
    got = folded.loc["check_status"]
    assert (got[C.type], got["visits"], got["retries"]) == ("task", len(calls), int((calls[C.attempts] - 1).sum()))
    assert got["retries"] > 0 and pd.isna(got["parent"])


def test_a_gcp_try_around_a_block_whose_except_ran_reads_once():
    """A try around a block whose except ran: the try, its block and its except are three entries named as
    the step. The run read the step twice (block and except as two visits of one name); now the block
    stands for the try, the block's and the except's steps under it, entered once."""
    t0 = dt.datetime(2026, 11, 1, tzinfo=UTC)
    base = {C.cloud: "gcp", C.workflow_id: "w", C.execution_id: "e", C.iteration: None, C.resource: None,
            C.cause: None, C.attempts: 1, C.duration_ms: 10}
    rows = [("start", "start", "task", "STEP_ASSIGN", None, None, "SUCCEEDED"),
            ("try", "fetch", "scope", "STEP_TRY_RETRY_EXCEPT", "start", None, "CAUGHT"),
            ("block", "fetch", "scope", "STEP_TRY", None, "try", "FAILED"),
            ("get", "get", "task", "STEP_CALL", None, "block", "FAILED"),
            ("except", "fetch", "scope", "STEP_EXCEPT", None, "try", "SUCCEEDED"),
            ("log", "log", "task", "STEP_CALL", None, "except", "SUCCEEDED"),
            ("end", "end", "task", "STEP_RETURN", "try", None, "SUCCEEDED")]
    steps = pd.DataFrame([{**base, C.step_key: k, C.name: n, C.type: t, C.native_type: nt, C.previous_step_key: pr,
                           C.parent_step_key: pa, C.status: st, C.error: "HttpError 503" if st == "FAILED" else None,
                           C.started_at: t0 + dt.timedelta(seconds=i), C.ended_at: t0 + dt.timedelta(seconds=i + 1)}
                          for i, (k, n, t, nt, pr, pa, st) in enumerate(rows)])
    folded = runs.collapsed_steps(steps).set_index("step")
    assert list(folded.index).count("fetch") == 1 and folded.loc["fetch", "visits"] == 1, folded
    assert folded.loc["get", "parent"] == folded.loc["log", "parent"] == "fetch"
    assert set(runs.fold_own_work(steps)[C.step_key]) == {"start", "block", "get", "log", "end"}


def test_compare_runs_lines_up_gcp_steps_once(demo):
    _store, con, _f = demo
    _a, a = _gcp_run(con, "classify", f"{C.status} = 'CAUGHT'")
    _b, b = _gcp_run(con, "classify", f"{C.status} = 'SUCCEEDED'")
    table = runs.compare_runs(a, b)
    assert not table.duplicated(["step", "parent"]).any(), table
    row = table[table["step"] == "classify"].iloc[0]
    assert (row["path"], row["a_visits"], row["b_visits"]) == ("both", 1, 1)
    assert row["a_error"].startswith("HttpError") and pd.isna(row["b_error"])


def test_the_run_page_names_a_gcp_call_once(demo, monkeypatch):
    store, con, _f = demo
    eid, _steps = _gcp_run(con, "classify", f"{C.status} = 'CAUGHT'")
    at = open_page(app(str(store.path), monkeypatch, exec=eid), "executions")
    no_exception(at)
    run_errors = [e.value for e in at.error if "Collection failed" not in e.value]   # the demo's failed scope aside
    assert not run_errors, "the run succeeded: its caught failure is a warning, not 'Failed at'"
    caught = at.warning[0].value
    assert caught.startswith("**Caught a failure at step classify**") and "inside" not in caught
    assert "HttpError 500" in caught and "went on" in caught
    [gantt] = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart") if "Timeline" in c.proto.spec]
    labels = {row["label"].strip() for layer in gantt["layer"] for row in layer["data"]["values"]}
    assert "classify" in labels and "└ record_failure" in labels
    assert "└ classify" not in labels, "the try's call is drawn in the try's place, not inside it"
    events = next(df.value for df in at.dataframe if "event" in df.value.columns)
    entered = events[(events["step"] == "classify") & (events["event"] == "step entered")]
    assert list(entered["type"]) == ["task"], "the events list the call once, not the try, call and except"


def test_a_failed_run_says_failed_and_escapes_what_the_cloud_wrote(loop_store, monkeypatch):
    at = open_page(app(loop_store, monkeypatch, exec=LOOP_RUN), "executions")
    no_exception(at)
    assert at.error[0].value.startswith("**Failed at step Call\\_api**"), "an underscore is not emphasis"


def test_console_url_aws_other_partitions():
    """A GovCloud or China ARN linked to console.aws.amazon.com, where those accounts cannot sign in:
    each partition has its own console."""
    gov = "arn:aws-us-gov:states:us-gov-west-1:111122223333:execution:orders:run-1"
    assert runs.console_url({C.cloud: "aws", C.execution_id: gov}) == (
        "https://console.amazonaws-us-gov.com/states/home?region=us-gov-west-1"
        f"#/v2/executions/details/{gov}")
    cn = "arn:aws-cn:states:cn-north-1:111122223333:execution:orders:run-1"
    assert runs.console_url({C.cloud: "aws", C.execution_id: cn}) == (
        f"https://console.amazonaws.cn/states/home?region=cn-north-1#/v2/executions/details/{cn}")


def test_a_gcp_calls_cost_row_names_the_parent_its_step_row_names(demo):
    """The run page's Steps table read check_status at the top (the try's call in the try's place) and
    its Cost table "check_status inside check_status" (the try): one step, two parents on one page."""
    _store, con, _f = demo
    eid, steps = _gcp_run(con, "check_status", f"{C.attempts} > 1")
    usage = q.execution_detail(con, "gcp", eid)["usage"]
    parent_of = {r.step: r.parent for r in runs.collapsed_steps(steps).itertuples(index=False)}
    cost = runs.run_cost(steps, usage)
    assert len(cost) and set(cost["step"]) <= set(parent_of) | {"(per execution)"}, cost
    assert [(r.step, r.parent) for r in cost.itertuples(index=False) if r.step in parent_of] == [
        (r.step, parent_of[r.step]) for r in cost.itertuples(index=False) if r.step in parent_of]
    assert pd.isna(cost.loc[cost["step"] == "check_status", "parent"]).all()


def test_a_run_s_events_read_a_lambda_error_as_its_type_and_message():
    """The step table reads a Lambda error's JSON cause as "type: message" (`format.fmt_cause`), but the run's
    Events said it raw: 'States.TaskFailed {"errorMessage": "Card declined ...", "errorType": ..., "requestId":
    ...}'. An event's detail now reads as the table does, the error not said twice, and the error and its
    cause apart ("BadGateway: summary endpoint returned 502")."""
    t0 = dt.datetime(2026, 12, 1, 10, tzinfo=UTC)
    lam = json.dumps({"errorMessage": "Card declined", "errorType": "States.TaskFailed", "requestId": "r-1"})
    steps = pd.DataFrame([
        {C.step_key: "1", C.name: "Charge", C.type: "task", C.status: "FAILED", C.started_at: t0, C.ended_at: t0,
         C.error: "States.TaskFailed", C.cause: lam},
        {C.step_key: "2", C.name: "Post", C.type: "task", C.status: "FAILED", C.started_at: t0, C.ended_at: t0,
         C.error: "BadGateway", C.cause: "summary endpoint returned 502"},
        {C.step_key: "3", C.name: "Log", C.type: "task", C.status: "FAILED", C.started_at: t0, C.ended_at: t0,
         C.error: "Timeout", C.cause: None}])
    attempts = pd.DataFrame(columns=[C.step_key, C.attempt, C.status, C.started_at, C.error, C.cause])
    exited = runs.run_events(steps, attempts).query("event == 'step exited'").set_index("step")["detail"]
    assert exited.to_dict() == {"Charge": "States.TaskFailed: Card declined",
                                "Post": "BadGateway: summary endpoint returned 502", "Log": "Timeout"}


def test_a_failing_step_without_a_cause_says_no_nan(tmp_path, monkeypatch):
    """A step read from the store has NaN, not None, for a missing cause when another step of the run has
    one: the run page said "Failed at step Call_api (inside For_each): **BadGateway** nan". It now says the
    error alone."""
    batch = build(5, days=6, clouds=(Cloud.AZURE,), failed_scope=False)
    loop_run(batch)
    for row in batch.steps:
        if row[C.error] == "BadGateway":
            row[C.cause] = None
    Store(tmp_path).write(batch)
    at = open_page(app(str(tmp_path), monkeypatch, exec=LOOP_RUN), "executions")
    no_exception(at)
    said = [e.value for e in at.error]
    assert said and said[0].startswith("**Failed at step Call\\_api**"), said
    assert not [s for s in said if "nan" in s.lower()], said


def test_a_standard_run_s_built_in_operations_read_as_paid_by_the_plan():
    """A Logic Apps Standard run of built-in operations read "Cost $0" on its page, as if it ran free: its
    plan is billed per hour whatever runs. `runs.plan_paid` says which of a run's usage the plan pays, so
    the page reads "in plan hours" (all of it) or says so beside a connector call's dollars (some)."""
    from flowscope.model import Kind

    usage = pd.DataFrame({C.meter: [Meter.AZURE_LOGIC_BUILTIN_ACTION.value, Meter.AZURE_LOGIC_BUILTIN_TRIGGER.value],
                          "usd": [0.0, 0.0]})
    connector = pd.concat([usage, pd.DataFrame({C.meter: [Meter.AZURE_LOGIC_STANDARD_CONNECTOR.value],
                                                "usd": [0.000125]})], ignore_index=True)
    assert runs.plan_paid(usage, Kind.LOGICAPP_STANDARD.value) == runs.PlanPaid.ALL
    assert runs.plan_paid(connector, Kind.LOGICAPP_STANDARD.value) == runs.PlanPaid.SOME
    assert runs.plan_paid(usage, Kind.LOGICAPP_CONSUMPTION.value) == runs.PlanPaid.NONE
    assert runs.plan_paid(usage.iloc[:0], Kind.LOGICAPP_STANDARD.value) == runs.PlanPaid.NONE
    unknown = pd.DataFrame({C.meter: ["azure.logic.some_new_meter"], "usd": [0.0]})
    assert runs.plan_paid(unknown, Kind.LOGICAPP_STANDARD.value) == runs.PlanPaid.NONE, "not a ValueError"


# ---------------------------------------------------------------- a Distributed Map's child runs

MAP_PARENT = "arn:aws:states:us-east-1:111:execution:orders:map-parent"
MAP_CHILD_SM = "arn:aws:states:us-east-1:111:stateMachine:orders/Fan"


def map_run(batch: Batch, children: int = 40, failed: tuple[int, ...] = (7, 30)) -> None:
    """An AWS run whose Distributed Map "Fan" ran `children` child executions (their own runs, naming the
    parent in `parent_execution_id`), the `failed` ones with a Lambda error; the parent reports only
    States.ExceedToleratedFailureThreshold."""
    started = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(hours=3)
    aws = next(w for w in WORKFLOWS if w.cloud is Cloud.AWS)

    def execution(eid, workflow_id, name, status, at, error=(None, None), parent=None):
        batch.executions.append({
            C.cloud: "aws", C.workflow_id: workflow_id, C.execution_id: eid, C.start_date: at.date(),
            C.account: "111", C.region: "us-east-1", C.workflow_name: name, C.kind: aws.kind.value,
            C.revision: "1", C.name: eid.rsplit(":", 1)[-1], C.status: status.value, C.native_status: status.value,
            C.started_at: at, C.ended_at: at + dt.timedelta(seconds=5), C.duration_ms: 5_000, C.error: error[0],
            C.cause: error[1], C.redrive_count: 0, C.parent_execution_id: parent, C.source: "simulate",
            C.collected_at: at + dt.timedelta(minutes=10)})

    execution(MAP_PARENT, aws.workflow_id, aws.name, Status.FAILED, started,
              ("States.ExceedToleratedFailureThreshold", "The specified tolerated failure threshold was exceeded"))
    batch.steps.append({C.cloud: "aws", C.workflow_id: aws.workflow_id, C.execution_id: MAP_PARENT,
                        C.start_date: started.date(), C.step_key: "2", C.previous_step_key: None,
                        C.parent_step_key: None, C.iteration: None, C.name: "Fan", C.type: StepType.MAP.value,
                        C.native_type: "Map", C.resource: None, C.status: Status.FAILED.value, C.started_at: started,
                        C.ended_at: started + dt.timedelta(minutes=1), C.duration_ms: 60_000, C.attempts: 1,
                        C.error: "States.ExceedToleratedFailureThreshold", C.cause: None})
    lam = json.dumps({"errorMessage": "Item 7 has no price", "errorType": "PriceMissing"})
    for i in range(children):
        execution(f"arn:aws:states:us-east-1:111:execution:orders/Fan:child-{i:03d}", MAP_CHILD_SM, "orders/Fan",
                  Status.FAILED if i in failed else Status.SUCCEEDED, started + dt.timedelta(seconds=i),
                  ("PriceMissing", lam) if i in failed else (None, None), parent=MAP_PARENT)


def test_a_distributed_map_s_child_runs_read_on_its_run_page_with_counts_and_failures(tmp_path, monkeypatch):
    """A Distributed Map's items run as child executions: the parent's page showed one "Fan" row and
    States.ExceedToleratedFailureThreshold, never how many children ran, how many failed nor why. The page
    now reads them (`runs.child_runs`): per child workflow, runs, failed, still running, the first failure's
    own error and a link to that child run."""
    batch = build(5, days=1, clouds=(Cloud.AWS,), failed_scope=False)
    map_run(batch)
    Store(tmp_path).write(batch)
    con = q.prepare(Store.open(str(tmp_path)).connect().cursor())
    kids = runs.child_runs(con, "aws", MAP_PARENT)
    assert len(kids) == 1
    row = kids.iloc[0]
    assert (row["workflow"], row["runs"], row["failed"], row["running"]) == ("orders/Fan", 40, 2, 0)
    assert row[C.error] == "PriceMissing" and row["first_failed"].endswith("child-007")
    assert runs.child_runs(con, "aws", "arn:aws:states:us-east-1:111:execution:orders:none").empty
    at = open_page(app(str(tmp_path), monkeypatch, exec=MAP_PARENT, window="7d"), "executions")
    no_exception(at)
    table = next(df.value for df in at.dataframe if "first_failed" in df.value.columns)
    assert (int(table.iloc[0]["runs"]), int(table.iloc[0]["failed"])) == (40, 2)
    assert "PriceMissing: Item 7 has no price" in str(table.iloc[0][C.cause]), table.iloc[0].to_dict()
