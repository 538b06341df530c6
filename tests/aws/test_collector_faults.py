"""Faults: throttling storms and 5xx (a loopback proxy in front of moto), deleted executions,
expired pagination tokens, 25,000+ event histories, a failing scope, and SIGKILL mid-sync."""

from __future__ import annotations

import http.client
import http.server
import json
import textwrap
import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from flowscope.collectors.aws import collector as aws
from flowscope.collectors.aws.clients import client_hook
from flowscope.collectors.aws.stepfunctions import get_history, iter_executions
from flowscope.collectors.sync import sync_store
from flowscope.model import RunStatus
from tests.aws.helpers import stored_running
from tests.loopback import LoopbackServer, kill_mid_sync, send, snapshot

pytestmark = pytest.mark.slow  # moto syncs through faulty proxies, throttling storms, a killed sync

# ------------------------------------------------------------------ a faulty loopback proxy

class FaultProxy(LoopbackServer):
    """Forwards to moto; every `throttle_every`-th request gets a ThrottlingException (400),
    every `fail_every`-th a 503. Only 127.0.0.1."""

    http_methods = ("POST",)

    def __init__(self, upstream: str, throttle_every: int = 4, fail_every: int = 9) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.throttle_every = throttle_every
        self.fail_every = fail_every
        self.n = 0
        self.faults = 0
        self.lock = threading.Lock()
        super().__init__()
        self.start()

    def handle(self, h: http.server.BaseHTTPRequestHandler, method: str) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length", 0)))
        if h.headers.get("X-Amz-Target", "").endswith("ListStateMachineVersions"):
            # moto lacks it (HTTP 500): answer as AWS would for a machine without versions
            return self._reply(h, 200, {"stateMachineVersions": []}, fault=False)
        with self.lock:
            self.n += 1
            n = self.n
        if n % self.throttle_every == 0:
            return self._reply(h, 400, {"__type": "ThrottlingException", "message": "Rate exceeded"})
        if n % self.fail_every == 0:
            return self._reply(h, 503, {"__type": "ServiceUnavailable", "message": "try later"})
        conn = http.client.HTTPConnection(self.upstream, timeout=10)
        headers = {k: v for k, v in h.headers.items() if k.lower() != "host"}
        conn.request("POST", h.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        kept = {k: v for k, v in resp.getheaders()
                if k.lower() not in ("content-length", "content-type", "transfer-encoding", "connection", "server",
                                     "date")}
        send(h, resp.status, data, content_type=resp.getheader("Content-Type") or "application/x-amz-json-1.0",
             headers=kept)
        conn.close()

    def _reply(self, handler: Any, status: int, body: dict, fault: bool = True) -> None:
        with self.lock:
            self.faults += fault
        headers = {"x-amzn-ErrorType": body["__type"]} if "__type" in body else {}
        send(handler, status, body, content_type="application/x-amz-json-1.0", headers=headers)


def _snapshot(store) -> dict[str, list]:
    """Model rows, minus the columns (and attributes) that say *when* they were collected, sorted."""
    out = snapshot(store, {"workflows": {"seen_at"}, "executions": {"collected_at"}})
    out["workflows"] = [_without_listed_at(row) for row in out["workflows"]]
    return out


def _without_listed_at(text: str) -> str:
    row = json.loads(text)
    attributes = json.loads(row["attributes"] or "{}")
    attributes.pop("metadata_listed_at", None)
    return json.dumps({**row, "attributes": json.dumps(attributes, sort_keys=True)}, sort_keys=True)


def test_throttling_storm_and_5xx_are_retried_to_the_same_rows(moto, store, tmp_path, defs):
    from flowscope.store import Store

    arn = moto.machine("storm", defs.PASS_CHOICE)
    runs = [moto.run(arn) for _ in range(6)]
    moto.wait(runs)
    clean = Store(tmp_path / "clean")
    assert aws.sync(moto.source(metrics=False), clean)[0].status == RunStatus.SUCCEEDED
    proxy = FaultProxy(moto.endpoint)
    try:
        [result] = aws.sync({**moto.source(metrics=False), "endpoint_url": proxy.endpoint, "max_attempts": 8}, store)
    finally:
        proxy.close()
    assert proxy.faults >= 3
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert _snapshot(store) == _snapshot(clean)


def _inject(fault_for: dict[str, str], operations: tuple[str, ...] = ("GetExecutionHistory",)):
    """A client hook that answers chosen operations on chosen ARNs with an error (no retry)."""
    def hook(client: Any) -> None:
        def before_call(model: Any = None, params: Any = None, **_: Any) -> Any:
            if model.name not in operations:
                return None
            body = params.get("body")
            arn = json.loads(body)["executionArn"] if body else None
            code = fault_for.get(arn)
            if code is None:
                return None

            class Http:
                status_code = 400
                headers: dict = {}
            return Http(), {"Error": {"Code": code, "Message": f"{code} (injected)"},
                            "ResponseMetadata": {"HTTPStatusCode": 400}}
        client.meta.events.register("before-call", before_call)
    return hook


def test_deleted_and_failing_executions_make_a_partial_run_that_a_rerun_completes(moto, store, defs):
    arn = moto.machine("flaky", defs.PASS_CHOICE)
    runs = [moto.run(arn) for _ in range(4)]
    moto.wait(runs)
    faults = {runs[0]: "ExecutionDoesNotExist", runs[1]: "InternalServerError"}
    with client_hook(_inject(faults)):
        [first] = aws.sync(moto.source(metrics=False), store)
    assert first.status == RunStatus.PARTIAL
    row = first.row()
    details = json.loads(row["details"])
    assert {e["code"] for e in details["errors"]} == {"ExecutionDoesNotExist", "InternalServerError"}
    assert "2 item(s) not collected" in row["error"]
    assert first.counts["executions_gone"] == 1
    stored = {e["execution_id"] for e in store.read_rows("executions")}
    assert stored == set(runs[2:])
    assert first.watermark is not None and first.watermark <= first.started_at  # held at the gap

    [second] = aws.sync(moto.source(metrics=False), store)       # faults gone: fills the gaps
    assert second.status == RunStatus.SUCCEEDED
    ids = [e["execution_id"] for e in store.read_rows("executions")]
    assert sorted(ids) == sorted(runs)                                          # no duplicates


def test_running_execution_gone_from_aws_is_kept_marked_and_not_retried(moto, store, api_calls):
    run, source = stored_running(moto, store, "vanishing", metrics=False)
    [before] = store.read_rows("executions")
    steps_before = store.read_rows("steps")
    assert before["status"] == "RUNNING" and steps_before
    moto.wait([run])

    # the state machine was deleted meanwhile: DescribeExecution says ExecutionDoesNotExist
    with client_hook(_inject({run: "ExecutionDoesNotExist"}, ("DescribeExecution", "GetExecutionHistory"))):
        second = aws.sync(source, store)[0]
    assert second.status == RunStatus.SUCCEEDED, second.row()      # said, not failed
    assert second.counts["running_gone"] == 1
    assert any("no longer exist" in w and run in w for w in second.warnings)
    [after] = store.read_rows("executions")
    assert after["status"] == "RUNNING"                               # nothing says how it ended
    assert json.loads(after["attributes"])["gone"]["code"] == "ExecutionDoesNotExist"
    assert store.read_rows("steps") == steps_before                  # its steps are kept

    api_calls.reset()
    third = aws.sync(source, store)[0]                                # not asked about again
    assert third.status == RunStatus.SUCCEEDED and "running_revisited" not in third.counts
    assert api_calls.count("DescribeExecution") == 0 and api_calls.count("GetExecutionHistory") == 0


def test_running_execution_of_a_deleted_state_machine_is_revisited_not_left_running(moto, store, api_calls):
    """The state machine was deleted while a run was stored RUNNING: ListStateMachines no longer
    returns it, and only listed machines' runs were revisited, so the run stayed RUNNING for ever
    (a stuck execution that never was). It is now asked about once more and marked gone."""
    run, source = stored_running(moto, store, "deleted-later", metrics=False)
    arn = moto.sfn.describe_execution(executionArn=run)["stateMachineArn"]
    moto.wait([run])
    moto.sfn.delete_state_machine(stateMachineArn=arn)
    api_calls.reset()
    with client_hook(_inject({run: "ExecutionDoesNotExist"}, ("DescribeExecution", "GetExecutionHistory"))):
        second = aws.sync(source, store)[0]
    assert second.status == RunStatus.SUCCEEDED, second.row()
    assert api_calls.count("DescribeExecution") == 1 and second.counts["running_gone"] == 1
    [after] = store.read_rows("executions")
    assert json.loads(after["attributes"])["gone"]["code"] == "ExecutionDoesNotExist"


def test_one_failing_scope_never_stops_the_others(moto, store, defs):
    arn = moto.machine("fine", defs.PASS_CHOICE)
    moto.wait([moto.run(arn)])
    with socket_closed_port() as dead:
        bad = {"cloud": "aws", "regions": ["eu-west-1"], "endpoint_url": dead, "max_attempts": 1,
               "read_timeout": 2}
        report = sync_store(store, [bad, moto.source(metrics=False)])
    by_status = {r.status for r in report.results}
    assert by_status == {RunStatus.FAILED, RunStatus.SUCCEEDED}
    assert report.exit_code == 3      # ExitCode.NO_DATA: a failed scope is a failed collection
    runs = store.read_rows("collection_runs")
    assert {r["status"] for r in runs} == {"failed", "succeeded"}
    failed = [r for r in runs if r["status"] == "failed"][0]
    assert "Connect" in failed["error"] or "connect" in failed["error"]
    assert len(store.read_rows("executions")) == 1


class socket_closed_port:  # noqa: N801 - a context manager used like a function
    def __enter__(self) -> str:
        import socket
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: Any) -> None:
        return None


# ------------------------------------------------------------------ pagination (fake client)

def _client_error(code: str, op: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, op)


class PagedSfn:
    """A fake SFN client with paginated histories and listings (expiring a token once)."""

    def __init__(self, events: int, page: int = 1000, expire_at: int | None = None) -> None:
        self.events = [{"id": i + 1, "type": "PassStateEntered", "previousEventId": i,
                        "timestamp": 1_700_000_000 + i} for i in range(events)]
        self.page = page
        self.expire_at = expire_at
        self.calls = 0

    def get_execution_history(self, executionArn: str, maxResults: int, includeExecutionData: bool,  # noqa: N803
                              reverseOrder: bool, nextToken: str | None = None) -> dict:  # noqa: N803
        assert includeExecutionData is False
        self.calls += 1
        start = int(nextToken) if nextToken else 0
        if nextToken and self.expire_at is not None and start >= self.expire_at:
            self.expire_at = None
            raise _client_error("InvalidToken", "GetExecutionHistory")
        end = start + min(maxResults, self.page)
        out = {"events": self.events[start:end]}
        if end < len(self.events):
            out["nextToken"] = str(end)
        return out

    def list_executions(self, maxResults: int, stateMachineArn: str | None = None, mapRunArn: str | None = None,  # noqa: N803
                        nextToken: str | None = None) -> dict:  # noqa: N803
        import datetime as dt
        start = int(nextToken) if nextToken else 0
        if nextToken and self.expire_at is not None and start >= self.expire_at:
            self.expire_at = None
            raise _client_error("InvalidToken", "ListExecutions")
        base = dt.datetime(2026, 1, 10, tzinfo=dt.timezone.utc)
        items = [{"executionArn": f"arn:aws:states:us-east-1:1:execution:sm:e{i}", "status": "SUCCEEDED",
                  "startDate": base - dt.timedelta(minutes=i)} for i in range(start, min(start + 3, 10))]
        out = {"executions": items}
        if start + 3 < 10:
            out["nextToken"] = str(start + 3)
        return out


def test_history_over_25000_events_is_read_to_the_end_even_when_a_token_expires():
    fake = PagedSfn(30_123, expire_at=12_000)
    events = get_history(fake, "arn:aws:states:us-east-1:1:execution:sm:big")
    assert len(events) == 30_123
    assert [e["id"] for e in events] == list(range(1, 30_124))
    assert fake.calls == 31 + 13          # 31 pages, 12 re-read after the restart, 1 refused


def test_listing_stops_at_the_lower_bound_and_survives_an_expired_token():
    import datetime as dt
    fake = PagedSfn(0, expire_at=6)
    bound = dt.datetime(2026, 1, 10, tzinfo=dt.timezone.utc) - dt.timedelta(minutes=7, seconds=30)
    items = list(iter_executions(fake, lower_bound=bound, state_machine_arn="sm"))
    assert [i["executionArn"].rsplit(":", 1)[1] for i in items] == [f"e{i}" for i in range(8)]


def test_the_state_machine_listing_survives_an_expired_token():
    """ListStateMachines (and the versions and aliases listings) stopped the scope's sync on an expired
    token, though the module says listings start over; now they restart, and no machine is listed twice."""
    from botocore.exceptions import ClientError

    from flowscope.collectors.aws.stepfunctions import list_state_machines

    class Machines:
        def __init__(self):
            self.expired = False

        def list_state_machines(self, maxResults, nextToken=None):
            start = int(nextToken or 0)
            if start == 4 and not self.expired:
                self.expired = True
                raise ClientError({"Error": {"Code": "InvalidToken", "Message": "expired"}}, "ListStateMachines")
            page = {"stateMachines": [{"name": f"sm{i}", "stateMachineArn": f"arn:sm{i}"}
                                      for i in range(start, min(start + 2, 7))]}
            if start + 2 < 7:
                page["nextToken"] = str(start + 2)
            return page

    machines = list_state_machines(Machines())
    assert [m["name"] for m in machines] == [f"sm{i}" for i in range(7)]
    assert [m["name"] for m in list_state_machines(Machines(), ["sm[12]"])] == ["sm1", "sm2"]


# ------------------------------------------------------------------ SIGKILL mid-sync

KILL_SCRIPT = textwrap.dedent("""
    import sys, os
    from flowscope.collectors.aws import collector as aws
    from flowscope.store import Store
    source = {"cloud": "aws", "regions": ["us-east-1"], "endpoint_url": sys.argv[2], "metrics": False,
              "write_every": 2, "concurrency": 2, "quotas": {"GetExecutionHistory": [1, 8]}}
    print("start", flush=True)
    aws.sync(source, Store(sys.argv[1]))
    print("done", flush=True)
""")


def test_sigkill_mid_sync_then_rerun_equals_an_uninterrupted_sync(moto, store, tmp_path, defs):
    from flowscope.store import Store

    arn = moto.machine("killme", defs.PASS_CHOICE)
    runs = [moto.run(arn) for _ in range(24)]
    moto.wait(runs, timeout=60)
    killed_path = tmp_path / "killed"
    partial = kill_mid_sync(KILL_SCRIPT, killed_path, moto.endpoint, after=4, timeout=30)
    assert 0 < partial < 24

    again = Store(killed_path)
    [rerun] = aws.sync(moto.source(metrics=False), again)
    assert rerun.status == RunStatus.SUCCEEDED
    assert aws.sync(moto.source(metrics=False), store)[0].status == RunStatus.SUCCEEDED
    assert _snapshot(again) == _snapshot(store)
    runs_rows = again.read_rows("collection_runs")
    assert any(r["status"] == "running" for r in runs_rows)    # the killed run left its trace


def test_only_runs_of_unlisted_standard_machines_within_the_globs_are_revisited():
    """Who revisits a stored RUNNING run whose machine ListStateMachines did not return: only a
    Standard run within the source's name globs (the others belong to another source, or have
    no history API)."""
    import datetime as dt
    from types import SimpleNamespace

    from flowscope.collectors.aws.stepfunctions import ScopeContext, revisit_running
    from flowscope.collectors.window import CollectWindow, ScopeResult

    def row(name: str, kind: str = "sfn-standard") -> dict:
        return {"execution_id": f"arn:aws:states:us-east-1:1:execution:{name}:r", "kind": kind, "attributes": None,
                "workflow_id": f"arn:aws:states:us-east-1:1:stateMachine:{name}", "workflow_name": name,
                "started_at": None}

    rows = [row("orders-deleted"), row("billing-deleted"), row("orders-express", "sfn-express"), row("orders-listed")]
    asked: list[str] = []

    def describe_execution(executionArn: str, **_: Any) -> dict:
        asked.append(executionArn)
        raise RuntimeError("offline")

    now = dt.datetime(2024, 5, 4, tzinfo=dt.timezone.utc)
    sc = ScopeContext(store=SimpleNamespace(running_executions=lambda *a, **k: rows), sink=None,
                      result=ScopeResult(cloud="aws", scope="s", started_at=now), window=CollectWindow(end=now),
                      now=now, formats={}, concurrency=1, globs=("orders-*",),
                      clients=SimpleNamespace(account="1", region="us-east-1",
                                              sfn=SimpleNamespace(describe_execution=describe_execution)),
                      machines_listed={rows[3]["workflow_id"]})
    revisit_running(sc, set())
    assert asked == [rows[0]["execution_id"]]
    assert sc.result.counts["running_revisited"] == 1


def test_metrics_a_sync_could_not_read_are_read_by_the_next(moto, store, defs):
    """GetMetricData failing in one sync (throttled, a CloudWatch outage) made that sync partial,
    but the next one read only from its own window (the watermark had moved on), so the failed
    window's datapoints were never read, and the runs after it said nothing of the hole. The next
    sync now reads metrics from where the failed one started."""
    import datetime as dt

    moto.machine("metered", defs.PASS_CHOICE)
    starts: list[dt.datetime] = []
    fail = {"on": True}

    def hook(client: Any) -> None:
        def given(params: Any = None, model: Any = None, **_: Any) -> None:
            if model.name == "GetMetricData":
                starts.append(params["StartTime"])

        def before_call(model: Any = None, params: Any = None, **_: Any) -> Any:
            if model.name != "GetMetricData" or not fail["on"]:
                return None

            class Http:
                status_code = 400
                headers: dict = {}
            return Http(), {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded (injected)"},
                            "ResponseMetadata": {"HTTPStatusCode": 400}}
        client.meta.events.register("provide-client-params", given)
        client.meta.events.register("before-call", before_call)

    now = dt.datetime.now(dt.timezone.utc)
    with client_hook(hook):
        [first] = aws.sync(moto.source(lag="1m"), store, now=now - dt.timedelta(hours=2))
        assert first.status == RunStatus.PARTIAL
        fail["on"] = False
        [second] = aws.sync(moto.source(lag="1m"), store, now=now - dt.timedelta(hours=1))
        [third] = aws.sync(moto.source(lag="1m"), store, now=now)
    assert (second.status, third.status) == (RunStatus.SUCCEEDED, RunStatus.SUCCEEDED)
    assert len(starts) == 3 and None not in starts
    assert starts[1] == starts[0]                                   # the failed window read again
    assert starts[2] > starts[1]                                    # and then no more


def test_a_listing_that_returns_the_token_it_was_given_stops_with_an_error():
    """An endpoint answering a page with the nextToken it was sent (a service bug, a proxy replaying
    a response) kept the collector asking for the same page for ever, the scope never ending. The
    listing now fails naming the call, as botocore's own paginators do."""
    from flowscope.collectors.aws.clients import restarting_pages
    from flowscope.collectors.window import CollectionError

    calls = []

    def call(**params):
        calls.append(params.get("nextToken"))
        return {"items": [len(calls)], "nextToken": "same"}

    with pytest.raises(CollectionError, match="same nextToken"):
        for _ in restarting_pages(call, {}, expired=lambda exc: False):
            assert len(calls) < 10, "the listing did not stop"
    assert calls == [None, "same"]


def test_a_listing_whose_tokens_go_round_in_a_cycle_is_that_machines_error_not_a_sync_that_never_ends(
        _aws_env, tmp_path):
    """Tokens that come back after another page (A, B, A, ...: a proxy replaying responses) passed the check
    on the token just sent, and the sync asked ListExecutions for ever. A token already sent in the listing
    now ends it as that machine's recorded error, as the Azure and GCP listings do."""
    import time

    from flowscope.store import Store
    from tests.aws.sfn_fake import ACCOUNT, machine_handlers, sync_once

    now = time.time()
    sm = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:orders"
    calls: list[str | None] = []

    def listing(body: dict) -> Any:
        calls.append(body.get("nextToken"))
        if len(calls) > 20:
            return 400, {"__type": "ProbeStopped", "message": "asked for ever"}
        n = len(calls)
        item = {"executionArn": f"arn:aws:states:us-east-1:{ACCOUNT}:execution:orders:e{n}", "stateMachineArn": sm,
                "name": f"e{n}", "status": "SUCCEEDED", "startDate": now - 120, "stopDate": now - 60}
        return {"executions": [item], "nextToken": "B" if body.get("nextToken") == "A" else "A"}

    result = sync_once({**machine_handlers({"orders": sm}, "STANDARD", now - 3600), "ListExecutions": listing,
                        "GetExecutionHistory": lambda b: (400, {"__type": "ExecutionDoesNotExist", "message": "x"})},
                       Store(tmp_path / "s"))
    assert calls == [None, "A", "B"], calls
    assert result.status == RunStatus.PARTIAL, result.row()
    assert "RepeatedNextToken" in str(result.errors) and sm in str(result.errors), result.errors


def test_get_metric_data_whose_tokens_go_round_in_a_cycle_stops_with_an_error():
    """GetMetricData's NextToken coming back after another page looped for ever, adding the same
    datapoints again each time round."""
    import datetime as dt

    from flowscope.collectors.aws.metrics import get_metric_rows
    from flowscope.collectors.window import CollectionError

    sent: list[str | None] = []

    class Cloudwatch:
        def get_metric_data(self, **params):
            sent.append(params.get("NextToken"))
            assert len(sent) < 10, "GetMetricData was asked for ever"
            return {"MetricDataResults": [], "NextToken": "B" if params.get("NextToken") == "A" else "A"}

    end = dt.datetime(2024, 5, 4, tzinfo=dt.timezone.utc)
    with pytest.raises(CollectionError, match="RepeatedNextToken|nextToken|NextToken"):
        get_metric_rows(Cloudwatch(), [{"stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:a"}],
                        account="1", region="us-east-1", start=end - dt.timedelta(hours=1), end=end)
    assert sent == [None, "A", "B"]


def test_get_metric_data_returning_the_token_it_was_given_stops_with_an_error():
    """The same for GetMetricData's NextToken: the metrics step looped for ever."""
    import datetime as dt

    from flowscope.collectors.aws.metrics import get_metric_rows
    from flowscope.collectors.window import CollectionError

    class Cloudwatch:
        calls = 0

        def get_metric_data(self, **params):
            Cloudwatch.calls += 1
            assert Cloudwatch.calls < 10, "GetMetricData was asked for ever"
            return {"MetricDataResults": [], "NextToken": "same"}

    end = dt.datetime(2024, 5, 4, tzinfo=dt.timezone.utc)
    with pytest.raises(CollectionError, match="same NextToken"):
        get_metric_rows(Cloudwatch(), [{"stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:a"}],
                        account="1", region="us-east-1", start=end - dt.timedelta(hours=1), end=end)
    assert Cloudwatch.calls == 2


@pytest.mark.parametrize("status", ["InternalError", "Forbidden"])
def test_a_metric_query_that_failed_inside_a_good_answer_is_an_error_not_no_datapoints(status):
    """GetMetricData answers 200 with a per-query StatusCode: InternalError or Forbidden came back
    with no datapoints and were read as a quiet period (the window then moved on, never read
    again). They are a failed read now, so the next sync reads the metrics window again."""
    import datetime as dt

    from flowscope.collectors.aws.metrics import get_metric_rows
    from flowscope.collectors.window import CollectionError

    end = dt.datetime(2024, 5, 4, tzinfo=dt.timezone.utc)

    class Cloudwatch:
        def get_metric_data(self, **params):
            first, *rest = params["MetricDataQueries"]
            return {"MetricDataResults": [
                {"Id": first["Id"], "StatusCode": status, "Timestamps": [], "Values": []},
                *({"Id": q["Id"], "StatusCode": "Complete", "Timestamps": [end], "Values": [1.0]} for q in rest)],
                "Messages": [{"Code": status, "Value": "no access"}]}

    with pytest.raises(CollectionError, match=status):
        get_metric_rows(Cloudwatch(), [{"stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:a"}],
                        account="1", region="us-east-1", start=end - dt.timedelta(hours=1), end=end)


def test_a_running_run_that_cannot_be_described_does_not_hold_the_watermark():
    """A stored RUNNING run DescribeExecution refuses is read again by id next sync (it stays RUNNING in the
    store), so the scope's watermark is not held at its start: held, one run refused for weeks kept every sync
    listing from that day (Azure and GCP were changed the same way)."""
    import datetime as dt
    from types import SimpleNamespace

    from flowscope.collectors.aws.stepfunctions import ScopeContext, revisit_running
    from flowscope.collectors.window import CollectWindow, ScopeResult

    started = dt.datetime(2024, 4, 1, tzinfo=dt.timezone.utc)
    row = {"execution_id": "arn:aws:states:us-east-1:1:execution:orders:r", "kind": "sfn-standard",
           "attributes": None, "workflow_id": "arn:aws:states:us-east-1:1:stateMachine:orders",
           "workflow_name": "orders", "started_at": started}

    def describe_execution(executionArn: str, **_: Any) -> dict:
        raise RuntimeError("offline")

    now = dt.datetime(2024, 5, 4, tzinfo=dt.timezone.utc)
    sc = ScopeContext(store=SimpleNamespace(running_executions=lambda *a, **k: [row]), sink=None,
                      result=ScopeResult(cloud="aws", scope="s", started_at=now), window=CollectWindow(end=now),
                      now=now, formats={}, concurrency=1, globs=("orders*",),
                      clients=SimpleNamespace(account="1", region="us-east-1",
                                              sfn=SimpleNamespace(describe_execution=describe_execution)),
                      machines_listed=set())
    revisit_running(sc, {row["workflow_id"]})
    assert sc.result.errors and sc.result.counts["running_revisited"] == 1       # said: the sync is partial
    assert sc.held_watermark() == now                                            # was held at 1 April
