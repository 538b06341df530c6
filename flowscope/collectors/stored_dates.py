"""Rows an earlier flowscope stored under another start date than their execution's, moved to it once.

Every row of an execution carries its executions row's `start_date` (docs/model.md), and a run's page reads
its steps, attempts and usage from that day's files alone (`tables.execution_detail`). Writes hold the rule
since `validate.with_execution_dates`; before it, AWS's assembly kept the dates of the stored steps it merged
and Arrow writers dated their own, so an older store may hold rows the run page would silently miss. `sync`
and `import` run this once per store (`Store.upgrade_done`; `store_upgrades`, which also marks a store the demo
creates as needing none): the executions with such a row are read whole
and written back (a replace by execution, under the writer lock: every write dates the rows by their
executions row, and nothing is lost or duplicated), in chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flowscope.collectors.upgrade_once import upgrade_once
from flowscope.model import EXECUTION_TABLES, C

if TYPE_CHECKING:
    from flowscope.store import Store

STEP = "execution-dates-1"
"""The upgrade's name in the store's bookkeeping (`_flowscope/upgrades/`)."""

CHUNK = 2_000
"""Executions read and written per commit."""


def upgrade_dates(store: "Store") -> int:
    """Date every row of `store` by its execution's row, once; the number of executions rewritten."""
    def rewrite_chunk(cloud: str, ids: list[str]) -> int:
        store.write(store.read_execution_rows(cloud, ids))       # the write dates them (`with_execution_dates`)
        return len(ids)

    return upgrade_once(store, STEP, off_dated, rewrite_chunk)


def redated_line(executions: int) -> str:
    """What `sync` and `import` say after an upgrade that rewrote something."""
    return (f"moved the steps, attempts or usage of {executions:,} execution(s) stored by an earlier flowscope "
            "to their run's start date (a run's page reads that day alone)")


def off_dated(store: "Store") -> Iterator[tuple[str, list[str]]]:
    """(cloud, execution ids) in chunks: the executions with a steps, attempts or usage row under another
    start date than their executions row's. One join per table, from one snapshot; rows of an execution
    without a row (a Logic Apps trigger poll) have no date to take and are not found."""
    query = " UNION ".join(
        f"SELECT t.{C.cloud}, t.{C.execution_id} FROM {table} t JOIN executions e "
        f"ON t.{C.cloud} = e.{C.cloud} AND t.{C.execution_id} = e.{C.execution_id} "
        f"WHERE t.{C.start_date} <> e.{C.start_date}"
        for table in EXECUTION_TABLES if table != "executions")
    found = store.sql(f"SELECT * FROM ({query}) ORDER BY 1, 2")
    for cloud, group in found.groupby(C.cloud, sort=True):
        ids = group[C.execution_id].tolist()
        for start in range(0, len(ids), CHUNK):
            yield str(cloud), ids[start:start + CHUNK]
