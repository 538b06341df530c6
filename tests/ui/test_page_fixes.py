"""Dashboard defects a review reproduced, one AppTest (or pure-function test) each."""

from __future__ import annotations

import pytest

from flowscope.model import C
from flowscope.store import Store
from tests.ui.helpers import build
from tests.ui.test_pages import app, metrics, no_exception, open_page


@pytest.fixture(scope="module")
def many_errors_store(tmp_path_factory) -> tuple[str, int, int]:
    """Every failed step visit with an error of its own: more distinct errors than the 50 listed."""
    path = tmp_path_factory.mktemp("ui-many-errors")
    batch = build(1800, days=6, seed=7)
    n = caught = 0
    for row in batch.steps:
        if row.get(C.error):
            n += 1
            row[C.error] = f"Err{n:04d}"
            if n % 2:
                row[C.status] = "CAUGHT"
                caught += 1
    Store(path).write(batch)
    return str(path), n, caught


def test_failures_kpis_count_every_error_not_the_listed_fifty(many_errors_store, monkeypatch):
    """'Distinct errors' read 50 and 'Caught step failures' the caught of those 50 rows."""
    path, n, _ = many_errors_store
    at = open_page(app(path, monkeypatch, window="30d"), "failures")
    no_exception(at)
    shown = metrics(at)
    listed = at.dataframe[0].value
    assert len(listed) == 50 and n > 50
    distinct = int(shown["Distinct errors"].replace(",", ""))
    caught = int(shown["Caught step failures"].replace(",", ""))
    assert distinct > 50, shown
    assert caught > int(listed["caught"].sum()), shown
    assert any(f"of {distinct:,} distinct errors" in c.value for c in at.caption)


def test_workflow_runs_trend_leaves_out_the_partial_last_day(tmp_path):
    """A window ending 5 minutes into a day drew that day's handful of runs as every sparkline's last
    point (0 on all 12 workflows of the demo): the trend holds whole days only."""
    import datetime as dt

    from flowscope.analysis import tables
    from flowscope.model import UTC

    t0 = dt.datetime(2026, 11, 1, tzinfo=UTC)
    Store(tmp_path).write(build(300, end=t0 + dt.timedelta(days=6), days=6))
    con = tables.prepare(Store(tmp_path).connect().cursor())
    f = tables.Filters(t0 + dt.timedelta(minutes=5), t0 + dt.timedelta(days=6, minutes=5))
    table = tables.workflow_table(con, f)
    assert {len(t) for t in table["trend"]} == {6}, "six whole days; the day the window ends inside left out"
    assert sum(t[-1] for t in table["trend"]) > 0
    assert sum(sum(t) for t in table["trend"]) <= table["runs"].sum()
