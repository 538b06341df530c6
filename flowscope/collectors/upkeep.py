"""The store's upkeep after a sync or an import: small files merged where they crowd a partition.

Each append adds a file to every (cloud, start date) partition it touches, so an hourly `flowscope
run` leaves 24 files a day in each table, and every scan pays per file (DESIGN.md: "compact after
syncs"). After writing, `sync` and `import` merge the tables with a partition holding more than
`COMPACT_AFTER_FILES` files (each of their partitions of more than one file, in one commit; an old,
already merged day is not rewritten), and remove from the other tables the files of rows replaced
since (a running execution re-collected rewrites its day's file; replacing never crowds a partition).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowscope.store import Store

COMPACT_AFTER_FILES = 8
"""Files a partition may hold before the next sync or import merges them."""


def compact_crowded(store: "Store") -> str | None:
    """Merge the crowded partitions of `store`; a line saying what was merged, None when nothing was.
    A failure is said, not raised: the data written before it is stored and readable either way."""
    try:
        done = store.compact(max_files_per_partition=COMPACT_AFTER_FILES)
    except Exception as exc:  # noqa: BLE001 - upkeep never fails the sync or import it follows
        return f"merging small files failed ({type(exc).__name__}: {exc}); the next sync or import tries again"
    said = []
    if done["tables"]:
        said.append(f"merged small files: {done['files_before']:,} -> {done['files_after']:,} in "
                    f"{', '.join(sorted(done['tables']))}")
    if done["files_replaced"]:
        said.append(f"removed {done['files_replaced']:,} file(s) of replaced rows")
    return "; ".join(said) or None
