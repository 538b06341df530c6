"""What every live collector's per-scope context shares (`ScopeRun`), and marking the stored running
runs a cloud no longer has (`gone_mark` / `mark_gone`: marked once, never revisited again; every
collector's revisit step ends with them).

Apart from `window` (the window and the result, which the sink reads too) so that the sink and the
window do not import each other: a run holds its sink, a sink only the result it counts into.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowscope.collectors.native import cleaned, row_attributes
from flowscope.collectors.window import CollectionError, CollectWindow, ScopeResult, held_watermark, merge_attributes
from flowscope.model import COLLECTED_STATUSES, Batch, C, json_object

if TYPE_CHECKING:
    from flowscope.collectors.native import ImportContext
    from flowscope.collectors.sink import StoreSink
    from flowscope.model import Source
    from flowscope.store import Store


@dataclass(kw_only=True)
class ScopeRun:
    """What one scope's collection shares across its worker threads, in every collector (each
    cloud's `ScopeContext` adds its clients and what its steps hand each other)."""

    store: "Store"
    sink: "StoreSink"
    result: ScopeResult
    window: CollectWindow
    now: dt.datetime
    seen: set[str] = field(default_factory=set)
    """Execution ids the listings returned in this sync (not revisited as stored running ones)."""
    gaps: list[dt.datetime | None] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    workflow_bounds: dict[str, dt.datetime | None] = field(default_factory=dict)
    """Workflows the last sync could not read all runs of: where to list them from (`unread.load`)."""
    unread_workflows: dict[str, dt.datetime | None] = field(default_factory=dict)
    """Workflows this sync could not read all runs of, and from where (`unread.mark`)."""
    _previous: dict[str, Any] | None = None

    def ctx(self, source_name: str, source: "Source | None" = None, **kwargs: Any) -> "ImportContext":
        """The transforms' context for documents read now from the API (`source`: Source.API)."""
        from flowscope.collectors.native import ImportContext
        from flowscope.model import Source

        return ImportContext(source_name=source_name, seen_at=self.now, source=source or Source.API, **kwargs)

    def gap(self, start: dt.datetime | None) -> None:
        """Something from `start` on (None: anything) was not collected; hold the watermark there."""
        with self.lock:
            self.gaps.append(start)

    def held_watermark(self) -> dt.datetime | None:
        return held_watermark(self.window, self.gaps)

    def previous_details(self) -> dict[str, Any]:
        """`details` of the scope's last succeeded or partial sync (the one its watermark came from; {} when
        there is none): what one sync hands the next (what it could not read, and from where). A store that
        cannot be read fails the scope: a sync recorded without them would lose them for good."""
        if self._previous is None:
            try:
                found = self.store.sql(
                    f"SELECT {C.details} FROM collection_runs WHERE {C.scope} = ? AND {C.status} IN (?, ?) "
                    f"AND {C.run_id} <> ? ORDER BY {C.started_at} DESC LIMIT 1",
                    [self.result.scope, *COLLECTED_STATUSES, self.result.run_id])
                text = found[C.details].iloc[0] if len(found) else None
            except Exception as exc:
                raise CollectionError(f"reading the last sync's details failed: {type(exc).__name__}: "
                                      f"{cleaned(str(exc), 200)}", operation="store.collection_runs",
                                      code=type(exc).__name__) from exc
            self._previous = json_object(text) if isinstance(text, str) else {}
        return self._previous


def gone_mark(row: Mapping[str, Any]) -> Any:
    """The `gone` mark of a stored execution (see `mark_gone`), if any."""
    return row_attributes(row).get("gone")


def mark_gone(sink: "StoreSink", result: ScopeResult, gone: Sequence[tuple[dict[str, Any], str]],
              now: dt.datetime, *, noun: str, where: str) -> list[str]:
    """Stored running executions the cloud no longer has (deleted, past retention).

    They keep what was collected, status included (nothing says how they ended), with
    `attributes.gone = {"code", "noticed_at"}`, and are never revisited again, so later syncs do
    not fail on them; said once, as a warning of this run. Returns their execution ids."""
    rows = []
    for row, code in gone:
        marked = {**row, C.collected_at: now}
        merge_attributes(marked, {"gone": {"code": code, "noticed_at": now.isoformat()}})
        rows.append(marked)
    sink.add(Batch(executions=rows))     # the sink merges their stored steps back in
    result.count("running_gone", len(rows))
    result.warn(f"{len(rows)} stored {noun} no longer exist in {where}; kept as last collected and no longer "
                f"revisited, e.g. {gone[0][0][C.execution_id]}")
    return [str(r[C.execution_id]) for r in rows]
