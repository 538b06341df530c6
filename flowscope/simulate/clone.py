"""The demo's fast path for big volumes: ordinary executions as copies of native ones, in Arrow.

A chunk's native documents go through the transforms and the assembly like live data; its
`Clone`s then copy the finished rows of their template (a native execution of the same workflow
and chunk, outside every anomaly window) under a new execution id and name, every timestamp
shifted to the clone's start. A copy keeps its template's path, durations, retries, outcome and
billed quantities, so the measures' distributions stay those of the native sample; it costs no
Python object per row. Pure: tables in, tables out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flowscope.model import EXECUTION_TABLES, C
from flowscope.simulate.base import Clone

_DAY_US = 86_400_000_000
_SHIFTED = (C.started_at, C.ended_at)


def renamed(execution_id: str, old: str, new: str) -> str:
    """The template's id with its name replaced (ids may be lower-cased copies of the name)."""
    if old in execution_id:
        return execution_id.replace(old, new)
    if old.lower() in execution_id:
        return execution_id.replace(old.lower(), new.lower())
    raise ValueError(f"execution id {execution_id!r} does not contain its name {old!r}")


def _shift(column: pa.ChunkedArray | pa.Array, shift: np.ndarray) -> pa.Array:
    moved = pc.add(column.cast(pa.int64()), pa.array(shift, pa.int64()))
    return moved.cast(column.type)


def _set(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), table.schema.field(name), values)


def clone_tables(tables: dict[str, pa.Table], clones: Sequence[Clone]) -> dict[str, pa.Table]:
    """`tables` (the execution tables of one chunk) with the rows of every clone appended."""
    if not clones:
        return tables
    executions = tables["executions"]
    where = {name: i for i, name in enumerate(executions.column(C.name).to_pylist())}
    missing = sorted({c.template for c in clones} - where.keys())
    if missing:
        raise ValueError(f"{len(missing)} clone template(s) are not native executions of the chunk, "
                         f"e.g. {missing[0]!r}")
    rows = np.fromiter((where[c.template] for c in clones), dtype=np.int64, count=len(clones))
    template_ids = executions.column(C.execution_id).to_pylist()
    new_ids = [renamed(template_ids[r], c.template, c.name) for r, c in zip(rows.tolist(), clones, strict=True)]
    start_us = np.fromiter((c.start_us for c in clones), dtype=np.int64, count=len(clones))
    template_start = executions.column(C.started_at).cast(pa.int64()).to_numpy()
    shift = start_us - template_start[rows]
    start_date = pa.array((start_us // _DAY_US).astype(np.int32), pa.int32()).cast(pa.date32())

    copied = executions.take(pa.array(rows))
    copied = _set(copied, C.execution_id, pa.array(new_ids, pa.string()))
    copied = _set(copied, C.name, pa.array([c.name for c in clones], pa.string()))
    for column in _SHIFTED:
        copied = _set(copied, column, _shift(copied.column(column), shift))
    copied = _set(copied, C.start_date, start_date)
    # The template's JSON attributes name the template and its times: a copy has none of its own.
    copied = _set(copied, C.attributes, pa.nulls(len(clones), pa.string()))
    out = dict(tables)
    out["executions"] = pa.concat_tables([executions, copied])

    # Child rows: each template's rows, once per clone of it, in clone order.
    template_index = pa.array(template_ids, pa.string())
    for name in EXECUTION_TABLES:
        if name == "executions" or name not in tables:
            continue
        child = tables[name]
        # rows of an execution without its execution row (none in a simulated chunk) sort last
        owner = pc.fill_null(pc.index_in(child.column(C.execution_id), value_set=template_index),
                             len(template_ids)).to_numpy()
        order = np.argsort(owner, kind="stable")
        counts = np.bincount(owner, minlength=len(template_ids) + 1)[:len(template_ids)]
        offsets = np.concatenate(([0], np.cumsum(counts)))
        per_clone = counts[rows]
        total = int(per_clone.sum())
        if not total:
            continue
        clone_of_row = np.repeat(np.arange(len(clones)), per_clone)
        within = np.arange(total) - np.repeat(np.cumsum(per_clone) - per_clone, per_clone)
        take = order[offsets[rows][clone_of_row] + within]
        part = child.take(pa.array(take))
        part = _set(part, C.execution_id, pa.array(new_ids, pa.string()).take(pa.array(clone_of_row)))
        for column in _SHIFTED:
            if column in part.column_names:
                part = _set(part, column, _shift(part.column(column), shift[clone_of_row]))
        part = _set(part, C.start_date, start_date.take(pa.array(clone_of_row)))
        out[name] = pa.concat_tables([child, part])
    return out


__all__ = ["clone_tables", "renamed"]
