"""Several quantiles as one aggregate (`base.quantiles` + `split_quantiles`, `tables.quantiles_sql`) give
exactly what one aggregate per quantile gives, per group, NULLs and one-row groups included."""

from __future__ import annotations

import duckdb
import ibis
import numpy as np
import pandas as pd

from flowscope.analysis.base import QUANTILES, execute, quantiles, split_quantiles
from flowscope.analysis.tables import quantiles_sql

QS = {"p50": 0.5, "p95": 0.95, "p99": 0.99, "p80": 0.8}


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    g = np.repeat(["a", "b", "c", "d"], [1000, 37, 1, 5])
    x = rng.lognormal(6, 1.5, len(g)).round()
    x[rng.random(len(g)) < 0.05] = np.nan                 # nulls are skipped by both
    return pd.DataFrame({"g": g, "x": x})


def test_one_list_aggregate_equals_one_aggregate_per_quantile_in_ibis():
    t = ibis.memtable(_frame())
    x = t.x.cast("float64")
    alone = execute(t.group_by("g").aggregate(**{n: x.quantile(v) for n, v in QS.items()})).sort_values("g")
    together = execute(split_quantiles(t.group_by("g").aggregate(**{QUANTILES: quantiles(x, list(QS.values()))}),
                                       list(QS))).sort_values("g")
    assert list(together.columns) == ["g", *QS]
    pd.testing.assert_frame_equal(together.reset_index(drop=True), alone.reset_index(drop=True), check_exact=True)


def test_one_list_aggregate_equals_one_aggregate_per_quantile_in_sql():
    con = duckdb.connect()
    con.register("t", _frame().assign(x=lambda f: f["x"].astype("Int64")))   # BIGINT, as the store's durations
    alone = ", ".join(f"quantile_cont(x, {v}) AS {n}" for n, v in QS.items())
    a = con.sql(f"SELECT g, {alone} FROM t GROUP BY g ORDER BY g").df()
    b = con.sql(f"SELECT g, {quantiles_sql('x', QS)} FROM t GROUP BY g ORDER BY g").df()
    pd.testing.assert_frame_equal(b, a, check_exact=True)
    assert quantiles_sql("x", {"p50": 0.5}) == "quantile_cont(x, [0.5])[1] AS p50"
