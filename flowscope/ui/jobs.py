"""A one-worker job queue, most urgent first, each key computed once: the dashboard's analyses.

The analyses of a window take seconds on a large store. The dashboard computes them once per
(store version, window) in one background thread shared by every session, so a page never waits
for them and two sessions never compute the same window twice. A window a page shows now is
URGENT and runs before the windows computed ahead of time (PREFETCH: the other spans of the
sidebar, so switching windows finds them ready). Pending work of an older store version is
cancelled when a newer version is asked for: it would describe data nobody looks at any more.
Work ahead of time waits until `quiet()` says so (the dashboard: at once beside a worker at idle
CPU priority, else after a while without a page query), so it never slows the pages down on a small
machine, and gives way at once when a page asks for a window that is not the
one being computed: `preempt()` makes the running job end with `Preempted`, and that job is dropped
(a later submit queues it afresh). Measured on a 1M-execution store, a window change otherwise
waited for a prefetch of 2 to 2.8 s: findings after it took 5.7 to 6.3 s.

While a page runs (`holding()`), the jobs it holds neither start nor run: the one that runs is paused
(`Jobs(pause=..., resume=...)`: the dashboard stops its worker process) until no hold covers it, a page's
first run asks for it, or it is preempted. A session's first run holds work ahead of time only; a later
run (a sidebar change) holds everything until its script ends. The worker, at idle CPU priority, still
took 0.4 to 0.7 s of CPU in the 0.8 to 0.9 s of the Workflows page's change to 30 days on a 1M-execution
store (the other core, memory bandwidth, the browser drawing); held, 0.3 to 0.5 s, and the charts came
0.05 to 0.14 s sooner in the median (docs/dashboard.md, session 54).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

URGENT = 0
LIKELY = 1
"""A window nobody has asked for yet but the first visitor most likely will (the default one, queued at
the server's start): preemptible like PREFETCH, but it starts at once, as no page is running to wait
for a quiet moment from."""
PREFETCH = 2
QUIET_POLL_S = 0.1

_current = threading.local()


def current_priority() -> int | None:
    """The priority the job calling this started with (None outside a job). A job that started less
    urgent than URGENT may be preempted; one moved up to URGENT before it started may not, whatever
    priority it was first submitted with."""
    return getattr(_current, "priority", None)


class Preempted(Exception):
    """A job ended early because more urgent work was asked for (`Jobs(preempt=...)`): not a result,
    not a failure; the job is forgotten, so the next submit of its key runs it again."""


class Jobs:
    """Keyed jobs run by one daemon thread (started on first use), lowest priority number first;
    a job less urgent than URGENT starts only when `quiet()` says nothing else needs the machine.

    `submit` returns the key's Future: the one already known (running, done or queued: a queued
    one is moved up when asked for more urgently; its first `fn` is the one that runs) or a new
    one. Results of the newest `keep` keys are kept; older finished ones are forgotten.

    `preempt` (optional) makes the running job's `fn` raise `Preempted` soon: it is called once when
    an URGENT key that needs computing is submitted while a less urgent job of another key runs. A
    job asked for URGENTLY while it runs becomes urgent itself and is not preempted.

    `pause` and `resume` (optional, both or neither) stop and restart the running job's work where it
    is: while a page's run is `holding()` the queue, the jobs it holds neither run nor start. They are
    called under the queue's lock, so they must return at once (a signal).
    """

    def __init__(self, keep: int = 24, name: str = "flowscope-jobs",
                 quiet: Callable[[], bool] = lambda: True,
                 preempt: Callable[[], None] | None = None,
                 pause: Callable[[], None] | None = None,
                 resume: Callable[[], None] | None = None) -> None:
        if (pause is None) != (resume is None):
            raise ValueError("pause and resume go together: a job paused with no way to resume it never ends")
        self._keep = keep
        self._quiet = quiet
        self._name = name
        self._lock = threading.Condition()
        self._futures: OrderedDict[Hashable, Future[Any]] = OrderedDict()
        self._groups: dict[Hashable, Hashable] = {}
        self._queue: list[tuple[int, int, Hashable]] = []
        self._work_of: dict[Hashable, Callable[[], Any]] = {}
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._preempt = preempt
        self._pause, self._resume = pause, resume
        self._holds: list[int] = []
        """The priorities from which the page runs that hold the queue now hold jobs (`holding`)."""
        self._paused = False
        """`pause()` was called for the running job and `resume()` not yet."""
        self._running: _Running | None = None

    def submit(self, key: Hashable, fn: Callable[[], Any], *, priority: int = URGENT,
               group: Hashable = None) -> Future[Any]:
        """The Future of `key`, queueing `fn` for it unless it is already done or running. Pending
        jobs of another `group` (an older store version) are cancelled. An URGENT submit preempts a
        less urgent job of another key that runs (see the class)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the job queue is closed")
            self._cancel_other_groups(group)
            future = self._futures.get(key)
            running = self._running
            if running is not None and running.key == key and running.preempted:
                future = None                # being interrupted: its work is lost, queue it afresh
            if future is None or future.cancelled():
                future = Future()
                self._futures[key] = future
                self._groups[key] = group
                self._work_of[key] = fn
                self._forget_old()
            else:
                self._futures.move_to_end(key)
            if not future.done() and not future.running():
                heapq.heappush(self._queue, (priority, next(self._order), key))
                self._lock.notify()
            preempt = self._preemption(key, future, priority)
            self._start()
        if preempt is not None:
            preempt()
        return future

    def _preemption(self, key: Hashable, future: Future[Any], priority: int) -> Callable[[], None] | None:
        """What to call (outside the lock) to interrupt the running job for `key`, if anything. Under the
        lock: an urgent submit of the running key itself makes that job urgent (never preempted)."""
        running = self._running
        if running is None or priority > URGENT or running.priority <= URGENT or running.preempted:
            return None
        if running.key == key and running.future is future:
            running.priority = priority          # a page waits for it now: let it finish
            if not self._held(priority):
                self._unpause()
            return None
        if future.done() or self._preempt is None:
            return None                          # nothing to compute for this key, or no way to interrupt
        running.preempted = True
        self._unpause()                          # a paused job cannot end early
        return self._preempt

    @contextlib.contextmanager
    def holding(self, from_priority: int = PREFETCH) -> Iterator[None]:
        """While a page runs: no job of `from_priority` or less urgent starts, and the one that runs is
        paused, until no hold covers it any more (see the class). Holds of several pages nest; the most
        demanding one counts. A session's first page holds work ahead of time (PREFETCH) only: its own
        window's analyses run beside it, or its findings would wait for its whole first draw. A later
        run (after a sidebar change) holds everything (URGENT): its charts first, then its findings."""
        with self._lock:
            self._holds.append(from_priority)
            running = self._running
            if (self._pause is not None and running is not None and not running.preempted and not self._paused
                    and self._held(running.priority)):
                self._paused = True
                self._pause()
        try:
            yield
        finally:
            with self._lock:
                self._holds.remove(from_priority)
                running = self._running
                if running is None or not self._held(running.priority):
                    self._unpause()
                self._lock.notify()              # held work may start now

    def _held(self, priority: int) -> bool:
        """Under the lock: whether a job of `priority` is held now."""
        return bool(self._holds) and priority >= min(self._holds)

    def _unpause(self) -> None:
        """Under the lock: resume the running job if it was paused."""
        if self._paused and self._resume is not None:
            self._paused = False
            self._resume()

    def close(self, timeout: float = 10.0, interrupt: Callable[[], None] | None = None) -> None:
        """Stop taking work, cancel what is queued, and wait (up to `timeout`) for the job that runs,
        after `interrupt()` (which should make it end early). For interpreter exit: a daemon thread
        still inside a C++ library (DuckDB) when Python finalizes aborts the whole process."""
        with self._lock:
            self._closed = True
            self._unpause()
            for future in self._futures.values():
                if not future.running():
                    future.cancel()
            self._queue.clear()
            self._lock.notify_all()
            thread = self._thread
        if thread is None or not thread.is_alive():
            return
        if interrupt is not None:
            interrupt()
        thread.join(timeout)

    def peek(self, key: Hashable) -> Future[Any] | None:
        with self._lock:
            return self._futures.get(key)

    def _cancel_other_groups(self, group: Hashable) -> None:
        for key, future in list(self._futures.items()):
            if self._groups.get(key) != group and not future.running() and not future.done():
                future.cancel()
                self._forget(key)

    def _forget_old(self) -> None:
        for key in list(self._futures):
            if len(self._futures) <= self._keep:
                return
            if self._futures[key].done():
                self._forget(key)

    def _forget(self, key: Hashable) -> None:
        del self._futures[key]
        self._groups.pop(key, None)
        self._work_of.pop(key, None)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
            self._thread.start()

    def _next(self) -> _Running | None:
        with self._lock:
            while True:
                while not self._queue and not self._closed:
                    self._lock.wait()
                if self._closed:
                    return None
                head = self._queue[0][0]
                if self._held(head) or (head >= PREFETCH and not self._quiet()):
                    self._lock.wait(QUIET_POLL_S)    # held by a page's run, or work ahead of time waiting for quiet
                    continue
                priority, _order, key = heapq.heappop(self._queue)
                future = self._futures.get(key)
                # Stale entries: a job asked for twice, done, cancelled or forgotten meanwhile.
                if (future is not None and not future.done() and not future.running()
                        and future.set_running_or_notify_cancel()):
                    self._running = _Running(key, future, self._work_of.pop(key), priority)
                    return self._running

    def _work(self) -> None:
        while True:
            job = self._next()
            if job is None:
                return
            _current.priority = job.priority
            try:
                value = job.fn()
            except BaseException as exc:  # noqa: BLE001 - the waiting page shows it (unless preempted)
                # A preempted job (or one that failed while being interrupted) is no result: forgotten.
                self._finish(job, forget=isinstance(exc, Preempted) or job.preempted)
                job.future.set_exception(exc)
                continue
            finally:
                _current.priority = None
            again = self._finish(job, forget=False)
            job.future.set_result(value)
            if again is not None:
                again.set_result(value)

    def _finish(self, job: _Running, forget: bool) -> Future[Any] | None:
        """Bookkeeping after `job`. A key to `forget` is dropped unless it was asked for again while it
        was being interrupted (that new Future stays queued). After a result (not `forget`), such a
        new Future is returned to take that result too: the interruption came too late to matter."""
        with self._lock:
            self._running = None
            self._unpause()         # paused after it had already answered: its worker must take the next job
            current = self._futures.get(job.key)
            if current is job.future:
                if forget:
                    self._forget(job.key)
                return None
            if (not forget and current is not None and not current.done() and not current.running()
                    and current.set_running_or_notify_cancel()):
                self._work_of.pop(job.key, None)  # its queue entry is now stale
                return current
            return None


@dataclass(slots=True)
class _Running:
    """The job the worker runs: its key, Future, work and priority (raised by an urgent submit of its
    key), and whether it was asked to end early."""

    key: Hashable
    future: Future[Any]
    fn: Callable[[], Any]
    priority: int
    preempted: bool = False
