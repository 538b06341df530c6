"""Time buckets in the engine: whole buckets of N seconds since the Unix epoch, the same number on
DuckDB (EPOCH_US, an integer) as by the plain rule, at bucket edges and before 1970 too."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from flowscope.analysis.base import backend_name, bucket_expr, bucket_index

UTC = dt.UTC
TIMES = [
    dt.datetime(2026, 3, 14, 16, 0, tzinfo=UTC),                  # on an edge
    dt.datetime(2026, 3, 14, 15, 59, 59, 999_999, tzinfo=UTC),    # a microsecond before it
    dt.datetime(2026, 3, 14, 16, 14, 59, tzinfo=UTC),
    dt.datetime(1970, 1, 1, tzinfo=UTC),
    dt.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),            # before the epoch: floor, not truncation
    dt.datetime(2000, 1, 3, 2, 30, tzinfo=UTC),                   # TIME_BUCKET's own origin
]


@pytest.mark.parametrize("seconds", [900, 3600, 4 * 3600, 5 * 3600, 86400])
def test_buckets_are_whole_buckets_since_the_epoch(seconds):
    con = ibis.duckdb.connect()
    con.raw_sql("SET TimeZone = 'UTC'")
    values = ", ".join(f"(TIMESTAMPTZ '{x.isoformat()}')" for x in TIMES)
    con.raw_sql(f"CREATE TABLE t AS SELECT * FROM (VALUES {values}) v(started_at)")
    t = con.table("t")
    assert backend_name(t) == "duckdb"
    got = bucket_index(t.select(b=bucket_expr(t, "started_at", seconds)).execute()["b"], seconds)
    expected = [int(x.timestamp() // seconds) for x in TIMES]
    assert got.tolist() == expected
