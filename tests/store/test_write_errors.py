"""A write the file system refuses (disk full, quota, file size limit, read-only) is a StoreError
naming the store and the OS's reason, and the next write finishes the staged batch."""

from __future__ import annotations

import subprocess

import pytest

from flowscope.store import Store
from tests.store.helpers import batch, env, worker_cmd


@pytest.mark.slow  # a writer process
def test_a_write_the_disk_refuses_is_said_and_finished_by_the_next(tmp_path):
    """A full disk failed a sync or import with delta-rs's 'DeltaError: Failed to parse parquet: ...
    No space left on device (os error 28)', reported as "a bug in flowscope, please report it" (exit 5).
    Reproduced without a full disk: files limited to 2,000 bytes once the batch is staged."""
    path = tmp_path / "store"
    Store(path).write(batch(range(3)))
    proc = subprocess.run(worker_cmd("write-file-size-limited", path, 10, 300, 2000), env=env(),
                          capture_output=True, text=True, timeout=120)
    said = proc.stdout.strip()
    assert said.startswith("StoreError: ") and str(path) in said, proc.stdout + proc.stderr[-2000:]
    assert "File too large" in said and "readers still see its last complete write" in said
    assert "the next write finishes it" in said
    assert Store.open(path).row_counts(["executions"]) == {"executions": 3}
    Store(path).write(batch(range(1000, 1002)))
    assert Store.open(path).row_counts(["executions", "steps"]) == {"executions": 305, "steps": 915}
