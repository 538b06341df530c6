"""Views of one snapshot over only the files a window's rows can be in, by the Delta log's `started_at` spans.

Why: a store keeps history past the clouds' 90 days, and every table has a file per cloud and start date.
A read of a window (rows with `started_at` in [start, end)) over the whole table still makes DuckDB open
each file's cached footer and test its row groups' statistics, so a 7-day analysis cost more the longer the
store's history: on a 31-day store of 1M executions (93 files a table), reading only the files of the
window and its previous window cut the analysis by a sixth. The log already holds each file's least and
greatest `started_at` (delta-rs writes them; `reader.file_spans`), so knowing which files to skip reads
nothing.

A view here is a superset of the window's rows, never a subset: a file is left out only when its span,
widened by the statistics' millisecond precision (`SLACK`), lies wholly outside [start, end), and a file whose
span is unknown is kept. The caller filters the window on top (`Context.in_window`), so the rows are the same.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import duckdb

from flowscope.store import reader

SLACK = dt.timedelta(milliseconds=1)
"""Delta's statistics keep timestamps to the millisecond, so a file's least and greatest `started_at` may each be
up to a millisecond from what its statistics say (delta-rs truncates; a writer that rounds would err the other
way): a file is judged by its span widened by this on both sides."""


def overlapping(spans: tuple[reader.Span | None, ...], count: int, start: dt.datetime,
                end: dt.datetime) -> list[int] | None:
    """Indexes of the `count` files whose rows may have `started_at` in [start, end), or None when that is
    every file (or the spans are not known for them all)."""
    if len(spans) != count:
        return None
    kept = [i for i, span in enumerate(spans)
            if span is None or (span[1] + SLACK > start and span[0] - SLACK < end)]
    return None if len(kept) == count else kept


class SpanViews:
    """The window views of one snapshot's connection: created on first ask, one per table and set of files,
    named `<table>__files<n>`; safe to ask from several threads (each view is created on a cursor of its own,
    so a query running on the connection does not block it)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, files: dict[str, reader.TableFiles],
                 plans: dict[str, reader.ViewPlan]) -> None:
        self._con = con
        self._files = files
        self._plans = plans
        self._views: dict[tuple[str, tuple[int, ...]], str] = {}
        self._lock = threading.Lock()

    def view(self, table: str, start: dt.datetime, end: dt.datetime) -> str | None:
        """The name of a view of `table` over the files that may hold rows started in [start, end), or None
        when the table's own view is that (every file may, or the spans are not known)."""
        snapshot = self._files.get(table)
        plan = self._plans.get(table)
        if snapshot is None or plan is None:
            return None
        kept = overlapping(snapshot.spans, len(snapshot.files), start, end)
        if kept is None:
            return None
        key = (table, tuple(kept))
        with self._lock:
            name = self._views.get(key)
            if name is None:
                name = f"{table}__files{len(self._views)}"
                part = dataclasses.replace(snapshot, files=[snapshot.files[i] for i in kept], spans=())
                cursor = self._con.cursor()
                try:
                    cursor.execute(reader.plan_view_sql(name, table, part, plan))
                finally:
                    cursor.close()
                self._views[key] = name
        return name
