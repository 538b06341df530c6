"""`python -m flowscope.ui.launch run app.py ...`: Streamlit's own command line, with the libraries
every page needs imported in the background while the server starts, and the analyses' worker
process started (`analyses_process.prestart`: it imports the analyses and opens the store meanwhile).

Streamlit imports pandas lazily, so without this the first visitor of a fresh server paid it inside
their page's first run (about 0.5 s on an idle 2-core machine, twice that under load), then ibis (0.3 s, for the
analyses' `Thresholds` the pages read their month from) and the store's readers, and waited for a
cold worker process before the first findings. Imported on a thread, the libraries load while the server binds
its port; a page that needs them first simply waits on Python's import lock. Once the server's
runtime exists, the reads every page starts with go through the app's own caches (`warm_store`).
"""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Callable


def warm() -> None:
    """Import pandas and the chart builders, then the store's readers and the analyses' definitions the
    pages read their settings from (`Thresholds`: ibis, 0.3 s; DuckDB and Delta Lake, 0.1 s)."""
    import pandas  # noqa: F401

    import flowscope.analysis.base  # noqa: F401
    import flowscope.analysis.tables  # noqa: F401
    import flowscope.store  # noqa: F401
    import flowscope.ui.charts  # noqa: F401


WARM_THREAD = "flowscope-warm"
RUNTIME_WAIT_S = 60.0


def warm_store(wait_s: float = RUNTIME_WAIT_S, ready: Callable[[], bool] | None = None) -> None:
    """Once the server's runtime exists, read what every page reads first through the app's own caches
    (`ui.data`: the store's snapshot connection, its summary, the sidebar's workflows, the thresholds
    and the collection health), so the first visitor's run finds them ready; a page that asks for one
    while it is read waits for it (Streamlit computes a cached value once). Failures are left to the
    page, which says what is wrong with the store. `ready` says whether the runtime exists (tests)."""
    import logging
    import time

    if ready is None:
        from streamlit.runtime import Runtime

        ready = Runtime.exists
    deadline = time.monotonic() + wait_s
    while not ready():
        if time.monotonic() > deadline:
            return
        time.sleep(0.05)
    # Streamlit warns of a missing script context for each cached call made outside a page run: ours.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        lambda record: record.threadName != WARM_THREAD)
    from flowscope.ui import data

    for read in (data.summary, data.workflow_options, data.thresholds, data.collection_health):
        try:
            read()
        except Exception:  # noqa: BLE001 - the page reports an unreadable store in its own words
            return
    warm_findings()


def warm_findings() -> None:
    """Queue the analyses of the default window (LIKELY: a page asking for another window interrupts
    them) so they run on the CPU the first visit leaves idle while the browser loads the app, instead of
    starting when that visit's page script does."""
    from flowscope.ui import data, filters
    from flowscope.ui.jobs import LIKELY

    try:
        summary = data.summary()
        if summary["executions"]:
            f = filters.default_filters(summary)
            data.findings_job(f, prefetch=filters.other_windows(f, summary["first"]), priority=LIKELY)
    except Exception:  # noqa: BLE001 - the page reports an unreadable store in its own words
        return


def _warm_all() -> None:
    warm()
    if os.environ.get("FLOWSCOPE_STORE"):
        warm_store()


def _to_devnull(fd: int) -> None:
    """Point `fd` at /dev/null: what is written to it from now on goes nowhere, without an error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


class PipeSafeText(io.TextIOWrapper):
    """A text stream that, once its pipe's reader is gone, points its descriptor at /dev/null and goes
    on: the write that meets the broken pipe is dropped instead of raising BrokenPipeError. The console
    watcher (`quiet_when_unread`) does the same from a thread, but a line printed between the reader's
    death and the watcher's turn (Streamlit prints its start-up lines after its port opens) still raised,
    and the server stopped."""

    def write(self, text: str) -> int:
        try:
            return super().write(text)
        except BrokenPipeError:
            self._reader_gone()
            return len(text)

    def flush(self) -> None:
        try:
            super().flush()
        except BrokenPipeError:
            self._reader_gone()

    def _reader_gone(self) -> None:
        _to_devnull(self.fileno())
        try:
            super().flush()             # what was buffered for the pipe goes to /dev/null
        except OSError:
            pass


def swallow_broken_pipes() -> None:
    """Replace sys.stdout and sys.stderr by `PipeSafeText` streams over the same descriptors, before
    Streamlit (whose loggers keep the sys.stderr of their creation) or click (which caches a stream per
    sys.stdout) sees them."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None or isinstance(stream, PipeSafeText) or not hasattr(stream, "buffer"):
            continue
        try:
            stream.flush()
        except BrokenPipeError:
            _to_devnull(stream.fileno())
        except (OSError, ValueError):
            continue
        setattr(sys, name, PipeSafeText(stream.buffer, encoding=stream.encoding, errors=stream.errors,
                                        line_buffering=stream.line_buffering, write_through=True))


def quiet_when_unread(fds: tuple[int, ...] = (1, 2)) -> None:
    """Point each of `fds` (stdout, stderr) at /dev/null once nothing reads it any more (a pipe whose
    reader is gone), instead of leaving it broken. A server whose launcher was killed kept its stdout
    pipe; Streamlit prints "Stopping..." before it stops, so on SIGTERM that print raised
    BrokenPipeError inside the event loop's callback and the server never stopped. A blocked `poll`
    on a thread per stream costs nothing meanwhile: it wakes only when the pipe's or socket's reader is
    gone or a terminal hung up, never for a file or /dev/null."""
    import select

    def watch(fd: int) -> None:
        poller = select.poll()
        poller.register(fd, 0)      # no events asked: only POLLERR, POLLHUP or POLLNVAL wake it
        poller.poll()
        _to_devnull(fd)

    for fd in fds:
        threading.Thread(target=watch, args=(fd,), name=f"flowscope-console-{fd}", daemon=True).start()


def main() -> None:
    swallow_broken_pipes()          # first: Streamlit's loggers keep the sys.stderr they find at import
    quiet_when_unread()
    from flowscope.ui.analyses_process import prestart

    # before Streamlit's import (0.33 s of CPU): the worker's own start-up begins that much sooner
    prestart(os.environ.get("FLOWSCOPE_STORE"))
    from streamlit.web.cli import main as streamlit_main

    threading.Thread(target=_warm_all, name=WARM_THREAD, daemon=True).start()
    streamlit_main(prog_name="streamlit")


if __name__ == "__main__":
    main()
