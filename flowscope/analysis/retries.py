"""Retry storms and synchronized retries.

- `retry_storm`: retries per (workflow, step, error) per time bucket against a robust trailing
  baseline (median and MAD of the bucket counts over the trailing days, empty buckets counted as
  zero) and beyond chance at the step's own retry rate (a Poisson test, so that a busy step's
  ordinary retries never storm by volume alone); storms are merged runs of anomalous buckets, with
  peak rate, duration, amplification (attempts per visit), executions affected and the billable
  retries' cost.
- `synchronized_retries`: the delay between a failed attempt's end and the next attempt's start,
  for the same step and attempt number across executions, has almost no spread (coefficient
  of variation under a threshold over enough samples): retries without jitter.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any, NamedTuple

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from flowscope.analysis import measures, step_rank
from flowscope.analysis.base import (
    FAILED_VALUES,
    Context,
    Finding,
    FindingKind,
    Severity,
    bucket_expr,
    bucket_index,
    bucket_span,
    execute,
    is_throttling,
    lit_ts,
    picked_by,
    sample_rank,
    sample_rows,
)
from flowscope.analysis.cost import add_retry_share, billable_retries, step_costs, step_stats
from flowscope.analysis.window_median import windows_median_mad
from flowscope.format import fmt_duration
from flowscope.model import UTC, C, Cloud, Kind

NO_ERROR = "(no error)"


def run(ctx: Context) -> list[Finding]:
    found = storms(ctx)
    out = found + synchronized(ctx, found)
    add_retry_share(ctx, out)
    return out


def _failed_attempts_with_names(ctx: Context, start: dt.datetime) -> ir.Table:
    """Failed attempts since `start` that were retried, with their step's name."""
    a = ctx.between(ctx.table("attempts"), start, ctx.until)
    a = a.filter(a[C.status].isin(FAILED_VALUES))
    s = ctx.table("steps")
    s = s.filter(s[C.attempts] > 1)
    # The start date is the execution's, on each of its rows (docs/model.md): as a key it changes no match,
    # and the engine's join filter on it skips the steps files of dates no failed attempt comes from (the
    # 7-day window of the 1M dashboard store reads half its steps rows: 0.33 to 0.28 s CPU). Only when the
    # store has runs from before the attempts read: where it has none, no file can be skipped and the key
    # costs (the 1M bench store's whole span: 0.77 to 0.80 s).
    first = ctx.data_since
    dated = first is not None and first.date() < start.date()
    s = s.select(s_cloud=C.cloud, s_exec=C.execution_id, s_key=C.step_key, s_name=C.name, s_attempts=C.attempts,
                 **({"s_date": s[C.start_date]} if dated else {}))
    on = (a[C.cloud] == s.s_cloud) & (a[C.execution_id] == s.s_exec) & (a[C.step_key] == s.s_key)
    j = a.inner_join(s, on & (a[C.start_date] == s.s_date) if dated else on)
    return j.filter(j[C.attempt] < j.s_attempts)


def storms(ctx: Context) -> list[Finding]:
    th = ctx.thresholds
    width = int(th.retry_bucket_minutes) * 60
    start = min(ctx.since, ctx.prev_since, ctx.since - dt.timedelta(days=th.retry_baseline_days))
    j = _failed_attempts_with_names(ctx, start)
    j = j.mutate(error=ibis.coalesce(j[C.error], ibis.literal(NO_ERROR)),
                 bucket=bucket_expr(j, C.started_at, width))
    keys = [C.cloud, C.workflow_id, "s_name", "error"]
    counts = j.group_by([*keys, "bucket"]).aggregate(
        retries=j.count(), in_win=(j[C.started_at] >= lit_ts(ctx.since)).cast("int64").sum())
    # Only series with enough retries in the window to storm at any scale: keep the transfer small.
    totals = counts.group_by(keys).aggregate(total=counts.in_win.sum())
    totals = totals.filter(totals.total >= th.retry_storm_min_retries)
    counts = counts.semi_join(totals, [counts[k] == totals[k] for k in keys])
    df = execute(counts)
    if df.empty:
        return []
    df["bucket"] = bucket_index(df["bucket"], width)
    first, last = bucket_span(start, ctx.until, width)
    win_first = bucket_span(ctx.since, ctx.until, width)[0]
    trailing = max(int(th.retry_baseline_days * 86400 // width), 4)
    found: list[dict] = []
    size = last - first + 1
    for key, idx, counts_, in_win in stormy_series(df, keys, first, size, win_first - first,
                                                   th.retry_storm_min_retries):
        for i0, i1, med, mad in sparse_storm_segments(idx, counts_, size, win_first - first, trailing, th):
            inside = (idx >= i0) & (idx <= i1)
            # the storm's retries in the window: its first bucket may begin before the window does (its
            # peak and busy buckets too: a first bucket whose retries all came before read as the peak)
            seg = in_win[inside] if inside.any() else np.zeros(1)
            retries = float(seg.sum())
            bucket_start = dt.datetime.fromtimestamp((i0 + first) * width, UTC)
            start, end = ctx.clip(bucket_start, dt.datetime.fromtimestamp((i1 + first + 1) * width, UTC))
            found.append({
                "cloud": key[0], "workflow_id": key[1], "step": key[2], "error": key[3],
                "start": start, "end": end, "bucket_start": bucket_start,
                "retries": retries, "peak": float(seg.max()),
                "baseline_median": med, "baseline_mad": mad,
                "anomalous_buckets": int((seg > 0).sum()),
            })
    if not found:
        return []
    st = pd.DataFrame(found)
    st["sid"] = range(len(st))
    details = _storm_details(ctx, st)
    st = st.merge(details, on="sid", how="left")
    unit = _unit_cost_per_attempt(ctx)
    out = []
    for r in st.itertuples(index=False):
        per_attempt = unit.get((r.cloud, r.workflow_id, r.step), 0.0)
        cost = r.retries * per_attempt
        visits = 0 if pd.isna(r.visits) else int(r.visits)
        attempts = 0 if pd.isna(r.attempts) else int(r.attempts)
        amp = measures.amplification(attempts, visits)     # tries per first try, as every surface reads it
        minutes = (r.end - r.start).total_seconds() / 60
        throttled = is_throttling(r.error)
        wf_name = ctx.workflow_name(r.cloud, r.workflow_id)
        sev = Severity.HIGH if throttled or (amp or 0) >= 2 or r.retries >= 1000 else Severity.MEDIUM
        title = (f"Retry storm on {r.step} in {wf_name}: {int(r.retries):,} retries of {r.error} in "
                 f"{fmt_duration(minutes * 60_000)} (peak {int(r.peak)} per {th.retry_bucket_minutes} min, "
                 f"baseline {r.baseline_median:g})")
        out.append(Finding(
            kind=FindingKind.RETRY_STORM, severity=sev, cloud=r.cloud, workflow=wf_name,
            workflow_id=r.workflow_id, step=r.step, window_start=r.start, window_end=r.end,
            title=title + (" - throttling" if throttled else ""),
            evidence={"error": r.error, "retries": r.retries, "peak_retries_per_bucket": r.peak,
                      "peak_retries_per_minute": r.peak / th.retry_bucket_minutes,
                      "bucket_minutes": th.retry_bucket_minutes, "duration_minutes": minutes,
                      "baseline_median": r.baseline_median, "baseline_mad": r.baseline_mad,
                      "buckets_with_retries": r.anomalous_buckets,
                      "visits": visits, "attempts": attempts, "amplification": amp,
                      "throttling": throttled,
                      "billable_retries": billable_retries(ctx, r.cloud, r.workflow_id, r.step, r.retries),
                      "retry_usd": cost,
                      "per_attempt_usd": per_attempt},
            recommendation=_retry_recommendation(r.cloud, throttled, ctx.workflow_kind(r.cloud, r.workflow_id)),
            # an episode's dollars are what it cost, once (`checks.Check.episodic`): projected to a month, an
            # hour's storm in a 2-day window read 15 times its cost, as if it came back every two days
            monthly_usd=cost,
            executions_affected=0 if pd.isna(r.executions) else int(r.executions),
            sample_execution_ids=list(r.samples) if isinstance(r.samples, list) else [],
            id_bucket=r.bucket_start, id_detail=r.error,
        ))
    return out


def stormy_series(df: pd.DataFrame, keys: list[str], first: int, size: int, win_first: int,
                  min_retries: float) -> Iterator[tuple[tuple, np.ndarray, np.ndarray, np.ndarray]]:
    """(key, buckets, retries, retries in the window) of each series of `df` (rows: `keys`, `bucket`, `retries`,
    `in_win`) that may storm, in the order of the keys: its buckets from `first`, sorted, the `size` of the span
    only, as numbers from 0 (`win_first` where the window starts). The series as its non-empty buckets only: a
    window of centuries costs what its data costs.

    Series that never have `min_retries` close enough to storm (the widest scale) are dropped for all series
    at once (numpy over every bucket); the rest are cut from the arrays by their numbers (a pandas group-by over
    the frame's string keys took each series' rows: 0.02 s of CPU for the 1M dashboard store's 7 days, more
    than their scan)."""
    widest = STORM_SCALES[-1]
    code = df.groupby(keys, sort=True).ngroup().fillna(-1).to_numpy(dtype=np.int64)   # -1: a null key (no series)
    rel = df["bucket"].to_numpy(dtype=np.int64) - first
    ok = (code >= 0) & (rel >= 0) & (rel < size)
    retries, in_win = df["retries"].to_numpy(dtype=float), df["in_win"].to_numpy(dtype=float)
    peaks = _max_rolling_sums(code[ok], rel[ok], retries[ok], widest, win_first - widest, int(code.max()) + 1)
    stormy = ok.copy()
    stormy[ok] = peaks[code[ok]] >= min_retries
    rows = np.flatnonzero(stormy)
    rows = rows[np.lexsort((rel[rows], code[rows]))]                       # by series, then bucket
    if not rows.size:
        return
    cuts = np.flatnonzero(np.diff(code[rows])) + 1
    heads = df[keys].iloc[rows[np.concatenate([[0], cuts])]]               # each series' keys, in one take
    for key, series in zip(heads.itertuples(index=False, name=None), np.split(rows, cuts), strict=True):
        yield key, rel[series], retries[series], in_win[series]


STORM_SCALES = (1, 4, 16)
"""Bucket multiples a storm is looked for at (15 min, 1 h, 4 h by default): a storm in a
low-volume workflow has too few retries per 15 minutes to stand out, but not per 4 hours."""


def _max_rolling_sum(idx: np.ndarray, values: np.ndarray, width: int, start: int) -> float:
    """Largest sum of `values` over `width` consecutive buckets ending at or after bucket `start`
    (a sparse series: sorted bucket numbers and their values)."""
    if idx.size == 0:
        return 0.0
    cum = np.concatenate([[0.0], np.cumsum(values)])
    ends = idx[idx >= start - width + 1] if start > 0 else idx
    if ends.size == 0:
        return 0.0
    hi = np.searchsorted(idx, ends + width - 1, side="right")
    lo = np.searchsorted(idx, ends, side="left")
    return float((cum[hi] - cum[lo]).max())


def _max_rolling_sums(code: np.ndarray, idx: np.ndarray, values: np.ndarray, width: int, start: int,
                      n_series: int) -> np.ndarray:
    """`_max_rolling_sum` of many sparse series at once: `code` numbers the series (0..n_series-1),
    `idx` their bucket numbers (unique within a series). Returns the maximum per series (0 where none)."""
    out = np.zeros(n_series)
    if idx.size == 0:
        return out
    order = np.lexsort((idx, code))
    code, idx, values = code[order], idx[order], values[order]
    gap = int(idx.max()) + int(width) + 1            # series apart on one axis: no window spans two
    pos = code * gap + idx
    cum = np.concatenate([[0.0], np.cumsum(values)])
    lo = np.arange(idx.size)
    if start > 0:
        lo = lo[idx >= start - width + 1]
    if lo.size == 0:
        return out
    hi = np.searchsorted(pos, pos[lo] + width - 1, side="right")
    np.maximum.at(out, code[lo], cum[hi] - cum[lo])
    return out


def _kth(sorted_values: np.ndarray, const: float, count: int, q: int) -> float:
    """The q-th smallest of `sorted_values` merged with `count` copies of `const`."""
    p = int(np.searchsorted(sorted_values, const, side="left"))
    if q < p:
        return float(sorted_values[q])
    if q < p + count:
        return float(const)
    return float(sorted_values[q - count])


def _median_mad(values: np.ndarray, size: int) -> tuple[float, float]:
    """np.median and the MAD of a series of `size` buckets given by its non-empty values (the rest 0)."""
    zeros = size - values.size
    total = size
    if total <= 0:
        return float("nan"), float("nan")
    v = np.sort(values)
    mid = ((total - 1) // 2, total // 2)
    med = (_kth(v, 0.0, zeros, mid[0]) + _kth(v, 0.0, zeros, mid[1])) / 2
    d = np.sort(np.abs(values - med))
    mad = (_kth(d, abs(med), zeros, mid[0]) + _kth(d, abs(med), zeros, mid[1])) / 2
    return med, mad


def _rolling_sums(idx: np.ndarray, values: np.ndarray, m: int, size: int) -> np.ndarray:
    """Non-empty values of the rolling sum over m buckets (ending at each bucket) of a sparse series
    (`idx` sorted and distinct)."""
    pos = _covered(idx, m)
    pos = pos[pos < size]
    cum = np.concatenate([[0.0], np.cumsum(values)])
    sums = cum[np.searchsorted(idx, pos, side="right")] - cum[np.searchsorted(idx, pos - m, side="right")]
    return sums[sums != 0]


def _covered(idx: np.ndarray, m: int) -> np.ndarray:
    """The sorted, distinct buckets of [i, i + m) for each i in `idx` (sorted, distinct): the union as
    runs of consecutive buckets, without sorting idx x m positions (np.unique of them was a fifth of
    the storm scan on the 1M dashboard store's 30 days)."""
    if idx.size == 0 or m <= 0:
        return np.empty(0, dtype=np.int64)
    ends = idx + m
    first = np.flatnonzero(np.concatenate([[True], idx[1:] >= ends[:-1]]))   # where a run starts
    starts = idx[first]
    lengths = ends[np.concatenate([first[1:] - 1, [idx.size - 1]])] - starts
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(int(lengths.sum()), dtype=np.int64) - offsets + np.repeat(starts, lengths)


def _trailing_baseline(series: np.ndarray, trailing: int, *, offset: int = 0,
                       whole: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Median and MAD of the `trailing` buckets before each bucket (empty buckets count as zero).

    Computed every `stride` buckets and held in between (the baseline moves slowly), vectorized
    a block of points at a time; where less than a quarter of the trailing span exists, the whole
    series stands in. `series` may be a span of a longer series starting at bucket `offset` (a
    multiple of the stride, with only empty buckets in the `trailing` before it); `whole` is then
    the whole series' (median, MAD).
    """
    size = series.size
    g_med, g_mad = whole if whole is not None else _median_mad(series[series != 0], size)
    med = np.full(size, g_med)
    mad = np.full(size, g_mad)
    if not series.any():
        return med, mad
    stride = max(1, trailing // 28)
    points = np.arange(0, size, stride)
    points = points[points + offset >= max(4, trailing // 4)]
    if points.size:
        before = np.arange(offset - trailing, offset)
        padded = np.concatenate([np.where(before < 0, np.nan, 0.0), series])
        # window ending just before bucket i: padded[i : i + trailing]
        for b0 in range(0, points.size, BASELINE_BLOCK):
            block = points[b0:b0 + BASELINE_BLOCK]
            m, d = windows_median_mad(padded, block, trailing)
            held = np.arange(block[0], min(size, block[-1] + stride))
            which = np.searchsorted(block, held, side="right") - 1   # the point each bucket holds from
            med[held] = m[which]
            mad[held] = d[which]
    return med, mad


BASELINE_BLOCK = 1024
"""Trailing windows whose median and MAD are computed at once by `_trailing_baseline`."""


def storm_segments(dense: np.ndarray, win_first: int, trailing: int, th) -> list[tuple[int, int, float, float]]:
    """`sparse_storm_segments` of a dense series (every bucket given)."""
    dense = np.asarray(dense, dtype=float)
    idx = np.nonzero(dense)[0]
    return sparse_storm_segments(idx, dense[idx], dense.size, win_first, trailing, th)


def sparse_storm_segments(idx: np.ndarray, values: np.ndarray, size: int, win_first: int, trailing: int,
                          th) -> list[tuple[int, int, float, float]]:
    """(first bucket, last bucket, baseline median, baseline MAD) of each storm in a series of `size`
    buckets given by its non-empty buckets (`idx` sorted bucket numbers, `values` their retries).

    1. Cores: at each scale (a rolling sum of 1, 4 or 16 buckets), a window whose retries reach
       the minimum, exceed median + z * max(1.4826 * MAD, 1) of the trailing windows, and are
       beyond chance at the series' own rate (`_beyond_rate`).
    2. Extent: a CUSUM of the excess over the baseline (median + one robust sigma, at least one
       retry per bucket, and no less than the step's usual level, `_usual_retries`) at the finest
       scale: a storm runs from where the sum leaves zero to where it peaks, so bursts separated by
       quiet buckets stay one storm while the retries keep coming faster than the baseline, and it
       ends with the last burst.
    3. A segment is a storm when it holds a core inside the analysis window; segments closer than
       the merge gap join; a storm's own retries must be beyond chance too (`_storms_beyond_rate`).

    Memory and time follow the data, not the window: dense arrays are built only over active spans
    (buckets with retries, split where so many buckets are empty that the trailing baseline, the
    rolling sums and the CUSUM all return to rest in between; a span whose CUSUM could still be
    running when the next begins is joined to it), so the result is the one the dense scan over
    the whole series gives.
    """
    idx = np.asarray(idx, dtype=np.int64)
    values = np.asarray(values, dtype=float)
    keep = values != 0
    idx, values = idx[keep], values[keep]
    if idx.size == 0 or size <= 0:
        return []
    stride = max(1, trailing // 28)
    widest = max(STORM_SCALES)
    pre = stride + widest
    post = widest
    rest = trailing + pre + post + stride + widest       # empty buckets after which everything is at rest
    usual = _usual_retries(idx, values, size, trailing)
    if not _may_storm(idx, values, size, win_first, usual, th):
        return []
    whole = {1: _median_mad(values, size)}
    for m in STORM_SCALES:
        if m > 1 and m * 4 <= size:
            whole[m] = _median_mad(_rolling_sums(idx, values, m, size), size)
    breaks = list(np.nonzero(np.diff(idx) > rest)[0] + 1)
    parts = np.split(np.arange(idx.size), breaks)
    storms: list[list[Any]] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        while True:
            lo = max(0, int(idx[part[0]]) - pre)
            lo -= lo % stride
            hi = min(size, int(idx[part[-1]]) + post + 1)
            dense = np.zeros(hi - lo)
            dense[idx[part] - lo] = values[part]
            segs, cusum = _span_segments(dense, lo, size, win_first, trailing, th, whole, usual)
            # The CUSUM falls by at least one per empty bucket: join the next span if it may not be at rest.
            if i + 1 < len(parts) and cusum > (int(idx[parts[i + 1][0]]) - pre - hi):
                i += 1
                part = np.concatenate([part, parts[i]])
                continue
            break
        storms.extend(segs)
        i += 1
    merged: list[list[Any]] = []
    for seg in storms:
        if merged and seg[0] - merged[-1][1] <= th.retry_storm_merge_gap_buckets + 1:
            merged[-1][1] = seg[1]
        else:
            merged.append(list(seg))
    if merged and th.retry_storm_rate_z > 0:
        ok = _storms_beyond_rate(idx, values, merged, trailing, usual, th)
        merged = [m for m, keep in zip(merged, ok, strict=True) if keep]
    return [(max(a, win_first), b, med, mad) for a, b, med, mad in merged]


def _may_storm(idx: np.ndarray, values: np.ndarray, size: int, win_first: int, usual: Usual, th) -> bool:
    """Whether any window of the series could be a storm's core: at some scale, its most retries in a
    window ending in the analysis window reach the floor and are beyond chance at the series' usual rate.

    A core needs both (`_span_segments`), and a window's expected retries are never below the usual rate's
    (`_rate_before`), so a series where no window passes them has no storm and is not scanned: every one of
    the 36 series the 1M dashboard store's 7 days scan (0.05 s of the job's CPU). The rate test off, every
    series is scanned."""
    if th.retry_storm_rate_z <= 0:
        return True
    for m in STORM_SCALES:
        if m > 1 and m * 4 > size:
            continue
        peak = _max_rolling_sum(idx, values, m, win_first) * (1 + 1e-9)   # never under the scan's own sum
        if peak >= th.retry_storm_min_retries and bool(_beyond_rate(
                np.array([peak]), np.array([m * usual.rate]), th.retry_storm_rate_z, usual.dispersion)[0]):
            return True
    return False


def _storms_beyond_rate(idx: np.ndarray, values: np.ndarray, storms: list[list[Any]], trailing: int,
                        usual: Usual, th) -> np.ndarray:
    """Whether each storm [first, last, ...] holds retries beyond chance at the series' rate before it.

    A core at the widest scale marks the elevated buckets of its whole 4-hour window, so a busy step's
    chance excess just before a burst can become a segment of its own: it is no storm unless its
    retries, like a core's, are improbable at the step's rate (`_rate_before`, `_beyond_rate`).
    """
    cum = np.concatenate([[0.0], np.cumsum(values)])
    a = np.array([s[0] for s in storms], dtype=np.int64)
    b = np.array([s[1] for s in storms], dtype=np.int64)
    got = cum[np.searchsorted(idx, b, side="right")] - cum[np.searchsorted(idx, a, side="left")]
    before = (cum[np.searchsorted(idx, a, side="left")] - cum[np.searchsorted(idx, a - trailing, side="left")])
    rate = np.maximum(before / max(trailing, 1), usual.rate)
    return _beyond_rate(got, (b - a + 1) * rate, th.retry_storm_rate_z, usual.dispersion)


def _span_segments(dense: np.ndarray, offset: int, size: int, win_first: int, trailing: int, th,
                   whole: dict[int, tuple[float, float]], usual: Usual) -> tuple[list[list[Any]], float]:
    """Storm segments [first, last, median, MAD] (bucket numbers of the whole series) of one active
    span starting at bucket `offset`, and the CUSUM left at its end."""
    n = dense.size
    first_in_window = win_first - offset
    core = np.zeros(n, dtype=bool)
    z, floor = th.retry_storm_z, th.retry_storm_min_retries
    med1, mad1 = _trailing_baseline(dense, trailing, offset=offset, whole=whole[1])
    rate = _rate_before(dense, trailing, usual.rate)
    ref = med1 + np.maximum(1.4826 * mad1, 1.0)
    if th.retry_storm_rate_z > 0:
        # Never below the step's own level: in its first days in the store the trailing buckets are
        # empty (nothing was collected yet), and a busy step's CUSUM would climb on ordinary retries.
        ref = np.maximum(ref, usual.level)
    elevated = dense > ref
    for m in STORM_SCALES:
        if m > 1 and m * 4 > size:
            continue
        c = np.convolve(dense, np.ones(m), mode="full")[:n] if m > 1 else dense
        med, mad = (med1, mad1) if m == 1 else _trailing_baseline(c, trailing, offset=offset, whole=whole[m])
        limit = med + z * np.maximum(1.4826 * mad, 1.0)
        starts = np.maximum(np.arange(n) - m + 1, 0)          # each window's first bucket
        hit = (c >= floor) & (c > limit)
        if th.retry_storm_rate_z > 0:                          # 0 turns the rate test off
            hit &= _beyond_rate(c, m * rate[starts], th.retry_storm_rate_z, usual.dispersion)
        hits = np.nonzero(hit)[0]
        hits = hits[hits >= first_in_window]
        if hits.size:
            # The buckets of each hit's window (hit - m + 1 .. hit) that are above baseline.
            before = np.concatenate([[0], np.cumsum(np.bincount(hits, minlength=n))])   # hits before each bucket
            pos = np.arange(n)
            core |= (before[np.minimum(pos + m, n)] - before[pos] > 0) & elevated
    segments, s = _cusum_segments(dense, ref, core)
    if not core.any():
        return [], s
    out = [[a + offset, b + offset, float(med1[a]), float(mad1[a])] for a, b in segments
           if core[a:b + 1].any() and b >= first_in_window]
    return out, s


class Usual(NamedTuple):
    """A series' usual retries since its first retry (`_usual_retries`)."""

    rate: float         # retries per bucket
    dispersion: float   # variance / mean of a bucket's retries, at least 1
    level: float        # usual retries plus one sigma: the floor of the storm's CUSUM reference


DISPERSION_MIN_DAYS = 7   # days with retries a series needs before their spread counts (else Poisson's, 1)


def _usual_retries(idx: np.ndarray, values: np.ndarray, size: int, trailing: int) -> Usual:
    """Retries per bucket a series usually has since its first retry, their dispersion and level.

    The rate is the median of its daily retries (days of `trailing` / 7 buckets, at least a week of
    them) over the buckets of a day: a storm of a day or two does not move it, unlike a mean, and a
    step that entered the store days into the window is not diluted by the days before it was
    collected, unlike a trailing baseline. The dispersion says how much more a bucket's retries vary
    than a Poisson count: the retries of one failing visit come together (two or three of them).
    Per day with retries, sum(c^2) / sum(c) - mean (E[K^2] / E[K] for clusters of K retries), the
    median over at least `DISPERSION_MIN_DAYS` such days, else 1. The level is the larger of the
    median bucket plus a robust sigma (at least 1) and rate + sqrt(dispersion * rate), rounded up to a
    half (the CUSUM stays exact and vectorised): a median of 0 understates clustered retries.
    """
    first = int(idx[0])
    block = max(max(STORM_SCALES), trailing // 7)
    days = max(-(-(size - first) // block), 7)
    day = (idx - first) // block
    sums = np.bincount(day, weights=values)
    squares = np.bincount(day, weights=values * values)
    rate = _median_mad(sums[sums != 0], days)[0] / block
    active = sums > 0
    dispersion = 1.0
    if int(active.sum()) >= DISPERSION_MIN_DAYS:
        dispersion = max(1.0, float(np.median(squares[active] / sums[active] - sums[active] / block)))
    median, mad = _median_mad(values, max(size - first, trailing))
    level = math.ceil(2 * max(median + max(1.4826 * mad, 1.0), rate + math.sqrt(dispersion * rate))) / 2
    return Usual(rate, dispersion, level)


def _rate_before(dense: np.ndarray, trailing: int, usual: float) -> np.ndarray:
    """Retries per bucket a series has shown before each bucket: the larger of its mean over the
    `trailing` buckets before it and its usual rate (`_usual_retries`).

    The usual rate covers a step's first days in the store, where the trailing buckets are empty
    because nothing was collected yet (the median and MAD then say zero); the trailing mean follows
    a step whose traffic grows. A `dense` span may start anywhere that the `trailing` buckets before
    it are empty (`sparse_storm_segments` guarantees it).
    """
    cum = np.concatenate([[0.0], np.cumsum(dense)])
    pos = np.arange(dense.size)
    before = (cum[pos] - cum[np.maximum(pos - trailing, 0)]) / max(trailing, 1)
    return np.maximum(before, usual)


def _beyond_rate(count: np.ndarray, expected: np.ndarray, z: float, dispersion: float = 1.0) -> np.ndarray:
    """Windows whose `count` of retries is beyond chance when `expected` were due: Anscombe's
    variance-stabilised Poisson test, 2 * (sqrt(count / d + 3/8) - sqrt(expected / d + 3/8)) > z, on
    counts in units of the series' `dispersion` d (retries of one visit come d at a time: a
    quasi-Poisson count of failing visits).

    A busy step with a steady retry rate gets many retries in a 4-hour window by volume alone (a
    fixed floor of 10 is then reached by chance); this asks for a number of retries that its own
    rate makes improbable (z = 5: about 3e-7 for a Poisson count). With nothing expected and d = 1
    it asks for 10 retries, the absolute floor.
    """
    d = max(float(dispersion), 1.0)
    return 2.0 * (np.sqrt(count / d + 0.375) - np.sqrt(expected / d + 0.375)) > z


CUSUM_EXACT_LIMIT = 2.0 ** 40
"""Below this, sums of whole and half numbers are exact in float64, in any order."""


def _cusum_segments(dense: np.ndarray, ref: np.ndarray, core: np.ndarray) -> tuple[list[list[int]], float]:
    """Segments [start, end] of the CUSUM s_i = max(0, s_(i-1) + dense_i - ref_i) (from where it leaves
    zero to its peak, or to the last core bucket inside it when that is later), and s at the end.

    Vectorised (s_i = S_i - min(0, S_1..S_i), S the cumulative sum of dense - ref) when every value
    is a multiple of one half, as with the usual baseline (a whole median, no spread: ref = median + 1):
    the sums are then exact, so the result is the loop's to the bit. Other baselines take the loop.
    """
    n = dense.size
    if n == 0:
        return [], 0.0
    if not (np.all(ref * 2 == np.round(ref * 2)) and np.all(dense * 2 == np.round(dense * 2))
            and float(np.abs(dense).sum() + np.abs(ref).sum()) < CUSUM_EXACT_LIMIT):
        return _cusum_segments_loop(dense, ref, core)
    cum = np.cumsum(dense - ref)
    s = cum - np.minimum(np.minimum.accumulate(cum), 0.0)
    up = s > 0
    starts = np.nonzero(up & ~np.concatenate([[False], up[:-1]]))[0]
    if starts.size == 0:
        return [], float(s[-1])
    # Each segment's span [a, e]: e the first bucket at rest after a, or the last bucket. Spans are disjoint,
    # so their buckets are read once, all segments at once (a loop over 4,416 segments cost 0.02 s of CPU on
    # the 1M dashboard store's 7 days): the first bucket holding its span's peak, as `np.argmax` takes it, and
    # its last core bucket.
    zeros = np.append(np.nonzero(~up)[0], n - 1)        # n - 1: the last segment may run to the end
    ends = zeros[np.searchsorted(zeros, starts)]
    lengths = ends - starts + 1
    offsets = np.cumsum(lengths) - lengths
    pos = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(offsets, lengths) + np.repeat(starts, lengths)
    values = s[pos]
    peaks = np.maximum.reduceat(values, offsets)
    best = np.minimum.reduceat(np.where(values == np.repeat(peaks, lengths), pos, n), offsets)
    last_core = np.maximum.reduceat(np.where(core[pos], pos, -1), offsets)
    return np.stack([starts, np.maximum(best, last_core)], axis=1).tolist(), float(s[-1])


def _cusum_segments_loop(dense: np.ndarray, ref: np.ndarray, core: np.ndarray) -> tuple[list[list[int]], float]:
    """`_cusum_segments` one bucket at a time (any baseline)."""
    n = dense.size
    segments: list[list[int]] = []
    s, seg_start, best, best_i = 0.0, None, 0.0, -1
    for i in range(n):
        s = max(0.0, s + dense[i] - ref[i])
        if s > 0 and seg_start is None:
            seg_start, best, best_i = i, s, i
        if seg_start is not None and s > best:
            best, best_i = s, i
        if seg_start is not None and (s == 0 or i == n - 1):
            cores = np.nonzero(core[seg_start:i + 1])[0]
            end = max(best_i, seg_start + int(cores[-1])) if cores.size else best_i
            segments.append([seg_start, end])
            seg_start = None
    return segments, s


def _storm_details(ctx: Context, st: pd.DataFrame) -> pd.DataFrame:
    """Visits, attempts, executions and sample ids of each storm's step during the storm.

    A visit retried for other errors only is not the storm's (it belongs to those errors' storms): it
    was counted, so a Timeout storm's visits and affected runs on the same step ran into a throttling
    storm's, and its samples could be runs that never met the storm's error. Visits not retried count:
    the storm's amplification is of the step's load."""
    m = ibis.memtable(pd.DataFrame({
        "sid": st["sid"].astype("int64"), "m_cloud": st["cloud"].astype(str),
        "m_wf": st["workflow_id"].astype(str), "m_step": st["step"].astype(str),
        "m_start": pd.to_datetime(st["start"], utc=True), "m_end": pd.to_datetime(st["end"], utc=True),
        "m_error": st["error"].astype(str),
    }))
    s = ctx.between(ctx.table("steps"), st["start"].min().to_pydatetime(), st["end"].max().to_pydatetime())
    j = s.inner_join(m, (s[C.cloud] == m.m_cloud) & (s[C.workflow_id] == m.m_wf) & (s[C.name] == m.m_step)
                     & (s[C.started_at] >= m.m_start) & (s[C.started_at] < m.m_end))
    # The storm's visits are read once: a projection of the join, which the flags below and the counts read
    # (a join chain extended by the anti-join was a second scan of the steps; a projection read twice is one
    # common table; its SQL alone 0.12 to 0.07 s of CPU on the 30k demo, 0.08 to 0.04 s at 1M, session 48).
    j = j.select("sid", "m_error", C.cloud, C.execution_id, C.step_key, C.attempts, *step_rank.COLUMNS)
    a = ctx.between(ctx.table("attempts"), st["start"].min().to_pydatetime(), ctx.until)
    a = a.filter(a[C.status].isin(FAILED_VALUES))
    a = a.select(a_cloud=a[C.cloud], a_exec=a[C.execution_id], a_key=a[C.step_key], a_attempt=a[C.attempt],
                 a_error=ibis.coalesce(a[C.error], ibis.literal(NO_ERROR)))
    v = j.select("sid", "m_error", v_cloud=j[C.cloud], v_exec=j[C.execution_id], v_key=j[C.step_key],
                 v_attempts=j[C.attempts])
    r = v.inner_join(a, (v.v_cloud == a.a_cloud) & (v.v_exec == a.a_exec) & (v.v_key == a.a_key)
                     & (a.a_attempt < v.v_attempts))      # the retried tries, as the storm counts them
    flags = r.group_by(["sid", "v_cloud", "v_exec", "v_key"]).aggregate(
        own=(r.a_error == r.m_error).max(), other=(r.a_error != r.m_error).max())
    others = flags.filter(flags.other & ~flags.own)
    j = j.view()                   # a new join chain on the one projection, not the first chain extended
    j = j.anti_join(others, [j.sid == others.sid, j[C.cloud] == others.v_cloud,
                             j[C.execution_id] == others.v_exec, j[C.step_key] == others.v_key])
    # the samples (the storm's most retried visits' runs) in the same query: ranked among the retried visits
    j = j.mutate(_retried=j[C.attempts] > 1)
    j = sample_rank(j, ["sid", "_retried"], order_by=C.attempts, name="_rank")
    agg = execute(j.group_by(["sid", step_rank.rank(j)]).aggregate(
        visits=j.count(), attempts=j[C.attempts].sum(), executions=j[C.execution_id].nunique(),
        samples=sample_rows(j, "_rank", where=j["_retried"])))
    samples = picked_by(agg, ["sid"], "samples")
    # the rows that stand for the step count (`step_rank`), as in `cost.step_window_stats`: a GCP try's
    # one attempt per visit beside its call's tries diluted the amplification
    agg = step_rank.lowest_rank(agg.drop(columns="samples"), ["sid"])
    agg["samples"] = [samples.get((sid,), []) for sid in agg["sid"]]
    return agg


def _unit_cost_per_attempt(ctx: Context) -> dict[tuple, float]:
    sc = step_costs(ctx)
    stats = step_stats(ctx)
    attempts = {(r.cloud, r.workflow_id, getattr(r, C.name)): r.attempts for r in stats.itertuples(index=False)}
    out = {}
    for r in sc.itertuples(index=False):
        n = attempts.get((r.cloud, r.workflow_id, r.step))
        if n:
            out[(r.cloud, r.workflow_id, r.step)] = r.usd / n
    return out


def synchronized(ctx: Context, storms_found: list[Finding] | None = None) -> list[Finding]:
    """Retries in lockstep during retry storms: missing jitter matters when many executions fail
    at once (a throttled or failing dependency), because they all come back at the same instant.
    Sporadic, independent retries with a fixed delay never coincide, so they are not flagged."""
    th = ctx.thresholds
    if storms_found is None:
        storms_found = storms(ctx)
    if not storms_found:
        return []
    windows = pd.DataFrame({
        "w_cloud": [f.cloud for f in storms_found], "w_wf": [f.workflow_id for f in storms_found],
        "w_step": [f.step for f in storms_found],
        "w_start": pd.to_datetime([f.window_start for f in storms_found], utc=True),
        "w_end": pd.to_datetime([f.window_end for f in storms_found], utc=True),
    })
    span = windows.groupby(["w_cloud", "w_wf", "w_step"]).agg(first=("w_start", "min"), last=("w_end", "max"))
    a = ctx.between(ctx.table("attempts"), windows["w_start"].min().to_pydatetime(),
                    windows["w_end"].max().to_pydatetime())
    nxt = a.filter(a[C.attempt] >= 2).select(n_cloud=C.cloud, n_exec=C.execution_id, n_key=C.step_key,
                                             n_attempt=C.attempt, n_start=C.started_at)
    prev = a.filter(a[C.status].isin(FAILED_VALUES) & a[C.ended_at].notnull())
    j = prev.inner_join(nxt, (prev[C.cloud] == nxt.n_cloud) & (prev[C.execution_id] == nxt.n_exec)
                        & (prev[C.step_key] == nxt.n_key) & (prev[C.attempt] + 1 == nxt.n_attempt))
    j = j.mutate(delay_ms=j.n_start.delta(j[C.ended_at], unit="millisecond").cast("float64"))
    s = ctx.table("steps")
    s = s.filter(s[C.attempts] > 1).select(s_cloud=C.cloud, s_exec=C.execution_id, s_key=C.step_key,
                                           s_name=C.name)
    j = j.inner_join(s, (j[C.cloud] == s.s_cloud) & (j[C.execution_id] == s.s_exec) & (j[C.step_key] == s.s_key))
    w = ibis.memtable(windows)
    j = j.inner_join(w, (j[C.cloud] == w.w_cloud) & (j[C.workflow_id] == w.w_wf) & (j.s_name == w.w_step)
                     & (j.n_start >= w.w_start) & (j.n_start < w.w_end))
    keys = [C.cloud, C.workflow_id, "s_name"]
    # the sample runs (the latest second tries) in the same query: ranked per step and retry
    j = sample_rank(j, [*keys, "n_attempt"], order_by="n_start", name="_rank")
    agg = execute(j.group_by([*keys, "n_attempt"]).aggregate(
        samples=j.count(), executions=j[C.execution_id].nunique(), mean_ms=j.delay_ms.mean(),
        std_ms=j.delay_ms.std(how="pop"), min_ms=j.delay_ms.min(), max_ms=j.delay_ms.max(),
        error=j[C.error].max(),    # the retried error (one per storm step in practice)
        picks=sample_rows(j, "_rank", where=j.n_attempt == 2)))
    if agg.empty:
        return []
    sample_runs = picked_by(agg, keys, "picks")
    agg = agg.drop(columns="picks")
    agg = agg.assign(cv=agg["std_ms"].fillna(0.0) / agg["mean_ms"].where(agg["mean_ms"] > 0))
    hits = agg[[measures.is_lockstep(cv, n, e, m, max_cv=th.sync_retry_max_cv,
                                     min_samples=th.sync_retry_min_samples,
                                     min_executions=th.sync_retry_min_executions)
                for cv, n, e, m in zip(agg["cv"], agg["samples"], agg["executions"], agg["mean_ms"], strict=True)]]
    if hits.empty:
        return []
    unit = _unit_cost_per_attempt(ctx)
    retries_by_step: dict[tuple, float] = {}
    for f in storms_found:
        k = (f.cloud, f.workflow_id, f.step)
        retries_by_step[k] = retries_by_step.get(k, 0.0) + float(f.evidence.get("retries") or 0.0)
    out = []
    for key, g in hits.groupby(keys):
        cloud, wf_id, step = key
        wf_name = ctx.workflow_name(cloud, wf_id)
        throttled = any(is_throttling(e) for e in g["error"].dropna())
        delays = {int(r.n_attempt): {"mean_ms": r.mean_ms, "cv": r.cv, "samples": int(r.samples)}
                  for r in g.sort_values("n_attempt").itertuples(index=False)}    # not the engine's order
        retries = max(retries_by_step.get(key, 0), 0)
        cost = retries * unit.get(key, 0.0)
        execs = int(g["executions"].max())
        worst = g.sort_values(["cv", "n_attempt"], kind="stable").iloc[0]   # ties: the first retry, every run
        out.append(Finding(
            kind=FindingKind.SYNCHRONIZED_RETRIES,
            severity=Severity.HIGH if throttled else Severity.MEDIUM,
            cloud=cloud, workflow=wf_name, workflow_id=wf_id, step=step,
            window_start=span.loc[key, "first"].to_pydatetime(), window_end=span.loc[key, "last"].to_pydatetime(),
            title=(f"Retries of {step} in {wf_name} fire in lockstep: delay {fmt_duration(worst.mean_ms)} with "
                   f"{worst.cv:.1%} spread across {execs} executions (no jitter)"
                   + (" - throttling" if throttled else "")),
            evidence={"delays_by_attempt": delays, "min_cv": float(g["cv"].min()),
                      "samples": int(g["samples"].sum()), "executions": execs,
                      "errors": sorted({e for e in g["error"].dropna()}), "throttling": throttled,
                      "retries": retries, "retry_usd": cost},
            recommendation=_sync_recommendation(cloud, throttled),
            # the retries of the storms it was found in: what they cost, as the storms say (not projected)
            monthly_usd=cost, executions_affected=execs,
            sample_execution_ids=sample_runs.get(key, []),
        ))
    return out


def _retry_recommendation(cloud: str, throttled: bool, kind: str | None = None) -> str:
    """How to bound a step's retries, and what each costs for the workflow's kind (a Logic Apps Standard
    workflow's built-in actions are paid in plan hours: its storms were told each retry is a billed
    action execution)."""
    if cloud == Cloud.AWS:
        text = ("Bound the retries: Retry with ErrorEquals for the specific error, IntervalSeconds >= 1, "
                "BackoffRate 2, MaxAttempts 3-5, MaxDelaySeconds and JitterStrategy FULL; Catch the rest. "
                "Each retry is a billed state transition in Standard workflows.")
    elif cloud == Cloud.AZURE:
        billed = ("each retry of a managed connector is a billed call (built-in actions are paid in plan hours)"
                  if kind == Kind.LOGICAPP_STANDARD else "each retry is a billed action execution")
        text = ("Use an exponential retry policy (type exponential, count 3-4, interval PT10S, "
                "maximumInterval PT1H) instead of fixed or default retries, and handle the final failure "
                f"with runAfter; {billed}.")
    else:
        text = ("Use a retry policy with backoff (retry: predicate, max_retries 3-5, backoff: initial_delay, "
                "max_delay, multiplier 2) and handle the final error in except; each retry is a billed step.")
    if throttled:
        text += (" The errors are throttling (429 / TooManyRequests / ThrottlingException): lower the "
                 "caller's concurrency (Map MaxConcurrency, For_each concurrency, parallel concurrency_limit) "
                 "or raise the downstream quota; retries without jitter make it worse.")
    return text


def _sync_recommendation(cloud: str, throttled: bool) -> str:
    if cloud == Cloud.AWS:
        text = ('Add jitter: in the Retry, set "JitterStrategy": "FULL" with "BackoffRate": 2 and '
                '"MaxDelaySeconds" (e.g. 60) so retries from many executions spread out instead of hitting '
                "the service at the same instant.")
    elif cloud == Cloud.AZURE:
        text = ("Switch the action's retry policy from fixed to exponential (type exponential, interval, "
                "minimumInterval, maximumInterval): exponential intervals are randomized, fixed ones are not.")
    else:
        text = ("Use a retry policy with backoff (backoff: initial_delay, max_delay, multiplier 2) and add "
                "random jitter (e.g. sys.sleep of a random delay before re-calling) so executions do not "
                "retry in lockstep.")
    if throttled:
        text += " The retried errors are throttling, which synchronized retries amplify."
    return text
