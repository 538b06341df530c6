"""Replace-by-key, idempotence, RUNNING -> terminal, partitions, upserts, reads."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from flowscope.model import TABLES, Batch, C, to_arrow
from flowscope.store import Store
from flowscope.store.errors import NotAStoreError, StoreError
from tests.store.helpers import T0, batch, eid, execution, steps


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "store", vacuum_retention=dt.timedelta(0))


def counts(s: Store) -> dict[str, int]:
    return {t: s.sql(f"SELECT count(*) AS n FROM {t}")["n"][0] for t in ("executions", "steps", "attempts", "usage")}


def test_empty_store_has_every_view_with_model_columns(store):
    con = store.connect()
    for name, spec in TABLES.items():
        cols = [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()]
        assert cols == spec.schema.names
        assert con.execute(f"SELECT count(*) FROM {name}").fetchone() == (0,)
    assert con.execute("SELECT current_setting('TimeZone')").fetchone()[0] == "UTC"
    assert store.version() == {}
    assert store.last_watermark("aws/123/us-east-1") is None


def test_same_batch_twice_changes_nothing(store):
    b = batch(range(5))
    assert store.write(b) == {"executions": 5, "steps": 15, "attempts": 15, "usage": 5}
    first = {t: store.sql(f"SELECT * FROM {t} ORDER BY ALL") for t in ("executions", "steps", "attempts", "usage")}
    store.write(b)
    assert counts(store) == {"executions": 5, "steps": 15, "attempts": 15, "usage": 5}
    for t, df in first.items():
        assert store.sql(f"SELECT * FROM {t} ORDER BY ALL").equals(df)


def test_running_rewritten_as_succeeded_replaces_its_rows(store):
    store.write(batch(range(3), "RUNNING"))
    assert counts(store)["steps"] == 6
    store.write(batch([1], "SUCCEEDED"))
    got = dict(store.sql("SELECT execution_id, status FROM executions").values.tolist())
    assert got == {eid(0): "RUNNING", eid(1): "SUCCEEDED", eid(2): "RUNNING"}
    per = dict(store.sql("SELECT execution_id, count(*) FROM steps GROUP BY 1").values.tolist())
    assert per == {eid(0): 2, eid(1): 3, eid(2): 2}
    statuses = store.sql(f"SELECT DISTINCT status FROM steps WHERE execution_id = '{eid(1)}'")
    assert statuses["status"].tolist() == ["SUCCEEDED"]
    assert store.existing_execution_ids("aws", [eid(1), eid(2), eid(99)]) == {eid(1): "SUCCEEDED", eid(2): "RUNNING"}


def test_execution_without_steps_in_batch_drops_old_steps(store):
    store.write(batch([7], "RUNNING"))
    store.write(Batch(executions=[execution(7, "ABORTED")]))
    assert counts(store) == {"executions": 1, "steps": 0, "attempts": 0, "usage": 0}


def test_steps_alone_replace_only_their_executions(store):
    store.write(batch(range(2)))
    store.write(Batch(steps=steps(0, 5)))  # execution 0 absent from batch.executions
    per = dict(store.sql("SELECT execution_id, count(*) FROM steps GROUP BY 1").values.tolist())
    assert per == {eid(0): 5, eid(1): 3}
    assert counts(store)["attempts"] == 6


def test_same_execution_id_in_two_clouds_is_two_executions(store):
    store.write(batch([1], cloud="aws"))
    store.write(batch([1], "RUNNING", cloud="gcp"))
    assert sorted(store.sql("SELECT cloud, status FROM executions").values.tolist()) == [
        ["aws", "SUCCEEDED"], ["gcp", "RUNNING"]]
    assert counts(store)["steps"] == 5


def test_partition_columns_survive_the_read(store):
    b = batch(range(6)) .extend(batch(range(6), cloud="azure"))
    store.write(b)
    rows = store.read_rows("executions", f"execution_id = '{eid(4)}'")
    assert {(r[C.cloud], r[C.start_date]) for r in rows} == {
        ("aws", (T0 + dt.timedelta(days=1)).date()), ("azure", (T0 + dt.timedelta(days=1)).date())}
    for t in ("executions", "steps", "attempts", "usage"):
        df = store.sql(f"SELECT cloud, start_date, count(*) n FROM {t} GROUP BY ALL")
        assert df["cloud"].notna().all() and df["start_date"].notna().all()
        assert set(df["cloud"]) == {"aws", "azure"} and len(df) == 6
    assert "_p_cloud" not in store.df("steps").columns
    parts = {p.name for p in (store.path / "steps").iterdir() if p.name.startswith("_p_")}
    assert parts == {"_p_cloud=aws", "_p_cloud=azure"}
    # every model column lives inside the Parquet files themselves
    import pyarrow.parquet as pq
    some_file = next((store.path / "steps").rglob("*.parquet"))
    assert set(TABLES["steps"].schema.names) <= set(pq.read_schema(some_file).names)


def test_timestamps_are_utc(store):
    store.write(batch([3]))
    row = store.read_rows("executions")[0]
    assert row[C.started_at] == T0 + dt.timedelta(minutes=3)
    assert row[C.started_at].utcoffset() == dt.timedelta(0)
    df = store.df("executions")
    assert str(df[C.started_at].dt.tz) == "UTC"


def test_upsert_tables_by_key_and_watermark(store):
    wf = {C.cloud: "aws", C.workflow_id: "wf", C.name: "wf", C.kind: "sfn-standard", C.revision: "1",
          C.seen_at: T0}
    store.write(Batch(workflows=[wf, {**wf, C.revision: "2"}]))
    store.write(Batch(workflows=[{**wf, C.definition: "{}", C.seen_at: T0 + dt.timedelta(hours=1)}]))
    rows = sorted(store.read_rows("workflows"), key=lambda r: r[C.revision])
    assert [(r[C.revision], r[C.definition]) for r in rows] == [("1", "{}"), ("2", None)]

    def run(rid, status, wm):
        return {C.run_id: rid, C.cloud: "aws", C.scope: "aws/1/us-east-1", C.started_at: T0,
                C.status: status, C.watermark: wm}
    store.write(Batch(collection_runs=[run("a", "succeeded", T0), run("b", "failed", T0 + dt.timedelta(days=9))]))
    store.write(Batch(collection_runs=[run("c", "running", T0 + dt.timedelta(days=1))]))
    assert store.last_watermark("aws/1/us-east-1") == T0
    store.write(Batch(collection_runs=[run("c", "partial", T0 + dt.timedelta(days=1))]))
    assert store.last_watermark("aws/1/us-east-1") == T0 + dt.timedelta(days=1)
    assert len(store.read_rows("collection_runs")) == 3
    assert store.last_watermark("gcp/other") is None

    metric = {C.cloud: "aws", C.resource_id: "wf", C.metric: "ExecutionsStarted", C.statistic: "Sum",
              C.timestamp: T0, C.value: 1.0, C.start_date: T0.date()}
    store.write(Batch(metrics=[metric, {**metric, C.value: 2.0}]))  # repeated key in one batch: last wins
    store.write(Batch(metrics=[{**metric, C.value: 3.0}, {**metric, C.timestamp: T0 + dt.timedelta(minutes=1)}]))
    assert sorted(r[C.value] for r in store.read_rows("metrics")) == [1.0, 3.0]


def test_arrow_input_and_reads(store):
    b = batch(range(4))
    arrow = Batch(executions=to_arrow("executions", b.executions), steps=to_arrow("steps", b.steps).select(
        [C.cloud, C.workflow_id, C.execution_id, C.step_key, C.name, C.type, C.status, C.attempts, C.start_date]))
    assert store.write(arrow) == {"executions": 4, "steps": 12}
    got = store.read_execution_rows("aws", [eid(1), eid(2)])
    assert {r[C.execution_id] for r in got.executions} == {eid(1), eid(2)}
    assert len(got.steps) == 6 and got.attempts == [] and got.usage == []
    assert store.table("steps").count().execute() == 12
    assert store.ibis().table("executions").filter(lambda t: t.status == "SUCCEEDED").count().execute() == 4
    v = store.version()
    assert set(v) == {"executions", "steps"} and all(isinstance(x, int) for x in v.values())
    assert store.connect() is not store.connect()


def test_mapping_batch_and_replace_executions_alias(store):
    b = batch([1], "RUNNING")
    store.write({"executions": b.executions, "steps": b.steps})
    assert store.replace_executions(batch([1])) == {"executions": 1, "steps": 3, "attempts": 3, "usage": 1}
    assert counts(store) == {"executions": 1, "steps": 3, "attempts": 3, "usage": 1}


def test_many_executions_in_a_large_table_replace_exactly(store):
    store.write(batch(range(300), "RUNNING"))
    store.write(batch(range(100, 200)))  # a third of them finish
    df = store.sql("SELECT status, count(*) n FROM executions GROUP BY 1 ORDER BY 1")
    assert df.values.tolist() == [["RUNNING", 200], ["SUCCEEDED", 100]]
    assert counts(store)["steps"] == 200 * 2 + 100 * 3
    assert pa.Table.from_pandas(store.sql("SELECT count(DISTINCT (execution_id, step_key)) d, count(*) n FROM steps")
                                ).to_pylist() == [{"d": 700, "n": 700}]


def test_a_new_store_is_never_made_inside_a_store(store):
    """`--store` one folder too deep (a table's folder) wrote a second store into the executions Delta
    table and said "imported"; it is refused, naming the store to pass."""
    from flowscope.store import StoreError

    store.write(batch([0]))
    for inner in (store.path / "executions", store.path / "executions" / "deeper"):
        with pytest.raises(StoreError, match=f"inside the store {store.path}: pass --store {store.path}$"):
            Store(inner)
        assert not (inner / "_flowscope").exists()
    assert Store(store.path).path == store.path, "the store itself opens as before"


def test_a_store_beside_a_store_named_through_dot_dot_is_not_inside_it(store, monkeypatch):
    """`--store ../prod` typed inside the demo's folder (or `STORE/../prod`) was refused as "inside the store
    STORE", whose path it passes through but not into; a reader named it "STORE/../nothing"."""
    store.write(batch([0]))
    monkeypatch.chdir(store.path)
    sibling = Store("../prod")
    assert sibling.path == store.path.parent / "prod" and (store.path.parent / "prod" / "_flowscope").is_dir()
    assert Store.open(f"{store.path}/../prod").path == sibling.path
    with pytest.raises(NotAStoreError, match=f"^{store.path.parent / 'nothing'} is not a flowscope store"):
        Store.open("../nothing")


def test_the_snapshot_key_tells_a_store_built_again_from_the_one_before(tmp_path):
    """The dashboard keys its connection and cached results by the snapshot (`Store.snapshot_key`): by
    table versions alone, a demo deleted and built again the same way read as the same snapshot, and a
    running dashboard served the old store's results and its deleted files."""
    import shutil

    from flowscope.ui import data

    path = tmp_path / "store"
    Store(path).write(batch(range(5)))
    reader = Store.open(path)
    before, versions = reader.snapshot_key(), reader.version()
    data._version.clear()
    shown = data._version(str(path))
    shutil.rmtree(path)
    Store(path).write(batch(range(10, 13)))
    data._store.clear()
    data._version.clear()
    assert reader.version() == versions and reader.snapshot_key() != before
    assert data._version(str(path)) != shown


def test_a_store_deleted_and_built_again_is_read_anew(tmp_path):
    """A reader (a notebook session, the dashboard's Store) kept across `rm -r STORE` and a new demo or
    import at the same path cached by manifest number and (table, version), which start again at 1:
    it read the deleted store's files, 'IO Error: No files found' on every query until restarted."""
    import shutil

    path = tmp_path / "store"
    Store(path).write(batch(range(5)))
    reader = Store.open(path)
    assert reader.sql("SELECT count(*) AS n FROM executions")["n"][0] == 5
    assert reader.row_counts(["executions"]) == {"executions": 5}
    shutil.rmtree(path)
    Store(path).write(batch(range(10, 13)))          # manifest 1 and version 1 again
    ids = reader.sql("SELECT execution_id FROM executions ORDER BY ALL")["execution_id"].tolist()
    assert ids == [eid(i) for i in range(10, 13)]
    assert reader.row_counts(["executions"]) == {"executions": 3}
    assert reader.ibis().table("executions").count().to_pyarrow().as_py() == 3


def test_write_and_delete_moves_executions_in_one_write(store):
    """A re-key (write under the new key, delete under the old) is one write: readers never see
    the execution twice or not at all, and an execution deleted takes its steps, attempts, usage."""
    store.write(batch(range(4)))
    moved = batch([10, 11])
    before = store.version()
    store.write_and_delete(moved, {"executions": [{C.cloud: "aws", C.execution_id: eid(i)} for i in (0, 1)]})
    after = store.version()
    assert all(after[t] == before[t] + 1 for t in ("executions", "steps", "attempts", "usage"))
    ids = {r[C.execution_id] for t in ("executions", "steps", "attempts", "usage") for r in store.read_rows(t)}
    assert ids == {eid(i) for i in (2, 3, 10, 11)}
    # deleting what is no longer there (a replayed or repeated move) changes nothing
    store.write_and_delete(Batch(), {"executions": [{C.cloud: "aws", C.execution_id: eid(0)}]})
    assert {r[C.execution_id] for r in store.read_rows("executions")} == {eid(i) for i in (2, 3, 10, 11)}


def test_write_and_delete_refuses_an_unknown_table_or_a_key_without_its_values(store):
    with pytest.raises(StoreError, match="not a table"):
        store.write_and_delete(Batch(), {"nope": [{C.cloud: "aws"}]})
    with pytest.raises(StoreError, match="without execution_id"):
        store.write_and_delete(Batch(), {"executions": [{C.cloud: "aws"}]})


def test_tables_taken_together_are_of_one_snapshot_when_a_write_lands_between_them(tmp_path, monkeypatch):
    """The analyses took their tables one `Store.table()` at a time, each from the snapshot current at its
    call: a sync committing in between joined one snapshot's executions to the next one's steps.
    `Store.tables()` takes them all from one."""
    from flowscope.store import Store
    from tests.store.helpers import batch

    store = Store(tmp_path / "store")
    store.write(batch(range(0, 3)))
    backend = store.ibis()
    real_table = type(backend).table
    wrote: list[bool] = []

    def table_then_write(self, name, *args, **kwargs):
        found = real_table(self, name, *args, **kwargs)
        if not wrote:                          # a writer commits right after the first table is taken
            wrote.append(True)
            Store(tmp_path / "store").write(batch(range(3, 6)))
        return found

    monkeypatch.setattr(type(backend), "table", table_then_write)
    tables = store.tables(["executions", "steps", "usage"])
    assert len({id(t._find_backend()) for t in tables.values()}) == 1
    counts = {name: int(t.count().execute()) for name, t in tables.items()}
    assert counts["executions"] == 3, counts              # the snapshot of the first table, whole
