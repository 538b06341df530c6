"""The measures every surface shows: pure functions of a DuckDB connection and the global filters.

Step and workflow statistics, spend and its projection, failures, latency, retries, collection
health: defined once here so the dashboard, reports and the CLI show the same figure for the same
filters. Every function aggregates in DuckDB and returns a small pandas DataFrame; none loads
every row of a table. No Streamlit here: `flowscope.ui.data` wraps these with caching, and the
tests and the benchmark call them directly.

SQL templates name columns through `{placeholders}` filled from `flowscope.model.C`, so a
renamed model column fails loudly (KeyError) the first time a query is built.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from flowscope.analysis import measures, pricing, transitions
from flowscope.analysis.base import CONTAINER_TYPES, EXECUTION_STEP, NOT_WORK, utc_stamp
from flowscope.analysis.step_rank import lowest_rank, rank_sql
from flowscope.model import COLLECTED_STATUSES, TABLES, UTC, C, Status, StepType, superseded_failures
from flowscope.runstate import interrupted
from flowscope.timewindow import known_end

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


# ---------------------------------------------------------------- pricing in the engine

def price_frame(on: dt.date | None = None) -> pd.DataFrame:
    """Marginal unit prices per (meter, region): analysis/pricing.py's one price list ('' = default region)."""
    return pd.DataFrame(pricing.price_rows(on))


def dated_price_frame() -> pd.DataFrame:
    """Every price list pricing.py has held, as rows valid on days [p_from, p_to): the list in effect on
    each day a price changed (`pricing.price_rows(day)`), so picking the rows valid on a day gives
    exactly `price_rows(that day)`. The dashboard's SQL picks the window's end (`$price_date`).
    Made once per price list (every query's cursor registers it)."""
    return _dated_price_frame(pricing.PRICES)


@functools.lru_cache(maxsize=4)
def _dated_price_frame(prices: tuple[pricing.Price, ...]) -> pd.DataFrame:
    days = sorted({p.effective for p in prices})
    frames = []
    for day, next_day in zip(days, [*days[1:], dt.date.max], strict=True):
        frames.append(price_frame(day).assign(p_from=day, p_to=next_day))
    return pd.concat(frames, ignore_index=True)


PRICES_ON_DAY = "(SELECT * FROM fs_prices WHERE p_from <= $price_date AND $price_date < p_to)"
"""The price list in effect on `$price_date` (Filters.params: the window's end, as the analyses price)."""


KINDS_SQL = q("""
    SELECT s.{cloud}, s.{workflow_id}, coalesce(d.{kind}, s.{kind}) AS {kind}
    FROM {{seen}} s LEFT JOIN (SELECT {cloud}, {workflow_id}, arg_max({kind}, {seen_at}) AS {kind}
                             FROM workflows GROUP BY ALL) d
         ON d.{cloud} = s.{cloud} AND d.{workflow_id} = s.{workflow_id}
""")
"""Each workflow's kind as the analyses take it (`suite.known_workflows`): its latest definition's, else its
runs'. The dashboard priced a Logic Apps Standard workflow known only from its runs (imported without its
workflows row) at Consumption rates, $0.025 for 1,000 built-in actions the analyses priced at $0."""


def prepare(con: Any) -> Any:
    """Per-cursor set-up: UTC session time zone, the dated price table and each workflow's kind (the view
    `fs_kinds`, `KINDS_SQL` over the connection's `workflows_seen`), which the priced SQL reads."""
    con.execute("SET TimeZone = 'UTC'")
    con.register("fs_prices", dated_price_frame())
    # a view: computed by the queries that price, from the small tables it reads, not on every cursor
    con.execute(f"CREATE OR REPLACE TEMP VIEW fs_kinds AS {KINDS_SQL.format(seen=workflows_seen(con))}")
    return con


def _priced(source: str) -> str:
    """Rows of `source` (cloud, workflow_id, meter, region, quantity, ...) with `unit_usd`, priced by
    analysis/pricing.py's rule at the prices of `$price_date`. `source` may be raw usage rows or usage
    already summed per (cloud, workflow_id, meter, region, ...): the price is linear in the quantity, so
    pricing the sums gives the same dollars as summing priced rows, with three small joins instead of
    three per row."""
    return pricing.priced_usage_sql(source, prices=PRICES_ON_DAY)


def priced_usage_sql(f: Filters, extra: str = "") -> str:
    """Usage rows in the window with `usd` (marginal price x quantity), one per usage row.

    For totals prefer `usage_cost_sql`, which sums quantities before pricing them."""
    return _with_usd(q("SELECT * FROM usage WHERE {where} {extra}", where=f.where(), extra=extra))


def _with_usd(rows: str) -> str:
    """The usage rows of the SQL `rows` with `usd` (marginal price x quantity), one per row."""
    return f"SELECT * EXCLUDE (unit_usd), unit_usd * {C.quantity} AS usd FROM ({_priced(rows)})"


def usage_names_missing(con: Any, f: Filters) -> bool:
    """Whether usage rows of a step in the window lack the step's `name`: stores written before
    usage had the column read it as null, and their cost per step needs the join to steps."""
    return not run(con, q("SELECT 1 AS x FROM usage WHERE {where} AND {name} IS NULL AND {step_key} IS NOT NULL "
                          "LIMIT 1", where=f.where()), f.params()).empty


def usage_sql(con: Any, f: Filters, extra: str = "") -> str:
    """Usage rows in the window with `step`: the step's name, `base.EXECUTION_STEP` for per-execution
    meters. A group-by on usage alone, except on stores written before usage had `name`."""
    rows = _usage_rows(f, extra)
    if not usage_names_missing(con, f):
        return f"SELECT *, coalesce({C.name}, {_lit(EXECUTION_STEP)}) AS step FROM ({rows})"
    return q("""
        SELECT u.*, coalesce(u.{name}, s.{name}, {whole}) AS step
        FROM ({rows}) u LEFT JOIN (SELECT {cloud}, {execution_id}, {step_key}, {name} FROM steps WHERE {where}) s
             ON u.{name} IS NULL AND s.{cloud} = u.{cloud} AND s.{execution_id} = u.{execution_id}
                AND s.{step_key} = u.{step_key}
    """, rows=rows, where=f.where(), whole=_lit(EXECUTION_STEP))


def _usage_rows(f: Filters, extra: str = "") -> str:
    return q("SELECT * FROM usage WHERE {where} {extra}", where=f.where(), extra=extra)


PRICE_KEYS = (C.cloud, C.workflow_id, C.meter, C.region)


def usage_cost_sql(source: str, dims: list[str], sums: tuple[str, ...] = (C.quantity,),
                   counts: dict[str, str] | None = None) -> str:
    """Cost by `dims` (columns of `source`), all in the engine: quantities are summed per dims and
    price key, priced, then summed per dims into `cost_usd`; each of `sums` comes back summed
    (`quantity`) with its dollars (`<column>_usd` for any other, e.g. a retry share of the quantity).
    `counts` (alias -> aggregate) are taken per dims and region and summed: an execution's usage
    has one region, so distinct counts of executions add up."""
    keys = list(dict.fromkeys([*dims, *PRICE_KEYS]))
    counts = counts or {}
    first = ", ".join([*keys, *(f"sum({c}) AS {c}" for c in sums), *(f"{e} AS {a}" for a, e in counts.items())])
    second = ", ".join([*dims, f"sum(unit_usd * {C.quantity}) AS cost_usd",
                        *(f"sum({c}) AS {c}" for c in sums),
                        *(f"sum(unit_usd * {c}) AS {c}_usd" for c in sums if c != C.quantity),
                        *(f"sum({a})::BIGINT AS {a}" for a in counts)])
    return f"SELECT {second} FROM ({_priced(f'SELECT {first} FROM ({source}) GROUP BY ALL')}) GROUP BY ALL"


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


def store_summary(con: Any) -> dict[str, Any]:
    """Row counts and the time span of the store (for empty / stale states)."""
    e = run(con, q("SELECT coalesce(sum(runs), 0)::BIGINT AS n, min(first) AS first, max(last) AS last, "
                   "list(DISTINCT {cloud} ORDER BY {cloud}) AS clouds, "
                   "coalesce(sum(running), 0)::BIGINT AS running FROM {days}", days=run_days(con)))
    runs = run(con, q("SELECT count(*) AS n, max({watermark}) FILTER (WHERE {status} IN ({collected})) "
                      "AS collected_to FROM collection_runs", collected=_in(list(COLLECTED_STATUSES))))
    row = e.iloc[0]
    return {"executions": int(row["n"]), "first": _ts(row["first"]), "last": _ts(row["last"]),
            "known_to": known_end(_ts(row["last"]), _ts(runs.iloc[0]["collected_to"])),
            "clouds": [] if not isinstance(row["clouds"], (list, tuple)) and pd.isna(row["clouds"]) is True
            else list(row["clouds"]),
            "collection_runs": int(runs.iloc[0]["n"]), "running": int(row["running"])}


def _ts(value: Any) -> dt.datetime | None:
    """A moment a query returned as an aware UTC datetime (`base.utc_stamp`); None for a missing one."""
    return None if value is None or pd.isna(value) else utc_stamp(value).to_pydatetime()


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


def first_execution(options: pd.DataFrame, clouds: tuple[str, ...] | list[str] = (),
                    workflows: tuple[str, ...] | list[str] = ()) -> dt.datetime | None:
    """When the first execution of the filtered clouds and workflows (ids) started, from
    `workflow_options`' rows: where their data begins, so whether it covers the previous window
    (`measures.previous_covered`) is judged for what the filters show, as a report's coverage is."""
    rows = options
    if clouds:
        rows = rows[rows[C.cloud].isin(list(clouds))]
    if workflows:
        rows = rows[rows[C.workflow_id].isin(list(workflows))]
    return _ts(rows["first"].min()) if not rows.empty else None


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


# ---------------------------------------------------------------- overview

def overview_by_cloud(con: Any, f: Filters) -> pd.DataFrame:
    """Per cloud: executions, failed, running, failure rate, retries, cost in window and per month."""
    return overview_and_trend(con, f, with_previous=False, with_trend=False)[0]


def overview_and_trend(con: Any, f: Filters, *, with_previous: bool, with_trend: bool = True) -> Overview:
    """`overview_by_cloud` of `f`, of `f.previous()` when `with_previous` (else None), and the trend of `f`
    (per bucket of `bucket_seconds` and cloud: executions, failed, finished, retries, cost, and the run
    failure rate by the headline's rule, `measures.run_failure_rate`, null where no run finished):
    the executions and the steps of both windows read in one pass each, grouped by trend bucket, cloud
    and window; the overview's counts are sums of the trend's buckets, so Overview's table and its
    charts add up by construction. Cost is priced per window, each at its own price date. Overview's
    rerun on the 1M dashboard store's 30 days read executions, steps and usage twice (overview, then
    trend): 0.33 s of its 0.44 s. Without `with_trend` the rows are not bucketed (one bucket, null) and
    the trend that comes back is that one bucket: for the callers that want only the overview."""
    windows = [f, f.previous()] if with_previous else [f]
    span = dataclasses.replace(f, since=windows[-1].since)
    p = {**span.params(), "split": f.since}
    current = f"{C.started_at} >= $split" if with_previous else "TRUE"
    bucket = _bucket(C.started_at, bucket_seconds(f)) if with_trend else "NULL::TIMESTAMPTZ"
    ex = run(con, q("""
        SELECT {bucket} AS bucket, {cloud}, {current} AS current, count(*) AS executions,
               count(*) FILTER (WHERE {status} IN ({failed})) AS failed,
               count(*) FILTER (WHERE {status} = 'RUNNING') AS running,
               count(*) FILTER (WHERE {status} IN ({terminal})) AS finished
        FROM executions WHERE {where} GROUP BY ALL
    """, bucket=bucket, current=current, failed=_in(EXEC_FAILED), terminal=_in(TERMINAL), where=span.where()), p)
    rt = run(con, q("""
        SELECT {bucket} AS bucket, {cloud}, {current} AS current, sum(greatest({attempts} - 1, 0))::BIGINT AS retries
        FROM steps WHERE {where} GROUP BY ALL
    """, bucket=bucket, current=current, where=span.where()), p)
    co = run(con, usage_cost_sql(f"SELECT *, {bucket} AS bucket FROM ({_usage_rows(f)})", ["bucket", C.cloud]),
             f.params()).drop(columns=C.quantity)
    ex_now, rt_now = ex[ex["current"]].drop(columns="current"), rt[rt["current"]].drop(columns="current")
    keys = ["bucket", C.cloud]
    tr = ex_now.drop(columns=["running"]).merge(rt_now, on=keys, how="outer")
    tr = tr.merge(co, on=keys, how="outer")
    for col in ("executions", "failed", "finished", "retries"):
        tr[col] = tr[col].fillna(0).astype("int64")
    tr["cost_usd"] = tr["cost_usd"].fillna(0.0).astype(float)
    # The headline's rule per bucket (failed / finished); a bucket with no finished run has no rate (a gap).
    tr["failure_rate"] = [measures.run_failure_rate(r.failed, r.finished) if r.finished else None
                          for r in tr.itertuples(index=False)]
    tr["failure_rate"] = tr["failure_rate"].astype(float)
    tr = tr.sort_values(keys).reset_index(drop=True)
    now = _overview_frame(_by_cloud(ex_now), _by_cloud(rt_now), _by_cloud(co), f)
    before = None
    if with_previous:
        previous = windows[1]
        co_before = run(con, usage_cost_sql(_usage_rows(previous), [C.cloud]),
                        previous.params()).drop(columns=C.quantity)
        before = _overview_frame(_by_cloud(ex[~ex["current"]].drop(columns="current")),
                                 _by_cloud(rt[~rt["current"]].drop(columns="current")), co_before, previous)
    return now, before, tr


def _by_cloud(frame: pd.DataFrame) -> pd.DataFrame:
    """A per-bucket frame summed per cloud (floats settled again: a sum of settled sums)."""
    summed = frame.drop(columns=["bucket"], errors="ignore").groupby(C.cloud, as_index=False).sum()
    return measures.settle_floats(summed)


OVERVIEW_COUNTS = [C.cloud, "executions", "failed", "running", "finished", "retries", "cost_usd"]
"""The overview's per-cloud sums; its total row and rates are made from them (`_with_total`). No billed
quantity: a cloud's is a sum of unlike units (state transitions + GB-seconds + requests)."""

Overview = tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame]
"""`overview_and_trend`'s result: the window's overview, the previous window's (or None), the trend."""


def narrow_overview(wide: Overview, f: Filters) -> Overview:
    """`overview_and_trend` of `f` taken from `wide`, the same call for every cloud of `f`'s window
    (same `with_previous`): every row of it is one cloud's (the trend's per bucket and cloud), so `f`'s
    clouds are a subset of its rows and only their totals are summed again, without reading the store.
    The dashboard's cloud filter: Overview's rerun for one cloud of the 1M bench store's 7 days read
    executions, steps and usage again (~0.3 s of server time). Not for a workflow filter."""
    if f.workflows:
        raise ValueError("narrow_overview narrows clouds only; a workflow filter needs its own read")
    now, before, trend = wide
    keep = set(f.clouds)

    def narrow(frame: pd.DataFrame, window: Filters) -> pd.DataFrame:
        rows = frame[(frame[C.cloud] != "total") & frame[C.cloud].isin(keep)]
        return _with_total(rows[OVERVIEW_COUNTS].reset_index(drop=True), window)

    narrowed_before = narrow(before, f.previous()) if before is not None else None
    return narrow(now, f), narrowed_before, trend[trend[C.cloud].isin(keep)].reset_index(drop=True)


def _overview_frame(ex: pd.DataFrame, rt: pd.DataFrame, co: pd.DataFrame, f: Filters) -> pd.DataFrame:
    return _with_total(ex.merge(rt, on=C.cloud, how="outer").merge(co, on=C.cloud, how="outer"), f)


def _with_total(out: pd.DataFrame, f: Filters) -> pd.DataFrame:
    """Per-cloud sums (`OVERVIEW_COUNTS`) with their total row, run failure rate and monthly projection."""
    for col in ("executions", "failed", "running", "finished", "retries"):
        out[col] = out[col].fillna(0).astype("int64")
    out["cost_usd"] = out["cost_usd"].fillna(0.0).astype(float)
    out = out.sort_values(C.cloud).reset_index(drop=True)
    total = {C.cloud: "total", **{c: out[c].sum() for c in
                                  ("executions", "failed", "running", "finished", "retries", "cost_usd")}}
    out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    # no rate where no run finished (an empty window, runs all still running), as the trend's rule
    out["failure_rate"] = pd.Series([measures.run_failure_rate(r.failed, r.finished) if r.finished else None
                                     for r in out.itertuples()], dtype=float, index=out.index)
    out["monthly_usd"] = out["cost_usd"] * f.monthly_factor
    return out


def _in(values: list[str]) -> str:
    return ", ".join(_lit(v) for v in values)


# ---------------------------------------------------------------- collection health

def collection_health(con: Any, now: dt.datetime | None = None) -> pd.DataFrame:
    """Every scope's latest run: status, last sync, lag behind now, error; failures in the last day;
    `superseded`: why a failed one is no longer the last word on its source (`model.superseded_failures`,
    the rule the analyses' coverage and `doctor` apply), else None; `interrupted`: why a latest run
    recorded as `running` is no longer running (its sync was killed: `runstate.interrupted`, the rule of
    the `collection_gap` findings), else None."""
    now = now or dt.datetime.now(UTC)
    frame = run(con, q("""
        WITH ranked AS (
            SELECT *, row_number() OVER (PARTITION BY {cloud}, {scope}
                                         ORDER BY {started_at} DESC, {run_id} DESC) AS rn
            FROM collection_runs)
        SELECT r.{run_id}, r.{details}, r.{cloud}, r.{scope}, r.{status}, r.{started_at} AS last_sync_started,
               r.{ended_at} AS last_sync_ended, r.{watermark}, r.{error}, r.{counts},
               (SELECT max(x.{ended_at}) FROM collection_runs x WHERE x.{cloud} = r.{cloud}
                   AND x.{scope} = r.{scope} AND x.{status} IN ({collected})) AS last_success,
               (SELECT count(*) FROM collection_runs x WHERE x.{cloud} = r.{cloud} AND x.{scope} = r.{scope}
                   AND x.{status} = 'failed' AND x.{started_at} >= $day_ago) AS failures_24h,
               (SELECT count(*) FROM collection_runs x WHERE x.{cloud} = r.{cloud}
                   AND x.{scope} = r.{scope}) AS runs
        FROM ranked r WHERE rn = 1
        ORDER BY CASE r.{status} WHEN 'failed' THEN 0 WHEN 'partial' THEN 1 WHEN 'running' THEN 2 ELSE 3 END,
                 r.{cloud}, r.{scope}
    """, collected=_in(list(COLLECTED_STATUSES))), {"day_ago": now - dt.timedelta(days=1)})
    lag = []
    for row in frame.itertuples():
        ref = row.watermark if not pd.isna(row.watermark) else row.last_success
        lag.append((now - pd.Timestamp(ref).to_pydatetime()).total_seconds() / 60.0 if not pd.isna(ref) else None)
    frame["lag_minutes"] = pd.Series(lag, dtype="float64")
    frame["interrupted"] = pd.Series([interrupted({C.status: r.status, C.started_at: r.last_sync_started,
                                                   C.details: r.details}, now) for r in frame.itertuples()],
                                     dtype="object")
    rows = frame.rename(columns={"last_sync_started": C.started_at}).to_dict("records")
    why = superseded_failures(rows)
    frame["superseded"] = pd.Series([why.get(str(r)) for r in frame[C.run_id]], index=frame.index, dtype="object")
    return frame.drop(columns=[C.run_id, C.details])


# ---------------------------------------------------------------- workflows

def workflow_trend_seconds(f: Filters) -> int:
    """The bucket of `workflow_table`'s runs trend: a day, an hour in windows of 3 days or less."""
    return 86400 if f.days > 3 else 3600


def workflow_table(con: Any, f: Filters) -> pd.DataFrame:
    """One row per workflow: runs, failure % of finished runs (measures.run_failure_rate), p50/p95
    duration, spend, projected monthly spend, daily (hourly) runs of whole days (hours): `_buckets`."""
    p = f.params()
    width = workflow_trend_seconds(f)
    # The daily (hourly) runs come from the same scan as the rest, as a histogram per workflow: a
    # second group-by of the executions cost 45 of 99 ms on a 30-day window of 1M executions, the
    # histogram 74 ms for both.
    ex = run(con, q("""
        SELECT {cloud}, {workflow_id}, any_value({workflow_name}) AS workflow, any_value({kind}) AS {kind},
               count(*) AS runs, count(*) FILTER (WHERE {status} IN ({failed})) AS failed,
               count(*) FILTER (WHERE {status} IN ({terminal})) AS finished,
               {pcts}, max({started_at}) AS last_run, histogram({bucket}) AS runs_by_bucket
        FROM executions WHERE {where} GROUP BY ALL
    """, failed=_in(EXEC_FAILED), terminal=_in(TERMINAL), where=f.where(), pcts=RUN_PCTS,
        bucket=_bucket(C.started_at, width)), p)
    co = run(con, usage_cost_sql(_usage_rows(f), [C.cloud, C.workflow_id]), p)
    out = ex.merge(co, on=[C.cloud, C.workflow_id], how="left")
    out["cost_usd"] = out["cost_usd"].fillna(0.0)
    out["monthly_usd"] = out["cost_usd"] * f.monthly_factor
    out["failure_pct"] = [100.0 * measures.run_failure_rate(r.failed, r.finished) for r in out.itertuples()]
    buckets = _buckets(f, width)
    counts = [{pd.Timestamp(k): int(n) for k, n in (hist or {}).items()} for hist in out.pop("runs_by_bucket")]
    out["trend"] = [[runs_in.get(b, 0) for b in buckets] for runs_in in counts]
    return out.sort_values(["cost_usd", "runs"], ascending=False).reset_index(drop=True)


def _buckets(f: Filters, seconds: int) -> list[pd.Timestamp]:
    """The starts of the window's whole buckets of `seconds`: a first bucket the window begins inside
    and a last one it ends inside are left out (a sparkline cannot mark them partial as the trend
    charts do: a window from 10:35 drew its first day's 13 h of runs as a dip on every workflow, and
    its last few runs as a drop to 0)."""
    start = math.ceil(f.since.timestamp() / seconds) * seconds
    end = f.until.timestamp()
    out: list[pd.Timestamp] = []
    t = start
    while t + seconds <= end and len(out) < 2000:
        out.append(pd.Timestamp(t, unit="s", tz=UTC))
        t += seconds
    return out


def workflow_definition(con: Any, cloud: str, workflow_id: str) -> dict[str, Any] | None:
    """The latest stored definition of a workflow (None when none was collected)."""
    frame = run(con, q("""
        SELECT {name}, {kind}, {revision}, {definition}, {definition_format}, {seen_at}
        FROM workflows WHERE {cloud} = $cloud AND {workflow_id} = $wf AND {definition} IS NOT NULL
        ORDER BY {seen_at} DESC LIMIT 1
    """), {"cloud": cloud, "wf": workflow_id})
    return None if frame.empty else frame.iloc[0].to_dict()


def step_metrics(con: Any, f: Filters, cloud: str, workflow_id: str) -> pd.DataFrame:
    """Per step name of one workflow: visits, failures, retries, duration percentiles, cost.

    `failure_rate` is the step failure rate (failed visits, caught included, / visits), the measure
    the failing_step finding reports; a workflow's `failure_pct` is the run failure rate, another measure."""
    one = Filters(f.since, f.until, (cloud,), (workflow_id,))
    p = one.params()
    st = lowest_rank(run(con, q("""
        SELECT {name} AS step, {box}, any_value({type}) AS {type}, count(*) AS visits,
               count(*) FILTER (WHERE {status} IN ({failed})) AS failures,
               sum(greatest({attempts} - 1, 0))::BIGINT AS retries,
               {pcts}
        FROM steps WHERE {where} GROUP BY ALL
    """, failed=_in(STEP_FAILED), where=one.where(), pcts=PCTS, box=rank_sql()), p), ["step"])
    co = run(con, usage_cost_sql(usage_sql(con, one, f"AND {C.step_key} IS NOT NULL"), ["step"]), p)
    out = st.merge(co, on="step", how="left")
    out["cost_usd"] = out["cost_usd"].fillna(0.0)
    out["failure_rate"] = [measures.step_failure_rate(n, v)
                           for n, v in zip(out["failures"], out["visits"], strict=True)]
    return out.sort_values("visits", ascending=False).reset_index(drop=True)


def billed_per_execution(steps: pd.DataFrame, workflow_cost_usd: float) -> bool:
    """Whether a workflow's spend is billed per execution, not per step (Express: requests and GB-seconds):
    it cost something and none of it is its steps' (`step_metrics`). Its steps then have no cost ("—"),
    not $0.00 each beside the workflow's spend, on its table, cost chart and state graph alike."""
    return bool(workflow_cost_usd > 0 and not steps.empty and not float(steps["cost_usd"].fillna(0.0).sum()))


def edge_counts(con: Any, f: Filters, cloud: str, workflow_id: str) -> pd.DataFrame:
    """Transitions observed between steps of one workflow: source, target, count. The source is the
    step a visit came from by `transitions`' rule (its previous step, else its container), the one
    `cost.edge_costs` prices; an execution's first step has the source ''. One cloud: the rule's join
    leaves the cloud out."""
    one = Filters(f.since, f.until, (cloud,), (workflow_id,))
    return run(con, f"""
        WITH s AS (SELECT {', '.join(transitions.COLUMNS)} FROM steps WHERE {one.where()})
        SELECT coalesce({transitions.SOURCE}, '') AS source, {C.name} AS target, count(*) AS transitions
        FROM ({transitions.sql('s', one_cloud=True)})
        GROUP BY ALL ORDER BY transitions DESC
    """, one.params())


def collection_runs(con: Any, limit: int = 2000) -> pd.DataFrame:
    """The latest collection runs (all scopes), newest first."""
    return run(con, q("""
        SELECT {cloud}, {scope}, {status}, {started_at}, {ended_at}, {error}
        FROM collection_runs ORDER BY {started_at} DESC LIMIT {limit}
    """, limit=int(limit)))


# ---------------------------------------------------------------- executions

def has_executions(con: Any, f: Filters) -> bool:
    """Whether any execution matches the filters: the first one found ends the read. Every page asks it on
    every new filter before its queries; counting them all read the window's executions to the end (30 days of
    the 1M dashboard store: a count 22 ms, this 7 ms)."""
    return not run(con, f"SELECT 1 AS x FROM executions WHERE {f.where()} LIMIT 1", f.params()).empty


def execution_detail(con: Any, cloud: str, execution_id: str,
                     day: dt.date | None = None) -> dict[str, pd.DataFrame] | None:
    """One execution: its row, steps, attempts and priced usage (None when not stored).

    Its steps, attempts and usage are read from its own start date's files only: every row of an execution
    carries the executions row's `start_date` (`validate.with_execution_dates`, on every write), so the other
    days' files hold none of them. Filtered on the cloud and the id alone, each read opened every file of the
    cloud: on a year of daily files (1,098 a table) a run's read took 0.30-0.37 s, now 0.17 s (docs/dashboard.md,
    Session 50). `day`: the run's start date if the caller knows it (a search's row, `find_execution`), so its
    row is read from that day's files too (`_run_rows`; ~0.1 s less there, Session 51); a wrong one costs a
    second read, never another result."""
    params = {"cloud": cloud, "eid": execution_id}
    key = q("{cloud} = $cloud AND {execution_id} = $eid")
    ex = _run_rows(con, "*", {execution_id: day}, q("{cloud} = $cloud"), {"cloud": cloud})
    if ex.empty:
        return None
    first = ex.iloc[0]
    since = pd.Timestamp(first[C.started_at]).to_pydatetime()
    # One run, no window: priced on the day it started (a window holding it prices it at that window's end).
    own = {**params, "day": pd.Timestamp(first[C.start_date]).date(), "price_date": pricing.price_day(since.date())}
    of_run = q("{key} AND {start_date} = $day", key=key)
    steps = run(con, f"SELECT * FROM steps WHERE {of_run} ORDER BY {C.started_at} NULLS LAST, {C.step_key}", own)
    attempts = run(con, f"SELECT * FROM attempts WHERE {of_run} ORDER BY {C.step_key}, {C.attempt}", own)
    usage = run(con, f"SELECT * FROM ({_with_usd(f'SELECT * FROM usage WHERE {of_run}')}) "
                     f"ORDER BY {C.step_key}, {C.meter}", own)
    return {"execution": ex, "steps": steps, "attempts": attempts, "usage": usage}


@dataclass(frozen=True)
class RunKey:
    """A run as `find_execution` found it: its cloud and id, and its start date (the day its rows are
    stored under), which `execution_detail` and `runs.child_runs` read by."""

    cloud: str
    execution_id: str
    start_date: dt.date

    @property
    def key(self) -> tuple[str, str]:
        """(cloud, execution_id): how the pages name a run."""
        return self.cloud, self.execution_id


def find_execution(con: Any, execution_id: str, day: dt.date | None = None) -> RunKey | None:
    """The run of an exact execution id, whatever the window (`find_executions` of the one id)."""
    return find_executions(con, (execution_id,), (day,))[execution_id]


def find_executions(con: Any, ids: Sequence[str], days: Sequence[dt.date | None] = ()) -> dict[str, RunKey | None]:
    """The run of each exact execution id, whatever the window (None: not stored). `days[i]`: `ids[i]`'s start
    date if the caller knows it (a search's row, a link's), read first (`_run_rows`). The ids are read together:
    a page's two runs named by a link (Compare's `?a=&b=`) cost one read of every file, not two.

    An id stored in two clouds is the run of the cloud first by name (of the earliest start date within one):
    the one-id read took its first row in the table's file order (`LIMIT 1`), which followed the write history."""
    known: dict[str, dt.date | None] = {}
    for i, execution_id in enumerate(ids):
        day = days[i] if i < len(days) else None
        if known.get(execution_id) is None:
            known[execution_id] = day
    if not known:
        return {}
    frame = _run_rows(con, q("{cloud}, {execution_id}, {start_date}"), known)
    first = frame.sort_values([C.execution_id, C.cloud, C.start_date]).drop_duplicates(C.execution_id)
    found = {str(row[C.execution_id]): RunKey(str(row[C.cloud]), str(row[C.execution_id]),
                                              pd.Timestamp(row[C.start_date]).date())
             for row in first.to_dict("records")}
    return {execution_id: found.get(execution_id) for execution_id in known}


def _run_rows(con: Any, columns: str, days: Mapping[str, dt.date | None], where: str = "TRUE",
              params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """`SELECT columns FROM executions WHERE where` of the runs whose ids are `days`' keys, each found by its id.
    Filtered on the ids alone the read opens every file of the store (the ids carry no date, the files no index by
    id): 0.1-0.24 s on a year of daily files, about the same for one id as for two. So the ids with a start date
    (`days[id]`) are read first from their days' files (`execution_id = $id AND start_date = $day`, or-ed over the
    ids: DuckDB prunes the files to those days), and the ids not there, with none or a wrong or stale one, from
    every file: in one read, whatever their number. A wrong day gives the same rows. `columns` includes
    `execution_id`."""
    base = dict(params or {})
    dated = {eid: day for eid, day in days.items() if day is not None}
    frames = []
    if dated:
        named = {**base, **_numbered("run_day", dated.values()), **_numbered("run_id", dated)}
        on_day = " OR ".join(f"({C.execution_id} = $run_id{i} AND {C.start_date} = $run_day{i})"
                             for i in range(len(dated)))
        frames.append(run(con, f"SELECT {columns} FROM executions WHERE {where} AND ({on_day})", named))
    seen = set(frames[0][C.execution_id]) if frames else set()
    rest = [eid for eid in days if eid not in seen]
    if rest:
        frames.append(run(con, f"SELECT {columns} FROM executions WHERE {where} "
                               f"AND {C.execution_id} IN ({_slots('run_id', len(rest))})",
                          {**base, **_numbered("run_id", rest)}))
    kept = [frame for frame in frames if not frame.empty] or frames[-1:]
    return kept[0] if len(kept) == 1 else pd.concat(kept, ignore_index=True)


def _numbered(name: str, values: Iterable[Any]) -> dict[str, Any]:
    """`{name0: v0, name1: v1, ...}`: a list of values as SQL parameters (never written into the SQL)."""
    return {f"{name}{i}": value for i, value in enumerate(values)}


def _slots(name: str, n: int) -> str:
    """`$name0, $name1, ...`: the slots of `_numbered`'s parameters."""
    return ", ".join(f"${name}{i}" for i in range(n))


# ---------------------------------------------------------------- failures

def failures_over_time(con: Any, f: Filters) -> pd.DataFrame:
    p, b = f.params(), bucket_seconds(f)
    return run(con, q("""
        SELECT {bucket} AS bucket, {cloud}, {workflow_id}, {workflow_name} AS workflow,
               count(*) FILTER (WHERE {status} IN ({failed})) AS failed, count(*) AS executions
        FROM executions WHERE {where} GROUP BY ALL ORDER BY bucket
    """, bucket=_bucket(C.started_at, b), failed=_in(EXEC_FAILED), where=f.where()), p)


_FAILED_VISITS = "FROM steps s WHERE {where} AND s.{status} IN ({failed}) AND s.{type} NOT IN ({containers})"
"""The failed step visits `top_errors` lists and `error_totals` counts (containers left out)."""


def top_errors(con: Any, f: Filters, limit: int = 50) -> pd.DataFrame:
    """Failed step visits grouped by (workflow, step, error), with a sample execution; the `limit`
    commonest (totals over all of them: `error_totals`)."""
    p = f.params()
    out = run(con, q("""
        SELECT s.{cloud}, s.{workflow_id}, s.{name} AS step, coalesce(s.{error}, '(no error name)') AS {error},
               count(*) AS failures, count(*) FILTER (WHERE s.{status} = 'CAUGHT') AS caught,
               count(DISTINCT s.{execution_id}) AS executions, max(s.{started_at}) AS last_seen,
               arg_max(s.{execution_id}, s.{started_at}) AS sample_execution_id,
               arg_max(s.{cause}, s.{started_at}) AS sample_cause
        """ + _FAILED_VISITS + """
        GROUP BY ALL ORDER BY failures DESC LIMIT {limit}
    """, where=f.where("s"), failed=_in(STEP_FAILED), limit=int(limit),
        containers=_in(CONTAINER_TYPES)), p)
    return _with_names(con, out)


def error_totals(con: Any, f: Filters) -> dict[str, int]:
    """Over every failed step visit `top_errors` groups, not only its listed rows: `distinct_errors`
    (its (workflow, step, error) groups), `failures` (failed visits) and `caught` (caught ones)."""
    out = run(con, q("""
        SELECT count(DISTINCT (s.{cloud}, s.{workflow_id}, s.{name}, coalesce(s.{error}, '(no error name)')))
                   AS distinct_errors,
               count(*) AS failures, count(*) FILTER (WHERE s.{status} = 'CAUGHT') AS caught
        """ + _FAILED_VISITS, where=f.where("s"), failed=_in(STEP_FAILED),
        containers=_in(CONTAINER_TYPES)), f.params())
    row = out.iloc[0]       # an aggregate without GROUP BY: always one row
    return {k: int(row[k] or 0) for k in ("distinct_errors", "failures", "caught")}


def failing_steps(con: Any, f: Filters, limit: int = 50) -> pd.DataFrame:
    """Steps by failed visits: visits, failed (uncaught), caught, failure rate (a GCP try and its call
    once, as the call: `step_rank.lowest_rank`, so the rate is the failing_step finding's). Steps that
    do work only (`NOT_WORK`: not a container failing with its child, not a Fail state), as the finding."""
    out = lowest_rank(run(con, q("""
        SELECT {cloud}, {workflow_id}, {name} AS step, {box}, count(*) AS visits,
               count(*) FILTER (WHERE {status} IN ({failed})) AS failures,
               count(*) FILTER (WHERE {status} = 'CAUGHT') AS caught
        FROM steps WHERE {where} AND {type} NOT IN ({not_work}) GROUP BY ALL
    """, where=f.where(), failed=_in(STEP_FAILED), box=rank_sql(), not_work=_in(sorted(NOT_WORK))), f.params()),
        [C.cloud, C.workflow_id, "step"])
    out = out[out["failures"] > 0].sort_values(["failures", C.cloud, C.workflow_id, "step"],
                                               ascending=[False, True, True, True]).head(int(limit))
    out = out.reset_index(drop=True)
    out["failure_rate"] = [measures.step_failure_rate(n, v)
                           for n, v in zip(out["failures"], out["visits"], strict=True)]
    return _with_names(con, out)


def _with_names(con: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Add the workflow name (small lookup) after the cloud column."""
    if frame.empty:
        frame.insert(1, "workflow", pd.Series(dtype="object"))
        return frame
    names = workflow_options(con)[[C.cloud, C.workflow_id, C.workflow_name]].drop_duplicates([C.cloud, C.workflow_id])
    out = frame.merge(names, on=[C.cloud, C.workflow_id], how="left")
    out.insert(1, "workflow", out.pop(C.workflow_name).fillna(out[C.workflow_id]))
    return out


# ---------------------------------------------------------------- retries

def retry_bucket_seconds(f: Filters) -> int:
    """The retries timeline's bucket: 15 minutes (the storm analysis' bucket) up to 3 days, hourly
    up to 14, else 3-hourly."""
    return 900 if f.days <= 3 else 3600 if f.days <= 14 else 3 * 3600


def retries_over_time(con: Any, f: Filters, seconds: int | None = None) -> pd.DataFrame:
    """Retries (tries after the first) per bucket and cloud, from the attempts table.

    Buckets: 15 minutes (the storm analysis' bucket) up to 3 days, hourly up to 14, else 3-hourly.
    """
    seconds = seconds or retry_bucket_seconds(f)
    return run(con, q("""
        SELECT {bucket} AS bucket, {cloud}, count(*) FILTER (WHERE {attempt} > 1) AS retries,
               count(*) AS tries
        FROM attempts WHERE {where} GROUP BY ALL ORDER BY bucket
    """, bucket=_bucket(C.started_at, seconds), where=f.where()), f.params())


def amplification(con: Any, f: Filters, limit: int = 50) -> pd.DataFrame:
    """Per work step: visits, tries, retries, amplification (tries per visit), throttled share."""
    out = run(con, q("""
        SELECT {cloud}, {workflow_id}, {name} AS step, count(*) AS visits, sum({attempts})::BIGINT AS tries,
               sum(greatest({attempts} - 1, 0))::BIGINT AS retries,
               count(*) FILTER (WHERE {attempts} > 1) AS retried_visits,
               max({attempts}) AS max_attempts
        FROM steps WHERE {where} AND {type} IN ({work}) GROUP BY ALL HAVING retries > 0
        ORDER BY retries DESC LIMIT {limit}
    """, where=f.where(), work=_in(WORK_TYPES), limit=int(limit)), f.params())
    out["amplification"] = pd.Series([measures.amplification(t, v) for t, v in
                                      zip(out["tries"], out["visits"], strict=True)], index=out.index, dtype="float64")
    return _with_names(con, out)


@dataclass(frozen=True)
class RetryTotals:
    """A window's retries (tries after the first), tries and amplification (tries per first try; None
    without a try)."""

    retries: int
    tries: int
    amplification: float | None


def retry_totals(over: pd.DataFrame) -> RetryTotals:
    """The Retries page's headline from `retries_over_time`'s buckets: its retries, tries and
    amplification (`measures.amplification`, the per-step column's measure)."""
    tries = int(over["tries"].sum()) if not over.empty else 0
    retries = int(over["retries"].sum()) if not over.empty else 0
    return RetryTotals(retries, tries, measures.amplification(tries, tries - retries))


def _retry_delays_sql(f: Filters, step_filter: str = "") -> str:
    """One row per retry (a try after the first) with the delay since the previous try ended, and
    the step's name.

    Only tries that can take part in a retry are read: later tries, and first tries that did not
    succeed (a try is retried only after it failed). The window function runs on those (a small
    part of attempts), then the retries are named by a join to the retried visits (attempts > 1)."""
    return q("""
        SELECT d.*, r.{name} AS step
        FROM (SELECT {cloud}, {workflow_id}, {execution_id}, {step_key}, {attempt}, {started_at},
                     epoch_ms({started_at}) - epoch_ms(lag({ended_at}) OVER (
                         PARTITION BY {cloud}, {execution_id}, {step_key} ORDER BY {attempt})) AS delay_ms
              FROM attempts WHERE {where} AND ({attempt} > 1 OR {status} <> '{ok}')
              QUALIFY delay_ms IS NOT NULL) d
        JOIN (SELECT {cloud}, {execution_id}, {step_key}, {name} FROM steps
              WHERE {where} AND {attempts} > 1 {step_filter}) r
          ON r.{cloud} = d.{cloud} AND r.{execution_id} = d.{execution_id} AND r.{step_key} = d.{step_key}
    """, where=f.where(), step_filter=step_filter, ok=str(Status.SUCCEEDED))


def retry_delays(con: Any, f: Filters, limit: int = 50) -> pd.DataFrame:
    """Per step and retry number (`retry`: 2 for the second try, ...): retry delays (gap between one try's
    end and the next try's start) and their spread (`cv`, population, as the synchronized_retries finding's
    `delays_by_attempt`). Per retry number, because a backoff without jitter waits 2, 4, 8 s: each is
    the same in every execution, while the delays taken together spread by half.
    """
    out = run(con, q("""
        SELECT {cloud}, {workflow_id}, step, {attempt} AS retry, count(*) AS samples,
               count(DISTINCT {execution_id}) AS executions,
               avg(delay_ms) AS mean_delay_ms, stddev_pop(delay_ms) AS std_delay_ms,
               min(delay_ms) AS min_delay_ms, max(delay_ms) AS max_delay_ms
        FROM ({delays}) WHERE delay_ms IS NOT NULL GROUP BY ALL HAVING count(*) >= 2
        ORDER BY samples DESC, {cloud}, {workflow_id}, step, retry LIMIT {limit}
    """, delays=_retry_delays_sql(f), limit=int(limit)), f.params())
    out["cv"] = out["std_delay_ms"] / out["mean_delay_ms"].where(out["mean_delay_ms"] > 0)
    return _with_names(con, out)


def mark_lockstep(delays: pd.DataFrame, th: Any) -> pd.DataFrame:
    """`delays` (from `retry_delays`) with `lockstep` and, where not, `why_not_lockstep`
    (`measures.lockstep_verdict`): measures.is_lockstep under the thresholds `th`
    (sync_retry_max_cv, sync_retry_min_samples, sync_retry_min_executions), per retry number. The
    synchronized_retries finding applies the same rule to the retries inside retry storms only."""
    out = delays.copy()
    why_not = [measures.lockstep_verdict(None if pd.isna(cv) else float(cv), int(n), int(e),
                                         None if pd.isna(m) else float(m), max_cv=th.sync_retry_max_cv,
                                         min_samples=th.sync_retry_min_samples,
                                         min_executions=th.sync_retry_min_executions)
               for cv, n, e, m in zip(out["cv"], out["samples"], out["executions"], out["mean_delay_ms"],
                                      strict=True)]
    out["lockstep"] = pd.Series([w is None for w in why_not], index=out.index, dtype=bool)
    out["why_not_lockstep"] = pd.Series(why_not, index=out.index, dtype=object)    # the rule, where not ticked
    return out


def lockstep_steps(marked: pd.DataFrame) -> int:
    """Steps with a retry number in lockstep (`mark_lockstep`): the Retries page's count."""
    if marked.empty:
        return 0
    return int(len(marked.loc[marked["lockstep"], [C.cloud, C.workflow_id, "step"]].drop_duplicates()))


def step_retry_delays(con: Any, f: Filters, cloud: str, workflow_id: str, step: str, retry: int | None = None,
                      limit: int = 5000) -> pd.DataFrame:
    """Retry delays of one step (by step name), one row per retry, of one retry number when given (a row
    of `retry_delays`): for the histogram."""
    one = Filters(f.since, f.until, (cloud,), (workflow_id,))
    which = "" if retry is None else q("AND {attempt} = $retry")
    return run(con, q("""
        SELECT {execution_id}, {attempt}, {started_at}, delay_ms FROM ({delays})
        WHERE delay_ms IS NOT NULL {which} ORDER BY {started_at} DESC LIMIT {limit}
    """, delays=_retry_delays_sql(one, q("AND {name} = $step")), which=which, limit=int(limit)),
        {**one.params(), "step": step, **({} if retry is None else {"retry": int(retry)})})


# ---------------------------------------------------------------- cost

COST_DIMENSIONS = {"cloud": [C.cloud], "workflow": [C.cloud, C.workflow_id], "meter": [C.meter]}


def cost_over_time(con: Any, f: Filters, by: str = "cloud", top: int = 10) -> pd.DataFrame:
    """Cost per bucket by cloud, workflow, meter or step (the `top` steps; the rest as 'other'): bucket,
    key (the series' name), cost_usd; by workflow or step also the cloud, workflow_id and workflow of
    the series (null for 'other'), and by step its step."""
    b = bucket_seconds(f)
    if by == "step":
        per_step = usage_cost_sql(f"SELECT *, {_bucket(C.started_at, b)} AS bucket FROM ({usage_sql(con, f)})",
                                  ["bucket", C.cloud, C.workflow_id, "step"])
        # The top steps by (cloud, workflow id, step): two workflows sharing a name are two series, each
        # with its cloud and id so the dashboard can tell them apart; the rest is one 'other' series.
        return run(con, q("""
            WITH k AS (
                SELECT c.bucket, c.{cloud}, c.{workflow_id}, coalesce(n.{workflow_name}, c.{workflow_id}) AS workflow,
                       c.step, c.cost_usd
                FROM ({per_step}) c
                LEFT JOIN (SELECT {cloud}, {workflow_id}, any_value({workflow_name}) AS {workflow_name}
                           FROM ({names}) GROUP BY ALL) n USING ({cloud}, {workflow_id})),
            t AS (SELECT {cloud}, {workflow_id}, step, true AS top_step FROM k GROUP BY {cloud}, {workflow_id}, step
                  ORDER BY sum(cost_usd) DESC, any_value(workflow) || ' / ' || step, {workflow_id} LIMIT {top})
            SELECT k.bucket, CASE WHEN t.top_step THEN k.workflow || ' / ' || k.step ELSE 'other' END AS key,
                   sum(k.cost_usd) AS cost_usd,
                   CASE WHEN t.top_step THEN k.{cloud} END AS {cloud},
                   CASE WHEN t.top_step THEN k.{workflow_id} END AS {workflow_id},
                   CASE WHEN t.top_step THEN k.workflow END AS workflow,
                   CASE WHEN t.top_step THEN k.step END AS step
            FROM k LEFT JOIN t ON k.{cloud} = t.{cloud} AND k.{workflow_id} = t.{workflow_id} AND k.step = t.step
            GROUP BY ALL ORDER BY k.bucket, key, {workflow_id}
        """, per_step=per_step, names=f"SELECT * FROM {workflows_seen(con)}", top=int(top)), f.params())
    dims = COST_DIMENSIONS[by]
    frame = run(con, usage_cost_sql(f"SELECT *, {_bucket(C.started_at, b)} AS bucket FROM ({_usage_rows(f)})",
                                    ["bucket", *dims]) + " ORDER BY bucket", f.params())
    if by == "workflow":
        frame = _with_names(con, frame)
        frame["key"] = frame["workflow"]
        return frame[["bucket", "key", "cost_usd", C.cloud, C.workflow_id, "workflow"]]
    frame["key"] = frame[dims[0]]
    return frame[["bucket", "key", "cost_usd"]]


_DRIVER_KEYS = [C.cloud, C.workflow_id, "step", C.meter]


def _usage_executions(con: Any, f: Filters, top: pd.DataFrame) -> pd.DataFrame:
    """Exact distinct executions of the given (cloud, workflow_id, step, meter) rows' usage in the window.

    Counted for the top rows only: a HyperLogLog estimate over every group was up to a few percent off
    (1,266 executions of a step that 1,231 ran), so the costly-steps table disagreed with the finding
    naming the same step; an exact count over every group costs more than the rest of the query.
    The usage read is narrowed to the rows' workflows and meters before the join, and the distinct
    executions are counted per wanted row's number, not per its four text keys: on 30 days of the 1M
    bench store's AWS usage (2M rows) 0.21 s instead of 0.36-0.69 s, the Cost page's dearest read."""
    if top.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in _DRIVER_KEYS}
                            | {"executions": pd.Series(dtype="int64")})
    keys = top[_DRIVER_KEYS].drop_duplicates().astype(str).reset_index(drop=True)
    wanted = ", ".join(f"({i}, " + ", ".join(_lit(v) for v in row) + ")"
                       for i, row in enumerate(keys.itertuples(index=False)))
    narrow = f"AND {C.workflow_id} IN ({_in(sorted(set(keys[C.workflow_id])))}) " \
             f"AND {C.meter} IN ({_in(sorted(set(keys[C.meter])))})"
    counts = run(con, q("""
        SELECT t.t_row, count(DISTINCT u.{execution_id}) AS executions
        FROM ({usage}) u JOIN (VALUES {wanted}) AS t(t_row, t_cloud, t_workflow_id, t_step, t_meter)
             ON u.{cloud} = t.t_cloud AND u.{workflow_id} = t.t_workflow_id AND u.step = t.t_step
                AND u.{meter} = t.t_meter
        GROUP BY t.t_row
    """, usage=usage_sql(con, f, narrow), wanted=wanted), f.params())
    found = keys.join(counts.set_index("t_row")["executions"], how="inner")
    return found.reset_index(drop=True)


def cost_spend_drivers(con: Any, f: Filters, limit: int = 25) -> pd.DataFrame:
    """The most expensive (workflow, step, meter) in the window, with share and monthly projection;
    `total_retry_usd` (the same on every row) is spent on retries by all of them, not only these.

    Usage is grouped by its step name (no join); only the retried visits (attempts > 1, a small
    part of steps) are joined, for the share of each visit's cost spent on retries."""
    source = q("""
        SELECT u.*, CASE WHEN r.{attempts} > 1 THEN u.{quantity} * (r.{attempts} - 1) / r.{attempts}
                         ELSE 0.0 END AS retry_quantity
        FROM ({usage}) u
        LEFT JOIN (SELECT {cloud}, {execution_id}, {step_key}, {attempts} FROM steps
                   WHERE {where} AND {attempts} > 1) r
               ON r.{cloud} = u.{cloud} AND r.{execution_id} = u.{execution_id} AND r.{step_key} = u.{step_key}
    """, usage=usage_sql(con, f), where=f.where())
    frame = run(con, q("""
        SELECT *, cost_usd / nullif(sum(cost_usd) OVER (), 0) AS share,
               sum(retry_quantity_usd) OVER () AS total_retry_usd FROM ({cost})
        ORDER BY cost_usd DESC, {cloud}, {workflow_id}, step, {meter} LIMIT {limit}
    """, cost=usage_cost_sql(source, [C.cloud, C.workflow_id, "step", C.meter], (C.quantity, "retry_quantity")),
        limit=int(limit)), f.params())
    frame = frame.rename(columns={"retry_quantity_usd": "retry_usd"})
    frame["share"] = frame["share"].fillna(0.0)
    frame["monthly_usd"] = frame["cost_usd"] * f.monthly_factor
    frame = frame[[C.cloud, C.workflow_id, "step", C.meter, C.quantity, "cost_usd", "retry_usd",
                   "share", "monthly_usd", "total_retry_usd"]]
    return _with_names(con, frame.reset_index(drop=True))


def cost_drivers(con: Any, f: Filters, limit: int = 25) -> pd.DataFrame:
    """`cost_spend_drivers` with `executions`, the distinct executions behind each row (`with_executions`)."""
    spend = cost_spend_drivers(con, f, limit)
    return with_executions(spend, driver_executions(con, f, driver_keys(spend)))


def driver_keys(drivers: pd.DataFrame) -> tuple[tuple[str, ...], ...]:
    """The (cloud, workflow_id, step, meter) of cost driver rows, hashable (a cache key of the dashboard's)."""
    return tuple(tuple(str(v) for v in row) for row in drivers[_DRIVER_KEYS].itertuples(index=False)) \
        if not drivers.empty else ()


def driver_executions(con: Any, f: Filters, keys: tuple[tuple[str, ...], ...]) -> pd.DataFrame:
    """Distinct executions of each (cloud, workflow_id, step, meter) in `keys` (`_usage_executions`): apart
    from the spend so the Cost page draws its charts before it counts them (0.22 s of its 30-day read on
    the 1M bench store) and its table after."""
    return _usage_executions(con, f, pd.DataFrame(list(keys), columns=_DRIVER_KEYS))


def with_executions(drivers: pd.DataFrame, counts: pd.DataFrame) -> pd.DataFrame:
    """Cost driver rows with their `executions` (0 where none was counted) after `cost_usd`."""
    out = drivers.merge(counts, on=_DRIVER_KEYS, how="left") if not drivers.empty else \
        drivers.assign(executions=pd.Series(dtype="int64"))
    out["executions"] = out["executions"].fillna(0).astype("int64")
    return out[[*drivers.columns[:drivers.columns.get_loc("cost_usd") + 1], "executions",
                *drivers.columns[drivers.columns.get_loc("cost_usd") + 1:]]]


@dataclass(frozen=True)
class RetrySpend:
    """What retries cost in a window: `usd` by every step (not only the top drivers), `monthly_usd` its
    projection, `by_step` the top drivers that retried (label "workflow / step", retry_usd, monthly_usd)."""

    usd: float
    monthly_usd: float
    by_step: pd.DataFrame

    def saving(self, cut_pct: float) -> float:
        """Monthly dollars saved by `cut_pct` % fewer retries (the Cost page's what-if)."""
        return self.monthly_usd * cut_pct / 100


def retry_spend(drivers: pd.DataFrame, f: Filters) -> RetrySpend:
    """The Cost page's retry figures from `cost_drivers`' rows, projected by `f`'s month."""
    usd = float(drivers["total_retry_usd"].iloc[0]) if not drivers.empty else 0.0
    retried = drivers[drivers["retry_usd"] > 0] if not drivers.empty else drivers
    by_step = pd.DataFrame({"label": retried["workflow"] + " / " + retried["step"] if not retried.empty else [],
                            "retry_usd": retried["retry_usd"] if not retried.empty else []})
    by_step = by_step.groupby("label", as_index=False)["retry_usd"].sum()
    by_step["monthly_usd"] = by_step["retry_usd"] * f.monthly_factor
    return RetrySpend(usd, usd * f.monthly_factor, by_step)


def edge_cost(con: Any, f: Filters, limit: int = 25) -> pd.DataFrame:
    """Cost per transition edge (source step -> step): what entering a step costs, by where it came from.

    The source is `transitions`' rule, the one `cost.edge_costs` prices for the findings and the Workflows
    graph counts: the previous step, else the container (the first step of a Map item or loop body comes
    from its Map or loop); a container's own work (the call a GCP try wraps) is no transition, and its usage
    counts on the container's visit. A step entered from one place only costs the same on its one edge as in
    total, a group-by of usage by name; only steps entered from several places are costed visit by visit
    (their usage joined to their visits)."""
    p = f.params()
    edges = run(con, f"""
        WITH s AS (SELECT {', '.join(transitions.COLUMNS)} FROM steps WHERE {f.where()})
        SELECT {C.cloud}, {C.workflow_id}, coalesce({transitions.SOURCE}, {_lit(transitions.START_EDGE)}) AS source,
               {C.name} AS target, count(*) AS transitions
        FROM ({transitions.sql('s')}) GROUP BY ALL
    """, p)
    columns = [C.cloud, C.workflow_id, "source", "target", "transitions", "cost_usd"]
    if edges.empty:
        return _with_names(con, pd.DataFrame(columns=columns + ["monthly_usd"]))
    target = [C.cloud, C.workflow_id, "target"]
    sources = edges.groupby(target)["source"].transform("size")
    usage = usage_sql(con, f, f"AND {C.step_key} IS NOT NULL")
    single = run(con, usage_cost_sql(usage, [C.cloud, C.workflow_id, "step"]), p).rename(columns={"step": "target"})
    parts = [edges[sources == 1].merge(single, on=target)]
    multi = edges[sources > 1][target].drop_duplicates()
    if not multi.empty:
        named = [(_lit(c), _lit(w), _lit(n)) for c, w, n in multi.itertuples(index=False)]
        pick = " OR ".join(q("({cloud} = {c} AND {workflow_id} = {w} AND step = {n})", c=c, w=w, n=n)
                           for c, w, n in named)
        entered = " OR ".join(q("({cloud} = {c} AND {workflow_id} = {w} AND {name} = {n})", c=c, w=w, n=n)
                              for c, w, n in named)
        flows = " OR ".join(q("({cloud} = {c} AND {workflow_id} = {w})", c=_lit(c), w=_lit(w))
                            for c, w in multi[[C.cloud, C.workflow_id]].drop_duplicates().itertuples(index=False))
        visits = q("""
            WITH s AS (SELECT {columns} FROM steps WHERE {where} AND ({flows})),
                 o AS ({own}),
                 e AS (SELECT * FROM ({sources}) WHERE ({entered}))
            SELECT u.* EXCLUDE (visit_key), coalesce(e.{came_from}, {start}) AS source
            FROM (SELECT u.*, coalesce(o.{container}, u.{step_key}) AS visit_key
                  FROM (SELECT * FROM ({usage}) WHERE ({pick})) u
                  LEFT JOIN o ON o.{cloud} = u.{cloud} AND o.{execution_id} = u.{execution_id}
                             AND o.{step_key} = u.{step_key}) u
            JOIN e ON e.{cloud} = u.{cloud} AND e.{execution_id} = u.{execution_id} AND e.{step_key} = u.visit_key
        """, columns=", ".join(transitions.COLUMNS), where=f.where(), flows=flows,
            own=transitions.own_work_sql("s"), sources=transitions.sql("s"), came_from=transitions.SOURCE,
            container=transitions.CONTAINER,
            start=_lit(transitions.START_EDGE), usage=usage, pick=pick, entered=entered)
        by_edge = run(con, usage_cost_sql(visits, [C.cloud, C.workflow_id, "source", "step"]), p)
        parts.append(edges.merge(by_edge.rename(columns={"step": "target"}), on=target + ["source"]))
    frame = pd.concat(parts, ignore_index=True)[columns]
    frame = frame.sort_values(["cost_usd", C.cloud, C.workflow_id, "source", "target"],
                              ascending=[False, True, True, True, True]).head(limit).reset_index(drop=True)
    frame["monthly_usd"] = frame["cost_usd"] * f.monthly_factor
    return _with_names(con, frame)


# ---------------------------------------------------------------- latency

def latency_by_step(con: Any, f: Filters, limit: int = 200, *, compare: bool = True) -> pd.DataFrame:
    """Per step: p50/p95/p99 now, p95 in the previous window of equal length, and the drift ratio.

    `compare`: whether the previous window may be compared with (`measures.previous_covered`, which the
    caller judges from the data's first execution); when not, its p95, visits and the drift are null,
    never the figures of the sliver of it the data holds."""
    # Both windows in one scan: [previous since, until), each row tagged with its window; a GCP try and
    # the call it wraps count once, as the call (`step_rank.lowest_rank`).
    both = Filters(f.previous().since, f.until, f.clouds, f.workflows, f.month_days)
    rows = lowest_rank(run(con, q("""
        SELECT {started_at} >= $window_start AS now, {cloud}, {workflow_id}, {name} AS step, {box},
               any_value({type}) AS {type}, count(*) AS visits,
               {pcts}
        FROM steps WHERE {where} AND {duration_ms} IS NOT NULL GROUP BY ALL
    """, where=both.where(), pcts=PCTS3, box=rank_sql()),
        {**both.params(), "window_start": f.since}), ["now", C.cloud, C.workflow_id, "step"])
    now = rows[rows["now"]].drop(columns="now").reset_index(drop=True)
    before = rows[~rows["now"]].drop(columns="now").reset_index(drop=True)
    keys = [C.cloud, C.workflow_id, "step"]
    out = now.merge(before[keys + ["p95_ms", "visits"]].rename(columns={"p95_ms": "prev_p95_ms",
                                                                        "visits": "prev_visits"}),
                    on=keys, how="left")
    if not compare:
        out["prev_p95_ms"] = out["prev_visits"] = float("nan")
    out["drift"] = out["p95_ms"] / out["prev_p95_ms"].where(out["prev_p95_ms"] > 0)
    out = out.sort_values(["visits", *keys], ascending=[False, True, True, True]).head(limit).reset_index(drop=True)
    return _with_names(con, out)


def slower_steps(steps: pd.DataFrame, ratio: float) -> pd.DataFrame:
    """The steps of `latency_by_step` whose p95 grew by `ratio` or more since the previous window (their
    `drift`: the Latency page's "Steps slower", by the analyses' latency_drift_ratio); none without a
    previous window to compare with (a null drift)."""
    if steps.empty or "drift" not in steps.columns:
        return steps.iloc[0:0]
    return steps[steps["drift"] >= ratio]


def latency_over_time(con: Any, f: Filters, steps: list[tuple[str, str, str]]) -> pd.DataFrame:
    """p50/p95 per bucket of the given (cloud, workflow_id, step name) triples, over the rows that stand
    for each step in the window (`step_rank`: a loop's entries, not its iterations; a GCP try's call), as
    `latency_by_step`'s table beside the chart reads them."""
    if not steps:
        return pd.DataFrame(columns=["bucket", C.cloud, C.workflow_id, "step", "p50_ms", "p95_ms", "visits"])
    b = bucket_seconds(f)
    pick = " OR ".join(q("({cloud} = {c} AND {workflow_id} = {w} AND {name} = {s})",
                         c=_lit(c), w=_lit(w), s=_lit(s)) for c, w, s in steps)
    rows = lowest_rank(run(con, q("""
        SELECT {bucket} AS bucket, {cloud}, {workflow_id}, {name} AS step, {box}, count(*) AS visits,
               {pcts}
        FROM steps WHERE {where} AND ({pick}) AND {duration_ms} IS NOT NULL GROUP BY ALL
    """, bucket=_bucket(C.started_at, b), where=f.where(), pick=pick, pcts=PCTS, box=rank_sql()), f.params()),
        [C.cloud, C.workflow_id, "step"])
    return rows.sort_values(["bucket", C.cloud, C.workflow_id, "step"]).reset_index(drop=True)


def execution_latency(con: Any, f: Filters) -> pd.DataFrame:
    """Per workflow: execution duration percentiles."""
    out = run(con, q("""
        SELECT {cloud}, {workflow_id}, count(*) AS runs, {pcts}, max({duration_ms}) AS max_ms
        FROM executions WHERE {where} AND {duration_ms} IS NOT NULL GROUP BY ALL ORDER BY p95_ms DESC
    """, where=f.where(), pcts=RUN_PCTS3), f.params())
    return _with_names(con, out)


def table_names() -> list[str]:
    return list(TABLES)


def parse_json(text: Any) -> dict[str, Any]:
    if not text or (isinstance(text, float) and math.isnan(text)):
        return {}
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


# ---------------------------------------------------------------- page headlines over the tables above


@dataclass(frozen=True)
class WorkflowTotals:
    """The Workflows page's headline, from `workflow_table`'s rows: its spend equals the Overview's (a test)."""

    workflows: int
    runs: int
    with_failures: int
    cost_usd: float


def workflow_totals(table: pd.DataFrame) -> WorkflowTotals:
    if table.empty:
        return WorkflowTotals(0, 0, 0, 0.0)
    return WorkflowTotals(len(table), int(table["runs"].sum()), int((table["failed"] > 0).sum()),
                          float(table["cost_usd"].sum()))


@dataclass(frozen=True)
class CollectionTotals:
    """Collection health's headline, from `collection_health`'s rows: scopes by the status of their latest
    sync (a failure a later sync superseded is history, not counted), those never synced, and the largest
    lag of the synced ones (None: none synced; a scope with no lag is counted apart, never left out in
    silence)."""

    scopes: int
    succeeded: int
    failed: int
    partial: int
    never_synced: int
    max_lag_minutes: float | None


def never_synced(health: pd.DataFrame) -> pd.Series:
    """Per `collection_health` row, whether the scope never synced: no watermark and no successful sync,
    so it collected nothing and has no lag."""
    return health["lag_minutes"].isna() if not health.empty else pd.Series(dtype=bool)


def collection_totals(health: pd.DataFrame) -> CollectionTotals:
    counts = health.loc[health["superseded"].isna(), "status"].value_counts() if not health.empty else {}
    never = never_synced(health)
    lag = float(health.loc[~never, "lag_minutes"].max()) if (~never).any() else None
    return CollectionTotals(len(health), int(counts.get("succeeded", 0)), int(counts.get("failed", 0)),
                            int(counts.get("partial", 0)), int(never.sum()), lag)


def slowest_p95(execution_latency: pd.DataFrame) -> float | None:
    """The largest workflow p95 (ms) of `execution_latency`'s rows; None without any."""
    return float(execution_latency["p95_ms"].max()) if not execution_latency.empty else None
