"""A table's files' columns are kept for the next process (`store/file_columns.py`): a fresh process opening a
store an earlier one opened reads no footer; a file changed since, a kept file that is not the user's alone or
is damaged, and a store elsewhere are read again, and the views are the same either way."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from flowscope.store import Store, StoreDamagedError, file_columns
from tests.store.helpers import batch


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The files whose footers are read; and this process's memory of them empty, as a fresh process's is."""
    monkeypatch.setattr(file_columns, "COLUMNS_OF", file_columns.FileColumns())
    seen: list[str] = []
    real = file_columns.read_digests
    monkeypatch.setattr(file_columns, "read_digests", lambda con, files: seen.extend(files) or real(con, files))
    return seen


def _fresh_process(monkeypatch) -> None:
    monkeypatch.setattr(file_columns, "COLUMNS_OF", file_columns.FileColumns())


def _views(path: Path) -> dict[str, str]:
    con = Store.open(path).connect()
    try:
        return dict(con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall())
    finally:
        con.close()


def _store(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    for day in range(3):          # several files a table
        Store(path).write(batch(range(day * 4, day * 4 + 4)))
    return path


def _kept_files() -> list[Path]:
    return sorted(file_columns.usercache.folder(file_columns.FOLDER).glob("*.json"))


def test_a_fresh_process_reads_no_footer_an_earlier_one_read(tmp_path, reads, monkeypatch):
    path = _store(tmp_path)
    first = _views(path)
    assert reads and _kept_files()
    _fresh_process(monkeypatch)
    reads.clear()
    assert _views(path) == first and reads == []
    assert Store.open(path).sql("SELECT count(*) AS n FROM steps").iloc[0, 0] > 0


def test_a_file_changed_since_is_read_again(tmp_path, reads, monkeypatch):
    path = _store(tmp_path)
    _views(path)
    victim = Path(Store.open(path).snapshot_files()["steps"].files[-1])
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    _fresh_process(monkeypatch)
    reads.clear()
    with pytest.raises(StoreDamagedError) as caught:
        _views(path)
    assert victim.name in str(caught.value) and reads == [str(victim)]


def test_a_file_gone_since_is_found_at_the_open(tmp_path, reads, monkeypatch):
    path = _store(tmp_path)
    _views(path)
    victim = Path(Store.open(path).snapshot_files()["executions"].files[-1])
    victim.unlink()
    _fresh_process(monkeypatch)
    with pytest.raises(StoreDamagedError) as caught:
        _views(path)
    assert victim.name in str(caught.value)


def test_a_kept_file_others_may_write_is_not_read(tmp_path, reads, monkeypatch):
    path = _store(tmp_path)
    _views(path)
    for kept in _kept_files():
        kept.chmod(0o666)
    _fresh_process(monkeypatch)
    reads.clear()
    _views(path)
    assert reads


@pytest.mark.parametrize("damage", ["not json", '{"format": 1, "folder": 5}', '{"format": 99}', "[]"])
def test_a_damaged_kept_file_is_a_miss(tmp_path, reads, monkeypatch, damage):
    path = _store(tmp_path)
    first = _views(path)
    for kept in _kept_files():
        kept.write_text(damage)
    _fresh_process(monkeypatch)
    reads.clear()
    assert _views(path) == first and reads
    assert all(json.loads(kept.read_text())["format"] == file_columns.FORMAT for kept in _kept_files())


def test_a_kept_digest_is_one_folders_alone(tmp_path, reads, monkeypatch):
    """A store copied elsewhere keeps its files' names under another folder: its files are read there, once."""
    import shutil

    path = _store(tmp_path)
    _views(path)
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    _fresh_process(monkeypatch)
    reads.clear()
    _views(copy)
    assert reads and all(f.startswith(str(copy)) for f in reads)


def test_an_object_stores_files_are_kept_by_name_in_the_process_only():
    assert file_columns.identity("s3://bucket/store/steps/part-0.parquet") is None
    assert file_columns.identity("/no/such/file.parquet") == (-1, -1)


def test_the_kept_files_are_the_users_alone(tmp_path, reads):
    _views(_store(tmp_path))
    (kept,) = {p.parent for p in _kept_files()}
    assert kept.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 and p.stat().st_uid == os.getuid() for p in _kept_files())
