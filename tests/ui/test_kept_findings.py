"""A window's findings kept between dashboard servers (`ui/kept_findings.py`): a new server reads what an
earlier one computed for the same store snapshot, window, thresholds and code, and nothing else; a file
that is damaged, foreign or unwritable is a miss, never a failed analysis."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd
import pytest

from flowscope.analysis import analyze
from flowscope.model import TABLES, UTC
from flowscope.store import Store
from flowscope.ui import analyses_process, kept_findings
from flowscope.ui.analyses_process import AnalysesProcess
from tests.ui.helpers import build

MARKER = pd.DataFrame({"kind": ["kept, not computed"]})
"""Written under a window's key: a read that returns it took the kept file, not the engine."""


@pytest.fixture
def store(tmp_path):
    Store(tmp_path / "s").write(build(90, days=6, seed=11))
    return str(tmp_path / "s")


@pytest.fixture
def in_process(monkeypatch):
    """`analyses_process.findings` called in this process, as the worker calls it (its settings, its stores)."""
    monkeypatch.setattr(analyses_process, "_settings", {"threads": 2, "memory": "1GB"})
    monkeypatch.setattr(analyses_process, "_stores", {})
    return analyses_process.findings


def _window(path: str) -> tuple[dt.datetime, dt.datetime]:
    until = Store(path).sql("SELECT max(started_at) AS m FROM executions").iloc[0, 0].to_pydatetime()
    until = until.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    return until - dt.timedelta(days=7), until


def _engine(path: str, since: dt.datetime, until: dt.datetime) -> pd.DataFrame:
    backend = Store(path).ibis()
    return analyze({n: backend.table(n) for n in TABLES}, since=since, until=until)


def _key(path: str, since: dt.datetime, until: dt.datetime, thresholds: dict | None = None) -> str:
    return kept_findings.kept_key(path, Store(path).snapshot_key(), since, until, thresholds or {})


def _kept_files() -> list[Path]:
    where = kept_findings.folder()
    assert where is not None
    return sorted(where.glob("*.pickle")) if where.exists() else []


def test_a_new_server_reads_the_findings_an_earlier_one_kept(store):
    since, until = _window(store)
    first = AnalysesProcess()
    try:
        computed = first.findings(store, since, until, {})
    finally:
        first.close()
    expected = _engine(store, since, until)
    assert len(expected) > 0, "the store has findings to keep"
    pd.testing.assert_frame_equal(computed.reset_index(drop=True), expected.reset_index(drop=True))
    [file] = _kept_files()
    assert file.stat().st_mode & 0o777 == 0o600 and file.parent.stat().st_mode & 0o777 == 0o700
    pd.testing.assert_frame_equal(kept_findings.load(file.parent, _key(store, since, until)), computed)

    kept_findings.keep(file.parent, _key(store, since, until), MARKER)
    second = AnalysesProcess()             # another server's worker: nothing of the first in memory
    try:
        pd.testing.assert_frame_equal(second.findings(store, since, until, {}), MARKER)
    finally:
        second.close()


def test_a_write_to_the_store_makes_its_windows_computed_again(store, in_process):
    since, until = _window(store)
    in_process(store, since, until, {})
    kept_findings.keep(kept_findings.folder(), _key(store, since, until), MARKER)
    Store(store).write(build(12, days=1, seed=5, end=until - dt.timedelta(hours=2)))
    got = in_process(store, since, until, {})
    assert "kept, not computed" not in set(got["kind"])
    pd.testing.assert_frame_equal(got.reset_index(drop=True), _engine(store, since, until).reset_index(drop=True))
    assert len(_kept_files()) == 2          # the new snapshot's window kept beside the old one's


def test_the_window_the_thresholds_the_store_and_the_code_each_name_another_set():
    since = dt.datetime(2026, 3, 1, tzinfo=UTC)
    until = since + dt.timedelta(days=7)
    base = kept_findings.kept_key("/s", "snap-1", since, until, {"stuck_factor": 5})
    others = [kept_findings.kept_key("/s", "snap-2", since, until, {"stuck_factor": 5}),
              kept_findings.kept_key("/t", "snap-1", since, until, {"stuck_factor": 5}),
              kept_findings.kept_key("/s", "snap-1", since + dt.timedelta(hours=1), until, {"stuck_factor": 5}),
              kept_findings.kept_key("/s", "snap-1", since, until + dt.timedelta(hours=1), {"stuck_factor": 5}),
              kept_findings.kept_key("/s", "snap-1", since, until, {"stuck_factor": 6}),
              kept_findings.kept_key("/s", "snap-1", since, until, {})]
    assert len({base, *others}) == 7
    assert kept_findings.code_identity() in base
    assert kept_findings.kept_key("/s", "snap-1", since, until, {"stuck_factor": 5}) == base


def test_a_window_that_has_not_ended_is_computed_every_time(store, in_process):
    """Its findings still depend on the clock (a run still running ages): nothing is kept."""
    since, _ = _window(store)
    until = dt.datetime.now(UTC) + dt.timedelta(hours=2)
    got = in_process(store, since, until, {})
    assert len(got) > 0 and _kept_files() == []


def test_keeping_turned_off_reads_and_writes_nothing(store, in_process, monkeypatch):
    since, until = _window(store)
    monkeypatch.setenv(kept_findings.KEEP_VARIABLE, "0")
    assert kept_findings.folder() is None
    in_process(store, since, until, {})
    monkeypatch.delenv(kept_findings.KEEP_VARIABLE)
    assert _kept_files() == []


@pytest.mark.parametrize("what", ["file", "folder"])
def test_findings_another_user_could_have_written_are_never_read(store, in_process, what):
    """Unpickling runs code: a kept file (or its folder) writable by others is a miss, and computed afresh."""
    since, until = _window(store)
    where = kept_findings.folder()
    kept_findings.keep(where, _key(store, since, until), MARKER)
    assert where is not None
    target = where if what == "folder" else _kept_files()[0]
    os.chmod(target, 0o777 if what == "folder" else 0o666)
    got = in_process(store, since, until, {})
    assert "kept, not computed" not in set(got["kind"]) and len(got) > 0


def test_a_damaged_file_is_computed_again_and_replaced(store, in_process):
    since, until = _window(store)
    first = in_process(store, since, until, {})
    [file] = _kept_files()
    file.write_bytes(b"\x80\x05 not a pickle")
    analyses_process._stores.clear()
    again = in_process(store, since, until, {})
    pd.testing.assert_frame_equal(again, first)
    pd.testing.assert_frame_equal(kept_findings.load(file.parent, _key(store, since, until)), first)


def test_a_cache_folder_that_cannot_be_made_leaves_the_findings_computed(store, in_process, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    since, until = _window(store)
    got = in_process(store, since, until, {})
    pd.testing.assert_frame_equal(got.reset_index(drop=True), _engine(store, since, until).reset_index(drop=True))


def test_the_least_recently_used_files_go_past_the_limit(monkeypatch):
    monkeypatch.setattr(kept_findings, "MAX_KEPT", 3)
    where = kept_findings.folder()
    for n in range(3):
        kept_findings.keep(where, f"key-{n}", MARKER)
        os.utime(kept_findings._file(where, f"key-{n}"), (10 * (n + 1), 10 * (n + 1)))
    assert kept_findings.load(where, "key-0") is not None     # read: now the most recently used
    kept_findings.keep(where, "key-3", MARKER)
    assert kept_findings.load(where, "key-1") is None
    assert all(kept_findings.load(where, f"key-{n}") is not None for n in (0, 2, 3))
    assert len(_kept_files()) == 3
