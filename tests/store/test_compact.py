"""Compaction merges small files, keeps rows, and never deletes files a live snapshot reads."""

from __future__ import annotations

import datetime as dt

from flowscope.store import Store
from tests.store.helpers import batch

TABLES = ("executions", "steps", "attempts", "usage")


def snapshot(s: Store) -> dict:
    return {t: s.sql(f"SELECT * FROM {t} ORDER BY ALL") for t in TABLES}


def parquet_files(s: Store) -> int:
    return sum(1 for _ in s.path.rglob("*.parquet"))


def test_compaction_reduces_files_and_keeps_rows(tmp_path):
    s = Store(tmp_path / "store", vacuum_retention=dt.timedelta(0))
    for k in range(12):
        s.write(batch(range(k * 5, k * 5 + 5)))
    s.write(batch(range(0, 5), "RUNNING"))  # a replace among the appends
    before = snapshot(s)
    on_disk = parquet_files(s)
    result = s.compact()
    assert result["files_after"] < result["files_before"]
    assert result["tables"]["steps"]["files_before"] >= 12
    assert result["tables"]["steps"]["files_after"] <= 3  # one per (cloud, day) partition
    after = snapshot(s)
    for t in TABLES:
        assert after[t].equals(before[t]), t
    assert parquet_files(s) < on_disk
    assert result["files_vacuumed"] > 0
    s.write(batch([1000]))  # the store keeps working after compaction
    assert len(s.read_rows("executions")) == 61


def test_vacuum_keeps_files_of_a_snapshot_a_reader_still_has(tmp_path):
    s = Store(tmp_path / "store", vacuum_retention=dt.timedelta(minutes=10))
    for k in range(4):
        s.write(batch(range(k * 3, k * 3 + 3)))
    old = s.connect()
    s.write(batch(range(0, 3), "RUNNING"))
    s.compact()
    assert old.execute("SELECT count(*) FROM steps").fetchone() == (36,)
    assert s.sql("SELECT count(*) n FROM steps")["n"][0] == 33

    s.vacuum_retention = dt.timedelta(0)
    s.write(batch([99]))
    s.compact()
    assert s.sql("SELECT count(*) n FROM steps")["n"][0] == 36
    fresh = s.connect()
    assert fresh.execute("SELECT count(*) FROM executions").fetchone() == (13,)


def test_compaction_checkpoints_each_table_it_merged_and_the_store_reads_from_it(tmp_path):
    """optimize's commit lists every file it removed and added, with statistics as JSON, and each open replays
    the log from its last checkpoint: compaction leaves one at its commit, which a new reader opens from."""
    import json

    s = Store(tmp_path / "store", vacuum_retention=dt.timedelta(0))
    for k in range(6):
        s.write(batch(range(k * 5, k * 5 + 5)))
    before = snapshot(s)
    result = s.compact()
    for name, table in result["tables"].items():
        last = json.loads((s.path / name / "_delta_log" / "_last_checkpoint").read_text())
        assert last["version"] == table["version"], name
    reopened = Store.open(tmp_path / "store")
    after = snapshot(reopened)
    for t in TABLES:
        assert after[t].equals(before[t]), t
