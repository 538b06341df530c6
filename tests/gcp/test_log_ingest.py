"""Cloud Logging ingest: the raw-JSON `entries:list` read and the faster `gcp.log_entries` transform.

- The read (`logging_api.entry_pages`) sends what google-cloud-logging sent and returns the
  API's JSON entry for entry (the client's `LogEntry` round trip differed only by cutting
  timestamps to microseconds and dropping fields it does not know), through the collector's
  guard, quota buckets, retries and call counts, on the loopback server.
- The transform gives the same rows, skips and counts as its frozen pre-speed-up copy
  (`reference_log_entries.py`) on simulated call logs and on seeded random, partly malformed
  entries.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from flowscope.collectors.gcp import clients as gcp_clients
from flowscope.collectors.gcp import collector as gcp
from flowscope.collectors.gcp import logging_api
from flowscope.collectors.gcp.transform import transform_log_entries
from flowscope.collectors.native import END_WITHOUT_START, ImportContext
from flowscope.model import Batch, C, RunStatus
from flowscope.simulate.base import SimSpec
from flowscope.simulate.gcp import PROJECT
from flowscope.store import Store
from tests.gcp import reference_log_entries as reference
from tests.gcp.gcp_server import GcpServer, call_logs_from_entries, simulated_server

UTC = dt.timezone.utc
SPEC = SimSpec(dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 11, 2, tzinfo=UTC), 40, seed=11)
EVER = (dt.datetime(2000, 1, 1, tzinfo=UTC), dt.datetime(2100, 1, 1, tzinfo=UTC))
CTX = ImportContext(source_name="logs.json", seen_at=dt.datetime(2026, 11, 3, tzinfo=UTC))


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[GcpServer]:
    with simulated_server(monkeypatch, SPEC) as srv:
        for doc in srv.workflows.values():
            doc["callLogLevel"] = "LOG_ALL_CALLS"
        srv.log_entries.extend(call_logs_from_entries(
            srv, [n for n, e in srv.executions.items() if e["state"] != "ACTIVE"]))
        # fields a real entry carries that google-cloud-logging's LogEntry class drops
        for entry in srv.log_entries[::7]:
            entry["receiveTimestamp"] = entry["timestamp"]
            entry["trace"] = "projects/p/traces/0af7651916cd43dd8448eb211c80319c"
        yield srv


def wide_open(server: GcpServer) -> gcp_clients.GcpClients:
    return gcp_clients.scope_clients(project=PROJECT, endpoint=server.endpoint, backoff_s=0.01,
                                     quota_overrides={api: gcp_clients.Quota(1e9, 1e9) for api in gcp_clients.QUOTAS})


def workflow_of_sim(server: GcpServer) -> tuple[str, str, list[dict[str, Any]]]:
    """The workflow with the most log entries: (location, workflow id, its entries, oldest first)."""
    counts: dict[tuple[str, str], int] = {}
    for e in server.log_entries:
        labels = e["resource"]["labels"]
        counts[(labels["location"], labels["workflow_id"])] = counts.get((labels["location"], labels["workflow_id"]),
                                                                          0) + 1
    location, workflow = max(counts, key=lambda k: counts[k])
    flt = logging_api.workflow_filter(location, workflow, *EVER)
    return location, workflow, server._log_query((PROJECT,), flt)


class Recorder:
    """Wraps the session: records each request's method, path and JSON body."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.sent: list[tuple[str, str, Any]] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        body = kwargs.get("json")
        if body is None and kwargs.get("data") is not None:
            body = json.loads(kwargs["data"])
        query = "&".join(f"{k}={v}" for k, v in (kwargs.get("params") or {}).items())
        self.sent.append((method, url.split("://", 1)[1].split("/", 1)[1] + (f"?{query}" if query else ""), body))
        return self.session.request(method, url, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


def library_read(clients: gcp_clients.GcpClients, flt: str, page_size: int) -> list[dict[str, Any]]:
    """The read as it was: google-cloud-logging over the collector's paced transport, each entry
    turned into a LogEntry and back (`to_api_repr`)."""
    from google.cloud import logging as cloud_logging

    client = cloud_logging.Client(project=PROJECT, credentials=clients.session.credentials,
                                  _http=clients.http_for(logging_api.API), _use_grpc=False,
                                  client_options={"api_endpoint": gcp_clients.service_root(clients.endpoint,
                                                                                           "logging")})
    return [e.to_api_repr() for e in client.list_entries(resource_names=[f"projects/{PROJECT}"], filter_=flt,
                                                         page_size=page_size)]


def as_library_returns(entry: dict[str, Any]) -> dict[str, Any]:
    """What the LogEntry round trip made of an entry: timestamps cut to microseconds, fields the
    class does not know dropped."""
    out = {k: v for k, v in entry.items() if k not in ("receiveTimestamp",)}
    out["timestamp"] = entry["timestamp"][:26] + "Z"
    return out


# ---------------------------------------------------------------- the read

def test_raw_read_returns_the_apis_entries_and_sends_what_the_library_sent(server):
    _location, _workflow, expected = workflow_of_sim(server)
    assert len(expected) > 250
    flt = logging_api.workflow_filter(_location, _workflow, *EVER)
    clients = wide_open(server)
    clients.session = Recorder(clients.session)
    raw = list(logging_api.list_entries(clients, PROJECT, flt, page_size=100))
    assert raw == expected                                            # the API's JSON, entry for entry
    new_requests = clients.session.sent[:]
    clients.session.sent.clear()

    old = library_read(clients, flt, 100)
    assert len(old) == len(raw)
    assert [as_library_returns(e) for e in raw] == old                 # the only differences
    assert [(m, p) for m, p, _ in new_requests] == [(m, p) for m, p, _ in clients.session.sent]
    assert [b for _, _, b in new_requests] == [b for _, _, b in clients.session.sent]   # same bodies
    assert new_requests[0][2] == {"resourceNames": [f"projects/{PROJECT}"], "filter": flt, "pageSize": 100}
    assert [b.get("pageToken") for _, _, b in new_requests] == [None] + [f"tok-{n}" for n in
                                                                          range(100, len(raw), 100)]
    assert clients.stats()["calls"] == {logging_api.API: 2 * len(new_requests)}

    a = transform_log_entries({"entries": raw}, CTX)
    b = transform_log_entries({"entries": old}, CTX)
    assert rows_of(a) == rows_of(b) and a.steps


def test_short_and_empty_pages_are_followed_until_the_token_ends(server):
    location, workflow, expected = workflow_of_sim(server)
    server.short_pages = 7
    pages = list(logging_api.entry_pages(wide_open(server), PROJECT,
                                         logging_api.workflow_filter(location, workflow, *EVER)))
    assert [e for p in pages for e in p] == expected
    assert all(len(p) <= 7 for p in pages) and len(pages) == -(-len(expected) // 7)

    server.log_entries.clear()
    clients = wide_open(server)
    assert list(logging_api.entry_pages(clients, PROJECT, logging_api.workflow_filter(location, workflow, *EVER))) \
        == [[]]                                                       # one real, empty answer
    assert clients.stats()["calls"] == {logging_api.API: 1}


def test_throttled_pages_are_retried_and_counted(server):
    location, workflow, expected = workflow_of_sim(server)
    server.fail("/v2/entries:list", 429, times=2)
    clients = wide_open(server)
    got = list(logging_api.list_entries(clients, PROJECT, logging_api.workflow_filter(location, workflow, *EVER)))
    assert got == expected
    assert clients.stats()["retries"] == {logging_api.API: 2}


def test_the_read_goes_through_the_read_only_guard(server, monkeypatch):
    monkeypatch.setattr(logging_api, "PATH", "v2/entries:write")
    with pytest.raises(gcp_clients.ReadOnlyViolation, match="entries:write"):
        list(logging_api.list_entries(wide_open(server), PROJECT, logging_api.workflow_filter("l", "w", *EVER)))
    assert server.requests == []                                      # refused before anything was sent


def test_a_filter_without_a_time_bound_is_refused(server):
    with pytest.raises(ValueError, match="timestamp"):
        list(logging_api.entry_pages(wide_open(server), PROJECT, logging_api.WORKFLOW_RESOURCE))
    assert server.requests == []


@pytest.mark.parametrize("answer, word", [
    (b"<html>oops</html>", "is not JSON"),
    (b'["entries"]', "is not a JSON object"),
    (b'{"entries": {"a": 1}}', "is not a page of log entries"),
    (b'{"entries": [], "nextPageToken": 5}', "is not a page of log entries"),
])
def test_a_bad_page_is_a_failed_read_never_an_empty_one(server, monkeypatch, answer, word):
    def garbage(h: Any, status: int, doc: dict[str, Any]) -> None:
        from tests.loopback import send
        send(h, status, answer if "entries" in doc else doc)
    monkeypatch.setattr(server, "_send", garbage)
    with pytest.raises(gcp_clients.GcpApiError, match=word) as caught:
        list(logging_api.list_entries(wide_open(server), PROJECT, logging_api.workflow_filter("l", "w", *EVER)))
    assert caught.value.code == "BAD_RESPONSE"


def test_a_repeated_page_token_is_an_error(server, monkeypatch):
    location, workflow, _ = workflow_of_sim(server)
    real = server._page
    monkeypatch.setattr(server, "_page", lambda items, key, query, extra=None, size=None, token=None:
                        {**real(items, key, query, extra, size, ""), "nextPageToken": "tok-again"})
    with pytest.raises(gcp_clients.GcpApiError, match="repeated a page token"):
        list(logging_api.list_entries(wide_open(server), PROJECT, logging_api.workflow_filter(location, workflow,
                                                                                              *EVER)))
    assert server.count("/v2/entries:list", "POST") == 2


def test_a_bad_logs_page_in_a_sync_is_said_and_its_executions_read_from_step_entries(server, monkeypatch, tmp_path):
    """A Logging answer that is no JSON (a proxy's page) on the logs path: its slice's executions were left
    unwritten, the sync partial. The logs path is a shortcut (`call_logs._entries_instead`): their step
    entries are read instead, every finished execution is stored, and a warning names the bad answer."""
    def garbage(h: Any, status: int, doc: dict[str, Any]) -> None:
        from tests.loopback import send
        send(h, status, b"not json" if "entries" in doc else doc)
    monkeypatch.setattr(server, "_send", garbage)
    store = Store(tmp_path / "s")
    [result] = gcp.sync({"cloud": "gcp", "project": PROJECT, "endpoint": server.endpoint, "path": "logs"},
                        store, now=SPEC.end + dt.timedelta(hours=1))
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert any("call logs of" in w and "step entries were read instead" in w for w in result.warnings)
    finished = {n for n, e in server.executions.items() if e["state"] != "ACTIVE"}
    assert finished and finished <= {r["execution_id"] for r in store.read_rows("executions")}


# ---------------------------------------------------------------- the transform, against its old self

def rows_of(batch: Batch) -> dict[str, Any]:
    return {"executions": batch.executions, "steps": batch.steps, "attempts": batch.attempts,
            "skips": [(s.source, s.location, s.reason) for s in batch.skips],
            "unknown": batch.unknown_event_types}


_OLD_NO_START = "execution end logged without its start in this document"
_NO_START = (END_WITHOUT_START, "execution logged without its start or end")


def _as_before_split_runs(rows: dict[str, Any]) -> dict[str, Any]:
    """The one deliberate change since the reference: an execution whose end is logged without its
    start is still emitted, with no start, for the import to complete from another file or the store
    (skipped as before when nobody has its start); its skip is worded for that."""
    return {**rows, "executions": [r for r in rows["executions"] if r[C.started_at] is not None],
            "skips": [(src, loc, _OLD_NO_START if reason in _NO_START else reason)
                      for src, loc, reason in rows["skips"]]}


def same_as_reference(doc: Any) -> dict[str, Any]:
    new = rows_of(transform_log_entries(copy.deepcopy(doc), CTX))
    old = rows_of(reference.transform_log_entries(copy.deepcopy(doc), CTX))
    before = _as_before_split_runs(new)
    for key in old:
        assert before[key] == old[key], key
    return new


def test_simulated_call_logs_transform_as_before(server):
    got = same_as_reference({"entries": server.log_entries})
    assert len(got["steps"]) == len(server.log_entries) // 2 and not got["skips"]
    random.Random(3).shuffle(server.log_entries)                       # halves in any order
    same_as_reference(server.log_entries)


STAMPS = [
    "2026-11-01T10:00:0{n}.123456789Z", "2026-11-01T10:00:0{n}.000000000Z", "2026-11-01T10:00:0{n}Z",
    "2026-11-01T10:00:0{n}.5Z", "2026-11-01T10:00:0{n}.1234567Z", "2026-11-01T12:00:0{n}.123456789+02:00",
    " 026-11-01T10:00:0{n}.123456789Z", "2026-11-01T10:00:0{n}.12345678xZ", "2026.11-01T10:00:0{n}.123456789Z",
    "2026-13-01T10:00:0{n}.123456789Z", "2026-11-01T10:00:0{n}.12345\u0663789Z", "2026-11-01T10:00:0{n}.123+01:00Z",
    "", None, 1793527200000 + 7,
    "1793527200007", "not a time", ["2026"], {"t": 1},
]


def _stamp(rng: random.Random, n: int) -> Any:
    text = rng.choice(STAMPS[:3]) if rng.random() < 0.7 else rng.choice(STAMPS)
    return text.format(n=n) if isinstance(text, str) else text


def _random_entry(rng: random.Random, ex: str, n: int) -> Any:
    pick = rng.random()
    if pick < 0.03:
        return rng.choice(["text", 5, None, [1], {"resource": "flat"}, {"resource": {"type": "gce_instance"}}])
    labels: Any = {"project_id": "p", "location": "l", "workflow_id": rng.choice(["w", "w2"])}
    if pick < 0.05:
        labels = rng.choice([{"project_id": "p"}, None, {"project_id": 7, "location": "l", "workflow_id": "w"}])
    steps = ["fetch", "save", "wait_a_bit", "try_it"]
    step = rng.choice(steps)
    state = rng.choice(["BEGUN", "BEGUN", "SUCCEEDED", "EXCEPTION_RAISED", "EXCEPTION_HANDLED", "RETRYING", None])
    start = _stamp(rng, rng.randrange(8))
    detail: Any = {"callStartTime": start}
    if state == "EXCEPTION_RAISED":
        detail.update(exception=rng.choice(['{"message":"HTTP 503"}', "x" * 2000, None]),
                      origin=rng.choice([step, "other"]))
    if state == "EXCEPTION_HANDLED":
        detail.update(exception='{"message":"boom"}', origin=rng.choice(steps + [None]))
        step = rng.choice(steps + ["handler"])
    if state == "BEGUN":
        detail = rng.choice([{}, {"namedArgs": {"url": rng.choice(["https://api.example.com/x",
                                                                     "https://storage.googleapis.com/b", None,
                                                                     "${url}"])}}, None, "flat"])
    key = {"BEGUN": "begun", "SUCCEEDED": "succeeded", "EXCEPTION_RAISED": "exceptionRaised",
           "EXCEPTION_HANDLED": "exceptionHandled"}.get(state or "", "other")
    callee = rng.choice(["http.get", "http.post", "sys.sleep", "googleapis.bigquery.v2.jobs.query", "", None])
    payload: Any = {"@type": "type.googleapis.com/google.cloud.workflows.type.EngineCallLog",
                    "executionId": ex, "activityTime": start if state == "BEGUN" else _stamp(rng, rng.randrange(8)),
                    "state": state, "step": rng.choice([step, step, step, ""]),
                    "routine": rng.choice(["main", "main", None, "sub"]), "callee": callee, key: detail}
    if rng.random() < 0.08:
        payload.pop("@type")
    if rng.random() < 0.1:
        system: dict[str, Any] = rng.choice([
            {"start": {"argument": '{"a":1}'}, "state": "ACTIVE"}, {"success": {"result": "1"}},
            {"failure": {"exception": "boom", "source": "main.fetch"}}, {"state": "CANCELLED"}, {"state": "ACTIVE"},
            {"start": None}])
        payload = {"@type": rng.choice(["type.googleapis.com/google.cloud.workflows.type.ExecutionsSystemLog", ""]),
                   "activityTime": _stamp(rng, rng.randrange(8)), **system}
    if rng.random() < 0.03:
        payload = rng.choice([{"@type": "other.Log"}, {}, "flat", None])
    entry: dict[str, Any] = {"insertId": f"i{n}", "resource": {"type": "workflows.googleapis.com/Workflow",
                                                                "labels": labels},
                             "labels": {"workflows.googleapis.com/execution_id": ex}, "timestamp": _stamp(rng, 1),
                             rng.choice(["jsonPayload", "jsonPayload", "protoPayload"]): payload}
    if rng.random() < 0.03:
        entry.pop("labels")
    return entry


@pytest.mark.parametrize("seed", range(12))
def test_random_and_malformed_entries_transform_as_before(seed):
    rng = random.Random(seed)
    entries = [_random_entry(rng, rng.choice(["e1", "e2", "e3"]), n) for n in range(600)]
    got = same_as_reference({"entries": entries})
    assert got["steps"] and got["skips"] and got["unknown"]            # the generator reaches every branch
    same_as_reference(entries[:200])


def test_a_call_handled_under_another_name_keeps_both_attempts_as_before():
    def call(n: int, state: str, step: str, detail: dict[str, Any]) -> dict[str, Any]:
        key = {"BEGUN": "begun", "EXCEPTION_RAISED": "exceptionRaised", "EXCEPTION_HANDLED": "exceptionHandled",
               "SUCCEEDED": "succeeded"}[state]
        return {"resource": {"type": "workflows.googleapis.com/Workflow",
                             "labels": {"project_id": "p", "location": "l", "workflow_id": "w"}},
                "labels": {"workflows.googleapis.com/execution_id": "e"},
                "jsonPayload": {"@type": "x.EngineCallLog", "activityTime": f"2026-11-01T10:00:0{n}.000000001Z",
                                "state": state, "step": step, "callee": "http.get", key: detail}}
    start = "2026-11-01T10:00:01.000000001Z"
    entries = [call(1, "BEGUN", "fetch", {}),
               call(2, "EXCEPTION_RAISED", "fetch", {"callStartTime": start, "exception": "e", "origin": "fetch"}),
               call(3, "EXCEPTION_HANDLED", "guard", {"callStartTime": start, "origin": "fetch", "exception": "e"}),
               call(4, "SUCCEEDED", "fetch", {"callStartTime": start})]
    for order in (entries, entries[:3], [entries[0], entries[2], entries[1], entries[3]]):
        got = same_as_reference(order)
        assert len(got["steps"]) == 1
    assert [a["status"] for a in same_as_reference(entries[:3])["attempts"]] == ["FAILED", "CAUGHT"]
