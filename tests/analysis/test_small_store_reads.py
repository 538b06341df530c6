"""Cheaper reads on small stores (issue 15): a table whose Parquet files share their columns is read
without `union_by_name` (binding a query then reads one footer, not every file's) and gives the
same rows; a table whose schema evolved keeps it. Samples taken from rows already read
(`top_ids`) are the engine's picks (`sample_ids`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flowscope.analysis.base import sample_ids, top_ids
from flowscope.model import TABLES, UTC, C, to_arrow
from flowscope.store import reader

T = dt.datetime(2026, 3, 1, tzinfo=UTC)


def _executions(n: int, start: int = 0) -> pa.Table:
    return to_arrow("executions", [
        {C.cloud: "aws", C.workflow_id: f"wf{i % 3}", C.execution_id: f"e{start + i}", C.workflow_name: "w",
         C.status: "SUCCEEDED", C.started_at: T + dt.timedelta(minutes=start + i), C.start_date: T.date(),
         C.duration_ms: 1000 + i}
        for i in range(n)])


def _write(table: pa.Table, path: Path) -> str:
    pq.write_table(table, path)
    return str(path)


def _view_sql(con, table: str) -> str:
    return con.execute("SELECT sql FROM duckdb_views() WHERE view_name = ?", [table]).fetchone()[0]


def _rows(con, table: str) -> list[tuple]:
    return con.execute(f"SELECT * FROM {table} ORDER BY {C.execution_id}").fetchall()


def test_files_with_the_same_columns_are_read_without_union_by_name(tmp_path):
    files = [_write(_executions(5), tmp_path / "a.parquet"), _write(_executions(4, 100), tmp_path / "b.parquet")]
    snapshot = reader.TableFiles(files, frozenset(TABLES["executions"].schema.names))
    con = reader.connect({"executions": snapshot})
    assert reader.same_columns(con, files)
    assert "union_by_name" not in _view_sql(con, "executions")
    # the same rows as the union by name reads
    con.execute(f"CREATE VIEW unioned AS {reader.select_sql('executions', snapshot, union_by_name=True)}")
    got = _rows(con, "executions")
    assert len(got) == 9 and got == _rows(con, "unioned")


def test_files_of_an_older_schema_keep_union_by_name(tmp_path):
    """A file written before the model gained a column lacks it: read it as null beside newer files."""
    old = _executions(3).drop_columns([C.collected_at, C.attributes])
    files = [_write(_executions(2, 100), tmp_path / "new.parquet"), _write(old, tmp_path / "old.parquet")]
    snapshot = reader.TableFiles(files, frozenset(TABLES["executions"].schema.names))
    con = reader.connect({"executions": snapshot})
    assert not reader.same_columns(con, files)
    assert "union_by_name" in _view_sql(con, "executions")
    got = con.execute(f"SELECT {C.execution_id}, {C.attributes} FROM executions ORDER BY 1").fetchall()
    assert [r[0] for r in got] == ["e0", "e1", "e100", "e101", "e2"]


def test_files_whose_column_types_differ_keep_union_by_name(tmp_path):
    base = _executions(2)
    as_int32 = base.set_column(base.schema.get_field_index(C.duration_ms), C.duration_ms,
                               base[C.duration_ms].cast(pa.int32()))
    files = [_write(base, tmp_path / "a.parquet"), _write(as_int32, tmp_path / "b.parquet")]
    con = reader.connect({"executions": reader.TableFiles(files, frozenset(TABLES["executions"].schema.names))})
    assert not reader.same_columns(con, files)
    assert "union_by_name" in _view_sql(con, "executions")
    assert len(_rows(con, "executions")) == 4


def test_a_files_columns_are_read_once_per_process(tmp_path, monkeypatch):
    """A Delta file never changes, so a snapshot opened after a sync reads the footers of its new files only; a
    file gone or cut short since is read again (and fails), and a new file of other columns among them still says
    no."""
    import duckdb

    from flowscope.store import file_columns

    monkeypatch.setattr(file_columns, "COLUMNS_OF", file_columns.FileColumns())
    reads: list[str] = []
    real = file_columns.read_digests
    monkeypatch.setattr(file_columns, "read_digests", lambda con, files: reads.extend(files) or real(con, files))
    folder = tmp_path / "t"
    folder.mkdir()
    files = [_write(_executions(3, 10 * i), folder / f"{i}.parquet") for i in range(3)]
    assert reader.same_columns(duckdb.connect(), files) and len(reads) == 3
    assert reader.same_columns(duckdb.connect(), files) and len(reads) == 3        # no footer read again
    older = _write(_executions(2, 100).drop_columns([C.collected_at]), folder / "older.parquet")
    assert not reader.same_columns(duckdb.connect(), [*files, older])
    newer = _write(_executions(2, 200), folder / "newer.parquet")
    assert reader.same_columns(duckdb.connect(), [*files, newer]) and len(reads) == 5
    Path(files[0]).write_bytes(Path(files[0]).read_bytes()[:100])                 # cut short since
    with pytest.raises(duckdb.Error):
        reader.same_columns(duckdb.connect(), files)
    Path(files[1]).unlink()
    with pytest.raises(duckdb.Error):                                             # gone since
        reader.same_columns(duckdb.connect(), files[1:])


def test_one_file_or_none_needs_no_check(tmp_path):
    con = reader.connect({})
    assert reader.same_columns(con, []) and reader.same_columns(con, [str(tmp_path / "never-read.parquet")])
    assert _rows(con, "executions") == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_top_ids_picks_what_the_engine_picks(seed):
    """Ties on the order (the id breaks them), repeated ids, groups smaller and larger than n."""
    rng = np.random.default_rng(seed)
    n = 300
    rows = pd.DataFrame({
        C.cloud: rng.choice(["aws", "gcp"], n),
        C.workflow_id: rng.choice(["a", "b", "c", "d"], n),
        C.execution_id: [f"e{i}" for i in rng.integers(0, 120, n)],
        "age_ms": rng.integers(0, 6, n).astype("float64"),
    })
    rows = pd.concat([rows, pd.DataFrame({C.cloud: ["gcp"], C.workflow_id: ["z"], C.execution_id: ["only"],
                                          "age_ms": [1.0]})], ignore_index=True)
    keys = [C.cloud, C.workflow_id]
    engine = sample_ids(ibis.memtable(rows), keys, order_by="age_ms")
    assert top_ids(rows, keys, order_by="age_ms") == engine
    assert engine[("gcp", "z")] == ["only"]
    assert top_ids(rows.iloc[:0], keys, order_by="age_ms") == {}


def test_casts_are_left_out_only_where_the_files_have_the_model_type(tmp_path):
    """Files of the model's types are read as they are (the filters reach the scan); a file column
    of another type is cast, and a model column no file has reads as null."""
    base = _executions(3).drop_columns([C.attributes])
    as_int32 = base.set_column(base.schema.get_field_index(C.duration_ms), C.duration_ms,
                               base[C.duration_ms].cast(pa.int32()))
    files = [_write(as_int32, tmp_path / "a.parquet"), _write(as_int32.slice(1), tmp_path / "b.parquet")]
    con = reader.connect({"executions": reader.TableFiles(files, frozenset(TABLES["executions"].schema.names))})
    sql = _view_sql(con, "executions")
    assert "union_by_name" not in sql
    assert f"CAST({C.duration_ms} AS BIGINT)" in sql and f"CAST({C.started_at} " not in sql
    assert f"CAST(NULL AS VARCHAR) AS {C.attributes}" in sql
    types = dict(con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'executions'")
                 .fetchall())
    assert types[C.duration_ms] == "BIGINT" and types[C.started_at] == "TIMESTAMP WITH TIME ZONE"
    got = con.execute(f"SELECT {C.duration_ms}, {C.attributes} FROM executions ORDER BY {C.execution_id}").fetchall()
    assert got == [(1000, None), (1001, None), (1001, None), (1002, None), (1002, None)]
