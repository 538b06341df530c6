"""A run that started days before the window and is still going in it: its steps in the window are the
window's, on the pages (`tables`, which read the execution tables from a start date on) as in the analyses.
An approval that waits three days before its failing step read "no failing step" on the Failures page while
the analyses flagged the step."""

from __future__ import annotations

import datetime as dt

from flowscope.analysis import analyze
from flowscope.analysis import tables as q
from flowscope.model import C, Status
from tests.analysis.helpers import T0, World

DAY = dt.timedelta(days=1)
SINCE, UNTIL = T0 + 5 * DAY, T0 + 7 * DAY


def approvals(wait_days: float) -> World:
    """20 runs that start on day 0, wait `wait_days` for an approval and then fail to ship (each ship a
    hour later than the last), and 20 runs in the window that ship."""
    w = World()
    wf = w.workflow("approvals")
    for i in range(20):
        start = T0 + dt.timedelta(hours=i)
        ex = w.execution(wf, start, duration_ms=int((wait_days + 1) * 86_400_000), status=Status.FAILED)
        w.step(ex, "Approve", start, key="a", duration_ms=int(wait_days * 86_400_000))
        w.step(ex, "Ship", start + dt.timedelta(days=wait_days, hours=i), key="s", prev="a",
               status=Status.FAILED, error="BadGateway")
    for i in range(20):
        start = SINCE + dt.timedelta(hours=i)
        ex = w.execution(wf, start)
        w.step(ex, "Approve", start, key="a")
        w.step(ex, "Ship", start + dt.timedelta(minutes=1), key="s", prev="a")
    started = {e[C.execution_id]: e[C.started_at].date() for e in w.rows["executions"]}
    for s in w.rows["steps"]:
        s[C.start_date] = started[s[C.execution_id]]      # as the store keeps it: the execution's start date
    return w


def test_the_failures_page_counts_the_steps_of_a_run_started_days_before_the_window():
    tables = approvals(wait_days=4.5).tables()
    con = q.prepare(tables["steps"]._find_backend().con)
    found = analyze(tables, since=SINCE, until=UNTIL, now=UNTIL)
    ev = found[found["kind"] == "failing_step"].iloc[0].evidence
    page = q.failing_steps(con, q.Filters(SINCE, UNTIL)).set_index("step")
    assert ev["failures"] > 0
    assert (int(page.loc["Ship", "visits"]), int(page.loc["Ship", "failures"])) == (ev["visits"], ev["failures"])


def test_the_first_live_date_is_the_first_start_of_a_run_not_ended_by_the_window():
    w = approvals(wait_days=4.5)
    con = w.tables()["steps"]._find_backend().con
    assert q.first_live_date(con, SINCE, SINCE.date() - DAY) == T0.date()
    # runs that ended before the window leave the bound where it was
    assert q.first_live_date(con, T0 + 30 * DAY, (T0 + 29 * DAY).date()) == (T0 + 29 * DAY).date()
    # a run with no end (still running, or its end never read) may have steps in any later window
    ex = w.execution(w.rows["workflows"][0][C.workflow_id], T0 - 10 * DAY, duration_ms=None, status=Status.RUNNING)
    ex[C.ended_at] = None
    con = w.tables()["steps"]._find_backend().con
    assert q.first_live_date(con, T0 + 30 * DAY, (T0 + 29 * DAY).date()) == (T0 - 10 * DAY).date()


def test_a_run_still_going_in_one_cloud_does_not_widen_anothers_reads():
    w = approvals(wait_days=4.5)
    gcp = w.workflow("poller", cloud="gcp")
    ex = w.execution(gcp, T0 - 10 * DAY, cloud="gcp", duration_ms=None, status=Status.RUNNING)
    ex[C.ended_at] = None
    con = w.tables()["steps"]._find_backend().con
    later = (T0 + 29 * DAY).date()
    assert q.first_live_date(con, T0 + 30 * DAY, later) == (T0 - 10 * DAY).date()
    assert q.first_live_date(con, T0 + 30 * DAY, later, ("aws",)) == later
    assert q.first_live_date(con, T0 + 30 * DAY, later, ("gcp",)) == (T0 - 10 * DAY).date()
