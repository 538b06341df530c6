"""Subprocess side of the store tests: hold the lock, write batches, or read in a loop."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
import traceback

from flowscope.store import Store
from tests.store.helpers import STEPS_BY_STATUS, batch


def hold_lock(path: str, seconds: str) -> None:
    s = Store(path)
    with s.writer():
        print("locked", flush=True)
        time.sleep(float(seconds))


def write(path: str, start: str, count: str, status: str = "SUCCEEDED") -> None:
    Store(path).write(batch(range(int(start), int(start) + int(count)), status))
    print("written", flush=True)


def write_file_size_limited(path: str, start: str, count: str, limit: str) -> None:
    """Stage the batch, then write it with files limited to `limit` bytes (RLIMIT_FSIZE: a write past it
    fails with EFBIG, as a full disk fails with ENOSPC); prints the error's type and message."""
    import resource
    import signal

    from flowscope.store import StoreError, staging

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    def limited(name: str) -> None:
        if name == "intent":
            resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), resource.RLIM_INFINITY))

    staging.crash_point = limited
    try:
        Store(path).write(batch(range(int(start), int(start) + int(count))))
        print("written", flush=True)
    except StoreError as exc:
        print(f"StoreError: {exc}", flush=True)


def write_loop(path: str, per_batch: str, batches: str) -> None:
    """Batch k holds executions [k*per_batch, (k+1)*per_batch); prints 'done k' after each."""
    s = Store(path)
    n = int(per_batch)
    for k in range(int(batches)):
        s.write(batch(range(k * n, (k + 1) * n)))
        print(f"done {k}", flush=True)


def read_loop(path: str, stop_file: str, out: str, max_seconds: str = "120") -> None:
    """connect() + consistency checks until `stop_file` appears; a half-applied write or a
    duplicate shows up as a failed check."""
    s = Store(path, vacuum_retention=dt.timedelta(minutes=15))
    deadline = time.monotonic() + float(max_seconds)
    result = {"iterations": 0, "errors": [], "max_executions": 0}
    running, succeeded = STEPS_BY_STATUS["RUNNING"], STEPS_BY_STATUS["SUCCEEDED"]
    print("reading", flush=True)
    while time.monotonic() < deadline and not os.path.exists(stop_file):
        try:
            con = s.connect()
            n, distinct = con.execute(
                "SELECT count(*), count(DISTINCT (cloud, execution_id)) FROM executions").fetchone()
            if n != distinct:
                result["errors"].append(f"duplicates: {n} rows, {distinct} distinct")
            bad = con.execute(f"""
                SELECT count(*) FROM executions e LEFT JOIN
                  (SELECT cloud, execution_id, count(*) n FROM steps GROUP BY ALL) s USING (cloud, execution_id)
                WHERE coalesce(s.n, 0) <> CASE e.status WHEN 'RUNNING' THEN {running} ELSE {succeeded} END
            """).fetchone()[0]
            orphans = con.execute(
                "SELECT count(*) FROM steps ANTI JOIN executions USING (cloud, execution_id)").fetchone()[0]
            if bad or orphans:
                result["errors"].append(
                    f"half-applied write: {bad} executions with wrong steps, {orphans} orphan steps")
            result["max_executions"] = max(result["max_executions"], n)
            result["iterations"] += 1
            con.close()
        except Exception:  # noqa: BLE001 - every failure is what the test counts
            result["errors"].append(traceback.format_exc(limit=3))
    with open(out, "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    globals()[sys.argv[1].replace("-", "_")](*sys.argv[2:])
