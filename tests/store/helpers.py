"""Synthetic model rows for the store tests (and the subprocess worker)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from flowscope.model import Batch, C

T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
REPO = Path(__file__).resolve().parents[2]
WORKER = "tests.store.store_worker"
STEPS_BY_STATUS = {"RUNNING": 2, "SUCCEEDED": 3}


def eid(i: int) -> str:
    return f"arn:aws:states:us-east-1:123456789012:execution:wf:run-{i:06d}"


def execution(i: int, status: str = "SUCCEEDED", cloud: str = "aws", day: int = 0) -> dict:
    start = T0 + dt.timedelta(days=day, minutes=i)
    return {C.cloud: cloud, C.workflow_id: "wf", C.workflow_name: "wf", C.execution_id: eid(i),
            C.status: status, C.started_at: start, C.start_date: start.date(),
            C.ended_at: None if status == "RUNNING" else start + dt.timedelta(seconds=5)}


def steps(i: int, n: int, status: str = "SUCCEEDED", cloud: str = "aws", day: int = 0) -> list[dict]:
    start = T0 + dt.timedelta(days=day, minutes=i)
    return [{C.cloud: cloud, C.workflow_id: "wf", C.execution_id: eid(i), C.step_key: str(k),
             C.name: f"S{k}", C.type: "task", C.status: status, C.attempts: 1,
             C.started_at: start + dt.timedelta(seconds=k), C.start_date: start.date()}
            for k in range(n)]


def attempts(i: int, n: int, cloud: str = "aws", day: int = 0) -> list[dict]:
    start = T0 + dt.timedelta(days=day, minutes=i)
    return [{C.cloud: cloud, C.workflow_id: "wf", C.execution_id: eid(i), C.step_key: str(k),
             C.attempt: 1, C.status: "SUCCEEDED", C.start_date: start.date()} for k in range(n)]


def usage(i: int, n: int, cloud: str = "aws", day: int = 0) -> list[dict]:
    start = T0 + dt.timedelta(days=day, minutes=i)
    return [{C.cloud: cloud, C.workflow_id: "wf", C.execution_id: eid(i), C.step_key: None,
             C.meter: "aws.sfn.state_transition", C.quantity: float(n), C.started_at: start,
             C.start_date: start.date()}]


def batch(ids: range | list[int], status: str = "SUCCEEDED", cloud: str = "aws") -> Batch:
    """Executions with STEPS_BY_STATUS[status] steps (and attempts), one usage row each."""
    b = Batch()
    n = STEPS_BY_STATUS[status]
    for i in ids:
        day = i % 3
        b.executions.append(execution(i, status, cloud, day))
        b.steps.extend(steps(i, n, status, cloud, day))
        b.attempts.extend(attempts(i, n, cloud, day))
        b.usage.extend(usage(i, n, cloud, day))
    return b


def scramble_data_pages(file: Path) -> None:
    """Scramble a Parquet file's data pages and leave its footer whole (a disk error, a partial copy): its
    row count and schema still read, a query over its pages fails with an engine error naming no file."""
    data = bytearray(file.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little") + 8          # metadata, its length and "PAR1"
    for i in range(8, len(data) - footer):
        data[i] ^= 0x5A
    file.write_bytes(bytes(data))


def env() -> dict[str, str]:
    """The environment of a worker: the repo root on PYTHONPATH, so `-m tests.store.store_worker` and its
    helpers import whatever the working directory."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(REPO), e.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return e


def worker_cmd(*args: object) -> list[str]:
    return [sys.executable, "-m", WORKER, *map(str, args)]


def killed_in_third_chunk(prelude: str, method: str, call: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run, in a child process, the upgrade `call` (after `prelude`: its imports and a small CHUNK) with the store's
    `method` (its write) killed after the steps commit of its third call: two chunks done, a third half-written."""
    from flowscope.store.faults import ENV

    script = f"""
import os, sys
{prelude}
from flowscope.store import Store

real = Store.{method}
calls = []

def third_chunk_killed(self, *args, **kwargs):
    calls.append(1)
    if len(calls) == 3:       # two chunks done: the third one's writer dies after its steps commit
        os.environ["FLOWSCOPE_STORE_CRASH_AT"] = "commit:steps"
    return real(self, *args, **kwargs)

Store.{method} = third_chunk_killed
{call}
"""
    env = {k: v for k, v in os.environ.items() if k != ENV}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-c", script, *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=120)
