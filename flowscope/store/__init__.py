"""The store: Delta tables (one per model table), DuckDB reads, lock, snapshot manifest.

Nothing else in flowscope touches the store's files. See store.py for the write/read paths.
"""

from flowscope.store.errors import NotAStoreError, StoreDamagedError, StoreError, StoreLockedError
from flowscope.store.store import Store

__all__ = ["NotAStoreError", "Store", "StoreDamagedError", "StoreError", "StoreLockedError"]
