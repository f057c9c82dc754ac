"""The ziggurat normal generator and per-block streams against scipy's normal law."""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy import stats

from keel.pricing.mc.rng import ZIG_F, ZIG_RATIO, ZIG_X, block_state, std_normal, uniform01


@njit(cache=True)
def _draw(n: int, seed: np.uint64, block: int) -> tuple[np.ndarray, np.ndarray]:
    s0, s1, s2, s3 = block_state(seed, block)
    z = np.empty(n)
    u = np.empty(n)
    for i in range(n):
        z[i], s0, s1, s2, s3 = std_normal(s0, s1, s2, s3, ZIG_X, ZIG_RATIO, ZIG_F)
        u[i], s0, s1, s2, s3 = uniform01(s0, s1, s2, s3)
    return z, u


def test_ziggurat_tables_close_on_the_known_edge() -> None:
    assert abs(ZIG_X[1] - 3.6541528853610088) < 1e-12  # Marsaglia-Tsang's r for 256 layers
    assert ZIG_X[-1] == 0.0 and ZIG_F[-1] == 1.0
    areas = ZIG_X[1:-1] * (ZIG_F[2:] - ZIG_F[1:-1])
    assert np.allclose(areas, areas[0], rtol=1e-9)


def test_normals_follow_the_normal_law_including_tails() -> None:
    z, u = _draw(2_000_000, np.uint64(12345), 0)
    n = z.size
    assert abs(z.mean()) < 4 / math.sqrt(n)
    assert abs(z.var() - 1.0) < 4 * math.sqrt(2 / n)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    tail = np.mean(np.abs(z) > 3.6541528853610088)  # beyond the base strip: the tail sampler
    expected = 2 * stats.norm.sf(3.6541528853610088)
    assert abs(tail - expected) < 5 * math.sqrt(expected / n)
    assert u.min() > 0.0 and u.max() < 1.0 and stats.kstest(u, "uniform").pvalue > 1e-3


def test_blocks_are_independent_streams() -> None:
    a, _ = _draw(100_000, np.uint64(7), 0)
    b, _ = _draw(100_000, np.uint64(7), 1)
    c, _ = _draw(100_000, np.uint64(7), 0)
    assert np.array_equal(a, c)
    assert abs(np.corrcoef(a, b)[0, 1]) < 4 / math.sqrt(a.size)
