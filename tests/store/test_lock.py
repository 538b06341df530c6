"""One writer per store, across processes; a killed holder's lock is released by the OS."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from flowscope.store import Store, StoreLockedError
from tests.store.helpers import batch, env, worker_cmd


def start_holder(path, seconds: float = 30) -> subprocess.Popen:
    proc = subprocess.Popen(worker_cmd("hold-lock", path, seconds), stdout=subprocess.PIPE, env=env(), text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_process_is_refused_with_holder_pid(tmp_path):
    path = tmp_path / "store"
    holder = start_holder(path)
    try:
        s = Store(path, lock_timeout=0.3)
        t = time.monotonic()
        with pytest.raises(StoreLockedError) as info:
            s.write(batch([1]))
        assert time.monotonic() - t >= 0.3
        assert str(holder.pid) in str(info.value) and str(path) in str(info.value)
        assert info.value.holder_pid == holder.pid
        with pytest.raises(StoreLockedError):
            s.compact()
        assert s.version() == {}
    finally:
        holder.kill()
        holder.wait()


def test_killed_holder_releases_the_lock(tmp_path):
    path = tmp_path / "store"
    holder = start_holder(path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    s = Store(path, lock_timeout=2)
    assert s.write(batch([1]))["executions"] == 1


def test_waiting_writer_gets_the_lock_when_released(tmp_path):
    path = tmp_path / "store"
    holder = start_holder(path, seconds=0.5)
    try:
        assert Store(path, lock_timeout=15).write(batch([1]))["executions"] == 1
    finally:
        holder.wait()


def test_lock_is_reentrant_for_the_same_store_but_not_for_another(tmp_path):
    s = Store(tmp_path / "store", lock_timeout=0.1)
    other = Store(tmp_path / "store", lock_timeout=0.1)
    with s.writer():
        s.write(batch([1]))
        with s.writer():
            s.write(batch([2]))
        with pytest.raises(StoreLockedError) as info:
            other.write(batch([3]))
        assert info.value.holder_pid == os.getpid()
    other.write(batch([3]))
    assert len(s.read_rows("executions")) == 3


def test_a_store_deleted_as_a_writer_takes_its_lock_is_not_made_again(tmp_path, monkeypatch):
    """The lock made its folder (`mkdir(parents=True)`): a store deleted between the writer's check that it
    is there and taking the lock came back as an empty `STORE/_flowscope/lock`, and the write went on into
    it. The lock makes no folder; the writer says the store was deleted, and nothing is made."""
    import shutil

    from flowscope.store.errors import NotAStoreError

    path = tmp_path / "store"
    s = Store(path)
    s.write(batch([1]))
    checked = Store.check_present

    def deleted_after_the_check(self):
        checked(self)
        shutil.rmtree(path)

    monkeypatch.setattr(Store, "check_present", deleted_after_the_check)
    with pytest.raises(NotAStoreError, match="deleted since it was opened"):
        s.write(batch([2]))
    assert not path.exists()


def test_a_new_store_takes_its_first_write_under_the_lock(tmp_path):
    path = tmp_path / "new" / "store"
    assert Store(path).write(batch([1]))["executions"] == 1
    assert (path / "_flowscope" / "lock").is_file()


def test_the_findings_history_lock_does_not_make_a_deleted_store_again(tmp_path):
    """`report.history.history_lock` takes a lock of its own beside the writer's: on a store deleted under a
    running report it made `STORE/_flowscope/` again, a stub that read as a store never written."""
    import shutil

    from flowscope.report.history import history_lock

    path = tmp_path / "store"
    s = Store(path)
    s.write(batch([1]))
    shutil.rmtree(path)
    with history_lock(s, timeout=0):
        pass
    assert not path.exists()
