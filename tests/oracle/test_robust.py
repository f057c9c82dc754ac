"""Robust statistics against numpy's quantile definitions and Pyth's published objective."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.oracle.robust import mad_outliers, pyth_aggregate, weighted_median, weighted_quantile

prices = st.lists(st.floats(min_value=1e-3, max_value=1e6, allow_nan=False), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(prices, st.sampled_from([0.25, 0.5, 0.75, 0.1, 0.9]))
def test_equal_weights_match_numpy_averaged_inverted_cdf(values: list[float], q: float) -> None:
    v = np.array(values)
    got = weighted_quantile(v, np.ones_like(v), q)
    # numpy averages two middle values as a + (b - a) / 2: equal up to one rounding
    assert got == pytest.approx(np.percentile(v, 100 * q, method="averaged_inverted_cdf"), rel=4.5e-16, abs=0)


@settings(max_examples=150, deadline=None)
@given(prices)
def test_median_is_numpy_median(values: list[float]) -> None:
    v = np.array(values)
    assert weighted_median(v, np.full_like(v, 2.5)) == np.median(v)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.floats(1.0, 1e4), st.integers(1, 5)), min_size=1, max_size=8), st.sampled_from([0.25, 0.5])
)
def test_integer_weights_equal_repetition(pairs: list[tuple[float, int]], q: float) -> None:
    v = np.array([p for p, _ in pairs])
    w = np.array([float(k) for _, k in pairs])
    repeated = np.repeat(v, [k for _, k in pairs])
    expect = np.percentile(repeated, 100 * q, method="averaged_inverted_cdf")
    assert weighted_quantile(v, w, q) == pytest.approx(expect, rel=4.5e-16, abs=0)


def _pyth_objective(r: float, p: np.ndarray, c: np.ndarray, w: np.ndarray) -> float:
    d = np.abs(r - p)
    return float(np.sum(w * (d / 3.0 + 2.0 / 3.0 * np.maximum(d - c, 0.0))))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(90.0, 110.0), st.floats(0.0, 5.0), st.floats(0.1, 3.0)),
        min_size=1,
        max_size=10,
    )
)
def test_pyth_median_minimizes_published_objective(rows: list[tuple[float, float, float]]) -> None:
    """Pyth (2021): the vote median minimizes sum w (|R-p|/3 + 2/3 max(|R-p|-c, 0)).

    The objective is convex and piecewise linear with kinks at the votes, so checking every vote
    and a fine grid is a complete check up to rounding."""
    p = np.array([r[0] for r in rows])
    c = np.array([r[1] for r in rows])
    w = np.array([r[2] for r in rows])
    out = np.empty(4)
    assert pyth_aggregate(p, c, w, np.ones(len(p), dtype=np.bool_), out) == len(p)
    agg = out[0]
    best = _pyth_objective(agg, p, c, w)
    candidates = np.concatenate([p - c, p, p + c, np.linspace(80, 120, 801)])
    worst_gap = min(_pyth_objective(x, p, c, w) for x in candidates) - best
    assert worst_gap >= -1e-9 * max(1.0, best)
    # the aggregate lies within the range of the prices, and the band covers P25..P75
    assert p.min() - 1e-12 <= agg <= p.max() + 1e-12
    assert out[1] >= 0 and agg - out[1] <= out[2] + 1e-12 and out[3] <= agg + out[1] + 1e-12


def test_pyth_paper_example() -> None:
    """The proposal's example: 101 +/- 1 and 110 +/- 10 -> the aggregate stays near 101."""
    p = np.array([101.0, 110.0])
    c = np.array([1.0, 10.0])
    out = np.empty(4)
    pyth_aggregate(p, c, np.ones(2), np.ones(2, dtype=np.bool_), out)
    # votes: 91, 100, 101, 102, 110, 120 -> median (101 + 102) / 2; P25 = 100, P75 = 110
    assert out[0] == 101.5
    assert out[1] == 8.5


def test_mad_rejects_only_the_outlier() -> None:
    p = np.array([100.0, 100.2, 99.9, 100.1, 150.0])
    mask = np.ones(5, dtype=np.bool_)
    out = np.empty(3)
    kept = mad_outliers(p, np.ones(5), mask, 5.0, 0.005, out)
    assert kept == 4 and not mask[4] and mask[:4].all()
    assert out[0] == 100.1  # median
    assert abs(out[1] - 0.1) < 1e-12  # |dev| sorted: 0, 0.1, 0.1, 0.2, 49.9 -> MAD 0.1


def test_mad_floor_keeps_agreeing_sources() -> None:
    """Identical sources give MAD 0; the bps floor keeps a source 1 bp away."""
    p = np.array([100.0, 100.0, 100.0, 100.01])
    mask = np.ones(4, dtype=np.bool_)
    out = np.empty(3)
    assert mad_outliers(p, np.ones(4), mask, 5.0, 0.005, out) == 4
    assert out[1] == 0.0 and out[2] == 0.5
