"""Turn a Batch into one Arrow table per model table, or refuse it before anything is written.

Rows may be plain dicts (the Batch contract) or, for bulk producers, a pyarrow Table /
RecordBatch / pandas DataFrame in the same field: the Arrow path skips the per-row Python
conversion, which is what makes million-row appends fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from flowscope.model import COLUMN_VALUES, EXECUTION_TABLES, TABLES, Batch, C
from flowscope.store.errors import StoreError
from flowscope.textsafety import SECRET_RULES, json_text_without_secrets

_CONVERSION_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError,
                      TypeError, ValueError, OverflowError)

# Enum-valued columns checked on write: a typo here would silently split groups downstream.
def batch_tables(batch: Batch | Mapping[str, Any]) -> dict[str, Any]:
    """The non-empty row collections of a Batch (or a {table: rows} mapping), by table name."""
    if isinstance(batch, Batch):
        items: Iterable[tuple[str, Any]] = ((name, getattr(batch, name)) for name in TABLES)
    elif isinstance(batch, Mapping):
        items = batch.items()
    else:
        raise StoreError(f"expected a Batch or a mapping of table -> rows, got {type(batch).__name__}")
    out: dict[str, Any] = {}
    for name, rows in items:
        if name not in TABLES:
            raise StoreError(f"unknown table {name!r} (model tables: {', '.join(TABLES)})")
        if rows is None or len(rows) == 0:
            continue
        out[name] = rows
    return out


def validate_batch(batch: Batch | Mapping[str, Any]) -> dict[str, pa.Table]:
    """Validated Arrow tables with the exact model schema, deduplicated where the key allows, each row of an
    execution written with its executions row dated as it is (`with_execution_dates`)."""
    return with_execution_dates({name: validate_rows(name, rows) for name, rows in batch_tables(batch).items()})


def with_execution_dates(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """`tables` with every steps, attempts and usage row whose execution's row is in the batch taking that row's
    `start_date`: the model's rule (docs/model.md), which every write passes here.

    Why: the store partitions an execution's rows by it, and a run's reads open its day alone
    (`tables.execution_detail`); a row of another date would be in files such a read never opens. The clouds'
    assemblies date the rows they make from the run's, but AWS's keeps the dates of the steps it merges (a merge
    that moved a run's start would leave its stored steps on the old date), and a writer of Arrow tables (the
    demo's clones, the benchmarks, a notebook) dates its own. A row whose execution is not in the batch keeps its
    date: every flowscope writer writes an execution's rows with its row (`collectors.assemble` merges the stored
    ones in; a write of the row alone deletes the others, `delta.replace_keys`), and rows without one (a Logic
    Apps trigger poll) have no row to be read by."""
    executions = tables.get("executions")
    if executions is None or not executions.num_rows:
        return tables
    keys = _execution_keys(executions)
    dates = executions.column(C.start_date)
    out = dict(tables)
    for name in EXECUTION_TABLES:
        rows = tables.get(name)
        if name == "executions" or rows is None or not rows.num_rows:
            continue
        at = pc.index_in(_execution_keys(rows), value_set=keys)
        theirs = pc.if_else(pc.is_null(at), rows.column(C.start_date), pc.take(dates, at))
        if not pc.all(pc.equal(theirs, rows.column(C.start_date))).as_py():
            index = rows.schema.get_field_index(C.start_date)
            out[name] = rows.set_column(index, rows.schema.field(index), theirs)
    return out


def _execution_keys(rows: pa.Table) -> pa.ChunkedArray:
    """(cloud, execution_id) of each row as one string: the execution a row belongs to (`TableSpec.replace_key`)."""
    return pc.binary_join_element_wise(rows.column(C.cloud), rows.column(C.execution_id), "\x1f")


def validate_rows(table: str, rows: Any) -> pa.Table:
    """One table's rows -> Arrow with the model schema; StoreError names table, column, row."""
    schema = TABLES[table].schema
    loose = pa.schema([f.with_nullable(True) for f in schema])
    if isinstance(rows, (pa.Table, pa.RecordBatch)) or hasattr(rows, "to_numpy"):
        data = _from_arrow(table, rows, loose)
    else:
        data = _from_dicts(table, rows, loose)
    for f in schema:
        col = data.column(f.name)
        if not f.nullable and col.null_count:
            row = pc.index(pc.is_null(col), True).as_py()
            raise StoreError(f"{table}: column {f.name!r} must not be null (first offending row {row})")
        allowed = COLUMN_VALUES.get((table, f.name))
        if allowed is not None:
            bad = pc.invert(pc.is_in(col, value_set=pa.array(sorted(allowed)), skip_nulls=True))
            bad = pc.and_kleene(bad, pc.is_valid(col))
            if pc.any(bad).as_py():
                row = pc.index(bad, True).as_py()
                raise StoreError(f"{table}: column {f.name!r} has {col[row].as_py()!r}, not one of "
                                 f"{sorted(allowed)} (first offending row {row})")
    data = without_secrets(data.cast(schema))
    if table == "executions" or table not in EXECUTION_TABLES:
        data = dedupe_last(data, TABLES[table].key)
    return data


SECRET_COLUMNS = (C.error, C.cause)
"""Text a cloud wrote about a failure: it quotes the URL that failed, with its signature or key
(`textsafety.SECRET_RULES`), and what the store keeps is shown in reports, exports and chat."""


SECRET_JSON_COLUMNS = (C.details,)
"""JSON objects holding such texts: a collection run's per-item errors and warnings (what an SDK said
about the URL it called), cleaned string by string (`json_without_secrets`)."""


def without_secrets(data: pa.Table) -> pa.Table:
    """Every write's error texts without the credentials they quote (a Logic Apps callback URL's `sig`,
    an Azure Functions `code`, a bearer token), in bulk (RE2, in C) and for every writer alike."""
    for name in SECRET_JSON_COLUMNS:
        index = data.schema.get_field_index(name)
        if index >= 0 and data.column(index).null_count < data.num_rows:
            texts = [None if t is None else json_text_without_secrets(t) for t in data.column(index).to_pylist()]
            data = data.set_column(index, data.field(index), pa.array(texts, data.field(index).type))
    for name in SECRET_COLUMNS:
        index = data.schema.get_field_index(name)
        if index < 0:
            continue
        col = data.column(index)
        if col.null_count == len(col):
            continue
        for pattern, replacement in SECRET_RULES:
            col = pc.replace_substring_regex(col, pattern=pattern, replacement=replacement)
        data = data.set_column(index, data.field(index), col)
    return data


def dedupe_last(data: pa.Table, key: tuple[str, ...]) -> pa.Table:
    """Keep the last row per key: a batch that repeats a row means 'the later one wins'."""
    if data.num_rows < 2:
        return data
    keyed = data.select(list(key)).append_column("_i", pa.array(range(data.num_rows), pa.int64()))
    last = keyed.group_by(list(key), use_threads=False).aggregate([("_i", "max")])
    if last.num_rows == data.num_rows:
        return data
    return data.take(pc.sort_indices(last["_i_max"]))


def _from_arrow(table: str, rows: Any, loose: pa.Schema) -> pa.Table:
    data = pa.Table.from_pandas(rows, preserve_index=False) if hasattr(rows, "to_numpy") else rows
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    unknown = [n for n in data.column_names if n not in loose.names]
    if unknown:
        raise StoreError(f"{table}: unknown column {unknown[0]!r} (row 0)")
    columns = []
    for f in loose:
        if f.name not in data.column_names:
            columns.append(pa.nulls(data.num_rows, f.type))
            continue
        col = data.column(f.name)
        if not _compatible(col.type, f.type):
            raise StoreError(f"{table}: column {f.name!r} expects {f.type}, got {col.type} (row 0)")
        try:
            columns.append(col if col.type == f.type else pc.cast(col, f.type))
        except _CONVERSION_ERRORS as exc:
            row = _first_bad_arrow_value(col, f.type)
            raise StoreError(f"{table}: column {f.name!r} expects {f.type}, got {col.type} "
                             f"(first offending row {row}: {exc})") from exc
    return pa.Table.from_arrays(columns, schema=loose)


def _from_dicts(table: str, rows: Any, loose: pa.Schema) -> pa.Table:
    rows = rows if isinstance(rows, list) else list(rows)
    names = set(loose.names)
    seen: set[str] = set()
    try:
        for r in rows:
            seen.update(r)
    except TypeError:
        row = next(i for i, r in enumerate(rows) if not isinstance(r, Mapping))
        raise StoreError(f"{table}: row {row} is a {type(rows[row]).__name__}, not a mapping") from None
    unknown = seen - names
    if unknown:
        col = sorted(unknown)[0]
        row = next(i for i, r in enumerate(rows) if col in r)
        raise StoreError(f"{table}: unknown column {col!r} (first offending row {row})")
    try:
        return pa.Table.from_pylist(rows, schema=loose)
    except _CONVERSION_ERRORS as exc:
        for f in loose:
            try:
                pa.array([r.get(f.name) for r in rows], type=f.type)
            except _CONVERSION_ERRORS:
                for i, r in enumerate(rows):
                    try:
                        pa.array([r.get(f.name)], type=f.type)
                    except _CONVERSION_ERRORS as inner:
                        value = r.get(f.name)
                        raise StoreError(f"{table}: column {f.name!r} expects {f.type}, got "
                                         f"{type(value).__name__} {value!r:.80} (first offending "
                                         f"row {i}: {inner})") from inner
        raise StoreError(f"{table}: rows do not match the model schema: {exc}") from exc


def _kind(typ: pa.DataType) -> str:
    if pa.types.is_null(typ):
        return "null"
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_string_view(typ):
        return "string"
    if pa.types.is_integer(typ):
        return "integer"
    if pa.types.is_floating(typ):
        return "float"
    if pa.types.is_timestamp(typ):
        return "timestamp"
    if pa.types.is_date(typ):
        return "date"
    if pa.types.is_dictionary(typ):
        return _kind(typ.value_type)
    return str(typ)


def _compatible(src: pa.DataType, dst: pa.DataType) -> bool:
    """Arrow casts that cannot change meaning (int32 -> int64, string views, timestamp units);
    refuses e.g. int -> string, which pyarrow would happily do."""
    a, b = _kind(src), _kind(dst)
    return a == b or a == "null" or (a, b) == ("integer", "float")


def _first_bad_arrow_value(col: pa.ChunkedArray, typ: pa.DataType) -> int | None:
    flat = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    for i in range(len(flat)):
        try:
            pc.cast(flat.slice(i, 1), typ)
        except _CONVERSION_ERRORS:
            return i
    return None
