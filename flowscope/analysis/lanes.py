"""The analyses in two lanes over one snapshot: a second thread on a second cursor of the same DuckDB.

Why: an analysis run is a chain of engine queries with Python between them (building and compiling
Ibis expressions, pandas and numpy over the small results). While Python runs, DuckDB's threads
idle, and while DuckDB runs, Python waits. Two lanes let one lane's Python run beside the other's
queries. Findings are the same (every analysis reads the same snapshot and the context's shared
results, `Context.cached`, are computed once whichever lane asks first); only the wall time falls.

DuckDB refuses a second call on a connection that is busy, so the second lane runs its queries on
its own cursor (a connection to the same in-memory database: the snapshot's views and cached
footers are shared). `base.execute` asks `backend()` which backend the calling thread runs on. Any
other engine (Spark) runs the analyses in one lane, as before.

A lane that ends with an exception ends the run with it, never with the other lane's findings
alone: a failed analysis is not "no findings". When the first lane is interrupted (the dashboard's
worker preempting a window computed ahead of time), the second stops at its next query, its running
query interrupted, so the preemption is as prompt as with one lane.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import ibis.expr.types as ir

T = TypeVar("T")

_lane = threading.local()


class LaneStopped(Exception):
    """The second lane was told to stop because the first ended early; never reaches a caller."""


class _Lane:
    """The second lane's backend, its cursor and the flag that stops it."""

    def __init__(self, backend: Any, cursor: Any) -> None:
        self.backend = backend
        self.cursor = cursor
        self.stop = threading.Event()

    def halt(self) -> None:
        """Stop the lane: no new query starts, and the running one is interrupted."""
        self.stop.set()
        try:
            self.cursor.interrupt()
        except Exception:  # noqa: BLE001 - a cursor with nothing running or already closed: nothing to stop
            pass


def backend() -> Any | None:
    """The Ibis backend the calling thread's queries run on: the second lane's, or None (the tables' own).
    Raises LaneStopped when the lane has been told to stop."""
    lane: _Lane | None = getattr(_lane, "current", None)
    if lane is None:
        return None
    if lane.stop.is_set():
        raise LaneStopped("the other lane of the analyses ended early")
    return lane.backend


def second_lane(tables: Mapping[str, ir.Table]) -> _Lane | None:
    """A second lane over the same DuckDB database as `tables`, or None where there is none to have:
    another engine, tables of several backends, or tables a cursor cannot see (Arrow data registered on
    one connection is that connection's alone; the store's views belong to the database)."""
    import ibis
    import ibis.expr.operations as ops

    backends = {id(b): b for b in (t._find_backend() for t in tables.values())}
    if len(backends) != 1:
        return None
    (own,) = backends.values()
    con: Any = getattr(own, "con", None)
    if getattr(own, "name", None) != "duckdb" or not hasattr(con, "cursor"):
        return None
    wanted = {node.name for t in tables.values() for node in t.op().find(ops.DatabaseTable)}
    cursor = con.cursor()
    seen = {name for (name,) in cursor.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal UNION ALL SELECT table_name FROM duckdb_tables()"
    ).fetchall()}
    if not wanted <= seen:
        cursor.close()
        return None
    cursor.execute("SET TimeZone = 'UTC'")
    return _Lane(ibis.duckdb.from_connection(cursor), cursor)


@contextmanager
def _on(lane: _Lane) -> Iterator[None]:
    _lane.current = lane
    try:
        yield
    finally:
        _lane.current = None


def run_two(first: Callable[[], T], second: Callable[[], T], lane: _Lane | None) -> tuple[T, T]:
    """`first()` in this thread and `second()` in another on `lane`'s cursor; (first's, second's) result.
    Without a lane both run here, one after the other.

    An exception of either is raised once both have ended (the first's when both fail). The first ending
    early, by an exception or an interruption (a BaseException such as the dashboard's preemption, even
    while it waits for the second), halts the second at once."""
    if lane is None:
        return first(), second()

    def in_lane() -> T:
        with _on(lane):
            return second()

    pool = ThreadPoolExecutor(1, thread_name_prefix="flowscope-lane")
    try:
        pending = pool.submit(in_lane)
        try:
            mine = first()
            theirs = pending.result()
        except BaseException:
            lane.halt()
            raise
    finally:
        pool.shutdown(wait=True)     # the cursor is closed only once the lane has left it
        lane.cursor.close()
    return mine, theirs


def run_lanes(calls: Sequence[Callable[[], list[T]]], in_second: Sequence[bool], lane: _Lane | None) -> list[T]:
    """Every call's results, in the order of `calls` (the list one lane gives); the calls flagged
    `in_second` run in the second lane."""
    def each(second: bool) -> Callable[[], list[list[T]]]:
        return lambda: [call() if flag == second else [] for call, flag in zip(calls, in_second, strict=True)]

    mine, theirs = run_two(each(False), each(True), lane)
    return [x for a, b, flag in zip(mine, theirs, in_second, strict=True) for x in (b if flag else a)]
