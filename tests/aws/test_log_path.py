"""The streamed log path: whole executions handed on early, worker processes, the fast page parse."""

from __future__ import annotations

import datetime as dt
import json
import time

import pyarrow as pa
import pytest

from flowscope.collectors import aws
from flowscope.collectors.assemble import assemble_batch
from flowscope.collectors.aws import logs
from flowscope.collectors.aws import transform as T
from flowscope.collectors.aws.log_worker import transform_chunk
from flowscope.collectors.native import ImportContext
from flowscope.model import TABLES, C, RunStatus, Source
from flowscope.simulate.aws import simulate
from flowscope.simulate.base import SimSpec
from flowscope.store.validate import validate_batch

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


def test_a_hole_in_the_ids_keeps_the_execution_open_until_the_end():
    stream = logs.LogRecordStream("g", {SM})
    a = _records(_arn(1))
    stream.add(_events([a[0], a[1], a[3], a[3] | {"id": "4"}]))   # id 3 missing, 4 twice (other eventId)
    assert stream.closed == []
    assert _arn(1) in stream.take_all()[SM]


# ---------------------------------------------------------------- the worker's transform

@pytest.fixture(scope="module")
def sim():
    return simulate(SimSpec(dt.datetime(2024, 5, 1, tzinfo=UTC), dt.datetime(2024, 5, 4, tzinfo=UTC), 600, seed=5))


def _sorted(table: pa.Table, name: str) -> list[dict]:
    keys = [k for k in TABLES[name].key]
    return sorted(table.to_pylist(), key=lambda r: tuple(str(r[k]) for k in keys))


def test_worker_chunk_gives_exactly_the_rows_of_the_in_process_path(sim):
    seen = dt.datetime(2024, 5, 4, tzinfo=UTC)
    records = [r for fmt, doc in sim.documents if fmt == T.LOG_RECORDS for r in doc]
    workflows = [w for fmt, doc in sim.documents if fmt == T.STATE_MACHINE
                 for w in T.transform_state_machine(doc, ImportContext(seen_at=seen)).workflows]
    assert len(records) > 1000 and workflows

    ctx = ImportContext(source_name="FilterLogEvents g", seen_at=seen, source=Source.LOGS,
                        options={T.DEFER_ASSEMBLE: True})
    batch = T.transform_log_records(records, ctx)
    batch.workflows = workflows
    local = validate_batch(assemble_batch(batch, None))

    chunk = transform_chunk([json.dumps(r) for r in records], "FilterLogEvents g", seen, workflows)
    assert chunk.executions == len(local["executions"].to_pylist()) > 100
    assert "workflows" not in chunk.tables                       # used for assembly, not written again
    for name in ("executions", "steps", "attempts", "usage"):
        assert _sorted(chunk.tables[name], name) == _sorted(local[name], name), name
    assert sum(chunk.tables["usage"].column(C.quantity).to_pylist()) > 0


def test_deferred_assembly_gives_the_same_rows_as_the_transform_alone(sim):
    records = [r for fmt, doc in sim.documents if fmt == T.LOG_RECORDS for r in doc][:3000]
    seen = dt.datetime(2024, 5, 4, tzinfo=UTC)
    eager = T.transform_log_records(records, ImportContext(seen_at=seen, source=Source.LOGS))
    deferred = T.transform_log_records(records, ImportContext(seen_at=seen, source=Source.LOGS,
                                                              options={T.DEFER_ASSEMBLE: True}))
    assert deferred.usage == [] and eager.usage
    a, b = assemble_batch(eager, None), assemble_batch(deferred, None)
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


def test_sync_with_worker_processes_stores_what_the_in_process_path_stores(moto, tmp_path, monkeypatch):
    from flowscope.store import Store

    group = "/aws/vendedlogs/states/busy"
    moto.logs.create_log_group(logGroupName=group)
    moto.logs.create_log_stream(logGroupName=group, logStreamName="s")
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    sm = moto.machine("busy", definition, type="EXPRESS", loggingConfiguration={
        "level": "ALL", "includeExecutionData": False,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": f"arn:aws:logs:us-east-1:123456789012:log-group:{group}:*"}}]})
    t0 = int(time.time() * 1000) - 600_000
    arns = [_arn(i, "busy") for i in range(600)]
    records = [r for i, a in enumerate(arns) for r in _records(a, t0 + 50 * i, end="ExecutionFailed" if i % 7 == 0 else "ExecutionSucceeded")]
    _put(moto, group, "s", records)
    # small pages and chunks, so a few hundred executions make many of both
    monkeypatch.setattr(logs, "FILTER_PAGE_LIMIT", 250)
    monkeypatch.setattr(logs, "LOG_CHUNK_RECORDS", 300)
    monkeypatch.setattr(logs, "WORKERS_FROM_RECORDS", 0)
    now = dt.datetime.now(UTC)

    stores = {}
    results = {}
    for workers in (1, 0):
        stores[workers] = Store(tmp_path / f"store-{workers}")
        [results[workers]] = aws.sync(moto.source(metrics=False, log_workers=workers), stores[workers], now=now)
        assert results[workers].status == RunStatus.SUCCEEDED, results[workers].row()
        assert results[workers].counts["executions_from_logs"] == 600
    assert results[1].counts.get("log_chunks_in_workers", 0) >= 1
    assert "log_chunks_in_workers" not in results[0].counts
    assert results[1].counts["log_pages"] == results[0].counts["log_pages"] >= 10
    for name in ("executions", "steps", "usage"):
        assert _table(stores[1], name) == _table(stores[0], name), name
    executions = stores[1].read_rows("executions")
    assert len(executions) == 600 and {e[C.workflow_id] for e in executions} == {sm}
    assert sum(e[C.status] == "FAILED" for e in executions) == len(range(0, 600, 7))

    again = aws.sync(moto.source(metrics=False, log_workers=1), stores[1], now=now + dt.timedelta(minutes=1))[0]
    assert again.counts.get("executions_skipped_terminal") == 600
    assert len(stores[1].read_rows("executions")) == 600


def test_log_workers_config_is_checked():
    with pytest.raises(aws.SourceConfigError, match="log_workers"):
        aws.validate({"cloud": "aws", "regions": ["us-east-1"], "log_workers": -1})
    [scope] = aws.scopes({"cloud": "aws", "regions": ["us-east-1"], "log_workers": 0})
    assert scope.log_workers == 0


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
    from flowscope.collectors.base import Quota, client_bucket

    history = client_bucket(Quota(400, 20))
    assert history.rate == 20 and history.capacity == 396             # 0.2 s of refill held back
    logs_bucket = client_bucket(Quota(5, 5))
    assert logs_bucket.rate == 5 and logs_bucket.capacity == 4          # at least one token
    assert client_bucket(Quota(1, 1)).capacity == 1                     # never below one


def test_sink_raises_a_failed_background_write_at_flush(tmp_path):
    from flowscope.collectors.base import ScopeResult, StoreSink
    from flowscope.store import Store

    class Broken(Store):
        def write(self, batch):  # noqa: ANN001
            raise OSError("disk full")

    result = ScopeResult(cloud="aws", scope="s", started_at=dt.datetime.now(UTC))
    sink = StoreSink(Broken(tmp_path / "s"), result, flush_every=1)
    batch = T.transform_log_records(_records(_arn(1)), ImportContext(seen_at=dt.datetime.now(UTC), source=Source.LOGS))
    sink.add(batch)                               # queued; the write fails in the writer thread
    with pytest.raises(OSError, match="disk full"):
        sink.flush()
    sink.close()
    assert not any(k.startswith("written_") for k in result.counts)


def test_sink_gathers_arrow_chunks_into_one_commit(tmp_path, monkeypatch):
    from flowscope.collectors import base
    from flowscope.collectors.base import ScopeResult, StoreSink
    from flowscope.store import Store

    commits: list[int] = []

    class Counting(Store):
        def write(self, batch):  # noqa: ANN001
            commits.append(len(batch["executions"]))
            return super().write(batch)

    monkeypatch.setattr(base, "TABLES_PER_COMMIT", 3)
    store = Counting(tmp_path / "s")
    result = ScopeResult(cloud="aws", scope="s", started_at=dt.datetime.now(UTC))
    sink = StoreSink(store, result)
    seen = dt.datetime.now(UTC)
    for i in range(4):
        chunk = transform_chunk([json.dumps(r) for r in _records(_arn(i))], "g", seen, [])
        sink.add_tables(chunk.tables)
    sink.flush()
    sink.close()
    assert commits == [3, 1]                            # 3 gathered in one commit, then the rest at flush
    assert len(store.read_rows("executions")) == 4
    assert result.counts["written_executions"] == 4
