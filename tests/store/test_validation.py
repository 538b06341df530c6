"""A bad batch is refused with table, column and first offending row, before anything is written."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from flowscope.model import TABLES, Batch, C, to_arrow
from flowscope.store import Store, StoreError
from tests.store.helpers import batch, execution


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "store")
    s.write(batch(range(2)))
    return s


def refused(store: Store, bad, *fragments: str) -> None:
    before = store.version()
    with pytest.raises(StoreError) as info:
        store.write(bad)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert store.version() == before, "nothing may be written"
    assert not any((store.path / "_flowscope" / "staging").glob("*/*"))


def test_missing_non_null_column(store):
    b = batch(range(10, 15))
    del b.steps[7][C.name]
    refused(store, b, "steps", "'name'", "row 7")


def test_null_in_non_null_column(store):
    b = batch(range(10, 13))
    b.executions[2][C.started_at] = None
    refused(store, b, "executions", "'started_at'", "row 2")


def test_wrong_type(store):
    b = batch(range(10, 13))
    b.executions[1][C.started_at] = "yesterday"
    refused(store, b, "executions", "'started_at'", "row 1")
    b = batch(range(10, 13))
    b.attempts[4][C.attempt] = "two"
    refused(store, b, "attempts", "'attempt'", "row 4")


def test_unknown_table_and_column(store):
    refused(store, {"executions": batch([9]).executions, "stepz": [{}]}, "unknown table", "stepz")
    b = batch(range(10, 12))
    b.usage[1]["quantityy"] = 1.0
    refused(store, b, "usage", "quantityy", "row 1")


def test_bad_enum_value(store):
    b = batch(range(10, 12))
    b.steps[3][C.status] = "succeeded"
    refused(store, b, "steps", "'status'", "row 3")
    b = batch(range(10, 12))
    b.executions[1][C.cloud] = "oracle"
    refused(store, b, "executions", "'cloud'", "row 1")


def test_arrow_input_is_validated_too(store):
    rows = batch(range(10, 14)).executions
    rows[3][C.workflow_id] = None
    loose = pa.schema([f.with_nullable(True) for f in TABLES["executions"].schema])
    refused(store, Batch(executions=pa.Table.from_pylist(rows, schema=loose)), "executions", "'workflow_id'", "row 3")
    table = to_arrow("executions", batch([20]).executions).set_column(
        0, C.cloud, pa.array([1], pa.int64()))
    refused(store, Batch(executions=table), "executions", "'cloud'", "int64")
    refused(store, Batch(executions=table.append_column("extra", pa.array([1]))), "executions", "extra")


def test_bad_row_in_one_table_blocks_the_whole_batch(store):
    b = batch(range(10, 12))
    b.workflows.append({C.cloud: "aws", C.workflow_id: "wf", C.name: "wf", C.kind: "sfn-standard",
                        C.revision: "1", C.seen_at: "not a time"})
    refused(store, b, "workflows", "seen_at", "row 0")
    assert store.existing_execution_ids("aws", [execution(10)[C.execution_id]]) == {}


def test_naive_datetime_is_taken_as_utc(store):
    row = execution(30)
    row[C.started_at] = dt.datetime(2025, 3, 1, 12, 0)
    store.write(Batch(executions=[row]))
    got = store.read_rows("executions", f"execution_id = '{row[C.execution_id]}'")[0]
    assert got[C.started_at] == dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
