"""Files an older flowscope wrote with dictionary timestamps are rewritten once with today's encodings
(`Store.reencode`, the `timestamps-as-deltas-1` upgrade): the same rows, only the partitions that need it, a
reader never sees a half-rewritten store, a killed rewrite loses nothing and the next run finishes it."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable, WriterProperties

from flowscope.collectors.store_upgrades import upgrade_store
from flowscope.collectors.stored_encoding import STEP, upgrade_encoding
from flowscope.store import Store, StoreError, delta
from flowscope.store.faults import ENV
from tests.store.helpers import REPO, batch, env, worker_cmd
from tests.store.test_file_encoding import WRITTEN, check_files, encodings, rows, timestamp_columns

DICTIONARY = {"RLE_DICTIONARY", "PLAIN_DICTIONARY"}


def old_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Write as flowscope did before timestamps were deltas: zstd, every column with a dictionary."""
    monkeypatch.setattr(delta, "writer_properties", lambda table: WriterProperties(compression="ZSTD"))


def live_paths(store: Store) -> dict[str, set[str]]:
    """Each table's live files, with their partition folders."""
    return {t: {uri.split(f"/{t}/", 1)[1] for uri in DeltaTable(str(store.path / t)).file_uris()} for t in WRITTEN}


def old_files(store: Store) -> int:
    """Live data files whose timestamps are still a dictionary."""
    return sum(1 for t, files in live_paths(store).items() for f in files
               if any(encodings(store.path / t / f)[c] & DICTIONARY for c in timestamp_columns(t)))


def old_store(path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """Executions over three days and a replace of some of them, all written by the old writer."""
    s = Store(path, vacuum_retention=dt.timedelta(0))
    with monkeypatch.context() as m:
        old_writer(m)
        s.write(batch(range(0, 30)))
        s.write(batch(range(0, 6), "RUNNING"))       # a replace's merge, old-style too
    assert old_files(s) >= 12
    return s


def test_reencode_rewrites_only_old_partitions_with_the_same_rows(tmp_path, monkeypatch):
    s = old_store(tmp_path / "store", monkeypatch)
    newer = batch(range(100, 103))
    for e in newer.executions + newer.steps + newer.attempts + newer.usage:   # a day of its own, today's writer
        e["start_date"] = dt.date(2025, 3, 10)
    s.write(newer)
    before, files = rows(s), live_paths(s)
    kept = {t: {f for f in fs if "2025-03-10" in f} for t, fs in files.items()}
    assert all(kept.values())

    done = s.reencode()

    assert done["files"] >= 12 and done["partitions"] == 4 * 3, done       # 4 tables x 3 old days
    assert rows(s) == before
    assert old_files(s) == 0
    assert check_files(s) >= 16
    after = live_paths(s)
    for t in WRITTEN:
        assert kept[t] <= after[t], t                       # today's files left as they were
        assert not (files[t] - kept[t]) & after[t], t        # every old one replaced
    assert s.reencode() == {"tables": {}, "files": 0, "partitions": 0}


def test_the_upgrade_runs_once_and_says_what_it_did(tmp_path, monkeypatch):
    s = old_store(tmp_path / "store", monkeypatch)
    before = rows(s)
    done = upgrade_store(s)
    assert done.files >= 12
    assert any("timestamps as deltas" in line and f"{done.files:,} file" in line for line in done.lines())
    assert s.upgrade_done(STEP) and old_files(s) == 0 and rows(s) == before
    assert upgrade_encoding(s) == 0

    empty = Store(tmp_path / "empty")
    assert upgrade_store(empty).lines() == []
    assert empty.upgrade_done(STEP)                          # a store today's code writes needs no rewrite


def test_a_table_without_partitions_is_rewritten_whole(tmp_path, monkeypatch):
    """`collection_runs` has no partition columns: the whole table is one partition to rewrite."""
    s = Store(tmp_path / "store", vacuum_retention=dt.timedelta(0))
    run = {"run_id": "r1", "cloud": "aws", "scope": "aws:123:us-east-1", "status": "succeeded",
           "started_at": dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc),
           "ended_at": dt.datetime(2025, 3, 1, 0, 5, tzinfo=dt.timezone.utc)}
    with monkeypatch.context() as m:
        old_writer(m)
        s.write({"collection_runs": [run]})
    before = s.sql("SELECT * FROM collection_runs").to_dict("records")
    folder = s.path / "collection_runs"
    stamps = timestamp_columns("collection_runs")

    def dictionary_files() -> int:
        return sum(1 for p in folder.glob("*.parquet") for c in stamps if encodings(p).get(c, set()) & DICTIONARY)

    assert dictionary_files()
    assert s.reencode()["tables"]["collection_runs"]["partitions"] == 1
    assert dictionary_files() == 0
    assert s.sql("SELECT * FROM collection_runs").to_dict("records") == before


def test_a_table_with_a_column_the_model_does_not_know_is_left_alone(tmp_path, monkeypatch):
    from deltalake import Field

    s = old_store(tmp_path / "store", monkeypatch)
    table = DeltaTable(str(s.path / "usage"))
    table.alter.add_columns([Field("legacy_note", "string", nullable=True)])
    before = live_paths(s)["usage"]
    done = s.reencode()
    assert "usage" not in done["tables"] and "steps" in done["tables"]
    assert live_paths(s)["usage"] == before                 # never rewritten without a column it would drop


def test_readers_during_the_rewrite_see_every_row(tmp_path, monkeypatch):
    s = old_store(tmp_path / "store", monkeypatch)
    expected = s.sql("SELECT count(*) AS n FROM executions")["n"][0]
    stop, out = tmp_path / "stop", tmp_path / "reads.json"
    reader = subprocess.Popen(worker_cmd("read-loop", s.path, stop, out), env=env())
    try:
        time.sleep(1.0)
        monkeypatch.setattr(delta, "REENCODE_ROWS", 1)        # a commit per partition: the most moments to read
        # the default retention (this file's other stores vacuum at once): a reader's files outlive the rewrite
        assert Store(s.path).reencode()["partitions"] == 12
        time.sleep(0.5)
    finally:
        stop.touch()
        reader.wait(timeout=60)
    result = json.loads(out.read_text())
    assert result["errors"] == [] and result["iterations"] > 0, result
    assert result["max_executions"] == expected


def test_a_killed_rewrite_loses_nothing_and_the_next_run_finishes_it(tmp_path, monkeypatch):
    s = old_store(tmp_path / "store", monkeypatch)
    before = rows(s)
    child = ("import sys; from flowscope.store import Store, delta; delta.REENCODE_ROWS = 1; "
             "from flowscope.collectors.stored_encoding import upgrade_encoding; upgrade_encoding(Store(sys.argv[1]))")
    proc = subprocess.run([sys.executable, "-c", child, str(s.path)], env={**env(), ENV: "rewrite:steps"},
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    reread = Store(s.path, vacuum_retention=dt.timedelta(0))
    assert rows(reread) == before                           # executions rewritten, steps one day of three: same rows
    assert not reread.upgrade_done(STEP)
    assert 0 < old_files(reread) < old_files(old_store(tmp_path / "again", monkeypatch))
    assert upgrade_encoding(reread) > 0                     # the lock was freed with the process; it finishes
    assert rows(reread) == before and old_files(reread) == 0 and reread.upgrade_done(STEP)


def test_rows_read_short_of_what_the_log_lists_commit_nothing(tmp_path, monkeypatch):
    s = old_store(tmp_path / "store", monkeypatch)
    before, files = rows(s), live_paths(s)
    real = delta.with_partition_columns
    monkeypatch.setattr(delta, "with_partition_columns", lambda table, data: real(table, data).slice(1))
    with pytest.raises(StoreError, match="nothing rewritten"):
        upgrade_encoding(s)
    assert live_paths(s) == files and rows(s) == before and not s.upgrade_done(STEP)


def test_doctor_says_when_older_files_wait_for_their_rewrite(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from flowscope.cli import app

    s = old_store(tmp_path / "store", monkeypatch)
    assert s.dictionary_stamp_partitions() == {"executions": 3, "steps": 3, "attempts": 3, "usage": 3}
    said = CliRunner().invoke(app, ["doctor", "--store", str(s.path)]).output
    assert "older files: 3 partition(s) of executions, 3 partition(s) of steps" in said, said
    assert "the next sync or import rewrites them" in said
    upgrade_encoding(s)
    assert "older files" not in CliRunner().invoke(app, ["doctor", "--store", str(s.path)]).output
    assert s.dictionary_stamp_partitions() == {}
