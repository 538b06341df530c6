"""The dashboard's analyses run in a process of their own, at a lower CPU priority (issue 11): the
same findings as the engine in process, a worker that dies fails only its job, and stopping the
dashboard kills the worker at once instead of waiting for a long analysis."""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time

import pandas as pd
import pytest

from flowscope.analysis import analyze
from flowscope.model import TABLES
from flowscope.store import NotAStoreError, Store
from flowscope.ui.analyses_process import NICE, AnalysesDied, AnalysesProcess
from tests.ui.helpers import build


@pytest.fixture
def store(tmp_path):
    Store(tmp_path / "s").write(build(90, days=6, seed=11))
    return str(tmp_path / "s")


@pytest.fixture
def worker():
    process = AnalysesProcess()
    yield process
    process.close()


def _window(path: str) -> tuple[dt.datetime, dt.datetime]:
    until = Store(path).sql("SELECT max(started_at) AS m FROM executions").iloc[0, 0].to_pydatetime()
    until = until.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    return until - dt.timedelta(days=7), until


def _slow_start(worker: AnalysesProcess) -> None:
    """Wait until the worker exists (its first job is importing the analyses, which takes a while)."""
    deadline = time.monotonic() + 10
    while worker.pid is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert worker.pid is not None


def test_findings_from_the_worker_equal_the_engine_in_process(store, worker):
    since, until = _window(store)
    backend = Store(store).ibis()
    expected = analyze({n: backend.table(n) for n in TABLES}, since=since, until=until)
    got = worker.findings(store, since, until, {})
    assert len(expected) > 0, "the store has findings to compare"
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))


def test_the_worker_runs_below_the_pages_priority(store, worker):
    since, until = _window(store)
    worker.findings(store, since, until, {})
    assert worker.pid is not None and worker.pid != os.getpid()
    assert os.getpriority(os.PRIO_PROCESS, worker.pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + NICE)


def test_a_worker_killed_mid_job_fails_that_job_and_the_next_job_gets_a_new_worker(store, worker):
    since, until = _window(store)
    killed: list[int] = []

    def kill_soon() -> None:
        _slow_start(worker)
        killed.append(worker.pid or 0)
        os.kill(killed[0], signal.SIGKILL)       # what the kernel's out-of-memory killer does

    threading.Thread(target=kill_soon).start()
    with pytest.raises(AnalysesDied, match="ended while it ran"):
        worker.findings(store, since, until, {})
    assert not worker.findings(store, since, until, {}).empty
    assert worker.pid not in (None, killed[0])


def test_closing_kills_the_worker_and_fails_the_waiting_job_at_once(store, worker):
    since, until = _window(store)
    outcome: list[BaseException] = []

    def job() -> None:
        try:
            worker.findings(store, since, until, {})
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            outcome.append(exc)

    thread = threading.Thread(target=job)
    thread.start()
    _slow_start(worker)
    pid = worker.pid
    began = time.monotonic()
    worker.close()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - began < 2
    assert outcome and isinstance(outcome[0], AnalysesDied)
    with pytest.raises(ProcessLookupError):
        os.kill(pid or 0, 0)
    with pytest.raises(AnalysesDied, match="stopping"):
        worker.findings(store, since, until, {})


def test_an_error_in_the_worker_reaches_the_caller_with_its_message(tmp_path, worker):
    missing = str(tmp_path / "no-store-here")
    with pytest.raises(Exception, match=f"{NotAStoreError.__name__}.*no-store-here"):
        worker.findings(missing, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 8, tzinfo=dt.UTC), {})
    assert worker.pid is not None, "the worker lives on after a failed job"


def test_the_worker_ends_by_itself_when_the_dashboard_is_gone(store, worker):
    """A dashboard killed outright (SIGKILL, no exit hooks) leaves no worker behind: its socket closes."""
    since, until = _window(store)
    worker.findings(store, since, until, {})
    process, conn = worker._worker or (None, None)
    assert process is not None and conn is not None
    conn.close()
    assert process.wait(10) == 0


def test_a_worker_started_with_the_dashboard_is_taken_by_the_first_job(store, monkeypatch):
    """`prestart` (called by `python -m flowscope.ui.launch`) starts a worker that opens the store at
    once; the first AnalysesProcess takes it instead of starting a cold one."""
    from flowscope.ui import analyses_process

    monkeypatch.setattr(analyses_process, "_prestarted", {})
    analyses_process.prestart(store)
    [(process, _conn)] = analyses_process._prestarted.values()
    worker = AnalysesProcess()
    try:
        since, until = _window(store)
        assert not worker.findings(store, since, until, {}).empty
        assert worker.pid == process.pid
        assert analyses_process._prestarted == {}
    finally:
        worker.close()


def test_a_worker_started_with_the_dashboard_and_never_taken_is_killed_at_exit(store, monkeypatch):
    from flowscope.ui import analyses_process

    monkeypatch.setattr(analyses_process, "_prestarted", {})
    analyses_process.prestart(store)
    [(process, _conn)] = analyses_process._prestarted.values()
    analyses_process._kill_prestarted()
    assert process.wait(10) != 0 and analyses_process._prestarted == {}
