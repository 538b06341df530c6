"""The store as a whole: its summary (row counts, time span, what was collected to), where the filtered
workflows' data begins (`first_execution`) and the names of its tables.

For the empty and stale states and the previous-window coverage every page judges first.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from flowscope.analysis.base import utc_stamp
from flowscope.analysis.tables_shared import _in, q, run, run_days
from flowscope.model import COLLECTED_STATUSES, TABLES, C
from flowscope.timewindow import known_end


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


def table_names() -> list[str]:
    return list(TABLES)
