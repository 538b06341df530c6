"""The frame every one-off upgrade of a store runs in: once per store, under the writer lock (rows: in chunks).

Why one place: `stored_texts` and `stored_dates` each wrote the same frame (skip a store already upgraded, hold
the writer lock, look only in a store with data, rewrite chunk by chunk, mark the upgrade done), and a change to
it (a lock, a mark) belongs to all of them; `stored_encoding` (files, not rows) runs in it too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowscope.store import Store

Say = Callable[[str], None]
"""Where an upgrade says a line as it runs (a command's stderr): one that takes seconds says so before it starts."""


def run_once(store: "Store", step: str, rewrite: Callable[[], int]) -> int:
    """Run the upgrade named `step` on `store` unless it ran: `rewrite()` under the writer lock (only on a store
    holding data), then the upgrade marked done (`Store.mark_upgrade_done`, also on a store with no data yet).
    What `rewrite()` says it rewrote; 0 when it did not run."""
    if store.upgrade_done(step):
        return 0
    with store.writer():
        rewritten = rewrite() if store.has_data() else 0
        store.mark_upgrade_done(step)
    return rewritten


def upgrade_once(store: "Store", step: str, chunks: Callable[["Store"], Iterable[tuple[str, list[str]]]],
                 rewrite: Callable[[str, list[str]], int]) -> int:
    """`run_once` of a rewrite of stored rows by execution: `rewrite(cloud, execution_ids)` for each chunk that
    `chunks(store)` finds. The number of executions the rewrites rewrote."""
    return run_once(store, step, lambda: sum(rewrite(cloud, ids) for cloud, ids in chunks(store)))
