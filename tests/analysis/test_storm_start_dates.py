"""Retry storms join failed attempts to their steps on the execution's start date too (`retries.
_failed_attempts_with_names`: the engine's join filter then skips steps files of dates no failed attempt
comes from). That is exact only because every row of an execution carries the execution's start date
(docs/model.md), whenever its step or try began: a run that started days before the window and retries
inside it is still found, with the same retries as a run that started in it."""

import datetime as dt

import pytest

from flowscope.analysis import analyze
from flowscope.model import Meter, Status
from tests.analysis.helpers import T0, World, at
from tests.analysis.test_analyses import of

DAY = dt.timedelta(days=1)
BURST = T0 + DAY + dt.timedelta(hours=10)


def burst_world(began: dt.timedelta, step_began: dt.timedelta, older: bool) -> World:
    """Steady retries for 2 days and, in the hour from BURST, 120 runs whose CallApi fails 3 times and
    succeeds; each of those runs started `began` before its first retry, its CallApi `step_began` before.
    `older`: a run 10 days before the window too, older than the storms' baseline, so the key is used
    (without one no steps file could be skipped and the join goes without it)."""
    w = World()
    wf = w.workflow("ingest")
    if older:
        w.step(w.execution(wf, T0 - 10 * DAY), "CallApi", T0 - 10 * DAY)
    for i in range(48 * 4):
        t = at(minutes=15 * i)
        if i % 4 == 0:
            st = w.step(w.execution(wf, t), "CallApi", t, attempts=2, meter=Meter.AWS_SFN_STATE_TRANSITION)
            w.attempt(st, 1, t, error="ThrottlingException")
            w.attempt(st, 2, t + dt.timedelta(seconds=2), status=Status.SUCCEEDED)
    for k in range(120):
        t = BURST + dt.timedelta(seconds=30 * k)
        ex = w.execution(wf, t - began, duration_ms=int((began + dt.timedelta(minutes=5)).total_seconds() * 1000))
        st = w.step(ex, "CallApi", t - step_began, attempts=4, meter=Meter.AWS_SFN_STATE_TRANSITION, quantity=4)
        for n in range(1, 5):
            start = t - step_began if n == 1 else t + dt.timedelta(seconds=2 * n)
            w.attempt(st, n, start, status=Status.FAILED if n < 4 else Status.SUCCEEDED,
                      error="ThrottlingException" if n < 4 else None)
    return w


def storms(w: World) -> list[tuple]:
    until = T0 + 2 * DAY
    df = of(analyze(w.tables(), since=T0, until=until, now=until), "retry_storm")
    return [(r.step, r.window_start, r.window_end, r.evidence["retries"]) for r in df.itertuples()]


@pytest.mark.parametrize("older", [True, False])
def test_a_storm_of_runs_that_started_days_before_the_window_is_found(older):
    inside = storms(burst_world(dt.timedelta(0), dt.timedelta(0), older))
    assert len(inside) == 1 and inside[0][3] == 361   # 3 x 120 and a steady one
    # long-running runs (started 3 days before the window) whose step began in the window
    assert storms(burst_world(dt.timedelta(days=4), dt.timedelta(0), older)) == inside
    # and whose step began before the window too, its first try there, its retries inside (the first
    # try's failure is the baseline's, not the storm's)
    early = storms(burst_world(dt.timedelta(days=4), dt.timedelta(days=2), older))
    assert [(s, a, b) for s, a, b, _ in early] == [(s, a, b) for s, a, b, _ in inside] and early[0][3] == 241
