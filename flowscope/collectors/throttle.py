"""Staying inside the clouds' quotas: token buckets, bounded concurrency, read-ahead of pages.

- `TokenBucket` / `RateLimiters`: client-side token buckets per (account, region, API), sized to
  the cloud's documented quotas, so we stay under the server's throttling instead of bouncing
  off it.
- `bounded_map`: run a function over items with at most N threads; exceptions are returned per
  item, never raised out of the pool, so one failure cannot cancel the rest.
- `prefetched`: an API paginator read a few pages ahead in a helper thread.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")


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


RETRY_AFTER_MAX_S = 60.0
"""The longest `Retry-After` a collector waits out before one retry (Azure's and GCP's clients alike): a
longer one is cut to this, so one call cannot stall a scope for the hour a misbehaving proxy may ask; the
call then fails as a recorded error instead."""


B = TypeVar("B", bound=TokenBucket)
_SHARED_BUCKETS: dict[tuple[Any, ...], Any] = {}
_SHARED_LOCK = threading.Lock()


def shared_bucket(key: tuple[Any, ...], make: Callable[[], B]) -> B:
    """The one bucket of this process for a server-side quota (`key` names it, quota included):
    scopes that draw on the same quota (two sources of one subscription, project or location,
    collected in parallel) share it, instead of each spending all of it and meeting 429s."""
    with _SHARED_LOCK:
        bucket = _SHARED_BUCKETS.get(key)
        if bucket is None:
            bucket = _SHARED_BUCKETS[key] = make()
        return cast(B, bucket)


class RateLimiters:
    """One `TokenBucket` per (account, region, API), created on first use from a quota table.

    With `shared` (what identifies the server, e.g. its endpoint), the buckets are the process's
    shared ones (`shared_bucket`), so scopes of the same account and region share their quota;
    `stats` still counts this limiter's own calls and waits."""

    def __init__(self, quotas: Callable[[str, str], Quota | None], *, shared: tuple[Any, ...] | None = None) -> None:
        self._quotas = quotas
        self._shared = shared
        self._buckets: dict[tuple[str, str, str], TokenBucket | None] = {}
        self._used: dict[tuple[str, str, str], list[float]] = {}
        self._lock = threading.Lock()

    def bucket(self, account: str, region: str, api: str) -> TokenBucket | None:
        key = (account, region, api)
        with self._lock:
            if key not in self._buckets:
                quota = self._quotas(region, api)
                if quota is None:
                    self._buckets[key] = None
                elif self._shared is None:
                    self._buckets[key] = client_bucket(quota)
                else:
                    self._buckets[key] = shared_bucket((*self._shared, *key, quota), lambda: client_bucket(quota))
            return self._buckets[key]

    def acquire(self, account: str, region: str, api: str) -> float:
        bucket = self.bucket(account, region, api)
        if bucket is None:
            return 0.0
        waited = bucket.acquire()
        with self._lock:
            used = self._used.setdefault((account, region, api), [0, 0.0])
            used[0] += 1
            used[1] += waited
        return waited

    def stats(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {"/".join(key): {"calls": int(n), "waited_s": round(w, 3)} for key, (n, w) in self._used.items()}


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
