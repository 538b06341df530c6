"""The GCP live collector end to end against the local Workflows server (tests/gcp/gcp_server.py):
the real google-auth AuthorizedSession, the real transforms, a real store."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowscope.collectors.gcp import clients as gcp_clients
from flowscope.collectors.gcp import collector as gcp
from flowscope.collectors.importer import import_files
from flowscope.collectors.sync import live_collection_available, sync_store
from flowscope.exitcodes import ExitCode
from flowscope.model import C, RunStatus
from flowscope.simulate.base import SimSpec
from flowscope.simulate.gcp import PROJECT, simulate
from flowscope.store import Store
from tests.gcp.gcp_server import TOKEN, GcpServer, served_documents, simulated_server, snapshot, source_of

UTC = dt.timezone.utc
SPEC = SimSpec(dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 11, 2, tzinfo=UTC), 60, seed=5)
NOW = SPEC.end + dt.timedelta(hours=1)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[GcpServer]:
    with simulated_server(monkeypatch, SPEC) as srv:
        yield srv


def source(server: GcpServer, **extra: object) -> dict:
    return source_of(server, PROJECT, **extra)


def write_docs(folder: Path, docs: list[tuple[str, object]]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (_fmt, doc) in enumerate(docs):
        path = folder / f"{i:04d}.json"
        path.write_text(json.dumps(doc))
        paths.append(path)
    return paths


def price_usage(rows: list[dict]) -> float:
    """Dollars of usage rows by the project's one price list (no free tier: every step counts)."""
    from collections import Counter

    from flowscope.analysis.pricing import price

    totals: Counter = Counter()
    for row in rows:
        totals[(row[C.meter], row[C.region])] += row[C.quantity]
    return sum(price(meter, qty, region=region, free_tier=False) for (meter, region), qty in totals.items())


def running_names(server: GcpServer) -> list[str]:
    return [n for n, e in server.executions.items() if e["state"] == "ACTIVE"]


def test_live_rows_equal_the_importer_on_the_same_documents(server, tmp_path):
    store = Store(tmp_path / "live")
    [result] = gcp.sync(source(server), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert result.counts["executions_fetched"] == len(server.executions) == 60
    assert result.counts["step_entries"] == sum(len(v) for v in server.entries.values())

    imported = Store(tmp_path / "imported")
    import_files(imported, write_docs(tmp_path / "docs", served_documents(server)))
    live_rows, import_rows = snapshot(store), snapshot(imported)
    for table in live_rows:
        assert live_rows[table] == import_rows[table], table
    assert len(live_rows["usage"]) > 900 and len(live_rows["attempts"]) > 100
    assert {r[C.source] for r in store.read_rows("executions")} == {"api"}


def test_live_usage_prices_the_same_as_the_full_export(server, tmp_path):
    """Billing comes from the shared transforms: the BASIC listing changes no billed quantity."""
    store = Store(tmp_path / "live")
    gcp.sync(source(server), store, now=NOW)
    exported = Store(tmp_path / "export")
    import_files(exported, write_docs(tmp_path / "docs", simulate(SPEC).documents))
    usage_cols = frozenset({"seen_at", "collected_at", "source"})
    assert snapshot(store, usage_cols)["usage"] == snapshot(exported, usage_cols)["usage"]
    live, full = price_usage(store.read_rows("usage")), price_usage(exported.read_rows("usage"))
    assert live == pytest.approx(full) and live > 0


def test_a_second_sync_reads_no_step_entries_of_unchanged_executions(server, tmp_path):
    store = Store(tmp_path / "s")
    gcp.sync(source(server), store, now=NOW)
    active = running_names(server)
    assert len(active) == 2
    stored = {e[C.execution_id]: e[C.status] for e in store.read_rows("executions")}
    assert all(stored[n] == "RUNNING" for n in active)

    server.requests.clear()
    workflows_version = store.version()["workflows"]
    [second] = gcp.sync(source(server), store, now=NOW + dt.timedelta(minutes=30))
    assert second.status == RunStatus.SUCCEEDED
    # the workflows read as stored are not written again to move their seen_at alone (a commit and a file a sync)
    assert "written_workflows" not in second.counts and store.version()["workflows"] == workflows_version
    assert second.counts["running_revisited"] == 2           # the ACTIVE ones, and only them
    assert server.calls_to("step_entries") == 2 and server.calls_to("executions_get") == 2

    for name in active:                                      # they end meanwhile
        server.executions[name].update(state="SUCCEEDED", endTime="2026-11-02T00:30:00.000000000Z",
                                       duration="60.000000000s")
    server.requests.clear()
    gcp.sync(source(server), store, now=NOW + dt.timedelta(hours=1))
    assert server.calls_to("step_entries") == 2
    after = {e[C.execution_id]: e[C.status] for e in store.read_rows("executions")}
    assert len(after) == 60 and all(after[n] == "SUCCEEDED" for n in active)   # replaced, no duplicates

    server.requests.clear()
    [fourth] = gcp.sync(source(server), store, now=NOW + dt.timedelta(hours=2))
    assert fourth.status == RunStatus.SUCCEEDED
    assert server.calls_to("step_entries") == 0 and server.calls_to("executions_get") == 0
    assert "running_revisited" not in fourth.counts


def test_the_listing_filters_on_the_window_and_asks_for_the_basic_view(server, tmp_path):
    store = Store(tmp_path / "s")
    gcp.sync(source(server), store, now=NOW)
    server.requests.clear()
    gcp.sync(source(server, lag="10m"), store, now=NOW + dt.timedelta(minutes=5))
    listings = [q for m, p, q in server.requests if p.endswith("/executions")]
    assert len(listings) == 3
    for query in listings:
        assert query["view"] == ["BASIC"] and query["pageSize"] == ["1000"]
        assert query["filter"] == ['createTime>="2026-11-02T00:50:00.000000Z"']     # watermark (NOW) - 10m


def test_failed_execution_gets_its_full_view_and_past_revision_its_definition(server, tmp_path):
    wf_name = f"projects/{PROJECT}/locations/us-central1/workflows/etl-nightly"
    current = server.workflows[wf_name]
    old = {**current, "revisionId": "000001-abc",
           "sourceContents": current["sourceContents"].replace("googleapis.bigquery.v2.jobs.query", "http.post")}
    server.add_workflow(old, current=False)
    failed = f"{wf_name}/executions/failed-1"
    server.add_execution({
        "name": failed, "state": "FAILED", "startTime": "2026-11-01T12:00:00.000000000Z",
        "createTime": "2026-11-01T12:00:00.000000000Z", "endTime": "2026-11-01T12:00:02.000000000Z",
        "duration": "2s", "workflowRevisionId": "000001-abc", "argument": '{"secret": "x"}',
        "error": {"payload": '{"message":"boom","tags":["HttpError"]}', "context": "HttpError in step run_query"},
    }, [{"name": f"{failed}/stepEntries/1", "entryId": "1", "step": "init", "routine": "main",
         "stepType": "STEP_ASSIGN", "state": "STATE_SUCCEEDED", "createTime": "2026-11-01T12:00:00.100000000Z",
         "updateTime": "2026-11-01T12:00:00.200000000Z", "variableData": {"variables": {"k": "secret"}}}])
    store = Store(tmp_path / "s")
    [result] = gcp.sync(source(server), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert server.calls_to("executions_get") == 1            # FULL only where needed
    [row] = store.read_rows("executions", f"{C.execution_id} = '{failed}'")
    assert row[C.status] == "FAILED" and row[C.revision] == "000001-abc"
    assert (row[C.error], row[C.cause]) == ("HttpError", "boom; HttpError in step run_query")
    revisions = {(w[C.workflow_id], w[C.revision]) for w in store.read_rows("workflows")}
    assert (wf_name, "000001-abc") in revisions and (wf_name, current["revisionId"]) in revisions
    assert result.counts["revisions_fetched"] == 1
    server.requests.clear()
    gcp.sync(source(server), store, now=NOW + dt.timedelta(minutes=1))
    assert server.calls_to("workflows_get") == 0              # a stored revision is not read again
    assert "secret" not in json.dumps(store.read_rows("steps"), default=str)


def test_globs_and_locations(server, tmp_path):
    server.extra_locations[PROJECT] = {"asia-east1"}        # a location without workflows
    store = Store(tmp_path / "s")
    [result] = gcp.sync(source(server, workflows=["etl-*"]), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED
    assert result.details["locations"] == ["us-central1"]
    assert {e[C.workflow_name] for e in store.read_rows("executions")} == {"etl-nightly"}
    assert result.scope.startswith(f"gcp:{PROJECT}:all-locations#")

    results = gcp.sync(source(server, locations=["us-central1", "asia-east1"]), Store(tmp_path / "t"), now=NOW)
    assert [r.scope for r in results] == [f"gcp:{PROJECT}:us-central1", f"gcp:{PROJECT}:asia-east1"]
    assert [r.counts.get("executions_fetched", 0) for r in results] == [60, 0]


def test_sync_store_and_doctor_pick_the_collector_up(server, tmp_path):
    assert live_collection_available("gcp")
    store = Store(tmp_path / "s")
    report = sync_store(store, [source(server)], now=NOW)
    assert report.ok and report.exit_code == 0
    [run] = [r for r in store.read_rows("collection_runs") if r["cloud"] == "gcp"]
    assert run["status"] == "succeeded" and run["watermark"] is not None
    details = json.loads(run["details"])
    assert details["api_calls"]["stepEntries.list"] == 60
    assert TOKEN not in run["details"] and TOKEN not in (run["error"] or "")


def test_a_sync_first_rewrites_what_an_earlier_flowscope_stored(server, tmp_path):
    """Old GCP exception JSON and AWS job descriptions are rewritten before the scopes run
    (`collectors/stored_texts.py`), and the summary says so."""
    from tests.core.test_stored_texts import _old_batch

    store = Store(tmp_path / "s")
    store.write(_old_batch()[0])
    report = sync_store(store, [source(server)], now=NOW)
    assert report.ok and report.upgraded.texts == 4
    assert any("rewrote the error texts of 4 execution(s)" in line for line in report.summary_lines())
    assert not store.sql("SELECT * FROM steps WHERE error LIKE '{%'").shape[0]


def test_a_sync_first_moves_rows_an_earlier_flowscope_dated_off_their_run(server, tmp_path, monkeypatch):
    """Steps, attempts and usage stored under another start date than their run's move to it before the scopes
    run (`collectors/stored_dates.py`), and the summary says so."""
    from tests.core.test_stored_dates import OFF_DATED, _off_dated, _write_old

    store = _write_old(tmp_path / "s", monkeypatch)
    report = sync_store(store, [source(server)], now=NOW)
    assert report.ok and report.upgraded.dates == OFF_DATED
    assert any(f"of {OFF_DATED} execution(s) stored by an earlier flowscope to their run's start date" in line
               for line in report.summary_lines())
    assert _off_dated(store) == 0


def test_a_sync_that_wrote_merges_crowded_partitions_and_says_so(server, tmp_path):
    """DESIGN.md: compact after syncs. Partitions crowded by earlier small appends are merged once the
    sync has written (`collectors/upkeep.py`)."""
    from flowscope.collectors.upkeep import COMPACT_AFTER_FILES
    from tests.core.test_upkeep import _files_per_partition, _small_batch

    store = Store(tmp_path / "s")
    for n in range(COMPACT_AFTER_FILES + 1):
        store.write(_small_batch(n))
    assert _files_per_partition(store, "steps") > COMPACT_AFTER_FILES
    report = sync_store(store, [source(server)], now=NOW)
    assert report.ok and report.upkeep and report.upkeep.startswith("merged small files:")
    assert report.upkeep in report.summary_lines()
    assert _files_per_partition(store, "steps") <= COMPACT_AFTER_FILES


# ---------------------------------------------------------------- configuration and the guard

@pytest.mark.parametrize("bad, says", [
    ({"regions": ["x"]}, "unknown key"),
    ({"project": ""}, "project"),
    ({"project": "a/b"}, "project"),
    ({"project": "123456789012"}, "project number"),
    ({"locations": "us-central1"}, "locations"),
    ({"workflows": []}, "workflows"),
    ({"endpoint": "http://10.0.0.5:8080"}, "loopback"),
    ({"endpoint": "ftp://127.0.0.1"}, "https"),
    ({"endpoint": "https://user:pw@example.com"}, "bare root"),
    ({"concurrency": 0}, "concurrency"),
    ({"lag": "soon"}, "lag"),
    ({"quotas": {"stepEntries.list": [1]}}, "quotas"),
    ({"path": "fast"}, "path"),
])
def test_bad_source_entries_are_refused_with_a_clear_message(bad, says):
    with pytest.raises(gcp.SourceConfigError, match=says):
        gcp.validate({"cloud": "gcp", "project": "p", **bad})


def test_endpoints_per_service_and_loopback_only_in_clear():
    assert gcp_clients.service_root(None, "workflowexecutions") == "https://workflowexecutions.googleapis.com"
    assert gcp_clients.service_root("https://{service}.p.example/", "logging") == "https://logging.p.example"
    assert gcp_clients.service_root("http://127.0.0.1:9", "workflows") == "http://127.0.0.1:9"
    for ok in ("http://127.0.0.1:8080", "http://[::1]:9", "http://localhost:1", "https://{service}.googleapis.com"):
        assert gcp_clients.endpoint_problem(ok) is None, ok
    assert gcp_clients.endpoint_problem("http://example.com") is not None
    [scope] = gcp.scopes({"cloud": "gcp", "project": "p", "lag": "1h", "quotas": {"executions.list": [5, 1]}})
    assert scope.location is None and scope.lag == dt.timedelta(hours=1)


def test_the_session_refuses_anything_but_reads_before_sending(server):
    clients = gcp_clients.scope_clients(project=PROJECT, endpoint=server.endpoint)
    wf = f"{server.endpoint}/v1/projects/{PROJECT}/locations/us-central1/workflows/etl-nightly"
    attempts = [
        lambda: clients.session.post(f"{wf}/executions", json={"argument": "{}"}),       # executions.create
        lambda: clients.session.post(f"{wf}/executions/x:cancel", json={}),
        lambda: clients.session.delete(wf),
        lambda: clients.session.patch(wf, json={}),
        lambda: clients.session.request("PUT", wf),
        lambda: clients.post_json("workflowexecutions", f"v1/{wf.split('/v1/', 1)[1]}/executions",
                                  api="executions.create", body={}),
        lambda: clients.session.post(f"{server.endpoint}/v3/projects/{PROJECT}/timeSeries", json={}),  # create
    ]
    for attempt in attempts:
        with pytest.raises(gcp_clients.ReadOnlyViolation):
            attempt()
    assert server.requests == []                              # nothing reached the server
    assert clients.get_json("workflows", f"v1/projects/{PROJECT}/locations", api="workflows")["locations"]
    page = clients.post_json("logging", "v2/entries:list", api="logging.entries.list",
                             body={"resourceNames": [f"projects/{PROJECT}"]})
    assert page == {"entries": []}
    assert [m for m, _, _ in server.requests] == ["GET", "POST"]


def test_the_role_document_grants_exactly_the_permissions_used():
    text = (REPO / "docs" / "gcp-role.md").read_text()
    listed = set(__import__("re").findall(r"`((?:workflows|logging|monitoring)\.[a-zA-Z]+\.[a-zA-Z]+)`", text))
    assert listed == set(gcp_clients.PERMISSIONS)
    assert {"workflows.workflows.get", "workflows.workflows.list", "workflows.executions.get",
            "workflows.executions.list", "logging.logEntries.list", "monitoring.timeSeries.list",
            "monitoring.metricDescriptors.list"} <= listed


@pytest.mark.parametrize("locations", [None, ["europe-west9"]])
def test_a_project_that_lists_no_workflow_is_said_not_a_silent_success(server, tmp_path, locations):
    """A project (or a location) without one workflow, e.g. the wrong project or location in the
    source, synced as a bare "succeeded": it now says nothing was there to collect and what to check,
    as the AWS collector does for a region without state machines."""
    extra = {"locations": locations} if locations else {}
    server.extra_locations["empty-project"] = {"us-central1", "europe-west9"}
    report = sync_store(Store(tmp_path / "s"), [source_of(server, "empty-project", **extra)], now=NOW)
    [result] = report.results
    where = "location europe-west9" if locations else "any location"
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert result.warnings == [f"no workflows in project empty-project, {where}: nothing to collect (check the "
                               "source's project and locations, and that the credentials may list workflows there)"]
    assert any("warning: no workflows in project empty-project" in line for line in report.summary_lines())


def test_a_glob_matching_no_workflow_is_no_data(server, tmp_path):
    """A typo'd glob (`workflows = ["etl-nightyl"]`) listed every location's workflows, kept none and
    passed as a clean success: the sync report says "0 of N workflows match", exit 3."""
    report = sync_store(Store(tmp_path / "s"), [source(server, workflows=["etl-nightyl"])], now=NOW)
    [result] = report.results
    assert result.status == RunStatus.SUCCEEDED and report.unmatched == [result]
    assert report.exit_code == ExitCode.NO_DATA
    listed = result.counts["glob_listed"]
    assert listed > 1 and f"0 of {listed} workflows match ['etl-nightyl']" in report.summary_lines()[0]
    report = sync_store(Store(tmp_path / "t"), [source(server, workflows=["etl-*"])], now=NOW)
    assert report.exit_code == ExitCode.OK and not report.unmatched and "match" not in report.summary_lines()[0]


def test_executions_named_by_project_number_are_stored_under_the_project_id(server, tmp_path):
    """The Executions API names executions and step entries `projects/<number>/...` while the
    workflows, the source's `project` and Cloud Logging's labels use the project id: the rows must
    be keyed by the project id, or executions lose their workflow (definition, meters), stored
    running ones are never revisited (the revisit asks by project id) and an import of the same
    executions by id stores them twice."""
    server.project_numbers[PROJECT] = "123456789012"
    store = Store(tmp_path / "live")
    [result] = gcp.sync(source(server), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    server.project_numbers.clear()
    imported = Store(tmp_path / "imported")
    import_files(imported, write_docs(tmp_path / "docs", served_documents(server)))
    live_rows, import_rows = snapshot(store), snapshot(imported)
    for table in live_rows:
        assert live_rows[table] == import_rows[table], table

    server.project_numbers[PROJECT] = "123456789012"
    [second] = gcp.sync(source(server), store, now=NOW + dt.timedelta(minutes=30))
    assert second.counts["running_revisited"] == 2
    assert {e[C.account] for e in store.read_rows("executions")} == {PROJECT}
    assert len(store.read_rows("executions")) == 60


def test_what_the_transforms_warn_about_is_said_by_the_sync(server, tmp_path):
    """A workflow whose source cannot be parsed has its call steps billed as external (an upper
    bound): `flowscope import` says so, but a live sync wrote the rows and dropped the warning, so
    the dearer meter went unexplained. The sync's collection_runs row says it too."""
    wf_name = f"projects/{PROJECT}/locations/us-central1/workflows/etl-nightly"
    server.workflows[wf_name]["sourceContents"] = "main: [unclosed"
    store = Store(tmp_path / "s")
    [result] = gcp.sync(source(server), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    said = [w for w in result.warnings if "etl-nightly" in w and "could not be parsed" in w]
    assert len(said) == 1, result.warnings
    assert said[0] in json.loads(result.row()["details"])["warnings"]


def test_a_queued_execution_listed_before_it_started_is_stored_running(server, tmp_path):
    """A QUEUED execution (over the concurrency limit) has no startTime yet, and the BASIC listing
    gives no createTime: a first sync reaching back to everything skipped it as a record without a
    time, so a backlog was invisible. Its FULL view gives its createTime: stored RUNNING (QUEUED),
    revisited until it ends."""
    wf = next(iter(sorted(server.workflows)))
    name = f"{wf}/executions/queued-1"
    server.add_execution({"name": name, "state": "QUEUED", "createTime": "2026-11-01T23:59:00Z",
                          "workflowRevisionId": server.workflows[wf]["revisionId"]})
    store = Store(tmp_path / "s")
    [result] = gcp.sync(source(server), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    [row] = [r for r in store.read_rows("executions") if r[C.execution_id] == name]
    assert (row[C.status], row[C.native_status]) == ("RUNNING", "QUEUED")
    assert row[C.started_at] == dt.datetime(2026, 11, 1, 23, 59, tzinfo=UTC)
    assert "skips" not in result.details, result.details.get("skips")


def test_an_execution_queued_longer_than_the_lag_whose_entries_failed_is_listed_again(server, tmp_path):
    """The listing filters on createTime, but a failed read held the watermark at the execution's
    startTime (BASIC gives no createTime): one queued longer than the lag window was created before
    the next sync's lower bound, so it was never listed again and its run was lost. The hold goes no
    later than where this listing started, so the next sync lists it again and reads it."""
    wf = next(iter(sorted(server.workflows)))
    store = Store(tmp_path / "s")
    gcp.sync(source(server), store, now=NOW)
    name = f"{wf}/executions/long-queued"
    server.add_execution({"name": name, "state": "SUCCEEDED", "createTime": "2026-11-02T01:01:00.000000000Z",
                          "startTime": "2026-11-02T01:40:00.000000000Z", "endTime": "2026-11-02T01:40:01.000000000Z",
                          "duration": "1s", "workflowRevisionId": server.workflows[wf]["revisionId"]},
                         [{"name": f"{name}/stepEntries/1", "entryId": "1", "step": "first", "routine": "main",
                           "stepType": "STEP_ASSIGN", "state": "STATE_SUCCEEDED",
                           "createTime": "2026-11-02T01:40:00.100000000Z",
                           "updateTime": "2026-11-02T01:40:00.200000000Z"}])
    # every attempt of the second sync fails (a 403 on every execution read is a failed scope: a role's)
    server.fail(f"{name.rsplit('/', 1)[-1]}/stepEntries", 500, times=6)
    [second] = gcp.sync(source(server), store, now=NOW + dt.timedelta(minutes=50))
    assert second.status == RunStatus.PARTIAL, second.row()
    assert name not in {r[C.execution_id] for r in store.read_rows("executions")}
    [third] = gcp.sync(source(server), store, now=NOW + dt.timedelta(minutes=60))
    assert third.status == RunStatus.SUCCEEDED, third.row()
    [row] = [r for r in store.read_rows("executions") if r[C.execution_id] == name]
    assert row[C.status] == "SUCCEEDED"
    assert [r[C.name] for r in store.read_rows("steps") if r[C.execution_id] == name] == ["first"]


def test_an_execution_queued_during_an_incremental_sync_is_collected_even_if_cancelled_unstarted(server, tmp_path):
    """The incremental listing filtered on `startTime>=`: an execution waiting in the backlog (no
    startTime) was not returned, and one cancelled before it started never was: that run was lost.
    The listing filters on createTime: it is stored RUNNING (QUEUED), then revisited until it ends."""
    wf = next(iter(sorted(server.workflows)))
    store = Store(tmp_path / "s")
    gcp.sync(source(server), store, now=NOW)
    name = f"{wf}/executions/queued-late"
    server.add_execution({"name": name, "state": "QUEUED", "createTime": "2026-11-02T01:01:00.000000000Z",
                          "workflowRevisionId": server.workflows[wf]["revisionId"]})
    [second] = gcp.sync(source(server), store, now=NOW + dt.timedelta(minutes=5))
    assert second.status == RunStatus.SUCCEEDED, second.row()
    rows = {r[C.execution_id]: r for r in store.read_rows("executions")}
    assert (rows[name][C.status], rows[name][C.native_status]) == ("RUNNING", "QUEUED")

    server.executions[name].update(state="CANCELLED", endTime="2026-11-02T01:20:00.000000000Z")
    [third] = gcp.sync(source(server), store, now=NOW + dt.timedelta(minutes=30))
    assert third.status == RunStatus.SUCCEEDED, third.row()
    [row] = [r for r in store.read_rows("executions") if r[C.execution_id] == name]
    assert (row[C.status], row[C.native_status]) == ("ABORTED", "CANCELLED")


@pytest.mark.parametrize(("suffix", "operation"), [("", "executions.get"), ("/stepEntries", "stepEntries.list")])
def test_a_running_execution_that_cannot_be_read_again_does_not_hold_the_watermark(server, tmp_path, suffix,
                                                                                   operation):
    """A stored ACTIVE execution is read again by id every sync until it ends: one whose read (or its
    step entries') failed, for days of an execution that runs for days, also held the scope's watermark,
    for nothing, the next sync reading it by id anyway. Its failure is an error of the sync, the
    watermark moves on, and it is read again once it answers."""
    store = Store(tmp_path / "s")
    gcp.sync(source(server, lag="15m"), store, now=NOW)
    active = sorted(running_names(server))
    server.fail(f"/executions/{active[0].rsplit('/', 1)[1]}{suffix}", 403, times=10**6)
    later = NOW + dt.timedelta(days=3)
    [partial] = gcp.sync(source(server, lag="15m"), store, now=later)
    assert partial.status == RunStatus.PARTIAL and partial.errors[0]["operation"] == operation, partial.row()
    assert partial.watermark == later
    server.faults.clear()
    server.requests.clear()
    [after] = gcp.sync(source(server, lag="15m"), store, now=later + dt.timedelta(hours=1))
    assert after.status == RunStatus.SUCCEEDED and after.counts["running_revisited"] == len(active)


def test_a_workflow_whose_executions_cannot_be_listed_for_days_does_not_freeze_the_scope(server, tmp_path):
    """One workflow whose executions listing kept failing held the whole scope's watermark where it
    was: every sync, for as long as it failed, re-listed every workflow from there. The watermark now
    moves on; the workflow is remembered with where to read it from (`details.workflows_unread_since`)
    and its executions of those days are read once it answers."""
    t1 = SPEC.start + dt.timedelta(hours=12)
    from collections import Counter

    [(workflow, _)] = Counter(n.split("/executions/")[0] for n in server.executions).most_common(1)
    late = {n: e for n, e in server.executions.items() if n.startswith(workflow + "/")
            and e.get("createTime", e.get("startTime")) >= t1.strftime("%Y-%m-%dT%H:%M:%S")}
    assert late
    held = {n: (server.executions.pop(n), server.entries.pop(n, None)) for n in late}
    store = Store(tmp_path / "s")
    assert gcp.sync(source(server, lag="15m"), store, now=t1)[0].status == RunStatus.SUCCEEDED
    for name, (doc, entries) in held.items():                 # they run after the first sync
        server.executions[name] = doc
        if entries is not None:
            server.entries[name] = entries
    server.fail(f"{workflow}/executions", 403, times=10**6, method="GET")
    syncs = [gcp.sync(source(server, lag="15m"), store, now=NOW + dt.timedelta(days=d))[0] for d in (0, 3)]
    server.faults.clear()
    [after] = gcp.sync(source(server, lag="15m"), store, now=NOW + dt.timedelta(days=4))
    for day, partial in zip((0, 3), syncs, strict=True):
        assert partial.status == RunStatus.PARTIAL and partial.errors[0]["operation"] == "executions.list"
        assert partial.watermark == NOW + dt.timedelta(days=day)
        assert json.loads(partial.row()["details"])["workflows_unread_since"] == \
            {workflow: (t1 - dt.timedelta(minutes=15)).isoformat()}
    assert after.status == RunStatus.SUCCEEDED, after.row()
    assert "workflows_unread_since" not in json.loads(after.row()["details"])
    assert set(late) <= {e[C.execution_id] for e in store.read_rows("executions")}


@pytest.mark.parametrize("endpoint, said", [
    ("http://127.0.0.1:99999", "gcp source: endpoint has a port that is not a number from 1 to 65535"),
    ("http://127.0.0.1:abc", "gcp source: endpoint has a port that is not a number from 1 to 65535"),
    ("http://[::1", "gcp source: endpoint is not a readable URL (Invalid IPv6 URL), got 'http://[::1'"),
])
def test_a_bad_port_or_an_unreadable_endpoint_is_a_gcp_config_error(endpoint, said):
    """The endpoints' one rule (`netaddr.endpoint_fault`) in GCP's words: a bad port was accepted (the scope
    failed at its first call) and `http://[::1` stopped validation with urlsplit's bare ValueError
    ("Invalid IPv6 URL", no setting named)."""
    with pytest.raises(gcp.SourceConfigError) as info:
        gcp.validate({"cloud": "gcp", "project": "p", "endpoint": endpoint})
    assert said in str(info.value)
