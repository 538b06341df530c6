"""Every way the store writes a file (an append, a replace's merge, compaction) writes timestamps as deltas, not as
a dictionary of near-unique values, and the other columns as before; what is read back is what was written."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from flowscope.model import TABLES
from flowscope.store import Store
from tests.store.helpers import batch

WRITTEN = ("executions", "steps", "attempts", "usage")


def encodings(path: Path) -> dict[str, set[str]]:
    """Each column's encodings over the file's row groups, by column name."""
    meta = pq.ParquetFile(path).metadata
    out: dict[str, set[str]] = {}
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            col = group.column(c)
            out.setdefault(col.path_in_schema, set()).update(col.encodings)
    return out


def timestamp_columns(table: str) -> list[str]:
    return [f.name for f in TABLES[table].schema if pa.types.is_timestamp(f.type)]


def check_files(store: Store) -> int:
    """Asserts the encodings of every data file of the written tables; returns how many files it checked."""
    checked = 0
    for table in WRITTEN:
        stamps = timestamp_columns(table)
        assert stamps, table
        for path in sorted((store.path / table).glob("_p_*/*/*.parquet")):  # not the log's checkpoints
            enc = encodings(path)
            for col in stamps:
                assert "DELTA_BINARY_PACKED" in enc[col], (path, col, enc[col])
                assert not enc[col] & {"RLE_DICTIONARY", "PLAIN_DICTIONARY"}, (path, col, enc[col])
            assert "RLE_DICTIONARY" in enc["cloud"], (path, enc["cloud"])  # the rest as before
            checked += 1
    return checked


def rows(store: Store) -> dict[str, list[dict]]:
    return {t: store.sql(f"SELECT * FROM {t} ORDER BY ALL").to_dict("records") for t in WRITTEN}


def test_appends_replaces_and_compaction_write_timestamps_as_deltas(tmp_path):
    s = Store(tmp_path / "store", vacuum_retention=dt.timedelta(0))
    s.write(batch(range(0, 6)))
    s.write(batch(range(6, 12)))
    assert check_files(s) >= 8
    s.write(batch(range(0, 3), "RUNNING"))  # a replace: the merge rewrites the files holding the old rows
    assert check_files(s) >= 8
    before = rows(s)
    s.compact()
    after_compaction = check_files(s)
    assert after_compaction >= 4
    assert rows(s) == before
    # the values are the batch's own, to the microsecond
    written = batch(range(0, 1))
    stored = s.sql("SELECT started_at FROM executions WHERE execution_id = ?", [written.executions[0]["execution_id"]])
    assert stored["started_at"][0].to_pydatetime() == written.executions[0]["started_at"]
