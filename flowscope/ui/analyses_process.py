"""The dashboard's analyses in a process of their own, at a lower CPU priority than the pages.

A window's analyses take seconds of CPU on a large store, much of it in Python (building Ibis
expressions, pandas). Run in a thread of the dashboard's process they held the GIL against the
page queries and shared the cores with them as equals: measured on a 1,000,000-execution store,
the charts after a sidebar change took 1.5 to 1.9 s while analyses ran ahead in the background,
and 0.9 to 1.2 s without them. In their own process, niced, they use the cores only when the
pages leave them idle, and a page's run never waits for the GIL.

The worker is a new interpreter (`python -m flowscope.ui.analyses_process FD`), not a
multiprocessing child: the server runs threads (no fork), and multiprocessing's spawn would re-run
the process's `__main__`, which in a Streamlit server is the dashboard script itself. Requests and
replies are pickled over a socket pair (`multiprocessing.connection.Connection`). It starts with
the server (`prestart`, from `ui/launch.py`) or on first use, keeps one `Store` per path (the
snapshot connection is reused while the store's version holds), is killed, not waited for, when
the dashboard stops, and ends by itself when the dashboard dies (its socket closes). This module
imports neither Streamlit nor the analyses at import time.

A job sent as `preemptible` (the windows computed ahead of time) ends early on `preempt()`: SIGUSR1
to the worker, whose handler raises in the job's Python code and makes DuckDB stop the query it runs
("Query interrupted", within milliseconds; the connection works afterwards). The caller then gets
`jobs.Preempted`, never a failed analysis. The signal is honoured only while a preemptible job runs.

`pause()` stops the worker where it is (SIGSTOP) and `resume()` lets it go on (SIGCONT): `jobs.Jobs`
pauses the analyses a page's run holds (on a first run those computed ahead of time, after a change
all). A stopped worker cannot see its socket close, so on Linux it asks the kernel to kill it when the
dashboard dies (PR_SET_PDEATHSIG, `_die_with_dashboard`): a dashboard killed outright never leaves a
stopped worker behind. The kernel sends that signal when the *thread* that started the worker ends, so
every worker is started from one thread that lives as long as the dashboard (`_spawner`), never from a
page's script thread. The worker also leads a process group of its own: Ctrl-C in a terminal reaches the
dashboard alone, whose exit kills the worker (and where the kernel's orphaned-group rule applies, it
sends such a group SIGHUP and SIGCONT too; it did not suffice alone: it waits for every thread of the
worker to have stopped, and a subreaper in the dashboard's session keeps the group from being orphaned).
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, NamedTuple

from flowscope.ui import kept_findings
from flowscope.ui.jobs import Preempted

NICE_VARIABLE, IDLE_VARIABLE = "FLOWSCOPE_UI_ANALYSES_NICE", "FLOWSCOPE_UI_ANALYSES_IDLE"
THREADS_VARIABLE, MEMORY_VARIABLE = "FLOWSCOPE_UI_ANALYSES_THREADS", "FLOWSCOPE_UI_ANALYSES_MEMORY"
DASHBOARD_VARIABLE = "FLOWSCOPE_UI_ANALYSES_DASHBOARD"
"""Set by the dashboard for its worker: the dashboard's process id, which the worker checks is still its parent
once it has asked to die with it (`_die_with_dashboard`)."""


class WorkerSettings(NamedTuple):
    """The worker's settings, from the environment (docs/dashboard.md)."""

    nice: int
    """How much lower the analyses' CPU priority is than the pages' (os.nice increment; 0: the same;
    default 10)."""
    idle: bool
    """On Linux, a lowered worker also runs under the SCHED_IDLE policy: CPU only when nothing else
    wants it (default; "0" leaves it out). With nice 10 alone it still took about a tenth of the cores
    from a page's rerun and the browser drawing it (1M-execution store, Overview, 7 rounds alternated:
    charts after a cloud and a window change 0.97 and 1.00 s median with nice 10 alone, 0.85 and 0.87 s
    with SCHED_IDLE; findings 0.1 s later; a full 3-repeat bench afterwards read 0.88 and 1.03 s: the
    window change's own 30-day queries dominate it). On a machine kept busy by other work the findings
    wait, under the pages' "analyses are still running"."""
    threads: int
    """DuckDB threads of the analyses (default: every core; the lower priority keeps the pages first)."""
    memory: str
    """DuckDB's memory limit in the analyses process (it spills to disk past it; default 1GB)."""


def worker_settings(env: Mapping[str, str] | None = None) -> WorkerSettings:
    """The settings `env` (default: this process's environment) asks for, read when a worker is wanted,
    not when this module is imported: FLOWSCOPE_UI_ANALYSES_NICE=high was a traceback of int() at the
    import, under `streamlit run app.py` on every page. A bad value is a ValueError naming the variable,
    the range and the value (`ui.server.check_environment`, the one check of the dashboard's variables)."""
    from flowscope.ui.server import check_environment

    values = dict(os.environ if env is None else env)
    check_environment(values)
    return WorkerSettings(nice=int(values.get(NICE_VARIABLE, "10")),
                          idle=values.get(IDLE_VARIABLE, "1") != "0",
                          threads=int(values.get(THREADS_VARIABLE, "0")) or (os.cpu_count() or 1),
                          memory=values.get(MEMORY_VARIABLE, "1GB"))


POLL_S = 0.25
"""How often a waiting caller checks that the worker is still alive."""


PREEMPT_SIGNAL = signal.SIGUSR1
"""Sent to the worker by `preempt()`; ends a preemptible job early, ignored otherwise."""

Worker = tuple[subprocess.Popen[bytes], Connection]
"""A worker process and our end of its socket."""


class AnalysesDied(RuntimeError):
    """The analyses process ended while it ran a job (killed for memory, or the dashboard is stopping)."""


class AnalysesProcess:
    """One worker process that runs `findings` jobs one at a time for the dashboard.

    Not a `concurrent.futures.ProcessPoolExecutor`: at interpreter exit it waits for the job that runs
    (tens of seconds on a large store) and has no public way to kill its worker before Python 3.14.
    Here the caller's thread waits on a pipe; `close` kills the worker, and a worker that dies (out of
    memory) fails its job with `AnalysesDied` and is replaced on the next one.
    """

    def __init__(self, nice: int | None = None, threads: int | None = None, memory: str | None = None) -> None:
        """Each setting left out is the environment's (`worker_settings`: a ValueError names a bad one)."""
        wanted = worker_settings()
        self._settings = (wanted.nice if nice is None else nice, wanted.threads if threads is None else threads,
                          wanted.memory if memory is None else memory)
        self._lock = threading.Lock()       # one job at a time on the pipe
        self._worker: Worker | None = None
        self._closed = False

    def findings(self, path: str, since: dt.datetime, until: dt.datetime,
                 thresholds: Mapping[str, Any], preemptible: bool = False) -> Any:
        """Every analysis over the window, all clouds and workflows (`analysis.analyze`), run in the
        worker; blocks the calling thread (which holds no GIL meanwhile) until it is done. A
        `preemptible` job raises `jobs.Preempted` when `preempt()` interrupts it."""
        return self._call("findings", preemptible, path, since, until, dict(thresholds))

    def preempt(self) -> None:
        """Interrupt the running job if it is preemptible (SIGUSR1 to the worker; none: nothing to do).
        Never blocks: the caller that waits for the job gets `Preempted` soon after."""
        self._signal(PREEMPT_SIGNAL)

    def pause(self) -> None:
        """Stop the worker where it is (SIGSTOP), until `resume()`; nothing to do without a worker. For the
        job queue (`Jobs(pause=...)`): it is called under the queue's lock, so it only sends a signal."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a worker stopped by `pause()` go on (SIGCONT; harmless to one that runs)."""
        self._signal(signal.SIGCONT)

    def _signal(self, signum: int) -> None:
        pid = self.pid
        if pid is None:
            return
        try:
            os.kill(pid, signum)
        except ProcessLookupError:    # it ended just now
            pass

    def runs_idle(self) -> bool:
        """Whether the worker lives and runs under SCHED_IDLE (`WorkerSettings.idle`; a container may refuse): it then
        takes only CPU that nothing else wants, so work ahead of time need not wait for a quiet moment."""
        pid = self.pid
        if pid is None or not hasattr(os, "sched_getscheduler") or not hasattr(os, "SCHED_IDLE"):
            return False
        try:
            return os.sched_getscheduler(pid) == os.SCHED_IDLE
        except OSError:               # it ended just now
            return False

    @property
    def pid(self) -> int | None:
        """The worker's process id while it lives (None before the first job and after `close`)."""
        worker = self._worker
        return worker[0].pid if worker is not None and worker[0].poll() is None else None

    def _call(self, name: str, preemptible: bool, *args: Any) -> Any:
        with self._lock:
            process, conn = self._ensure()
            try:
                conn.send((name, preemptible, args))
                while not conn.poll(POLL_S):
                    if self._closed or process.poll() is not None:
                        raise EOFError
                ok, value = conn.recv()
            except (EOFError, OSError) as exc:
                self._worker = None
                process.kill()
                process.wait()
                raise AnalysesDied("the analyses process ended while it ran (out of memory, or the dashboard "
                                   "is stopping)") from exc
        if not ok:
            raise value
        return value

    def _ensure(self) -> Worker:
        if self._closed:
            raise AnalysesDied("the dashboard is stopping")
        if self._worker is None or self._worker[0].poll() is not None:
            self._worker = _take_prestarted(self._settings) or _spawn(self._settings)
        return self._worker

    def close(self) -> None:
        """Stop at once: kill the worker (a running analysis only reads the store); a waiting job fails."""
        self._closed = True
        worker = self._worker
        if worker is not None and worker[0].poll() is None:
            worker[0].kill()
            worker[0].wait(5)


def _spawn(settings: tuple[int, int, str], store: str | None = None) -> Worker:
    """A new worker process (`store`: a store it opens while it waits for its first job), leading a
    process group of its own (why: the module's docstring, on `pause()`), started by `_spawner`.

    It is born with PREEMPT_SIGNAL blocked (a child inherits the spawning thread's signal mask through
    exec) and unblocks it once its handler is installed: SIGUSR1's default action ends a process, and
    a `preempt()` while a fresh worker starts up must not kill it (its job would fail as dead)."""
    ours, theirs = socket.socketpair()
    with theirs:
        process = _spawner.submit(_start_worker, theirs.fileno(), settings, store).result()
    return process, Connection(ours.detach())


def _start_worker(fd: int, settings: tuple[int, int, str], store: str | None) -> subprocess.Popen[bytes]:
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {PREEMPT_SIGNAL})
    try:
        return subprocess.Popen([sys.executable, "-m", __name__, str(fd), *map(str, settings),
                                 *([store] if store else [])],
                                pass_fds=(fd,), stdin=subprocess.DEVNULL, process_group=0,
                                env={**os.environ, DASHBOARD_VARIABLE: str(os.getpid())})
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


_spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowscope-analyses-spawner")
"""The one thread that starts every worker, alive as long as this process (an executor's thread waits for work
until shutdown). A worker asks the kernel to kill it when its parent dies (`_die_with_dashboard`), and the kernel
means the thread that started it: one started by a page's script thread would die when that run ended."""


_prestarted: dict[tuple[int, int, str], Worker] = {}
_prestart_lock = threading.Lock()


def prestart(store: str | None) -> None:
    """Start a worker now, at the dashboard's start, for the first `AnalysesProcess` to take: it imports
    the analyses and opens `store` while the server starts and the first page runs its own queries, so
    the first findings do not wait for a cold process (about 1.5 s on a 1M-execution store). One not
    taken is killed at exit (and ends by itself when the dashboard dies: its socket closes)."""
    import atexit

    try:
        wanted = worker_settings()
    except ValueError:      # the dashboard's page names the bad variable (app_main); nothing to start meanwhile
        return
    settings = (wanted.nice, wanted.threads, wanted.memory)
    with _prestart_lock:
        if settings in _prestarted:
            return
        _prestarted[settings] = _spawn(settings, store)
    atexit.register(_kill_prestarted)


def _take_prestarted(settings: tuple[int, int, str]) -> Worker | None:
    with _prestart_lock:
        worker = _prestarted.pop(settings, None)
    return worker if worker is not None and worker[0].poll() is None else None


def _kill_prestarted() -> None:
    with _prestart_lock:
        workers = list(_prestarted.values())
        _prestarted.clear()
    for process, _conn in workers:
        if process.poll() is None:
            process.kill()


# ------------------------------------------------------------------ in the worker process

_settings: dict[str, Any] = {}
_stores: dict[str, Any] = {}
_preemptible = False
"""True while a preemptible job runs: only then does PREEMPT_SIGNAL interrupt it."""
_preempted = False
"""PREEMPT_SIGNAL interrupted the current job (reset when a job starts)."""


class _Interrupt(BaseException):
    """Raised by the signal handler into the job's code. A BaseException, like KeyboardInterrupt, so the
    analyses' own `except Exception` does not take it for a failure of theirs and carry on."""


def _on_preempt(signum: int, frame: Any) -> None:
    """PREEMPT_SIGNAL's handler (main thread, between bytecodes, or inside a DuckDB query, which then
    stops with "Query interrupted"). It raises at most once per job: it clears the flag itself, so a
    signal that lands while the job's end is being handled cannot raise a second time there.

    Why a late signal never interrupts the wrong job: `Jobs` calls `preempt()` when an URGENT job is
    queued while a PREFETCH one runs. If the prefetch finished meanwhile, the signal lands either while
    the worker idles (flag clear: ignored), or while the next job runs; that next job is the urgent one
    (queued before `preempt()` was called, and urgent work runs first), which is never preemptible, so
    the flag is clear and the signal ignored. The flag is cleared before the reply is sent, so the
    caller cannot send the next job while it is still set, and `_preempted` is reset when a job starts,
    so a signal ignored earlier is not held against the next one."""
    global _preemptible, _preempted
    if _preemptible:
        _preemptible = False
        _preempted = True
        raise _Interrupt


def _answer(job: Callable[..., Any], preemptible: bool, args: tuple[Any, ...]) -> tuple[bool, Any]:
    """(True, result) or (False, exception to raise in the caller); `Preempted` if the job was
    interrupted, whatever it ended with (DuckDB's RuntimeError, a raise in numpy, or even a result)."""
    global _preemptible, _preempted
    _preempted = False
    reply: tuple[bool, Any] = (False, RuntimeError("interrupted"))
    try:
        _preemptible = preemptible
        try:
            reply = (True, job(*args))
        finally:
            _preemptible = False       # before the reply goes out (see _on_preempt)
    except _Interrupt:
        pass
    except Exception as exc:  # noqa: BLE001 - sent back to the caller, which reports it
        reply = (False, _portable(exc))
    if _preempted:
        return False, Preempted("the analyses of a window computed ahead of time gave way to one a page shows")
    return reply


def lower_priority(nice: int) -> None:
    """This process's CPU priority: `nice` lower, and under SCHED_IDLE where the platform has it
    (`WorkerSettings.idle`), for every thread it has (DuckDB's, started when the store was opened) and, since threads
    inherit both when created, every thread it starts later."""
    if not nice:
        return
    idle = worker_settings().idle
    for tid in _threads():
        try:
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
            if idle and hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
                os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        except OSError:           # a thread that ended meanwhile, or refused (a restricted container)
            pass


def _threads() -> list[int]:
    """This process's thread ids where the platform lists them (Linux: a thread's priority is its own);
    else [0], this process (elsewhere the priority is the process's)."""
    try:
        return [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


def _serve(conn: Connection, nice: int, threads: int, memory: str, store: str | None = None) -> None:
    """The worker's loop: start up (a worker prestarted with the server opens its store first), lower
    its priority, then answer (name, preemptible, args) requests until the pipe closes. A job's
    exception is sent back to be raised in the caller (the pages show it)."""
    if not _die_with_dashboard():
        return
    signal.signal(PREEMPT_SIGNAL, _on_preempt)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {PREEMPT_SIGNAL})   # blocked since birth (see _spawn)
    _settings.update(threads=threads, memory=memory)
    if store:
        # Prestarted with the server: its start-up (imports, opening the store: ~0.8 s of CPU on a 1M
        # store) runs at the pages' priority, on the core the server's own start leaves free, so it is
        # done when the first visitor arrives instead of starving under SCHED_IDLE beside their page.
        _import_analyses()
        _warm(store)
        lower_priority(nice)
    else:
        lower_priority(nice)
        _import_analyses()
    # What start-up made (modules, the analyses' definitions, the store's views) lives as long as the worker:
    # out of the collector's sight, a job's full collections no longer walk it (30k demo, 5 jobs in one process:
    # 2.10 s to 1.98 s a job; docs/analysis-performance.md, session 50)
    gc.freeze()
    jobs = {"findings": findings}
    while True:
        try:
            name, preemptible, args = conn.recv()
        except (EOFError, OSError):
            return
        job = jobs.get(name)
        reply = _answer(job, preemptible, args) if job else (False, RuntimeError(f"no such job: {name!r}"))
        if not _reply(conn, reply):
            return


PR_SET_PDEATHSIG = 1
"""prctl(2)'s option: the signal this process gets when its parent (the thread that started it) ends."""


def _die_with_dashboard() -> bool:
    """Ask the kernel for SIGKILL when the dashboard dies (Linux; elsewhere nothing to do), then check the
    dashboard is still the parent; False if it died before the request (it would never come): end at once.
    SIGKILL, because a worker the dashboard paused is stopped and handles nothing else."""
    expected = os.environ.get(DASHBOARD_VARIABLE, "")
    if not sys.platform.startswith("linux") or not expected.isdigit():
        return True
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):      # no prctl in this libc: the socket's close still ends an idle worker
        return True
    return os.getppid() == int(expected)


def _reply(conn: Connection, reply: tuple[bool, Any]) -> bool:
    """Send a job's answer; False when the dashboard is gone (stopped while the job ran: its end of the pipe
    closed), which ends the worker quietly, where it printed two tracebacks of a broken pipe on the
    terminal the dashboard was stopped from. A result that does not pickle is answered as its error."""
    try:
        conn.send(reply)
    except OSError:
        return False
    except Exception as exc:  # noqa: BLE001 - a result that does not pickle
        try:
            conn.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
        except OSError:
            return False
    return True


def _portable(exc: Exception) -> Exception:
    """`exc` if it survives the pipe (pickled and unpickled), else a RuntimeError saying the same: an
    exception whose constructor takes other arguments than its message does not unpickle."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any failure to round-trip
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _import_analyses() -> None:
    """Import the analyses before any job runs: a preempting signal raised inside an import would leave
    libraries half-imported (a failure here is the first job's to report). The analyses themselves
    (`analysis.suite` and every module it runs), not their package: `flowscope.analysis` loads its names
    on first use, so importing it loaded nothing, and the first job imported them (0.55 s of CPU) under
    the worker's idle priority beside the first visitor's page: it started 1-1.5 s after it was asked."""
    try:
        import flowscope.analysis.suite  # noqa: F401
        import flowscope.store  # noqa: F401
    except Exception:  # noqa: BLE001 - the job that imports them reports why
        pass


def _warm(path: str) -> None:
    """Open the store's current snapshot (a failure is the first job's to report)."""
    try:
        from flowscope.store import Store

        _stores[path] = Store.open(path)
        _stores[path].ibis()
    except Exception:  # noqa: BLE001 - the job that needs the store reports why it cannot be read
        _stores.pop(path, None)


def findings(path: str, since: dt.datetime, until: dt.datetime, thresholds: dict[str, Any]) -> Any:
    """In the worker: `analysis.analyze` of the store's current snapshot over the window."""
    from flowscope.analysis import analyze
    from flowscope.model import TABLES
    from flowscope.store import Store

    store = _stores.get(path)
    if store is None:
        store = _stores[path] = Store.open(path)
    snapshot = store.snapshot_key()
    where, key = kept_findings.folder(), kept_findings.kept_key(path, snapshot, since, until, thresholds)
    kept = kept_findings.load(where, key)
    if kept is not None:
        return kept
    # the tables of one snapshot with what its Delta log says of their columns and files (the engine's
    # shortcuts, as `flowscope analyze` takes them), and the settings on that snapshot's own connection
    held = store.pinned(TABLES)
    backend = held.backend
    backend.raw_sql(f"SET threads = {int(_settings['threads'])}")
    backend.raw_sql(f"SET memory_limit = '{_settings['memory']}'")
    now = dt.datetime.now(dt.timezone.utc)
    # the dashboard shows each scope's last collection as of now, whatever the window: a window ended
    # where the data ends (the default) ends there because the syncs after it failed
    found = analyze(held.tables, since=since, until=until, now=now, thresholds=thresholds or None,
                    collections_as_of=now, column_facts=held.facts, window_tables=held.window)
    # kept only when the backend read the snapshot the key names (no write landed in between)
    if kept_findings.keepable(until, now) and store.snapshot_key() == snapshot:
        kept_findings.keep(where, key, found)
    return found


if __name__ == "__main__":     # the worker: FD NICE THREADS MEMORY [STORE] (see _spawn)
    _serve(Connection(int(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4],
           sys.argv[5] if len(sys.argv) > 5 else None)
