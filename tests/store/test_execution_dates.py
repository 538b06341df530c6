"""Every row of an execution written with its executions row is stored under that row's start date
(`validate.with_execution_dates`): a run's reads open its day's files alone (`tables.execution_detail`)."""

from __future__ import annotations

import datetime as dt

import pytest

from flowscope.model import Batch, C, Meter, to_arrow
from flowscope.store import Store
from tests.analysis.helpers import T0, World

DAY = dt.timedelta(days=1)
CHILDREN = ("steps", "attempts", "usage")


def _world() -> tuple[World, dict, dict]:
    """Two runs of one workflow, each with a step, a retry and usage; the second's rows dated a day late."""
    w = World()
    wf = w.workflow("orders")
    runs = []
    for n in range(2):
        ex = w.execution(wf, T0 + n * DAY + dt.timedelta(hours=23))
        step = w.step(ex, "Charge", ex[C.started_at], attempts=2, meter=Meter.AWS_SFN_STATE_TRANSITION)
        w.attempt(step, 1, ex[C.started_at])
        w.attempt(step, 2, ex[C.started_at] + dt.timedelta(seconds=1))
        runs.append(ex)
    late = runs[1]
    for table in CHILDREN:
        for row in w.rows[table]:
            if row[C.execution_id] == late[C.execution_id]:
                row[C.start_date] = late[C.start_date] + DAY      # a step that ran past midnight, dated by itself
    return w, runs[0], late


def _dates(store: Store, table: str) -> dict[str, set[dt.date]]:
    out: dict[str, set[dt.date]] = {}
    for row in store.read_rows(table):
        out.setdefault(row[C.execution_id], set()).add(row[C.start_date])
    return out


@pytest.mark.parametrize("arrow", [False, True], ids=["rows", "arrow"])
def test_the_rows_of_an_execution_take_its_start_date(tmp_path, arrow):
    w, first, late = _world()
    batch = {t: to_arrow(t, rows) if arrow else rows for t, rows in w.rows.items() if rows}
    store = Store(tmp_path / "s")
    store.write(batch)
    for table in CHILDREN:
        assert _dates(store, table) == {first[C.execution_id]: {first[C.start_date]},
                                        late[C.execution_id]: {late[C.start_date]}}, table


def test_rows_without_their_execution_in_the_batch_keep_their_date(tmp_path):
    w, _first, late = _world()
    store = Store(tmp_path / "s")
    steps = [r for r in w.rows["steps"] if r[C.execution_id] == late[C.execution_id]]
    store.write(Batch(steps=steps))
    assert _dates(store, "steps") == {late[C.execution_id]: {late[C.start_date] + DAY}}
    # its execution's row written with them (as `collectors.assemble` writes it) moves them to its day
    store.write(Batch(executions=[late], steps=steps))
    assert _dates(store, "steps") == {late[C.execution_id]: {late[C.start_date]}}
