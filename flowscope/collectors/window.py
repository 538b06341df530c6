"""The window and the result of one sync of one scope: what every live collector shares.

A live collector (one per cloud) turns one *scope* (an AWS account+region, an Azure
subscription, a GCP project+location) into rows in the store and ONE `collection_runs` row
describing how that went. Scopes are independent: one failing scope never stops the others.

- `CollectWindow`: which start times a sync must look at (watermark minus a lag window, for
  late and still-running runs; `--since` bounds the first sync).
- `CollectionError`: an API failure that must be recorded, never swallowed into an empty list.
- `ScopeResult`: the outcome of one scope, convertible to its `collection_runs` row.
- `held_watermark`: where the next sync starts, held back to the oldest gap left behind.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowscope.collectors.native import cleaned
from flowscope.model import COLLECTED_STATUSES, UTC, C, RunStatus, truncate
from flowscope.textsafety import json_without_secrets, without_secrets

if TYPE_CHECKING:
    pass

DEFAULT_LAG = dt.timedelta(minutes=15)
"""Runs that started up to this long before the last watermark are listed again: listings are
eventually consistent, and a run listed as RUNNING last time must be seen again."""

MAX_ERRORS_KEPT = 50
"""At most this many per-item errors are kept in a collection_runs row (the total is counted)."""


MAX_CODE_CHARS = 100
"""A kept error code's length: the clouds' codes are names (`ThrottlingException`, `AuthorizationFailed`,
`PERMISSION_DENIED`); anything longer is some other text in that place."""

MAX_TARGET_CHARS = 512
"""A kept error target's length: what a call was about is an id (an ARN, an ARM resource id, a GCP resource
name; the longest, an Azure Standard slot's run id, a few hundred characters), or a URL whose query may be
any length."""


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
        """What a collection run keeps of it: no credential its message, code or target quotes (`SECRET_RULES`),
        each then cut (`native.cleaned`); no writer depends on a later pass."""
        return {"operation": self.operation,
                "code": None if self.code is None else cleaned(str(self.code), MAX_CODE_CHARS),
                "target": None if self.target is None else cleaned(str(self.target), MAX_TARGET_CHARS),
                "message": cleaned(str(self), 300)}


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
        """Something could not be collected: keep its description (bounded, without the credentials an
        SDK's message quotes: the row, the summary `sync` prints and the reports all read it), count it."""
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            if isinstance(error, CollectionError):
                self.errors.append(error.as_dict())
            elif isinstance(error, BaseException):
                self.errors.append({"code": type(error).__name__,
                                    "message": cleaned(str(error), 300)})
            else:
                self.errors.append(json_without_secrets(dict(error)))

    def warn(self, message: str) -> None:
        message = without_secrets(message)
        if message not in self.warnings:
            self.warnings.append(message)

    def finish(self, ended_at: dt.datetime | None = None, *, failed: BaseException | None = None) -> "ScopeResult":
        self.ended_at = ended_at or dt.datetime.now(UTC)
        if failed is not None:
            self.status = RunStatus.FAILED
            self.error = cleaned(f"{type(failed).__name__}: {failed}")
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
        return self.status in COLLECTED_STATUSES

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


def failure_entry(exc: BaseException, code: str | None = None) -> dict[str, Any]:
    """A whole scope's failure as its `details.errors` entry: its code (`code`, else the error's own, else
    its type) and its message without the credentials it quotes, then cut (cut first, a `user:password@`
    across the cut kept its first part)."""
    return {"code": code or getattr(exc, "code", None) or type(exc).__name__,
            "message": cleaned(str(exc), 300)}


def as_collection_error(exc: BaseException, operation: str, target: str | None) -> CollectionError:
    """`exc` as a recorded CollectionError (a CollectionError keeps its own, its target filled in)."""
    if isinstance(exc, CollectionError):
        if exc.target is None:
            exc.target = target
        return exc
    return CollectionError(f"{operation} failed: {type(exc).__name__}: {cleaned(str(exc), 200)}",
                           operation=operation, code=type(exc).__name__, target=target)


def held_watermark(window: CollectWindow, gaps: Sequence[dt.datetime | None]) -> dt.datetime | None:
    """The window's end, held back to the oldest gap left behind (a start time not collected; None:
    something not even listed, so the watermark does not move), never behind the last watermark:
    the next sync's `watermark - lag` reaches the gap again."""
    if not gaps:
        return window.end
    if any(g is None for g in gaps):
        return window.watermark
    oldest = min(g for g in gaps if g is not None)
    return max(min(window.end, oldest), window.watermark) if window.watermark else min(window.end, oldest)


def merge_attributes(row: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Add keys to a row's `attributes` JSON object (created if absent; a non-object kept under `value`)."""
    if not extra:
        return
    try:
        current = json.loads(row.get(C.attributes) or "{}")
        if not isinstance(current, dict):
            current = {"value": current}
    except (TypeError, ValueError, RecursionError):
        current = {"raw": row.get(C.attributes)}
    current.update(extra)
    row[C.attributes] = json.dumps(current, sort_keys=True, default=str)
