"""Delta operations on one table, all through delta-rs: create, append, replace-by-key
(one merge commit), compact, vacuum. No hand-written Delta log handling.
"""

from __future__ import annotations

import functools
import operator
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import (
    ColumnProperties,
    CommitProperties,
    DeltaTable,
    Schema,
    WriterProperties,
    write_deltalake,
)

from flowscope.model import EXECUTION_TABLES, TABLES
from flowscope.store.errors import StoreError
from flowscope.store.faults import crash_point
from flowscope.store.fileuri import readable_files
from flowscope.store.layout import (
    delta_schema,
    partition_columns,
    with_partition_columns,
)
from flowscope.store.sqlutil import file_list, ident, literal

_TIMESTAMPS = ColumnProperties(dictionary_enabled=False, encoding="DELTA_BINARY_PACKED")
_DELETE_FLAG = "_flowscope_delete"


@dataclass
class TableWrite:
    """What one table commit did."""

    version: int
    rows_added: int
    partitions_rewritten: int


@functools.cache
def writer_properties(table: str) -> WriterProperties:
    """How a table's files are written: zstd, and its timestamps as deltas rather than a dictionary.

    A day's timestamps are near-unique microseconds: as a dictionary each file held them twice (the
    dictionary and its indices), three quarters of a steps file, and every windowed read decodes
    `started_at`. As deltas the 1M bench store is 27% smaller and a scan of 14 days' step times takes half
    the CPU (docs/store.md, "How files are written"). DuckDB, Spark 3.3+ and pyarrow read the encoding;
    files an older flowscope wrote are rewritten once by `reencode` (the `timestamps-as-deltas-1` upgrade)."""
    return WriterProperties(compression="ZSTD", column_properties=dict.fromkeys(timestamp_columns(table), _TIMESTAMPS))


def timestamp_columns(table: str) -> list[str]:
    """A model table's timestamp columns: the ones `writer_properties` writes as deltas."""
    return [f.name for f in TABLES[table].schema if pa.types.is_timestamp(f.type)]


def open_or_create(uri: str, table: str, storage_options: dict[str, str] | None) -> DeltaTable:
    if DeltaTable.is_deltatable(uri, storage_options=storage_options):
        return add_new_columns(DeltaTable(uri, storage_options=storage_options), table)
    return DeltaTable.create(uri, schema=delta_schema(table), partition_by=partition_columns(table) or None,
                             mode="ignore", name=table, storage_options=storage_options)


def add_new_columns(dt: DeltaTable, table: str) -> DeltaTable:
    """Evolve a table written by an older flowscope: add model columns it lacks (as nullable).

    Delta records the change in its log; rows written before read those columns as null.
    """
    have = {f.name for f in dt.schema().fields}
    missing = [f.with_nullable(True) for f in delta_schema(table) if f.name not in have]
    if missing:
        dt.alter.add_columns(list(Schema.from_arrow(pa.schema(missing)).fields))
        dt.update_incremental()
    return dt


def replace_keys(table: str, data: pa.Table | None, executions: pa.Table | None) -> pa.Table:
    """Distinct replace-key values a write of `data` replaces.

    For execution tables: the batch's executions plus the executions named in the table's own
    rows (so a RUNNING execution re-written as terminal loses its old steps even when the new
    batch carries fewer). For the others: the table key of each incoming row.
    """
    key = list(TABLES[table].replace_key)
    parts = [data.select(key)] if data is not None and data.num_rows else []
    if table in EXECUTION_TABLES and table != "executions" and executions is not None and executions.num_rows:
        parts.append(executions.select(key))
    if not parts:
        return pa.table({k: pa.array([], TABLES[table].schema.field(k).type) for k in key})
    keys = pa.concat_tables(parts)
    return keys.group_by(key, use_threads=False).aggregate([]).select(key)


def existing_partitions(dt: DeltaTable, table: str, keys: pa.Table) -> list[tuple]:
    """Partitions (values of TableSpec.partition_by) holding rows whose key is in `keys`, read
    from the current version with a DuckDB semi-join. Empty: nothing to replace, plain append.
    The model columns are inside the files, so this is exact, not a guess from the batch.

    Execution tables are looked up in `_KeyIndex`, which reads each file once; the other
    (small, keyed per row) tables are scanned whole."""
    files = readable_files(dt)
    if not files or not keys.num_rows:
        return []
    cols = ", ".join(ident(k) for k in keys.column_names)
    parts = ", ".join(ident(p) for p in TABLES[table].partition_by) or "1"
    con = scratch().cursor()
    try:
        con.register("incoming", keys)
        stored = None
        if table in EXECUTION_TABLES and tuple(keys.column_names) == TABLES[table].replace_key:
            stored = _key_index().keys_of(con, dt.table_uri, table, files)
        if stored is not None:
            con.register("stored", stored)
            source = "stored"
        else:
            # by name: files written before a model column was added lack it (read as null)
            source = f"read_parquet({file_list(files)}, hive_partitioning=false, union_by_name=true)"
            have = {d[0] for d in con.execute(f"SELECT * FROM {source} LIMIT 0").description}
            if not set(keys.column_names) <= have:
                return []   # a key column newer than every file: null in all stored rows, so none is equal
        return con.execute(f"SELECT DISTINCT {parts} FROM {source} SEMI JOIN incoming USING ({cols})").fetchall()
    finally:
        con.close()


_INDEXED_TABLES = 16
"""Tables (of any stores) a thread keeps indexed: a process writing to many stores stays bounded."""


class _KeyIndex:
    """The distinct (replace key, partition) pairs of each file of execution tables, read once per
    file. Delta files never change once written, so the pairs of the files the current version
    lists are exactly its keys; without this every commit read the key column of every file of
    the table again (0.17 s for 2.4M rows in 300 files, a cost that grew with the store: 10.7 us
    per imported record at 1M, 14.2 at 10M).

    Kept per file, so a file's name is held once, not on each of its rows: a column of file names
    took ~140 bytes a row, over half the index, and the index is one row per (execution, table)
    (4 rows per execution): ~0.5 GB of a writer's memory after a 1,000,000-execution demo."""

    def __init__(self) -> None:
        # (table uri, table) -> {file: its distinct key + partition rows}, in the order read
        self.pairs: dict[tuple[str, str], dict[str, pa.Table]] = {}

    def keys_of(self, con: duckdb.DuckDBPyConnection, uri: str, table: str, files: list[str]) -> pa.Table | None:
        spec = TABLES[table]
        names = [*spec.replace_key, *(p for p in spec.partition_by if p not in spec.replace_key)]
        read_before = self.pairs.pop((uri, table), {})
        known = {f: read_before[f] for f in files if f in read_before}   # files a merge or compaction removed go
        new = [f for f in files if f not in known]
        if new:
            cols = ", ".join(ident(n) for n in names)
            # DuckDB's `file_index` (the file's place in the list) groups and sorts as an integer, where
            # the file's name was a string per row (the read of a 1M-execution store's steps: 0.50 s
            # against 0.64-0.70 s, unsorted).
            read = con.sql(f"SELECT DISTINCT file_index AS _file_index, {cols} FROM read_parquet({file_list(new)}, "
                           f"hive_partitioning=false) ORDER BY _file_index").to_arrow_table()
            if read is None:
                return None
            codes = read["_file_index"].to_numpy()
            if len(codes) and int(codes[-1]) >= len(new):
                return None             # DuckDB counted files otherwise than the log: scan them all
            rows = read.select(names).combine_chunks()
            if known:
                rows = rows.cast(next(iter(known.values())).schema)
            counts = np.bincount(codes.astype(np.int64), minlength=len(new))
            starts = np.cumsum(counts) - counts
            for name, start, count in zip(new, starts.tolist(), counts.tolist(), strict=True):
                # A copy, not a slice: a slice would keep the whole read alive after its file is gone.
                known[name] = rows.take(pa.array(np.arange(start, start + count)))
        self.pairs[(uri, table)] = known
        while len(self.pairs) > _INDEXED_TABLES:               # the least recently written go first
            del self.pairs[next(iter(self.pairs))]
        return pa.concat_tables(list(known.values()))


_INDEX = threading.local()


def _key_index() -> _KeyIndex:
    """This thread's key index (a writer holds the store's lock; each writing thread keeps its own)."""
    index = getattr(_INDEX, "index", None)
    if index is None:
        index = _INDEX.index = _KeyIndex()
    return index


_SCRATCH = threading.local()


def scratch() -> duckdb.DuckDBPyConnection:
    """This thread's in-memory DuckDB for point lookups over table files (a new one costs
    ~17 ms, paid on every commit of every table otherwise). Take a cursor; register nothing on
    the connection itself."""
    con = getattr(_SCRATCH, "con", None)
    if con is None:
        con = _SCRATCH.con = duckdb.connect(":memory:")
    return con


def write_table(dt: DeltaTable, table: str, data: pa.Table | None, keys: pa.Table, write_id: str,
                storage_options: dict[str, str] | None) -> TableWrite:
    """Replace every row whose replace key is in `keys` by `data`, in ONE commit.

    When no key exists yet this is a plain append (the fast path for fresh executions);
    otherwise a merge whose source is the new rows plus one delete marker per existing key.
    """
    props = CommitProperties(custom_metadata={"flowscope.write_id": write_id})
    rows = data.num_rows if data is not None else 0
    present = existing_partitions(dt, table, keys)
    if not present:
        if rows:
            write_deltalake(dt, with_partition_columns(table, data), mode="append",
                            partition_by=partition_columns(table) or None, writer_properties=writer_properties(table),
                            commit_properties=props, storage_options=storage_options)
            dt.update_incremental()
        return TableWrite(dt.version(), rows, 0)
    _merge(dt, table, data, keys, present, props)
    dt.update_incremental()
    return TableWrite(dt.version(), rows, len(present))


def _merge(dt: DeltaTable, table: str, data: pa.Table | None, keys: pa.Table, partitions: list[tuple],
           props: CommitProperties) -> None:
    schema = delta_schema(table)
    loose = pa.schema([f.with_nullable(True) for f in schema])
    n_keys = keys.num_rows
    markers = pa.table({f.name: (keys.column(f.name) if f.name in keys.column_names
                                 else pa.nulls(n_keys, f.type)) for f in loose}).cast(loose)
    parts = [markers.append_column(_DELETE_FLAG, pa.repeat(pa.scalar(True), n_keys))]
    if data is not None and data.num_rows:
        rows = with_partition_columns(table, data).cast(loose)
        parts.append(rows.append_column(_DELETE_FLAG, pa.repeat(pa.scalar(False), rows.num_rows)))
    source = pa.concat_tables(parts)
    on = [f"s.{_DELETE_FLAG}"]
    for k in keys.column_names:
        target = f"_p_{k}" if f"_p_{k}" in schema.names else k  # partition copy lets delta-rs prune
        on.append(f"t.{ident(target)} = s.{ident(k)}")
    # only the partitions holding old rows are scanned and rewritten (the rest is pruned)
    for i, col in enumerate(TABLES[table].partition_by):
        values = sorted({str(p[i]) for p in partitions})
        on.append(f"t.{ident('_p_' + col)} IN ({', '.join(literal(v) for v in values)})")
    insert = {ident(f.name): f"s.{ident(f.name)}" for f in schema}
    (dt.merge(source, predicate=" AND ".join(on), source_alias="s", target_alias="t",
              writer_properties=writer_properties(table), commit_properties=props)
       .when_matched_delete()
       .when_not_matched_insert(insert, predicate=f"NOT s.{_DELETE_FLAG}")
       .execute())


def compact(dt: DeltaTable, table: str) -> dict[str, int]:
    """Merge small files (optimize.compact: every partition of more than one file, in one commit; a
    partition of one file is not rewritten), then checkpoint the log; returns files before/after.

    The checkpoint: optimize's commit removes and adds every file it merges, each add with its statistics as
    JSON, and every open of the table replays the log from its last checkpoint (delta-rs writes one every 100
    commits by itself). A year of daily files (1,098 a table) took 101-208 ms a table to open, 18 ms from a
    checkpoint (session 48)."""
    before = len(dt.file_uris())
    if before > 1:
        dt.optimize.compact(writer_properties=writer_properties(table))
        dt.update_incremental()
        dt.create_checkpoint()
    return {"files_before": before, "files_after": len(dt.file_uris()), "version": dt.version()}


REENCODE_ROWS = 500_000
"""Rows rewritten per commit by `reencode` (whole partitions: at least one, however large)."""


def dictionary_stamp_partitions(dt: DeltaTable, table: str) -> list[tuple[Any, ...]]:
    """The partitions (their model partition columns' values) holding a file whose timestamps are
    a dictionary: what a writer before `writer_properties` set them as deltas left. Read from the files'
    Parquet footers (one `parquet_metadata` over the table's files); a table without partition columns
    that holds such a file is one partition, `()`."""
    stamps, files = timestamp_columns(table), readable_files(dt)
    if not stamps or not files:
        return []
    cur = scratch().cursor()
    old = [row[0] for row in cur.execute(
        f"SELECT DISTINCT file_name FROM parquet_metadata({file_list(files)}) "
        f"WHERE path_in_schema IN ({', '.join(literal(c) for c in stamps)}) "
        "AND (dictionary_page_offset IS NOT NULL OR contains(encodings, 'DICTIONARY'))").fetchall()]
    if not old:
        return []
    by = TABLES[table].partition_by
    if not by:
        return [()]
    # each file's rows carry the values its partition copies (`with_partition_columns`)
    found = cur.execute(f"SELECT DISTINCT {', '.join(ident(c) for c in by)} FROM read_parquet({file_list(old)}) "
                        "ORDER BY ALL").fetchall()
    return [tuple(row) for row in found]


Held = tuple[tuple[Any, ...], int, "int | None"]
"""A partition `reencode` rewrites: its model partition values, and the files and rows the log lists under it
(rows None when a file's count is not logged)."""


def reencode_plan(dt: DeltaTable, table: str) -> list[Held]:
    """What `reencode` rewrites of a table: every partition holding a file with dictionary timestamps
    (`dictionary_stamp_partitions`), with what the log lists under it. Apart, so a caller can say how many files
    a rewrite of seconds will take before it starts. Nothing of a table holding a column the model does not know
    (none today): a rewrite never drops one."""
    known = set(delta_schema(table).names)
    partitions = [] if any(f.name not in known for f in dt.schema().fields) else dictionary_stamp_partitions(dt, table)
    if not partitions:
        return []
    actions = pa.table(dt.get_add_actions(flatten=True))
    keys = [pc.cast(actions["partition." + c], pa.string()) for c in partition_columns(table)]
    plan: list[Held] = []
    for values in partitions:
        mask = pa.array([True] * actions.num_rows)
        for key, value in zip(keys, values, strict=True):
            mask = pc.and_(mask, pc.equal(key, str(value)))
        rows = actions.filter(mask)["num_records"]
        plan.append((values, len(rows), None if rows.null_count else int(pc.sum(rows).as_py() or 0)))
    return plan


def reencode(dt: DeltaTable, table: str, plan: list[Held] | None = None) -> dict[str, int]:
    """Rewrite every partition of `plan` (default: `reencode_plan`, found now) with today's `writer_properties`:
    the same rows, whole partitions at a time, a commit per ~`REENCODE_ROWS` rows (an overwrite of exactly those
    partitions: a reader sees the old files or the new, never both or neither). Each commit's rows are counted
    against what the log lists for its partitions before it is made. Returns the files and partitions rewritten
    and the table's version after."""
    plan = reencode_plan(dt, table) if plan is None else plan
    if not plan:
        return {"files_before": 0, "partitions": 0, "version": dt.version()}
    chunk: list[tuple[Any, ...]] = []
    rows: int | None = 0
    # read at the version loaded now: each commit below rewrites only its own partitions, so the files of the
    # partitions still to come are the ones this dataset lists (one listing: a dataset per partition cost 60 ms)
    dataset = dt.to_pyarrow_dataset()
    for i, (values, _files, n_rows) in enumerate(plan):
        chunk.append(values)
        rows = None if rows is None or n_rows is None else rows + n_rows
        if rows is None or rows >= REENCODE_ROWS or i == len(plan) - 1:
            _rewrite(dt, table, dataset, chunk, rows)
            chunk, rows = [], 0
    dt.create_checkpoint()
    return {"files_before": sum(files for _, files, _ in plan), "partitions": len(plan), "version": dt.version()}


def _rewrite(dt: DeltaTable, table: str, dataset: ds.Dataset, partitions: list[tuple[Any, ...]],
             expected: int | None) -> None:
    """One overwrite commit of `partitions` (model partition values) with their own rows, read from `dataset`;
    refused (nothing committed) when the rows read are not the rows the log lists (`expected`; None when a
    file of the chunk has no count in the log: committed unchecked)."""
    columns = partition_columns(table)
    model = delta_schema(table)
    where = None
    for values in partitions:
        one = functools.reduce(operator.and_, [ds.field(c) == v for c, v in zip(columns, values, strict=True)]) \
            if columns else None
        where = one if where is None else where | one
    data = dataset.to_table(columns=[f.name for f in model if f.name not in columns], filter=where)
    data = with_partition_columns(table, data).cast(model)
    if expected is not None and data.num_rows != expected:
        raise StoreError(f"{table}: read {data.num_rows:,} rows to rewrite where its files list {expected:,}; "
                         "nothing rewritten")
    predicate = " OR ".join(
        "(" + " AND ".join(f"{ident(c)} = {literal(str(v))}" for c, v in zip(columns, values, strict=True)) + ")"
        for values in partitions) if columns else None
    write_deltalake(dt, data, mode="overwrite", predicate=predicate, partition_by=columns or None,
                    writer_properties=writer_properties(table),
                    commit_properties=CommitProperties(custom_metadata={"flowscope.rewrite": "timestamps-as-deltas"}))
    dt.update_incremental()
    crash_point(f"rewrite:{table}")


def fragmented_partitions(dt: DeltaTable, max_files: int) -> list[dict[str, str]]:
    """The partitions (their partition columns' values) holding more than `max_files` files: each
    append of a sync adds a file to the partitions it touches, and every scan pays per file."""
    actions = pa.table(dt.get_add_actions(flatten=True))
    columns = [c for c in actions.column_names if c.startswith("partition.")]
    if not columns or not actions.num_rows:
        return []
    counts = actions.select(columns).group_by(columns).aggregate([([], "count_all")])
    many = counts.filter(pc.greater(counts["count_all"], max_files)).select(columns).to_pylist()
    return [{k.removeprefix("partition."): str(v) for k, v in row.items()} for row in many]


def vacuum(dt: DeltaTable, keep_versions: list[int]) -> int:
    """Delete files no kept version references (and orphans of killed writers)."""
    removed = dt.vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False,
                        full=True, keep_versions=sorted(set(keep_versions)) or None)
    return len(removed)


def vacuum_replaced(dt: DeltaTable, folder: Path, keep_versions: list[int]) -> int:
    """Delete the files that commits removed (rows replaced by a merge) and no kept version uses;
    returns how many were on disk. Reads the log's tombstones only (no listing of the folder), and
    commits nothing when none of their files is left: a tombstone stays in the log for a week after
    its file is gone, and delta-rs lists it (and commits a vacuum) again each time."""
    kept = sorted(set(keep_versions)) or None

    def run(dry_run: bool) -> list[str]:
        return dt.vacuum(retention_hours=0, dry_run=dry_run, enforce_retention_duration=False, full=False,
                         keep_versions=kept)

    present = [f for f in run(True) if (folder / f).exists()]
    if present:
        run(False)
    return len(present)
