"""Read a store snapshot with an in-memory DuckDB: one view per model table over the Parquet
files of the table version named by the manifest.

Never a shared DuckDB database file (DuckDB locks it to one process). Views select exactly the
model columns in schema order, cast to the model types, so the derived partition columns and
any Delta writer quirks stay invisible; a table never written is an empty view of its schema.
"""

from __future__ import annotations

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


def snapshot_files(layout: Layout, manifest: Manifest,
                   storage_options: dict[str, str] | None) -> dict[str, list[str]]:
    """Parquet files of each table at the manifest's version (empty list: no data)."""
    files: dict[str, list[str]] = {}
    for table in TABLES:
        version = manifest.versions.get(table)
        if version is None:
            files[table] = []
            continue
        dt = DeltaTable(layout.table_uri(table), version=version, storage_options=storage_options)
        files[table] = dt.file_uris()
    return files


def view_sql(table: str, files: list[str]) -> str:
    schema = TABLES[table].schema
    if not files:
        cols = ", ".join(f"CAST(NULL AS {duck_type(f.type)}) AS {ident(f.name)}" for f in schema)
        return f"CREATE VIEW {ident(table)} AS SELECT {cols} LIMIT 0"
    cols = ", ".join(f"CAST({ident(f.name)} AS {duck_type(f.type)}) AS {ident(f.name)}" for f in schema)
    return (f"CREATE VIEW {ident(table)} AS SELECT {cols} FROM "
            f"read_parquet({file_list(files)}, hive_partitioning=false)")


def connect(files: dict[str, list[str]]) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB (UTC) with one view per model table."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    for table in TABLES:
        con.execute(view_sql(table, files.get(table, [])))
    return con
