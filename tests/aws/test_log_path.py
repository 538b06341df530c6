"""The streamed log path: whole executions handed on early, the write-behind sink, the fast page parse."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from typing import Any

import pytest

from flowscope.collectors.assemble import assemble_batch
from flowscope.collectors.aws import collector as aws
from flowscope.collectors.aws import logs
from flowscope.collectors.aws import transform as T
from flowscope.collectors.native import ImportContext
from flowscope.collectors.registry import transforms_for
from flowscope.model import TABLES, C, RunStatus, Source
from flowscope.simulate.aws import simulate
from flowscope.simulate.base import SimSpec
from tests.aws.sfn_fake import described_machine, machine_handlers

UTC = dt.timezone.utc
SM = "arn:aws:states:us-east-1:123456789012:stateMachine:orders"


def _arn(i: int, machine: str = "orders") -> str:
    return f"arn:aws:states:us-east-1:123456789012:express:{machine}:run-{i}:{i:08d}-0000-0000-0000-000000000000"


def _records(arn: str, t0: int = 1_700_000_000_000, *, end: str = "ExecutionSucceeded") -> list[dict]:
    types = ["ExecutionStarted", "PassStateEntered", "PassStateExited", end]
    return [{"id": str(i + 1), "type": t, "details": {"name": "P"} if "State" in t else {},
             "previous_event_id": str(i), "event_timestamp": str(t0 + i), "execution_arn": arn}
            for i, t in enumerate(types)]


def _events(records: list[dict]) -> list[dict]:
    return [{"eventId": f"{r['execution_arn'][-8:]}-{r['id']}", "logStreamName": "s", "message": json.dumps(r)}
            for r in records]


# ---------------------------------------------------------------- LogRecordStream

def test_stream_hands_out_an_execution_once_all_its_records_are_in():
    stream = logs.LogRecordStream("g", {SM})
    a, b = _records(_arn(1)), _records(_arn(2))
    assert stream.add(_events([a[0], b[0], a[3]])) == 3           # a: end seen, ids 2..3 missing
    assert stream.closed == []
    stream.add(_events([a[2], a[1], b[1]]))                        # a whole (out of order), b open
    assert stream.closed == [_arn(1)] and stream.closed_records == 4
    taken = stream.take_closed()
    assert list(taken) == [SM] and list(taken[SM]) == [_arn(1)]
    assert [r["id"] for r in taken[SM][_arn(1)].records] == ["1", "4", "3", "2"]
    assert stream.closed == [] and stream.closed_records == 0

    stream.add(_events([a[3]]))                                    # a record after a was handed on
    assert stream.late == 1
    rest = stream.take_all()                                       # b is handed on as it is
    assert list(rest[SM]) == [_arn(2)] and len(rest[SM][_arn(2)].records) == 2
    assert stream.open == {}


def test_stream_skips_malformed_records_and_other_machines():
    stream = logs.LogRecordStream("g", {SM})
    bad = [{"eventId": "x1", "logStreamName": "s", "message": "{not json"},
           {"eventId": "x2", "logStreamName": "s", "message": json.dumps({"id": "1", "type": "ExecutionStarted"})},
           {"eventId": "x3", "logStreamName": "s", "message": None}]
    other = _events(_records(_arn(3, "other")))
    assert stream.add(bad + other) == 0
    assert [s.location for s in stream.skips] == ["s#x1", "s#x2", "s#x3"]
    assert "execution_arn" in stream.skips[1].reason or "event_timestamp" in stream.skips[1].reason
    assert stream.open == {}


def test_malformed_ids_never_close_an_execution():
    stream = logs.LogRecordStream("g", {SM})
    a = _records(_arn(1))
    stream.add(_events([a[0], a[1] | {"id": ["2"]}, a[2], a[3]]))   # an unhashable id
    assert stream.closed == [] and _arn(1) in stream.open


def test_a_hole_in_the_ids_keeps_the_execution_open_until_the_end():
    stream = logs.LogRecordStream("g", {SM})
    a = _records(_arn(1))
    stream.add(_events([a[0], a[1], a[3], a[3] | {"id": "4"}]))   # id 3 missing, 4 twice (other eventId)
    assert stream.closed == []
    assert _arn(1) in stream.take_all()[SM]


# ---------------------------------------------------------------- deferred assembly

@pytest.fixture(scope="module")
def sim():
    return simulate(SimSpec(dt.datetime(2024, 5, 1, tzinfo=UTC), dt.datetime(2024, 5, 4, tzinfo=UTC), 600, seed=5))


def test_deferred_assembly_gives_the_same_rows_as_the_transform_alone(sim):
    records = [r for fmt, doc in sim.documents if fmt == T.LOG_RECORDS for r in doc][:3000]
    seen = dt.datetime(2024, 5, 4, tzinfo=UTC)
    eager = T.transform_log_records(records, ImportContext(seen_at=seen, source=Source.LOGS))
    deferred = T.transform_log_records(records, ImportContext(seen_at=seen, source=Source.LOGS,
                                                              options={T.DEFER_ASSEMBLE: True}))
    assert deferred.usage == [] and eager.usage
    a, b = (assemble_batch(eager, None, transforms_for=transforms_for),
            assemble_batch(deferred, None, transforms_for=transforms_for))
    for name in ("executions", "steps", "attempts", "usage"):
        assert getattr(a, name) == getattr(b, name), name


# ---------------------------------------------------------------- the collector, both ways

def _put(moto, group: str, stream_name: str, records: list[dict]) -> None:
    events = sorted(({"timestamp": int(r["event_timestamp"]), "message": json.dumps(r)} for r in records),
                    key=lambda e: e["timestamp"])
    for start in range(0, len(events), 5000):
        moto.logs.put_log_events(logGroupName=group, logStreamName=stream_name, logEvents=events[start:start + 5000])


def _table(store, name):
    return sorted(store.read_rows(name), key=lambda r: tuple(str(r[k]) for k in TABLES[name].key))


@pytest.mark.slow  # a moto sync read in many pages and chunks
def test_streamed_sync_in_many_pages_and_chunks_stores_what_one_chunk_stores(moto, tmp_path, monkeypatch):
    from flowscope.store import Store

    group = "/aws/vendedlogs/states/busy"
    moto.logs.create_log_group(logGroupName=group)
    moto.logs.create_log_stream(logGroupName=group, logStreamName="s")
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    sm = moto.machine("busy", definition, type="EXPRESS", loggingConfiguration={
        "level": "ALL", "includeExecutionData": False,
        "destinations": [{"cloudWatchLogsLogGroup": {
            "logGroupArn": f"arn:aws:logs:us-east-1:123456789012:log-group:{group}:*"}}]})
    t0 = int(time.time() * 1000) - 600_000
    arns = [_arn(i, "busy") for i in range(600)]
    records = [r for i, a in enumerate(arns)
               for r in _records(a, t0 + 50 * i, end="ExecutionFailed" if i % 7 == 0 else "ExecutionSucceeded")]
    _put(moto, group, "s", records)
    monkeypatch.setattr(logs, "FILTER_PAGE_LIMIT", 250)      # many pages
    now = dt.datetime.now(UTC)

    stores, results = {}, {}
    for chunk in (300, 10**9):                                # many chunks while reading / one at the end
        monkeypatch.setattr(logs, "LOG_CHUNK_RECORDS", chunk)
        stores[chunk] = Store(tmp_path / f"store-{chunk}")
        [results[chunk]] = aws.sync(moto.source(metrics=False), stores[chunk], now=now)
        assert results[chunk].status == RunStatus.SUCCEEDED, results[chunk].row()
        assert results[chunk].counts["executions_from_logs"] == 600
    streamed, whole = stores[300], stores[10**9]
    assert results[300].counts["log_pages"] == results[10**9].counts["log_pages"] >= 10
    assert results[300].counts["written_executions"] == 600
    for name in ("executions", "steps", "usage"):
        assert _table(streamed, name) == _table(whole, name), name
    executions = streamed.read_rows("executions")
    assert len(executions) == 600 and {e[C.workflow_id] for e in executions} == {sm}
    assert sum(e[C.status] == "FAILED" for e in executions) == len(range(0, 600, 7))

    again = aws.sync(moto.source(metrics=False), streamed, now=now + dt.timedelta(minutes=1))[0]
    assert again.counts.get("executions_skipped_terminal") == 600
    assert len(streamed.read_rows("executions")) == 600


# ---------------------------------------------------------------- the page parse and the buckets

def test_fast_page_parse_equals_botocore_parse():
    import botocore.session
    from botocore.parsers import create_parser

    body = json.dumps({"events": [{**e, "timestamp": 1_700_000_000_000 + i, "ingestionTime": 1_700_000_000_100 + i}
                                  for i, e in enumerate(_events(_records(_arn(1))))],
                       "searchedLogStreams": [{"logStreamName": "s", "searchedCompletely": True}],
                       "nextToken": "abc"}).encode()
    op = botocore.session.get_session().get_service_model("logs").operation_model("FilterLogEvents")
    expected = create_parser("json").parse({"body": body, "headers": {}, "status_code": 200}, op.output_shape)

    from flowscope.collectors.aws.clients import install_fast_json

    class Client:      # just enough of a botocore client for the hook to register on
        class meta:  # noqa: N801
            events = botocore.session.get_session().get_component("event_emitter")
            service_model = botocore.session.get_session().get_service_model("logs")

    install_fast_json(Client, ("FilterLogEvents",))
    response = {"body": body, "headers": {}, "status_code": 200}
    custom: dict = {}
    Client.meta.events.emit("before-parse.cloudwatch-logs.FilterLogEvents", operation_model=op,
                            response_dict=response, customized_response_dict=custom)
    parsed = create_parser("json").parse(response, op.output_shape)
    parsed.update(custom)
    expected.pop("ResponseMetadata", None)
    parsed.pop("ResponseMetadata", None)
    assert parsed == expected and len(parsed["events"]) == 4

    error = {"body": b'{"__type": "ThrottlingException"}', "headers": {}, "status_code": 400}
    custom = {}
    Client.meta.events.emit("before-parse.cloudwatch-logs.FilterLogEvents", operation_model=op,
                            response_dict=error, customized_response_dict=custom)
    assert custom == {} and error["body"] == b'{"__type": "ThrottlingException"}'   # errors untouched


def test_client_buckets_keep_latency_slack_below_the_documented_burst():
    from flowscope.collectors.throttle import Quota, client_bucket

    history = client_bucket(Quota(400, 20))
    assert history.rate == 20 and history.capacity == 396             # 0.2 s of refill held back
    logs_bucket = client_bucket(Quota(5, 5))
    assert logs_bucket.rate == 5 and logs_bucket.capacity == 4          # at least one token
    assert client_bucket(Quota(1, 1)).capacity == 1                     # never below one


def test_sink_raises_a_failed_background_write_at_flush(tmp_path):
    from flowscope.collectors.sink import StoreSink
    from flowscope.collectors.window import ScopeResult
    from flowscope.store import Store

    class Broken(Store):
        def write(self, batch):  # noqa: ANN001
            raise OSError("disk full")

    result = ScopeResult(cloud="aws", scope="s", started_at=dt.datetime.now(UTC))
    sink = StoreSink(Broken(tmp_path / "s"), result, transforms=T, flush_every=1)
    batch = T.transform_log_records(_records(_arn(1)), ImportContext(seen_at=dt.datetime.now(UTC), source=Source.LOGS))
    sink.add(batch)                               # queued; the write fails in the writer thread
    with pytest.raises(OSError, match="disk full"):
        sink.flush()
    sink.close()
    assert not any(k.startswith("written_") for k in result.counts)


def test_an_expired_log_token_restarts_the_read_and_no_event_doubles():
    from botocore.exceptions import ClientError

    events = [{"eventId": str(i), "logStreamName": "s", "message": "{}"} for i in range(5)]

    class Logs:
        calls = 0
        failed = False

        def filter_log_events(self, **kw):  # noqa: ANN003
            self.calls += 1
            start = int(kw.get("nextToken") or 0)
            if start == 4 and not self.failed:
                self.failed = True
                raise ClientError({"Error": {"Code": "InvalidParameterException",
                                             "Message": "The specified nextToken is invalid."}}, "FilterLogEvents")
            page = {"events": events[start:start + 2]}
            if start + 2 < len(events):
                page["nextToken"] = str(start + 2)
            return page

    client = Logs()
    pages = list(logs.filter_log_events(client, "g", None, 1))
    assert [e["eventId"] for page in pages for e in page] == ["0", "1", "2", "3", "4"]
    assert client.calls == 6                  # 2 pages, the refusal, then 3 from the start

    class Broken(Logs):
        def filter_log_events(self, **kw):  # noqa: ANN003
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "FilterLogEvents")

    with pytest.raises(ClientError, match="AccessDenied"):
        list(logs.filter_log_events(Broken(), "g", None, 1))


# ---------------------------------------------------------------- tails of long Standard runs

def test_a_dropped_log_tail_of_a_stored_running_standard_run_is_still_revisited():
    """A Standard run on the logs path that outlives the window: its later records are a tail
    (no ExecutionStarted) and are dropped, but it must stay unseen so `revisit_running` takes it
    by its history. Marking it seen left it RUNNING for ever (the listing stops at the window)."""
    from types import SimpleNamespace

    from flowscope.collectors.aws.stepfunctions import ScopeContext
    from flowscope.collectors.window import CollectWindow, ScopeResult

    arn = "arn:aws:states:us-east-1:123456789012:execution:orders:long-run"
    done = "arn:aws:states:us-east-1:123456789012:execution:orders:done-run"
    store = SimpleNamespace(stored_execution_states=lambda cloud, ids: {
        arn: ("RUNNING", 0), done: ("SUCCEEDED", 0)})
    now = dt.datetime(2024, 5, 4, tzinfo=UTC)
    sc = ScopeContext(store=store, sink=None, result=ScopeResult(cloud="aws", scope="s", started_at=now),
                      window=CollectWindow(end=now), now=now, clients=None, formats={})
    tail = [r for r in _records(arn, end="ExecutionSucceeded") if r["type"] != "ExecutionStarted"]
    groups = {arn: logs._Open(SM, tail), done: logs._Open(SM, _records(done)[1:])}
    kept, absent = logs.select_records(sc, groups, express=False)
    assert kept == {} and absent == []
    assert sc.result.counts["log_tails_dropped"] == 1
    assert arn not in sc.seen          # revisit_running skips seen executions
    assert done in sc.seen


def test_an_unreadable_log_group_falls_back_to_the_history_of_standard_runs(_aws_env, store):
    """A Standard machine on the logs path whose log group cannot be read (logs:FilterLogEvents
    denied): its listed executions were never collected, sync after sync (the path is chosen
    again each time). Now they are fetched by GetExecutionHistory; the failure stays recorded.
    The watermark moves on: the history fallback took every run the listing found (it was held
    where it was, so every later sync listed everything again, a first sync's window for ever)."""
    from tests.aws.sfn_fake import ACCOUNT, FakeSfn

    sm = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:orders"
    run = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:orders:run-1"
    t0 = time.time() - 120
    group_arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/states/orders:*"
    history = [
        {"id": 1, "previousEventId": 0, "timestamp": t0, "type": "ExecutionStarted",
         "executionStartedEventDetails": {"roleArn": "r"}},
        {"id": 2, "previousEventId": 1, "timestamp": t0 + 1, "type": "PassStateEntered",
         "stateEnteredEventDetails": {"name": "P"}},
        {"id": 3, "previousEventId": 2, "timestamp": t0 + 2, "type": "PassStateExited",
         "stateExitedEventDetails": {"name": "P"}},
        {"id": 4, "previousEventId": 3, "timestamp": t0 + 3, "type": "ExecutionSucceeded",
         "executionSucceededEventDetails": {}},
    ]
    handlers = {
        **machine_handlers({"orders": sm}, "STANDARD", t0 - 60,
                           describe=lambda b: _standard_on_logs(sm, group_arn, t0)),
        "ListExecutions": lambda b: {"executions": [] if b.get("redriveFilter") else [
            {"executionArn": run, "name": "run-1", "stateMachineArn": sm, "startDate": t0,
             "status": "SUCCEEDED", "stopDate": t0 + 3}]},
        "GetExecutionHistory": lambda b: {"events": history},
        "FilterLogEvents": lambda b: (400, {"__type": "AccessDeniedException",
                                            "message": "not authorized to perform: logs:FilterLogEvents"}),
    }
    with FakeSfn(handlers) as fake:
        source = {"cloud": "aws", "regions": ["us-east-1"], "endpoint_url": fake.endpoint, "metrics": False,
                  "max_attempts": 1, "standard_path": "logs"}
        [result] = aws.sync(source, store)
        assert fake.count("FilterLogEvents") >= 1
        assert fake.count("GetExecutionHistory", executionArn=run) == 1
    assert result.status == RunStatus.PARTIAL                    # the unreadable group is reported
    assert result.watermark == dt.datetime.fromisoformat(json.loads(result.row()["details"])["window"]["end"])
    assert any(e.get("code") == "AccessDeniedException" for e in json.loads(result.row()["details"])["errors"])
    [execution] = store.read_rows("executions")
    assert execution[C.execution_id] == run and execution[C.status] == "SUCCEEDED"
    assert [s[C.name] for s in store.read_rows("steps")] == ["P"]


def _standard_on_logs(sm: str, group_arn: str, t0: float) -> dict:
    """DescribeStateMachine of a Standard machine logging at ALL to `group_arn`."""
    return described_machine(sm, "STANDARD", t0 - 60, loggingConfiguration={
        "level": "ALL", "includeExecutionData": False,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group_arn}}]})


def _orders_on_logs(sm: str, group_arn: str, now: float, listed: list, history: list, fetched: str,
                    filter_log_events) -> dict:
    """The handlers of one Standard machine 'orders' on the logs path: `listed` executions, the
    history of `fetched` only (any other history asked for is an error), FilterLogEvents as given."""
    return {
        **machine_handlers({"orders": sm}, "STANDARD", now - 60,
                           describe=lambda b: _standard_on_logs(sm, group_arn, now)),
        "ListExecutions": lambda b: {"executions": [] if b.get("redriveFilter") else listed},
        "GetExecutionHistory": lambda b: {"events": history} if b["executionArn"] == fetched else (
            400, {"__type": "ExecutionDoesNotExist", "message": "unexpected"}),
        "FilterLogEvents": filter_log_events,
    }


def test_a_log_tail_of_a_standard_run_started_before_the_window_is_not_stored_as_a_run(_aws_env, store):
    """A Standard run that started two days before `--since` and ended inside it: its log records
    in the window are a tail (no ExecutionStarted). It was stored as a SUCCEEDED run started when
    its tail began, with a fragment of its steps, for ever (terminal runs are not fetched again),
    where the history path does not collect a run started before the window at all. Now the tail
    is dropped; a listed run whose records are only a tail is fetched by its history."""
    from tests.aws.sfn_fake import ACCOUNT, FakeSfn

    sm = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:orders"
    old = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:orders:old"
    new = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:orders:new"
    late = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:orders:late-start"
    now = time.time()

    def records(arn: str, stamps: list[float], first_id: int = 1) -> list[dict]:
        types = ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
        return [{"id": str(i + 1), "type": types[i], "details": {"name": "P"} if "State" in types[i] else {},
                 "previous_event_id": str(i), "event_timestamp": str(int(ts * 1000)), "execution_arn": arn}
                for i, ts in enumerate(stamps) if i + 1 >= first_id]

    logged = (records(old, [now - 2 * 86400, now - 2 * 86400, now - 100, now - 99], first_id=3)
              + records(new, [now - 50, now - 49, now - 48, now - 47])
              # a listed run whose ExecutionStarted record is not (yet) in the log group
              + records(late, [now - 40, now - 39, now - 38, now - 37], first_id=2))
    events = [{"eventId": f"{r['execution_arn'][-4:]}-{r['id']}", "logStreamName": "s",
               "timestamp": int(r["event_timestamp"]), "message": json.dumps(r)} for r in logged]
    history = [
        {"id": 1, "previousEventId": 0, "timestamp": now - 40, "type": "ExecutionStarted",
         "executionStartedEventDetails": {"roleArn": "r"}},
        {"id": 2, "previousEventId": 1, "timestamp": now - 39, "type": "PassStateEntered",
         "stateEnteredEventDetails": {"name": "P"}},
        {"id": 3, "previousEventId": 2, "timestamp": now - 38, "type": "PassStateExited",
         "stateExitedEventDetails": {"name": "P"}},
        {"id": 4, "previousEventId": 3, "timestamp": now - 37, "type": "ExecutionSucceeded",
         "executionSucceededEventDetails": {}},
    ]
    listed = [{"executionArn": late, "name": "late-start", "stateMachineArn": sm, "startDate": now - 40,
               "status": "SUCCEEDED", "stopDate": now - 37},
              {"executionArn": new, "name": "new", "stateMachineArn": sm, "startDate": now - 50,
               "status": "SUCCEEDED", "stopDate": now - 47},
              {"executionArn": old, "name": "old", "stateMachineArn": sm, "startDate": now - 2 * 86400,
               "status": "SUCCEEDED", "stopDate": now - 99}]
    group_arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/states/orders:*"
    handlers = _orders_on_logs(sm, group_arn, now, listed, history, late, lambda b: {"events": [
        e for e in events if b.get("startTime", 0) <= e["timestamp"] <= b["endTime"]]})
    since = dt.datetime.now(UTC) - dt.timedelta(hours=1)
    with FakeSfn(handlers) as fake:
        source = {"cloud": "aws", "regions": ["us-east-1"], "endpoint_url": fake.endpoint, "metrics": False,
                  "max_attempts": 1, "standard_path": "logs"}
        [result] = aws.sync(source, store, since=since)
        assert fake.count("GetExecutionHistory") == 1
    assert result.status == RunStatus.SUCCEEDED, result.row()
    rows = {r[C.execution_id]: r for r in store.read_rows("executions")}
    assert sorted(rows) == sorted([new, late])
    assert abs(rows[late][C.started_at].timestamp() - (now - 40)) < 0.001
    assert rows[late][C.attributes] is None            # its whole history, not a partial one
    assert sorted((s[C.execution_id], s[C.name]) for s in store.read_rows("steps")) == sorted(
        [(new, "P"), (late, "P")])
    assert result.counts["log_tails_dropped"] == 2


def test_an_unreadable_log_group_is_read_again_without_holding_the_other_groups(_aws_env, store):
    """Express runs have no source but their log group. A denied FilterLogEvents on one group held
    the whole scope's watermark: every later sync read every group and listed every Standard
    machine from that old point, for as long as the one group stayed denied. Now the scope's
    watermark moves on and the denied group alone is read again from where it was not read
    (recorded in the run's details), until a sync reads it."""
    from tests.aws.sfn_fake import ACCOUNT, FakeSfn

    now = time.time()
    machines = {name: f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{name}" for name in ("denied", "open")}
    groups = {name: f"/aws/states/{name}" for name in machines}
    run = f"arn:aws:states:us-east-1:{ACCOUNT}:express:denied:run-1:0000"
    records = [{"id": str(i + 1), "type": t, "details": {"name": "P"} if "State" in t else {},
                "previous_event_id": str(i), "event_timestamp": str(int((now - 1800 + i) * 1000)),
                "execution_arn": run}
               for i, t in enumerate(["ExecutionStarted", "PassStateEntered", "PassStateExited",
                                      "ExecutionSucceeded"])]
    events = [{"eventId": f"e{r['id']}", "logStreamName": "s", "timestamp": int(r["event_timestamp"]),
               "message": json.dumps(r)} for r in records]
    denied = [True]

    def filter_log_events(b: dict) -> Any:
        if b["logGroupName"] == groups["denied"]:
            if denied[0]:
                return 400, {"__type": "AccessDeniedException", "message": "denied"}
            return {"events": [e for e in events if b.get("startTime", 0) <= e["timestamp"] <= b["endTime"]]}
        return {"events": []}

    def describe(b: dict) -> dict:
        name = b["stateMachineArn"].rsplit(":", 1)[1]
        group_arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{groups[name]}:*"
        return {**_standard_on_logs(b["stateMachineArn"], group_arn, now), "name": name, "type": "EXPRESS"}

    handlers = {
        **machine_handlers(machines, "EXPRESS", now - 7200, describe=describe),
        "FilterLogEvents": filter_log_events,
    }
    since = dt.datetime.now(UTC) - dt.timedelta(hours=1)
    first_start = int((since - logs.EXPRESS_MAX_DURATION).timestamp() * 1000)
    source = {"cloud": "aws", "regions": ["us-east-1"], "metrics": False, "max_attempts": 1}
    with FakeSfn(handlers) as fake:
        [first] = aws.sync({**source, "endpoint_url": fake.endpoint}, store, since=since)
    assert first.status == RunStatus.PARTIAL
    assert first.watermark is not None and first.watermark > since + dt.timedelta(minutes=59)
    unread = json.loads(first.row()["details"])[logs.LOGS_UNREAD]
    assert unread == {groups["denied"]: (since - logs.EXPRESS_MAX_DURATION).isoformat()}

    denied[0] = False
    with FakeSfn(handlers) as fake:
        [second] = aws.sync({**source, "endpoint_url": fake.endpoint}, store)
        starts = {body["logGroupName"]: body.get("startTime") for op, body in fake.calls
                  if op == "FilterLogEvents"}
    assert second.status == RunStatus.SUCCEEDED, second.row()
    assert starts[groups["denied"]] == first_start                  # read again from where it was not
    assert starts[groups["open"]] > first_start + 40 * 60 * 1000     # the others moved on (lag: 15 min)
    assert logs.LOGS_UNREAD not in json.loads(second.row()["details"])
    assert [r[C.execution_id] for r in store.read_rows("executions")] == [run]


def test_a_run_redriven_before_its_first_sync_is_stored_as_it_ended_on_the_logs_path(_aws_env, store, monkeypatch):
    """A Standard run on the logs path that failed and was redriven to success before any sync
    read it: its failure closed it in the log stream, and when the records written since
    filled a chunk before the redrive's came, those were dropped as late; it was stored FAILED
    though ListExecutions said SUCCEEDED, redriven once. A listed run whose records came after it
    was handed on is now taken from its history, which holds both lives."""
    from tests.aws.sfn_fake import ACCOUNT, FakeSfn

    monkeypatch.setattr(logs, "LOG_CHUNK_RECORDS", 4)      # a chunk is handed on after each run
    sm = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:orders"
    redriven = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:orders:redriven"
    other = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:orders:other"
    now = time.time()
    t0 = now - 600

    def record(arn: str, eid: int, kind: str, at: float, **details: Any) -> dict:
        return {"id": str(eid), "type": kind, "details": details, "previous_event_id": str(eid - 1),
                "event_timestamp": str(int(at * 1000)), "execution_arn": arn,
                "redrive_count": "1" if eid > 4 else "0"}

    first_life = [record(redriven, 1, "ExecutionStarted", t0),
                  record(redriven, 2, "PassStateEntered", t0 + 1, name="P"),
                  record(redriven, 3, "FailStateEntered", t0 + 2, name="F"),
                  record(redriven, 4, "ExecutionFailed", t0 + 3, error="Boom")]
    between = [record(other, 1, "ExecutionStarted", t0 + 10), record(other, 2, "PassStateEntered", t0 + 11, name="P"),
               record(other, 3, "PassStateExited", t0 + 12, name="P"),
               record(other, 4, "ExecutionSucceeded", t0 + 13)]
    second_life = [record(redriven, 5, "ExecutionRedriven", t0 + 100, redriveCount=1),
                   record(redriven, 6, "ExecutionSucceeded", t0 + 101)]
    events = [{"eventId": f"{r['execution_arn'][-5:]}-{r['id']}", "logStreamName": "s",
               "timestamp": int(r["event_timestamp"]), "message": json.dumps(r)}
              for r in first_life + between + second_life]
    history = [{"id": int(r["id"]), "previousEventId": int(r["previous_event_id"]), "type": r["type"],
                "timestamp": int(r["event_timestamp"]) / 1000,
                **({"stateEnteredEventDetails": r["details"]} if "Entered" in r["type"] else {}),
                **({"executionFailedEventDetails": r["details"]} if r["type"] == "ExecutionFailed" else {}),
                **({"executionRedrivenEventDetails": r["details"]} if r["type"] == "ExecutionRedriven" else {})}
               for r in first_life + second_life]
    listed = [{"executionArn": other, "name": "other", "stateMachineArn": sm, "startDate": t0 + 10,
               "status": "SUCCEEDED", "stopDate": t0 + 13},
              {"executionArn": redriven, "name": "redriven", "stateMachineArn": sm, "startDate": t0,
               "status": "SUCCEEDED", "stopDate": t0 + 101, "redriveCount": 1, "redriveDate": t0 + 100}]
    group_arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/states/orders:*"
    # a page per record: a chunk is handed on between pages
    handlers = _orders_on_logs(sm, group_arn, now, listed, history, redriven, lambda b: {
        "events": events[int(b.get("nextToken") or 0):][:1],
        **({"nextToken": str(int(b.get("nextToken") or 0) + 1)} if int(b.get("nextToken") or 0) + 1 < len(events)
           else {})})
    with FakeSfn(handlers) as fake:
        source = {"cloud": "aws", "regions": ["us-east-1"], "endpoint_url": fake.endpoint, "metrics": False,
                  "max_attempts": 1, "standard_path": "logs"}
        [result] = aws.sync(source, store, since=dt.datetime.now(UTC) - dt.timedelta(hours=1))
    assert result.status == RunStatus.SUCCEEDED, result.row()
    rows = {r[C.execution_id]: r for r in store.read_rows("executions")}
    assert (rows[redriven][C.status], rows[redriven][C.redrive_count]) == ("SUCCEEDED", 1)
    assert rows[other][C.status] == "SUCCEEDED"


def test_a_listed_running_run_read_only_as_a_tail_is_fetched_by_its_history():
    """A chunk holding nothing of a machine but a listed RUNNING run's tail (its ExecutionStarted
    record not read): the tail was noted only when the chunk kept something else, so such a run
    was neither stored nor fetched. It is now always noted for the history fallback."""
    from types import SimpleNamespace

    from flowscope.collectors.aws.stepfunctions import ScopeContext
    from flowscope.collectors.window import CollectWindow, ScopeResult

    arn = "arn:aws:states:us-east-1:123456789012:execution:orders:started-late"
    store = SimpleNamespace(stored_execution_states=lambda cloud, ids: {})
    now = dt.datetime(2024, 5, 4, tzinfo=UTC)
    sc = ScopeContext(store=store, sink=None, result=ScopeResult(cloud="aws", scope="s", started_at=now),
                      window=CollectWindow(end=now), now=now, clients=None, formats={})
    chunks = logs._Chunks(sc, "g", {SM: {"type": "STANDARD"}}, {SM: {arn: {"executionArn": arn, "status": "RUNNING"}}})
    tail = [r for r in _records(arn, end="ExecutionSucceeded") if r["type"] != "ExecutionStarted"][:2]
    chunks.process({SM: {arn: logs._Open(SM, tail)}})
    assert chunks.tails[SM] == {arn}


def test_an_unread_log_group_not_tried_again_stays_recorded_while_the_watermark_is_held():
    """A group the last run could not read, whose machine this run could not even describe: its
    record went with the last run's details, and its missed window was never read. It is carried
    while the scope's watermark is held, and dropped once it moves on (no machine logs there)."""
    from types import SimpleNamespace

    start = dt.datetime(2024, 5, 4, tzinfo=UTC)
    result = SimpleNamespace(details={})
    sc = SimpleNamespace(gaps=[None], logs_unread={"/denied": start, "/read": start}, result=result,
                         lock=threading.Lock())
    logs.carry_unread(sc, {"/read"})
    assert result.details[logs.LOGS_UNREAD] == {"/denied": start.isoformat()}
    moved = SimpleNamespace(gaps=[], logs_unread={"/denied": start}, result=SimpleNamespace(details={}),
                            lock=sc.lock)
    logs.carry_unread(moved, set())
    assert logs.LOGS_UNREAD not in moved.result.details


def test_a_log_group_that_does_not_exist_is_said_by_name_not_a_partial_scope_for_ever(_aws_env, store):
    """An Express machine configured to log to a group nobody created (or one since deleted):
    FilterLogEvents answers ResourceNotFoundException. Every sync was PARTIAL and kept the group
    'unread from' its first failure, for ever, without saying plainly that the group is absent.
    Now each sync says it once, by name with the machines that log to it, and is not partial:
    there is nothing unread to go back to (an absent group holds no records)."""
    from tests.aws.sfn_fake import ACCOUNT, FakeSfn

    now = time.time()
    sm = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:quotes"
    group = "/aws/vendedlogs/states/quotes-never-created"
    group_arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}:*"
    handlers = {
        **machine_handlers({"quotes": sm}, "EXPRESS", now - 7200, describe=lambda b: {
            **_standard_on_logs(sm, group_arn, now), "name": "quotes", "type": "EXPRESS"}),
        "FilterLogEvents": lambda b: (400, {"__type": "ResourceNotFoundException",
                                            "message": "The specified log group does not exist."}),
    }
    source = {"cloud": "aws", "regions": ["us-east-1"], "metrics": False, "max_attempts": 1}
    with FakeSfn(handlers) as fake:
        results = [aws.sync({**source, "endpoint_url": fake.endpoint}, store)[0] for _ in range(2)]
    for result in results:
        assert result.status == RunStatus.SUCCEEDED, result.row()
        details = json.loads(result.row()["details"])
        assert logs.LOGS_UNREAD not in details and not details.get("errors")
        [said] = [w for w in result.warnings if group in w]
        assert "does not exist" in said and "quotes" in said
        assert details[logs.LOGS_MISSING_KEY] == {group: ["quotes"]}
    # and analyze says it: the Express executions reached no store, so the workflow read as quiet
    from flowscope.analysis.run import analyze_store

    found = analyze_store(store, since=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    [gap] = [f for f in found.itertuples(index=False) if f.kind == "collection_gap" and group in f.title]
    assert gap.severity == "high" and "quotes" in gap.title


class _PagedLogs:
    """FilterLogEvents over `events` in pages of `size`; the token is refused once at `expire_at`."""

    def __init__(self, events: list[dict], size: int, expire_at: int | None = None) -> None:
        self.events, self.size, self.expire_at = events, size, expire_at
        self.calls = 0

    def filter_log_events(self, **kw: Any) -> dict:
        from botocore.exceptions import ClientError

        self.calls += 1
        start = int(kw.get("nextToken") or 0)
        if start and start == self.expire_at:
            self.expire_at = None
            raise ClientError({"Error": {"Code": "InvalidToken", "Message": "expired"}}, "FilterLogEvents")
        page: dict[str, Any] = {"events": self.events[start:start + self.size]}
        if start + self.size < len(self.events):
            page["nextToken"] = str(start + self.size)
        return page


def test_a_restarted_read_yields_each_timed_event_once_also_at_one_millisecond():
    """Several events share a millisecond across the page where the token expired: each is read once."""
    stamps = [1000, 1001, 1001, 1002, 1002, 1002, 1002, 1003, 1004, 1004]
    events = [{"eventId": f"e{i}", "timestamp": ts, "logStreamName": "s", "message": "{}"}
              for i, ts in enumerate(stamps)]
    client = _PagedLogs(events, size=3, expire_at=6)          # refused after the page ending inside 1002
    read = [e["eventId"] for page in logs.filter_log_events(client, "g", None, 2000) for e in page]
    assert read == [e["eventId"] for e in events]
    assert client.calls == 1 + 1 + 1 + 4                     # 2 pages, the refusal, then 4 from the start


def test_the_event_ids_kept_to_drop_repeats_do_not_grow_with_the_log_group():
    """Every event id of the read was kept until its end, to drop what a restarted read repeats: a group
    of millions of records held hundreds of MB of ids. Pages come sorted by timestamp (documented), so
    only the ids of the newest millisecond are kept."""
    import tracemalloc

    class Generated:
        """100,000 events, 1,000 a page, each with its own timestamp, made as they are asked for."""

        def filter_log_events(self, **kw: Any) -> dict:
            start = int(kw.get("nextToken") or 0)
            page: dict[str, Any] = {"events": [
                {"eventId": f"{n:056d}", "timestamp": 1_700_000_000_000 + n, "logStreamName": "s", "message": "{}"}
                for n in range(start, start + 1000)]}
            if start + 1000 < 100_000:
                page["nextToken"] = str(start + 1000)
            return page

    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        held = 0
        pages = 0
        for page in logs.filter_log_events(Generated(), "g", None, 2_000_000_000_000):
            pages += 1
            del page
            held = max(held, tracemalloc.get_traced_memory()[0] - base)
    finally:
        tracemalloc.stop()
    assert pages == 100
    assert held < 3_000_000, f"{held:,} bytes held while reading"       # ids of every event: ~14 MB


def test_the_executions_of_other_machines_remembered_do_not_grow_with_the_log_group(monkeypatch):
    """A log group shared with machines the scope does not collect: every one of their executions was
    remembered until the read's end (one ARN each, a million executions a day of an Express machine)."""
    monkeypatch.setattr(logs, "OTHER_EXECUTIONS_KEPT", 100, raising=False)
    stream = logs.LogRecordStream("g", {SM})
    for batch in range(10):
        others = [r for i in range(batch * 50, batch * 50 + 50) for r in _records(_arn(i, machine="other"))]
        assert stream.add(_events(others)) == 0
        assert len(stream.machine_of) <= 100
    mine = _records(_arn(1))
    assert stream.add(_events(mine)) == len(mine) and stream.closed == [_arn(1)]
