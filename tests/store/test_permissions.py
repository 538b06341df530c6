"""Store privacy: error causes live in the store, so its folders and files are the user's alone by
default (0700 folders, files written under umask 077); FLOWSCOPE_STORE_MODE opens it to a group."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowscope.store import Store, StoreError
from flowscope.store.store import MODE_ENV
from tests.store.helpers import batch


@pytest.fixture
def loose_umask() -> Iterator[int]:
    """The usual login umask (022), under which an unprotected writer makes world-readable files."""
    previous = os.umask(0o022)
    try:
        yield 0o022
    finally:
        os.umask(previous)


def entries(root: Path) -> list[tuple[Path, int]]:
    """Every folder and file of the store, the root included, with its permission bits."""
    found = [(root, stat.S_IMODE(root.stat().st_mode))]
    for path in root.rglob("*"):
        found.append((path, stat.S_IMODE(path.lstat().st_mode)))
    return found


def test_a_written_store_is_private_to_the_user(tmp_path, monkeypatch, loose_umask):
    monkeypatch.delenv(MODE_ENV, raising=False)
    root = tmp_path / "private"
    Store(root).write(batch(range(20)))
    found = entries(root)
    assert sum(1 for p, _ in found if p.is_file()) > 5          # tables, logs, manifest, lock really written
    exposed = [(str(p), oct(m)) for p, m in found if m & 0o077]
    assert not exposed, exposed
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


def test_compaction_keeps_the_store_private(tmp_path, monkeypatch, loose_umask):
    monkeypatch.delenv(MODE_ENV, raising=False)
    root = tmp_path / "compacted"
    store = Store(root)
    for start in range(0, 40, 10):                              # several small commits to merge
        store.write(batch(range(start, start + 10)))
    result = store.compact()
    assert result["files_after"] < result["files_before"]      # compaction really rewrote files
    exposed = [(str(p), oct(m)) for p, m in entries(root) if m & 0o077]
    assert not exposed, exposed


def test_store_mode_0750_gives_the_group_read_access(tmp_path, monkeypatch, loose_umask):
    monkeypatch.setenv(MODE_ENV, "0750")
    root = tmp_path / "shared"
    Store(root).write(batch(range(10)))
    found = entries(root)
    folders = [(p, m) for p, m in found if p.is_dir()]
    files = [(p, m) for p, m in found if p.is_file() and p.name != "lock"]   # the writers' lock stays 0600
    assert folders and files
    assert all(m & 0o050 == 0o050 for _, m in folders), [(str(p), oct(m)) for p, m in folders]
    assert all(m & 0o040 for _, m in files), [(str(p), oct(m)) for p, m in files]
    assert not [(str(p), oct(m)) for p, m in found if m & 0o007]     # still nothing for others


@pytest.mark.parametrize(("env", "expected"), [(None, 0o600), ("0750", 0o640)])
def test_the_demo_ground_truth_is_as_private_as_the_store(tmp_path, monkeypatch, loose_umask, env, expected):
    """`_flowscope/demo_truth.json` was written with the process umask (0644), the one world-readable
    file of a demo store."""
    from flowscope.simulate.demo import DemoResult, save_truth, truth_path

    if env is None:
        monkeypatch.delenv(MODE_ENV, raising=False)
    else:
        monkeypatch.setenv(MODE_ENV, env)
    store = Store(tmp_path / "demo")
    save_truth(store, DemoResult())
    assert stat.S_IMODE(truth_path(store).stat().st_mode) == expected
    truth_path(store).chmod(0o644)                 # an older demo's file, rewritten by a new demo
    save_truth(store, DemoResult())
    assert stat.S_IMODE(truth_path(store).stat().st_mode) == expected


@pytest.mark.parametrize("value", ["rwx", "0o7z0", "0600", "1777", "-1"])
def test_a_bad_store_mode_is_a_clear_error(tmp_path, monkeypatch, value):
    monkeypatch.setenv(MODE_ENV, value)
    with pytest.raises(StoreError, match=MODE_ENV):
        Store(tmp_path / "bad")
    assert not (tmp_path / "bad").exists()                      # refused before anything was created


def test_the_process_umask_is_restored_after_a_write(tmp_path, monkeypatch, loose_umask):
    monkeypatch.delenv(MODE_ENV, raising=False)
    store = Store(tmp_path / "umask")
    store.write(batch(range(5)))
    assert os.umask(loose_umask) == loose_umask
    store.compact()
    assert os.umask(loose_umask) == loose_umask
    with pytest.raises(RuntimeError), store.writer():          # a failing writer restores it too
        raise RuntimeError("boom")
    assert os.umask(loose_umask) == loose_umask
    probe = tmp_path / "after.txt"                             # the user's own files are as before
    probe.write_text("x")
    assert stat.S_IMODE(probe.stat().st_mode) == 0o644


def test_another_user_s_private_store_is_said_as_such(tmp_path, monkeypatch):
    """Opening a store another user made (0700: the default) raised PermissionError out of the reader's
    checks, which `flowscope analyze` said as "a bug in flowscope" (exit 5). It is a StoreError naming the
    store and what to do. (As root nothing is refused: the refusal the OS gives is stood in for.)"""
    path = tmp_path / "store"
    Store(path).write(batch(range(2)))
    reader = Store.open(path)
    real_stat = Path.stat

    def refused(self, *args, **kwargs):
        if self.name == "_flowscope":
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", refused)
    for call in (lambda: Store.open(path), reader.check_present):
        with pytest.raises(StoreError, match=r"cannot read the store .*: permission denied.*FLOWSCOPE_STORE_MODE"):
            call()
