"""What every live collector shares: the protocol, the collection window, errors, rate limits.

A live collector (one per cloud) turns one *scope* (an AWS account+region, an Azure
subscription, a GCP project+location) into rows in the store and ONE `collection_runs` row
describing how that went. Scopes are independent: one failing scope never stops the others.

- `CollectWindow`: which start times a sync must look at (watermark minus a lag window, for
  late and still-running runs; `--since` bounds the first sync).
- `CollectionError`: an API failure that must be recorded, never swallowed into an empty list.
- `TokenBucket` / `RateLimiters`: client-side token buckets per (account, region, API), sized to
  the cloud's documented quotas, so we stay under the server's throttling instead of bouncing
  off it.
- `bounded_map`: run a function over items with at most N threads; exceptions are returned per
  item, never raised out of the pool, so one failure cannot cancel the rest.
- `ScopeResult`: the outcome of one scope, convertible to its `collection_runs` row.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from flowscope.model import UTC, C, RunStatus, truncate

if TYPE_CHECKING:
    from flowscope.store import Store

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_LAG = dt.timedelta(minutes=15)
"""Runs that started up to this long before the last watermark are listed again: listings are
eventually consistent, and a run listed as RUNNING last time must be seen again."""

MAX_ERRORS_KEPT = 50
"""At most this many per-item errors are kept in a collection_runs row (the total is counted)."""


class CollectionError(RuntimeError):
    """An API call (or a whole scope) that could not be completed.

    `code` is the cloud's error code (ThrottlingException, ExecutionDoesNotExist, ...),
    `operation` the API operation, `target` what it was about (an ARN). Messages never carry
    payloads or credentials.
    """

    def __init__(self, message: str, *, operation: str | None = None, code: str | None = None,
                 target: str | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.operation = operation
        self.code = code
        self.target = target
        self.retryable = retryable

    def as_dict(self) -> dict[str, Any]:
        return {"operation": self.operation, "code": self.code, "target": self.target,
                "message": truncate(str(self), 300)}


@dataclass(frozen=True)
class CollectWindow:
    """The start times one sync of one scope collects.

    `lower_bound` is where a newest-first listing may stop: the last watermark minus `lag`,
    or `since` on a first sync, or None (everything the cloud still keeps).
    """

    end: dt.datetime
    watermark: dt.datetime | None = None
    since: dt.datetime | None = None
    lag: dt.timedelta = DEFAULT_LAG

    @property
    def lower_bound(self) -> dt.datetime | None:
        if self.watermark is not None:
            bound = self.watermark - self.lag
            # --since can only widen an incremental sync's window, never narrow it.
            return min(bound, self.since) if self.since is not None else bound
        return self.since

    @property
    def first_sync(self) -> bool:
        return self.watermark is None

    def contains(self, start: dt.datetime | None) -> bool:
        bound = self.lower_bound
        return start is None or bound is None or start >= bound


# ---------------------------------------------------------------- rate limiting

class TokenBucket:
    """A thread-safe token bucket: `capacity` tokens, refilled at `rate` per second.

    `acquire()` blocks until a token is available (sleeping outside the lock), so N threads
    sharing a bucket together never exceed the documented sustained rate after the burst.
    """

    def __init__(self, capacity: float, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, initial: float | None = None) -> None:
        if capacity <= 0 or rate <= 0:
            raise ValueError("token bucket capacity and rate must be positive")
        self.capacity = float(capacity)
        self.rate = float(rate)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(capacity if initial is None else initial)
        self._stamp = clock()
        self._lock = threading.Lock()
        self.acquired = 0
        self.waited_s = 0.0

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_acquire(self, tokens: float = 1.0) -> float:
        """Take tokens if available (returns 0.0), else return the seconds to wait."""
        with self._lock:
            self._refill(self._clock())
            if self._tokens >= tokens - 1e-9:      # float dust must not stall a waiter
                self._tokens -= tokens
                self.acquired += 1
                return 0.0
            return max((tokens - self._tokens) / self.rate, 1e-6)

    def acquire(self, tokens: float = 1.0) -> float:
        """Block until `tokens` are taken; returns the seconds spent waiting."""
        waited = 0.0
        while True:
            wait = self.try_acquire(tokens)
            if wait <= 0.0:
                if waited:
                    with self._lock:
                        self.waited_s += waited
                return waited
            self._sleep(wait)
            waited += wait


@dataclass(frozen=True)
class Quota:
    """A documented token bucket: burst size and sustained refill per second."""

    capacity: float
    rate: float


LATENCY_SLACK_S = 0.2
"""Seconds of refill the client-side bucket keeps in hand below the documented burst.

The server's bucket counts a call when it arrives, ours when it leaves: running exactly at the
documented rate, a call that travels faster than the one before reaches an empty server bucket
and is throttled (then backed off for far longer than it saved). Holding back this much of the
burst absorbs that jitter; the sustained rate stays the documented one."""


def client_bucket(quota: Quota) -> "TokenBucket":
    """The client-side bucket for a documented quota: same refill, burst less `LATENCY_SLACK_S`."""
    slack = min(quota.capacity / 2, max(1.0, quota.rate * LATENCY_SLACK_S))
    return TokenBucket(max(1.0, quota.capacity - slack), quota.rate)


class RateLimiters:
    """One `TokenBucket` per (account, region, API), created on first use from a quota table."""

    def __init__(self, quotas: Callable[[str, str], Quota | None]) -> None:
        self._quotas = quotas
        self._buckets: dict[tuple[str, str, str], TokenBucket | None] = {}
        self._lock = threading.Lock()

    def bucket(self, account: str, region: str, api: str) -> TokenBucket | None:
        key = (account, region, api)
        with self._lock:
            if key not in self._buckets:
                quota = self._quotas(region, api)
                self._buckets[key] = client_bucket(quota) if quota else None
            return self._buckets[key]

    def acquire(self, account: str, region: str, api: str) -> float:
        bucket = self.bucket(account, region, api)
        return bucket.acquire() if bucket is not None else 0.0

    def stats(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {"/".join(key): {"calls": b.acquired, "waited_s": round(b.waited_s, 3)}
                    for key, b in self._buckets.items() if b is not None and b.acquired}


# ---------------------------------------------------------------- bounded concurrency

@dataclass
class Outcome(Generic[T, R]):
    item: T
    result: R | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def bounded_map(fn: Callable[[T], R], items: Iterable[T], max_workers: int,
                *, thread_name_prefix: str = "flowscope") -> list[Outcome[T, R]]:
    """`fn` over `items` with at most `max_workers` threads, results in input order.

    Exceptions are captured per item (`Outcome.error`), so one failing item never stops the
    others. KeyboardInterrupt / SystemExit are not captured.
    """
    items = list(items)
    if not items:
        return []

    def run(item: T) -> Outcome[T, R]:
        try:
            return Outcome(item, fn(item))
        except Exception as exc:  # noqa: BLE001 - recorded per item by the caller
            return Outcome(item, error=exc)

    if max_workers <= 1 or len(items) == 1:
        return [run(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(items)),
                            thread_name_prefix=thread_name_prefix) as pool:
        return list(pool.map(run, items))


# ---------------------------------------------------------------- bulk work

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


_DONE = object()


def prefetched(pages: Iterator[T], depth: int = 4, *, name: str = "flowscope-prefetch") -> Iterator[T]:
    """Iterate `pages` (an API paginator) in a helper thread, `depth` pages ahead.

    The caller's work on one page then overlaps the next page's HTTP round trip and its wait
    for a rate-limit token. An exception in the paginator is re-raised to the caller at the
    point it happened; a caller that stops early releases the helper (it never blocks forever).
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for page in pages:
                if not put((True, page)):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put((False, exc))
            return
        put((True, _DONE))

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


# ---------------------------------------------------------------- results

@dataclass
class ScopeResult:
    """The outcome of syncing one scope; `row()` is its collection_runs row."""

    cloud: str
    scope: str
    started_at: dt.datetime
    run_id: str = field(default_factory=lambda: f"sync-{uuid.uuid4()}")
    ended_at: dt.datetime | None = None
    status: RunStatus = RunStatus.RUNNING
    watermark: dt.datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:       # worker threads and the sink's writer count concurrently
            self.counts[key] = self.counts.get(key, 0) + n

    def add_counts(self, counts: Mapping[str, int]) -> None:
        for key, n in counts.items():
            self.count(key, n)

    def record_error(self, error: BaseException | Mapping[str, Any]) -> None:
        """Something could not be collected: keep its description (bounded), count it."""
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            if isinstance(error, CollectionError):
                self.errors.append(error.as_dict())
            elif isinstance(error, BaseException):
                self.errors.append({"code": type(error).__name__, "message": truncate(str(error), 300)})
            else:
                self.errors.append(dict(error))

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def finish(self, ended_at: dt.datetime | None = None, *, failed: BaseException | None = None) -> "ScopeResult":
        self.ended_at = ended_at or dt.datetime.now(UTC)
        if failed is not None:
            self.status = RunStatus.FAILED
            self.error = truncate(f"{type(failed).__name__}: {failed}")
        elif self.error_count:
            self.status = RunStatus.PARTIAL
            first = self.errors[0] if self.errors else {}
            self.error = truncate(f"{self.error_count} item(s) not collected; first: "
                                  f"{first.get('code')}: {first.get('message')}")
        else:
            self.status = RunStatus.SUCCEEDED
        return self

    @property
    def ok(self) -> bool:
        return self.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL)

    def row(self) -> dict[str, Any]:
        details = dict(self.details)
        if self.warnings:
            details["warnings"] = self.warnings
        if self.errors:
            details["errors"] = self.errors
            details["error_count"] = self.error_count
        return {
            C.run_id: self.run_id, C.cloud: self.cloud, C.scope: self.scope,
            C.started_at: self.started_at, C.ended_at: self.ended_at,
            C.status: RunStatus(self.status).value, C.watermark: self.watermark,
            C.counts: json.dumps(self.counts, sort_keys=True),
            C.error: self.error,
            C.details: json.dumps(details, sort_keys=True, default=str),
        }


class Collector(Protocol):
    """A cloud's live collector: configured sources -> scopes -> one ScopeResult each."""

    cloud: str

    def validate(self, source_config: Mapping[str, Any]) -> None:
        """Raise `flowscope.settings.ConfigError` naming any unknown or ill-typed key."""

    def scopes(self, source_config: Mapping[str, Any]) -> Sequence[Any]:
        """The independent units of collection of one `[[sources]]` entry."""

    def collect_scope(self, scope: Any, store: "Store", *, since: dt.datetime | None,
                      now: dt.datetime) -> ScopeResult:
        """Collect one scope into `store`; never raises for an API failure, records it."""


# ---------------------------------------------------------------- writing

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

    def __init__(self, store: "Store", result: ScopeResult, *, flush_every: int = 250) -> None:
        self.store = store
        self.result = result
        self.flush_every = flush_every
        self._pending = None
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
                    self.skips_kept.append({"source": skip.source[:200], "location": str(skip.location)[:100],
                                            "reason": str(skip.reason)[:200]})
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

    def _write(self, batch: Any, absent: set[tuple[str, str]]) -> None:
        from flowscope.collectors.assemble import assemble_batch

        if batch.skips:
            self.result.count("skipped_records", len(batch.skips))
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
                complete = assemble_batch(batch, self.store, absent=absent)
            del batch
            written = self.store.write(complete) or {}
        self.result.add_counts({f"written_{k}": int(v) for k, v in written.items()
                                if isinstance(v, (int, float))})


def write_run_row(store: "Store", result: ScopeResult) -> None:
    """Write (replace by run_id) the scope's collection_runs row."""
    from flowscope.model import Batch

    with _WRITE_LOCK:
        store.write(Batch(collection_runs=[result.row()]))
