"""Read a store snapshot with an in-memory DuckDB: one view per model table over the Parquet
files of the table version named by the manifest.

Never a shared DuckDB database file (DuckDB locks it to one process). Views select exactly the
model columns in schema order, cast to the model types, so the derived partition columns and
any Delta writer quirks stay invisible; a table never written is an empty view of its schema.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa
from deltalake import DeltaTable

from flowscope.model import TABLES
from flowscope.store.layout import Layout
from flowscope.store.manifest import Manifest
from flowscope.store.sqlutil import file_list, ident

_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE",
    pa.date32(): "DATE",
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
}


def duck_type(typ: pa.DataType) -> str:
    try:
        return _DUCK_TYPES[typ]
    except KeyError:
        raise TypeError(f"no DuckDB type mapped for Arrow {typ}") from None


@dataclass(frozen=True)
class TableFiles:
    """A table's Parquet files at one version, and the columns that version's schema has."""

    files: list[str]
    columns: frozenset[str]


def snapshot_files(layout: Layout, manifest: Manifest,
                   storage_options: dict[str, str] | None) -> dict[str, TableFiles]:
    """Parquet files of each table at the manifest's version (no files: no data)."""
    files: dict[str, TableFiles] = {}
    for table in TABLES:
        version = manifest.versions.get(table)
        if version is None:
            files[table] = TableFiles([], frozenset())
            continue
        dt = DeltaTable(layout.table_uri(table), version=version, storage_options=storage_options)
        files[table] = TableFiles(dt.file_uris(), frozenset(f.name for f in dt.schema().fields))
    return files


def view_sql(table: str, snapshot: TableFiles) -> str:
    """Model columns in schema order; a column the stored version lacks (written by an older
    flowscope, before the model gained it) reads as null, and files are unioned by name."""
    schema = TABLES[table].schema
    if not snapshot.files:
        cols = ", ".join(f"CAST(NULL AS {duck_type(f.type)}) AS {ident(f.name)}" for f in schema)
        return f"CREATE VIEW {ident(table)} AS SELECT {cols} LIMIT 0"
    cols = ", ".join(
        f"CAST({ident(f.name) if f.name in snapshot.columns else 'NULL'} AS {duck_type(f.type)}) AS {ident(f.name)}"
        for f in schema)
    return (f"CREATE VIEW {ident(table)} AS SELECT {cols} FROM "
            f"read_parquet({file_list(snapshot.files)}, hive_partitioning=false, union_by_name=true)")


def connect(files: dict[str, TableFiles]) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB (UTC) with one view per model table."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    for table in TABLES:
        con.execute(view_sql(table, files.get(table, TableFiles([], frozenset()))))
    return con
