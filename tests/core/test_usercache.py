"""The temporary files a killed `usercache.write_whole` leaves (SIGKILL skips its cleanup) are removed when the
folder is pruned, once old enough that no write in progress in another process can be one of them: nothing
else removed them, and the kept findings' and file columns' folders gathered them for good."""

from __future__ import annotations

import os
import time

from flowscope import usercache


def _aged(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_an_old_leftover_goes_and_a_fresh_one_and_the_kept_files_stay(tmp_path):
    where = tmp_path / "findings"
    for name in ("a.pickle", "b.pickle"):
        assert usercache.write_whole(where, name, name.encode())
    _aged(where / "a.pickle", 3 * usercache.LEFTOVER_AGE_S)         # kept files go by `keep` alone
    old, fresh = where / ".writing-killed", where / ".writing-running"
    old.write_bytes(b"half")
    fresh.write_bytes(b"half")
    _aged(old, usercache.LEFTOVER_AGE_S + 60)
    _aged(fresh, usercache.LEFTOVER_AGE_S - 60)
    (where / ".writing-folder").mkdir()
    _aged(where / ".writing-folder", 3 * usercache.LEFTOVER_AGE_S)

    usercache.forget_oldest(where, "*.pickle", keep=2)

    assert sorted(p.name for p in where.iterdir()) == [".writing-folder", ".writing-running", "a.pickle",
                                                        "b.pickle"]
    assert (where / "a.pickle").read_bytes() == b"a.pickle" and fresh.read_bytes() == b"half"


def test_leftovers_count_for_no_kept_file(tmp_path):
    where = tmp_path / "columns"
    for name in ("a.json", "b.json", "c.json"):
        assert usercache.write_whole(where, name, b"{}")
        _aged(where / name, {"a.json": 30, "b.json": 20, "c.json": 10}[name])
    (where / ".writing-x").write_bytes(b"")
    usercache.forget_oldest(where, "*.json", keep=2)
    assert sorted(p.name for p in where.iterdir()) == [".writing-x", "b.json", "c.json"]
