"""Issue 9: every scan runs in memory bounded by the data, not by the window, and gives the same
verdicts as the quadratic / window-sized versions it replaced (tests/analysis/reference_scans.py)."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flowscope.analysis import Thresholds, analyze
from flowscope.analysis.base import bernoulli_scan
from flowscope.analysis.retries import storm_segments
from flowscope.model import UTC, Meter, Status
from tests.analysis.helpers import T0, World, at
from tests.analysis.reference_scans import old_bernoulli_scan, old_storm_segments

MB = 1024 * 1024
LIMIT = 200 * MB          # the quadratic figures are hundreds of GB; linear ones a few MB


def peak_bytes(fn: Callable[[], Any]) -> tuple[Any, int]:
    """Result and peak traced allocation (numpy reports to tracemalloc) of fn alone."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def verdicts(eps) -> list[tuple]:
    return [(e.first, e.last, e.hits, e.trials, e.out_hits, e.out_trials, round(e.llr, 6)) for e in eps]


# ---------------------------------------------------------------- bernoulli_scan: same verdicts

BURST = ([20] * 40, [0] * 10 + [4] * 6 + [0] * 24)

SCAN_CASES = [
    # (name, trials, hits, kwargs, expected (first, last) of each episode)
    ("burst", *BURST, {}, [(10, 15)]),
    ("steady rate", [20] * 40, [1 if i % 5 == 0 else 0 for i in range(40)], {}, []),
    ("empty", [], [], {}, []),
    ("no hits", [5] * 10, [0] * 10, {}, []),
    ("too few hits", [20] * 40, [0] * 10 + [4] + [0] * 29, {}, []),
    ("two bursts", [30] * 60, [0] * 5 + [10] * 3 + [0] * 40 + [9] * 4 + [0] * 8, {}, [(48, 51), (5, 7)]),
    ("burst with empty edges", [0, 0, 20, 20, 20, 0, 20, 20] + [20] * 30,
     [0, 0, 0, 6, 6, 0, 6, 0] + [0] * 30, {}, [(3, 6)]),
    ("one episode asked", [30] * 60, [0] * 5 + [10] * 3 + [0] * 40 + [9] * 4 + [0] * 8,
     {"max_episodes": 1}, [(48, 51)]),
    ("rate below min_rate", [1000] * 20, [0] * 5 + [20] * 3 + [0] * 12, {"min_rate": 0.05}, []),
]


@pytest.mark.parametrize("name,trials,hits,kw,expected", SCAN_CASES, ids=[c[0] for c in SCAN_CASES])
def test_bernoulli_scan_verdicts_match_the_quadratic_scan(name, trials, hits, kw, expected):
    args = {"min_hits": 5, "min_rate": 0.05, "min_llr": 12, **kw}
    eps = bernoulli_scan(trials, hits, **args)
    assert [(e.first, e.last) for e in eps] == expected
    assert verdicts(eps) == verdicts(old_bernoulli_scan(trials, hits, **args))


def test_bernoulli_scan_matches_the_quadratic_scan_on_random_series():
    rng = np.random.default_rng(3)
    for case in range(300):
        size = int(rng.integers(1, 120))
        n = rng.integers(0, 40, size).astype(float) * (rng.random(size) < 0.8)
        p = np.full(size, rng.uniform(0.0, 0.05))
        a = int(rng.integers(0, size))
        p[a:a + int(rng.integers(1, 12))] = rng.uniform(0.1, 0.6)
        k = rng.binomial(n.astype(int), p).astype(float)
        args = {"min_hits": 5, "min_rate": 0.05, "min_llr": float(rng.choice([4.0, 12.0]))}
        assert verdicts(bernoulli_scan(n, k, **args)) == verdicts(old_bernoulli_scan(n, k, **args)), case


def test_bernoulli_scan_on_sparse_buckets_names_bucket_numbers():
    trials, hits = BURST
    dense = bernoulli_scan(trials, hits, min_hits=5, min_rate=0.05, min_llr=12)
    idx = np.arange(40) + 1_000_000_000            # bucket numbers far from zero: only present buckets passed
    keep = np.asarray(trials) > 0
    sparse = bernoulli_scan(np.asarray(trials)[keep], np.asarray(hits)[keep], index=idx[keep],
                            min_hits=5, min_rate=0.05, min_llr=12)
    assert [(e.first - 1_000_000_000, e.last - 1_000_000_000, e.hits, e.trials) for e in sparse] == \
        [(e.first, e.last, e.hits, e.trials) for e in dense]


# ---------------------------------------------------------------- bernoulli_scan: bounded memory

def test_bernoulli_scan_on_300k_buckets_in_bounded_memory():
    rng = np.random.default_rng(5)
    size = 300_000
    n = rng.integers(1, 30, size).astype(float)
    k = rng.binomial(n.astype(int), 0.02).astype(float)       # hits almost everywhere: worst case
    k[150_000:150_040] = n[150_000:150_040]                   # and one burst of 100% failures
    eps, peak = peak_bytes(lambda: bernoulli_scan(n, k, min_hits=5, min_rate=0.05, min_llr=12))
    assert peak < LIMIT, f"peak {peak / MB:.0f} MB"
    assert eps and eps[0].first >= 149_990 and eps[0].last <= 150_050 and eps[0].rate > 0.5


def test_bernoulli_scan_over_a_million_year_span_of_sparse_buckets():
    idx = np.array([0, 10, 20, 500_000_000, 500_000_001, 500_000_002, 900_000_000], dtype=np.int64)
    n = np.full(idx.size, 20.0)
    k = np.array([0, 0, 0, 10, 12, 9, 0], dtype=float)
    eps, peak = peak_bytes(lambda: bernoulli_scan(n, k, index=idx, min_hits=5, min_rate=0.05, min_llr=12))
    assert peak < LIMIT
    assert [(e.first, e.last) for e in eps] == [(500_000_000, 500_000_002)]


# ---------------------------------------------------------------- storm scan: same verdicts, bounded memory

def storm_series(rng: np.random.Generator, size: int) -> np.ndarray:
    dense = rng.poisson(rng.uniform(0.0, 1.5), size).astype(float)
    for _ in range(int(rng.integers(0, 3))):
        a = int(rng.integers(0, size))
        b = min(size, a + int(rng.integers(1, 40)))
        dense[a:b] += rng.poisson(rng.uniform(5, 40), b - a)
    dense[rng.random(size) < 0.6] = 0                 # many empty buckets
    return dense


@pytest.mark.parametrize("trailing", [8, 96, 672])
def test_storm_segments_match_the_dense_scan(trailing):
    rng = np.random.default_rng(trailing)
    th = Thresholds(retry_storm_rate_z=0)   # the old scan had no rate test (tests/analysis/test_retries_rate.py)
    for case in range(40):
        size = int(rng.integers(trailing // 2 + 2, trailing * 4 + 200))
        dense = storm_series(rng, size)
        win_first = int(rng.integers(0, size))
        assert (storm_segments(dense, win_first, trailing, th)
                == old_storm_segments(dense, win_first, trailing, th)), case


def test_storm_segments_of_the_existing_scenario_unchanged():
    dense = np.zeros(96 * 14)
    for i in range(96 * 10, 96 * 11, 7):
        dense[i] = 12
    dense[::200] += 1
    th = Thresholds()
    assert storm_segments(dense, 96 * 7, 96 * 7, th) == old_storm_segments(dense, 96 * 7, 96 * 7, th)


def test_storm_scan_in_bounded_memory_over_centuries_of_buckets():
    # 2000-01-01 .. 2200-01-01 in 15-minute buckets, with the previous window: ~14 million buckets.
    from flowscope.analysis.retries import sparse_storm_segments

    size = 14_000_000
    idx = np.arange(size - 6000, size, 2, dtype=np.int64)       # one retry every other bucket for 2 months
    values = np.ones(idx.size)
    values[2500:2530] += 40                                     # a storm of an hour's buckets
    segs, peak = peak_bytes(lambda: sparse_storm_segments(idx, values, size, size - 2000, 96 * 7, Thresholds()))
    assert peak < LIMIT, f"peak {peak / MB:.0f} MB"
    assert len(segs) == 1 and idx[2500] - 2 <= segs[0][0] <= idx[2500] and idx[2529] <= segs[0][1] <= idx[2529] + 2


def test_dense_storm_wrapper_in_bounded_memory_on_two_million_buckets():
    dense = np.zeros(2_000_000)
    dense[-2000::3] = 1
    dense[-1000:-980] = 50
    segs, peak = peak_bytes(lambda: storm_segments(dense, 1_990_000, 96 * 7, Thresholds()))
    assert peak < LIMIT, f"peak {peak / MB:.0f} MB"
    assert len(segs) == 1 and 1_999_000 - 2 <= segs[0][0] <= 1_999_000


# ---------------------------------------------------------------- the analyses over enormous windows

def episode_world() -> World:
    """Two days of runs: a failure burst (below the standing rate overall), a retry storm, a slowdown."""
    w = World()
    wf = w.workflow("orders")
    for i in range(48 * 6):                            # every 10 minutes
        t = at(minutes=10 * i)
        burst = dt.timedelta(days=1, hours=2) <= t - T0 < dt.timedelta(days=1, hours=4)
        slow = dt.timedelta(days=1, hours=6) <= t - T0 < dt.timedelta(days=1, hours=12)
        ex = w.execution(wf, t, status=Status.FAILED if burst and i % 2 == 0 else Status.SUCCEEDED)
        w.step(ex, "Charge", t, status=Status.FAILED if burst and i % 2 == 0 else Status.SUCCEEDED,
               error="PaymentDeclined" if burst and i % 2 == 0 else None, meter=Meter.AWS_SFN_STATE_TRANSITION)
        w.step(ex, "Ship", t, duration_ms=9000 if slow else 800 + (i % 7) * 30)
        storm = dt.timedelta(days=1, hours=14) <= t - T0 < dt.timedelta(days=1, hours=15)
        for k in range(20 if storm else 1):
            tries = 4 if storm else (2 if i % 6 == 0 else 1)
            st = w.step(ex, "CallApi", t + dt.timedelta(seconds=k), attempts=tries, key=f"CallApi-{k}",
                        meter=Meter.AWS_SFN_STATE_TRANSITION, quantity=tries)
            for n in range(1, tries + 1):
                w.attempt(st, n, t + dt.timedelta(seconds=k + 3 * n),
                          status=Status.FAILED if n < tries else Status.SUCCEEDED,
                          error="ThrottlingException" if n < tries else None)
    return w


def found(df: pd.DataFrame) -> list[tuple]:
    return sorted((r.kind, r.step) for r in df.itertuples())


WIDE = [
    (dt.datetime(2000, 1, 1, tzinfo=UTC), T0 + dt.timedelta(days=2)),
    (dt.datetime(2000, 1, 1, tzinfo=UTC), dt.datetime(2200, 1, 1, tzinfo=UTC)),
    (dt.datetime(1970, 1, 1, tzinfo=UTC), dt.datetime(9999, 12, 31, tzinfo=UTC)),
]


@pytest.mark.slow  # every analysis over centuries, memory traced
@pytest.mark.parametrize("since,until", WIDE, ids=["since-2000", "2000-2200", "1970-9999"])
def test_analyses_over_enormous_windows_find_what_the_narrow_window_finds(since, until):
    w = episode_world()
    tables = w.tables()
    narrow = analyze(tables, since=T0, until=T0 + dt.timedelta(days=2), now=T0 + dt.timedelta(days=2))
    assert {"failing_step", "retry_storm", "slow_step"} <= set(narrow["kind"])
    wide, peak = peak_bytes(lambda: analyze(tables, since=since, until=until, now=T0 + dt.timedelta(days=2)))
    assert peak < LIMIT, f"peak {peak / MB:.0f} MB"
    episodic = {"failing_step", "retry_storm", "slow_step", "synchronized_retries"}
    assert [f for f in found(wide) if f[0] in episodic] == [f for f in found(narrow) if f[0] in episodic]


@pytest.mark.slow  # every analysis over centuries, memory traced
def test_analyze_store_since_2000_and_until_far_future(tmp_path):
    from flowscope.analysis.run import analyze_store
    from flowscope.store import Store

    w = episode_world()
    Store(tmp_path / "s").write(w.rows)
    store = Store.open(tmp_path / "s")
    now = T0 + dt.timedelta(days=2)
    narrow = analyze_store(store, since=T0, until=now, now=now)
    for until in ("2200-01-01", dt.datetime(2200, 1, 1, tzinfo=UTC)):
        wide = analyze_store(store, since="2000-01-01", until=until, now=now)
        assert {"failing_step", "retry_storm", "slow_step"} <= set(wide["kind"]), until
        episodic = {"failing_step", "retry_storm", "slow_step", "synchronized_retries"}
        assert [f for f in found(wide) if f[0] in episodic] == [f for f in found(narrow) if f[0] in episodic], until
        assert wide["window_end"].max() <= pd.Timestamp("2200-01-01", tz="UTC")
