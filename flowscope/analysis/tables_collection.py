"""Collection health: every scope's latest sync, its lag and recent failures, the latest collection runs,
and the JSON of their counts.

Apart from the measures of workflows: these read the collection_runs table, what the collectors did.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pandas as pd

from flowscope.analysis.tables_shared import _in, q, run
from flowscope.model import COLLECTED_STATUSES, UTC, C, superseded_failures
from flowscope.runstate import interrupted

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


def collection_runs(con: Any, limit: int = 2000) -> pd.DataFrame:
    """The latest collection runs (all scopes), newest first."""
    return run(con, q("""
        SELECT {cloud}, {scope}, {status}, {started_at}, {ended_at}, {error}
        FROM collection_runs ORDER BY {started_at} DESC LIMIT {limit}
    """, limit=int(limit)))


def parse_json(text: Any) -> dict[str, Any]:
    if not text or (isinstance(text, float) and math.isnan(text)):
        return {}
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
