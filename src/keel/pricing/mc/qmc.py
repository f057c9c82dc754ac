"""Randomized quasi-Monte Carlo normals: scrambled Sobol points (``scipy.stats.qmc``) mapped
to Brownian increments by the Brownian-bridge construction.

The bridge spends the best Sobol coordinates on the coarse shape of the path: coordinate 0
sets ``W_T``, the next ones the midpoints of ever finer intervals (breadth first).  The
increments come back divided by ``√dt``, i.e. as the iid standard normals a pseudo-random
run would use, so the simulation kernels take either source unchanged.
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri
from scipy.stats import qmc

__all__ = ["MAX_SOBOL_DIM", "bridge_order", "sobol_normals"]

MAX_SOBOL_DIM = 21201


def bridge_order(n_steps: int) -> list[tuple[int, int, int]]:
    """``(point, left, right)`` grid indices in the order the bridge fills them (``left=-1``
    for the first point, the terminal one)."""
    order: list[tuple[int, int, int]] = [(n_steps, -1, 0)]
    queue = [(0, n_steps)]
    while queue:
        nxt: list[tuple[int, int]] = []
        for lo, hi in queue:
            if hi - lo > 1:
                mid = (lo + hi) // 2
                order.append((mid, lo, hi))
                nxt.append((lo, mid))
                nxt.append((mid, hi))
        queue = nxt
    return order


def _bridge(z: npt.NDArray[np.float64], order: list[tuple[int, int, int]]) -> npt.NDArray[np.float64]:
    """Standard-normal increments (unit step length) from bridge-ordered normals ``z`` (m, n)."""
    m, n = z.shape
    w = np.zeros((m, n + 1))
    for j, (pt, lo, hi) in enumerate(order):
        if lo < 0:
            w[:, pt] = np.sqrt(float(pt)) * z[:, j]
        else:
            a = float(hi - pt)
            b = float(pt - lo)
            w[:, pt] = (a * w[:, lo] + b * w[:, hi]) / (a + b) + np.sqrt(a * b / (a + b)) * z[:, j]
    return np.diff(w, axis=1)


def sobol_normals(n_points: int, n_steps: int, n_factors: int, seed: int) -> npt.NDArray[np.float64]:
    """``(n_points, n_factors * n_steps)`` normals: factor ``f`` in columns ``f*n_steps ..``.

    Sobol coordinates are interleaved across factors (coordinate ``n_factors*j + f`` is the
    ``j``-th bridge coordinate of factor ``f``) and scrambled with ``seed``."""
    dim = n_factors * n_steps
    sob = qmc.Sobol(d=dim, scramble=True, rng=np.random.default_rng(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # balance warning for non powers of two
        u = sob.random(n_points)
    u = np.clip(u, 1e-16, 1.0 - 1e-16)
    g = ndtri(u)
    order = bridge_order(n_steps)
    out = np.empty((n_points, dim))
    for f in range(n_factors):
        out[:, f * n_steps : (f + 1) * n_steps] = _bridge(np.ascontiguousarray(g[:, f::n_factors]), order)
    return out
