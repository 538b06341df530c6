"""Exact median and MAD of many windows of one series, from counts instead of sorting.

The retry-storm baseline (`retries._trailing_baseline`) takes the median and the median absolute
deviation of the 672 buckets (7 days of 15 minutes) before every 24th bucket of every step's
retry series. `np.nanmedian` over those windows was 0.8 s of a 2.8 s analysis of a 30-day,
1M-execution window: past 600 values per window it partitions each row in a Python loop.

Retry counts (and their rolling sums) are whole numbers, so every window is described by how many
times it holds each of the series' distinct values: one prefix count per distinct value at each
window edge, and a window's counts are the difference of two prefixes. The median is then the
value where the cumulative count passes the middle rank, and the MAD the distance where the values'
counts, taken by distance to the median, pass it (a sort of the few distinct values' distances; with
many, a binary search over the half-unit grid every distance of whole numbers lies on). Both equal
`np.nanmedian`'s to the bit: the same two middle values, averaged the same way. Series with other
values, or too many distinct values for the counts to stay small, take `np.nanmedian`.
"""

from __future__ import annotations

import warnings

import numpy as np

COUNT_CELLS = 4_000_000
"""Most prefix counts (window edges x distinct values) built at once; past it, `np.nanmedian`."""

EXACT_LIMIT = 2.0 ** 40
"""Whole numbers below this are exact in float64 whatever is added or halved."""


def windows_median_mad(padded: np.ndarray, starts: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Median and MAD (`np.nanmedian` of the values, then of their distances to the median) of each
    window `padded[s:s + width]` for s in `starts`; NaN entries are left out, as nanmedian does."""
    padded = np.asarray(padded, dtype=float)
    starts = np.asarray(starts, dtype=np.int64)
    if starts.size == 0:
        return np.empty(0), np.empty(0)
    valid = ~np.isnan(padded)
    values = padded[valid]
    if values.size and _countable(values):
        distinct, codes = np.unique(values, return_inverse=True)
        if (2 * starts.size + 1) * distinct.size <= COUNT_CELLS:
            return _by_counts(np.nonzero(valid)[0], codes.ravel(), distinct, starts, width)
    return _by_sorting(padded, starts, width)


def _countable(values: np.ndarray) -> bool:
    """Whole numbers of moderate size: their medians and distances lie, exactly, on a half-unit grid."""
    return bool(np.all(np.abs(values) < EXACT_LIMIT) and np.all(values == np.round(values)))


def _by_sorting(padded: np.ndarray, starts: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    view = np.lib.stride_tricks.sliding_window_view(padded, width)[starts]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # an all-NaN window's median is NaN
        med = np.nanmedian(view, axis=1)
        mad = np.nanmedian(np.abs(view - med[:, None]), axis=1)
    return med, mad


def _by_counts(positions: np.ndarray, codes: np.ndarray, distinct: np.ndarray, starts: np.ndarray,
               width: int) -> tuple[np.ndarray, np.ndarray]:
    """Median and MAD from per-window counts of each distinct value (`codes[i]` is the value at
    `positions[i]` as an index into the sorted `distinct`)."""
    k = distinct.size
    edges = np.unique(np.concatenate([starts, starts + width]))
    # Prefix counts at each edge: a value at position p counts in the prefixes of the edges after p.
    segment = np.searchsorted(edges, positions, side="right")
    held = np.bincount(segment * k + codes, minlength=(edges.size + 1) * k).reshape(edges.size + 1, k)
    prefix = np.cumsum(held, axis=0)[:edges.size]
    counts = prefix[np.searchsorted(edges, starts + width)] - prefix[np.searchsorted(edges, starts)]
    # upto[:, j + 1]: values <= distinct[j], per window (column 0: none)
    upto = np.concatenate([np.zeros((starts.size, 1), dtype=counts.dtype), np.cumsum(counts, axis=1)], axis=1)
    n = upto[:, -1]
    lo, hi = (n - 1) // 2, n // 2                        # the middle ranks, as np.median takes them
    med = (distinct[_first_above(upto, lo)] + distinct[_first_above(upto, hi)]) / 2
    mad = (_kth_distance(upto, distinct, med, lo) + _kth_distance(upto, distinct, med, hi)) / 2
    empty = n == 0
    if empty.any():
        med[empty] = np.nan
        mad[empty] = np.nan
    return med, mad


def _first_above(upto: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Per row, the index into `distinct` of the value of that rank (the first whose cumulative count
    exceeds it)."""
    return np.argmax(upto[:, 1:] > rank[:, None], axis=1)


SORTED_DISTANCES_MAX = 48
"""Distinct values past which `_kth_distance` searches the half-unit grid instead of sorting every row's
distances (k log k a row against ~20 searches of log k): the sort was quicker up to 48 distinct values in
672-bucket windows (0.45-0.60 against 0.54-0.69 ms a call), slower from 64 (0.95-1.00 against 0.82-0.88)."""


def _kth_distance(upto: np.ndarray, distinct: np.ndarray, center: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Per row, the `rank`-th smallest |value - center| (0-based). Every distance of a whole number to a
    median of whole numbers lies on the half-unit grid, so it is exact either way: with few distinct values,
    each one's distance in increasing order with its count in the window, the first whose running count
    passes `rank` (one sort per row: the binary search's ~20 steps cost 0.03 s of CPU of the storms' 0.09 s
    on the 1M dashboard store's 7 days); with many, the smallest half-unit distance with more than `rank`
    values within it."""
    if distinct.size <= SORTED_DISTANCES_MAX:
        rows = np.arange(upto.shape[0])[:, None]
        dist = np.abs(distinct[None, :] - center[:, None])
        order = np.argsort(dist, axis=1)
        counts = np.diff(upto, axis=1)[rows, order]
        pick = np.argmax(np.cumsum(counts, axis=1) > rank[:, None], axis=1)
        return dist[rows[:, 0], order[rows[:, 0], pick]]
    lo = np.zeros(upto.shape[0], dtype=np.int64)                          # in half units
    hi = np.full(upto.shape[0], int(2 * (distinct[-1] - distinct[0])) + 2, dtype=np.int64)
    while True:
        open_ = lo < hi
        if not open_.any():
            break
        mid = (lo + hi) // 2
        enough = _within(upto, distinct, center, mid / 2.0) > rank
        hi = np.where(open_ & enough, mid, hi)
        lo = np.where(open_ & ~enough, mid + 1, lo)
    return lo / 2.0


def _within(upto: np.ndarray, distinct: np.ndarray, center: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Per row, how many values lie in [center - radius, center + radius]."""
    rows = np.arange(upto.shape[0])
    at_most = upto[rows, np.searchsorted(distinct, center + radius, side="right")]
    below = upto[rows, np.searchsorted(distinct, center - radius, side="left")]
    return at_most - below
