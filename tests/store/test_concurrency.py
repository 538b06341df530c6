"""A reader process looping connect() + queries during writes and a compaction never fails and
never sees a duplicate or a half-applied write."""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import pytest

from flowscope.store import Store
from tests.store.helpers import batch, env, worker_cmd

pytestmark = pytest.mark.slow  # a reader process looping during writes and a compaction


def test_reader_during_writes_and_compaction(tmp_path):
    path = tmp_path / "store"
    s = Store(path, vacuum_retention=dt.timedelta(minutes=15))
    s.write(batch(range(0, 20), "RUNNING"))
    out, stop = tmp_path / "reader.json", tmp_path / "stop"
    reader = subprocess.Popen(worker_cmd("read-loop", path, stop, out), env=env(),
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "reading"
        for k in range(11):  # 22 writes and two compactions
            new = range(100 + k * 10, 100 + k * 10 + 10)
            s.write(batch(new, "RUNNING" if k % 2 else "SUCCEEDED"))   # fresh executions: append
            s.write(batch(range(k % 18, k % 18 + 3), "SUCCEEDED" if k % 3 else "RUNNING"))  # replace
            if k == 5:
                s.compact()
        s.compact()
    finally:
        stop.touch()
        reader.wait(timeout=60)
    result = json.loads(out.read_text())
    assert result["errors"] == []
    assert result["iterations"] >= 5, result
    assert result["max_executions"] > 20, "the reader must have overlapped the writes"
    n, distinct = s.connect().execute(
        "SELECT count(*), count(DISTINCT (cloud, execution_id)) FROM executions").fetchone()
    assert n == distinct == 20 + 110
