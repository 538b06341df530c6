"""Store exceptions: callers catch these instead of delta-rs / DuckDB / OS errors."""

from __future__ import annotations

import re
from collections.abc import Callable


class StoreError(Exception):
    """A write or read the store refuses (bad batch, unsupported location, broken state)."""


class StoreLockedError(StoreError):
    """Another writer holds the store's lock; names the store and the holder's pid."""

    def __init__(self, store: str, holder_pid: int | None, waited_s: float) -> None:
        self.store = store
        self.holder_pid = holder_pid
        who = f"pid {holder_pid}" if holder_pid is not None else "an unknown process"
        super().__init__(f"store {store} is locked by {who} (waited {waited_s:.1f}s)")


def pass_store_flag(folder: str | None) -> str:
    """How a command line names a store: its --store flag."""
    return f"pass --store {folder}" if folder else "pass --store"


class NotAStoreError(StoreError):
    """A reader was pointed at a path that holds no flowscope store (readers never create one).

    `naming` says how to name the store the caller should read instead (`pass_store_flag` for the
    commands; `for_caller` re-says it for a Python call: a notebook user has no --store to pass)."""

    def __init__(self, path: str, reason: str, demo_store: str | None = None, *, inside: str | None = None,
                 naming: Callable[[str | None], str] = pass_store_flag) -> None:
        self.path, self.reason, self.demo_store, self.inside = path, reason, demo_store, inside
        where = f"{reason}: {naming(inside)}" if inside else reason
        demo = (f" (`flowscope demo` wrote its store to {demo_store}: {naming(demo_store)})"
                if demo_store else "")
        super().__init__(f"{path} is not a flowscope store ({where}); a store is created by "
                         f"`flowscope demo`, `flowscope import` or `flowscope sync`, or {naming(None)}{demo}")

    def for_caller(self, function: str) -> "NotAStoreError":
        """The same error, naming the store as an argument of the Python call `function`
        (e.g. "flowscope.open")."""
        def naming(folder: str | None) -> str:
            return f"call {function}({str(folder)!r})" if folder else f"give {function}() the store's folder"

        return NotAStoreError(self.path, self.reason, self.demo_store, inside=self.inside, naming=naming)


class StoreDamagedError(StoreError):
    """A store file that is missing or unreadable (a truncated manifest, a deleted Parquet file, a
    Delta log with a version gone): said with the file, not reported as a flowscope bug."""

    def __init__(self, store: str, what: str, detail: str) -> None:
        self.store = store
        # DuckDB's messages end with the query and a caret line ("LINE 1: ...) AS cause ... ^^^^"): the file
        # is named before it, the rest buried it
        detail = re.split(r"\s*\bLINE \d+:", detail, maxsplit=1)[0].strip()
        super().__init__(f"store {store} is damaged: {what} cannot be read ({detail}); restore it from a "
                         "backup, or rebuild the store with `flowscope import` / `flowscope sync`")
