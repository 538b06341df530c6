"""A store written before the model gained a column still reads, and takes the new column."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from flowscope import model
from flowscope.cli import app
from flowscope.exitcodes import ExitCode
from flowscope.model import Batch, C, Cloud
from flowscope.store import Store, StoreDamagedError, StoreError
from tests.core.helpers import small_sim, write_documents
from tests.store.helpers import execution, steps


def test_a_column_added_to_the_model_reads_as_null_then_fills(tmp_path, monkeypatch):
    spec = model.TABLES["steps"]
    older = pa.schema([f for f in spec.schema if f.name != C.resource])
    monkeypatch.setitem(model.TABLES, "steps", dataclasses.replace(spec, schema=older))
    store = Store(tmp_path / "s")
    store.write(Batch(executions=[execution(1)], steps=steps(1, 3)))
    monkeypatch.setitem(model.TABLES, "steps", spec)       # the newer model

    reopened = Store(tmp_path / "s")
    before = reopened.sql("SELECT step_key, resource FROM steps ORDER BY step_key")
    assert list(before["step_key"]) == ["0", "1", "2"] and before["resource"].isna().all()

    newer_rows = [dict(row, **{C.resource: "arn:aws:lambda:fn"}) for row in steps(2, 2)]
    reopened.write(Batch(executions=[execution(2)], steps=newer_rows))
    after = Store(tmp_path / "s").sql("SELECT execution_id, resource FROM steps ORDER BY execution_id, step_key")
    assert len(after) == 5
    assert after["resource"].isna().sum() == 3 and (after["resource"] == "arn:aws:lambda:fn").sum() == 2


def test_a_batch_staged_by_an_older_flowscope_is_replayed_by_a_newer_one(tmp_path, monkeypatch):
    """A writer of an older flowscope killed after staging its batch, then flowscope upgraded: the
    replay committed the staged tables as they were, one column short of today's model, and every
    later write (sync, import, compaction) failed with delta-rs's SchemaMismatchError (exit 5, "a
    bug") until the staging folder was deleted by hand, losing the batch. It is replayed in today's
    model (the missing column null), then the new write goes on."""
    spec = model.TABLES["steps"]
    older = pa.schema([f for f in spec.schema if f.name != C.resource])
    monkeypatch.setitem(model.TABLES, "steps", dataclasses.replace(spec, schema=older))
    store = Store(tmp_path / "s")
    store.write(Batch(executions=[execution(1)], steps=steps(1, 3)))

    def killed(*_args: object) -> None:          # stops where a SIGKILL after the intent would
        raise RuntimeError("killed after staging")

    apply = Store._apply
    monkeypatch.setattr(Store, "_apply", killed)
    with pytest.raises(RuntimeError, match="killed"):
        store.write(Batch(executions=[execution(2)], steps=steps(2, 3)))
    monkeypatch.setattr(Store, "_apply", apply)
    monkeypatch.setitem(model.TABLES, "steps", spec)       # the newer flowscope

    Store(tmp_path / "s").write(Batch(executions=[execution(3)], steps=steps(3, 2)))
    after = Store.open(tmp_path / "s").sql("SELECT execution_id, count(*) AS n, count(resource) AS r "
                                           "FROM steps GROUP BY ALL ORDER BY execution_id")
    assert list(after["n"]) == [3, 3, 2] and after["r"].sum() == 0
    assert not (tmp_path / "s" / "_flowscope" / "intent.json").exists()


def test_a_key_column_added_by_a_newer_model_is_written_and_upserted(tmp_path, monkeypatch):
    """The alerts table gained a key column (`scope`): the first write of a newer flowscope into a
    store written by an older one failed in the key look-up ('Column "scope" does not exist'), since
    the stored files lack it. The older rows read it as null and match no new key; new rows upsert."""
    spec = model.TABLES["alerts"]
    older = dataclasses.replace(spec, schema=pa.schema([f for f in spec.schema if f.name != C.scope]),
                                key=(C.target,), replace_key=(C.target,))
    end = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)

    def alert(text, **scope):
        return {C.target: "ops", **scope, C.status: "ok", C.alert: text, C.window_end: end, C.run_id: "r"}

    monkeypatch.setitem(model.TABLES, "alerts", older)
    Store(tmp_path / "s").write({"alerts": [alert("older")]})
    monkeypatch.setitem(model.TABLES, "alerts", spec)           # the newer flowscope
    for text in ("first", "second"):
        Store(tmp_path / "s").write({"alerts": [alert(text, scope="all")]})
    rows = Store(tmp_path / "s").read_rows("alerts")
    assert sorted((r[C.scope] or "", r[C.alert]) for r in rows) == [("", "older"), ("all", "second")]


def test_a_store_a_newer_flowscope_wrote_is_refused_by_an_older_writer(tmp_path, monkeypatch):
    """A newer flowscope added a column this one does not know (`future`): every write here failed with
    delta-rs's SchemaMismatchError (exit 5, "a bug") after staging its batch, and the staged batch failed
    every later write of this flowscope the same way. The write is refused before anything is staged, naming
    the store, the table and the column; the store reads as before, and the newer flowscope writes on."""
    spec = model.TABLES["executions"]
    newer = dataclasses.replace(spec, schema=pa.schema([*spec.schema, pa.field("future", pa.string())]))
    monkeypatch.setitem(model.TABLES, "executions", newer)          # the newer flowscope
    Store(tmp_path / "s").write(Batch(executions=[dict(execution(1), future="x")], steps=steps(1, 2)))
    monkeypatch.setitem(model.TABLES, "executions", spec)           # this one

    store = Store(tmp_path / "s")
    for _ in range(2):
        with pytest.raises(StoreError, match=r"newer flowscope.*executions.*future") as refused:
            store.write(Batch(executions=[execution(2)], steps=steps(2, 2)))
        assert not isinstance(refused.value, StoreDamagedError)
    assert not (tmp_path / "s" / "_flowscope" / "intent.json").exists()
    assert Store.open(tmp_path / "s").sql("SELECT count(*) AS n FROM executions")["n"][0] == 1
    store.write({"alerts": [{C.target: "ops", C.scope: "all", C.status: "ok", C.alert: "a",
                             C.window_end: dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc), C.run_id: "r"}]})

    monkeypatch.setitem(model.TABLES, "executions", newer)
    Store(tmp_path / "s").write(Batch(executions=[dict(execution(2), future="y")], steps=steps(2, 2)))
    rows = Store.open(tmp_path / "s").sql("SELECT execution_id, future FROM executions ORDER BY 1")
    assert list(rows["future"]) == ["x", "y"]


def test_import_into_a_store_a_newer_flowscope_wrote_is_a_usage_error(tmp_path, monkeypatch):
    spec = model.TABLES["executions"]
    newer = dataclasses.replace(spec, schema=pa.schema([*spec.schema, pa.field("future", pa.string())]))
    monkeypatch.setitem(model.TABLES, "executions", newer)
    Store(tmp_path / "s").write(Batch(executions=[dict(execution(1), future="x")], steps=steps(1, 2)))
    monkeypatch.setitem(model.TABLES, "executions", spec)
    files = write_documents(tmp_path / "files", small_sim(Cloud.GCP, executions=5).documents)
    result = CliRunner().invoke(app, ["import", "--store", str(tmp_path / "s"), *map(str, files)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "newer flowscope" in result.output and "a bug" not in result.output
