"""One number per store and window: float noise of a parallel sum never reaches a shown figure."""

from __future__ import annotations

import duckdb
import ibis
import pandas as pd

from flowscope.analysis import measures
from flowscope.analysis import tables as q
from flowscope.analysis.base import execute


def test_noise_either_side_of_a_rounding_boundary_settles_to_one_value():
    # $0.000025 x 1,446 = $0.03615: a parallel sum lands a few 1e-12 either side of it.
    below, above = 0.03615 - 3e-12, 0.03615 + 3e-12
    assert round(below, 4) != round(above, 4)          # what flipped a finding's "$0.0361"/"$0.0362"
    frame = measures.settle_floats(pd.DataFrame({"usd": [below, above], "n": [1, 2]}))
    assert frame["usd"].iloc[0] == frame["usd"].iloc[1]
    assert round(frame["usd"].iloc[0], 4) == round(frame["usd"].iloc[1], 4)
    assert frame["n"].tolist() == [1, 2]


def test_the_analyses_and_the_dashboard_queries_get_settled_floats():
    t = ibis.memtable(pd.DataFrame({"a": [0.1], "b": [0.2]}))
    assert execute(t.select(x=t.a + t.b))["x"].iloc[0] == 0.3
    assert q.run(duckdb.connect(), "SELECT 0.1::DOUBLE + 0.2::DOUBLE AS x")["x"].iloc[0] == 0.3
