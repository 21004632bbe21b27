"""Tests of :mod:`synthgen.analysis.distances`' distances: known values, symmetry, shifts,
and agreement between the sample and histogram forms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from synthgen.analysis import distances
from synthgen.analysis.measure import bin_centres

samples = hs.lists(hs.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=30)


def test_w1_known_values() -> None:
    assert distances.wasserstein1([0.0], [1.0]) == 1.0
    assert distances.wasserstein1([0.0, 0.0], [1.0]) == 1.0
    # Half the mass moves by 2.
    assert distances.wasserstein1([0.0, 1.0], [0.0, 3.0]) == pytest.approx(1.0)
    assert distances.wasserstein1([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 0.0
    with pytest.raises(ValueError):
        distances.wasserstein1([], [1.0])


@settings(max_examples=60, deadline=None)
@given(samples, samples)
def test_w1_symmetric_and_non_negative(a: list[float], b: list[float]) -> None:
    assert distances.wasserstein1(a, b) == pytest.approx(distances.wasserstein1(b, a), abs=1e-9)
    assert distances.wasserstein1(a, b) >= 0


@settings(max_examples=60, deadline=None)
@given(samples, hs.floats(-100, 100, allow_nan=False))
def test_w1_zero_for_identical_and_shift_for_shifted(a: list[float], shift: float) -> None:
    assert distances.wasserstein1(a, list(a)) == 0.0
    shifted = [x + shift for x in a]
    assert distances.wasserstein1(a, shifted) == pytest.approx(abs(shift), abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(hs.integers(1, 20).flatmap(lambda n: hs.tuples(
    hs.lists(hs.floats(-1e3, 1e3, allow_nan=False), min_size=n, max_size=n),
    hs.lists(hs.floats(-1e3, 1e3, allow_nan=False), min_size=n, max_size=n))))
def test_w1_of_equal_sizes_pairs_sorted_values(pair: tuple[list[float], list[float]]) -> None:
    a, b = pair
    expected = np.mean(np.abs(np.sort(a) - np.sort(b)))
    assert distances.wasserstein1(a, b) == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_w1_matches_scipy_when_available() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 57), rng.gamma(2, 1, 31)
    assert distances.wasserstein1(a, b) == pytest.approx(scipy_stats.wasserstein_distance(a, b))


def test_w1_histogram_matches_samples_at_bin_centres() -> None:
    edges = np.arange(0.0, 21.0, 2.0)  # centres 1, 3, .. 19
    p = np.zeros(10)
    q = np.zeros(10)
    p[0], q[9] = 1, 3
    assert distances.wasserstein1_histogram(p, q, edges) == pytest.approx(18.0)
    p = np.array([2, 0, 1, 0, 0, 0, 0, 0, 0, 1.0])
    q = np.array([0, 1, 1, 1, 0, 0, 1, 0, 0, 0.0])
    centres = bin_centres(edges)
    expected = distances.wasserstein1(np.repeat(centres, p.astype(int)),
                               np.repeat(centres, q.astype(int)))
    assert distances.wasserstein1_histogram(p, q, edges) == pytest.approx(expected)
    with pytest.raises(ValueError):
        distances.wasserstein1_histogram(p, q[:5], edges)


def test_histogram_intersection_and_total_variation() -> None:
    assert distances.histogram_intersection([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert distances.histogram_intersection([1, 0], [0, 5]) == 0.0
    assert distances.histogram_intersection([[1, 1], [0, 0]], [[1, 0], [0, 1]]) == \
        pytest.approx(0.5)
    assert distances.total_variation({"a": 1}, {"b": 7}) == 1.0
    assert distances.total_variation({"a": 1, "b": 1}, {"a": 4}) == pytest.approx(0.5)
    assert distances.total_variation({"a": 3, "b": 1}, {"b": 2, "a": 6}) == 0.0


@settings(max_examples=60, deadline=None)
@given(hs.lists(hs.tuples(hs.integers(0, 50), hs.integers(0, 50)), min_size=1, max_size=8)
       .filter(lambda pairs: sum(p for p, _ in pairs) > 0 and sum(q for _, q in pairs) > 0))
def test_total_variation_is_one_minus_intersection(pairs: list[tuple[int, int]]) -> None:
    p = {str(i): a for i, (a, _) in enumerate(pairs)}
    q = {str(i): b for i, (_, b) in enumerate(pairs)}
    tv = distances.total_variation(p, q)
    assert tv == pytest.approx(1 - distances.histogram_intersection(list(p.values()),
                                                             list(q.values())))
    assert tv == pytest.approx(distances.total_variation(q, p))
    assert 0 <= tv <= 1 + 1e-12
