"""Where things live in a store folder and how model tables map onto Delta tables.

Delta strips partition columns out of the Parquet files, and our readers go straight to the
files, so every table is partitioned by *derived* copies (`_p_<column>`) of its
`TableSpec.partition_by` columns: the model columns all stay inside the files.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from flowscope.model import TABLES

PARTITION_PREFIX = "_p_"
META_DIR = "_flowscope"


def partition_columns(table: str) -> list[str]:
    """Derived partition column names of a model table, e.g. ['_p_cloud', '_p_start_date']."""
    return [PARTITION_PREFIX + col for col in TABLES[table].partition_by]


def delta_schema(table: str) -> pa.Schema:
    """Model schema plus the derived partition columns (what the Delta table holds)."""
    schema = TABLES[table].schema
    for col in TABLES[table].partition_by:
        schema = schema.append(pa.field(PARTITION_PREFIX + col, schema.field(col).type, nullable=False))
    return schema


def with_partition_columns(table: str, data: pa.Table) -> pa.Table:
    """Add the derived partition columns (zero-copy: same arrays under a second name)."""
    for col in TABLES[table].partition_by:
        data = data.append_column(pa.field(PARTITION_PREFIX + col, data.schema.field(col).type,
                                           nullable=False), data.column(col))
    return data


class Layout:
    """Paths of one store: a Delta table per model table, plus `_flowscope/` bookkeeping."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.meta = root / META_DIR
        self.lock_file = self.meta / "lock"
        self.manifest_dir = self.meta / "manifest"
        self.staging_dir = self.meta / "staging"
        self.intent_file = self.meta / "intent.json"
        self.upgrades_dir = self.meta / "upgrades"

    def table_uri(self, table: str) -> str:
        return str(self.root / table)

    def table_exists(self, table: str) -> bool:
        return (self.root / table / "_delta_log").is_dir()
