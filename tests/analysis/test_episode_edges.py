"""Episodes (failure bursts, slow steps, retry storms) are found on time buckets aligned on the Unix epoch,
not on the window: a finding's window is the episode's buckets cut to the analysis window, never hours
before its start or after its end (a burst in the last hour of a window ending now read "to 18:00 UTC")."""

import datetime as dt

import pandas as pd
import pytest

from flowscope.analysis import analyze
from flowscope.model import C, Meter, Status
from tests.analysis.helpers import T0, World
from tests.analysis.test_analyses import latency_world, of, storm_world

H = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)
DAY = dt.timedelta(days=1)


def _burst_world(since: dt.datetime, until: dt.datetime, bad_from: dt.datetime, bad_to: dt.datetime, *,
                 quantity: float = 1.0) -> World:
    """A visit every 10 minutes over [since, until), failing in [bad_from, bad_to) only; each visit bills
    `quantity` transitions."""
    w = World()
    wf = w.workflow("orders")
    t = since
    while t < until:
        bad = bad_from <= t < bad_to
        ex = w.execution(wf, t, status=Status.FAILED if bad else Status.SUCCEEDED)
        w.step(ex, "Charge", t, status=Status.FAILED if bad else Status.SUCCEEDED, error="Boom" if bad else None,
               meter=Meter.AWS_SFN_STATE_TRANSITION, quantity=quantity)
        t += dt.timedelta(minutes=10)
    return w


def _episode(since: dt.datetime, until: dt.datetime, bad_from: dt.datetime, bad_to: dt.datetime) -> tuple:
    df = of(analyze(_burst_world(since, until, bad_from, bad_to).tables(), since=since, until=until, now=until),
            "failing_step")
    assert len(df) == 1
    row = df.iloc[0]
    ep = row.evidence["episode"]
    return (row.window_start, row.window_end, ep["start"], ep["end"], ep["visits"], ep["failures"],
            row.title.split(" UTC")[0])


SINCE, UNTIL = T0 + 3 * H, T0 + 3 * DAY + 14 * H      # neither on a 6-hour bucket's edge


def test_failure_burst_at_the_window_end_ends_with_the_window():
    assert _episode(SINCE, UNTIL, UNTIL - 2 * H, UNTIL) == (
        pd.Timestamp(UNTIL - 2 * H), pd.Timestamp(UNTIL), (UNTIL - 2 * H).isoformat(), UNTIL.isoformat(), 12, 12,
        "Charge in orders failed 100% of 12 visits from 2026-03-04 12:00 to 2026-03-04 14:00")


def test_failure_burst_at_the_window_start_starts_with_the_window():
    assert _episode(SINCE, UNTIL, SINCE, SINCE + 2 * H) == (
        pd.Timestamp(SINCE), pd.Timestamp(T0 + 6 * H), SINCE.isoformat(), (T0 + 6 * H).isoformat(), 18, 12,
        "Charge in orders failed 67% of 18 visits from 2026-03-01 03:00 to 2026-03-01 06:00")


def test_slow_step_ends_with_a_window_that_ends_inside_its_bucket():
    until = T0 + DAY + 9 * H                    # the slow bucket is 06:00-12:00 on day 2
    df = of(analyze(latency_world().tables(), since=T0, until=until, now=until), "slow_step")
    assert [(r.window_start, r.window_end, r.evidence["visits"], r.evidence["slow_visits"]) for r in df.itertuples()] \
        == [(pd.Timestamp(T0 + DAY + 6 * H), pd.Timestamp(until), 18, 18)]


def test_slow_step_id_does_not_move_with_the_window_end():
    ids = {of(analyze(latency_world().tables(), since=T0, until=u, now=u), "slow_step").iloc[0].id
           for u in (T0 + DAY + 9 * H, T0 + 2 * DAY)}
    assert len(ids) == 1


def test_retry_storm_ends_with_a_window_that_ends_inside_its_bucket():
    until = T0 + DAY + 10 * H + 20 * dt.timedelta(minutes=1)   # the burst is 10:00-11:00 on day 2
    df = of(analyze(storm_world().tables(), since=T0, until=until, now=until), "retry_storm")
    assert len(df) == 1 and df.iloc[0].window_end == pd.Timestamp(until)
    assert df.iloc[0].window_start >= pd.Timestamp(T0 + DAY + 9 * H + 45 * dt.timedelta(minutes=1))


def test_retry_storm_counts_only_the_retries_in_the_window():
    """A window starting 5 minutes into the storm's first 15-minute bucket: the storm said 360 retries,
    the 90 of that bucket's first 5 minutes included, beside 90 visits of 4 tries read from the window."""
    w = storm_world()
    since, until = T0 + DAY + 10 * H + 5 * dt.timedelta(minutes=1), T0 + 2 * DAY
    retried = sum(1 for a in w.rows["attempts"] if a["attempt"] > 1 and since <= a["started_at"] < T0 + DAY + 11 * H)
    df = of(analyze(w.tables(), since=since, until=until, now=until), "retry_storm")
    assert [(r.evidence["retries"], r.evidence["visits"], r.evidence["attempts"], r.title.split(" of ")[0])
            for r in df.itertuples()] == [(retried, 90, 360, "Retry storm on CallApi in ingest: 270 retries")]
    assert retried == 270


def test_slow_step_counts_only_the_visits_in_the_window():
    """A window starting 3 hours into the slow 6-hour bucket (06:00-12:00 on day 2): the finding read 36
    slow visits, the 18 of that bucket's first 3 hours (the previous window's) included, beside 18 executions."""
    since, until = T0 + DAY + 9 * H, T0 + 2 * DAY
    df = of(analyze(latency_world().tables(), since=since, until=until, now=until), "slow_step")
    assert [(r.window_start, r.evidence["visits"], r.evidence["slow_visits"], r.executions_affected)
            for r in df.itertuples()] == [(pd.Timestamp(since), 18, 18, 18)]



def _with_timeouts(w: World) -> World:
    """Two visits of CallApi each 15 minutes of the storm hour that retry States.Timeout twice: 16 retries."""
    wf = w.rows["workflows"][0]["workflow_id"]
    for i in range(4):
        for k in range(2):
            t = T0 + DAY + 10 * H + dt.timedelta(minutes=15 * i, seconds=40 + k)
            st = w.step(w.execution(wf, t), "CallApi", t, attempts=3, meter=Meter.AWS_SFN_STATE_TRANSITION,
                        quantity=3)
            for n in (1, 2, 3):
                w.attempt(st, n, t + dt.timedelta(seconds=3 * n), status=Status.FAILED if n < 3 else Status.SUCCEEDED,
                          error="States.Timeout" if n < 3 else None)
    return w


def test_retry_storms_of_two_errors_on_one_step_are_two_findings():
    """Storms of two errors on one step from the same bucket had one id: the 16 Timeout retries' storm
    stood in the findings, the 407 ThrottlingException retries' storm was dropped as its duplicate."""
    until = T0 + 2 * DAY
    df = of(analyze(_with_timeouts(storm_world()).tables(), since=T0, until=until, now=until), "retry_storm")
    assert sorted(e["error"] for e in df["evidence"]) == ["States.Timeout", "ThrottlingException"]
    assert df["id"].nunique() == 2



def _storm_figures(w: World) -> list[tuple]:
    until = T0 + 2 * DAY
    df = of(analyze(w.tables(), since=T0, until=until, now=until), "retry_storm")
    return [(r.evidence["error"], r.evidence["visits"], r.evidence["attempts"], r.evidence["amplification"],
             r.executions_affected, sorted(r.sample_execution_ids)) for r in df.itertuples()]


def test_retry_storm_counts_the_visits_of_its_own_error():
    """Visits of the storm's step that retried another error only (a Timeout twice each 15 minutes during
    a ThrottlingException storm) are not the storm's: they were counted in its visits, attempts,
    amplification, affected executions and sample runs."""
    plain = _storm_figures(storm_world())
    w = _with_timeouts(storm_world())
    assert [f[0] for f in plain] == ["ThrottlingException"]
    assert [f for f in _storm_figures(w) if f[0] == "ThrottlingException"] == plain


def test_slow_step_p95_is_of_the_visits_in_the_window():
    """The slow bucket 06:00-12:00 on day 2 took 20 s before 09:00 and 9 s after; a window from 09:00 read
    the bucket's p95 (20 s) in its title and evidence, visits it does not hold."""
    w = latency_world()
    for s in w.rows["steps"]:
        if T0 + DAY + 6 * H <= s["started_at"] < T0 + DAY + 9 * H:
            s["duration_ms"] = 20_000
    since, until = T0 + DAY + 9 * H, T0 + 2 * DAY
    df = of(analyze(w.tables(), since=since, until=until, now=until), "slow_step")
    assert [(r.evidence["p95_ms"], r.evidence["visits"]) for r in df.itertuples()] == [(9000.0, 18)]
    assert "p95 9.0 s vs" in df.iloc[0].title


def test_retry_storm_peak_is_of_the_retries_in_the_window():
    """A window starting at 10:05, inside the storm's first 15-minute bucket, whose 180 retries all came before
    10:05: the title and evidence said "peak 180 per 15 min", retries the window does not hold."""
    w = storm_world()
    wf = w.rows["workflows"][0]["workflow_id"]
    for k in range(30):
        t = T0 + DAY + 10 * H + dt.timedelta(minutes=1, seconds=k)
        st = w.step(w.execution(wf, t), "CallApi", t, attempts=4, meter=Meter.AWS_SFN_STATE_TRANSITION, quantity=4)
        for n in range(1, 5):
            w.attempt(st, n, t + dt.timedelta(seconds=n), status=Status.FAILED if n < 4 else Status.SUCCEEDED,
                      error="ThrottlingException" if n < 4 else None)
    since, until = T0 + DAY + 10 * H + 5 * dt.timedelta(minutes=1), T0 + 2 * DAY
    df = of(analyze(w.tables(), since=since, until=until, now=until), "retry_storm")
    assert [(r.evidence["retries"], r.evidence["peak_retries_per_bucket"]) for r in df.itertuples()] == [(270, 90)]
    assert "(peak 90 per 15 min" in df.iloc[0].title


def _burst_finding(bad_from: dt.datetime, bad_to: dt.datetime, *, also_bad: dt.datetime | None = None) -> pd.Series:
    w = _burst_world(SINCE, UNTIL, bad_from, bad_to, quantity=1000)    # dollars the findings' rounding keeps
    if also_bad is not None:      # one more failed run outside the burst: what the step wastes as a rule
        ex = w.execution(w.rows["workflows"][0][C.workflow_id], also_bad, status=Status.FAILED)
        w.step(ex, "Charge", also_bad, status=Status.FAILED, error="Boom", meter=Meter.AWS_SFN_STATE_TRANSITION,
               quantity=1000)
    df = of(analyze(w.tables(), since=SINCE, until=UNTIL, now=UNTIL), "failing_step")
    assert len(df) == 1 and df.iloc[0].evidence["episode"] is not None
    return df.iloc[0]


def test_a_failure_burst_that_is_over_is_not_projected_to_a_month():
    """A burst of failures on day 2 of a 3.5-day window: its wasted runs were projected to a month (x8.6), as
    if the outage came back every 3.5 days. What it cost is said once, in the episode's evidence; the month
    is projected from what the step wastes outside it (nothing here)."""
    row = _burst_finding(T0 + DAY + 6 * H, T0 + DAY + 8 * H)
    assert row.evidence["wasted_usd"] > 0
    assert row.evidence["episode"]["wasted_usd"] == pytest.approx(row.evidence["wasted_usd"])
    assert row.monthly_usd == 0.0


def test_a_failure_burst_that_is_over_leaves_the_steps_other_waste_projected():
    row = _burst_finding(T0 + DAY + 6 * H, T0 + DAY + 8 * H, also_bad=T0 + 2 * DAY + 5 * H + 3 * MIN)
    whole, burst = row.evidence["wasted_usd"], row.evidence["episode"]["wasted_usd"]
    assert 0 < burst < whole
    factor = 30 / ((UNTIL - SINCE) / DAY)
    assert row.monthly_usd == pytest.approx((whole - burst) * factor, rel=1e-3)


def test_a_failure_burst_still_going_at_the_window_end_is_projected():
    row = _burst_finding(UNTIL - 2 * H, UNTIL)
    factor = 30 / ((UNTIL - SINCE) / DAY)
    assert row.evidence["episode"]["wasted_usd"] == pytest.approx(row.evidence["wasted_usd"])
    assert row.monthly_usd == pytest.approx(row.evidence["wasted_usd"] * factor, rel=1e-3) and row.monthly_usd > 0


@pytest.mark.parametrize("bad", [(UNTIL - 2 * H, UNTIL), (SINCE, SINCE + 2 * H), (T0 + DAY + 6 * H, T0 + DAY + 8 * H)])
def test_failure_bursts_are_the_same_from_the_shared_read_or_their_own(monkeypatch, bad):
    """The failure episodes' buckets come from the shared step read (`cost.failure_buckets`) while the window's
    buckets x workflows stay within `cost.FOLDED_BUCKETS_MAX`, else from a read of the candidates' visits:
    the same burst either way, the bucket that straddles `since` counting the window's visits only."""
    def finding(**kw: object) -> tuple:
        w = _burst_world(SINCE - 6 * H, UNTIL, *bad)      # visits in the previous window too
        row = of(analyze(w.tables(), since=SINCE, until=UNTIL, now=UNTIL), "failing_step").iloc[0]
        return row.title, row.window_start, row.window_end, row.monthly_usd, row.evidence

    shared = finding()
    monkeypatch.setattr("flowscope.analysis.step_stats.FOLDED_BUCKETS_MAX", 0)
    own = finding()
    assert shared[4]["episode"] is not None and shared == own
