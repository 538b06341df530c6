"""A one-worker job queue, most urgent first, each key computed once: the dashboard's analyses.

The analyses of a window take seconds on a large store. The dashboard computes them once per
(store version, window) in one background thread shared by every session, so a page never waits
for them and two sessions never compute the same window twice. A window a page shows now is
URGENT and runs before the windows computed ahead of time (PREFETCH: the other spans of the
sidebar, so switching windows finds them ready). Pending work of an older store version is
cancelled when a newer version is asked for: it would describe data nobody looks at any more.
Work ahead of time waits for a quiet moment (no page query for a while), so it never slows the
pages down on a small machine.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any

URGENT = 0
PREFETCH = 1
QUIET_POLL_S = 0.1


class Jobs:
    """Keyed jobs run by one daemon thread (started on first use), lowest priority number first;
    a job less urgent than URGENT starts only when `quiet()` says nothing else needs the machine.

    `submit` returns the key's Future: the one already known (running, done or queued: a queued
    one is moved up when asked for more urgently; its first `fn` is the one that runs) or a new
    one. Results of the newest `keep` keys are kept; older finished ones are forgotten.
    """

    def __init__(self, keep: int = 24, name: str = "flowscope-jobs",
                 quiet: Callable[[], bool] = lambda: True) -> None:
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

    def submit(self, key: Hashable, fn: Callable[[], Any], *, priority: int = URGENT,
               group: Hashable = None) -> Future[Any]:
        """The Future of `key`, queueing `fn` for it unless it is already done or running. Pending
        jobs of another `group` (an older store version) are cancelled."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the job queue is closed")
            self._cancel_other_groups(group)
            future = self._futures.get(key)
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
            self._start()
            return future

    def close(self, timeout: float = 10.0, interrupt: Callable[[], None] | None = None) -> None:
        """Stop taking work, cancel what is queued, and wait (up to `timeout`) for the job that runs,
        after `interrupt()` (which should make it end early). For interpreter exit: a daemon thread
        still inside a C++ library (DuckDB) when Python finalizes aborts the whole process."""
        with self._lock:
            self._closed = True
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

    def _next(self) -> tuple[Future[Any], Callable[[], Any]] | None:
        with self._lock:
            while True:
                while not self._queue and not self._closed:
                    self._lock.wait()
                if self._closed:
                    return None
                if self._queue[0][0] > URGENT and not self._quiet():
                    self._lock.wait(QUIET_POLL_S)    # work ahead of time waits for a quiet moment
                    continue
                _priority, _order, key = heapq.heappop(self._queue)
                future = self._futures.get(key)
                # Stale entries: a job asked for twice, done, cancelled or forgotten meanwhile.
                if (future is not None and not future.done() and not future.running()
                        and future.set_running_or_notify_cancel()):
                    return future, self._work_of.pop(key)

    def _work(self) -> None:
        while True:
            taken = self._next()
            if taken is None:
                return
            future, fn = taken
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - the waiting page shows it
                future.set_exception(exc)
