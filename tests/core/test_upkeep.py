"""Upkeep after writing: partitions crowded by many small appends are merged (DESIGN.md: "compact after
syncs"), only those, with every row kept and a reader's earlier snapshot still readable."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from flowscope.collectors import upkeep
from flowscope.collectors.importer import import_files
from flowscope.model import EXECUTION_TABLES, UTC, C, Cloud
from flowscope.store import Store
from flowscope.store import delta as store_delta
from tests.ui.helpers import build

END = dt.datetime(2026, 3, 10, 12, tzinfo=UTC)


def _small_batch(n: int):
    """A few executions of one cloud on one day, with ids of their own."""
    batch = build(6, end=END, days=0.4, clouds=(Cloud.AWS,), failed_scope=False, seed=n)
    for table in EXECUTION_TABLES:
        for row in getattr(batch, table):
            row[C.execution_id] = f"{row[C.execution_id]}-w{n}"
    batch.collection_runs.clear()
    return batch


def _rows(store: Store) -> dict[str, pd.DataFrame]:
    out = {}
    for table in EXECUTION_TABLES:
        frame = store.df(table)
        out[table] = frame.sort_values(list(frame.columns[:6])).reset_index(drop=True)
    return out


def _files_per_partition(store: Store, table: str) -> int:
    """The most files any partition of `table` holds."""
    dtable = store_delta.DeltaTable(str(store.path / table))
    return int(pd.Series([u.rsplit("/", 1)[0] for u in dtable.file_uris()]).value_counts().max())


def test_crowded_partitions_are_merged_and_nothing_else_changes(tmp_path):
    store = Store(tmp_path / "s")
    for n in range(upkeep.COMPACT_AFTER_FILES):
        store.write(_small_batch(n))
    assert upkeep.compact_crowded(store) is None, "not crowded yet: nothing rewritten"
    store.write(_small_batch(99))
    crowded = _files_per_partition(store, "steps")
    assert crowded > upkeep.COMPACT_AFTER_FILES
    before = _rows(store)
    reader = store.connect()                       # a reader's snapshot taken before the merge
    seen = reader.execute("SELECT count(*) FROM steps").fetchone()[0]
    said = upkeep.compact_crowded(store)
    assert said is not None and said.startswith("merged small files:"), said
    assert _files_per_partition(store, "steps") == 1
    after = _rows(store)
    for table, frame in before.items():
        pd.testing.assert_frame_equal(after[table], frame, check_dtype=False)
    assert reader.execute("SELECT count(*) FROM steps").fetchone()[0] == seen, "an open snapshot still reads"
    assert upkeep.compact_crowded(store) is None


def test_only_crowded_partitions_are_rewritten(tmp_path):
    store = Store(tmp_path / "s")
    old = build(6, end=END - dt.timedelta(days=5), days=0.4, clouds=(Cloud.AWS,), failed_scope=False, seed=50)
    old.collection_runs.clear()
    store.write(old)
    dtable = store_delta.DeltaTable(str(store.path / "steps"))
    old_files = {u for u in dtable.file_uris() if (END - dt.timedelta(days=5)).strftime("%Y-%m-%d") in u}
    assert old_files
    for n in range(upkeep.COMPACT_AFTER_FILES + 1):
        store.write(_small_batch(n))
    upkeep.compact_crowded(store)
    dtable = store_delta.DeltaTable(str(store.path / "steps"))
    assert old_files <= set(dtable.file_uris()), "a day that was not crowded keeps its file"


def test_import_merges_what_its_commits_crowded(tmp_path):
    """Nine imports of one small export each: the ninth says it merged the files its appends left."""
    from tests.aws.test_transform_aws import ARN, history

    store = Store(tmp_path / "s")
    said = []
    for n in range(upkeep.COMPACT_AFTER_FILES + 1):
        exported = tmp_path / f"h{n}.json"
        exported.write_text(json.dumps(history("scenarios_test_base_scenarios.snapshot.json", "test_map_state")))
        result = import_files(store, [exported], execution_id=f"{ARN}-{n}")
        said.append(result.upkeep)
    assert said[:-1] == [None] * upkeep.COMPACT_AFTER_FILES
    assert said[-1] is not None and said[-1].startswith("merged small files:")
    assert _files_per_partition(store, "steps") == 1
    assert store.row_counts(("executions",))["executions"] == upkeep.COMPACT_AFTER_FILES + 1


@pytest.mark.parametrize("max_files", [0, 3])
def test_fragmented_partitions_counts_files_per_partition(tmp_path, max_files):
    store = Store(tmp_path / "s")
    for n in range(3):
        store.write(_small_batch(n))
    dtable = store_delta.DeltaTable(str(store.path / "executions"))
    found = store_delta.fragmented_partitions(dtable, max_files)
    if max_files == 3:
        assert found == []
    else:
        assert found and all(set(p) == {"_p_cloud", "_p_start_date"} and p["_p_cloud"] == "aws" for p in found)


def test_doctor_says_when_small_files_crowd_the_store(tmp_path):
    from typer.testing import CliRunner

    from flowscope.cli import app

    store = Store(tmp_path / "s")
    for n in range(upkeep.COMPACT_AFTER_FILES + 1):
        store.write(_small_batch(n))
    said = CliRunner().invoke(app, ["doctor", "--store", str(store.path)]).output
    assert "small files: 1 partition(s) of executions" in said and "the next sync or import merges them" in said
    upkeep.compact_crowded(store)
    assert "small files" not in CliRunner().invoke(app, ["doctor", "--store", str(store.path)]).output


def test_files_of_replaced_rows_do_not_pile_up(tmp_path):
    """Each sync re-collects the executions still running and replaces their rows (a merge rewrites
    the day's file); the old file stayed on disk for good, since only a table with a crowded partition
    was vacuumed and replacing never crowds one: 30 syncs of 5 running executions left 90 files in
    steps for 3 it reads, a whole day's partition more on disk per sync. The upkeep removes them."""
    store = Store(tmp_path / "s", vacuum_retention=dt.timedelta(0))
    batch = _small_batch(1)
    said = []
    for _ in range(6):
        store.write(batch)            # the same executions re-collected, as a sync revisits running ones
        said.append(upkeep.compact_crowded(store))
    rows = _rows(store)
    for table in EXECUTION_TABLES:
        on_disk = len(list((tmp_path / "s" / table).rglob("*.parquet")))
        assert on_disk == len(store.snapshot_files()[table].files), table
    assert said[0] is None, "the first write replaced nothing"
    assert said[-1] is not None and said[-1].startswith("removed "), said
    for table, frame in _rows(store).items():
        pd.testing.assert_frame_equal(frame, rows[table], check_dtype=False)
