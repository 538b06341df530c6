"""Usage priced in DuckDB: the per-cursor set-up (`prepare`: the dated price table, each workflow's kind)
and the SQL every spend figure is built from (`usage_sql`, `usage_cost_sql`), at analysis/pricing.py's
prices of the window's end.

One pricing rule for the overview, the workflows, the cost page and a run's usage, so they add up.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import pandas as pd

from flowscope.analysis import pricing
from flowscope.analysis.base import EXECUTION_STEP
from flowscope.analysis.tables_shared import Filters, _lit, q, run, workflows_seen
from flowscope.model import C

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
