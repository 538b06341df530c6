"""Simulated native documents written out as the files a user exports, and stored rows compared."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from flowscope.model import TABLES, UTC, C, Cloud
from flowscope.simulate.base import SimSpec
from flowscope.simulate.demo import simulate_cloud

END = dt.datetime(2026, 11, 20, tzinfo=UTC)
IGNORED = {C.source, C.collected_at}
"""Columns that say how a row arrived, not what it is."""


def small_sim(cloud: Cloud, executions: int = 60, seed: int = 3):
    return simulate_cloud(cloud, SimSpec(start=END - dt.timedelta(days=2), end=END,
                                         executions=executions, seed=seed))


def write_documents(folder: Path, documents: list[tuple[str, Any]]) -> list[Path]:
    """One file per document: JSON Lines for log records, JSON otherwise."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, (fmt, doc) in enumerate(documents):
        if fmt == "aws.log_records":
            path = folder / f"{index:04d}-{fmt}.jsonl"
            path.write_text("\n".join(json.dumps(record) for record in doc) + "\n")
        else:
            path = folder / f"{index:04d}-{fmt}.json"
            path.write_text(json.dumps(doc))
        paths.append(path)
    return paths


def table_rows(store, table: str) -> list[tuple]:
    """Every row of a table as sorted tuples, without provenance columns."""
    columns = [c for c in TABLES[table].schema.names if c not in IGNORED]
    frame = store.sql(f"SELECT {', '.join(columns)} FROM {table}")
    rows = [tuple(None if _isna(v) else v for v in row) for row in frame.itertuples(index=False)]
    return sorted(rows, key=repr)


def _isna(value: Any) -> bool:
    try:
        return value != value or value is None  # NaN / NaT / None
    except (TypeError, ValueError):
        return False
