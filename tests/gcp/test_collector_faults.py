"""The GCP collector under faults: throttling and 5xx storms, slow answers, short pages, executions
that expire mid-sync, unknown step types and missing times, an expired token, a failing location
or scope, and SIGKILL mid-sync. Every one ends in clear collection_runs records, no duplicates,
and a re-run that fills the gaps."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.collectors.gcp import clients as gcp_clients
from flowscope.collectors.gcp import collector as gcp
from flowscope.collectors.sync import sync_store
from flowscope.exitcodes import ExitCode
from flowscope.model import C, RunStatus
from flowscope.simulate.base import SimSpec
from flowscope.simulate.gcp import PROJECT
from flowscope.store import Store
from tests.gcp.gcp_server import TOKEN, GcpServer, simulated_server, snapshot, source_of
from tests.loopback import kill_mid_sync

UTC = dt.timezone.utc
SPEC = SimSpec(dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 11, 2, tzinfo=UTC), 40, seed=21)
NOW = SPEC.end + dt.timedelta(hours=1)
WF = f"projects/{PROJECT}/locations/us-central1/workflows/etl-nightly"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[GcpServer]:
    with simulated_server(monkeypatch, SPEC) as srv:
        yield srv


@pytest.fixture
def clean(server, tmp_path) -> dict:
    """The rows of one undisturbed sync of the same server."""
    store = Store(tmp_path / "clean")
    [result] = gcp.sync(source(server), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED
    server.requests.clear()
    return snapshot(store)


def source(server: GcpServer, **extra: object) -> dict:
    return source_of(server, PROJECT, **extra)


def details(result) -> dict:
    return json.loads(result.row()["details"])


def test_throttling_and_5xx_storms_are_retried_to_the_same_rows(server, clean, tmp_path):
    server.throttle_every = 4                           # every 4th request: 429 RESOURCE_EXHAUSTED
    server.fail("/stepEntries", 503, times=5)
    server.fail("/executions", 500, times=2)
    store = Store(tmp_path / "s")
    [result] = gcp.sync(source(server), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert server.injected >= 15
    assert sum(result.details["api_retries"].values()) == server.injected
    assert snapshot(store) == clean


def test_a_connection_dropped_mid_page_is_retried_to_the_same_rows(server, clean, tmp_path):
    """A 200 whose connection broke half-way through the body (requests' ChunkedEncodingError,
    "Connection broken: IncompleteRead") was not retried: each such page was an error of the sync
    (the execution's steps or a workflow's executions left for the next one). It is retried as a
    dropped connection is."""
    server.cut("/stepEntries", times=3)
    server.cut("/executions", times=1)
    store = Store(tmp_path / "s")
    [result] = gcp.sync(source(server), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert server.injected == 4 and sum(result.details["api_retries"].values()) == 4
    assert snapshot(store) == clean


@pytest.mark.slow  # ~2 s: the server asks for 1.5 s
def test_retry_after_is_waited_out_not_undercut(server, clean, tmp_path):
    """503 UNAVAILABLE with Retry-After: 1.5 refuses every call made sooner. Retrying on the
    jittered backoff alone (hundredths of a second here) spent all attempts inside that window
    and left every execution uncollected (partial); the wait now honours the server's."""
    server.unavailable_for("/stepEntries", 1.5)
    started = time.monotonic()
    store = Store(tmp_path / "s")
    [result] = gcp.sync(source(server, max_attempts=3), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert time.monotonic() - started >= 1.5
    assert snapshot(store) == clean


def test_retry_after_is_read_as_seconds_or_a_date_and_capped():
    now = dt.datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert gcp_clients.retry_after_s("7") == 7.0
    assert gcp_clients.retry_after_s("Sun, 01 Nov 2026 10:00:30 GMT", now=now) == 30.0
    assert gcp_clients.retry_after_s("Sun, 01 Nov 2026 09:00:00 GMT", now=now) == 0.0
    assert gcp_clients.retry_after_s("soon") is None and gcp_clients.retry_after_s(None) is None
    assert gcp_clients.retry_after_s("nan") is None

    class State:
        class outcome:   # noqa: N801 - tenacity's attribute name
            @staticmethod
            def exception() -> BaseException:
                return gcp_clients.GcpApiError("x", http_status=429, retry_after=3600)

    wait = gcp_clients._retry_wait(lambda _s: 0.01)
    assert wait(State) == gcp_clients.RETRY_AFTER_MAX_S


def test_a_429_that_never_ends_is_a_recorded_failure_not_an_empty_list(server, tmp_path):
    server.fail("/stepEntries", 429, times=10**6)
    [result] = gcp.sync(source(server, max_attempts=2), Store(tmp_path / "s"), now=NOW)
    assert result.status == RunStatus.PARTIAL
    assert result.error_count == 40 and "RESOURCE_EXHAUSTED" in result.error
    assert result.watermark == NOW          # not held: each workflow listed again from its oldest execution
    unread = json.loads(result.row()["details"])["workflows_unread_since"]
    assert unread and all(since < NOW.isoformat() for since in unread.values())
    assert result.counts.get("executions_fetched", 0) == 0


def test_slow_answers_time_out_and_are_retried(server, clean, tmp_path):
    server.slow("/stepEntries", 1.5, times=2)
    started = time.monotonic()
    [result] = gcp.sync(source(server, read_timeout=0.5), Store(tmp_path / "s"), now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert result.details["api_retries"]["stepEntries.list"] == 2
    assert time.monotonic() - started < 30


def test_short_pages_are_followed_to_the_last_token(server, clean, tmp_path):
    server.short_pages = 7                              # fewer than asked, with a next token
    store = Store(tmp_path / "s")
    [result] = gcp.sync(source(server, quotas={"stepEntries.list": [1000, 1000]}), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED
    assert result.counts["step_entry_pages"] > 2 * result.counts["executions_fetched"]
    assert snapshot(store) == clean


def test_an_execution_expiring_mid_sync_is_marked_and_not_retried(server, tmp_path):
    victim = sorted(n for n in server.executions if n.startswith(WF))[0]

    def expire(method: str, path: str) -> None:
        if path == f"/v1/{victim}/stepEntries":
            server.delete_execution(victim)              # retention ends between list and read
    server.on_request = expire
    store = Store(tmp_path / "s")
    [first] = gcp.sync(source(server), store, now=NOW)
    assert first.status == RunStatus.PARTIAL
    assert first.counts["executions_gone"] == 1 and details(first)["executions_gone"] == [victim]
    assert details(first)["errors"][0]["code"] == "NOT_FOUND" and details(first)["errors"][0]["target"] == victim
    stored = {e[C.execution_id]: e for e in store.read_rows("executions")}
    assert stored[victim][C.status] == "SUCCEEDED"                 # what the listing said is kept
    assert not [s for s in store.read_rows("steps") if s[C.execution_id] == victim]

    server.on_request = None
    server.requests.clear()
    [second] = gcp.sync(source(server), store, now=NOW + dt.timedelta(minutes=5))
    assert second.status == RunStatus.SUCCEEDED
    assert not [p for _, p, _ in server.requests if victim in p]    # not asked about again
    assert len(store.read_rows("executions")) == 40                # no duplicates


def test_a_running_execution_gone_from_the_api_is_kept_marked_and_not_revisited(server, tmp_path):
    store = Store(tmp_path / "s")
    gcp.sync(source(server), store, now=NOW)
    running = [n for n, e in server.executions.items() if e["state"] == "ACTIVE"]
    assert running
    steps_before = [s for s in store.read_rows("steps") if s[C.execution_id] == running[0]]
    server.delete_execution(running[0])
    [second] = gcp.sync(source(server), store, now=NOW + dt.timedelta(minutes=5))
    assert second.status == RunStatus.SUCCEEDED, second.row()
    assert second.counts["running_gone"] == 1
    assert any("no longer exist" in w and running[0] in w for w in second.warnings)
    [row] = store.read_rows("executions", f"{C.execution_id} = '{running[0]}'")
    assert row[C.status] == "RUNNING" and json.loads(row[C.attributes])["gone"]["code"] == "NOT_FOUND"
    assert [s for s in store.read_rows("steps") if s[C.execution_id] == running[0]] == steps_before
    server.requests.clear()
    [third] = gcp.sync(source(server), store, now=NOW + dt.timedelta(minutes=10))
    assert not [p for _, p, _ in server.requests if running[0] in p]
    assert third.counts.get("running_gone", 0) == 0


def test_running_executions_of_a_location_left_without_workflows_are_revisited(server, tmp_path):
    """A scope of every location revisited only the locations still listing workflows: once the
    last workflow of a location was deleted, its executions stored RUNNING stayed RUNNING for
    ever. They are now asked for and, gone, marked so."""
    import copy

    template = next(e for e in server.executions.values() if e["state"] == "ACTIVE")
    workflow = copy.deepcopy(server.workflows[template["name"].split("/executions/")[0]])
    workflow["name"] = workflow["name"].replace("/us-central1/", "/europe-west1/")
    server.add_workflow(workflow)
    running = copy.deepcopy(template)
    running["name"] = workflow["name"] + "/executions/eu-1"
    server.add_execution(running, [])
    store = Store(tmp_path / "s")
    [first] = gcp.sync(source(server), store, now=NOW)
    assert first.details["locations"] == ["europe-west1", "us-central1"], first.row()
    assert [r[C.status] for r in store.read_rows("executions", f"{C.execution_id} = '{running['name']}'")] \
        == ["RUNNING"]
    del server.workflows[workflow["name"]]                  # the location's only workflow, deleted
    server.delete_execution(running["name"])
    [second] = gcp.sync(source(server), store, now=NOW + dt.timedelta(days=2))
    assert second.details["locations"] == ["us-central1"]
    assert second.counts["running_gone"] == 1, second.row()
    [row] = store.read_rows("executions", f"{C.execution_id} = '{running['name']}'")
    assert json.loads(row[C.attributes])["gone"]["code"] == "NOT_FOUND"


def _entry(exec_name: str, n: int, step_type: str, **extra: object) -> dict:
    doc = {"name": f"{exec_name}/stepEntries/{n}", "entryId": str(n), "step": f"s{n}", "routine": "main",
           "stepType": step_type, "state": "STATE_SUCCEEDED", "createTime": f"2026-11-01T12:00:0{n}.000000000Z",
           "updateTime": f"2026-11-01T12:00:0{n}.500000000Z"}
    doc.update(extra)
    return {k: v for k, v in doc.items() if v is not None}


def test_unknown_step_types_and_missing_times_are_counted_and_reported(server, tmp_path):
    odd = f"{WF}/executions/odd-1"
    server.add_execution({"name": odd, "state": "SUCCEEDED", "startTime": "2026-11-01T12:00:00.000000000Z",
                          "endTime": "2026-11-01T12:00:09.000000000Z", "workflowRevisionId": "000003-1a2"},
                         [_entry(odd, 1, "STEP_ASSIGN"), _entry(odd, 2, "STEP_TELEPORT"),
                          _entry(odd, 3, "STEP_ASSIGN", createTime=None)])
    no_time = f"{WF}/executions/no-time"
    server.add_execution({"name": no_time, "state": "SUCCEEDED"}, [])       # listed only without a filter
    store = Store(tmp_path / "s")
    [result] = gcp.sync(source(server), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert result.details["unknown_event_types"] == {"stepType:STEP_TELEPORT": 1}
    assert result.counts["skipped_records"] == 2
    reasons = [s["reason"] for s in result.details["skips"]]
    assert any("without createTime" in r for r in reasons)
    assert any("without startTime or createTime" in r for r in reasons)
    keys = {s[C.step_key] for s in store.read_rows("steps") if s[C.execution_id] == odd}
    assert keys == {"1", "2"}                                          # the unknown type is kept, as OTHER
    assert not store.read_rows("executions", f"{C.execution_id} = '{no_time}'")


def test_finished_executions_without_step_entries_are_said_naming_the_workflow(server, tmp_path):
    bare = f"{WF}/executions/no-history"
    server.add_execution({"name": bare, "state": "SUCCEEDED", "startTime": "2026-11-01T13:00:00.000000000Z",
                          "endTime": "2026-11-01T13:00:01.000000000Z"}, [])
    [result] = gcp.sync(source(server), Store(tmp_path / "s"), now=NOW)
    assert result.status == RunStatus.SUCCEEDED
    assert result.counts["executions_without_step_entries"] == 1
    assert details(result)["executions_without_step_entries"] == {WF: 1}
    assert any("etl-nightly" in w and "without step entries" in w for w in result.warnings)


def test_an_expired_token_fails_the_scope_with_a_clear_error(server, tmp_path):
    server.revoke()
    store = Store(tmp_path / "s")
    [result] = gcp.sync(source(server), store, now=NOW)
    assert result.status == RunStatus.FAILED
    assert "401" in result.error and "FLOWSCOPE_GCP_TOKEN" in result.error
    assert "Traceback" not in result.error and TOKEN not in json.dumps(result.row(), default=str)
    [run] = [r for r in store.read_rows("collection_runs") if r["status"] == "failed"]
    assert run["scope"] == f"gcp:{PROJECT}:all-locations"
    assert server.count("/locations") == 1                 # a refused token is not retried


def test_no_credentials_at_all_fail_the_scope_with_a_hint(monkeypatch, tmp_path):
    monkeypatch.delenv(gcp_clients.TOKEN_ENV, raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    [result] = gcp.sync({"cloud": "gcp", "project": "p", "endpoint": "http://127.0.0.1:9"},
                        Store(tmp_path / "s"), now=NOW)
    assert result.status == RunStatus.FAILED and "credentials" in result.error.lower()


def test_one_failing_location_or_scope_never_stops_the_others(server, tmp_path):
    server.add_workflow({**server.workflows[WF], "name": WF.replace("us-central1", "europe-west1")})
    server.fail("locations/europe-west1/workflows", 503, times=10**6)
    [all_locations] = gcp.sync(source(server, max_attempts=2), Store(tmp_path / "a"), now=NOW)
    assert all_locations.status == RunStatus.PARTIAL
    assert all_locations.counts["executions_fetched"] == 40
    assert all_locations.watermark is None                  # a location was not even listed

    store = Store(tmp_path / "b")
    report = sync_store(store, [source(server, locations=["europe-west1", "us-central1"], max_attempts=2)], now=NOW)
    assert {r.scope: r.status for r in report.results} == {
        f"gcp:{PROJECT}:europe-west1": RunStatus.FAILED, f"gcp:{PROJECT}:us-central1": RunStatus.SUCCEEDED}
    assert report.exit_code == 3
    assert len(store.read_rows("executions")) == 40


def test_a_location_that_times_out_is_recorded_and_the_others_go_on(server, tmp_path):
    """A location whose workflow listing kept timing out (a connection error, not an HTTP error)
    failed the whole every-location scope, though the others answered; it is now recorded as
    that location's failure, like an HTTP error, and the others are collected."""
    server.add_workflow({**server.workflows[WF], "name": WF.replace("us-central1", "europe-west1")})
    server.slow("locations/europe-west1/workflows", 1.5, times=10**6)
    [result] = gcp.sync(source(server, max_attempts=2, read_timeout=0.3), Store(tmp_path / "a"), now=NOW)
    assert result.status == RunStatus.PARTIAL, result.row()
    assert result.counts["executions_fetched"] == 40
    assert "europe-west1" in result.errors[0]["target"] and result.watermark is None


def test_no_location_listed_at_all_fails_the_scope(server, tmp_path):
    """Workflows denied (403) in every location: nothing can be known, the scope is failed
    (sync exits 3), not partial with zero workflows."""
    server.add_workflow({**server.workflows[WF], "name": WF.replace("us-central1", "europe-west1")})
    server.fail("/workflows", 403, times=10**6, method="GET")
    store = Store(tmp_path / "s")
    report = sync_store(store, [source(server, max_attempts=1)], now=NOW)
    [result] = report.results
    assert result.status == RunStatus.FAILED, result.row()
    assert "403" in result.error
    assert len(result.errors) == 2                          # both locations' refusals recorded
    assert report.exit_code == 3
    [run] = store.read_rows("collection_runs")
    assert run["status"] == "failed" and run["watermark"] is None


def _sync_refused(server, path: str, tmp_path) -> tuple:
    """A sync where every call to `path` is a 403: its one scope failed, exit 3 (asserted), and the store.
    Returns (the scope's result, the store)."""
    server.fail(path, 403, times=10**6)
    store = Store(tmp_path / "s")
    report = sync_store(store, [source(server, max_attempts=1, metrics=False)], now=NOW)
    [result] = report.results
    assert result.status == RunStatus.FAILED and report.exit_code == ExitCode.NO_DATA, result.row()
    return result, store


def test_a_principal_that_cannot_list_any_executions_is_a_failed_scope_not_exit_0(server, tmp_path):
    """A role without workflows.executions.list: every workflow's listing is a 403 PERMISSION_DENIED.
    The scope said `partial, wrote 3 workflows` and sync exited 0 with not one execution collected;
    not one listing answering is now a failed scope (exit 3), each workflow's error recorded."""
    result, store = _sync_refused(server, "/executions", tmp_path)
    assert "executions of none of the 3 workflows could be listed" in result.error
    assert "PERMISSION_DENIED" in result.error
    assert {e["target"] for e in result.errors} == set(server.workflows)      # each workflow's refusal
    assert result.watermark is None and not store.read_rows("executions")


def test_a_role_without_step_entries_list_is_a_failed_scope_not_exit_0(server, tmp_path):
    """workflows.stepEntries.list is a permission of its own; a role without it has every
    execution's step entries refused (403). Not one execution was stored and the scope said
    `partial`, exit 0, every night. Every execution refused is a failed scope (exit 3) naming it."""
    result, store = _sync_refused(server, "/stepEntries", tmp_path)
    assert "step entries of none of the 40 executions could be read" in result.error
    assert "PERMISSION_DENIED" in result.error and "workflows.stepEntries.list" in result.error
    assert result.watermark is None and not store.read_rows("executions")


# ---------------------------------------------------------------- SIGKILL mid-sync

KILL_SCRIPT = textwrap.dedent("""
    import datetime as dt, sys
    from flowscope.collectors.gcp import collector
    from flowscope.store import Store
    source = {"cloud": "gcp", "project": sys.argv[3], "endpoint": sys.argv[2], "write_every": 3,
              "concurrency": 2, "quotas": {"stepEntries.list": [1, 6]}}
    print("start", flush=True)
    collector.sync(source, Store(sys.argv[1]), now=dt.datetime.fromisoformat(sys.argv[4]))
    print("done", flush=True)
""")


@pytest.mark.slow
def test_sigkill_mid_sync_then_rerun_equals_one_clean_sync(server, clean, tmp_path):
    killed_path = tmp_path / "killed"
    partial = kill_mid_sync(KILL_SCRIPT, killed_path, server.endpoint, PROJECT, NOW.isoformat(), after=6,
                            env={gcp_clients.TOKEN_ENV: TOKEN})
    assert 0 < partial < 40
    # the killed sync's run stays `running`; doctor says it was interrupted and exits 3
    doctor = CliRunner().invoke(app, ["doctor", "--store", str(killed_path)])
    assert doctor.exit_code == ExitCode.NO_DATA, doctor.output
    assert f"last sync of gcp:{PROJECT}:all-locations: interrupted (its sync (pid" in " ".join(doctor.output.split())

    again = Store(killed_path)
    [rerun] = gcp.sync(source(server), again, now=NOW)
    assert rerun.status == RunStatus.SUCCEEDED
    assert snapshot(again) == clean
    runs = again.read_rows("collection_runs")
    assert any(r["status"] == "running" for r in runs)      # the killed run left its trace
    doctor = CliRunner().invoke(app, ["doctor", "--store", str(killed_path)])
    assert doctor.exit_code == ExitCode.OK, doctor.output     # the rerun is the last sync now


def test_scopes_of_one_project_and_location_share_its_quota_buckets(server):
    """Quotas are per project and location: two sources naming the same ones (e.g. other workflow
    globs) each had buckets of their own, so together they read at twice the quota. They now take
    tokens from the same buckets; each scope still reports its own calls."""
    from google.oauth2.credentials import Credentials

    def clients_of(**extra: Any) -> gcp_clients.GcpClients:
        return gcp_clients.scope_clients(project=PROJECT, endpoint=server.endpoint, creds=Credentials(TOKEN), **extra)

    first, second = clients_of(), clients_of()
    bucket = first.limiters.bucket(PROJECT, "us-central1", "stepEntries.list")
    assert bucket is not None and bucket is second.limiters.bucket(PROJECT, "us-central1", "stepEntries.list")
    assert bucket is not first.limiters.bucket(PROJECT, "europe-west1", "stepEntries.list")
    assert bucket is not first.limiters.bucket("other-project", "us-central1", "stepEntries.list")
    narrower = clients_of(quota_overrides={"stepEntries.list": gcp_clients.Quota(5, 1)})
    assert narrower.limiters.bucket(PROJECT, "us-central1", "stepEntries.list") is not bucket
    first.limiters.acquire(PROJECT, "us-central1", "stepEntries.list")
    assert second.limiters.stats() == {}


def test_an_execution_starting_while_the_listing_pages_is_listed_and_read_once(server, clean, tmp_path):
    """The Executions API pages dynamic data, newest first: an execution started between two pages
    pushes the listing down, and the last one of a page comes again at the top of the next. It is
    one execution: counted once, its step entries read once."""
    server.short_pages = 3
    listings = 0

    def start_one(method: str, path: str) -> None:
        nonlocal listings
        if path == f"/v1/{WF}/executions":
            listings += 1
            if listings == 2:
                server.add_execution({"name": f"{WF}/executions/late-1", "state": "SUCCEEDED",
                                      "startTime": "2026-11-02T00:10:00.000000000Z",
                                      "createTime": "2026-11-02T00:10:00.000000000Z",
                                      "endTime": "2026-11-02T00:10:01.000000000Z", "duration": "1s"})

    server.on_request = start_one
    store = Store(tmp_path / "s")
    [result] = gcp.sync(source(server, quotas={"stepEntries.list": [1000, 1000]}), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED
    assert listings >= 2
    assert snapshot(store) == clean
    fetched = [p for m, p, q in server.requests if p.endswith("/stepEntries") and "pageToken" not in q]
    assert len(fetched) == len(set(fetched)) == len(server.executions) - 1     # the late one: not listed yet
    assert result.counts["executions_listed"] == result.counts["executions_fetched"] == len(server.executions) - 1


# ---------------------------------------------------------------- sign-in failures quoting credentials

PASSWORD = "s3cr3t" * 30
QUOTING = f"{'x' * 100} https://svc:{PASSWORD}@oauth2.example/token"
"""A sign-in failure quoting a URL's user:password, long enough that a cut at 160 or 200 characters falls
inside the password (cut first, the part before the cut had no `@` left for the rule to match)."""


@pytest.mark.parametrize("failure", ["refresh", "transport", "default"])
def test_a_sign_in_failure_quoting_a_credential_is_stored_and_printed_without_it(failure, monkeypatch, tmp_path):
    """google-auth's RefreshError / TransportError, or google.auth.default's failure, quoting a
    `user:password@` URL: its message was cut (160 / 200 characters) before the credentials were taken out,
    so the part of the password before the cut stayed in the stored and printed error."""
    import google.auth
    import google.auth.credentials
    from google.auth.exceptions import DefaultCredentialsError, RefreshError, TransportError

    error = {"refresh": RefreshError, "transport": TransportError, "default": DefaultCredentialsError}[failure]

    class Refusing(google.auth.credentials.Credentials):
        def refresh(self, request: Any) -> None:
            raise error(QUOTING)

    def no_default(*_a: Any, **_k: Any) -> Any:
        raise error(QUOTING)

    monkeypatch.delenv(gcp_clients.TOKEN_ENV, raising=False)
    if failure == "default":
        monkeypatch.setattr(google.auth, "default", no_default)
    else:
        monkeypatch.setattr(gcp_clients, "credentials", lambda: Refusing())
    store = Store(tmp_path / "s")
    report = sync_store(store, [{"cloud": "gcp", "project": "p", "endpoint": "http://127.0.0.1:9",
                                 "max_attempts": 1}], now=NOW)
    [result] = report.results
    assert result.status == RunStatus.FAILED and "oauth2.example" in result.error, result.row()
    [run] = store.read_rows("collection_runs")
    for said in (json.dumps(result.row(), default=str), json.dumps(run, default=str), *report.summary_lines()):
        assert "s3cr3t" not in said, said


@pytest.mark.parametrize("key", ["executions", "workflows", "stepEntries"])
def test_a_page_whose_list_is_no_list_is_a_recorded_failure_not_an_empty_one(server, monkeypatch, tmp_path, key):
    """A list page holding `"executions": {...}` (a proxy's or a broken gateway's) was read as no items: the
    sync said nothing was there and succeeded. It is a BAD_RESPONSE error of that call, and the sync says so."""
    real = server._page

    def broken(items, page_key, query, extra=None, size=None, token=None):
        page = real(items, page_key, query, extra, size, token)
        return {**page, page_key: {"unexpected": "object"}} if page_key == key else page

    monkeypatch.setattr(server, "_page", broken)
    [result] = gcp.sync(source(server), Store(tmp_path / "s"), now=NOW)
    assert result.status != RunStatus.SUCCEEDED, result.status
    said = json.dumps(result.errors) + (result.error or "")
    assert "BAD_RESPONSE" in said and f"a page whose {key} is no list" in said, said
