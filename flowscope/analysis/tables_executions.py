"""One run's rows, found by its id: whether the filters hold any run, a run's row, steps, attempts and
priced usage (`execution_detail`), and the run of an id (`find_execution(s)`), read from its start date's
files when the caller knows it.

The run page and the search read a run through here; `runs.py` builds on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from flowscope.analysis import pricing
from flowscope.analysis.tables_shared import Filters, q, run
from flowscope.analysis.tables_usage import _with_usd
from flowscope.model import C

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
