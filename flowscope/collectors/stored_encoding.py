"""Files an earlier flowscope wrote with its timestamps as a dictionary, rewritten once with today's encodings.

Since `store.delta.writer_properties` writes timestamps as deltas, a new file is about a quarter smaller and a
window's scan of its times takes half the CPU (docs/store.md, "How files are written"); a store written before
kept its files as they were, since a day's file is rewritten only when a replace or a merge of small files
touches it. `sync` and `import` run this once per store (`Store.upgrade_done`; `store_upgrades`, which also
marks a store the demo creates as needing none): `Store.reencode` rewrites the partitions holding such a file,
the same rows under the writer lock, a commit per ~500,000 rows.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from flowscope.collectors.upgrade_once import run_once

if TYPE_CHECKING:
    from flowscope.collectors.upgrade_once import Say
    from flowscope.store import Store

STEP = "timestamps-as-deltas-1"
"""The upgrade's name in the store's bookkeeping (`_flowscope/upgrades/`)."""


def upgrade_encoding(store: "Store", say: "Say | None" = None) -> int:
    """Rewrite the files of `store` that hold timestamps as a dictionary, once; the number of files rewritten
    (0 on a store upgraded before or holding no data, which is only marked). `say`: told a line once the files
    are found, before they are rewritten (about 8 s on a 1,000,000-execution store, which a sync or import spent
    silent), and `reencoded_line` with the time it took after; nothing when there are none."""
    def starting(found: dict[str, int]) -> None:
        if say is not None:
            say(upgrading_line(store, found))

    def rewrite() -> int:
        started = time.monotonic()
        files = int(store.reencode(on_start=starting)["files"])
        if files and say is not None:
            say(reencoded_line(files, time.monotonic() - started))
        return files

    return run_once(store, STEP, rewrite)


def upgrading_line(store: "Store", files: dict[str, int]) -> str:
    """What is said before the rewrite: the store, how many files of which tables (`files`: per table)."""
    return (f"upgrading the store {store.path} to the current file encoding (once): rewriting "
            f"{sum(files.values()):,} file(s) of {', '.join(files)} that an earlier flowscope wrote (the same rows)")


def reencoded_line(files: int, seconds: float | None = None) -> str:
    """What `sync` and `import` say after the upgrade rewrote something (`seconds`: how long it took, when timed)."""
    took = "" if seconds is None else f" in {seconds:.1f} s"
    return (f"rewrote {files:,} file(s) an earlier flowscope wrote, with their timestamps as deltas{took} "
            "(the same rows: smaller files, faster reads)")
