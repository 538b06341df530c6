"""Azure collector end to end against the local ARM (tests/azure/arm_server.py): the official
examples and the simulator's subscription collected live give the same rows as importing them,
a second sync makes no run-detail call, running runs are revisited until they end."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from flowscope.collectors.azure import collector as az
from flowscope.model import RunStatus
from flowscope.store import Store
from tests.azure.arm_server import (
    SAMPLE_SUB,
    ArmServer,
    canonical,
    import_reference,
    sample_body,
    sample_corpus,
    simulated_corpus,
    snapshot,
)

SIM_SUB = "5f1e0c2a-7b3d-4e8f-9a10-b2c3d4e5f601"
NOW = dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)
WF1 = (f"/subscriptions/{SAMPLE_SUB}/resourcegroups/test-resource-group/providers/microsoft.logic/workflows/"
       "test-workflow")
RUN1 = WF1 + "/runs/08586676746934337772206998657cu22"
FLOW = f"/subscriptions/{SAMPLE_SUB}/resourcegroups/testresourcegroup/providers/microsoft.logic/workflows/testflow"
RUN2 = FLOW + "/runs/08586776228332053161046300351"


@pytest.fixture(autouse=True)
def _token(monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_AZURE_TOKEN", "test-token")


def src(server, sub=SAMPLE_SUB, **kw):
    return {"cloud": "azure", "subscription_id": sub, "arm_endpoint": server.endpoint, **kw}


def rows(store, table, **match):
    return [r for r in store.read_rows(table) if all(r[k] == v for k, v in match.items())]


def test_samples_collected_live_equal_the_import_of_the_same_records(tmp_path):
    corpus = sample_corpus()
    with ArmServer(page_size=1) as server:        # one record per page: every list follows nextLink
        server.load_documents(corpus)
        store = Store(tmp_path / "live")
        [result] = az.sync(src(server), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert snapshot(store) == snapshot(import_reference(corpus, tmp_path / "ref"))
    # whole rows from the examples (WorkflowRuns_List, WorkflowRunActions_List, the loop examples)
    [run] = rows(store, "executions", execution_id=RUN1)
    assert {k: run[k] for k in ("workflow_name", "name", "status", "native_status", "revision", "kind", "account")} \
        == {"workflow_name": "test-workflow", "name": "08586676746934337772206998657CU22", "status": "SUCCEEDED",
            "native_status": "Succeeded", "revision": "08586676754160363885", "kind": "logicapp-consumption",
            "account": SAMPLE_SUB}
    assert run["started_at"] == dt.datetime(2018, 8, 10, 20, 16, 32, 44238, tzinfo=dt.timezone.utc)
    assert run["duration_ms"] == 533
    [http] = rows(store, "steps", execution_id=RUN1, step_key="http")
    assert (http["native_type"], http["status"], http["duration_ms"], http["previous_step_key"]) == \
        ("Http", "SUCCEEDED", 239, "@recurrence")
    loop = {r["step_key"]: r for r in rows(store, "steps", execution_id=RUN2)}
    assert set(loop) == {"@manual", "for_each", "for_each#for_each:0", "for_each#for_each:1",
                         "testaction#for_each:0", "testaction#for_each:1"}
    assert loop["testaction#for_each:1"]["parent_step_key"] == "for_each"
    assert loop["testaction#for_each:0"]["started_at"] == dt.datetime(2018, 4, 18, 17, 5, 57, 217991,
                                                                      tzinfo=dt.timezone.utc)
    polls = [r for r in store.read_rows("steps") if "/triggers/" in r["execution_id"]]
    assert [(p["step_key"], p["status"]) for p in polls] == [("@testtriggername", "SKIPPED")]
    usage = rows(store, "usage", execution_id=RUN2)
    assert sorted((u["step_key"], u["meter"]) for u in usage) == [
        ("@manual", "azure.logic.builtin_trigger"), ("for_each", "azure.logic.builtin_action"),
        ("testaction#for_each:0", "azure.logic.builtin_action"),
        ("testaction#for_each:1", "azure.logic.builtin_action")]
    details = json.loads(store.read_rows("collection_runs")[0]["details"])
    assert details["path"] == "management" and details["api"]["calls"]["repetitions.list"] >= 2
    assert "sig=" not in json.dumps(store.read_rows("steps"), default=str)


@pytest.mark.slow  # ~5 s: 120 simulated runs collected twice and imported once
def test_simulated_subscription_and_an_incremental_second_sync(tmp_path):
    corpus = simulated_corpus(120)
    with ArmServer(page_size=7) as server:
        server.load_documents(corpus)
        store = Store(tmp_path / "live")
        [first] = az.sync(src(server, SIM_SUB, lag="30d", concurrency=4, request_histories=True), store, now=NOW)
        assert first.status == RunStatus.SUCCEEDED, first.row()
        assert first.counts["runs_fetched"] == first.counts["runs_listed"] > 100
        assert server.counts["requestHistories.list"] >= 1        # retried actions: each try's own times
        assert snapshot(store) == snapshot(import_reference(corpus, tmp_path / "ref"))
        before, workflows_version = store.row_counts(), store.version()["workflows"]
        server.counts.clear()
        [second] = az.sync(src(server, SIM_SUB, lag="30d", concurrency=4, request_histories=True), store,
                           now=NOW + dt.timedelta(hours=1))
    assert second.status == RunStatus.SUCCEEDED, second.row()
    # the workflows read as stored are not written again to move their seen_at alone (a commit and a file a sync)
    assert "written_workflows" not in second.counts and store.version()["workflows"] == workflows_version
    assert server.run_detail_calls() == 0                          # every listed run is stored terminal
    assert second.counts["runs_skipped_terminal"] == second.counts["runs_listed"] == first.counts["runs_listed"]
    assert second.counts.get("written_executions", 0) == 0 and second.counts.get("trigger_histories_written") == 0
    after = store.row_counts()
    assert {k: after[k] for k in ("executions", "steps", "attempts", "usage")} == \
        {k: before[k] for k in ("executions", "steps", "attempts", "usage")}
    assert second.watermark == NOW + dt.timedelta(hours=1)


def test_running_run_is_revisited_until_terminal_and_a_deleted_one_is_marked_once(tmp_path):
    corpus = sample_corpus()
    running = copy.deepcopy(next(r for r in corpus if r["id"].lower() == RUN1))
    running["properties"]["status"] = "Running"
    running["properties"].pop("endTime")
    other = copy.deepcopy(running)
    other["id"] = other["id"][:-4] + "XX99"
    other["name"] = other["name"][:-4] + "XX99"
    store = Store(tmp_path / "s")
    with ArmServer() as server:
        server.load_documents([*corpus, running, other])
        source = src(server, lag="1h")
        assert az.sync(source, store, now=NOW)[0].status == RunStatus.SUCCEEDED
        assert {r["status"] for r in rows(store, "executions", execution_id=RUN1)} == {"RUNNING"}
        # later: the run ended, and the other one was deleted; both far below the listing window now
        server.load([next(r for r in corpus if r["id"].lower() == RUN1)])
        server.delete(other["id"])
        server.counts.clear()
        [result] = az.sync(source, store, now=NOW + dt.timedelta(days=1))
        assert result.status == RunStatus.SUCCEEDED, result.row()
        assert server.counts["runs.get"] == 2 and result.counts["running_revisited"] == 2
        assert result.counts["running_gone"] == 1 and "no longer exist in Azure" in result.warnings[0]
        [ended] = rows(store, "executions", execution_id=RUN1)
        assert ended["status"] == "SUCCEEDED" and ended["duration_ms"] == 533
        [gone] = rows(store, "executions", execution_id=other["id"].lower())
        assert gone["status"] == "RUNNING" and json.loads(gone["attributes"])["gone"]["code"] == "NotFound"
        server.counts.clear()
        [third] = az.sync(source, store, now=NOW + dt.timedelta(days=2))
        assert third.status == RunStatus.SUCCEEDED and server.counts["runs.get"] == 0   # not retried forever


def test_server_responses_deserialize_through_the_sdk_models_with_the_samples_keys():
    models = pytest.importorskip("azure.mgmt.logic.models")
    from flowscope.collectors.azure.clients import ArmClient, StaticTokenCredential

    cases = [
        ("WorkflowRuns_List", "WorkflowRunListResult", f"{WF1}/runs"),
        ("WorkflowRuns_Get", "WorkflowRun", RUN1),
        ("WorkflowRunActions_List", "WorkflowRunActionListResult", f"{RUN1}/actions"),
        ("WorkflowRunActions_Get", "WorkflowRunAction", f"{RUN1}/actions/HTTP"),
        ("WorkflowRunActionRepetitions_List", "WorkflowRunActionRepetitionDefinitionCollection",
         f"{RUN2}/actions/testAction/repetitions"),
        ("WorkflowRunActionRepetitions_Get", "WorkflowRunActionRepetitionDefinition",
         f"{RUN2}/actions/testAction/repetitions/000001"),
        ("WorkflowRunActionScopeRepetitions_List", "WorkflowRunActionRepetitionDefinitionCollection",
         f"{RUN2}/actions/for_each/scopeRepetitions"),
        ("WorkflowTriggerHistories_List", "WorkflowTriggerHistoryListResult",
         f"/subscriptions/{SAMPLE_SUB}/resourceGroups/testResourceGroup/providers/Microsoft.Logic/workflows/"
         "testWorkflowName/triggers/testTriggerName/histories"),
    ]
    with ArmServer() as server:
        server.load_documents(sample_corpus())
        server.load([sample_body("WorkflowRunActionRepetitions_Get")])
        client = ArmClient(server.endpoint, StaticTokenCredential(server.token))
        for sample, model_name, path in cases:
            body = client.get(path, operation="check", params={"api-version": "2019-05-01"})
            expected = sample_body(sample)
            assert _keys(body) == _keys(expected), sample
            model = getattr(models, model_name).deserialize(body)
            items = model.value if hasattr(model, "value") and isinstance(model.value, list) else [model]
            assert items and all(i.name and i.start_time is not None for i in items), sample
            # every key the SDK knows is one the server sent (serialize keeps what deserialize read)
            assert _keys(model.serialize(keep_readonly=True)) <= _keys(body), sample


def _keys(doc, prefix=""):
    out = set()
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.add(prefix + k)
            out |= _keys(v, prefix + k + ".")
    elif isinstance(doc, list):
        for v in doc:
            out |= _keys(v, prefix + "[].")
    return out


def test_the_sdk_client_does_not_follow_next_link_for_repetitions_but_the_collector_does(tmp_path):
    """azure-mgmt-logic 10 reads only the first page of repetitions (its extract_data drops
    nextLink) and imports `six` without declaring it: the collector uses azure-core's pipeline."""
    pytest.importorskip("six")
    from azure.mgmt.logic import LogicManagementClient

    from flowscope.collectors.azure.clients import StaticTokenCredential

    with ArmServer(page_size=1) as server:
        server.load_documents(sample_corpus())
        sdk = LogicManagementClient(StaticTokenCredential(server.token), SAMPLE_SUB, base_url=server.endpoint)
        reps = list(sdk.workflow_run_action_repetitions.list("testResourceGroup", "testFlow",
                                                             "08586776228332053161046300351", "testAction",
                                                             enforce_https=False))
        assert len(reps) == 1                                 # the second page is never asked for
        store = Store(tmp_path / "s")
        assert az.sync(src(server), store, now=NOW)[0].status == RunStatus.SUCCEEDED
        assert {r["step_key"] for r in rows(store, "steps", execution_id=RUN2)} >= \
            {"testaction#for_each:0", "testaction#for_each:1"}


def test_request_histories_are_read_only_when_asked(tmp_path):
    """Their permission also exposes request headers: off by default; then a retried action's
    final try has no start of its own (left null, never guessed)."""
    corpus = [r for r in simulated_corpus(120) if "requesthistories" not in r["id"].lower()]
    with ArmServer() as server:
        server.load_documents(corpus)
        store = Store(tmp_path / "s")
        [result] = az.sync(src(server, SIM_SUB, lag="30d"), store, now=NOW)
        assert result.status == RunStatus.SUCCEEDED and server.counts["requestHistories.list"] == 0
    assert snapshot(store) == snapshot(import_reference(corpus, tmp_path / "ref"))
    retried = [a for a in store.read_rows("attempts") if a["attempt"] > 1]
    assert retried and all(a["started_at"] is None for a in retried if a["status"] == "SUCCEEDED")


def test_runs_of_an_older_revision_read_that_revision_once(tmp_path):
    corpus = sample_corpus()
    workflow = next(r for r in corpus if r["id"].lower() == WF1)
    old = copy.deepcopy(workflow)
    old["id"] += "/versions/08586676754160363885"
    old["name"], old["type"] = "08586676754160363885", "Microsoft.Logic/workflows/versions"
    workflow["properties"]["version"] = "08586676754160369999"           # edited since the run
    workflow["properties"]["definition"]["actions"]["HTTP"] = {"type": "Compose", "inputs": "x", "runAfter": {}}
    store = Store(tmp_path / "s")
    with ArmServer() as server:
        server.load_documents([*corpus, old])
        assert az.sync(src(server), store, now=NOW)[0].counts["workflow_versions"] == 1
        [http] = rows(store, "steps", execution_id=RUN1, step_key="http")
        assert http["native_type"] == "Http"                # typed by the revision it ran on
        revisions = {r["revision"]: r for r in rows(store, "workflows", workflow_id=WF1)}
        assert set(revisions) == {"08586676754160363885", "08586676754160369999"}
        assert revisions["08586676754160369999"]["seen_at"] > revisions["08586676754160363885"]["seen_at"]
        server.counts.clear()
        assert az.sync(src(server, lag="4000d"), store, now=NOW)[0].status == RunStatus.SUCCEEDED
        assert server.counts["versions.get"] == 0           # stored already


def _loop_moved(corpus: list) -> tuple[list, dict]:
    """testFlow edited since its run: the run's revision has testAction inside For_each, the current
    definition has it at the top level (the loop removed). The run's revision is served as a version."""
    workflow = next(r for r in corpus if r["id"].lower() == FLOW)
    old = copy.deepcopy(workflow)
    old["id"] += "/versions/" + workflow["properties"]["version"]
    old["name"], old["type"] = workflow["properties"]["version"], "Microsoft.Logic/workflows/versions"
    workflow["properties"]["version"] = "08586776228332053161046399999"
    workflow["properties"]["definition"]["actions"] = {
        "testAction": {"type": "Http", "runAfter": {}, "inputs": {"method": "GET", "uri": "http://tempuri.org"}}}
    return [*corpus, old], old


def test_loops_of_a_run_are_read_by_the_revision_it_ran_not_the_current_one(tmp_path):
    """Which actions have repetitions came from the workflow's current definition: a run of an
    older revision whose loop has since been removed lost its iterations (one testAction row, not
    one per iteration, and its billed actions undercounted); they now come from the run's own
    revision, fetched (or read from the store) first."""
    corpus, _ = _loop_moved(sample_corpus())
    reference = snapshot(import_reference(sample_corpus(), tmp_path / "ref"))
    store = Store(tmp_path / "s")
    with ArmServer() as server:
        server.load_documents(corpus)
        [result] = az.sync(src(server), store, now=NOW)
        assert result.status == RunStatus.SUCCEEDED, result.row()
        assert server.counts["repetitions.list"] == 1 and server.counts["scopeRepetitions.list"] == 1
    visits = rows(store, "steps", execution_id=RUN2, name="testAction")
    assert len(visits) == len(sample_body("WorkflowRunActionRepetitions_List")["value"]) == 2
    got = snapshot(store)
    assert got["steps"] == reference["steps"] and got["usage"] == reference["usage"]


def test_a_running_run_of_an_older_revision_revisited_uses_that_revision_stored(tmp_path):
    corpus, _ = _loop_moved(sample_corpus())
    run = next(r for r in corpus if r["id"].lower() == RUN2)
    run["properties"]["status"], run["properties"]["endTime"] = "Running", None
    store = Store(tmp_path / "s")
    with ArmServer() as server:
        server.load_documents(corpus)
        az.sync(src(server), store, now=NOW)
        run["properties"]["status"], run["properties"]["endTime"] = "Succeeded", "2018-04-18T17:05:57.7000000Z"
        server.load([run])
        server.counts.clear()
        [again] = az.sync(src(server), store, now=NOW + dt.timedelta(days=1))   # past the lag: revisited
        assert again.status == RunStatus.SUCCEEDED, again.row()
        assert again.counts.get("running_revisited") == 1 and server.counts["versions.get"] == 0
        assert server.counts["repetitions.list"] == 1
    assert len(rows(store, "steps", execution_id=RUN2, name="testAction")) == 2


def test_a_running_run_of_a_deleted_workflow_is_marked_gone_not_running_for_ever(tmp_path):
    """Only runs of workflows listed in this sync were revisited: once a workflow was deleted (or
    recreated under another name), its runs stored RUNNING stayed RUNNING for ever (stuck
    executions that never were). A run of this scope whose workflow is no longer listed is now
    asked for once and, Azure answering 404, marked gone."""
    corpus = sample_corpus()
    running = next(r for r in corpus if r["id"].lower() == RUN2)
    running["properties"]["status"], running["properties"]["endTime"] = "Running", None
    store = Store(tmp_path / "s")
    with ArmServer() as server:
        server.load_documents(corpus)
        assert az.sync(src(server), store, now=NOW)[0].status == RunStatus.SUCCEEDED
        assert [r["status"] for r in rows(store, "executions", execution_id=RUN2)] == ["RUNNING"]
        server.delete(FLOW)                                      # the workflow and its runs
        server.counts.clear()                                    # a scope of another resource group: not its run
        az.sync(src(server, resource_groups=["test-resource-group"]), store, now=NOW + dt.timedelta(days=1))
        assert server.counts["runs.get"] == 0
        [result] = az.sync(src(server), store, now=NOW + dt.timedelta(days=1))
        assert result.status == RunStatus.SUCCEEDED, result.row()
        assert server.counts["runs.get"] == 1 and result.counts["running_gone"] == 1
        [gone] = rows(store, "executions", execution_id=RUN2)
        assert json.loads(gone["attributes"])["gone"]["code"] == "NotFound"


def test_an_action_in_a_loop_whose_last_iteration_was_skipped_has_its_repetitions_read(tmp_path):
    """The action record of an action inside a loop carries the status of one iteration: when that
    one was Skipped (a condition false in the last item), its repetitions were never listed, so the
    iterations where it ran were lost (no steps, no billed actions). A loop member's repetitions are
    now read whatever its aggregate status."""
    corpus = sample_corpus()
    aggregate = next(r for r in corpus if r["id"].lower() == RUN2 + "/actions/testaction")
    aggregate["properties"]["status"] = "Skipped"
    store = Store(tmp_path / "s")
    with ArmServer() as server:
        server.load_documents(corpus)
        [result] = az.sync(src(server), store, now=NOW)
        assert result.status == RunStatus.SUCCEEDED, result.row()
        assert server.counts["repetitions.list"] == 1
    visits = rows(store, "steps", execution_id=RUN2, name="testAction")
    assert len(visits) == len(sample_body("WorkflowRunActionRepetitions_List")["value"]) == 2


def test_a_poll_still_running_when_listed_is_written_once_it_ends(tmp_path):
    """A poll that fired nothing is written once (its id is then stored, never listed again as new).
    One listed while still running was written RUNNING, and every later sync skipped it as stored:
    the poll stayed RUNNING for ever. It is written only once finished; until then it is read again
    by the next sync (listed again here, by id otherwise)."""
    corpus = simulated_corpus(20)
    fired = next(r for r in corpus if r["type"].lower().endswith("/triggers/histories"))
    poll = json.loads(json.dumps(fired))
    poll["properties"] = {"startTime": "2026-11-01T23:58:00.0000000Z", "status": "Running", "fired": False}
    poll["id"] = fired["id"].rsplit("/", 1)[0] + "/08584000000000000000000000POLL1"
    poll["name"] = "08584000000000000000000000POLL1"
    with ArmServer() as server:
        server.load_documents(corpus + [poll])
        store = Store(tmp_path / "s")
        [first] = az.sync(src(server, SIM_SUB, lag="15m"), store, now=NOW, since=NOW - dt.timedelta(days=3))
        assert first.status == RunStatus.SUCCEEDED, first.row()
        server.items[canonical(poll["id"])]["properties"].update(status="Succeeded",
                                                                 endTime="2026-11-01T23:58:01.0000000Z")
        [second] = az.sync(src(server, SIM_SUB, lag="15m"), store, now=NOW + dt.timedelta(minutes=30))
        assert second.status == RunStatus.SUCCEEDED, second.row()
    steps = [r for r in store.read_rows("steps") if r["execution_id"].endswith("/histories/" + poll["name"].lower())]
    assert [s["status"] for s in steps] == ["SUCCEEDED"], steps


def _running_poll(corpus, start):
    """A poll of one of the corpus's triggers that fired nothing and is still running."""
    history = next(r for r in corpus if "/histories/" in r["id"].lower())
    poll = copy.deepcopy(history)
    poll["id"] = history["id"].rsplit("/", 1)[0] + "/08580000000000000000000000000CU00"
    poll["name"] = "08580000000000000000000000000CU00"
    props = poll["properties"]
    props.update({"startTime": start.isoformat().replace("+00:00", "Z"), "status": "Running", "fired": False})
    for key in ("endTime", "run"):
        props.pop(key, None)
    return poll


def test_a_poll_still_running_is_read_again_by_id_and_does_not_hold_the_watermark(tmp_path):
    """A poll that fired nothing and was still running held the scope's watermark at its start until
    it ended, silently: one that stayed Running for days kept every sync re-listing every workflow's
    runs and histories from there, and the sync said succeeded with its watermark not moving. A
    running poll is now remembered by id (`details.running_polls`) and read again (`histories.get`)
    by the next sync, the watermark unheld; written once it has ended."""
    corpus = simulated_corpus(60)
    poll = _running_poll(corpus, NOW - dt.timedelta(hours=12))
    store = Store(tmp_path / "s")
    with ArmServer() as server:
        server.load_documents([*corpus, poll])
        [first] = az.sync(src(server, SIM_SUB, lag="1h"), store, now=NOW)
        assert first.status == RunStatus.SUCCEEDED and first.watermark == NOW, first.row()
        assert first.counts["trigger_polls_running"] == 1
        assert list(json.loads(first.row()["details"])["running_polls"]) == [canonical(poll["id"])]
        [still] = az.sync(src(server, SIM_SUB, lag="1h"), store, now=NOW + dt.timedelta(days=2))
        assert still.watermark == NOW + dt.timedelta(days=2) and server.counts["histories.get"] == 1
        assert json.loads(still.row()["details"])["running_polls"] == \
            json.loads(first.row()["details"])["running_polls"]
        poll["properties"].update({"status": "Succeeded", "endTime": "2026-11-03T00:00:00Z"})
        server.load([poll])
        server.counts.clear()
        [ended] = az.sync(src(server, SIM_SUB, lag="1h"), store, now=NOW + dt.timedelta(days=3))
    assert ended.status == RunStatus.SUCCEEDED, ended.row()
    assert server.counts["histories.get"] == 1 and "running_polls" not in json.loads(ended.row()["details"])
    [row] = [r for r in store.read_rows("steps") if r["execution_id"] == canonical(poll["id"])]
    assert row["status"] == "SUCCEEDED" and row["ended_at"] == dt.datetime(2026, 11, 3, tzinfo=dt.timezone.utc)


def test_a_poll_running_for_longer_than_a_poll_can_is_written_as_last_read_and_said(tmp_path):
    """A poll never ends after days: it is not asked about for ever, but written as last read, said."""
    corpus = simulated_corpus(60)
    poll = _running_poll(corpus, NOW - dt.timedelta(hours=12))
    store = Store(tmp_path / "s")
    with ArmServer() as server:
        server.load_documents([*corpus, poll])
        az.sync(src(server, SIM_SUB, lag="1h"), store, now=NOW)
        [late] = az.sync(src(server, SIM_SUB, lag="1h"), store, now=NOW + dt.timedelta(days=8))
        [after] = az.sync(src(server, SIM_SUB, lag="1h"), store, now=NOW + dt.timedelta(days=9))
    assert late.status == RunStatus.SUCCEEDED and "running_polls" not in json.loads(late.row()["details"])
    assert any("still running" in w and "written as last read" in w for w in late.warnings), late.warnings
    assert [r["status"] for r in store.read_rows("steps") if r["execution_id"] == canonical(poll["id"])] == \
        ["RUNNING"]
    assert after.status == RunStatus.SUCCEEDED and server.counts["histories.get"] == 1


def test_a_retried_action_inside_a_loop_has_its_repetitions_request_histories_read(tmp_path):
    """With `request_histories`, only the actions' own records were looked at: an action inside a
    loop whose repetitions were retried never had their request histories read (the aggregate's, when
    read, belong to no visit and were dropped), so the final try of each retried repetition kept no
    start. A retried repetition's request histories (`{repetition}/requestHistories`, the REST
    example's shape) now give it, the aggregate's no longer asked for."""
    corpus = sample_corpus()
    rep = next(r for r in corpus if r["id"].lower() == f"{RUN2}/actions/testaction/repetitions/000001")
    rep["properties"]["retryHistory"] = [{"startTime": "2018-04-18T17:05:57.0929911Z",
                                          "endTime": "2018-04-18T17:05:57.0950000Z", "code": "BadGateway",
                                          "error": {"code": "BadGateway", "message": "502"}}]
    aggregate = next(r for r in corpus if r["id"].lower() == f"{RUN2}/actions/testaction")
    aggregate["properties"]["retryHistory"] = rep["properties"]["retryHistory"]   # the last visit's record
    example = sample_body("WorkflowRunActionRequestHistories_List")["value"][0]
    requests = []
    for i, start in enumerate(("2018-04-18T17:05:57.0929911Z", "2018-04-18T17:05:57.0990000Z")):
        request = copy.deepcopy(example)
        request["id"] = f"{rep['id']}/requestHistories/0858661114273280068{i}"
        request["name"] = request["id"].rsplit("/", 1)[-1]
        request["type"] = "Microsoft.Logic/workflows/runs/actions/repetitions/requestHistories"
        request["properties"].update({"startTime": start, "endTime": start})
        requests.append(request)
    with ArmServer() as server:
        server.load_documents([*corpus, *requests])
        store = Store(tmp_path / "s")
        [result] = az.sync(src(server, request_histories=True, metrics=False), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    calls = json.loads(result.row()["details"])["api"]["calls"]
    assert calls["repetitionRequestHistories.list"] == 1 and "requestHistories.list" not in calls
    tries = sorted((a["attempt"], a["status"], a["started_at"]) for a in store.read_rows("attempts")
                   if a["execution_id"] == RUN2 and a["step_key"] == "testaction#for_each:1")
    assert tries == [(1, "FAILED", dt.datetime(2018, 4, 18, 17, 5, 57, 92991, tzinfo=dt.timezone.utc)),
                     (2, "SUCCEEDED", dt.datetime(2018, 4, 18, 17, 5, 57, 99000, tzinfo=dt.timezone.utc))]


def test_a_running_poll_that_fired_since_is_not_written_without_its_run(tmp_path):
    """A poll read again by id that fired a run meanwhile joins that run only when the run was
    fetched: a fire whose run this sync did not read is not written as steps of no stored run."""
    corpus = simulated_corpus(60)
    poll = _running_poll(corpus, NOW - dt.timedelta(hours=12))
    store = Store(tmp_path / "s")
    with ArmServer() as server:
        server.load_documents([*corpus, poll])
        az.sync(src(server, SIM_SUB, lag="1h", metrics=False), store, now=NOW)
        workflow = poll["id"].split("/triggers/")[0]
        poll["properties"].update({"status": "Succeeded", "endTime": "2026-11-02T00:10:00Z", "fired": True,
                                   "run": {"name": "08580000000000000000000000001CU00",
                                           "id": f"{workflow}/runs/08580000000000000000000000001CU00",
                                           "type": "Microsoft.Logic/workflows/runs"}})
        server.load([poll])
        [later] = az.sync(src(server, SIM_SUB, lag="1h", metrics=False), store, now=NOW + dt.timedelta(days=1))
    assert later.status == RunStatus.SUCCEEDED and server.counts["histories.get"] == 1, later.row()
    assert "running_polls" not in json.loads(later.row()["details"])
    assert not [r for r in store.read_rows("steps") if r["execution_id"].endswith("08580000000000000000000000001cu00")]


@pytest.mark.parametrize("start", ["not a time", ["2026-11-01"]])
def test_a_running_poll_with_an_unreadable_start_is_a_skip_not_a_failed_scope(tmp_path, start):
    """A poll that fired nothing whose startTime is not a time (cloud text is untrusted) failed the
    whole scope (a ValueError out of the triggers step): every other run of the subscription went
    uncollected. It is now handed to the transform like any record, which skips it, said."""
    corpus = simulated_corpus(20)
    poll = _running_poll(corpus, NOW - dt.timedelta(hours=1))
    poll["properties"]["startTime"] = start
    with ArmServer() as server:
        server.load_documents([*corpus, poll])
        store = Store(tmp_path / "s")
        [result] = az.sync(src(server, SIM_SUB, lag="30d", metrics=False), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED and store.read_rows("executions"), result.row()
    details = json.loads(result.row()["details"])
    assert result.counts["skipped_records"] == 1 and "azure.trigger_histories" in details["skips"][0]["reason"]
    assert "running_polls" not in details
