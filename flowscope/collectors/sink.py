"""The store writer of live collectors: whole executions, assembled and written behind the caller.

`StoreSink` takes transformed batches, assembles them with what the store holds and writes them
in chunks of whole executions in one writer thread; `write_run_row` records the scope's
collection_runs row; `gc_paused` switches the cyclic garbage collector off around bulk work.
"""

from __future__ import annotations

import datetime as dt
import gc
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from flowscope.collectors.native import cleaned
from flowscope.collectors.window import CollectWindow, ScopeResult
from flowscope.runstate import WRITER_KEY, writer_details

if TYPE_CHECKING:
    from flowscope.collectors.native import CloudTransforms
    from flowscope.model import Batch
    from flowscope.store import Store


_GC_LOCK = threading.Lock()
_GC_DEPTH = 0
_GC_WAS_ENABLED = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around a bulk transform (nested and thread-safe).

    Building hundreds of thousands of small dicts triggers collections that rescan every live
    object again and again (~15 % of the log path's CPU); nothing here relies on a collection
    running meanwhile, and the collector is restored (and catches up) when the last user leaves.
    """
    global _GC_DEPTH, _GC_WAS_ENABLED
    with _GC_LOCK:
        if _GC_DEPTH == 0:
            _GC_WAS_ENABLED = gc.isenabled()
            gc.disable()
        _GC_DEPTH += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_DEPTH -= 1
            if _GC_DEPTH == 0 and _GC_WAS_ENABLED:
                gc.enable()


_WRITE_LOCK = threading.RLock()
"""Assembling (which reads the store) and writing happen one at a time in this process."""


class StoreSink:
    """Collects transformed batches and writes them in chunks of whole executions.

    Each flush assembles the chunk with what the store already holds (`assemble_batch`) and
    writes it in one commit, so a killed sync leaves only complete executions behind and a
    re-run replaces them by key: no duplicates, no half executions.

    Writes happen behind the caller, in one writer thread with at most one chunk in flight:
    the Delta and DuckDB work releases the GIL, so it runs on another core while the caller
    transforms the next chunk, and a caller faster than the store waits (memory stays bounded).
    A failed write is raised to the caller at its next `add` or `flush`.
    """

    def __init__(self, store: "Store", result: ScopeResult, *, transforms: "CloudTransforms",
                 flush_every: int = 250) -> None:
        self.store = store
        self.transforms = transforms          # the collector's own cloud: the only one it writes
        self.result = result
        self.flush_every = flush_every
        self._pending: Batch | None = None
        self._pending_absent: set[tuple[str, str]] = set()
        self._pending_executions = 0
        self._lock = threading.Lock()
        self._submit_lock = threading.Lock()
        self._writer: ThreadPoolExecutor | None = None
        self._inflight: Future[None] | None = None
        self.skips_kept: list[dict[str, str]] = []

    def add(self, batch: Any, *, absent: Iterable[tuple[str, str]] = ()) -> None:
        """Queue `batch`; `absent`: its (cloud, execution_id)s just found missing from the store."""
        from flowscope.model import Batch

        with self._lock:
            if self._pending is None:
                self._pending = Batch()
            self._pending.extend(batch)
            self._pending_absent.update(absent)
            self._pending_executions += len(batch.executions)
            for skip in batch.skips:
                if len(self.skips_kept) < 20:
                    self.skips_kept.append({"source": cleaned(str(skip.source), 200),
                                            "location": cleaned(str(skip.location), 100),
                                            "reason": cleaned(str(skip.reason), 200)})
            due = self._pending_executions >= self.flush_every
        if due:
            self._submit(wait=False)

    def flush(self) -> None:
        """Write what is pending and wait until every chunk is committed (raises a failed write)."""
        self._submit(wait=True)

    def close(self) -> None:
        """Stop the writer thread (after `flush`); the sink can still be used afterwards."""
        with self._submit_lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.shutdown(wait=True)

    def _submit(self, *, wait: bool) -> None:
        with self._submit_lock:
            with self._lock:
                batch, self._pending, self._pending_executions = self._pending, None, 0
                absent, self._pending_absent = self._pending_absent, set()
            if batch is not None:
                previous, self._inflight = self._inflight, None
                if previous is not None:
                    previous.result()             # one chunk in flight; re-raises its failure
                if self._writer is None:
                    self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowscope-writer")
                self._inflight = self._writer.submit(self._write, batch, absent)
            if wait and self._inflight is not None:
                done, self._inflight = self._inflight, None
                done.result()

    def _transforms_for(self, _cloud: str) -> "CloudTransforms":
        return self.transforms

    def _write(self, batch: Any, absent: set[tuple[str, str]]) -> None:
        from flowscope.collectors.assemble import assemble_batch

        if batch.skips:
            self.result.count("skipped_records", len(batch.skips))
        if batch.warnings:                      # what the transforms say (an unreadable definition
            with self._lock:                    # billed at the dearer meter): as an import says it
                for warning in batch.warnings:
                    self.result.warn(warning)
        if batch.unknown_event_types:
            with self._lock:
                unknown = self.result.details.setdefault("unknown_event_types", {})
                for event_type, n in batch.unknown_event_types.items():
                    unknown[event_type] = unknown.get(event_type, 0) + n
        if not any(batch.rows(t) for t in ("workflows", "executions", "steps", "attempts", "usage",
                                           "metrics", "collection_runs")):
            return
        with _WRITE_LOCK:
            with gc_paused():
                complete = assemble_batch(batch, self.store, absent=absent, transforms_for=self._transforms_for)
            del batch
            written = self.store.write(complete) or {}
        self.result.add_counts({f"written_{k}": int(v) for k, v in written.items()
                                if isinstance(v, (int, float))})


def write_run_row(store: "Store", result: ScopeResult) -> None:
    """Write (replace by run_id) the scope's collection_runs row."""
    from flowscope.model import Batch

    with _WRITE_LOCK:
        store.write(Batch(collection_runs=[result.row()]))


def open_window(store: "Store", result: ScopeResult, *, lag: dt.timedelta, since: dt.datetime | None,
                now: dt.datetime) -> CollectWindow:
    """The scope's window from its last watermark, said in `details.window`; the collection_runs row
    written with status running first, so a killed sync leaves a trace (and its watermark unchanged)."""
    previous = store.last_watermark(result.scope)
    window = CollectWindow(end=now, watermark=previous, since=since, lag=lag)
    result.watermark = previous
    result.details["window"] = {"lower_bound": window.lower_bound.isoformat() if window.lower_bound else None,
                                "end": now.isoformat(), "lag_s": lag.total_seconds()}
    result.details[WRITER_KEY] = writer_details()      # a killed sync's row reads as interrupted (runstate)
    write_run_row(store, result)
    return window


def close_run_row(store: "Store", result: ScopeResult) -> ScopeResult:
    """The scope's final collection_runs row; a store that cannot take it fails the result (said in it)."""
    from flowscope.model import RunStatus

    try:
        write_run_row(store, result)
    except Exception as exc:  # noqa: BLE001 - the store itself failed: report it in the result
        result.status = RunStatus.FAILED
        result.error = cleaned(f"could not write collection_runs row: {type(exc).__name__}: {exc}")
    return result
