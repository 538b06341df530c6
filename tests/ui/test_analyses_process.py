"""The dashboard's analyses run in a process of their own, at a lower CPU priority (issue 11): the
same findings as the engine in process, a worker that dies fails only its job, and stopping the
dashboard kills the worker at once instead of waiting for a long analysis."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest

from flowscope.analysis import analyze
from flowscope.model import TABLES
from flowscope.store import NotAStoreError, Store
from flowscope.ui.analyses_process import AnalysesDied, AnalysesProcess, worker_settings
from flowscope.ui.jobs import Preempted
from tests.ui.helpers import build
from tests.ui.test_server_stop import alive


@pytest.fixture(autouse=True)
def computed_every_time(monkeypatch):
    """These tests are of the worker's computing (its priority, preemption, deaths): no window is read
    from findings an earlier job kept (`ui/kept_findings.py`, tested in test_kept_findings.py)."""
    monkeypatch.setenv("FLOWSCOPE_UI_KEEP_FINDINGS", "0")


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
    _assert_lowered(worker.pid)
    # What lets the windows computed ahead of time start without waiting for a quiet moment.
    assert worker.runs_idle() == (sys.platform == "linux" and worker_settings().idle and _idle_allowed())


def _assert_lowered(pid: int) -> None:
    """Every thread of the worker, DuckDB's included, runs `nice` lower and (where allowed) only on CPU
    nothing else wants."""
    lowered = min(19, os.getpriority(os.PRIO_PROCESS, 0) + worker_settings().nice)
    if sys.platform != "linux":
        assert os.getpriority(os.PRIO_PROCESS, pid) == lowered
        return
    threads = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    assert len(threads) > 1, "DuckDB's threads are running"
    assert {os.getpriority(os.PRIO_PROCESS, t) for t in threads} == {lowered}
    if worker_settings().idle and _idle_allowed():
        assert {os.sched_getscheduler(t) for t in threads} == {os.SCHED_IDLE}


def _idle_allowed() -> bool:
    """Whether this machine lets a process take SCHED_IDLE (a container may refuse it; the worker then
    runs niced only)."""
    import subprocess

    code = "import os; os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60).returncode == 0


@pytest.mark.skipif(sys.platform != "linux", reason="SCHED_IDLE is Linux's")
def test_a_worker_at_the_pages_priority_keeps_the_normal_policy(store):
    process = AnalysesProcess(nice=0, threads=1)
    try:
        since, until = _window(store)
        process.findings(store, since, until, {})
        assert process.pid is not None
        assert os.sched_getscheduler(process.pid) == os.SCHED_OTHER
        assert not process.runs_idle(), "work ahead of time waits for a quiet moment beside it"
    finally:
        process.close()
    assert not process.runs_idle(), "no worker, nothing runs idle"


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


def test_a_dashboard_stopped_while_its_worker_computes_leaves_no_traceback(store, monkeypatch):
    """The dashboard stopped (Ctrl-C) while a job runs: the worker's answer meets a closed pipe. It ends with
    nothing on the terminal, where it printed two BrokenPipeError tracebacks."""
    import functools

    from flowscope.ui import analyses_process

    since, until = _window(store)
    # the dashboard's own spawn, its worker's stderr kept for the test
    monkeypatch.setattr(subprocess, "Popen", functools.partial(subprocess.Popen, stderr=subprocess.PIPE, text=True))
    process, conn = analyses_process._spawn((0, 1, "1GB"))
    conn.send(("findings", False, (store, since, until, {})))
    conn.close()                      # gone before the answer: the job runs on and its reply finds no reader
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0 and stderr == "", stderr


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
        # It opened the store (DuckDB's threads started) at the pages' priority while the server
        # started, then lowered every thread it had, not only its own.
        _assert_lowered(process.pid)
    finally:
        worker.close()


def test_the_dashboard_starts_its_worker_before_it_imports_streamlit():
    """`launch.main` starts the worker before importing Streamlit's command line (0.33 s of CPU): the worker's
    own start-up (imports, the store opened) is that much further on when the first visitor arrives (1M
    store, Overview's first findings 4.0-4.1 s to 3.3-3.6 s, docs/dashboard.md, session 53)."""
    probe = ("import sys; from flowscope.ui import analyses_process, launch; "
             "analyses_process.prestart = lambda store: (print('streamlit.web.cli' in sys.modules, "
             "'streamlit' in sys.modules, store), sys.exit(0)); launch.main()")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True,
                         env={**os.environ, "FLOWSCOPE_STORE": "/nowhere/store"})
    assert out.stdout.split() == ["False", "False", "/nowhere/store"], out.stdout + out.stderr


def test_a_worker_imports_the_analyses_themselves_before_its_first_job():
    """What the worker imports at start-up holds the analyses' modules, not only their lazy package: the
    first job used to import them itself, at the worker's idle priority beside the first visitor's page."""
    probe = ("import sys; from flowscope.ui.analyses_process import _import_analyses; _import_analyses(); "
             "print(all(m in sys.modules for m in ('flowscope.analysis.suite', 'flowscope.analysis.retries', "
             "'flowscope.analysis.latency', 'flowscope.store')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "True", out.stderr


def test_a_worker_started_with_the_dashboard_and_never_taken_is_killed_at_exit(store, monkeypatch):
    from flowscope.ui import analyses_process

    monkeypatch.setattr(analyses_process, "_prestarted", {})
    analyses_process.prestart(store)
    [(process, _conn)] = analyses_process._prestarted.values()
    analyses_process._kill_prestarted()
    assert process.wait(10) != 0 and analyses_process._prestarted == {}


# ---------------------------------------------------------------- preemption (a page's window goes first)


@pytest.fixture(scope="module")
def bigger_store(tmp_path_factory):
    """A store whose analyses take most of a second in one thread: long enough to interrupt midway."""
    path = tmp_path_factory.mktemp("preempt") / "s"
    Store(path).write(build(3000, days=6, seed=12))
    return str(path)


@pytest.fixture(scope="module")
def expected(bigger_store):
    since, until = _window(bigger_store)
    backend = Store(bigger_store).ibis()
    return analyze({n: backend.table(n) for n in TABLES}, since=since, until=until)


@pytest.fixture
def one_thread():
    """A worker at the tests' own priority with one DuckDB thread: steadier timings on a busy machine."""
    process = AnalysesProcess(nice=0, threads=1)
    yield process
    process.close()


def _same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert len(expected) > 0, "the store has findings to compare"
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))


def _in_thread(fn, *args, **kwargs) -> tuple[threading.Thread, dict[str, object]]:
    out: dict[str, object] = {}

    def run() -> None:
        try:
            out["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            out["error"] = exc
        out["ended"] = time.monotonic()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


@pytest.mark.slow
def test_a_preemptible_job_is_interrupted_at_once_and_the_worker_answers_the_next_one(bigger_store, expected,
                                                                                       one_thread):
    since, until = _window(bigger_store)
    _same(one_thread.findings(bigger_store, since, until, {}, preemptible=True), expected)    # warm
    began = time.monotonic()
    _same(one_thread.findings(bigger_store, since, until, {}, preemptible=True), expected)
    full = time.monotonic() - began
    pid = one_thread.pid

    thread, out = _in_thread(one_thread.findings, bigger_store, since, until, {}, preemptible=True)
    time.sleep(min(0.2, full / 4))
    asked = time.monotonic()
    one_thread.preempt()
    thread.join(10)
    assert isinstance(out.get("error"), Preempted), out
    took = float(out["ended"]) - asked
    assert took < 0.5, f"interrupted {took:.2f} s after preempt() (a whole job: {full:.2f} s)"

    _same(one_thread.findings(bigger_store, since, until, {}), expected)
    _same(one_thread.findings(bigger_store, since, until, {}, preemptible=True), expected)
    assert one_thread.pid == pid, "the same worker answered: an interruption is not a crash"


def test_a_job_that_is_not_preemptible_runs_to_its_end_however_often_preempt_is_called(bigger_store, expected,
                                                                                       one_thread):
    since, until = _window(bigger_store)
    one_thread.findings(bigger_store, since, until, {})                                        # warm
    thread, out = _in_thread(one_thread.findings, bigger_store, since, until, {})
    signals = 0
    while thread.is_alive():
        one_thread.preempt()
        signals += 1
        time.sleep(0.02)
    assert "error" not in out, out
    assert signals > 5, "the signals arrived while the job ran"
    _same(out["value"], expected)


def test_a_signal_that_arrives_between_jobs_is_ignored_and_not_held_against_the_next(bigger_store, expected,
                                                                                    one_thread):
    """The race `Jobs` leaves to the worker: a prefetch finishes just as preempt() is called, so the
    signal lands while the worker idles (or runs the urgent job next, see the test above)."""
    since, until = _window(bigger_store)
    one_thread.findings(bigger_store, since, until, {}, preemptible=True)
    pid = one_thread.pid
    one_thread.preempt()
    time.sleep(0.2)
    _same(one_thread.findings(bigger_store, since, until, {}, preemptible=True), expected)
    assert one_thread.pid == pid


def test_preempt_while_a_new_worker_starts_neither_kills_it_nor_fails_its_job(bigger_store, expected, one_thread):
    """SIGUSR1 ends a process that has no handler for it yet: the worker is born with it blocked."""
    since, until = _window(bigger_store)
    thread, out = _in_thread(one_thread.findings, bigger_store, since, until, {}, preemptible=True)
    _slow_start(one_thread)
    one_thread.preempt()
    thread.join(30)
    assert "error" not in out, out
    _same(out["value"], expected)


def test_preempt_without_a_worker_does_nothing():
    process = AnalysesProcess()
    process.preempt()
    assert process.pid is None
    process.close()
    process.preempt()


def test_a_window_a_page_shows_interrupts_one_computed_ahead_and_that_one_is_dropped(bigger_store, expected,
                                                                                     one_thread, monkeypatch):
    """End to end through the dashboard's wiring (`data._compute_findings` in a `Jobs` whose preempt is
    the worker's): the prefetch raises Preempted (no failed analysis kept), the page's window is right."""
    from flowscope.ui import data
    from flowscope.ui.jobs import PREFETCH, URGENT, Jobs

    monkeypatch.setattr(data, "_analyses", lambda: one_thread)
    since, until = _window(bigger_store)
    one_thread.findings(bigger_store, since, until, {})                                        # warm
    jobs = Jobs(preempt=one_thread.preempt)
    ahead = jobs.submit("ahead", lambda: data._compute_findings(bigger_store, since - dt.timedelta(days=1), until, {}),
                        priority=PREFETCH)
    time.sleep(0.25)
    assert ahead.running()
    shown = jobs.submit("shown", lambda: data._compute_findings(bigger_store, since, until, {}), priority=URGENT)
    frame, error = shown.result(30)
    assert error is None
    _same(frame, expected)
    assert isinstance(ahead.exception(0), Preempted)
    assert jobs.peek("ahead") is None, "the interrupted window is not kept as a result or a failure"


@pytest.mark.parametrize(("variable", "value"), [("FLOWSCOPE_UI_ANALYSES_NICE", "high"),
                                                  ("FLOWSCOPE_UI_ANALYSES_THREADS", "many")])
def test_a_bad_variable_is_no_error_at_import_and_named_when_a_worker_is_wanted(variable, value):
    """FLOWSCOPE_UI_ANALYSES_NICE=high was a traceback of int() at the module's import: under `streamlit
    run app.py` every page. Now the import does nothing, and asking for a worker names the variable."""
    code = ("import flowscope.ui.analyses_process as a\n"
            "try:\n    a.AnalysesProcess()\nexcept ValueError as exc:\n    print('said:', exc)\n")
    env = dict(os.environ, **{variable: value})
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"said: {variable} must be a whole number" in done.stdout and repr(value) in done.stdout, done.stdout


def test_the_worker_hands_the_snapshots_column_facts_to_the_engine(store, monkeypatch):
    """The dashboard's findings take the engine's shortcuts as `flowscope analyze` does (the Delta log's
    column facts, `Store.tables_and_facts`): the worker passed none, so its queries took the general forms."""
    import flowscope.analysis as analysis
    from flowscope.ui import analyses_process

    seen: dict = {}
    real = analysis.analyze

    def spy(tables, **kwargs):
        seen.update(kwargs)
        return real(tables, **kwargs)

    monkeypatch.setattr(analysis, "analyze", spy)
    monkeypatch.setattr(analyses_process, "_settings", {"threads": 1, "memory": "1GB"})
    monkeypatch.setattr(analyses_process, "_stores", {})
    since, until = _window(store)
    got = analyses_process.findings(store, since, until, {})
    _tables, facts = Store(store).tables_and_facts(TABLES)
    assert facts["usage"].never_null, "the store's log has statistics to hand over"
    assert seen["column_facts"] == facts
    expected = analyze({n: Store(store).ibis().table(n) for n in TABLES}, since=since, until=until,
                       now=seen["now"], collections_as_of=seen["now"])
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))


# ---------------------------------------------------------------- pausing (a page runs: work ahead stops)


def _state_and_cpu(pid: int) -> tuple[str, int]:
    """The process's state letter (T: stopped) and CPU ticks so far, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return fields[0], int(fields[11]) + int(fields[12])


def _stopped(pid: int, timeout: float = 10, every_thread: bool = False) -> bool:
    """Whether the process is stopped (state T) within `timeout` seconds; with `every_thread`, each of its threads
    (the kernel counts a process stopped, for the orphaned-group rule, once its last thread has stopped: its
    main thread reads T before its threads at idle priority have taken the stop)."""
    deadline = time.monotonic() + timeout

    def states() -> set[str]:
        if not every_thread:
            return {_state_and_cpu(pid)[0]}
        found = set()
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(FileNotFoundError):
                with open(f"/proc/{pid}/task/{task}/stat") as stat:
                    found.add(stat.read().rsplit(")", 1)[1].split()[0])
        return found

    while states() != {"T"}:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads process states from /proc (Linux)")
def test_a_paused_worker_stops_where_it_is_and_its_job_ends_after_resume_with_the_same_findings(
        bigger_store, expected, one_thread):
    since, until = _window(bigger_store)
    _same(one_thread.findings(bigger_store, since, until, {}, preemptible=True), expected)    # warm
    pid = one_thread.pid
    assert pid is not None
    thread, out = _in_thread(one_thread.findings, bigger_store, since, until, {}, preemptible=True)
    time.sleep(0.05)
    one_thread.pause()
    assert _stopped(pid)
    cpu = _state_and_cpu(pid)[1]
    time.sleep(0.5)
    assert _state_and_cpu(pid)[1] == cpu and thread.is_alive(), "stopped: no CPU, no answer"
    one_thread.resume()
    thread.join(30)
    _same(out["value"], expected)
    assert one_thread.pid == pid


def test_the_worker_leads_a_process_group_of_its_own(store, worker):
    since, until = _window(store)
    worker.findings(store, since, until, {})
    pid = worker.pid
    assert pid is not None and os.getpgid(pid) == pid != os.getpgrp()


def test_pause_and_resume_without_a_worker_do_nothing():
    process = AnalysesProcess()
    process.pause()
    process.resume()
    assert process.pid is None


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads process states from /proc (Linux)")
def test_a_dashboard_killed_outright_while_its_worker_is_paused_leaves_no_worker_behind(store):
    """SIGKILL runs no exit hook, and a stopped worker cannot see its socket close: the kernel's rule for
    an orphaned process group (SIGHUP, then SIGCONT) ends it, because the worker leads a group of its own.
    The rule counts a process stopped once every thread of it has stopped, so the dashboard is killed then (it
    was killed when the main thread read T, and a worker whose idle-priority threads had not yet stopped lived on,
    stopped and orphaned: 1 run in 3 on a loaded host)."""
    probe = ("import sys, time; import datetime as dt; from flowscope.ui.analyses_process import AnalysesProcess; "
             "p = AnalysesProcess(); until = dt.datetime.now(dt.timezone.utc); "
             "p.findings(sys.argv[1], until - dt.timedelta(days=30), until, {}); p.pause(); "
             "print(p.pid, flush=True); time.sleep(120)")
    dashboard = subprocess.Popen([sys.executable, "-c", probe, store], stdout=subprocess.PIPE, text=True)
    try:
        assert dashboard.stdout is not None
        worker_pid = int(dashboard.stdout.readline())
        assert _stopped(worker_pid, every_thread=True)
        dashboard.kill()
        dashboard.wait(10)
        deadline = time.monotonic() + 10
        while alive(worker_pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not alive(worker_pid), "the paused worker lives on"
    finally:
        dashboard.kill()


SUBREAPER_HARNESS = r"""
import ctypes, os, signal, subprocess, sys, time
PR_SET_CHILD_SUBREAPER = 36
assert ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
dashboard = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], stdout=subprocess.PIPE, text=True)
worker = int(dashboard.stdout.readline())
os.kill(dashboard.pid, signal.SIGKILL)
dashboard.wait()
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    pid, status = os.waitpid(worker, os.WNOHANG)    # reparented to this harness: its child now
    if pid:
        print("killed by", os.WTERMSIG(status) if os.WIFSIGNALED(status) else None, flush=True)
        sys.exit(0)
    time.sleep(0.02)
with open(f"/proc/{worker}/stat") as stat:
    state = stat.read().rsplit(")", 1)[1].split()[0]
os.kill(worker, signal.SIGKILL)
os.waitpid(worker, 0)
print("lives on, state", state, flush=True)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and child subreapers are Linux's")
def test_a_paused_worker_dies_with_its_dashboard_even_where_its_group_is_not_orphaned(store):
    """The kernel's orphaned-group rule is not enough: it ends a stopped worker only once every thread of it has
    stopped (a dashboard killed sooner left one stopped for good: CI of 33efe70), and never where the worker is
    reparented to a subreaper in the dashboard's session (a supervisor such as tini -s or a systemd user manager):
    its group is then not orphaned. The worker asks the kernel to kill it when the dashboard dies
    (PR_SET_PDEATHSIG), and is started from a thread that lives as long as the dashboard does, so a page's thread
    ending never kills it. Here a harness is the subreaper, and the dashboard is killed the moment it has
    paused its worker, its threads perhaps not yet stopped."""
    probe = ("import sys, time; import datetime as dt; from flowscope.ui.analyses_process import AnalysesProcess; "
             "p = AnalysesProcess(); until = dt.datetime.now(dt.timezone.utc); "
             "p.findings(sys.argv[1], until - dt.timedelta(days=30), until, {}); p.pause(); "
             "print(p.pid, flush=True); time.sleep(120)")
    out = subprocess.run([sys.executable, "-c", SUBREAPER_HARNESS, probe, store], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == f"killed by {int(signal.SIGKILL)}", out.stdout + out.stderr


def test_a_worker_outlives_the_page_thread_that_started_it(store):
    """The kernel's parent-death signal follows the thread that started a process, not the process: a worker
    started by a page's script thread (the first job of a server without a prestarted worker) must outlive
    that thread, which ends with the page's run."""
    worker = AnalysesProcess()
    since, until = _window(store)
    try:
        starter = threading.Thread(target=worker.findings, args=(store, since, until, {}))
        starter.start()
        starter.join(120)
        pid = worker.pid
        assert pid is not None
        time.sleep(0.5)
        assert alive(pid) and worker.pid == pid, "the worker died with the thread that started it"
        assert not worker.findings(store, since, until, {}).empty
        assert worker.pid == pid
    finally:
        worker.close()
