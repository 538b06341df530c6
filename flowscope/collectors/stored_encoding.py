"""Files an earlier flowscope wrote with its timestamps as a dictionary, rewritten once with today's encodings.

Since `store.delta.writer_properties` writes timestamps as deltas, a new file is about a quarter smaller and a
window's scan of its times takes half the CPU (docs/store.md, "How files are written"); a store written before
kept its files as they were, since a day's file is rewritten only when a replace or a merge of small files
touches it. `sync` and `import` run this once per store (`Store.upgrade_done`; `store_upgrades`, which also
marks a store the demo creates as needing none): `Store.reencode` rewrites the partitions holding such a file,
the same rows under the writer lock, a commit per ~500,000 rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowscope.collectors.upgrade_once import run_once

if TYPE_CHECKING:
    from flowscope.store import Store

STEP = "timestamps-as-deltas-1"
"""The upgrade's name in the store's bookkeeping (`_flowscope/upgrades/`)."""


def upgrade_encoding(store: "Store") -> int:
    """Rewrite the files of `store` that hold timestamps as a dictionary, once; the number of files rewritten
    (0 on a store upgraded before or holding no data, which is only marked)."""
    return run_once(store, STEP, lambda: int(store.reencode()["files"]))


def reencoded_line(files: int) -> str:
    """What `sync` and `import` say after the upgrade rewrote something."""
    return (f"rewrote {files:,} file(s) an earlier flowscope wrote, with their timestamps as deltas "
            "(the same rows: smaller files, faster reads)")
