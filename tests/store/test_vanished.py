"""A store whose folder is deleted under an open Store is said, not read as an empty snapshot.

The manifests' folder gone read as "never written": every table an empty frame, a count of 0, and an
analysis over it "0 findings". Only the notebook's session guarded this itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flowscope.store import NotAStoreError, Store
from tests.store.helpers import batch


def _written(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    Store(path).write(batch(range(4)))
    return path


@pytest.mark.parametrize("read", [
    lambda s: s.table("executions").count().execute(),
    lambda s: s.tables(["executions", "steps"]),
    lambda s: s.sql("SELECT count(*) FROM executions"),
    lambda s: s.row_counts(),
    lambda s: s.version(),
    lambda s: s.latest_collection_runs(),
    lambda s: s.snapshot_files(),
], ids=["table", "tables", "sql", "row_counts", "version", "collection_runs", "snapshot_files"])
def test_a_deleted_store_is_not_an_empty_one(tmp_path, read):
    path = _written(tmp_path)
    reader = Store.open(path)
    assert reader.row_counts()["executions"] == 4     # the snapshot's connection is cached
    shutil.rmtree(path)
    with pytest.raises(NotAStoreError, match="deleted since it was opened") as raised:
        read(reader)
    assert str(path) in str(raised.value)


def test_a_folder_emptied_under_a_writer_is_said_to_its_readers(tmp_path):
    """A writer's Store (which created the folder) read after the folder went: same error, nothing created."""
    path = tmp_path / "store"
    store = Store(path)
    shutil.rmtree(path)
    with pytest.raises(NotAStoreError, match="deleted since it was opened"):
        store.row_counts()
    assert not path.exists()


def test_a_store_built_again_at_the_path_is_read(tmp_path):
    path = _written(tmp_path)
    reader = Store.open(path)
    assert reader.row_counts()["executions"] == 4
    shutil.rmtree(path)
    Store(path).write(batch(range(2)))
    assert reader.row_counts()["executions"] == 2


def test_a_new_store_still_reads_empty(tmp_path):
    """A store created and never written is empty, not gone: `flowscope demo` / `import` start there."""
    store = Store(tmp_path / "new")
    assert store.version() == {} and store.row_counts()["executions"] == 0
    assert Store.open(tmp_path / "new").row_counts()["executions"] == 0


def test_a_writer_does_not_make_a_deleted_store_again(tmp_path):
    """The writer's lock made the folder again (not private: the umask's mode) and wrote a store of one batch."""
    path = _written(tmp_path)
    writer = Store(path)
    shutil.rmtree(path)
    with pytest.raises(NotAStoreError, match="deleted since it was opened"):
        writer.write(batch(range(1)))
    assert not path.exists()


def test_a_store_deleted_during_a_read_is_not_said_damaged(tmp_path):
    """Deleted between a point read's snapshot and its query, the store was "damaged: ... restore it from a
    backup": it is gone, and said so."""
    path = _written(tmp_path)
    reader = Store.open(path)
    with pytest.raises(NotAStoreError, match="deleted since it was opened"):
        with reader._lookup("executions") as (cur, src):
            shutil.rmtree(path)
            cur.execute(f"SELECT count(*) FROM {src['executions']} t").fetchall()


def test_its_bookkeeping_folder_gone_under_its_tables_is_damage(tmp_path):
    """`_flowscope/` deleted (or left out of a copy) while the tables stay is a damaged store, as a missing
    manifest is (`test_damaged.py`): not a store "deleted since it was opened"."""
    from flowscope.store import StoreDamagedError

    path = _written(tmp_path)
    reader, writer = Store.open(path), Store(path)
    shutil.rmtree(path / "_flowscope")
    for call in (reader.row_counts, lambda: writer.write(batch(range(1)))):
        with pytest.raises(StoreDamagedError, match="_flowscope"):
            call()
    assert not (path / "_flowscope").exists()
