"""The notebook API: one object over a store, returning pandas DataFrames with the model's columns."""

from __future__ import annotations

import datetime as dt
import numbers
import os
import reprlib
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from flowscope.dialect import PYTHON
from flowscope.model import COLUMN_VALUES, TABLES, C, cloud_spelling
from flowscope.textsafety import one_line, terminal_text
from flowscope.timewindow import STALE_AFTER, check_order, default_end, parse_window

if TYPE_CHECKING:
    import duckdb
    import ibis.expr.types as ir
    import pandas as pd
    import pyarrow as pa

    from flowscope.store import Store

TIME_COLUMN = {"executions": C.started_at, "steps": C.started_at, "attempts": C.started_at,
               "usage": C.started_at, "metrics": C.timestamp, "collection_runs": C.started_at,
               "workflows": C.seen_at}
"""The column that `since`/`until` filter on, per table."""

FILTER_COLUMNS = {"cloud": C.cloud, "workflow": C.workflow_id, "status": C.status, "execution_id": C.execution_id}
"""Each filter argument and the column it needs: a table without that column refuses the filter
(usage has no status: `usage(status="FAILED")` returning every row would read as filtered)."""



def as_list(value: str | Sequence[str] | None) -> list[str] | None:
    """One filter value or several, as a list (a string is one value, never its characters)."""
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def filter_values(filters: dict[str, Any]) -> dict[str, Any]:
    """The filters checked (`check_not_empty`), each a string, a list or None: a generator is read once."""
    given = {arg: v if v is None or isinstance(v, (str, bytes, dict)) or not isinstance(v, Iterable) else list(v)
             for arg, v in filters.items()}
    check_not_empty(given)
    return given


def check_not_empty(filters: dict[str, Any]) -> None:
    """An empty list as a filter is a ValueError: the table readers returned no row for it and
    flowscope.analyze every workflow, both silently (None is the way to say "all"). A value that is
    neither a string nor a list of strings is a TypeError naming the filter ("'int' object is not
    iterable" named none)."""
    for arg, value in filters.items():
        if isinstance(value, str) and not value.strip() or \
                isinstance(value, list) and any(isinstance(v, str) and not v.strip() for v in value):
            raise ValueError(PYTHON.empty_filter(arg))
        if value is None or isinstance(value, str):
            continue
        if isinstance(value, (bytes, dict)) or not isinstance(value, Iterable) or \
                not all(isinstance(v, str) for v in list(value)):
            raise TypeError(f"{arg} takes a string or a list of strings, not {reprlib.repr(value)}")
        if not list(value):
            raise ValueError(f"{arg}=[] selects nothing: name at least one, or pass None for all")


def as_time(value: Any, name: str) -> Any:
    """A time argument as `timewindow` reads it: a numpy datetime64 (what `frame[col].values[i]` gives) as a
    pandas Timestamp, naive read as UTC like a naive datetime ("cannot read time np.datetime64(...)" refused
    it); NaT, pandas' or numpy's, a ValueError naming the argument (it was "out of range"). Others unchanged."""
    if value is None or isinstance(value, str):
        return value
    import numpy as np
    import pandas as pd

    if value is pd.NaT or isinstance(value, np.datetime64) and np.isnat(value):
        raise ValueError(f"{name}=NaT is no time (a missing value?): name a time, or {PYTHON.omit(name)} "
                         "for its default")
    return pd.Timestamp(value) if isinstance(value, np.datetime64) else value


def as_now(value: Any) -> "dt.datetime | None":
    """`now=` read as `since` and `until` are (an ISO text, a naive datetime as UTC, a date, numpy's or
    pandas' times), aware UTC: a string failed inside the window's end ("'str' object has no attribute
    'timestamp'"), a naive datetime in a comparison with aware ones."""
    from flowscope.timewindow import parse_since

    value = as_time(value, "now")
    try:
        return parse_since(value)
    except ValueError as exc:
        raise ValueError(f"now: {exc}") from None


@contextmanager
def safe_errors() -> Iterator[None]:
    """A ValueError whose text holds cloud text (a store's workflow names after a typo) raised again without
    its escape sequences and control characters, as the commands print it (`textsafety.one_line`): a
    notebook's traceback printed `pay<ESC>]0;pwned<BEL>ments` raw to the terminal. Not chained: the cause
    would print the raw text again."""
    try:
        yield
    except ValueError as exc:
        if terminal_text(str(exc)) == str(exc):
            raise
        raise ValueError(one_line(str(exc))) from None


@contextmanager
def damage_unchained() -> Iterator[None]:
    """A StoreDamagedError raised again without its cause: its text holds the engine's already, and a notebook
    printed the engine's traceback above it (`analyze_report` chains it, for the commands)."""
    from flowscope.store import StoreDamagedError

    try:
        yield
    except StoreDamagedError as exc:
        raise exc from None


@contextmanager
def damage_named(store: "Store") -> Iterator[None]:
    """A read that fails on a file of the store whose data pages do not decode raised again as the
    StoreDamagedError naming that file (`Store.damaged_error`), as `flowscope analyze` and the dashboard say it:
    the open reads footers only, which stay whole, and DuckDB's "don't know what type" named no file and no
    restore. Any other error goes on as it is. Not chained (`damage_unchained`). Not around `analyze_report`,
    which asks the store itself: asked again, an error not the store's read every file of it a second time."""
    with damage_unchained():
        try:
            yield
        except Exception as exc:
            damaged = store.damaged_error(exc)
            if damaged is None:
                raise
            raise damaged from None


def check_limit(limit: Any) -> int | None:
    """`limit` as a count of rows: a negative one or a string failed inside DuckDB ('5' as "More than one
    row returned by a subquery"); any whole number counts (numpy's int64 from a frame was refused)."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 0:
        raise ValueError(f"limit must be a number of rows (0 or more), not {limit!r}")
    return int(limit)


def once_each(values: Iterable[str] | None) -> list[str] | None:
    """A filter's values once each, in the order given: the one rule of the commands' repeatable flags
    (`--cloud aws --cloud AWS`) and flowscope.analyze's lists, whose headers listed "clouds": ["aws", "aws"]."""
    return None if values is None else list(dict.fromkeys(values))


def clouds_list(value: str | Sequence[str] | None) -> list[str] | None:
    """The cloud filter as a list, each as the model spells it ("AWS" is aws), once each (`once_each`)."""
    values = as_list(value)
    return None if values is None else once_each(cloud_spelling(v) for v in values)


def workflows_list(value: str | Sequence[str] | None) -> list[str] | None:
    """The workflow filter as a list, each name or id once (`once_each`)."""
    return once_each(as_list(value))


def table_filters(name: str) -> list[str]:
    """The filters a table's reader takes, in order (`since` and `until` always)."""
    columns = TABLES[name].schema.names
    return ["since", "until", *(f for f, column in FILTER_COLUMNS.items() if column in columns)]


def check_filter_columns(name: str, given: dict[str, Any]) -> None:
    """A filter the table has no column for is a ValueError naming the filters it takes."""
    for arg, value in given.items():
        if value is not None and FILTER_COLUMNS[arg] not in TABLES[name].schema.names:
            raise ValueError(f"{name} has no {FILTER_COLUMNS[arg]} column to filter by {arg}; "
                             f"its filters: {', '.join(table_filters(name))}")


def statuses(name: str, wanted: list[str]) -> list[str]:
    """`wanted` in the table's own spelling (any case: 'failed' is FAILED in executions, and a
    collection run's 'failed'); a status the table cannot hold is a ValueError naming those it can."""
    known = COLUMN_VALUES[(name, C.status)]
    by_fold = {str(k).casefold(): str(k) for k in known}
    out = []
    for value in wanted:
        match = by_fold.get(str(value).strip().casefold())
        if match is None:
            raise ValueError(f"unknown status {value!r} for {name}; statuses: {', '.join(map(str, known))}")
        out.append(match)
    return out


def model_frame(name: str, data: "pa.Table") -> "pd.DataFrame":
    """A table's rows as pandas with one dtype per model column whatever the rows: integers as the
    nullable Int64 / Int32 (through plain pandas a column became float64 once it held a null, object
    when it held only nulls and int64 when the filters left no row), dates as datetime64[s]."""
    import pandas as pd
    import pyarrow as pa

    integers = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype()}
    schema = TABLES[name].schema
    frame = data.select(schema.names).cast(schema).to_pandas(types_mapper=integers.get, date_as_object=False)
    for field in schema:
        if pa.types.is_date(field.type):
            frame[field.name] = frame[field.name].astype("datetime64[s]")
    return frame


LISTED_IN_SQL = 200
"""Up to this many filter values are written into the query; more are a table the engine joins."""


def one_of(column: "ir.Column", values: list[str]) -> "ir.BooleanValue":
    """`column` is one of `values`. A long list (`execution_id=failed.execution_id`) as a table the engine joins:
    written into the SQL text, 100,000 ids took 12 s to build and run the query (a join 0.07 s)."""
    if len(values) <= LISTED_IN_SQL:
        return column.isin(values)
    import ibis
    import pyarrow as pa

    listed = ibis.memtable(pa.table({"value": pa.array(sorted(set(values)), pa.string())}))
    return column.isin(listed["value"])


QUERY_STATEMENTS = frozenset({"SELECT", "EXPLAIN", "COPY"})
"""What Session.sql runs: statements that read (COPY ... TO exports; COPY ... FROM has no table to fill)."""


def check_query(query: str, con: "duckdb.DuckDBPyConnection") -> None:
    """A statement that would change the session's shared views or settings is a ValueError naming it.
    Parsed by `con` (a cursor): a DuckDB opened for it cost 60-140 ms per query."""
    for statement in con.extract_statements(query):
        kind = str(statement.type).rsplit(".", 1)[-1]
        if kind not in QUERY_STATEMENTS:
            raise ValueError(f"s.sql() runs queries (SELECT, EXPLAIN, COPY ... TO), not {kind}: it would change "
                             "the views every reader of this session and flowscope.analyze share; for tables "
                             "or settings of your own use con = s.store.connect() (a private DuckDB over the "
                             "same snapshot)")


def placed_at(name: str, table: "ir.Table") -> "ir.Value":
    """The time `since`/`until` read on a row of the table: its TIME_COLUMN, or its end where a row's
    start is not recorded (a Logic Apps action's last try after retries: transform/records.attempts_for),
    so that it is not left out of every window."""
    when = table[TIME_COLUMN[name]]
    if TIME_COLUMN[name] == C.started_at and C.ended_at in TABLES[name].schema.names:
        when = when.coalesce(table[C.ended_at])
    return when


class Session:
    """`flowscope.open(path)`: read the store as pandas (filters run in DuckDB, not in pandas)."""

    def __init__(self, store: "Store") -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"flowscope.Session({str(self.store.path)!r})"

    def table(self, name: str) -> "ir.Table":
        """An Ibis table, for expressions that should run in the engine. Its `.execute()` runs outside the
        session: a file of the store damaged since it was opened fails it with the engine's own error, which
        names no file (the readers and `sql()` name it); `flowscope doctor --read-all` finds that file."""
        self._check(name)
        return self.store.table(name)

    def window_end(self, now: Any = None) -> "dt.datetime":
        """Where a window given no end ends (`timewindow.default_end`): now, or where the store's data ends
        when that is earlier, with a UserWarning saying so."""
        end, said = self.window_end_note(now)
        if said:
            warnings.warn(said, UserWarning, stacklevel=2)
        return end

    def window_end_note(self, now: Any = None) -> "tuple[dt.datetime, str | None]":
        """`window_end` and what it would warn, for a caller that warns once its own checks pass
        (flowscope.analyze said where the window ends, then raised a typo's ValueError). Said when the data
        ends a day or more before now (`STALE_AFTER`): a store synced an hour ago had it on every call."""
        from flowscope.analysis.tables import store_summary

        self.still_there()
        con = self.store.cursor()       # the snapshot the analysis reads, not a new DuckDB (~350 ms)
        try:
            with damage_named(self.store):
                known = store_summary(con)["known_to"]
        finally:
            con.close()
        now = as_now(now)
        end, at_data = default_end(known, now)
        if not at_data or (now or dt.datetime.now(dt.timezone.utc)) - end < STALE_AFTER:
            return end, None
        return end, (f"the store's data ends at {known:%Y-%m-%d %H:%M} UTC: the window ends at "
                     f"{end:%Y-%m-%d %H:%M} UTC, not now (pass until=... to end it elsewhere)")

    def sql(self, query: str) -> "pd.DataFrame":
        """DuckDB SQL over views named like the model tables: queries only (SELECT, EXPLAIN, COPY ... TO).

        The views live on the connection every reader of the session and flowscope.analyze share: a
        `CREATE OR REPLACE VIEW executions ...` here silently changed what they all read (1,533 of
        3,033 executions, 19 findings instead of 22), a SET their time zone. Such a statement is a
        ValueError; `s.store.connect()` gives a private DuckDB over the same snapshot for that.
        """
        self.still_there()
        con = self.store.cursor()
        try:
            check_query(query, con)
            with damage_named(self.store):
                return con.sql(query).df()
        finally:
            con.close()

    def still_there(self) -> None:
        """Raise NotAStoreError when the store was deleted since it was opened (the store's own rule,
        `Store.check_present`), naming the store as `flowscope.open`'s argument: a notebook has no --store."""
        from flowscope.store import NotAStoreError

        try:
            self.store.check_present()
        except NotAStoreError as exc:
            raise exc.for_caller("flowscope.open") from None

    def _check(self, name: str) -> None:
        self.still_there()
        if name not in TABLES:
            raise ValueError(f"unknown table {name!r}; tables: {', '.join(TABLES)}")

    def _select(self, name: str, **filters: Any) -> "pd.DataFrame":
        with damage_named(self.store):      # the filters' checks read the store too
            expr, start, end = self._query(name, **filters)
            frame = model_frame(name, expr.to_pyarrow())
            if frame.empty and name != "metrics":     # metrics() says why it has none
                said = self._say_empty_window(name, start, end)
                if said:      # also on the frame: notebooks silence warnings
                    frame.attrs["empty"] = said
        return frame

    def _query(self, name: str, *, since: Any = None, until: Any = None, cloud: Any = None,
               workflow: Any = None, status: Any = None, execution_id: Any = None,
               limit: int | None = None) -> "tuple[ir.Table, dt.datetime | None, dt.datetime | None]":
        """The table's rows the filters select, as an Ibis expression, and the window read."""
        self._check(name)
        given = filter_values({"cloud": cloud, "workflow": workflow, "status": status, "execution_id": execution_id})
        cloud, workflow, status, execution_id = (given[k] for k in ("cloud", "workflow", "status", "execution_id"))
        limit = check_limit(limit)
        cloud = clouds_list(cloud)
        check_filter_columns(name, {"cloud": cloud, "workflow": workflow, "status": status,
                                    "execution_id": execution_id})
        start, end = parse_window(as_time(since, "since"), as_time(until, "until"),
                                  words=PYTHON)   # a refusal names since=..., not --since
        check_order(start, end)
        wanted_status = None if status is None else statuses(name, as_list(status) or [])
        selected = self._check_filters(cloud, workflow)
        expr = self.store.table(name)
        columns = set(TABLES[name].schema.names)
        time_column = TIME_COLUMN[name]
        when = placed_at(name, expr)
        if start is not None:
            expr = expr.filter(when >= start)
        if end is not None:
            expr = expr.filter(when < end)
        for column, values in ((C.cloud, as_list(cloud)), (C.status, wanted_status),
                               (C.execution_id, as_list(execution_id))):
            if values is not None:
                expr = expr.filter(one_of(expr[column], values))
        workflows = as_list(workflow)
        if workflows is not None:
            expr = expr.filter(one_of(expr[C.workflow_id], selected))
        if time_column in columns:
            expr = expr.order_by(when)
        if limit is not None:
            expr = expr.limit(limit)
        return expr, start, end

    def _say_empty_window(self, name: str, start: Any, end: Any) -> str | None:
        """Warn that a window holds no row of the table, with the table's own time range: an empty frame
        for `since="7d"` over an old import read as "nothing happened" (analyze already says it). Without
        a window, that the store holds none: a store a failed first sync left empty read the same way."""
        import ibis

        table = self.store.table(name)
        column = placed_at(name, table)
        inside = ibis.literal(True)
        if start is not None:
            inside &= column >= start
        if end is not None:
            inside &= column < end
        n = table.count() if start is None and end is None else inside.cast("int64").sum()
        row = table.aggregate(lo=column.min(), hi=column.max(), n=n).to_pyarrow().to_pylist()[0]
        if row["n"]:
            return None     # the window holds rows: the other filters matched none of them
        window = " and ".join(f"{word} {t:%Y-%m-%d %H:%M}" for word, t in (("since", start), ("before", end))
                              if t is not None)
        said = (f"the store holds no {name}" if row["lo"] is None else
                f"no {name} {window} UTC; the store's {name} run from "
                f"{row['lo']:%Y-%m-%d %H:%M} to {row['hi']:%Y-%m-%d %H:%M} UTC")
        warnings.warn(said, UserWarning, stacklevel=4)
        return said

    def _check_filters(self, cloud: Any, workflow: Any) -> list[str]:
        """A typo'd cloud or workflow is a ValueError naming what exists, never an empty frame; the ids of
        the workflows `workflow` selects, by the rule of every workflow filter (`suite.workflows_named`)."""
        clouds, workflows = as_list(cloud), as_list(workflow)
        if not clouds and not workflows:
            return []
        from flowscope.analysis.run import check_filters

        with safe_errors():
            return check_filters(self.store.tables(("executions", "workflows")),
                                 clouds=clouds, workflows=workflows)

    # Each reader: rows in [since, until) of the table's time (TIME_COLUMN: a run's or step's start, a
    # definition's seen_at, a metric's timestamp), filtered in the engine by cloud ("aws", any case), workflow
    # (name or id), status (any case) and execution_id, each one value or a list; the first `limit` rows in
    # time order. A filter the table has no column for is a ValueError naming those it takes.

    def workflows(self, since: Any = None, until: Any = None, *, cloud: Any = None, workflow: Any = None,
                  status: Any = None, execution_id: Any = None, limit: int | None = None) -> "pd.DataFrame":
        """Workflow definitions seen in [since, until) ('7d', '2026-11-01', a datetime); filters: cloud, workflow."""
        return self._select("workflows", since=since, until=until, cloud=cloud, workflow=workflow, status=status,
                            execution_id=execution_id, limit=limit)

    def executions(self, since: Any = None, until: Any = None, *, cloud: Any = None, workflow: Any = None,
                   status: Any = None, execution_id: Any = None, limit: int | None = None) -> "pd.DataFrame":
        """Executions started in [since, until) ('7d', '2026-11-01', a datetime); filters: cloud, workflow,
        status, execution_id."""
        return self._select("executions", since=since, until=until, cloud=cloud, workflow=workflow, status=status,
                            execution_id=execution_id, limit=limit)

    def steps(self, since: Any = None, until: Any = None, *, cloud: Any = None, workflow: Any = None,
              status: Any = None, execution_id: Any = None, limit: int | None = None) -> "pd.DataFrame":
        """Steps (states, actions) started in [since, until) (by their end where no start is recorded);
        filters: cloud, workflow, status, execution_id."""
        return self._select("steps", since=since, until=until, cloud=cloud, workflow=workflow, status=status,
                            execution_id=execution_id, limit=limit)

    def attempts(self, since: Any = None, until: Any = None, *, cloud: Any = None, workflow: Any = None,
                 status: Any = None, execution_id: Any = None, limit: int | None = None) -> "pd.DataFrame":
        """Tries of steps started in [since, until) (a Logic Apps action's last try by its end); filters: cloud,
        workflow, status, execution_id."""
        return self._select("attempts", since=since, until=until, cloud=cloud, workflow=workflow, status=status,
                            execution_id=execution_id, limit=limit)

    def usage(self, since: Any = None, until: Any = None, *, cloud: Any = None, workflow: Any = None,
              status: Any = None, execution_id: Any = None, limit: int | None = None) -> "pd.DataFrame":
        """Billable usage of the runs started in [since, until); filters: cloud, workflow, execution_id (no
        status: a ValueError)."""
        return self._select("usage", since=since, until=until, cloud=cloud, workflow=workflow, status=status,
                            execution_id=execution_id, limit=limit)

    def metrics(self, since: Any = None, until: Any = None, *, cloud: Any = None, workflow: Any = None,
                status: Any = None, execution_id: Any = None, limit: int | None = None) -> "pd.DataFrame":
        """Metric datapoints in [since, until); filter: cloud. Only `flowscope sync` of live sources collects
        them: warns when there are none."""
        frame = self._select("metrics", since=since, until=until, cloud=cloud, workflow=workflow, status=status,
                             execution_id=execution_id, limit=limit)
        if frame.empty and self._holds_no_metrics():
            warnings.warn("the store holds no metrics: metrics come only from `flowscope sync` of live "
                          "sources (the demo and imported files carry none)", UserWarning, stacklevel=2)
        return frame

    def _holds_no_metrics(self) -> bool:
        """Whether the store holds no metric at all (the reason an empty `metrics()` frame is warned of)."""
        with damage_named(self.store):
            return bool(self.store.table("metrics").count().to_pyarrow().as_py() == 0)

    def collection_runs(self, since: Any = None, until: Any = None, *, cloud: Any = None, workflow: Any = None,
                        status: Any = None, execution_id: Any = None,
                        limit: int | None = None) -> "pd.DataFrame":
        """Collection runs (syncs, imports, the demo) started in [since, until); filters: cloud, status."""
        return self._select("collection_runs", since=since, until=until, cloud=cloud, workflow=workflow,
                            status=status, execution_id=execution_id, limit=limit)

def configured_thresholds() -> Any:
    """The config file's [thresholds] as the commands read them (FLOWSCOPE_CONFIG or ./flowscope.toml, else the
    defaults): flowscope.analyze used the defaults, so a notebook and `flowscope analyze` of the same window
    disagreed. A bad table is a ValueError naming the file and the line, as the commands' exit 2 does."""
    from flowscope.analysis import Thresholds
    from flowscope.settings import in_config_file, load_settings

    settings = load_settings()
    try:
        return Thresholds.from_mapping(settings.thresholds)
    except ValueError as exc:
        raise ValueError(in_config_file(str(exc), settings.config_path)) from None


def check_thresholds(thresholds: Any) -> None:
    """`thresholds=` is a Thresholds or a mapping of threshold names to numbers: anything else failed inside
    the analyses ("'int' object is not iterable"), naming no argument."""
    from collections.abc import Mapping

    from flowscope.analysis import Thresholds

    if not isinstance(thresholds, (Thresholds, Mapping)):
        raise TypeError(f"thresholds takes a dict of thresholds ({{'failure_rate': 0.5}}) or a "
                        f"flowscope.analysis.Thresholds, not {reprlib.repr(thresholds)}")


def with_dollars_meaning(findings: "pd.DataFrame") -> "pd.DataFrame":
    """`findings` with `monthly_usd_is` beside `monthly_usd` (`analysis.suite.with_dollars_is`, the exports'
    column), a text column like the others: without it `monthly_usd.sum()` added savings to costs and spend."""
    from flowscope.analysis.suite import MONTHLY_USD_IS, with_dollars_is

    frame = findings.copy()
    with_dollars_is(frame)
    frame[MONTHLY_USD_IS] = frame[MONTHLY_USD_IS].astype(frame["kind"].dtype)
    return frame


def open_store(path: "str | os.PathLike[str] | bytes | Store | None" = None,
               caller: str = "flowscope.open") -> Session:
    """Open an existing store folder (default: settings, FLOWSCOPE_STORE, ~/.flowscope).

    A reader never creates a store: a path that holds none raises NotAStoreError naming it, and
    saying how to name another as an argument of `caller` (the error's own text says --store).
    """
    from flowscope.settings import load_settings
    from flowscope.store import NotAStoreError, Store

    if isinstance(path, Store):      # the object a writer holds: read as its folder is
        return Session(path)
    if path is not None and not isinstance(path, (str, bytes, os.PathLike)):   # 5 was looked for as ./5
        raise TypeError(f"{caller}() takes the store's folder (a str or a Path), not {reprlib.repr(path)}")
    path = None if path is None else os.fsdecode(path)     # b"/x" was looked for as "./b'/x'"
    if path is not None and not path.strip():   # open("") read the default store
        raise ValueError(f"{caller}(''): the path is empty; name the store folder, or call "
                         f"{caller}() for the configured store")
    try:
        return Session(Store.open(path or load_settings().store_path))
    except NotAStoreError as exc:
        raise exc.for_caller(caller) from None

