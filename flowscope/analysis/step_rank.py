"""The one rule for which rows of a step name stand for the step.

A cloud gives some steps of a definition as several rows of one name: GCP Workflows a `try` around a
call (the try, then the call) or around a block (the try, the block inside it, and its `except` when
it ran); Azure Logic Apps and GCP a loop and each of its iterations (rows named as the loop, with an
iteration number). Counted together, a step entered once read two or thirty-six visits. Each row gets
a rank, read from the row alone (no join to its parent), and per name the rows of the lowest rank
stand for the step:

- WORK (0): a row that is not a container (a call, a task, a Fail state, a row of unknown type);
- INNER (1): a container that starts its parent's body (no previous step: a GCP try's inner block),
  unless it is a handler (GCP's except starts the try's body too, but runs only after the block
  failed, so it never stands for the step);
- CONTAINER (2): any other container (the try itself, a loop, a handler);
- ITERATION (3): one iteration of a loop (Azure's ScopeRepetition, GCP's STEP_FOR_ITERATION).

Where one name has rows of two ranks they are one step of the definition entered through a container
of its own name (`transitions`). The analyses group on `rank` (Ibis); the dashboard's SQL and one
run's rows in pandas use `RANK_SQL`, the SQL Ibis compiles the same expression to.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import pandas as pd

from flowscope.analysis.base import CONTAINER_TYPES
from flowscope.model import STEPS, C

WORK, INNER, CONTAINER, ITERATION = 0, 1, 2, 3
HANDLER_NATIVE_TYPES = ("STEP_EXCEPT",)
"""Containers that run only when the block beside them failed (GCP Workflows' except)."""
RANK = "_box"
"""The column a step row's rank is read into."""
COLUMNS = (C.type, C.native_type, C.iteration, C.previous_step_key, C.parent_step_key)
"""The steps' columns the rank reads."""


def rank(steps: ir.Table) -> ir.IntegerValue:
    """A step row's rank (WORK, INNER, CONTAINER or ITERATION), as an Ibis expression."""
    boxed = steps[C.type].isin(list(CONTAINER_TYPES)).fill_null(False)
    inner = (steps[C.previous_step_key].isnull() & steps[C.parent_step_key].notnull()
             & (~steps[C.native_type].isin(list(HANDLER_NATIVE_TYPES))).fill_null(True))
    return ibis.cases((~boxed, WORK), (steps[C.iteration].notnull(), ITERATION), (inner, INNER),
                      else_=CONTAINER).cast("int8").name(RANK)


@functools.cache
def rank_sql() -> str:
    """`rank` as a DuckDB select item over a table with `COLUMNS` (`... AS _box`), compiled once per
    process from the Ibis expression, so the dashboard's SQL cannot drift from the analyses."""
    import sqlglot
    from sqlglot import exp

    schema = ibis.Schema.from_pyarrow(STEPS)
    steps = ibis.table({c: schema[c] for c in COLUMNS}, name="steps")
    select = sqlglot.parse_one(str(ibis.to_sql(steps.select(rank(steps)), dialect="duckdb")), read="duckdb")
    item = select.expressions[0].transform(
        lambda node: exp.column(node.name, quoted=True) if isinstance(node, exp.Column) else node)
    return item.sql(dialect="duckdb")


def ranks_of(rows: pd.DataFrame) -> pd.Series:
    """`rank` of step rows already in pandas (one run's), by the same SQL over the frame."""
    import duckdb

    if rows.empty:
        return pd.Series([], index=rows.index, dtype="int8")
    frame = pd.DataFrame({c: (rows[c] if c in rows else None) for c in COLUMNS}).astype(
        {C.type: "object", C.native_type: "object", C.previous_step_key: "object", C.parent_step_key: "object"})
    with duckdb.connect() as con:
        con.register("steps", frame)
        values = con.execute(f"SELECT {rank_sql()} FROM steps").fetchnumpy()[RANK]
    return pd.Series(values, index=rows.index, dtype="int8")


def lowest_rank(rows: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Rows grouped by (keys..., RANK) with only each key's lowest rank kept, RANK dropped: where a name
    has container and work rows (a GCP try around a call), the work's; a try, its block and its except,
    the block's; a loop and its iterations, the loop's; a name of one rank keeps it."""
    lowest = rows.groupby(list(keys), dropna=False)[RANK].transform("min")
    return rows[rows[RANK] == lowest].drop(columns=RANK).reset_index(drop=True)
