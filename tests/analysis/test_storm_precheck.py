"""A retry series that no window could storm in is not scanned (`retries._may_storm`), with the scan's result;
the series are cut from the query's rows as the pandas group-by cut them (`retries.stormy_series`).

The 1M dashboard store's 7 days hand the storm scan 36 series, none of which has a window beyond chance at its
own retry rate: the scan's trailing baselines and CUSUM over them were 0.05 s of the job's CPU for no storm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flowscope.analysis import Thresholds
from flowscope.analysis import retries as R
from flowscope.model import C
from tests.analysis.reference_scans import old_stormy_series
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


def _frame(seed: int) -> pd.DataFrame:
    """Rows as the storms' query returns them: per series key and bucket, retries and those in the window;
    shuffled, with null keys, buckets outside the span and series too sparse to storm."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(int(rng.integers(1, 30))):
        key = (str(rng.choice(["aws", "azure", "gcp"])), f"wf-{rng.integers(0, 4)}", f"Step é{s % 7}",
               str(rng.choice(["Http.503", "(no error)", "States.Timeout"])))
        for b in np.unique(rng.integers(-50, 1400, int(rng.integers(1, 80)))):
            n = int(rng.integers(1, 8))
            rows.append((*key, int(b) + 10_000, n, int(rng.integers(0, n + 1))))
    df = pd.DataFrame(rows, columns=[C.cloud, C.workflow_id, "s_name", "error", "bucket", "retries", "in_win"])
    df = df.drop_duplicates([C.cloud, C.workflow_id, "s_name", "error", "bucket"])
    df.loc[df.sample(frac=0.02, random_state=seed).index, "s_name"] = None
    df = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    for col in (C.cloud, C.workflow_id, "s_name", "error"):
        df[col] = df[col].astype("string[pyarrow]")                # as the engine's results hold them
    return df


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")     # the old path's null keys
@pytest.mark.parametrize("seed", range(8))
def test_the_stormy_series_are_the_group_bys(seed):
    df = _frame(seed)
    keys = [C.cloud, C.workflow_id, "s_name", "error"]
    args = (df, keys, 10_000, 1344, 672, 10)
    got, want = list(R.stormy_series(*args)), list(old_stormy_series(*args))
    assert [g[0] for g in got] == [w[0] for w in want] and want
    for g, w in zip(got, want, strict=True):
        assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(g[1:], w[1:], strict=True))
