"""A table's cloud and start date are read from its files' paths (`reader.partitions_in_paths`) only where every
path says what the Delta log says of its file: then a filter on either leaves the other files unopened, and every
row reads as it does from inside the files."""

from __future__ import annotations

import datetime as dt
import re

import pyarrow as pa
import pytest

from flowscope.model import TABLES, Batch, C, Meter
from flowscope.store import Store, reader
from tests.analysis.helpers import T0, World

DAY = dt.timedelta(days=1)
COLS = ["_p_cloud", "_p_start_date"]
NAME = "part-00000-{}.zstd.parquet"
METER = {"aws": Meter.AWS_SFN_STATE_TRANSITION, "gcp": Meter.GCP_WORKFLOWS_EXTERNAL_STEP}


def _store(tmp_path, days: int = 4) -> Store:
    w = World()
    for cloud in ("aws", "gcp"):
        wf = w.workflow(f"orders-{cloud}", cloud=cloud)
        for d in range(days):
            at = T0 + d * DAY + dt.timedelta(hours=3)
            ex = w.execution(wf, at, cloud=cloud)
            step = w.step(ex, "Charge", at, attempts=2, meter=METER[cloud])
            w.attempt(step, 1, at)
            w.attempt(step, 2, at + dt.timedelta(seconds=1))
    metrics = [{C.cloud: cloud, C.resource_id: f"orders-{cloud}", C.metric: "ExecutionsStarted", C.statistic: "Sum",
                C.timestamp: T0 + d * DAY, C.value: 1.0, C.start_date: (T0 + d * DAY).date()}
               for cloud in ("aws", "gcp") for d in range(days)]
    Store(tmp_path / "s").write(Batch(**{**w.rows, "metrics": metrics}))
    return Store(tmp_path / "s")


def _files_read(store: Store, sql: str) -> int:
    """How many of the table's files the scan keeps after the filters on the folders, as DuckDB's plan says it
    (`EXPLAIN`: the pruning is decided when the query is planned; `EXPLAIN ANALYZE`'s profile at times held only
    its summary)."""
    plan = "\n".join(str(v) for _, v in store.connect().execute(f"EXPLAIN {sql}").fetchall())
    kept = re.findall(r"Scanning Files: (\d+)/(\d+)", plan)
    assert len(kept) == 1, plan
    return int(kept[0][0])


def test_a_day_of_one_cloud_opens_its_one_file(tmp_path):
    store = _store(tmp_path)
    files = store.snapshot_files()
    for table in ("executions", "steps"):
        assert files[table].partitions_in_paths == {C.cloud, C.start_date}
        assert len(files[table].files) == 8
    day = (T0 + 2 * DAY).date()
    for table in ("executions", "steps"):
        # the rows themselves, which only a scan gives (an aggregate may be answered from the files' statistics)
        sql = f"SELECT {C.execution_id} FROM {table} WHERE {C.start_date} = DATE '{day}' AND {C.cloud} = 'gcp'"
        assert _files_read(store, sql) == 1
        assert len(store.sql(sql)) == 1
        assert _files_read(store, f"SELECT {C.execution_id} FROM {table} WHERE {C.cloud} = 'aws'") == 4


@pytest.mark.parametrize("table", [t for t, spec in TABLES.items() if spec.partition_by])
def test_every_row_reads_as_it_does_from_inside_the_files(tmp_path, table):
    store = _store(tmp_path)
    snapshot = store.snapshot_files()[table]
    inside = reader.TableFiles(snapshot.files, snapshot.columns, snapshot.facts)
    con = store.connect()
    by_path = con.sql(f"SELECT * FROM {table} ORDER BY ALL").to_arrow_table()
    by_file = con.sql(f"SELECT * FROM ({reader.select_sql(table, inside)}) ORDER BY ALL").to_arrow_table()
    assert by_path.num_rows >= 2
    assert "hive_partitioning=true" in reader.select_sql(table, snapshot)
    assert "hive_partitioning=false" in reader.select_sql(table, inside)
    assert by_path.schema == by_file.schema and by_path.equals(by_file)


def _actions(paths: list[str], clouds: list[str | None], days: list[dt.date | None]) -> pa.Table:
    return pa.table({"path": paths, "partition._p_cloud": clouds,
                     "partition._p_start_date": pa.array(days, pa.date32())})


D1, D2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)
ROOT = "/data/store/steps"


def _path(cloud: str, day: dt.date, n: int, root: str = ROOT) -> str:
    return f"{root}/_p_cloud={cloud}/_p_start_date={day}/{NAME.format(n)}"


def _rel(cloud: str, day: dt.date, n: int) -> str:
    return f"_p_cloud={cloud}/_p_start_date={day}/{NAME.format(n)}"


def test_paths_that_say_what_the_log_says_are_read():
    actions = _actions([_rel("aws", D1, 1), _rel("gcp", D2, 2)], ["aws", "gcp"], [D1, D2])
    files = [_path("aws", D1, 1), _path("gcp", D2, 2)]
    assert reader.partitions_in_paths(actions, files, COLS) == {C.cloud, C.start_date}
    windows = [f.replace("/", "\\") for f in files]      # a Windows path
    assert reader.partitions_in_paths(actions, windows, COLS) == {C.cloud, C.start_date}


@pytest.mark.parametrize("case, path, listed, cloud, day", [
    ("a path names another day than the log", _path("aws", D2, 1), _rel("aws", D1, 1), "aws", D1),
    ("a path names another cloud than the log", _path("gcp", D1, 1), _rel("aws", D1, 1), "aws", D1),
    ("a folder above the table holds a `=`, which the Hive reader would read as a column",
     _path("aws", D1, 1, root="/data/status=prod/steps"), _rel("aws", D1, 1), "aws", D1),
    ("a file the log does not list", _path("aws", D1, 9), _rel("aws", D1, 1), "aws", D1),
    ("a path without the partition folders", f"{ROOT}/{NAME.format(1)}", NAME.format(1), "aws", D1),
    ("a value a path would encode", f"{ROOT}/_p_cloud=a%2Fb/_p_start_date={D1}/{NAME.format(1)}",
     f"_p_cloud=a%2Fb/_p_start_date={D1}/{NAME.format(1)}", "a/b", D1),
    ("a null partition value", _path("aws", D1, 1), _rel("aws", D1, 1), None, D1),
])
def test_one_path_that_does_not_say_what_the_log_says_reads_every_file_inside(case, path, listed, cloud, day):
    """One such file among good ones, and the whole table is read from inside its files."""
    actions = _actions([listed, _rel("aws", D1, 7)], [cloud, "aws"], [day, D1])
    assert reader.partitions_in_paths(actions, [path, _path("aws", D1, 7)], COLS) == frozenset(), case
    assert reader.partitions_in_paths(actions.slice(1), [_path("aws", D1, 7)], COLS) == {C.cloud, C.start_date}


def test_a_name_the_log_lists_twice_is_not_read():
    actions = _actions([_rel("aws", D1, 1), _rel("gcp", D1, 1)], ["aws", "gcp"], [D1, D1])
    assert reader.partitions_in_paths(actions, [_path("aws", D1, 1)], COLS) == frozenset()


def test_a_table_without_partitions_reads_its_files():
    actions = pa.table({"path": [NAME.format(1)]})
    assert reader.partitions_in_paths(actions, [f"{ROOT}/{NAME.format(1)}"], []) == frozenset()
