"""What every measure of `tables` is written with and reads through: the SQL vocabulary (`q`, the status
lists, the quantile SQL), the global `Filters`, `run` (every read, its start dates widened by
`first_live_date`), the tables made once per snapshot connection, and the workflow names rows are given.

Shared by every group of measures, so it lives once, here: `tables.py` re-exports it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from flowscope.analysis import measures, pricing
from flowscope.model import UTC, C, StepType

COLS: dict[str, str] = {k: v for k, v in vars(C).items() if not k.startswith("_") and isinstance(v, str)}

EXEC_FAILED = list(measures.RUN_FAILED)
"""Execution statuses that count as a failed run (analysis/measures.py defines every measure)."""
STEP_FAILED = list(measures.STEP_FAILED)
"""Step statuses that count as a failed visit (caught failures included)."""
TERMINAL = list(measures.TERMINAL)
WORK_TYPES = [str(StepType.TASK), str(StepType.TRIGGER)]


def q(template: str, **extra: Any) -> str:
    """A SQL template with `{column}` placeholders taken from the model's `C`."""
    return template.format(**COLS, **extra)


def quantiles_sql(column: str, named: dict[str, float]) -> str:
    """`quantile_cont(column, [q1, q2, ...])[i] AS name` for each (name, quantile): DuckDB computes the
    identical list aggregate once and sorts each group once for all the quantiles, where one aggregate
    per quantile sorts it once each (a step's p50/p95/p99 over 30 days of the 1M dashboard store:
    0.52 s of CPU to 0.34 s, values equal to the bit)."""
    qs = ", ".join(repr(float(v)) for v in named.values())
    return ", ".join(f"quantile_cont({column}, [{qs}])[{i}] AS {name}" for i, name in enumerate(named, 1))


PCTS = quantiles_sql(C.duration_ms, {"p50_ms": 0.5, "p95_ms": 0.95})
PCTS3 = quantiles_sql(C.duration_ms, {"p50_ms": 0.5, "p95_ms": 0.95, "p99_ms": 0.99})
TIMED_RUN_SQL = f"coalesce({C.redrive_count}, 0) = 0"
"""`measures.TIMED_RUN` in SQL over the executions (`base.timed_run` is the engine's form): a redriven
run's duration spans the wait before its redrive, so it is no run's duration."""
_TIMED_MS = f"CASE WHEN {TIMED_RUN_SQL} THEN {C.duration_ms} END"
RUN_PCTS = quantiles_sql(_TIMED_MS, {"p50_ms": 0.5, "p95_ms": 0.95})
RUN_PCTS3 = quantiles_sql(_TIMED_MS, {"p50_ms": 0.5, "p95_ms": 0.95, "p99_ms": 0.99})
"""Run duration percentiles over the executions: of timed runs only (`TIMED_RUN_SQL`)."""


@dataclass(frozen=True)
class Filters:
    """The global filters: [since, until), clouds and workflow ids (empty: all), and the days in a
    projected month (`Thresholds.monthly_days`, the analyses' setting)."""

    since: dt.datetime
    until: dt.datetime
    clouds: tuple[str, ...] = ()
    workflows: tuple[str, ...] = ()     # workflow ids
    month_days: float = measures.DEFAULT_MONTH_DAYS
    data_since: dt.datetime | None = None   # the first execution the filters show (any time), for projections

    @property
    def days(self) -> float:
        return measures.window_days((self.until - self.since).total_seconds())

    @property
    def monthly_factor(self) -> float:
        """Spend over the window x this = projected monthly spend (measures.monthly_factor over
        measures.measured_days: the days from the later of the window's start and `data_since`)."""
        return measures.monthly_factor(measures.measured_days(self.since, self.until, self.data_since),
                                       self.month_days)

    def params(self) -> dict[str, Any]:
        """The named SQL parameters; `price_date` is the day prices are read on: the window's end, the
        analyses' rule (analysis/cost.py prices usage `on=ctx.until.date()`), by `pricing.price_day` (a
        day before the price list's first is priced as of that day: a 2019 window read $0 of spend here
        while the analyses priced it)."""
        return {"since": self.since, "until": self.until,
                "since_date": self.since.date() - dt.timedelta(days=1), "until_date": self.until.date(),
                "price_date": pricing.price_day(self.until.date()), LIVE_CLOUDS: self.clouds}

    def where(self, alias: str = "", time_column: str = C.started_at, *, dated: bool = True,
              timed: bool = True) -> str:
        """SQL conditions for this filter (named parameters $since, $until, ...). timed=False keeps
        the partition dates (execution start) but not the time column: the steps of executions
        that started in the window, including those before `since` (a transition's source)."""
        p = f"{alias}." if alias else ""
        parts = [f"{p}{time_column} >= $since", f"{p}{time_column} < $until"] if timed else []
        if dated:
            parts.append(f"{p}{C.start_date} BETWEEN $since_date AND $until_date")
        if self.clouds:
            parts.append(f"{p}{C.cloud} IN ({', '.join(_lit(c) for c in self.clouds)})")
        if self.workflows:
            parts.append(f"{p}{C.workflow_id} IN ({', '.join(_lit(w) for w in self.workflows)})")
        return " AND ".join(parts)

    def previous(self) -> "Filters":
        span = self.until - self.since
        return Filters(self.since - span, self.since, self.clouds, self.workflows, self.month_days, self.data_since)


def _lit(value: str) -> str:
    """A SQL string literal (values come from the URL: quote them, never paste them)."""
    return "'" + str(value).replace("'", "''") + "'"


def bucket_seconds(f: Filters) -> int:
    """Trend granularity for a window: hourly up to 2 days, 6-hourly up to 10, else daily."""
    if f.days <= 2:
        return 3600
    if f.days <= 10:
        return 6 * 3600
    return 86400


def _bucket(column: str, seconds: int) -> str:
    return f"to_timestamp(floor(epoch({column}) / {seconds}) * {seconds})"


def run(con: Any, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    """Execute on a DuckDB connection; timestamps come back as UTC. A query that bounds the execution start
    dates it reads (`$since_date`, `Filters.where`) has the bound moved back to the first start date whose
    executions were still running at the window's start (`first_live_date`)."""
    used = {k: v for k, v in (params or {}).items() if f"${k}" in sql}
    if "since_date" in used and "since" in used:
        clouds = (params or {}).get(LIVE_CLOUDS, ())
        used["since_date"] = first_live_date(con, used["since"], used["since_date"], clouds)
    frame = measures.settle_floats(con.execute(sql, used).df() if used else con.execute(sql).df())
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.DatetimeTZDtype):
            frame[col] = frame[col].dt.tz_convert(UTC)
    return frame


# ---------------------------------------------------------------- store-wide

RUN_DAYS = "fs_run_days"
"""A table, in a snapshot connection's own in-memory database, of RUN_DAYS_SQL's rows."""

RUN_DAYS_SQL = q("""
    SELECT {cloud}, {workflow_id}, {start_date}, count(*) AS runs,
           count(*) FILTER (WHERE {status} = 'RUNNING') AS running,
           min({started_at}) AS first, max({started_at}) AS last,
           max(coalesce({ended_at}, 'infinity'::TIMESTAMPTZ)) AS last_end,
           any_value({workflow_name}) AS {workflow_name}, any_value({kind}) AS {kind}
    FROM executions GROUP BY ALL
""")
"""Per cloud, workflow and execution start date: its runs, those still running, its first and last start, when
its last run ended (infinity while one has no end) and a name and kind its runs give. The store's summary, the
sidebar's workflows and the days whose runs may have steps in a window (`first_live_date`) all read every
execution; each read them on its own, and on a year of daily files (1,098 a table) the three reads took 0.96 s
of a server's first page, most of it DuckDB opening every file again (0.3 ms a file a read). They read this
table instead, made in one read per snapshot connection."""


def run_days(con: Any) -> str:
    """The name of the table of RUN_DAYS_SQL's rows, made once per snapshot connection (`_snapshot_table`)."""
    return _snapshot_table(con, RUN_DAYS, lambda: RUN_DAYS_SQL)


WORKFLOW_OPTIONS_SQL = q("""
    SELECT {cloud}, {workflow_id}, any_value({workflow_name}) AS {workflow_name},
           any_value({kind}) AS {kind}, sum(runs)::BIGINT AS executions, min(first) AS first
    FROM {{days}} GROUP BY ALL
    UNION ALL
    SELECT w.{cloud}, w.{workflow_id}, any_value(w.{name}), any_value(w.{kind}), 0, CAST(NULL AS TIMESTAMPTZ)
    FROM workflows w
    WHERE NOT EXISTS (SELECT 1 FROM {{days}} e WHERE e.{cloud} = w.{cloud}
                      AND e.{workflow_id} = w.{workflow_id})
    GROUP BY ALL
""")


WORKFLOWS_SEEN = "fs_workflows_seen"
"""A table, in a snapshot connection's own in-memory database, of WORKFLOW_OPTIONS_SQL's rows."""


def workflows_seen(con: Any) -> str:
    """The name of a table holding WORKFLOW_OPTIONS_SQL's rows, made once per snapshot connection.

    Most page queries name their rows (`_with_names`), and the options scan every execution: on a
    1M-execution store that is ~0.1 s a query, paid two or three times per page."""
    return _snapshot_table(con, WORKFLOWS_SEEN, lambda: WORKFLOW_OPTIONS_SQL.format(days=run_days(con)))


def _snapshot_table(con: Any, name: str, make_sql: Callable[[], str]) -> str:
    """`make_sql()`'s rows as the table `name` of the connection's in-memory database, made on first use. A
    snapshot's connection reads files that never change, so the rows are computed once, and every cursor
    of that connection shares them. When two cursors race to create it, the loser reads the query directly
    this time (the name returned is then the query, in parentheses). The query is asked for only when the
    table is to be made: a table made from another (`run_days`) would otherwise look that one up at every call."""
    import duckdb

    made = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = $name", {"name": name}).fetchone()
    if made and made[0]:
        return name
    sql = make_sql()
    try:
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} AS {sql}")
    except duckdb.Error:
        return f"({sql})"
    return name


LIVE_CLOUDS = "live_clouds"
"""The parameter (not a SQL one) that carries a filter's clouds to `first_live_date`."""

LIVE_DAYS = "fs_live_days"
"""A table, in a snapshot connection's own in-memory database, of LIVE_DAYS_SQL's rows."""

LIVE_DAYS_SQL = q("""
    SELECT {cloud}, {start_date}, max(last_end) AS last_end FROM {{days}} GROUP BY ALL
""")
"""Per cloud and execution start date, when its executions' last one ended (infinity while one has no end)."""


def first_live_date(con: Any, since: dt.datetime, bound: dt.date, clouds: tuple[str, ...] = ()) -> dt.date:
    """The first execution start date (at most `bound`) whose executions may have steps from `since` on:
    one of them had not ended by then. A page's step queries read the execution tables from a start date
    on (`Filters.where`: the partitions they scan), and a step belongs to its execution's start date, so an
    approval that waited three days before its failing step read "no failing step" on the Failures page
    while the analyses flagged it. Read from a table of the snapshot (`LIVE_DAYS`), not the executions; `clouds`
    (the filter's; none: all) keeps a run still going in one cloud from widening another's reads."""
    table = _snapshot_table(con, LIVE_DAYS, lambda: LIVE_DAYS_SQL.format(days=run_days(con)))
    only = f" AND {C.cloud} IN ({_in(list(clouds))})" if clouds else ""
    row = con.execute(f"SELECT min({C.start_date}) FROM {table} WHERE last_end >= $since AND {C.start_date} < $bound"
                      f"{only}", {"since": since, "bound": bound}).fetchone()
    first = row[0] if row else None
    return min(bound, first) if isinstance(first, dt.date) else bound


def workflow_options(con: Any) -> pd.DataFrame:
    """Every workflow seen (executions or definitions): cloud, workflow_id, workflow_name, kind, executions
    and first (its first execution's start; null for a definition that never ran)."""
    return run(con, f"SELECT * FROM {workflows_seen(con)} ORDER BY 1, 3")


def _in(values: list[str]) -> str:
    return ", ".join(_lit(v) for v in values)


def _with_names(con: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Add the workflow name (small lookup) after the cloud column."""
    if frame.empty:
        frame.insert(1, "workflow", pd.Series(dtype="object"))
        return frame
    names = workflow_options(con)[[C.cloud, C.workflow_id, C.workflow_name]].drop_duplicates([C.cloud, C.workflow_id])
    out = frame.merge(names, on=[C.cloud, C.workflow_id], how="left")
    out.insert(1, "workflow", out.pop(C.workflow_name).fillna(out[C.workflow_id]))
    return out
