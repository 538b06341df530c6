"""Azure collector faults against the local ARM: throttling (429 + Retry-After, the remaining-reads
header), 5xx, slow answers, a failing workflow or resource group, runs gone between list and get,
unknown statuses, an expired token mid-sync, and SIGKILL mid-sync."""

from __future__ import annotations

import copy
import datetime as dt
import json
import textwrap
import threading
import time

import pytest

from flowscope.collectors.azure import clients
from flowscope.collectors.azure import collector as az
from flowscope.model import RunStatus
from flowscope.store import Store
from tests.azure.arm_server import SAMPLE_SUB, ArmServer, import_reference, sample_corpus, simulated_corpus, snapshot
from tests.loopback import kill_mid_sync

NOW = dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)
SIM_SUB = "5f1e0c2a-7b3d-4e8f-9a10-b2c3d4e5f601"
FLOW = f"/subscriptions/{SAMPLE_SUB}/resourcegroups/testresourcegroup/providers/microsoft.logic/workflows/testflow"
RUN1_PATH = (f"/subscriptions/{SAMPLE_SUB}/resourceGroups/test-resource-group/providers/Microsoft.Logic/workflows/"
             "test-workflow/runs/08586676746934337772206998657CU22")


@pytest.fixture(autouse=True)
def _token(monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_AZURE_TOKEN", "test-token")


def src(server, sub=SAMPLE_SUB, **kw):
    return {"cloud": "azure", "subscription_id": sub, "arm_endpoint": server.endpoint, **kw}


@pytest.mark.slow  # ~5 s: a Retry-After of 1.2 s, a 2.5 s answer timed out, 5xx backoffs
def test_throttling_5xx_and_slow_answers_are_retried_to_the_same_rows(tmp_path):
    corpus = sample_corpus()
    with ArmServer(page_size=1) as server:
        server.load_documents(corpus)
        server.fault(r"/providers/Microsoft\.Logic/workflows$", 429, retry_after=1.2)
        server.fault(r"/runs$", 429, times=2, retry_after=0)
        server.fault(r"/actions$", 503, times=2)
        server.fault(r"/repetitions$", 500)
        server.fault(r"/scopeRepetitions$", None, delay_s=2.5)        # longer than read_timeout: retried
        store = Store(tmp_path / "live")
        started = time.monotonic()
        [result] = az.sync(src(server, read_timeout=1), store, now=NOW)
        elapsed = time.monotonic() - started
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert elapsed >= 1.2                                 # Retry-After honoured
    assert server.statuses[429] == 3 and server.statuses[503] == 2 and server.statuses[500] == 1
    api = json.loads(result.row()["details"])["api"]
    assert api["throttled_429"] == 3 and api["server_errors_5xx"] == 3
    assert snapshot(store) == snapshot(import_reference(corpus, tmp_path / "ref"))


def test_an_hour_long_retry_after_is_cut_to_the_cap_not_slept(monkeypatch):
    """azure-core sleeps whatever Retry-After says: a 429 asking for 3600 s held the call (and
    the scope) for an hour per attempt. It is now cut to RETRY_AFTER_MAX_S (here 0.2 s)."""
    monkeypatch.setattr(clients, "RETRY_AFTER_MAX_S", 0.2)
    outcome: list = []
    with ArmServer() as server:
        server.fault(r"/providers/Microsoft\.Logic/workflows$", 429, retry_after=3600)
        client = clients.ArmClient(server.endpoint, clients.StaticTokenCredential(server.token))

        def call() -> None:
            outcome.append(client.get(f"/subscriptions/{SAMPLE_SUB}/providers/Microsoft.Logic/workflows",
                                      operation="workflows.list", params={"api-version": "2019-05-01"}))

        worker = threading.Thread(target=call, daemon=True)
        started = time.monotonic()
        worker.start()
        worker.join(timeout=20)
        assert not worker.is_alive(), "still sleeping the server's hour"
        assert outcome == [{"value": []}] and 0.2 <= time.monotonic() - started < 20
        assert server.statuses[429] == 1


@pytest.mark.parametrize("retry_after", ["soon", "Thu, 31 Dec 2026 23:59:60 ZZZ"])
def test_a_429_whose_retry_after_does_not_read_is_retried_after_backoff(retry_after):
    """A 429 whose Retry-After was neither seconds nor an HTTP date (a proxy's `soon`) raised
    azure-core's ValueError ("Invalid HTTP date") out of the retry policy: no retry, no ArmError,
    and on the workflows listing the whole scope failed. The header is now ignored and the call is
    retried after the usual backoff."""
    with ArmServer() as server:
        server.fault(r"/providers/Microsoft\.Logic/workflows$", 429, retry_after=retry_after)
        client = clients.ArmClient(server.endpoint, clients.StaticTokenCredential(server.token), backoff=0.01)
        body = client.get(f"/subscriptions/{SAMPLE_SUB}/providers/Microsoft.Logic/workflows",
                          operation="workflows.list", params={"api-version": "2019-05-01"})
        assert body == {"value": []} and server.statuses[429] == 1 and server.statuses[200] == 1


@pytest.mark.slow  # ~4 s: about 150 reads at the server's 40 per second
def test_two_sources_of_one_subscription_share_its_read_bucket(tmp_path):
    """ARM counts reads per subscription. Two sources of one subscription (here split by workflow
    globs), synced in parallel, each took a whole client bucket: together twice ARM's rate, met
    with 429s. They now draw on one bucket, and the server never has to throttle."""
    from flowscope.collectors.sync import sync_store

    with ArmServer(read_bucket=(10, 40)) as server:
        server.load_documents(simulated_corpus(60))
        sources = [src(server, SIM_SUB, lag="30d", quota=[10, 40], workflows=globs, metrics=False)
                   for globs in (["crm-*", "invoice-*"], ["order-*"])]
        report = sync_store(Store(tmp_path / "s"), sources, now=NOW)
    assert [r.status for r in report.results] == [RunStatus.SUCCEEDED] * 2, [r.row() for r in report.results]
    assert server.statuses[429] == 0, server.statuses


def test_remaining_reads_header_slows_the_client_before_the_server_throttles():
    # the server's bucket is small (5) and refills at 10/s; ours claims a burst of 250: only the
    # x-ms-ratelimit-remaining-subscription-reads header can tell the client to wait
    with ArmServer(read_bucket=(5, 10)) as server:
        client = clients.ArmClient(server.endpoint, clients.StaticTokenCredential(server.token),
                                   quota=clients.Quota(250, 10))
        for _ in range(8):
            client.get(f"/subscriptions/{SAMPLE_SUB}/providers/Microsoft.Logic/workflows", operation="w",
                       params={"api-version": "2019-05-01"})
        assert server.statuses[429] == 0 and server.statuses[200] == 8
        assert client.stats.as_dict()["lowest_remaining_reads"] == 0
        assert client.bucket is not None and client.bucket.waited_s >= 0.25     # it waited for the refill
    bucket = clients.ArmBucket(10, 1)
    bucket.clamp(3)
    assert bucket.try_acquire(3) == 0.0 and bucket.try_acquire() > 0


def test_empty_pages_with_a_next_link_are_followed(tmp_path):
    corpus = sample_corpus()
    with ArmServer(page_size=1) as server:
        server.load_documents(corpus)
        server.empty_pages = {r"/runs$": 2, r"/actions$": 1, r"/histories$": 3}
        store = Store(tmp_path / "s")
        [result] = az.sync(src(server), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert snapshot(store) == snapshot(import_reference(corpus, tmp_path / "ref"))


def test_a_next_link_naming_its_own_page_is_a_recorded_failure_not_a_hang(tmp_path):
    """A server whose page names itself as its nextLink kept the sync listing that page forever
    (the scope never finished, its collection_runs row stayed `running`); now the repeat ends the
    listing as a recorded error of that workflow and the others are collected."""
    outcome: list = []
    with ArmServer() as server:
        server.load_documents(sample_corpus())
        server.stuck_next_link = r"/workflows/testFlow/runs$"
        store = Store(tmp_path / "s")
        worker = threading.Thread(target=lambda: outcome.extend(az.sync(src(server), store, now=NOW)), daemon=True)
        worker.start()
        worker.join(timeout=60)
        assert not worker.is_alive(), "the sync is still listing the same page"
    [result] = outcome
    assert result.status == RunStatus.PARTIAL and result.error_count == 1
    assert result.errors[0]["code"] == "RepeatedNextLink" and "testflow/runs" in result.errors[0]["target"].lower()
    assert result.watermark == NOW                        # the other workflows' are not held for it:
    assert json.loads(result.row()["details"])["workflows_unread_since"] == {FLOW: None}   # listed again next
    assert len(store.read_rows("executions")) == 2        # the other workflows' runs are in


def test_one_failing_workflow_is_recorded_and_a_rerun_fills_the_gap(tmp_path):
    corpus = sample_corpus()
    with ArmServer() as server:
        server.load_documents(corpus)
        fault = server.fault(r"/workflows/testFlow/runs$", 500, times=100)
        store = Store(tmp_path / "s")
        [partial] = az.sync(src(server, max_attempts=2), store, now=NOW)
        assert partial.status == RunStatus.PARTIAL and partial.error_count == 1
        assert "runs.list" in partial.error and "HTTP 500" in partial.error
        assert partial.watermark == NOW                   # not held: the next sync lists that workflow again
        assert json.loads(partial.row()["details"])["workflows_unread_since"] == {FLOW: None}
        assert len(store.read_rows("executions")) == 2    # the other workflows' runs are in
        fault.times = 0
        [again] = az.sync(src(server, max_attempts=2), store, now=NOW)
    assert again.status == RunStatus.SUCCEEDED, again.row()
    assert snapshot(store) == snapshot(import_reference(corpus, tmp_path / "ref"))


@pytest.mark.parametrize("page", [{}, {"nextLink": None}, {"values": []}])
def test_a_list_page_without_value_is_that_workflows_error_not_no_runs(tmp_path, page):
    """A proxy or a broken gateway answering 200 with a JSON body that is no ARM list page: it read as an
    empty page, so the workflow had "no runs" and the scope succeeded. It is that listing's error now
    (`BadPage`, as a page whose `value` is no list), the scope partial, the workflow listed again next."""
    with ArmServer() as server:
        server.load_documents(sample_corpus())
        server.fault(r"/workflows/testFlow/runs$", body=page, times=100)
        store = Store(tmp_path / "s")
        [partial] = az.sync(src(server, max_attempts=2), store, now=NOW)
    assert partial.status == RunStatus.PARTIAL and partial.error_count == 1, partial.row()
    assert partial.errors[0]["code"] == "BadPage" and "testflow/runs" in partial.errors[0]["target"].lower()
    assert json.loads(partial.row()["details"])["workflows_unread_since"] == {FLOW: None}
    assert len(store.read_rows("executions")) == 2        # the other workflows' runs are in


DEEP = '{"a":' * 3000 + "1" + "}" * 3000
"""JSON nested 3,000 levels deep: past Python's JSON reader (its recursion limit) and orjson's (1,024)."""


def test_a_listing_nested_too_deeply_to_read_is_that_listings_error(tmp_path):
    """A workflow nesting 3,000 levels deep outside its definition (here its tags) makes its resource group's
    listing unreadable (Python's JSON reader stops at its recursion limit): that was a bare `RecursionError`
    failing the whole scope. It is that listing's recorded error naming the resource group; the other group is
    collected."""
    deep = '{"value": [{"id": "x", "tags": ' + DEEP + ', "properties": {"definition": {}}}]}'
    with ArmServer() as server:
        server.load_documents(sample_corpus())
        server.fault(r"/resourceGroups/testResourceGroup/providers/Microsoft\.Logic/workflows$", body=deep.encode(),
                     times=100)
        store = Store(tmp_path / "s")
        [result] = az.sync(src(server, resource_groups=["test-resource-group", "testResourceGroup"]), store, now=NOW)
    assert result.status == RunStatus.PARTIAL, result.row()
    assert result.errors[0]["code"] == "TooDeep" and "testResourceGroup" in result.errors[0]["message"]
    assert "nested too deeply" in result.error
    assert [r["workflow_name"] for r in store.read_rows("executions")] == ["test-workflow"]


def test_one_workflow_defined_too_deeply_to_read_is_its_warning_and_the_page_is_read(tmp_path):
    """A listing page in which ONE workflow's definition nests 3,000 levels deep failed as a whole (`TooDeep`):
    the other workflows of that page were lost with it. The page is read; that workflow is kept without its
    definition and named in a warning, as an import of the same definition does; the others are collected."""
    from tests.azure.arm_server import _as_served

    corpus = sample_corpus()
    group = [r for r in corpus if r.get("type") == "Microsoft.Logic/workflows" and "/testResourceGroup/" in r["id"]]
    page = {"value": [_as_served({**r, "properties": {**r["properties"], "definition": "DEEP"}})
                      if r["name"] == "testFlow" else _as_served(r)
                      for r in sorted(group, key=lambda r: r["id"].lower())]}
    body = json.dumps(page).replace('"definition": "DEEP"', '"definition": ' + DEEP)
    with ArmServer() as server:
        server.load_documents(corpus)
        server.fault(r"/resourceGroups/testResourceGroup/providers/Microsoft\.Logic/workflows$", body=body.encode(),
                     times=100)
        store = Store(tmp_path / "s")
        [result] = az.sync(src(server, resource_groups=["testResourceGroup"]), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED and result.error_count == 0, result.row()
    (warning,) = [w for w in result.warnings if "nested too deeply" in w]
    assert "testFlow" in warning and "testWorkflowName" not in warning
    workflows = {r["name"]: r for r in store.read_rows("workflows")}
    assert sorted(workflows) == ["testFlow", "testWorkflowName"]
    assert workflows["testFlow"]["definition"] is None and workflows["testWorkflowName"]["definition"]
    assert sorted(r["workflow_name"] for r in store.read_rows("executions")) == ["testFlow", "testWorkflowName"]


def test_one_failing_resource_group_never_stops_the_others(tmp_path):
    with ArmServer() as server:
        server.load_documents(sample_corpus())
        server.fault(r"/resourceGroups/testResourceGroup/providers/Microsoft\.Logic/workflows$", 403, times=100)
        store = Store(tmp_path / "s")
        [result] = az.sync(src(server, resource_groups=["test-resource-group", "testResourceGroup"]), store, now=NOW)
        assert result.status == RunStatus.PARTIAL
        assert result.errors[0]["code"] == "Injected" and "testResourceGroup" in result.errors[0]["target"]
        assert [r["workflow_name"] for r in store.read_rows("executions")] == ["test-workflow"]
        # every resource group failing is a failed scope, not an empty success
        server.fault(r"/resourceGroups/test-resource-group/providers/Microsoft\.Logic/workflows$", 403, times=100)
        [failed] = az.sync(src(server, resource_groups=["test-resource-group", "testResourceGroup"]), store, now=NOW)
        assert failed.status == RunStatus.FAILED and "HTTP 403" in failed.error


def _sync_refused(path: str, tmp_path) -> tuple:
    """A sync of the sample corpus where every call to `path` is a 403: its one scope failed, exit 3
    (asserted), and the store. Returns (the scope's result, the store)."""
    from flowscope.collectors.sync import sync_store
    from flowscope.exitcodes import ExitCode

    with ArmServer() as server:
        server.load_documents(sample_corpus())
        server.fault(path, 403, times=100)
        store = Store(tmp_path / "s")
        report = sync_store(store, [src(server, metrics=False)], now=NOW)
    [result] = report.results
    assert result.status == RunStatus.FAILED and report.exit_code == ExitCode.NO_DATA, result.row()
    return result, store


def test_a_principal_that_cannot_list_any_workflows_runs_is_a_failed_scope_not_exit_0(tmp_path):
    """A role without `Microsoft.Logic/workflows/runs/read`: every workflow's runs listing is a 403.
    The scope said `partial, wrote 3 workflows` and `flowscope sync` exited 0, night after night,
    with not one run collected. Not one listing answering is now a failed scope (exit 3), each
    workflow's error recorded; the watermark stays where it was."""
    result, store = _sync_refused(r"/runs$", tmp_path)
    assert "runs of none of the 3 workflows could be listed" in result.error and "HTTP 403" in result.error
    assert sum(e.get("operation") == "runs.list" for e in result.errors) == 3
    assert result.watermark is None and not store.read_rows("executions")


def test_a_role_that_cannot_read_any_runs_actions_is_a_failed_scope_not_exit_0(tmp_path):
    """A custom role with runs/read but without `Microsoft.Logic/workflows/runs/actions/read`: every
    run's actions listing is a 403. Each run was an error, none was stored, and the scope said
    `partial` with exit 0, every night. Every run's details refused (403) is a failed scope now
    (exit 3) naming the refusal; one run refused among others stays an error of that run."""
    result, store = _sync_refused(r"/actions$", tmp_path)
    assert "the details of none of the 3 runs could be read" in result.error and "HTTP 403" in result.error
    assert result.watermark is None and not store.read_rows("executions")


def test_run_gone_between_list_and_get_unknown_status_and_open_actions(tmp_path):
    corpus = sample_corpus()
    odd = copy.deepcopy(next(r for r in corpus if r.get("type") == "Microsoft.Logic/workflows/runs"
                             and "testflow" in r["id"].lower()))
    odd["id"], odd["name"] = odd["id"][:-3] + "999", odd["name"][:-3] + "999"
    odd["properties"]["status"] = "Quantumly"
    open_action = {"id": odd["id"] + "/actions/For_each", "name": "For_each",
                   "type": "Microsoft.Logic/workflows/runs/actions",
                   "properties": {"startTime": "2018-04-18T17:05:57.0686808Z", "status": "Running"}}
    with ArmServer() as server:
        server.load_documents([*corpus, odd, open_action])
        server.fault(RUN1_PATH + "/actions$", 404, times=100)        # deleted after the listing
        server.fault(RUN1_PATH + "$", 404, times=100)
        store = Store(tmp_path / "s")
        [result] = az.sync(src(server), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    details = json.loads(result.row()["details"])
    assert details["runs_gone"] == [RUN1_PATH.lower()] and result.counts["runs_gone"] == 1
    assert details["unknown_statuses"] == {"Quantumly": 1} and "Quantumly" in result.warnings[0]
    [row] = [r for r in store.read_rows("executions") if r["execution_id"].endswith("999")]
    assert (row["status"], row["native_status"]) == ("FAILED", "Quantumly")   # it has an end time
    [loop] = [r for r in store.read_rows("steps") if r["execution_id"].endswith("999") and r["step_key"] == "for_each"]
    assert loop["status"] == "RUNNING" and loop["ended_at"] is None
    assert not [r for r in store.read_rows("executions") if r["execution_id"] == RUN1_PATH.lower()]


def test_a_404_on_the_details_of_a_run_that_still_exists_is_an_error_not_a_run_left_out(tmp_path):
    """A 404 on one detail call (here the loop's repetitions) of a run Azure still has made the
    whole run count as deleted: it was left out of the store and the scope said `succeeded`. The
    run is now asked for again: still there, the 404 is an error of that run (partial, its workflow
    read again from its start by the next sync) and the next sync collects it."""
    corpus = sample_corpus()
    flow_run = (f"/subscriptions/{SAMPLE_SUB}/resourceGroups/testResourceGroup/providers/Microsoft.Logic/workflows/"
                "testFlow/runs/08586776228332053161046300351")
    with ArmServer() as server:
        server.load_documents(corpus)
        fault = server.fault(flow_run + "/actions/testAction/repetitions$", 404, times=100)
        store = Store(tmp_path / "s")
        [partial] = az.sync(src(server), store, now=NOW)
        assert partial.status == RunStatus.PARTIAL and partial.error_count == 1, partial.row()
        assert "repetitions" in partial.errors[0]["target"] and "HTTP 404" in partial.error
        assert partial.counts.get("runs_gone") is None
        assert json.loads(partial.row()["details"])["workflows_unread_since"] == \
            {FLOW: "2018-04-18T17:05:56.900000+00:00"}         # from the run's start
        fault.times = 0
        [again] = az.sync(src(server), store, now=NOW)
    assert again.status == RunStatus.SUCCEEDED, again.row()
    assert snapshot(store) == snapshot(import_reference(corpus, tmp_path / "ref"))


def test_expired_token_mid_sync_fails_the_scope_clearly_and_a_rerun_completes(tmp_path):
    corpus = simulated_corpus(40)
    with ArmServer() as server:
        server.load_documents(corpus)
        server.expire_after = 12
        store = Store(tmp_path / "s")
        [failed] = az.sync(src(server, SIM_SUB, lag="30d", request_histories=True), store, now=NOW)
        assert failed.status == RunStatus.FAILED, failed.row()
        assert "authentication failed (HTTP 401)" in failed.error and "expired" in failed.error
        assert failed.watermark is None
        row = store.read_rows("collection_runs")[0]
        assert row["status"] == "failed" and "test-token" not in json.dumps(row, default=str)
        server.expire_after = None
        [again] = az.sync(src(server, SIM_SUB, lag="30d", request_histories=True), store, now=NOW)
    assert again.status == RunStatus.SUCCEEDED, again.row()
    assert snapshot(store) == snapshot(import_reference(corpus, tmp_path / "ref"))


def test_a_sign_in_that_stops_giving_tokens_mid_sync_fails_the_scope_clearly(tmp_path, monkeypatch):
    """`az login` whose refresh token is revoked mid-sync: the credential raises instead of giving a
    token. Each later call was recorded as an error of its own (tens of them, the scope `partial`,
    exit 0, the watermark moved on); like a 401, it now fails the scope once, saying so."""
    from azure.core.credentials import AccessToken
    from azure.core.exceptions import ClientAuthenticationError

    class Revoked:
        calls = 0

        def get_token(self, *scopes, **kwargs):
            Revoked.calls += 1
            if Revoked.calls > 3:
                raise ClientAuthenticationError("AADSTS700082: The refresh token has expired due to inactivity.")
            return AccessToken("test-token", int(time.time()) + 1)     # refreshed before every call

    monkeypatch.setattr(clients, "make_credential", lambda *a, **k: Revoked())
    with ArmServer() as server:
        server.load_documents(sample_corpus())
        store = Store(tmp_path / "s")
        [result] = az.sync(src(server, metrics=False), store, now=NOW)
    assert result.status == RunStatus.FAILED, result.row()
    assert "authentication failed" in result.error and "AADSTS700082" in result.error
    assert result.watermark is None


def test_wrong_token_is_a_failed_scope_not_an_empty_success(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_AZURE_TOKEN", "not-the-token")
    with ArmServer() as server:
        server.load_documents(sample_corpus())
        [result] = az.sync(src(server), Store(tmp_path / "s"), now=NOW)
    assert result.status == RunStatus.FAILED and "HTTP 401" in result.error
    assert "not-the-token" not in json.dumps(result.row(), default=str)


KILL_SCRIPT = textwrap.dedent("""
    import datetime as dt, os, sys
    from flowscope.collectors.azure import collector as az
    from flowscope.store import Store
    os.environ["FLOWSCOPE_AZURE_TOKEN"] = "test-token"
    print("start", flush=True)
    az.sync({"cloud": "azure", "subscription_id": sys.argv[3], "arm_endpoint": sys.argv[2], "lag": "30d",
             "write_every": 2, "concurrency": 2}, Store(sys.argv[1]),
            now=dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc))
    print("done", flush=True)
""")


@pytest.mark.slow  # a sync in a subprocess, killed mid-way, then two more syncs
def test_sigkill_mid_sync_then_rerun_equals_one_clean_sync(tmp_path):
    corpus = simulated_corpus(60)
    with ArmServer() as server:
        server.load_documents(corpus)
        server.fault(r"/actions$", None, times=10_000, delay_s=0.05)     # slow enough to be caught mid-way
        killed_path = tmp_path / "killed"
        partial = kill_mid_sync(KILL_SCRIPT, killed_path, server.endpoint, SIM_SUB, after=4, poll=0.05)
        server.faults.clear()
        again = Store(killed_path)
        [rerun] = az.sync(src(server, SIM_SUB, lag="30d"), again, now=NOW)
        clean = Store(tmp_path / "clean")
        [once] = az.sync(src(server, SIM_SUB, lag="30d"), clean, now=NOW)
    assert 0 < partial < once.counts["runs_fetched"]
    assert rerun.status == once.status == RunStatus.SUCCEEDED
    assert snapshot(again) == snapshot(clean)
    assert any(r["status"] == "running" for r in again.read_rows("collection_runs"))   # the kill left a trace


@pytest.mark.slow  # ~5 s: five 503s backed off exponentially (with jitter)
def test_a_throttling_storm_longer_than_three_retries_is_ridden_out(tmp_path):
    with ArmServer() as server:
        server.load_documents(sample_corpus())
        server.fault(r"/runs$", 429, times=5, retry_after=0)
        server.fault(r"/actions$", 503, times=5)
        [result] = az.sync(src(server, max_attempts=8), Store(tmp_path / "s"), now=NOW)
        assert result.status == RunStatus.SUCCEEDED, result.row()
        assert server.statuses[429] == 5 and server.statuses[503] == 5
        # and a storm longer than max_attempts is a recorded failure, not an empty list
        server.fault(r"/workflows/testFlow/runs$", 429, times=50, retry_after=0)
        [partial] = az.sync(src(server, max_attempts=3), Store(tmp_path / "t"), now=NOW)
    assert partial.status == RunStatus.PARTIAL and "HTTP 429" in partial.error


def test_a_workflow_whose_runs_cannot_be_listed_for_days_does_not_freeze_the_scope(tmp_path):
    """One workflow whose runs listing kept failing (a 403 on it alone) held the whole scope's
    watermark where it was: every sync, for as long as it failed, re-listed every workflow's runs
    from there. The scope's watermark now moves on; the workflow is remembered with where its runs
    must be read from again (`details.workflows_unread_since`), and its runs of those days are read
    once it answers."""
    t1 = dt.datetime(2026, 10, 31, 12, tzinfo=dt.timezone.utc)
    corpus = simulated_corpus(120)
    runs = [r for r in corpus if r["type"].lower().endswith("/runs")]
    workflow = runs[0]["id"].split("/runs/")[0]
    late = {r["id"].lower() for r in runs if r["id"].startswith(workflow + "/")
            and r["properties"]["startTime"] >= t1.isoformat()[:19]}
    assert late

    def is_late(record):
        return any(record["id"].lower() == run or record["id"].lower().startswith(run + "/") for run in late)

    name = workflow.rsplit("/", 1)[-1]
    canonical_wf = workflow.lower()
    store = Store(tmp_path / "s")
    with ArmServer() as server:
        server.load_documents([r for r in corpus if not is_late(r)])
        assert az.sync(src(server, SIM_SUB, lag="1h", metrics=False), store, now=t1)[0].status == RunStatus.SUCCEEDED
        server.load([r for r in corpus if is_late(r)])
        fault = server.fault(rf"/workflows/{name}/runs$", 403, times=10**6)
        syncs = [az.sync(src(server, SIM_SUB, lag="1h", metrics=False), store, now=NOW + dt.timedelta(days=d))[0]
                 for d in (0, 3)]
        fault.times = 0
        [after] = az.sync(src(server, SIM_SUB, lag="1h", metrics=False), store, now=NOW + dt.timedelta(days=4))
    for day, partial in zip((0, 3), syncs, strict=True):
        assert partial.status == RunStatus.PARTIAL and "runs.list" in partial.error
        assert partial.watermark == NOW + dt.timedelta(days=day)        # the other workflows go on
        assert json.loads(partial.row()["details"])["workflows_unread_since"] == \
            {canonical_wf: (t1 - dt.timedelta(hours=1)).isoformat()}
    assert after.status == RunStatus.SUCCEEDED and "workflows_unread_since" not in json.loads(after.row()["details"])
    stored = {e["execution_id"] for e in store.read_rows("executions")}
    assert {run.lower() for run in late} <= stored


def test_a_running_run_that_cannot_be_read_again_does_not_hold_the_watermark(tmp_path):
    """A stored running run is read again by id every sync until it ends: one whose read failed
    (for days, a run that runs for days) also held the scope's watermark, for nothing, the next
    sync reading it by id anyway. Its failure is an error of the sync, the watermark moves on."""
    corpus = simulated_corpus(120, standard=True)
    store = Store(tmp_path / "s")
    with ArmServer() as server:
        server.load_documents(corpus)
        assert az.sync(src(server, SIM_SUB, lag="30d", metrics=False), store, now=NOW)[0].status == RunStatus.SUCCEEDED
        running = sorted(e["execution_id"] for e in store.read_rows("executions") if e["status"] == "RUNNING")
        assert running
        fault = server.fault(rf"/runs/{running[0].rsplit('/', 1)[1]}$", 500, times=10**6)
        [partial] = az.sync(src(server, SIM_SUB, lag="1h", metrics=False, max_attempts=1), store,
                            now=NOW + dt.timedelta(days=3))
        fault.times = 0
        server.counts.clear()
        [after] = az.sync(src(server, SIM_SUB, lag="1h", metrics=False), store, now=NOW + dt.timedelta(days=4))
    assert partial.status == RunStatus.PARTIAL and "runs.get" in partial.error, partial.row()
    assert partial.watermark == NOW + dt.timedelta(days=3)
    assert "workflows_unread_since" not in json.loads(partial.row()["details"])
    assert after.status == RunStatus.SUCCEEDED and server.counts["runs.get"] == len(running)


@pytest.mark.parametrize("start", ["not a time", ["2026-11-01"]])
def test_a_run_with_an_unreadable_start_whose_details_fail_is_an_error_not_a_failed_scope(tmp_path, start):
    """A run whose startTime is not a time (cloud text is untrusted) and whose details failed
    failed the whole scope (a ValueError while recording where to read again): every other run of
    the subscription went uncollected. It is an error of that run; its workflow is read again from
    the window's lower bound."""
    corpus = simulated_corpus(20)
    run = next(r for r in corpus if r["type"].lower().endswith("/runs"))
    run["properties"]["startTime"] = start
    with ArmServer() as server:
        server.load_documents(corpus)
        server.fault(rf"/runs/{run['name']}/actions$", 500, times=100)
        store = Store(tmp_path / "s")
        [result] = az.sync(src(server, SIM_SUB, lag="30d", metrics=False, max_attempts=1), store, now=NOW)
    assert result.status == RunStatus.PARTIAL and "actions.list" in result.error, result.row()
    assert json.loads(result.row()["details"])["workflows_unread_since"] == {run["id"].split("/runs/")[0].lower(): None}


def test_an_error_answer_nested_too_deeply_is_still_its_http_error(tmp_path):
    """A 403 whose body nests 3,000 levels deep (a broken gateway's): reading its ARM error raised a bare
    RecursionError. It is the listing's HTTP 403, as any error body that cannot be read."""
    deep = ('{"error": {"code": "X", "message": ' + "[" * 3000 + "]" * 3000 + "}}").encode()
    with ArmServer() as server:
        server.load_documents(sample_corpus())
        server.fault(r"/workflows/testFlow/runs$", 403, body=deep, times=100)
        [partial] = az.sync(src(server, max_attempts=1), Store(tmp_path / "s"), now=NOW)
    assert partial.status == RunStatus.PARTIAL and "HTTP 403" in partial.error, partial.row()
