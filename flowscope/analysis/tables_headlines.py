"""The headline figures of the Workflows, Collection health and Latency pages, summed from the rows a
measure already returned: no read of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

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
