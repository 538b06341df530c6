"""Run the analyses over a store: the glue behind `flowscope analyze` and `flowscope.analyze()`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandas as pd

from flowscope.analysis import Thresholds, analyze
from flowscope.model import TABLES
from flowscope.timewindow import parse_since


def analyze_store(
    store: Any,
    *,
    since: str | dt.datetime | None = None,
    until: str | dt.datetime | None = None,
    now: dt.datetime | None = None,
    clouds: list[str] | None = None,
    workflows: list[str] | None = None,
    thresholds: Thresholds | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Findings over a store (anything with `.table(name) -> ibis.Table`); since/until may be '7d' or ISO."""
    tables = {name: store.table(name) for name in TABLES}
    return analyze(tables, since=parse_since(since, now), until=parse_since(until, now), now=now,
                   clouds=clouds, workflows=workflows, thresholds=thresholds)
