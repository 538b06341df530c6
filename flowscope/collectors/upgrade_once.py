"""The frame every one-off upgrade of stored rows runs in: once per store, under the writer lock, in chunks.

Why one place: `stored_texts` and `stored_dates` each wrote the same frame (skip a store already upgraded, hold
the writer lock, look only in a store with data, rewrite chunk by chunk, mark the upgrade done), and a change to
it (a lock, a mark) belongs to all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowscope.store import Store


def upgrade_once(store: "Store", step: str, chunks: Callable[["Store"], Iterable[tuple[str, list[str]]]],
                 rewrite: Callable[[str, list[str]], int]) -> int:
    """Run the upgrade named `step` on `store` unless it ran: `rewrite(cloud, execution_ids)` for each chunk that
    `chunks(store)` finds, under the writer lock, then the upgrade marked done (`Store.mark_upgrade_done`, also on
    a store with no data yet). The number of executions the rewrites rewrote."""
    if store.upgrade_done(step):
        return 0
    rewritten = 0
    with store.writer():
        if store.has_data():
            for cloud, ids in chunks(store):
                rewritten += rewrite(cloud, ids)
        store.mark_upgrade_done(step)
    return rewritten
