"""Finished executions without step entries fall back to their Cloud Logging call logs, read as raw
JSON pages through the collector's paced, read-only REST layer (`logging_api`)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowscope.collectors.gcp import collector as gcp
from flowscope.collectors.importer import import_files
from flowscope.model import C, RunStatus
from flowscope.simulate.base import SimSpec
from flowscope.simulate.gcp import PROJECT
from flowscope.store import Store
from tests.gcp.gcp_server import GcpServer, call_logs_from_entries, simulated_server, snapshot

UTC = dt.timezone.utc
P, L, W = "acme-prod", "europe-west1", "billing-daily"
WF = f"projects/{P}/locations/{L}/workflows/{W}"
NOW = dt.datetime(2026, 11, 2, tzinfo=UTC)
SOURCE = """\
main:
  steps:
    - query:
        call: googleapis.bigquery.v2.jobs.query
        args: {projectId: acme-prod}
    - notify:
        call: http.post
        args: {url: "https://hooks.example.net/notify"}
"""


def ts(second: int) -> str:
    return f"2026-11-01T10:00:{second:02d}.000000000Z"


def log(execution: str, n: int, state: str, step: str, callee: str, detail: dict) -> dict:
    key = {"BEGUN": "begun", "SUCCEEDED": "succeeded", "EXCEPTION_RAISED": "exceptionRaised"}[state]
    return {"insertId": f"{execution}-{n}", "logName": f"projects/{P}/logs/workflows.googleapis.com%2Fcall_log",
            "resource": {"type": "workflows.googleapis.com/Workflow",
                         "labels": {"project_id": P, "location": L, "workflow_id": W}},
            "labels": {"workflows.googleapis.com/execution_id": execution}, "timestamp": ts(n), "severity": "INFO",
            "jsonPayload": {"@type": "type.googleapis.com/google.cloud.workflows.type.EngineCallLog",
                            "executionId": execution, "activityTime": ts(n), "state": state, "step": step,
                            "callee": callee, key: detail}}


def call_logs(execution: str) -> list[dict]:
    bq = "googleapis.bigquery.v2.jobs.query"
    return [
        log(execution, 1, "BEGUN", "query", bq, {}),
        log(execution, 2, "SUCCEEDED", "query", bq, {"callStartTime": ts(1), "response": "{}"}),
        log(execution, 3, "BEGUN", "notify", "http.post", {"namedArgs": {"url": "https://hooks.example.net/notify"}}),
        log(execution, 4, "EXCEPTION_RAISED", "notify", "http.post",
            {"callStartTime": ts(3), "exception": '{"message":"HTTP 500"}', "origin": "notify"}),
    ]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[GcpServer]:
    with simulated_server(monkeypatch) as srv:
        srv.add_workflow({"name": WF, "revisionId": "000001-aaa", "sourceContents": SOURCE, "state": "ACTIVE",
                          "createTime": "2026-10-01T00:00:00Z", "revisionCreateTime": "2026-10-01T00:00:00Z",
                          "callLogLevel": "LOG_ALL_CALLS",
                          "executionHistoryLevel": "EXECUTION_HISTORY_LEVEL_UNSPECIFIED"})
        for short in ("run-1", "other"):
            srv.add_execution({"name": f"{WF}/executions/{short}", "state": "FAILED", "startTime": ts(0),
                               "createTime": ts(0), "endTime": ts(5), "duration": "5s",
                               "workflowRevisionId": "000001-aaa",
                               "error": {"payload": '{"message":"HTTP 500"}', "context": "in step notify"}}, [])
        srv.log_entries.extend(call_logs("run-1"))
        srv.log_entries.append(log("stranger", 2, "BEGUN", "query", "http.get", {}))   # not asked for
        yield srv


def source(server: GcpServer, **extra: object) -> dict:
    return {"cloud": "gcp", "project": P, "locations": [L], "endpoint": server.endpoint, **extra}


def test_call_steps_come_from_the_logs_and_equal_the_importer(server, tmp_path):
    store = Store(tmp_path / "live")
    [result] = gcp.sync(source(server), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert server.count("/v2/entries:list", "POST") == 1                  # one slice
    assert result.counts["executions_without_step_entries"] == 2
    assert result.counts["executions_from_call_logs"] == 1
    assert result.details["api_calls"]["logging.entries.list"] == 1
    run1 = f"{WF}/executions/run-1"
    steps = {s[C.name]: s for s in store.read_rows("steps")}
    assert set(steps) == {"query", "notify"} and {s[C.execution_id] for s in steps.values()} == {run1}
    assert steps["notify"][C.status] == "FAILED"
    meters = {u[C.step_key].split("@")[0]: u[C.meter] for u in store.read_rows("usage")}
    assert meters == {"query": "gcp.workflows.internal_step", "notify": "gcp.workflows.external_step"}
    assert len(store.read_rows("executions")) == 2

    docs = [{"workflows": list(server.workflows.values())},
            {"executions": list(server.executions.values())},
            {"entries": call_logs("run-1")}]
    folder = tmp_path / "docs"
    folder.mkdir()
    for i, doc in enumerate(docs):
        (folder / f"{i}.json").write_text(json.dumps(doc))
    imported = Store(tmp_path / "imported")
    import_files(imported, sorted(Path(folder).iterdir()))
    live, other = snapshot(store), snapshot(imported)
    for table in ("steps", "attempts", "usage", "executions"):
        assert live[table] == other[table], table

    server.requests.clear()
    gcp.sync(source(server), store, now=NOW + dt.timedelta(minutes=5))
    assert server.count("/v2/entries:list", "POST") == 0                  # stored: not read again


def test_a_call_log_entry_that_cannot_be_read_is_a_counted_skip(server, tmp_path):
    """The live sync kept the call logs' unknown types but dropped their skips: an entry the transform cannot read
    went without a word, where an import of the same entries counts and names it."""
    bad = log("run-1", 5, "SUCCEEDED", "query", "googleapis.bigquery.v2.jobs.query",
              {"callStartTime": "yesterday", "response": "{}"})
    # a system log of run-1's end, its start outside what was read: the runs here are the API's, so that is no skip
    end = log("run-1", 5, "SUCCEEDED", "query", "x", {})
    end["logName"] = end["logName"].replace("call_log", "executions_system")
    end["jsonPayload"] = {"@type": "type.googleapis.com/google.cloud.workflows.type.ExecutionsSystemLog",
                          "activityTime": ts(5), "state": "FAILED", "failure": {"exception": "boom"}}
    server.log_entries.extend([bad, end])
    store = Store(tmp_path / "live")
    [result] = gcp.sync(source(server), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert result.counts.get("skipped_records") == 1, result.counts
    assert {s[C.name] for s in store.read_rows("steps")} == {"query", "notify"}     # the readable ones still stored


def test_throttled_logging_is_retried(server, tmp_path):
    server.fail("/v2/entries:list", 429, times=2)
    [result] = gcp.sync(source(server), Store(tmp_path / "s"), now=NOW)
    assert result.status == RunStatus.SUCCEEDED
    assert result.details["api_retries"]["logging.entries.list"] == 2


def test_unreadable_logs_leave_the_executions_for_the_next_sync(server, tmp_path):
    server.fail("/v2/entries:list", 403, times=1)
    store = Store(tmp_path / "s")
    [first] = gcp.sync(source(server), store, now=NOW)
    assert first.status == RunStatus.PARTIAL and "logging.entries.list" in first.error
    assert not store.read_rows("executions")                               # not written half
    assert first.watermark == NOW                      # not held: their workflow is listed again from them
    assert list(json.loads(first.row()["details"])["workflows_unread_since"].values())[0] < NOW.isoformat()
    [second] = gcp.sync(source(server), store, now=NOW + dt.timedelta(minutes=5))
    assert second.status == RunStatus.SUCCEEDED
    assert len(store.read_rows("executions")) == 2 and len(store.read_rows("steps")) == 2


def test_executions_whose_call_logs_stay_refused_are_stored_without_their_steps(server, tmp_path):
    """A role without logging.logEntries.list: finished executions without step entries waited for their call
    logs on every sync, never written, for as long as the role stayed so. Refused a day apart, they are
    stored without steps (status, times, error: the failure rates count them), counted and said; the scope
    is partial each time, and nothing is read or written twice."""
    from flowscope.collectors.gcp.call_logs import CALL_LOGS_PATIENCE, REFUSED_KEY

    server.fail("/v2/entries:list", 403, times=10**6)
    store = Store(tmp_path / "s")
    [first] = gcp.sync(source(server), store, now=NOW)
    assert first.status == RunStatus.PARTIAL and not store.read_rows("executions")      # waits a while
    assert json.loads(first.row()["details"])[REFUSED_KEY] == {WF: NOW.isoformat()}
    [soon] = gcp.sync(source(server), store, now=NOW + dt.timedelta(hours=1))
    assert soon.status == RunStatus.PARTIAL and not store.read_rows("executions")
    assert json.loads(soon.row()["details"])[REFUSED_KEY] == {WF: NOW.isoformat()}      # since the first refusal
    [later] = gcp.sync(source(server), store, now=NOW + CALL_LOGS_PATIENCE)
    assert later.status == RunStatus.PARTIAL and "logging.entries.list" in later.error
    assert later.counts["executions_call_logs_unread"] == 2, later.row()
    assert any("2 execution(s)" in w and "stored without their call steps" in w and "HTTP 403" in w
               for w in later.warnings), later.warnings
    assert sorted(e[C.execution_id].rsplit("/", 1)[-1] for e in store.read_rows("executions")) == ["other", "run-1"]
    assert not store.read_rows("steps")
    assert REFUSED_KEY not in json.loads(later.row()["details"])
    [after] = gcp.sync(source(server), store, now=NOW + CALL_LOGS_PATIENCE + dt.timedelta(hours=1))
    assert after.status == RunStatus.SUCCEEDED and len(store.read_rows("executions")) == 2, after.row()


def test_an_execution_that_just_ended_waits_for_its_call_logs(server, tmp_path):
    """run-1 ended 30 s before the sync and its call logs are not readable yet. It was written
    then without call steps and, finished, never read again; now it is held for the next sync
    (the watermark at its start), which reads its logs."""
    ingested = [e for e in server.log_entries if e["labels"]["workflows.googleapis.com/execution_id"] == "run-1"]
    server.log_entries[:] = [e for e in server.log_entries if e not in ingested]
    just_after = dt.datetime(2026, 11, 1, 10, 0, 35, tzinfo=UTC)
    store = Store(tmp_path / "s")
    [first] = gcp.sync(source(server), store, now=just_after)
    assert first.status == RunStatus.SUCCEEDED, first.row()
    assert first.counts["executions_awaiting_call_logs"] == 2 and not store.read_rows("executions")
    assert first.watermark is not None and first.watermark <= dt.datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    server.log_entries.extend(ingested)
    [second] = gcp.sync(source(server), store, now=just_after + dt.timedelta(minutes=10))
    assert second.status == RunStatus.SUCCEEDED, second.row()
    assert {s[C.name] for s in store.read_rows("steps") if s[C.execution_id] == f"{WF}/executions/run-1"} \
        == {"query", "notify"}


def test_no_logging_call_when_the_workflow_logs_no_calls(server, tmp_path):
    server.workflows[WF]["callLogLevel"] = "LOG_NONE"
    [result] = gcp.sync(source(server), Store(tmp_path / "s"), now=NOW)
    assert result.status == RunStatus.SUCCEEDED
    assert server.count("/v2/entries:list", "POST") == 0
    assert any(W in w and "without step entries" in w for w in result.warnings)



# ---------------------------------------------------------------- the logs path (bulk)

SPEC = SimSpec(dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 11, 2, tzinfo=UTC), 60, seed=5)


@pytest.fixture
def sim_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[GcpServer]:
    with simulated_server(monkeypatch, SPEC) as srv:
        for doc in srv.workflows.values():
            doc["callLogLevel"] = "LOG_ALL_CALLS"
        finished = [n for n, e in srv.executions.items() if e["state"] != "ACTIVE"]
        srv.log_entries.extend(call_logs_from_entries(srv, finished))
        yield srv


def test_the_logs_path_reads_call_steps_in_bulk_and_equals_the_importer(sim_server, tmp_path):
    server = sim_server
    store = Store(tmp_path / "live")
    [result] = gcp.sync({"cloud": "gcp", "project": PROJECT, "endpoint": server.endpoint, "path": "logs"},
                        store, now=SPEC.end + dt.timedelta(hours=1))
    assert result.status == RunStatus.SUCCEEDED, result.row()
    running = [n for n, e in server.executions.items() if e["state"] == "ACTIVE"]
    assert result.counts["executions_on_logs_path"] == 60 - len(running)
    assert server.calls_to("step_entries") == len(running)          # only the running ones
    pages = result.details["api_calls"]["logging.entries.list"]
    assert 3 <= pages <= 3 + len(server.log_entries) // 1000        # one slice per workflow, 1,000 a page
    assert result.counts["call_log_entries"] == len(server.log_entries)

    basic = {n: {k: e[k] for k in ("name", "startTime", "endTime", "duration", "state", "workflowRevisionId")
                 if k in e} for n, e in server.executions.items()}
    docs = [{"workflows": list(server.workflows.values())}, {"executions": list(basic.values())},
            {"entries": server.log_entries}]
    docs += [{"stepEntries": server.entries[n]} for n in running]
    folder = tmp_path / "docs"
    folder.mkdir()
    for i, doc in enumerate(docs):
        (folder / f"{i}.json").write_text(json.dumps(doc))
    imported = Store(tmp_path / "imported")
    import_files(imported, sorted(folder.iterdir()))
    live, other = snapshot(store), snapshot(imported)
    for table in live:
        assert live[table] == other[table], table
    assert {s[C.native_type] for s in store.read_rows("steps")
            if s[C.execution_id] not in running} == {"call_log"}


def test_the_logs_path_falls_back_to_step_entries_when_the_logs_cannot_be_read(sim_server, tmp_path):
    """`path = "logs"` with a role lacking logging.logEntries.list (every entries:list a 403): each
    slice's executions were left unwritten, the sync partial, and the next one listed them again
    (from the first failure on, a window growing for as long as the role lacked it) and failed alike:
    not one finished execution stored. The logs path is a shortcut: their step entries are read
    instead, the same rows as the step-entries path, and the sync says the logs could not be read."""
    server = sim_server
    now = SPEC.end + dt.timedelta(hours=1)
    clean = Store(tmp_path / "entries")
    assert gcp.sync({"cloud": "gcp", "project": PROJECT, "endpoint": server.endpoint}, clean,
                    now=now)[0].status == RunStatus.SUCCEEDED
    server.fail("/v2/entries:list", 403, times=10**6)
    store = Store(tmp_path / "live")
    [result] = gcp.sync({"cloud": "gcp", "project": PROJECT, "endpoint": server.endpoint, "path": "logs",
                         "max_attempts": 1}, store, now=now)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert "workflows_unread_since" not in json.loads(result.row()["details"])
    assert any("call logs of" in w and "HTTP 403" in w and "step entries were read instead" in w
               for w in result.warnings), result.warnings
    assert snapshot(store) == snapshot(clean)


def test_the_logs_path_reads_step_entries_of_an_execution_that_just_ended(sim_server, tmp_path):
    """On the logs path an execution that ended seconds before the sync got its calls from logs not
    all readable yet (here none): stored finished with no steps, never read again. It now takes
    the step-entries path until its logs have settled."""
    server = sim_server
    last = max((e for e in server.executions.values() if e["state"] != "ACTIVE"), key=lambda e: e["endTime"])
    short = last["name"].rsplit("/", 1)[-1]
    server.log_entries[:] = [e for e in server.log_entries
                             if e.get("labels", {}).get("workflows.googleapis.com/execution_id") != short]
    now = dt.datetime.fromisoformat(last["endTime"][:19] + "+00:00") + dt.timedelta(seconds=30)
    store = Store(tmp_path / "live")
    [result] = gcp.sync({"cloud": "gcp", "project": PROJECT, "endpoint": server.endpoint, "path": "logs"},
                        store, now=now)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    steps = [s for s in store.read_rows("steps") if s[C.execution_id] == last["name"]]
    assert len(steps) == len(server.entries[last["name"]]) > 0


def test_call_logs_meet_executions_the_api_names_by_project_number(server, tmp_path):
    """Cloud Logging labels name the project by id, the Executions API by number: the call steps of
    run-1 must still be its own (they were dropped as another execution's)."""
    server.project_numbers[P] = "987654321098"
    store = Store(tmp_path / "live")
    [result] = gcp.sync(source(server), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert result.counts["executions_from_call_logs"] == 1
    run1 = f"{WF}/executions/run-1"
    assert {(s[C.name], s[C.execution_id]) for s in store.read_rows("steps")} == {("query", run1), ("notify", run1)}
    assert {e[C.execution_id] for e in store.read_rows("executions")} == {run1, f"{WF}/executions/other"}


def test_the_logs_path_reads_step_entries_of_an_execution_without_call_logs(sim_server, tmp_path):
    """An execution of a workflow logging all calls may have logged none: it ran before call logging
    was turned on (a first sync reaching back), or was started with its own callLogLevel LOG_NONE,
    which the BASIC listing does not show. On the logs path it was stored finished with no steps and
    no billed usage, never read again, nothing said. It gets its step entries instead."""
    server = sim_server
    finished = sorted((e for e in server.executions.values() if e["state"] != "ACTIVE"), key=lambda e: e["endTime"])
    first = next(e for e in finished if any(s.get("stepType") in ("STEP_CALL", "STEP_CONNECTOR_CALL")
                                            for s in server.entries[e["name"]]))
    short = first["name"].rsplit("/", 1)[-1]
    server.log_entries[:] = [e for e in server.log_entries
                             if e.get("labels", {}).get("workflows.googleapis.com/execution_id") != short]
    store = Store(tmp_path / "live")
    [result] = gcp.sync({"cloud": "gcp", "project": PROJECT, "endpoint": server.endpoint, "path": "logs"},
                        store, now=SPEC.end + dt.timedelta(hours=1))
    assert result.status == RunStatus.SUCCEEDED, result.row()
    steps = [s for s in store.read_rows("steps") if s[C.execution_id] == first["name"]]
    assert len(steps) == len(server.entries[first["name"]]) > 0
    assert any(u[C.execution_id] == first["name"] for u in store.read_rows("usage"))
    assert result.counts["executions_without_call_logs"] >= 1
    assert len(store.read_rows("executions")) == 60


def test_a_running_execution_read_from_step_entries_is_not_billed_again_from_logs_when_it_ends(sim_server,
                                                                                               tmp_path):
    """On the logs path a running execution is read from its step entries; once it ends it is read
    again. Its calls then came a second time from its call logs (keyed differently), on top of the
    stored step entries: every call stored and billed twice. Once read from step entries, an
    execution stays on step entries."""
    server = sim_server
    source = {"cloud": "gcp", "project": PROJECT, "endpoint": server.endpoint, "path": "logs"}
    store = Store(tmp_path / "live")
    now = SPEC.end + dt.timedelta(hours=1)
    [first] = gcp.sync(source, store, now=now)
    assert first.status == RunStatus.SUCCEEDED, first.row()
    running = sorted(n for n, e in server.executions.items() if e["state"] == "ACTIVE")
    assert running
    for name in running:                                        # they end, and log their calls
        server.executions[name].update(state="SUCCEEDED", endTime="2026-11-02T00:30:00.000000000Z",
                                       duration="60.000000000s")
        for entry in server.entries[name]:
            if entry.get("state") == "STATE_IN_PROGRESS":
                entry.update(state="STATE_SUCCEEDED", updateTime="2026-11-02T00:29:00.000000000Z")
    server.log_entries.extend(call_logs_from_entries(server, running))
    [second] = gcp.sync(source, store, now=now + dt.timedelta(hours=1))
    assert second.status == RunStatus.SUCCEEDED, second.row()
    for name in running:
        steps = [s for s in store.read_rows("steps") if s[C.execution_id] == name]
        assert len(steps) == len(server.entries[name]), name
        assert all(s[C.native_type] != "call_log" for s in steps)


def test_the_logs_path_reads_step_entries_of_an_execution_that_logged_errors_only(sim_server, tmp_path):
    """An execution started with its own callLogLevel LOG_ERRORS_ONLY (which the BASIC listing does
    not show) of a workflow logging all calls logs only the exceptions of its calls: on the logs
    path it was written with that one call and none of the others (steps and billed calls missing,
    never read again). An execution whose logs begin no call did not log all calls: its step
    entries are read instead."""
    server = sim_server
    finished = sorted((e for e in server.executions.values() if e["state"] != "ACTIVE"), key=lambda e: e["endTime"])
    first = next(e for e in finished if sum(s.get("stepType") in ("STEP_CALL", "STEP_CONNECTOR_CALL")
                                            for s in server.entries[e["name"]]) >= 2)
    short = first["name"].rsplit("/", 1)[-1]
    own = [e for e in server.log_entries if e.get("labels", {}).get("workflows.googleapis.com/execution_id") == short]
    ended = next(e for e in own if e["jsonPayload"]["state"] == "SUCCEEDED")
    payload = ended["jsonPayload"]
    raised = {**ended, "jsonPayload": {k: v for k, v in payload.items() if k != "succeeded"}}
    raised["jsonPayload"].update({"state": "EXCEPTION_RAISED", "exceptionRaised": {
        "callStartTime": payload["succeeded"]["callStartTime"], "exception": '{"message":"HTTP 503"}',
        "origin": payload["step"]}})
    server.log_entries[:] = [e for e in server.log_entries if e not in own] + [raised]
    store = Store(tmp_path / "live")
    [result] = gcp.sync({"cloud": "gcp", "project": PROJECT, "endpoint": server.endpoint, "path": "logs"},
                        store, now=SPEC.end + dt.timedelta(hours=1))
    assert result.status == RunStatus.SUCCEEDED, result.row()
    steps = [s for s in store.read_rows("steps") if s[C.execution_id] == first["name"]]
    assert len(steps) == len(server.entries[first["name"]])
    assert len(store.read_rows("executions")) == 60


def test_an_execution_logging_errors_only_says_its_successful_calls_are_missing(server, tmp_path):
    """Without step entries, an execution of a workflow logging errors only (LOG_ERRORS_ONLY) gets
    from its logs the calls that raised, and none that succeeded: the warning said only that other
    steps are not logged, as if its calls were all there (its billed calls undercounted, unsaid)."""
    server.workflows[WF]["callLogLevel"] = "LOG_ERRORS_ONLY"
    server.log_entries[:] = [e for e in server.log_entries if e["jsonPayload"]["state"] == "EXCEPTION_RAISED"]
    store = Store(tmp_path / "live")
    [result] = gcp.sync(source(server), store, now=NOW)
    assert result.counts["executions_from_call_logs"] == 1
    said = [w for w in result.warnings if "errors only" in w]
    assert len(said) == 1 and "1 execution(s)" in said[0] and "succeeded" in said[0], result.warnings
