"""Robust statistics of a handful of sources: weighted quantiles, MAD outlier rejection, Pyth votes.

Pure numba kernels (values in, values out; the only writes go to the output arrays passed in).

Weighted quantile convention (``weighted_quantile``): sort the values; with cumulative weight
``C_j`` and total ``W``, the q-quantile is the first value with ``C_j >= q W``; when ``C_j``
equals ``q W`` exactly, it is the mean of that value and the next one.  With equal weights this
is numpy's ``averaged_inverted_cdf`` (so q = 0.5 is the ordinary median).

Pyth aggregation (``pyth_aggregate``): each source votes ``p - c``, ``p`` and ``p + c`` with its
weight; the price is the median vote; the confidence is ``max(price - P25, P75 - price)`` over
the votes (Pyth's published algorithm, "Pyth Price and Confidence Aggregation", 2021).  The
median vote minimizes ``sum_i w_i (|R - p_i| + 2 max(|R - p_i| - c_i, 0)) / 3``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = [
    "MAD_TO_SIGMA",
    "mad_outliers",
    "pyth_aggregate",
    "sort_by_value",
    "weighted_median",
    "weighted_quantile",
    "weighted_quantile_sorted",
]

MAD_TO_SIGMA = 1.4826  # sigma = 1.4826 * MAD for normally distributed noise
_REL_TOL = 1e-12

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@njit(cache=True)
def sort_by_value(values: FloatArray, weights: FloatArray, n: int) -> None:
    """Sort the first ``n`` entries of ``values`` in place, carrying ``weights`` (stable insertion sort)."""
    for i in range(1, n):
        v = values[i]
        w = weights[i]
        j = i - 1
        while j >= 0 and values[j] > v:
            values[j + 1] = values[j]
            weights[j + 1] = weights[j]
            j -= 1
        values[j + 1] = v
        weights[j + 1] = w


@njit(cache=True)
def weighted_quantile_sorted(values: FloatArray, weights: FloatArray, n: int, total: float, q: float) -> float:
    """q-quantile of the first ``n`` sorted values with positive ``weights`` summing to ``total``."""
    if n == 0:
        return np.nan
    target = q * total
    tol = _REL_TOL * total
    cum = 0.0
    for j in range(n):
        cum += weights[j]
        if cum >= target - tol:
            if abs(cum - target) <= tol and j + 1 < n:
                return float(0.5 * (values[j] + values[j + 1]))
            return float(values[j])
    return float(values[n - 1])


@njit(cache=True)
def weighted_quantile(values: FloatArray, weights: FloatArray, q: float) -> float:
    """q-quantile (0 < q < 1) of ``values`` with positive ``weights`` (copies; inputs untouched)."""
    n = values.shape[0]
    v = values.copy()
    w = weights.copy()
    order = np.argsort(v, kind="mergesort")
    total = 0.0
    for i in range(n):
        v[i] = values[order[i]]
        w[i] = weights[order[i]]
        total += w[i]
    return weighted_quantile_sorted(v, w, n, total, q)


@njit(cache=True)
def weighted_median(values: FloatArray, weights: FloatArray) -> float:
    """Weighted median (the 0.5 weighted quantile)."""
    return weighted_quantile(values, weights, 0.5)


@njit(cache=True)
def mad_outliers(
    prices: FloatArray,
    weights: FloatArray,
    mask: BoolArray,
    mad_k: float,
    min_dev_frac: float,
    out: FloatArray,
) -> int:
    """Clear ``mask[i]`` for each outlier among the masked prices; return how many remain.

    Median ``m`` and MAD are weighted over the masked prices; ``i`` is an outlier when
    ``|p_i - m| > max(mad_k * 1.4826 * MAD, min_dev_frac * m)``.  Writes ``out[0] = m``,
    ``out[1] = MAD``, ``out[2] = threshold``.
    """
    n = prices.shape[0]
    v = np.empty(n)
    w = np.empty(n)
    k = 0
    total = 0.0
    for i in range(n):
        if mask[i]:
            v[k] = prices[i]
            w[k] = weights[i]
            total += weights[i]
            k += 1
    if k == 0:
        out[0] = np.nan
        out[1] = np.nan
        out[2] = np.nan
        return 0
    sort_by_value(v, w, k)
    med = weighted_quantile_sorted(v, w, k, total, 0.5)
    k = 0
    for i in range(n):
        if mask[i]:
            v[k] = abs(prices[i] - med)
            w[k] = weights[i]
            k += 1
    sort_by_value(v, w, k)
    mad = weighted_quantile_sorted(v, w, k, total, 0.5)
    thresh = max(mad_k * MAD_TO_SIGMA * mad, min_dev_frac * med)
    kept = 0
    for i in range(n):
        if mask[i]:
            if abs(prices[i] - med) > thresh:
                mask[i] = False
            else:
                kept += 1
    out[0] = med
    out[1] = mad
    out[2] = thresh
    return kept


@njit(cache=True)
def pyth_aggregate(prices: FloatArray, confs: FloatArray, weights: FloatArray, mask: BoolArray, out: FloatArray) -> int:
    """Pyth vote aggregation over the masked sources: ``out[0]`` price, ``out[1]`` confidence,
    ``out[2]`` P25, ``out[3]`` P75 of the votes.  Returns the number of sources voting."""
    n = prices.shape[0]
    v = np.empty(3 * n)
    w = np.empty(3 * n)
    k = 0
    total = 0.0
    used = 0
    for i in range(n):
        if mask[i]:
            p = prices[i]
            c = confs[i]
            wi = weights[i]
            v[k] = p - c
            v[k + 1] = p
            v[k + 2] = p + c
            w[k] = wi
            w[k + 1] = wi
            w[k + 2] = wi
            total += 3.0 * wi
            k += 3
            used += 1
    if used == 0:
        out[0] = np.nan
        out[1] = np.nan
        out[2] = np.nan
        out[3] = np.nan
        return 0
    sort_by_value(v, w, k)
    agg = weighted_quantile_sorted(v, w, k, total, 0.5)
    p25 = weighted_quantile_sorted(v, w, k, total, 0.25)
    p75 = weighted_quantile_sorted(v, w, k, total, 0.75)
    out[0] = agg
    out[1] = max(agg - p25, p75 - agg)
    out[2] = p25
    out[3] = p75
    return used
