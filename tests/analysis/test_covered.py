"""`retries._covered`: the buckets a rolling window of m buckets touches, as np.unique of every
(bucket, offset) pair gave them, without sorting them."""

from __future__ import annotations

import numpy as np
import pytest

from flowscope.analysis import retries


def _unique(idx: np.ndarray, m: int) -> np.ndarray:
    return np.unique((idx[:, None] + np.arange(m)[None, :]).ravel()).astype(np.int64)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("m", [1, 2, 4, 16])
@pytest.mark.parametrize("density", [0.01, 0.2, 0.9])
def test_covered_equals_the_sorted_union(seed, m, density):
    rng = np.random.default_rng(seed)
    idx = np.flatnonzero(rng.random(3000) < density).astype(np.int64) + int(rng.integers(0, 50))
    np.testing.assert_array_equal(retries._covered(idx, m), _unique(idx, m))


def test_covered_edge_cases():
    assert retries._covered(np.array([], dtype=np.int64), 4).size == 0
    np.testing.assert_array_equal(retries._covered(np.array([5]), 3), [5, 6, 7])
    np.testing.assert_array_equal(retries._covered(np.array([0, 3, 4, 20]), 3), [0, 1, 2, 3, 4, 5, 6, 20, 21, 22])
