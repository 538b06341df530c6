"""The store's look-up of stored keys before each commit (`store/delta.existing_partitions`):
execution tables answer from an index that reads each Delta file once (issue 15: the full scan
per commit grew with the store). The index must give what a full scan gives, whatever the
commits did to the files (appends, merges that rewrite them, compaction)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from flowscope.model import EXECUTION_TABLES, Batch, C
from flowscope.store import Store, delta
from tests.store.helpers import T0, batch, eid, execution, steps


class _NoIndex:
    def keys_of(self, *args: object) -> None:
        return None


def _scan_and_index(dt: DeltaTable, table: str, keys: pa.Table, monkeypatch) -> tuple[list, list]:
    with monkeypatch.context() as m:
        m.setattr(delta, "_key_index", _NoIndex)
        scanned = sorted(delta.existing_partitions(dt, table, keys))
    return scanned, sorted(delta.existing_partitions(dt, table, keys))


def _keys(ids: list[int]) -> pa.Table:
    return pa.table({C.cloud: ["aws"] * len(ids), C.execution_id: [eid(i) for i in ids]})


@pytest.fixture
def index(monkeypatch):
    fresh = delta._KeyIndex()
    monkeypatch.setattr(delta, "_key_index", lambda: fresh)
    return fresh


def test_index_answers_as_a_full_scan_through_appends_merges_and_compaction(tmp_path, monkeypatch, index):
    store = Store(tmp_path / "s")
    probe = _keys([0, 1, 4, 7, 8, 50])                  # stored and never stored executions
    store.write(batch(range(0, 3), status="RUNNING"))
    store.write(batch(range(3, 6)))
    steps_table = DeltaTable(str(tmp_path / "s" / "steps"))
    for table in EXECUTION_TABLES:
        dt = DeltaTable(str(tmp_path / "s" / table))
        scanned, indexed = _scan_and_index(dt, table, probe, monkeypatch)
        assert scanned and indexed == scanned, table
    files_before = set(steps_table.file_uris())
    store.write(batch(range(0, 3)))                    # RUNNING -> SUCCEEDED: a merge rewrites files
    store.write(batch(range(6, 9)))
    steps_table.update_incremental()
    assert files_before - set(steps_table.file_uris())      # some files the index read are gone
    scanned, indexed = _scan_and_index(steps_table, "steps", probe, monkeypatch)
    assert indexed == scanned
    read = index.pairs[(steps_table.table_uri, "steps")]
    assert set(read) == set(steps_table.file_uris())        # removed files dropped, new ones read once
    store.compact()
    steps_table.update_incremental()
    assert _scan_and_index(steps_table, "steps", probe, monkeypatch)[1] == _scan_and_index(
        steps_table, "steps", probe, monkeypatch)[0]


def test_rewrites_through_the_index_leave_one_copy_of_each_execution(tmp_path, index):
    store = Store(tmp_path / "s")
    for _ in range(3):
        store.write(batch(range(0, 4), status="RUNNING"))
        store.write(batch(range(0, 4)))
    counts = store.sql(f"SELECT {C.execution_id}, count(*) AS n FROM steps GROUP BY 1")
    assert len(counts) == 4 and set(counts["n"]) == {3}
    assert index.pairs                                  # the writes went through the index


def test_the_index_stays_bounded_over_many_stores(tmp_path, index):
    for n in range(delta._INDEXED_TABLES // 2):       # 4 execution tables each
        store = Store(tmp_path / f"s{n}")
        store.write(batch([1]))
        store.write(batch([2]))                       # a table with files: looked up in the index
    assert len(index.pairs) == delta._INDEXED_TABLES
    assert (DeltaTable(str(tmp_path / "s7" / "steps")).table_uri, "steps") in index.pairs   # the latest kept


def test_an_execution_moved_to_another_partition_is_found_only_where_it_is_now(tmp_path, monkeypatch, index):
    """A rewrite that moves an execution's rows (its start date changed) removes the file the index
    read them from: the index must forget them, or the next commit rewrites a partition for nothing."""
    store = Store(tmp_path / "s")
    first = Batch(executions=[execution(1, day=0)], steps=steps(1, 3, day=0))
    store.write(first)
    store.write(batch([2]))
    steps_table = DeltaTable(str(tmp_path / "s" / "steps"))
    assert [p[1] for p in delta.existing_partitions(steps_table, "steps", _keys([1]))] == [T0.date()]
    store.write(Batch(executions=[execution(1, day=2)], steps=steps(1, 3, day=2)))
    steps_table.update_incremental()
    scanned, indexed = _scan_and_index(steps_table, "steps", _keys([1]), monkeypatch)
    assert [p[1] for p in scanned] == [(T0 + dt.timedelta(days=2)).date()]
    assert indexed == scanned


def test_the_index_holds_each_files_keys_once_and_nothing_of_a_file_that_is_gone(tmp_path, index):
    """Per file, its own (key, partition) rows: no column of file names (one name per file), and a copy,
    not a slice of the read it came from (a slice keeps the whole read's buffers alive after its file
    is gone)."""
    store = Store(tmp_path / "s")
    store.write(Batch(executions=[execution(i, day=i % 3) for i in range(12)],
                      steps=[s for i in range(12) for s in steps(i, 2, day=i % 3)]))
    store.write(batch([50]))                                  # looks up the keys of the 3 files written
    files = index.pairs[(DeltaTable(str(tmp_path / "s" / "steps")).table_uri, "steps")]
    assert len(files) == 3
    for table in files.values():
        assert table.column_names == [C.cloud, C.execution_id, C.start_date]
        assert table.num_rows == 4                            # 4 executions a day, one row each
        # Buffers sized for the file's own rows (a slice of the 12-row read would reference all 12).
        assert table.get_total_buffer_size() <= table.nbytes * 1.5
