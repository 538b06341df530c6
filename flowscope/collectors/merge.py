"""The one rule by which two records of the same execution, step or attempt become one row.

A terminal status never goes back to RUNNING (unless a later redrive started a new life), so
files may come in any order and a stale snapshot never undoes a finished one. Used by the
cross-batch assembly (`collectors/assemble.py`) and by every cloud's `transform/assemble.py`;
it knows no cloud, so the clouds can use it without reaching back into the assembly.
"""

from __future__ import annotations

from typing import Any

from flowscope.model import TERMINAL_STATUSES, C

Row = dict[str, Any]


STATE_COLUMNS = frozenset({
    C.status, C.native_status, C.ended_at, C.duration_ms, C.error, C.cause, C.billed_duration_ms,
    C.output_bytes, C.event_count, C.attributes, C.attempts,
})
"""Columns that describe a record's state at the time it was read: taken from the losing row of
`merge_rows` only when both rows are in the same state (both running or both finished)."""
DISPLAY_COLUMNS = (C.workflow_name, C.name)
"""Names shown to people. Ids may be normalised (Azure ARM ids are lower-cased), names are not:
of two spellings that differ only in case, the one carrying upper-case letters is the original."""
_FRESHNESS = (C.collected_at, C.ended_at, C.duration_ms)


def _life(row: Row) -> tuple[int, bool]:
    """(redrive count, finished): a redrive starts a later life of the same execution."""
    return int(row.get(C.redrive_count) or 0), row.get(C.status) in TERMINAL_STATUSES


def is_newer(old: Row, new: Row) -> bool:
    """Whether `new` is the better record of the same execution, step or attempt than `old`.

    A finished record beats a running one (unless the running one is a later redrive); between
    two in the same state, the later snapshot wins (collected later, ended later, ran longer),
    then the more complete one, and on a full tie the incoming `new` one, as a re-collection
    replaces what was stored.
    """
    old_life, new_life = _life(old), _life(new)
    if old_life != new_life:
        return new_life > old_life
    for column in _FRESHNESS:
        a, b = old.get(column), new.get(column)
        if a is not None and b is not None and a != b:
            return bool(b > a)
    filled_old, filled_new = _filled(old), _filled(new)
    return filled_new >= filled_old


def _filled(row: Row) -> int:
    return sum(value is not None for value in row.values())


def display_name(winner: Any, loser: Any) -> Any:
    """Of two spellings of one name that differ only in case, the original (the one with capitals)."""
    if isinstance(winner, str) and isinstance(loser, str) and winner != loser \
            and winner.lower() == loser.lower() and winner == winner.lower():
        return loser
    return winner


def merge_rows(old: Row, new: Row) -> Row:
    """Two records of the same key as one row: the newer one (`is_newer`), completed by the other.

    Columns the winner lacks are taken from the other row, state columns (`STATE_COLUMNS`) only
    when both rows are in the same state of the same life, so a finished row never takes a running
    one's elapsed time, and a redriven run that succeeded never takes its failed first life's
    error; display names keep their original case (`DISPLAY_COLUMNS`).
    """
    winner, loser = (new, old) if is_newer(old, new) else (old, new)
    same_state = _life(winner) == _life(loser)
    merged = dict(winner)
    for column, value in loser.items():
        if value is not None and merged.get(column) is None and (same_state or column not in STATE_COLUMNS):
            merged[column] = value
    for column in DISPLAY_COLUMNS:
        if column in merged:
            merged[column] = display_name(merged[column], loser.get(column))
    return merged
