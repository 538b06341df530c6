"""Every one-off upgrade of stored rows, in the one list `sync`, `import` and `flowscope demo` run.

Why one list: each upgrade runs once per store and, on a store holding no data yet, is only marked done
(`upgrade_once`): so a store this version writes from its first row on (one an import creates, the demo's)
is marked as needing none of them by running them before its first write. A second, hand-written list of
the marks missed the next upgrade, and the first sync into such a store scanned every row for it (the
dates' scan alone: about 1 s on a 1,000,000-execution store).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowscope.collectors.stored_dates import redated_line, upgrade_dates
from flowscope.collectors.stored_encoding import reencoded_line, upgrade_encoding
from flowscope.collectors.stored_texts import upgrade_texts, upgraded_line

if TYPE_CHECKING:
    from flowscope.collectors.upgrade_once import Say
    from flowscope.store import Store


@dataclass(frozen=True)
class Upgraded:
    """What each upgrade rewrote: 0 on a store upgraded before or holding no data."""

    texts: int = 0
    """Error texts rewritten (`stored_texts`)."""
    dates: int = 0
    """Rows moved to their execution's start date (`stored_dates`)."""
    files: int = 0
    """Files rewritten with their timestamps as deltas (`stored_encoding`)."""
    files_said: bool = False
    """The files' rewrite was said as it ran (`upgrade_store`'s `say`), so `lines()` does not say it again."""

    def lines(self) -> list[str]:
        """What `sync` and `import` say of the upgrades that rewrote something (nothing when none did)."""
        return (([upgraded_line(self.texts)] if self.texts else []) + ([redated_line(self.dates)] if self.dates else [])
                + ([reencoded_line(self.files)] if self.files and not self.files_said else []))


def upgrade_store(store: "Store", say: "Say | None" = None) -> Upgraded:
    """Run every one-off upgrade `store` has not run; on a store holding no data, mark them all done. `say`: where
    the files' rewrite says it starts and how long it took (`stored_encoding.upgrade_encoding`), as it runs."""
    texts, dates = upgrade_texts(store), upgrade_dates(store)
    files = upgrade_encoding(store, say)     # last: it rewrites their files
    return Upgraded(texts=texts, dates=dates, files=files, files_said=say is not None)
