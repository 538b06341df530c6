"""Which executions of a batch are already stored exactly as they would be written, and the count of
new / changed / unchanged executions over an import (`_Tally`).

One job: comparing a batch with the stored rows the assembly read (fingerprints of every execution table),
so the writer (`import_writer`) leaves unchanged executions out and a re-import changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from flowscope.collectors.import_result import ImportResult
from flowscope.collectors.registry import transforms_for
from flowscope.model import EXECUTION_TABLES, TABLES, Batch, C, to_arrow

_IGNORED = frozenset({C.collected_at})
"""When an import read a record says nothing about the execution: not a change."""

ExecKey = tuple[str, str]


def _fingerprints(rows_by_table: dict[str, list[dict[str, Any]]]) -> dict[ExecKey, Counter]:
    """(cloud, execution_id) -> its rows in every execution table, as the store would hold them."""
    from flowscope.store.validate import without_secrets  # the store's own rule for what it keeps

    prints: dict[ExecKey, Counter] = {}
    for table in EXECUTION_TABLES:
        rows = rows_by_table.get(table) or []
        if not rows:
            continue
        names = [f.name for f in TABLES[table].schema if f.name not in _IGNORED]
        for row in without_secrets(to_arrow(table, rows)).select(names).to_pylist():
            key = (row[C.cloud], row[C.execution_id])
            prints.setdefault(key, Counter())[(table, *row.values())] += 1
    return prints


def _execution_keys(batch: Batch) -> set[ExecKey]:
    return {(row[C.cloud], row[C.execution_id]) for table in EXECUTION_TABLES for row in batch.rows(table)}


@dataclass
class _Tally:
    """Executions seen new / changed / unchanged over every write of one import."""

    new: set[ExecKey] = field(default_factory=set)
    changed: set[ExecKey] = field(default_factory=set)
    unchanged: set[ExecKey] = field(default_factory=set)
    with_run: set[ExecKey] = field(default_factory=set)      # an execution row written or already stored
    runless: set[ExecKey] = field(default_factory=set)       # steps, attempts or usage only, so far
    polls: set[ExecKey] = field(default_factory=set)         # ids that never get a run (`_has_no_run`)

    def settle(self, result: ImportResult) -> None:
        """An execution written twice by one import (read again after a late record) counts once. Ids
        that never get a run (Logic Apps trigger polls that fired nothing) are counted apart, not as
        executions: "12,345 new executions" read of an export with 10,000 polls and 2,345 runs."""
        polls = self.polls
        result.new_executions = len(self.new - polls)
        result.changed_executions = len(self.changed - self.new - polls)
        result.unchanged_executions = len(self.unchanged - self.new - self.changed - polls)
        result.runless_executions = len(self.runless - self.with_run)
        result.trigger_polls = len(polls)


def _drop_unchanged(batch: Batch, stored: dict[ExecKey, Counter], tally: _Tally, imported: set[ExecKey]) -> None:
    """Leave executions already stored exactly as they would be written out of the batch, and count
    new / changed / unchanged executions of the files (`imported`): a re-import of the same file
    then writes nothing. Stored executions re-assembled because their workflow arrived count too
    when they changed, not otherwise. `stored`: fingerprints of the stored rows `assemble_batch`
    read for this batch; only executions found there are fingerprinted again."""
    keys = _execution_keys(batch)
    overlap = keys & stored.keys()
    has_run = {(row[C.cloud], row[C.execution_id]) for row in batch.executions}
    has_run |= {key for key in overlap if any(entry[0] == "executions" for entry in stored[key])}
    tally.with_run |= has_run
    polls = {key for key in keys - has_run if _has_no_run(key)}
    tally.polls |= polls
    tally.runless |= keys - has_run - polls
    incoming = _fingerprints({table: [row for row in batch.rows(table)
                                      if (row[C.cloud], row[C.execution_id]) in overlap]
                              for table in EXECUTION_TABLES}) if overlap else {}
    unchanged = {key for key in overlap if incoming.get(key) == stored[key]}
    tally.unchanged |= unchanged & imported
    tally.new |= keys - overlap
    tally.changed |= overlap - unchanged
    if unchanged:
        for table in EXECUTION_TABLES:
            setattr(batch, table, [row for row in batch.rows(table)
                                   if (row[C.cloud], row[C.execution_id]) not in unchanged])


def _has_no_run(key: ExecKey) -> bool:
    """An execution id its cloud says never gets a run record (`HAS_NO_RUN`: Logic Apps trigger polls)."""
    has_no_run = getattr(transforms_for(key[0]), "HAS_NO_RUN", None)
    return has_no_run is not None and has_no_run(key[1])
