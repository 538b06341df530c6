"""The scans as they were before issue 9 (quadratic or window-sized memory), kept verbatim to check
that the bounded-memory versions give the same verdicts on small inputs. Tests only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from flowscope.analysis.base import Episode, _xlogy
from flowscope.analysis.retries import STORM_SCALES


def old_bernoulli_scan(trials: Sequence[float], hits: Sequence[float], *, min_hits: float, min_rate: float,
                   min_llr: float, max_episodes: int = 3) -> list[Episode]:
    """Episodes of a binomial series by the Kulldorff scan statistic.

    For every interval of consecutive buckets, the log-likelihood ratio of "one rate inside, another
    outside" against "one rate everywhere" (only intervals whose rate is higher inside count). The
    best interval is an episode when it has at least `min_hits` hits, a rate of at least
    `min_rate` and a ratio of at least `min_llr`; its buckets are then set aside and the scan repeats.
    O(buckets^2) per series, done with numpy on a few hundred buckets.
    """
    import numpy as np

    n = np.asarray(trials, dtype=float).copy()
    k = np.asarray(hits, dtype=float).copy()
    found: list[Episode] = []
    size = n.size
    if size == 0:
        return found
    for _ in range(max_episodes):
        N, K = n.sum(), k.sum()
        if K < min_hits or N <= 0:
            break
        cn = np.concatenate([[0.0], np.cumsum(n)])
        ck = np.concatenate([[0.0], np.cumsum(k)])
        n1 = cn[None, 1:] - cn[:-1, None]            # [a, b] for a <= b (upper triangle)
        k1 = ck[None, 1:] - ck[:-1, None]
        n0, k0 = N - n1, K - k1
        with np.errstate(divide="ignore", invalid="ignore"):
            p1 = np.where(n1 > 0, k1 / n1, 0.0)
            p0 = np.where(n0 > 0, k0 / n0, 0.0)
        p = K / N
        llr = (_xlogy(k1, p1) + _xlogy(n1 - k1, 1 - p1) + _xlogy(k0, p0) + _xlogy(n0 - k0, 1 - p0)
               - (_xlogy(K, p) + _xlogy(N - K, 1 - p)))
        ok = (np.triu(np.ones((size, size), dtype=bool)) & (p1 > p0) & (k1 >= min_hits) & (p1 >= min_rate))
        llr = np.where(ok, llr, -np.inf)
        best = int(np.argmax(llr))
        a, b = divmod(best, size)
        if not np.isfinite(llr[a, b]) or llr[a, b] < min_llr:
            break
        # Trim empty buckets at the edges so the episode spans its hits.
        nz = np.nonzero(k[a:b + 1])[0]
        a, b = a + int(nz[0]), a + int(nz[-1])
        found.append(Episode(a, b, float(k[a:b + 1].sum()), float(n[a:b + 1].sum()),
                             float(K - k[a:b + 1].sum()), float(N - n[a:b + 1].sum()), float(llr.flat[best])))
        n[a:b + 1] = 0.0
        k[a:b + 1] = 0.0
    return found


def _trailing_baseline(series: np.ndarray, trailing: int) -> tuple[np.ndarray, np.ndarray]:
    """Median and MAD of the `trailing` buckets before each bucket (empty buckets count as zero).

    Computed every `stride` buckets and held in between (the baseline moves slowly), vectorized;
    where less than a quarter of the trailing span exists, the whole series stands in.
    """
    size = series.size
    g_med = float(np.median(series))
    g_mad = float(np.median(np.abs(series - g_med)))
    med = np.full(size, g_med)
    mad = np.full(size, g_mad)
    if not series.any():
        return med, mad
    stride = max(1, trailing // 28)
    points = np.arange(0, size, stride)
    points = points[points >= max(4, trailing // 4)]
    if points.size:
        padded = np.concatenate([np.full(trailing, np.nan), series])
        # window ending just before bucket i: padded[i : i + trailing]
        windows = np.lib.stride_tricks.sliding_window_view(padded, trailing)[points]
        m = np.nanmedian(windows, axis=1)
        d = np.nanmedian(np.abs(windows - m[:, None]), axis=1)
        for p, mv, dv in zip(points, m, d, strict=True):
            med[p:p + stride] = mv
            mad[p:p + stride] = dv
    return med, mad


def old_storm_segments(dense: np.ndarray, win_first: int, trailing: int, th) -> list[tuple[int, int, float, float]]:
    """(first bucket, last bucket, baseline median, baseline MAD) of each storm in a dense series.

    1. Cores: at each scale (a rolling sum of 1, 4 or 16 buckets), a window whose retries reach
       the minimum and exceed median + z * max(1.4826 * MAD, 1) of the trailing windows.
    2. Extent: a CUSUM of the excess over the baseline (median + one robust sigma, at least one
       retry per bucket) at the finest scale: a storm runs from where the sum leaves zero to where
       it peaks, so bursts separated by quiet buckets stay one storm while the retries keep coming
       faster than the baseline, and it ends with the last burst.
    3. A segment is a storm when it holds a core inside the analysis window; segments closer than
       the merge gap join.
    """
    size = dense.size
    core = np.zeros(size, dtype=bool)
    z, floor = th.retry_storm_z, th.retry_storm_min_retries
    med1, mad1 = _trailing_baseline(dense, trailing)
    ref = med1 + np.maximum(1.4826 * mad1, 1.0)
    elevated = dense > ref
    for m in STORM_SCALES:
        if m > 1 and m * 4 > size:
            continue
        c = np.convolve(dense, np.ones(m), mode="full")[:size] if m > 1 else dense
        med, mad = (med1, mad1) if m == 1 else _trailing_baseline(c, trailing)
        limit = med + z * np.maximum(1.4826 * mad, 1.0)
        for i in np.nonzero((c >= floor) & (c > limit))[0]:
            if i < win_first:
                continue
            lo = max(0, i - m + 1)
            core[lo:i + 1] |= elevated[lo:i + 1]     # the buckets of the window that are above baseline
    if not core.any():
        return []
    segments: list[list[int]] = []
    s, seg_start, best, best_i = 0.0, None, 0.0, -1
    for i in range(size):
        s = max(0.0, s + dense[i] - ref[i])
        if s > 0 and seg_start is None:
            seg_start, best, best_i = i, s, i
        if seg_start is not None and s > best:
            best, best_i = s, i
        if seg_start is not None and (s == 0 or i == size - 1):
            cores = np.nonzero(core[seg_start:i + 1])[0]
            end = max(best_i, seg_start + int(cores[-1])) if cores.size else best_i
            segments.append([seg_start, end])
            seg_start = None
    storms = [seg for seg in segments if core[seg[0]:seg[1] + 1].any() and seg[1] >= win_first]
    merged: list[list[int]] = []
    for seg in storms:
        if merged and seg[0] - merged[-1][1] <= th.retry_storm_merge_gap_buckets + 1:
            merged[-1][1] = seg[1]
        else:
            merged.append(list(seg))
    return [(max(a, win_first), b, float(med1[a]), float(mad1[a])) for a, b in merged]




def old_stormy_series(df, keys: list[str], first: int, size: int, win_first: int, min_retries: float):
    """The storm scan's series as `retries.storms` took them before session 52 (a pandas group-by over the
    keys), kept verbatim to pin `retries.stormy_series` to it. Tests only."""
    from flowscope.analysis.retries import _max_rolling_sums

    widest = STORM_SCALES[-1]
    code = df.groupby(keys, sort=True).ngroup().to_numpy(dtype=np.int64)
    rel = df["bucket"].to_numpy(dtype=np.int64) - first
    ok = (code >= 0) & (rel >= 0) & (rel < size)
    peaks = _max_rolling_sums(code[ok], rel[ok], df["retries"].to_numpy(dtype=float)[ok], widest,
                              win_first - widest, int(code.max()) + 1)
    stormy = code >= 0
    stormy[stormy] = peaks[code[stormy]] >= min_retries
    for key, g in df[stormy].groupby(keys):
        idx = g["bucket"].to_numpy(dtype=np.int64) - first
        counts_ = g["retries"].to_numpy(dtype=float)
        in_win = g["in_win"].to_numpy(dtype=float)
        ok = (idx >= 0) & (idx < size)
        idx, counts_, in_win = idx[ok], counts_[ok], in_win[ok]
        order = np.argsort(idx, kind="stable")
        yield tuple(key), idx[order], counts_[order], in_win[order]
