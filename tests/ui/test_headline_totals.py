"""Page headlines are the analysis layer's (`tables.workflow_totals`, `collection_totals`, `slowest_p95`,
`runs.run_usd`): the pages summed and counted their tables themselves."""

from __future__ import annotations

import math

import pandas as pd

from flowscope.analysis import tables
from flowscope.analysis.runs import run_usd


def test_workflow_totals():
    table = pd.DataFrame({"runs": [10, 5, 0], "failed": [2, 0, 0], "cost_usd": [1.5, 0.25, 0.0]})
    assert tables.workflow_totals(table) == tables.WorkflowTotals(3, 15, 1, 1.75)
    assert tables.workflow_totals(table.iloc[:0]) == tables.WorkflowTotals(0, 0, 0, 0.0)


def test_collection_totals_count_never_synced_apart_and_superseded_failures_not():
    health = pd.DataFrame({"status": ["succeeded", "failed", "failed", "partial", "failed"],
                           "superseded": [None, None, "a later sync of the source", None, None],
                           "lag_minutes": [12.0, 90.0, 30.0, 5.0, math.nan]})
    got = tables.collection_totals(health)
    assert got == tables.CollectionTotals(scopes=5, succeeded=1, failed=2, partial=1, never_synced=1,
                                          max_lag_minutes=90.0)
    never = health.assign(lag_minutes=math.nan)
    assert tables.collection_totals(never).max_lag_minutes is None
    assert tables.never_synced(never).tolist() == [True] * 5


def test_slowest_p95_and_run_usd():
    assert tables.slowest_p95(pd.DataFrame({"p95_ms": [10.0, 250.0]})) == 250.0
    assert tables.slowest_p95(pd.DataFrame({"p95_ms": []})) is None
    assert run_usd(pd.DataFrame({"usd": [0.25, 0.5]})) == 0.75 and run_usd(None) == 0.0
