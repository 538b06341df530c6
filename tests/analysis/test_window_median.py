"""The counted median and MAD of many windows equal np.nanmedian's to the bit, on every path."""

from __future__ import annotations

import numpy as np
import pytest

from flowscope.analysis import retries, window_median
from flowscope.analysis.window_median import windows_median_mad


def nanmedian_windows(padded: np.ndarray, starts: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The definition: np.nanmedian of each window, then of its distances to that median."""
    med, mad = [], []
    for s in starts:
        w = padded[s:s + width]
        w = w[~np.isnan(w)]
        m = np.median(w) if w.size else np.nan
        med.append(m)
        mad.append(np.median(np.abs(w - m)) if w.size else np.nan)
    return np.array(med, dtype=float), np.array(mad, dtype=float)


def _series(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    if kind == "sparse":            # a quiet step: mostly empty buckets
        return rng.poisson(0.05, n).astype(float)
    if kind == "busy":              # retries in nearly every bucket
        return rng.poisson(6.0, n).astype(float)
    if kind == "bursty":            # quiet, then a storm
        s = rng.poisson(0.3, n).astype(float)
        burst = min(40, n - n // 2)
        s[n // 2: n // 2 + burst] += rng.poisson(40.0, burst)
        return s
    if kind == "rolling":           # a rolling sum of 16 buckets (the widest storm scale)
        return np.convolve(rng.poisson(3.0, n).astype(float), np.ones(16), mode="full")[:n]
    if kind == "halves":            # half units: medians in quarters, np.nanmedian's path
        return rng.integers(0, 9, n) / 2.0
    if kind == "fractions":         # not on the half-unit grid: np.nanmedian's path
        return np.round(rng.gamma(2.0, 1.3, n), 3)
    if kind == "negative":
        return rng.integers(-5, 6, n).astype(float)
    raise AssertionError(kind)


KINDS = ["sparse", "busy", "bursty", "rolling", "halves", "fractions", "negative"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("width", [5, 96, 672])
def test_windows_equal_nanmedian_to_the_bit(kind, seed, width):
    rng = np.random.default_rng(seed * 101 + width)
    n = 3 * width + 57
    series = _series(rng, kind, n)
    lead = rng.integers(0, width)                      # NaN before the series began, as the baseline pads
    padded = np.concatenate([np.full(lead, np.nan), series])
    starts = np.arange(0, padded.size - width + 1, max(1, width // 28))
    got = windows_median_mad(padded, starts, width)
    want = nanmedian_windows(padded, starts, width)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        assert np.array_equal(g, w, equal_nan=True)


def test_even_windows_average_the_two_middle_values_and_odd_take_the_middle_one():
    padded = np.array([0, 0, 1, 5, 5, 9, 2], dtype=float)
    med, mad = windows_median_mad(padded, np.array([0, 1, 2]), 4)
    # [0,0,1,5] -> 0.5, distances [.5,.5,.5,4.5] -> .5; [0,1,5,5] -> 3, [3,2,2,2] -> 2; [1,5,5,9] -> 5, [4,0,0,4] -> 2
    assert med.tolist() == [0.5, 3.0, 5.0]
    assert mad.tolist() == [0.5, 2.0, 2.0]
    med, mad = windows_median_mad(padded, np.array([0]), 5)
    assert (med.tolist(), mad.tolist()) == ([1.0], [1.0])


def test_windows_of_nothing_but_missing_values_are_nan_on_both_paths(monkeypatch):
    padded = np.array([np.nan, np.nan, np.nan, 2.0, 3.0])
    for cells in (window_median.COUNT_CELLS, 0):      # 0: too many cells, np.nanmedian's path
        monkeypatch.setattr(window_median, "COUNT_CELLS", cells)
        med, mad = windows_median_mad(padded, np.array([0, 1, 2]), 2)
        assert np.isnan(med[:2]).all() and np.isnan(mad[:2]).all()
        assert (med[2], mad[2]) == (2.0, 0.0)


def test_counting_is_taken_for_whole_counts_and_sorting_otherwise(monkeypatch):
    """The paths are chosen as documented (so the equality tests above cover both)."""
    taken: list[str] = []
    by_counts, by_sorting = window_median._by_counts, window_median._by_sorting
    monkeypatch.setattr(window_median, "_by_counts", lambda *a: taken.append("counts") or by_counts(*a))
    monkeypatch.setattr(window_median, "_by_sorting", lambda *a: taken.append("sorting") or by_sorting(*a))
    starts = np.array([0, 1])
    windows_median_mad(np.array([1.0, 2.0, 3.0, 4.0]), starts, 3)
    windows_median_mad(np.array([np.nan, -2.0, 3.0, 4.0]), starts, 3)
    windows_median_mad(np.array([1.0, 2.5, 3.0, 4.0]), starts, 3)
    windows_median_mad(np.array([1.0, 2.0, 3.0, 2.0 ** 41]), starts, 3)
    assert taken == ["counts", "counts", "sorting", "sorting"]


def _baseline_by_nanmedian(series: np.ndarray, trailing: int, offset: int,
                           whole: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """`retries._trailing_baseline` as it was: np.nanmedian of each point's window, held for a stride."""
    size = series.size
    med, mad = np.full(size, whole[0]), np.full(size, whole[1])
    if not series.any():
        return med, mad
    stride = max(1, trailing // 28)
    points = np.arange(0, size, stride)
    points = points[points + offset >= max(4, trailing // 4)]
    before = np.arange(offset - trailing, offset)
    padded = np.concatenate([np.where(before < 0, np.nan, 0.0), series])
    for p in points:
        w = padded[p:p + trailing]
        m = np.nanmedian(w)
        med[p:p + stride] = m
        mad[p:p + stride] = np.nanmedian(np.abs(w - m))
    return med, mad


@pytest.mark.parametrize("kind", ["sparse", "busy", "bursty", "rolling"])
@pytest.mark.parametrize("offset", [0, 48, 2_000])
def test_the_storm_baseline_is_what_nanmedian_gave(kind, offset, monkeypatch):
    monkeypatch.setattr(retries, "BASELINE_BLOCK", 7)     # several blocks, and a last partial one
    rng = np.random.default_rng(len(kind) + offset)
    series = _series(rng, kind, 1_500)
    whole = (0.25, 1.5)
    got = retries._trailing_baseline(series, 672, offset=offset, whole=whole)
    want = _baseline_by_nanmedian(series, 672, offset, whole)
    assert np.array_equal(got[0], want[0], equal_nan=True)
    assert np.array_equal(got[1], want[1], equal_nan=True)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sorted_max", [0, 10 ** 6])
def test_the_kth_distance_by_sorting_and_by_search_equal_nanmedian_to_the_bit(kind, sorted_max, monkeypatch):
    # 0: every MAD by the half-unit search; 10**6: every one by sorting each window's distances
    monkeypatch.setattr(window_median, "SORTED_DISTANCES_MAX", sorted_max)
    rng = np.random.default_rng(7)
    width = 96
    padded = np.concatenate([np.full(int(rng.integers(0, width)), np.nan), _series(rng, kind, 3 * width + 57)])
    starts = np.arange(0, padded.size - width + 1, 3)
    got = windows_median_mad(padded, starts, width)
    want = nanmedian_windows(padded, starts, width)
    for g, w in zip(got, want, strict=True):
        assert np.array_equal(g, w, equal_nan=True)
