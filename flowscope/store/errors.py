"""Store exceptions: callers catch these instead of delta-rs / DuckDB / OS errors."""

from __future__ import annotations


class StoreError(Exception):
    """A write or read the store refuses (bad batch, unsupported location, broken state)."""


class StoreLockedError(StoreError):
    """Another writer holds the store's lock; names the store and the holder's pid."""

    def __init__(self, store: str, holder_pid: int | None, waited_s: float) -> None:
        self.store = store
        self.holder_pid = holder_pid
        who = f"pid {holder_pid}" if holder_pid is not None else "an unknown process"
        super().__init__(f"store {store} is locked by {who} (waited {waited_s:.1f}s)")


class NotAStoreError(StoreError):
    """A reader was pointed at a path that holds no flowscope store (readers never create one)."""

    def __init__(self, path: str, reason: str, demo_store: str | None = None) -> None:
        self.path = path
        demo = (f" (`flowscope demo` wrote its store to {demo_store}: pass --store {demo_store})"
                if demo_store else "")
        super().__init__(f"{path} is not a flowscope store ({reason}); a store is created by "
                         f"`flowscope demo`, `flowscope import` or `flowscope sync`, or pass --store{demo}")


class StoreDamagedError(StoreError):
    """A store file that is missing or unreadable (a truncated manifest, a deleted Parquet file, a
    Delta log with a version gone): said with the file, not reported as a flowscope bug."""

    def __init__(self, store: str, what: str, detail: str) -> None:
        self.store = store
        super().__init__(f"store {store} is damaged: {what} cannot be read ({detail}); restore it from a "
                         "backup, or rebuild the store with `flowscope import` / `flowscope sync`")
