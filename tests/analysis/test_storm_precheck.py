"""A retry series that no window could storm in is not scanned (`retries._may_storm`), with the scan's result.

The 1M dashboard store's 7 days hand the storm scan 36 series, none of which has a window beyond chance at its
own retry rate: the scan's trailing baselines and CUSUM over them were 0.05 s of the job's CPU for no storm.
"""

from __future__ import annotations

import numpy as np
import pytest

from flowscope.analysis import Thresholds
from flowscope.analysis import retries as R
from tests.analysis.test_retries_rate import CASES, SIZE, TRAIL, jump, steady


def _series() -> list[tuple[str, np.ndarray]]:
    out = [(f"{name} #{seed}", make(seed)) for name, (make, _want, _ok) in CASES.items() for seed in range(2)]
    rng = np.random.default_rng(7)
    for k in range(12):                # sparse bursts of every size around the floor, at every scale
        d = np.zeros(SIZE)
        at = rng.integers(0, SIZE, rng.integers(1, 40))
        np.add.at(d, at, rng.integers(1, 6, at.size))
        out.append((f"random {k}", d))
    out.append(("9 then 10 in four buckets", jump(TRAIL + 50, [3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 4, 3, 3])))
    return out


def _scan(d: np.ndarray, th: Thresholds, win_first: int) -> list:
    idx = np.nonzero(d)[0]
    return R.sparse_storm_segments(idx, d[idx], d.size, win_first, TRAIL, th)


@pytest.mark.parametrize("th", [Thresholds(), Thresholds(retry_storm_min_retries=4, retry_storm_rate_z=3.0),
                                Thresholds(retry_storm_rate_z=0)])
def test_the_precheck_gives_the_full_scans_storms(th, monkeypatch):
    series = _series()
    got = {name: [_scan(d, th, w) for w in (0, TRAIL, SIZE - 20)] for name, d in series}
    monkeypatch.setattr(R, "_may_storm", lambda *a: True)              # every series scanned, as before
    want = {name: [_scan(d, th, w) for w in (0, TRAIL, SIZE - 20)] for name, d in series}
    assert got == want
    assert any(any(v) for v in want.values())                          # storms among them, to keep


def test_a_series_without_a_window_beyond_its_rate_is_not_scanned(monkeypatch):
    calls = []
    scan = R._span_segments
    monkeypatch.setattr(R, "_span_segments", lambda *a, **k: calls.append(1) or scan(*a, **k))
    assert _scan(steady(2.5, 0), Thresholds(), TRAIL) == [] and not calls
    assert _scan(jump(TRAIL + 50, [4, 4, 4, 3]), Thresholds(), TRAIL) and calls      # 15 in an hour: scanned
