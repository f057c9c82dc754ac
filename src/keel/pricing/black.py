"""Parallel numba kernels: Black-Scholes-Merton / Black-76 prices and Greeks over flat arrays.

Every input is a 1-D float64 array of length ``n`` or of length 1 (a broadcast scalar);
outputs have length ``n``.  The loops run on all cores (``prange``).

Validity: ``S, K > 0``, ``T, sigma >= 0``, all finite, ``sign`` in {+1, -1}, finite ``r, q``
(``df > 0``).  An invalid element yields NaN in every output and the kernel returns the index
of the first invalid element (or -1), so the caller can raise an error naming it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from keel.pricing.kernels import norm_cdf

__all__ = ["black76_kernel", "bs_greeks_kernel", "bs_greeks_scalar", "bs_price_kernel", "first_invalid", "greeks_one"]

F64 = npt.NDArray[np.float64]

_SQRT_2PI = 2.5066282746310002


@njit(cache=True, inline="always")
def _at(a: F64, i: int) -> float:
    return float(a[i]) if a.shape[0] > 1 else float(a[0])


@njit(cache=True, inline="always")
def _valid(sign: float, S: float, K: float, T: float, sigma: float, r: float, q: float) -> bool:
    return (
        (sign == 1.0 or sign == -1.0)
        and 0.0 < S < math.inf
        and 0.0 < K < math.inf
        and 0.0 <= T < math.inf
        and 0.0 <= sigma < math.inf
        and -math.inf < r < math.inf
        and -math.inf < q < math.inf
    )


@njit(cache=True, parallel=True)
def bs_price_kernel(sign: F64, S: F64, K: F64, T: F64, r: F64, q: F64, sigma: F64, out: F64) -> int:
    """Black-Scholes-Merton prices into ``out``; returns the first invalid index or -1."""
    n = out.shape[0]
    bad = np.full(n, False)
    for i in prange(n):
        w = _at(sign, i)
        s_ = _at(S, i)
        k_ = _at(K, i)
        t_ = _at(T, i)
        r_ = _at(r, i)
        q_ = _at(q, i)
        v_ = _at(sigma, i)
        if not _valid(w, s_, k_, t_, v_, r_, q_):
            out[i] = math.nan
            bad[i] = True
            continue
        df = math.exp(-r_ * t_)
        dq = math.exp(-q_ * t_)
        sd = v_ * math.sqrt(t_)
        if sd > 0.0:
            d1 = (math.log(s_ / k_) + (r_ - q_) * t_) / sd + 0.5 * sd
            d2 = d1 - sd
            out[i] = w * (s_ * dq * norm_cdf(w * d1) - k_ * df * norm_cdf(w * d2))
        else:
            out[i] = max(w * (s_ * dq - k_ * df), 0.0)
    return first_invalid(bad)


@njit(cache=True, parallel=True)
def black76_kernel(sign: F64, F: F64, K: F64, T: F64, sigma: F64, df: F64, out: F64) -> int:
    """Black-76 prices into ``out``; returns the first invalid index or -1."""
    n = out.shape[0]
    bad = np.full(n, False)
    for i in prange(n):
        w = _at(sign, i)
        f_ = _at(F, i)
        k_ = _at(K, i)
        t_ = _at(T, i)
        v_ = _at(sigma, i)
        d_ = _at(df, i)
        if not (_valid(w, f_, k_, t_, v_, 0.0, 0.0) and 0.0 < d_ < math.inf):
            out[i] = math.nan
            bad[i] = True
            continue
        sd = v_ * math.sqrt(t_)
        if sd > 0.0:
            d1 = math.log(f_ / k_) / sd + 0.5 * sd
            d2 = d1 - sd
            out[i] = d_ * w * (f_ * norm_cdf(w * d1) - k_ * norm_cdf(w * d2))
        else:
            out[i] = d_ * max(w * (f_ - k_), 0.0)
    return first_invalid(bad)


@njit(cache=True, inline="always")
def greeks_one(
    w: float, s_: float, k_: float, t_: float, r_: float, q_: float, v_: float
) -> tuple[float, float, float, float, float, float, float, float]:
    """(price, delta, gamma, vega, theta, rho, vanna, volga) of one valid option (QuantLib conventions)."""
    df = math.exp(-r_ * t_)
    dq = math.exp(-q_ * t_)
    sqt = math.sqrt(t_)
    sd = v_ * sqt
    if sd > 0.0:
        d1 = (math.log(s_ / k_) + (r_ - q_) * t_) / sd + 0.5 * sd
        d2 = d1 - sd
        nd1 = norm_cdf(w * d1)
        nd2 = norm_cdf(w * d2)
        pdf = math.exp(-0.5 * d1 * d1) / _SQRT_2PI
        sq = s_ * dq
        kd = k_ * df
        vega = sq * pdf * sqt
        return (
            w * (sq * nd1 - kd * nd2),
            w * dq * nd1,
            dq * pdf / (s_ * sd),
            vega,
            -sq * pdf * v_ / (2.0 * sqt) - w * r_ * kd * nd2 + w * q_ * sq * nd1,
            w * kd * t_ * nd2,
            -dq * pdf * d2 / v_,
            vega * d1 * d2 / v_,
        )
    # deterministic limit (T = 0 or sigma = 0): V = max(w (S e^{-qT} - K e^{-rT}), 0)
    x = w * (s_ * dq - k_ * df)
    itm = 1.0 if x > 0.0 else (0.5 if x == 0.0 else 0.0)
    return (
        max(x, 0.0),
        w * dq * itm,
        0.0,
        0.0,
        itm * w * (q_ * s_ * dq - r_ * k_ * df),
        itm * w * k_ * t_ * df,
        0.0,
        0.0,
    )


@njit(cache=True, parallel=True)
def bs_greeks_kernel(sign: F64, S: F64, K: F64, T: F64, r: F64, q: F64, sigma: F64, out: F64) -> int:
    """Price and Greeks into ``out`` (shape (8, n)): price, delta, gamma, vega, theta, rho, vanna, volga.

    QuantLib conventions: vega and rho per 1.0, theta per year with theta = -dV/dT,
    vanna = d2V/dS dsigma, volga = d2V/dsigma2.  Returns the first invalid index or -1.
    """
    n = out.shape[1]
    bad = np.full(n, False)
    for i in prange(n):
        w = _at(sign, i)
        s_ = _at(S, i)
        k_ = _at(K, i)
        t_ = _at(T, i)
        r_ = _at(r, i)
        q_ = _at(q, i)
        v_ = _at(sigma, i)
        if not _valid(w, s_, k_, t_, v_, r_, q_):
            for j in range(8):
                out[j, i] = math.nan
            bad[i] = True
            continue
        g = greeks_one(w, s_, k_, t_, r_, q_, v_)
        out[0, i] = g[0]
        out[1, i] = g[1]
        out[2, i] = g[2]
        out[3, i] = g[3]
        out[4, i] = g[4]
        out[5, i] = g[5]
        out[6, i] = g[6]
        out[7, i] = g[7]
    return first_invalid(bad)


@njit(cache=True)
def bs_greeks_scalar(
    w: float, S: float, K: float, T: float, r: float, q: float, sigma: float
) -> tuple[float, float, float, float, float, float, float, float]:
    """Scalar path of :func:`bs_greeks_kernel` for one (validated) option."""
    return greeks_one(w, S, K, T, r, q, sigma)


@njit(cache=True)
def first_invalid(bad: npt.NDArray[np.bool_]) -> int:
    """Index of the first True in ``bad``, or -1."""
    for i in range(bad.shape[0]):
        if bad[i]:
            return i
    return -1
