"""Read a store snapshot with an in-memory DuckDB: one view per model table over the Parquet
files of the table version named by the manifest.

Never a shared DuckDB database file (DuckDB locks it to one process). Views select exactly the
model columns in schema order, cast to the model types, so the derived partition columns and
any Delta writer quirks stay invisible; a table never written is an empty view of its schema.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

import duckdb
import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

from flowscope.model import TABLES, C
from flowscope.store import file_columns
from flowscope.store.errors import StoreDamagedError
from flowscope.store.fileuri import local_folder, readable_files
from flowscope.store.layout import PARTITION_PREFIX, Layout
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
class ColumnFacts:
    """What the Delta log's per-file statistics say of a table's columns over all of its files: delta-rs writes
    them into each file's add action, and the log is read anyway for the file list, so knowing them reads
    nothing more. A column any file has no statistic for (none written, or a file from before the column
    existed) is named in neither; a table without files knows nothing."""

    never_null: frozenset[str] = frozenset()
    """Columns no row holds null in: every file's `nullCount` is 0."""
    least: Mapping[str, int] = field(default_factory=dict)
    """Integer columns never null, with the smallest value of any file (each file's `minValues`)."""
    always_null: frozenset[str] = frozenset()
    """Columns every row holds null in: every file's `nullCount` is its `numRecords` (a column no collector
    fills, such as an export's event counts)."""


Span = tuple[dt.datetime, dt.datetime]
"""A file's least and greatest `started_at`, as the Delta log's statistics say them (to the millisecond)."""


@dataclass(frozen=True)
class TableFiles:
    """A table's Parquet files at one version, the columns that version's schema has, and what the log's
    statistics say of their values."""

    files: list[str]
    columns: frozenset[str]
    facts: ColumnFacts = field(default_factory=ColumnFacts)
    spans: tuple[Span | None, ...] = ()
    """Per file of `files`, the least and greatest `started_at` its add action's statistics give (None where
    the log has none for it): which files a window's read can skip (`spans.SpanViews`). Empty: none known."""
    folder: str | None = None
    """The table's folder when it is on a local disk (None: an object store's, or not known): where the files'
    columns, once read, are kept for the next process (`file_columns`)."""
    partitions_in_paths: frozenset[str] = frozenset()
    """The model columns (`TableSpec.partition_by`) whose value every file's path names as the log's partition
    value does (`partitions_in_paths`): the view reads them from the paths, so a filter on one leaves the other
    files unopened. Empty: read from inside the files."""


class FileListCache:
    """(table, version) -> TableFiles. A Delta version's file list never changes, so a snapshot
    that moved only some tables re-reads only their logs, and a writer hands over the lists of
    what it just committed. Keeps the newest few versions per table."""

    def __init__(self, per_table: int = 4) -> None:
        self.per_table = per_table
        self._lists: dict[tuple[str, int], TableFiles] = {}
        self._lock = threading.Lock()
        self._lineage: str | None = None

    def of_lineage(self, lineage: str | None) -> bool:
        """Forget every list when the store's lineage (`Manifest.lineage`) changed: a store deleted and
        built again numbers its versions from 1 again. True when it changed."""
        with self._lock:
            if lineage == self._lineage:
                return False
            self._lists.clear()
            self._lineage = lineage
            return True

    def get(self, table: str, version: int) -> TableFiles | None:
        with self._lock:
            return self._lists.get((table, version))

    def put(self, table: str, version: int, files: TableFiles) -> None:
        with self._lock:
            self._lists[(table, version)] = files
            versions = sorted(v for t, v in self._lists if t == table)
            for old in versions[:-self.per_table]:
                del self._lists[(table, old)]

    def remember(self, table: str, version: int, dt: DeltaTable) -> None:
        """Record the files of `dt`, which is at `version`."""
        self.put(table, version, table_files(dt))


def table_files(dt: DeltaTable) -> TableFiles:
    """The files and columns of a Delta table at the version it is loaded at."""
    files = readable_files(dt)
    columns = frozenset(f.name for f in dt.schema().fields)
    if not files:
        return TableFiles(files, columns)
    actions = pa.RecordBatchReader.from_stream(dt.get_add_actions(flatten=True)).read_all()
    return TableFiles(files, columns, column_facts(actions, columns), file_spans(actions, files),
                      local_folder(dt.table_uri), partitions_in_paths(actions, files, dt.metadata().partition_columns))


def partitions_in_paths(actions: pa.Table, files: list[str], partition_columns: list[str]) -> frozenset[str]:
    """The model columns whose every file's path holds the folder `_p_<column>=<value>`, `<value>` the log's
    partition value for the file as DuckDB's Hive reader spells it (a date as YYYY-MM-DD, a string as it is),
    and no other folder of the path holds a `=`; empty as soon as one file does not (`TableFiles.partitions_in_paths`).

    Why: every page query and many analyses filter on the cloud and the start date, which are the partitions
    (`layout`: each row's `_p_` value is a copy of its own column). Read from inside the files, DuckDB opens
    every file's footer to test its statistics: on a year's history (1,098 files a table) a 7-day count of
    executions took 128 ms against 28 ms read from the paths, which DuckDB prunes before opening a file.
    The log is the truth of a file's partition; the path is only trusted where it says the same thing."""
    names = [c for c in partition_columns if c.startswith(PARTITION_PREFIX)]
    if not files or not names or any(f"partition.{c}" not in actions.column_names for c in names):
        return frozenset()
    values = {c: actions.column(f"partition.{c}").to_pylist() for c in names}
    for f, row in zip(files, action_rows(actions, files), strict=True):
        spelled = [None if row is None else _hive_value(values[c][row]) for c in names]
        if None in spelled:
            return frozenset()
        # DuckDB's Hive reader takes every `key=value` folder of the path as a column: one above the table's
        # own (a store kept under `/data/status=prod/`) could stand in for a column of the files
        folders = f.replace("\\", "/").split("/")[:-1]
        named = sorted(f"{c}={v}" for c, v in zip(names, spelled, strict=True))
        if sorted(s for s in folders if "=" in s) != named:
            return frozenset()
    return frozenset(c[len(PARTITION_PREFIX):] for c in names)


def _hive_value(value: object) -> str | None:
    """A partition value as its path segment reads (None: a value whose spelling is not plainly that, such as a
    null, or one holding a character a path would encode)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str) and value and all(ch.isalnum() or ch in "-_." for ch in value):
        return value
    return None


def file_spans(actions: pa.Table, files: list[str]) -> tuple[Span | None, ...]:
    """Per file of `files` (as `readable_files` names them), its `started_at` span from its add action
    (`TableFiles.spans`, `action_rows`). A file without an add action of its own, or without both statistics (or
    with timestamps of no time zone, which a window's bounds could not be compared with), has none."""
    low, high = "min." + C.started_at, "max." + C.started_at
    if low not in actions.column_names or high not in actions.column_names:
        return ()
    lows, highs = actions.column(low).to_pylist(), actions.column(high).to_pylist()

    def span(row: int | None) -> Span | None:
        if row is None:
            return None
        least, greatest = lows[row], highs[row]
        known = all(isinstance(v, dt.datetime) and v.tzinfo is not None for v in (least, greatest))
        return (least, greatest) if known else None

    return tuple(span(row) for row in action_rows(actions, files))


def action_rows(actions: pa.Table, files: list[str]) -> list[int | None]:
    """Per file of `files` (as `readable_files` names them), the row of its add action in `actions`, matched by
    the file's name: delta-rs names each file it writes with a fresh UUID. None for a name the log does not list,
    or lists twice (which of the two would be a guess)."""
    rows: dict[str, int | None] = {}
    for i, path in enumerate(actions.column("path").to_pylist()):
        name = unquote(str(path)).replace("\\", "/").rsplit("/", 1)[-1]
        rows[name] = None if name in rows else i
    return [rows.get(f.replace("\\", "/").rsplit("/", 1)[-1]) for f in files]


def column_facts(actions: pa.Table, columns: frozenset[str]) -> ColumnFacts:
    """`ColumnFacts` of a table's files, from the log's add actions as delta-rs already holds them (~1-3 ms a
    table over 30-90 files)."""
    if not actions.num_rows or "num_records" not in actions.column_names \
            or actions.column("num_records").null_count:
        return ColumnFacts()
    never_null: set[str] = set()
    always_null: set[str] = set()
    least: dict[str, int] = {}
    records = actions.column("num_records").to_pylist()
    for name in columns:
        counts = f"null_count.{name}"
        if counts not in actions.column_names:
            continue
        column = actions.column(counts)
        if column.null_count:
            continue
        nulls = column.to_pylist()
        if nulls == records:
            always_null.add(name)
        if any(nulls):
            continue
        never_null.add(name)
        smallest = f"min.{name}"
        if smallest in actions.column_names and pa.types.is_integer(actions.column(smallest).type) \
                and not actions.column(smallest).null_count:
            least[name] = min(actions.column(smallest).to_pylist())
    return ColumnFacts(frozenset(never_null), least, frozenset(always_null))


def snapshot_files(layout: Layout, manifest: Manifest, storage_options: dict[str, str] | None,
                   cache: FileListCache | None = None) -> dict[str, TableFiles]:
    """Parquet files of each table at the manifest's version (no files: no data)."""
    return {table: snapshot_table_files(layout, manifest, table, storage_options, cache) for table in TABLES}


def snapshot_table_files(layout: Layout, manifest: Manifest, table: str, storage_options: dict[str, str] | None,
                         cache: FileListCache | None = None) -> TableFiles:
    """Parquet files of one table at the manifest's version."""
    version = manifest.versions.get(table)
    if version is None:
        return TableFiles([], frozenset())
    known = cache.get(table, version) if cache is not None else None
    if known is None:
        try:
            loaded = DeltaTable(layout.table_uri(table), version=version, storage_options=storage_options)
        except (DeltaError, OSError) as exc:   # a Delta log file deleted or cut short: not a flowscope bug
            raise StoreDamagedError(str(layout.root), f"version {version} of the {table} table "
                                    f"({layout.table_uri(table)}/_delta_log)", str(exc)) from None
        known = table_files(loaded)
        if cache is not None:
            cache.put(table, version, known)
    return known


@dataclass(frozen=True)
class ViewPlan:
    """How a table's files are read (`select_sql`'s options), decided once per snapshot from their footers; a
    view over some of the same files reads them the same way (`spans.SpanViews`)."""

    union_by_name: bool = True
    file_types: Mapping[str, str] | None = None


def view_plan(con: duckdb.DuckDBPyConnection, snapshot: TableFiles) -> ViewPlan:
    """Without `union_by_name` and needless casts when the files all have the same columns (checked on `con`,
    footers cached)."""
    if snapshot.files and same_columns(con, snapshot.files, snapshot.folder):
        return ViewPlan(union_by_name=False, file_types=column_types(con, snapshot.files[0]))
    return ViewPlan()


def view_sql(con: duckdb.DuckDBPyConnection, table: str, snapshot: TableFiles) -> str:
    """The view of one table on `con`: `select_sql` under the table's name, read as `view_plan` decides."""
    return plan_view_sql(table, table, snapshot, view_plan(con, snapshot))


def plan_view_sql(name: str, table: str, snapshot: TableFiles, plan: ViewPlan) -> str:
    """`CREATE VIEW name` over `snapshot`'s files of the model table `table`, read as `plan` says."""
    return (f"CREATE VIEW {ident(name)} AS "
            f"{select_sql(table, snapshot, union_by_name=plan.union_by_name, file_types=plan.file_types)}")


def select_sql(table: str, snapshot: TableFiles, *, union_by_name: bool = True,
               file_types: Mapping[str, str] | None = None) -> str:
    """Model columns in schema order; a column the stored version lacks (written by an older
    flowscope, before the model gained it) reads as null, and files are unioned by name.

    For files known to share one set of columns (`same_columns`): `union_by_name=False` makes DuckDB
    match them by name against the first file's footer alone, instead of reading every footer each
    time a query naming the table is bound (~7 ms per table over 90 files); `file_types` (their
    DuckDB types) leaves out the casts that change nothing, so filters reach the Parquet scan.
    """
    schema = TABLES[table].schema
    if not snapshot.files:
        cols = ", ".join(f"CAST(NULL AS {duck_type(f.type)}) AS {ident(f.name)}" for f in schema)
        return f"SELECT {cols} LIMIT 0"
    types = file_types or {}

    def column(name: str, typ: str) -> str:
        if name not in snapshot.columns or (file_types is not None and name not in file_types):
            return f"CAST(NULL AS {typ}) AS {ident(name)}"
        return ident(name) if types.get(name) == typ else f"CAST({ident(name)} AS {typ}) AS {ident(name)}"

    hive = snapshot.partitions_in_paths
    cols = ", ".join(f"{ident(PARTITION_PREFIX + f.name)} AS {ident(f.name)}" if f.name in hive
                     else column(f.name, duck_type(f.type)) for f in schema)
    union = ", union_by_name=true" if union_by_name else ""
    if not hive:
        return f"SELECT {cols} FROM read_parquet({file_list(snapshot.files)}, hive_partitioning=false{union})"
    hive_types = ", ".join(f"'{PARTITION_PREFIX}{f.name}': {duck_type(f.type)}" for f in schema if f.name in hive)
    return (f"SELECT {cols} FROM read_parquet({file_list(snapshot.files)}, hive_partitioning=true, "
            f"hive_types={{{hive_types}}}{union})")


def same_columns(con: duckdb.DuckDBPyConnection, files: list[str], table_folder: str | None = None) -> bool:
    """Whether every file has the same columns (names and Parquet types) as the first: then reading
    them by name without `union_by_name` gives the same rows. Each file's footer is read once and its columns
    kept (`file_columns`: in the process, and with its local `table_folder` for the next process); a table whose
    schema evolved (files before and after a column was added) says no."""
    if len(files) < 2:
        return True
    digests = file_columns.COLUMNS_OF.of(con, files, table_folder)
    return all(f in digests for f in files) and len({digests[f] for f in files}) == 1


def column_types(con: duckdb.DuckDBPyConnection, file: str) -> dict[str, str]:
    """The DuckDB type of each column of a Parquet file (its footer only), named as `duck_type` names it."""
    rows = con.execute(f"DESCRIBE SELECT * FROM read_parquet({file_list([file])}, hive_partitioning=false)")
    return {str(r[0]): _TYPE_ALIASES.get(str(r[1]), str(r[1])) for r in rows.fetchall()}


_TYPE_ALIASES = {"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ"}


def about_files(exc: duckdb.Error) -> bool:
    """Whether a DuckDB error is one a file raises (missing, unreadable, not Parquet, damaged: DuckDB says
    some of these as a plain `duckdb.Error`), not one our SQL does (a binder or parser error is a bug)."""
    return isinstance(exc, (duckdb.IOException, duckdb.InvalidInputException)) or type(exc) is duckdb.Error


_NAMES_A_FILE = re.compile(r"""(?:\bfile|the pattern) ["']""", re.IGNORECASE)


def names_a_file(exc: duckdb.Error) -> bool:
    """Whether a DuckDB error names the file it is about ('No files found that match the pattern "x"', 'Cannot
    open file "x"', "File 'x' too small to be a Parquet file"), as the query spelled it; a damaged data page's
    ("don't know what type") names none."""
    return _NAMES_A_FILE.search(str(exc)) is not None


def connect(files: dict[str, TableFiles], store: str = "") -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB (UTC) with one view per model table (`connect_planned`)."""
    return connect_planned(files, store)[0]


def connect_planned(files: dict[str, TableFiles],
                    store: str = "") -> tuple[duckdb.DuckDBPyConnection, dict[str, ViewPlan]]:
    """A new in-memory DuckDB (UTC) with one view per model table, and how each table's files are read.

    Parquet footers are cached (`parquet_metadata_cache`): an analysis run sends dozens of queries
    over the same snapshot files, and a snapshot's files never change (Delta writes new ones), so
    each footer is read and parsed once per connection instead of once per query. A table whose
    files all have the same columns is read without `union_by_name` and without the casts its types
    make needless (see `select_sql`): binding a query over it no longer visits every file's footer.
    A missing or unreadable file is a StoreDamagedError naming `store` and the file.
    """
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET parquet_metadata_cache = true")
    plans: dict[str, ViewPlan] = {}
    for table in TABLES:
        snapshot = files.get(table, TableFiles([], frozenset()))
        try:
            plans[table] = view_plan(con, snapshot)
            con.execute(plan_view_sql(table, table, snapshot, plans[table]))
        except duckdb.Error as exc:
            if not about_files(exc):
                raise
            # a Parquet file of the snapshot deleted, overwritten or with a damaged footer ("don't know
            # what type"): DuckDB's message names it, or the table does
            con.close()
            raise StoreDamagedError(store, f"a Parquet file of the {table} table", str(exc)) from None
    return con, plans
