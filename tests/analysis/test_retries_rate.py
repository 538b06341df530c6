"""Retry storms against the step's own retry rate (issue 15 follow-up).

At 100,000 demo executions, image-pipeline's ordinary 503 retries (about 0.2 per 15 minutes) stormed
five times in the store's first week: the trailing median and MAD were those of the empty days before
collection began, and a 4-hour window reached the fixed floor of 10 retries by volume alone. A storm
core must now also be beyond chance at the step's own retry rate (`Thresholds.retry_storm_rate_z`).

A table of retry series (15-minute buckets, 7 trailing days, then the 30-day window) and their
verdicts; "cold" series have nothing in the trailing days (the store's first week), as in the demo.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from flowscope.analysis import Thresholds, analyze
from flowscope.analysis.retries import _beyond_rate, storm_segments
from flowscope.model import C, Kind, Meter, Status
from tests.analysis.helpers import T0, World

DAY = 96                      # 15-minute buckets
TRAIL = 7 * DAY               # retry_baseline_days
SIZE = TRAIL + 30 * DAY       # trailing days + the analysis window
NEW = Thresholds()
OLD = Thresholds(retry_storm_rate_z=0)   # the rule before the rate test


def steady(rate: float, seed: int, *, cold: bool = False, per_visit: int = 1) -> np.ndarray:
    """Retries at `rate` per bucket: retried visits arrive as a Poisson process and each retries
    1..`per_visit` times (uniformly), so the counts are over-dispersed when `per_visit` > 1."""
    rng = np.random.default_rng(seed)
    visits = rng.poisson(rate / ((1 + per_visit) / 2), SIZE)
    each = rng.integers(1, per_visit + 1, int(visits.sum()))
    d = np.bincount(np.repeat(np.arange(SIZE), visits), weights=each, minlength=SIZE).astype(float)
    if cold:
        d[:TRAIL] = 0
    return d


def burst(base: np.ndarray, at: int, buckets: int, rate: float, seed: int) -> np.ndarray:
    d = base.copy()
    d[at:at + buckets] += np.random.default_rng(seed + 100).poisson(rate, buckets)
    return d


def jump(at: int, counts: list[float]) -> np.ndarray:
    d = np.zeros(SIZE)
    d[at:at + len(counts)] = counts
    return d


BUSY = 500 * 0.005            # a 0.5% retry rate at 500 visits per 15 minutes: 2.5 retries per bucket
MID = TRAIL + 15 * DAY + 40   # day 15 of the window, 10:00

# name -> (series, expected storms (first, last bucket) or [] ; whether the old rule already got it right)
Case = tuple[Callable[[int], np.ndarray], list[tuple[int, int]], bool]
CASES: dict[str, Case] = {
    "busy step, steady 0.5% retries, with history": (lambda s: steady(BUSY, s), [], True),
    "busy step, steady 0.5% retries, store's first week": (lambda s: steady(BUSY, s, cold=True), [], False),
    "image-pipeline at 100k: 0.2 per bucket, first week": (lambda s: steady(0.2, s, cold=True), [], True),
    "0.5 per bucket, first week": (lambda s: steady(0.5, s, cold=True), [], False),
    "0.5 per bucket, 1-3 retries per retried visit, first week": (
        lambda s: steady(0.5, s, cold=True, per_visit=3), [], False),
    "2.5 per bucket, 1-5 retries per retried visit, with history": (
        lambda s: steady(2.5, s, per_visit=5), [], False),
    "0.2 per bucket, 1-5 retries per retried visit, with history": (
        lambda s: steady(0.2, s, per_visit=5), [], False),
    "1 per bucket, 1-3 retries per visit + a 2-hour burst of 40x": (
        lambda s: burst(steady(1.0, s, per_visit=3), MID, 8, 40.0, s), [(MID, MID + 7)], True),
    "steady 1 per bucket, first week": (lambda s: steady(1.0, s, cold=True), [], False),
    "very busy step, 40 per bucket, first week": (lambda s: steady(40.0, s, cold=True), [], False),
    "very busy step, 40 per bucket, with history": (lambda s: steady(40.0, s), [], True),
    "busy step + a 2-hour burst of 40x the rate": (
        lambda s: burst(steady(BUSY, s), MID, 8, 40 * BUSY, s), [(MID, MID + 7)], True),
    "busy step in its first week + a 2-hour burst of 40x": (
        lambda s: burst(steady(BUSY, s, cold=True), TRAIL + 2 * DAY, 8, 40 * BUSY, s),
        [(TRAIL + 2 * DAY, TRAIL + 2 * DAY + 7)], True),
    "0.2 per bucket + a 2-hour burst of 40x (8 per bucket)": (
        lambda s: burst(steady(0.2, s), MID, 8, 8.0, s), [(MID, MID + 7)], True),
    "low volume (20 visits a day): 0 then 15 retries in an hour": (
        lambda s: jump(MID, [4, 4, 4, 3]), [(MID, MID + 3)], True),
    "low volume: 15 retries in the window's last hour": (
        lambda s: jump(SIZE - 4, [4, 4, 4, 3]), [(SIZE - 4, SIZE - 1)], True),
    "low volume: 15 retries in one bucket": (lambda s: jump(MID, [15]), [(MID, MID)], True),
    "low volume: 9 retries in an hour (under the floor)": (lambda s: jump(MID, [3, 3, 3]), [], True),
}


def verdict(dense: np.ndarray, th: Thresholds = NEW) -> list[tuple[int, int]]:
    return [(a, b) for a, b, _med, _mad in storm_segments(dense, TRAIL, TRAIL, th)]


def covers(found: list[tuple[int, int]], want: list[tuple[int, int]]) -> bool:
    """One storm per expected one, covering it and at most 4 hours (the widest scale) wider on each side."""
    if len(found) != len(want):
        return False
    return all(a <= w0 and b >= w1 and a >= w0 - 16 and b <= w1 + 16
               for (a, b), (w0, w1) in zip(found, want, strict=True))


@pytest.mark.parametrize("name", list(CASES))
def test_storm_verdicts(name):
    make, want, _old_ok = CASES[name]
    for seed in range(3):
        found = verdict(make(seed))
        assert covers(found, want), (name, seed, found, want)


@pytest.mark.parametrize("name", [n for n, (_m, _w, old_ok) in CASES.items() if not old_ok])
def test_the_old_rule_stormed_on_these(name):
    # The table bites: without the rate test, ordinary retries in a store's first week storm.
    make, _want, _ok = CASES[name]
    assert any(verdict(make(seed), OLD) for seed in range(3)), name


@pytest.mark.parametrize("per_visit", [1, 3, 5])
def test_steady_retries_never_storm_at_any_volume(per_visit):
    # 0.05 to 40 retries per 15 minutes, with history and in the store's first week, retried visits
    # retrying 1..per_visit times: the old rule found 0-392 storms per 16 such series (docs/measures.md).
    for rate in (0.05, 0.2, 0.5, 1.0, 2.5, 10.0, 40.0):
        for seed in range(2):
            for cold in (False, True):
                assert verdict(steady(rate, seed, cold=cold, per_visit=per_visit)) == [], (rate, seed, cold)


def test_dispersion_of_clustered_retries():
    from flowscope.analysis.retries import _usual_retries

    for per_visit, want in ((1, 1.0), (3, 7 / 3), (5, 11 / 3)):     # E[K^2] / E[K] for K uniform on 1..n
        d = steady(2.0, 0, per_visit=per_visit)
        idx = np.nonzero(d)[0]
        usual = _usual_retries(idx, d[idx], SIZE, TRAIL)
        assert usual.dispersion == pytest.approx(want, rel=0.15) and usual.rate == pytest.approx(2.0, rel=0.1)
    storm = jump(MID, [4, 4, 4, 3])                  # too few days with retries to measure a spread
    idx = np.nonzero(storm)[0]
    assert _usual_retries(idx, storm[idx], SIZE, TRAIL).dispersion == 1.0


@pytest.mark.parametrize(("count", "expected", "storm"), [
    (10, 0.0, True), (9, 0.0, False),            # nothing expected: the absolute floor, 10
    (14, 2.7, False), (20, 2.7, True),           # 0.17 per bucket over 16 buckets
    (60, 40.0, False), (80, 40.0, True),         # 2.5 per bucket over 16 buckets
    (700, 640.0, False), (800, 640.0, True),     # 40 per bucket over 16 buckets
])
def test_beyond_rate(count, expected, storm):
    assert bool(_beyond_rate(np.array([float(count)]), np.array([expected]), 5.0)[0]) is storm


def test_rate_test_can_be_turned_off_and_is_a_threshold():
    th = Thresholds.from_mapping({"retry_storm_rate_z": 0})
    assert dataclasses.replace(th, retry_storm_rate_z=0) == OLD
    cold = steady(0.5, 0, cold=True)
    assert verdict(cold, th) and not verdict(cold, Thresholds())
    with pytest.raises(ValueError, match="retry_storm_rate_z"):
        Thresholds.from_mapping({"retry_storm_rate_z": -1})


# ---------------------------------------------------------------- through the analysis, on tiny stores

def _visit(w: World, wf: str, t: dt.datetime, tries: int, error: str) -> None:
    ex = w.execution(wf, t)
    st = w.step(ex, "Fetch", t, attempts=tries, meter=Meter.AWS_SFN_STATE_TRANSITION, quantity=tries)
    for n in range(1, tries + 1):
        w.attempt(st, n, t + dt.timedelta(seconds=2 * n), status=Status.FAILED if n < tries else Status.SUCCEEDED,
                  error=error if n < tries else None)


def _storms(w: World, days: int, th: Thresholds = NEW) -> pd.DataFrame:
    end = T0 + dt.timedelta(days=days)
    df = analyze(w.tables(), since=T0, until=end, now=end, thresholds=th)
    return df[df["kind"] == "retry_storm"]


def test_low_volume_workflow_storms_when_its_retries_jump():
    w = World()
    wf = w.workflow("nightly")
    for i in range(8 * 20):                                     # 20 visits a day, no retries
        _visit(w, wf, T0 + dt.timedelta(minutes=72 * i), 1, "Http.503")
    hour = T0 + dt.timedelta(days=6, hours=3)
    for k in range(5):                                          # then 5 visits retried 3 times: 15 retries
        _visit(w, wf, hour + dt.timedelta(minutes=11 * k), 4, "Http.503")
    s = _storms(w, 8)
    assert len(s) == 1, s[["title"]].to_string()
    row = s.iloc[0]
    assert row.evidence["retries"] == 15 and row.window_start <= pd.Timestamp(hour) < row.window_end


def test_steady_retries_in_a_stores_first_days_do_not_storm():
    # One retried visit every 20 minutes on average from the store's first hour (the demo's image-pipeline
    # at 100k has 0.2 retries per 15 minutes): chance gives some 4-hour windows 10+ retries.
    w = World()
    wf = w.workflow("images")
    rng = np.random.default_rng(3)
    t = T0
    while t < T0 + dt.timedelta(days=6):
        t += dt.timedelta(minutes=float(rng.exponential(20)))
        _visit(w, wf, t, 2, "Http.503")
    assert _storms(w, 6).empty
    assert not _storms(w, 6, OLD).empty                          # the old rule stormed here


def _express_storm_world():
    """`storm_world`'s burst of throttled retries, in an Express state machine (billed per request and
    duration: a retry adds no billable unit)."""
    from tests.analysis.test_analyses import storm_world
    return storm_world().as_express()


def test_an_express_storms_retries_are_not_billable():
    """A retry storm's `billable_retries` said every retry was billable, an Express workflow's too."""
    until = T0 + dt.timedelta(days=2)
    df = analyze(_express_storm_world().tables(), since=T0, until=until, now=until)
    storm = df[df["kind"] == "retry_storm"]
    assert [(r.evidence["retries"] > 0, r.evidence["billable_retries"], r.evidence["retry_usd"])
            for r in storm.itertuples()] == [(True, 0, 0)]


@pytest.mark.parametrize("kind, said", [
    (Kind.LOGICAPP_CONSUMPTION, "each retry is a billed action execution."),
    (Kind.LOGICAPP_STANDARD, "each retry of a managed connector is a billed call (built-in actions are paid in plan"
                             " hours)."),
])
def test_a_logic_apps_storms_recommendation_says_what_a_retry_costs_for_its_kind(kind, said):
    """A Standard logic app's retried built-in action was told 'each retry is a billed action execution'."""
    from tests.analysis.test_analyses import storm_world
    w = storm_world()
    for row in (*w.rows["workflows"], *w.rows["executions"], *w.rows["steps"], *w.rows["attempts"],
                *w.rows["usage"]):
        row[C.cloud] = "azure"
    for row in (*w.rows["workflows"], *w.rows["executions"]):
        row[C.kind] = str(kind)
    for row in w.rows["usage"]:
        row[C.meter] = str(Meter.AZURE_LOGIC_BUILTIN_ACTION)
    until = T0 + dt.timedelta(days=2)
    storm = analyze(w.tables(), since=T0, until=until, now=until).query("kind == 'retry_storm'")
    assert len(storm) == 1 and said in storm.iloc[0].recommendation
