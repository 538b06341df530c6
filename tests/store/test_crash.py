"""SIGKILL a writer at any moment: readers keep the last complete write, the next write
succeeds, and the killed batch ends up fully applied or not at all."""

from __future__ import annotations

import random
import signal
import subprocess
import time

import pytest

from flowscope.store import Store
from flowscope.store.faults import ENV
from tests.store.helpers import STEPS_BY_STATUS, batch, env, worker_cmd

pytestmark = pytest.mark.slow  # writer processes killed at random moments


def state(s: Store) -> dict:
    con = s.connect()
    q = lambda sql: con.execute(sql).fetchone()  # noqa: E731
    n, distinct = q("SELECT count(*), count(DISTINCT (cloud, execution_id)) FROM executions")
    assert n == distinct, "duplicate executions"
    wrong = q(f"""SELECT count(*) FROM executions e LEFT JOIN
                  (SELECT cloud, execution_id, count(*) n FROM steps GROUP BY ALL) s USING (cloud, execution_id)
                  WHERE coalesce(s.n, 0) <> CASE e.status WHEN 'RUNNING' THEN {STEPS_BY_STATUS['RUNNING']}
                                                          ELSE {STEPS_BY_STATUS['SUCCEEDED']} END""")[0]
    assert wrong == 0, "half-applied write visible"
    for t in ("steps", "attempts", "usage"):
        assert q(f"SELECT count(*) FROM {t} ANTI JOIN executions USING (cloud, execution_id)")[0] == 0, t
    return {"executions": n,
            "succeeded": q("SELECT count(*) FROM executions WHERE status = 'SUCCEEDED'")[0],
            "steps": q("SELECT count(*) FROM steps")[0]}


@pytest.mark.parametrize("point", ["staged", "intent", "commit:executions", "commit:steps",
                                   "commit:usage", "manifest"])
def test_killed_between_commits(tmp_path, point):
    path = tmp_path / "store"
    s = Store(path)
    s.write(batch(range(10), "RUNNING"))
    before = state(s)
    assert before == {"executions": 10, "succeeded": 0, "steps": 20}

    # the killed batch finishes executions 0..9 and adds 10..14
    proc = subprocess.run(worker_cmd("write", path, 0, 15, "SUCCEEDED"), env={**env(), ENV: point},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr

    if point == "manifest":  # every table and the manifest committed: the write is complete
        assert state(s) == {"executions": 15, "succeeded": 15, "steps": 45}
    else:
        assert state(s) == before, "a reader sees the last complete write"
    s.write(batch(range(20, 25)))
    after = state(s)
    if point == "staged":  # killed before the intent: the batch was never started
        assert after == {"executions": 15, "succeeded": 5, "steps": 20 + 15}
    else:                  # killed after the intent: replayed in full
        assert after == {"executions": 20, "succeeded": 20, "steps": 60}
    assert not (path / "_flowscope" / "intent.json").exists()
    assert not any((path / "_flowscope" / "staging").iterdir())


def test_sigkill_at_random_moments(tmp_path):
    rng = random.Random(20250301)
    per_batch = 20
    for trial in range(3):
        path = tmp_path / f"store{trial}"
        proc = subprocess.Popen(worker_cmd("write-loop", path, per_batch, 200), env=env(),
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().startswith("done 0")  # imports done, one write committed
        time.sleep(rng.uniform(0.05, 1.5))
        proc.send_signal(signal.SIGKILL)
        out = proc.communicate(timeout=30)[0]
        done = 1 + out.count("done")  # batches reported committed
        s = Store(path)
        seen = state(s)
        assert seen["executions"] % per_batch == 0
        assert done * per_batch <= seen["executions"] <= (done + 1) * per_batch
        s.write(batch(range(10_000, 10_005)))
        after = state(s)
        applied = after["executions"] - 5
        assert applied in (done * per_batch, (done + 1) * per_batch), (trial, done, after)
        assert after["steps"] == after["executions"] * STEPS_BY_STATUS["SUCCEEDED"]


def test_the_staged_batch_is_on_disk_before_its_intent(tmp_path, monkeypatch):
    """The intent was fsynced but not the Arrow files it names: after a power cut (or a kernel crash)
    the intent could survive with empty or cut files, and every later write stopped on 'cannot read
    the staged batch of an interrupted write' until the staging folder was deleted by hand. Each staged
    file and the folder naming them are now flushed to disk before the intent is written."""
    import os

    from flowscope.store import manifest, staging

    synced: list[str] = []
    real_fsync, real_atomic = os.fsync, manifest.atomic_write

    def fsync(fd: int) -> None:
        synced.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def atomic_write(path, text):                # the intent: everything it names is on disk by now
        if path.name == "intent.json":
            folder = next((tmp_path / "store" / "_flowscope" / "staging").iterdir())
            assert {f.name for f in folder.iterdir()} <= set(synced), synced
            assert folder.name in synced, "the folder's entries are on disk too"
        real_atomic(path, text)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(staging, "atomic_write", atomic_write)
    Store(tmp_path / "store").write(batch(range(3)))
    assert {"executions.arrow", "steps.arrow", "attempts.arrow", "usage.arrow"} <= set(synced)


def test_an_unreadable_staged_batch_is_dropped_and_its_commits_undone(tmp_path, monkeypatch):
    """A staged batch that cannot be read (a file of it cut or deleted) stopped every later write on
    'cannot read the staged batch of an interrupted write; inspect .../staging', and deleting the
    intent by hand made the commits the killed writer had made visible with the next write: its
    executions without their steps. The next writer now undoes those commits (each table back at the
    last complete write), drops the batch and says so; nothing of the batch is half visible."""
    import warnings

    from flowscope.store import store as store_module

    path = tmp_path / "store"
    Store(path).write(batch(range(5), "RUNNING"))
    before = state(Store.open(path))

    def killed(name: str) -> None:
        if name == "commit:executions":       # executions committed, not their steps
            raise RuntimeError("killed")

    monkeypatch.setattr(store_module, "crash_point", killed)
    with pytest.raises(RuntimeError):
        Store(path).write(batch(range(0, 8)))
    monkeypatch.undo()
    staged = next((path / "_flowscope" / "staging").iterdir())
    (staged / "steps.arrow").write_bytes(b"cut")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        Store(path).write(batch(range(20, 22)))
    assert any("could not be read" in str(w.message) and "dropped" in str(w.message) for w in said), said
    after = state(Store.open(path))
    assert after == {"executions": 7, "succeeded": 2, "steps": before["steps"] + 6}
    assert not (path / "_flowscope" / "intent.json").exists()
