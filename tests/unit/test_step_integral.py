"""``step_integral`` computes the interval lengths in place, a slice at a time; it must give
exactly the float of the plain formula (clip the times and the end, difference them, multiply,
sum), whatever the slice size, the value type and where [start, end] falls."""

from __future__ import annotations

import numpy as np
import pytest

import clustersim.results.summary as summary_module
from clustersim.results.summary import step_integral


def plain(t: np.ndarray, v: np.ndarray, start: float, end: float) -> float:
    if end <= start or len(t) == 0:
        return 0.0
    edges = np.clip(np.append(t.astype(float), end), start, end)
    return float(np.sum((edges[1:] - edges[:-1]) * v.astype(float)))


@pytest.mark.parametrize("slice_rows", [1, 2, 7, 1 << 16])
def test_same_float_as_the_plain_formula(monkeypatch, slice_rows):
    monkeypatch.setattr(summary_module, "_SLICE", slice_rows)
    rng = np.random.default_rng(slice_rows)
    for trial in range(200):
        n = int(rng.integers(1, 3000 if trial % 20 else 100_000))
        t = np.sort(rng.uniform(0, 1e6, n))
        if trial % 4 == 0:
            t = np.round(t)  # ties and whole seconds, as a run records them
        v = rng.integers(0, 5000, n)
        start, end = sorted(rng.uniform(-1e5, 1.2e6, 2))
        expected = plain(t, v, start, end)
        assert step_integral(t, v, start, end).hex() == expected.hex()
        assert step_integral(t, v.astype(float), start, end).hex() == expected.hex()
    t0 = np.array([0.0, 10.0, 20.0])
    t0_before = t0.copy()
    assert step_integral(t0, np.array([1, 2, 3]), 5.0, 25.0) == 5 * 1 + 10 * 2 + 5 * 3
    assert np.array_equal(t0, t0_before)  # the caller's times are not touched
    assert step_integral(t0, np.array([1, 2, 3]), 25.0, 5.0) == 0.0
    assert step_integral(np.array([]), np.array([]), 0.0, 1.0) == 0.0
