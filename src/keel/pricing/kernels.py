"""Scalar option-pricing kernels compiled with numba, callable from other numba kernels.

These names are a stable contract for other layers (risk scans, Monte Carlo control
variates): call them from inside your own ``@njit`` functions.

Conventions:
- ``sign`` is +1.0 for a call and -1.0 for a put.
- ``S`` spot, ``F`` forward, ``K`` strike (same units), ``T`` years (ACT/365),
  ``r`` continuously compounded rate, ``q`` continuous dividend/borrow yield,
  ``sigma`` annualized volatility (0.2 = 20%), ``df`` discount factor to expiry.
- ``T == 0`` or ``sigma == 0``: the option is worth its (discounted, forward) intrinsic
  value; delta is the step function (0.5 exactly at the money), gamma and vega are 0.
- Vega is per 1.0 of volatility (not per 1%), as in QuantLib.
- Inputs are not validated here (NaN in, NaN out); validation lives in ``keel.pricing.api``.
"""

from __future__ import annotations

import math

from numba import njit

__all__ = [
    "black76_price",
    "bs_delta",
    "bs_gamma",
    "bs_price",
    "bs_vega",
    "norm_cdf",
    "norm_pdf",
]

_INV_SQRT_2 = 0.7071067811865475244
_INV_SQRT_2PI = 0.3989422804014326779


@njit(cache=True, fastmath=False)
def norm_cdf(x: float) -> float:
    """Standard normal cumulative distribution, accurate in relative terms in the lower tail."""
    return 0.5 * math.erfc(-x * _INV_SQRT_2)


@njit(cache=True, fastmath=False)
def norm_pdf(x: float) -> float:
    """Standard normal density."""
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


@njit(cache=True, fastmath=False)
def black76_price(sign: float, F: float, K: float, T: float, sigma: float, df: float) -> float:
    """Black-76 price ``df * E[max(sign*(F_T - K), 0)]`` of a European option on a forward."""
    s = math.sqrt(T) * sigma
    if not s > 0.0:
        if s == 0.0:
            return df * max(sign * (F - K), 0.0)
        return math.nan
    d1 = math.log(F / K) / s + 0.5 * s
    d2 = d1 - s
    return df * sign * (F * norm_cdf(sign * d1) - K * norm_cdf(sign * d2))


@njit(cache=True, fastmath=False)
def bs_price(sign: float, S: float, K: float, T: float, r: float, q: float, sigma: float) -> float:
    """Black-Scholes-Merton price with continuous yield ``q``; ``T == 0`` gives intrinsic."""
    df = math.exp(-r * T)
    F = S * math.exp((r - q) * T)
    return black76_price(sign, F, K, T, sigma, df)


@njit(cache=True, fastmath=False)
def bs_delta(sign: float, S: float, K: float, T: float, r: float, q: float, sigma: float) -> float:
    """∂V/∂S: ``sign * e^{-qT} N(sign d1)``."""
    dq = math.exp(-q * T)
    s = math.sqrt(T) * sigma
    F = S * math.exp((r - q) * T)
    if not s > 0.0:
        if s == 0.0:
            x = sign * (F - K)
            if x > 0.0:
                return sign * dq
            if x == 0.0:
                return 0.5 * sign * dq
            return 0.0
        return math.nan
    d1 = math.log(F / K) / s + 0.5 * s
    return sign * dq * norm_cdf(sign * d1)


@njit(cache=True, fastmath=False)
def bs_gamma(sign: float, S: float, K: float, T: float, r: float, q: float, sigma: float) -> float:
    """∂²V/∂S² (same for calls and puts): ``e^{-qT} φ(d1) / (S σ √T)``."""
    s = math.sqrt(T) * sigma
    if not s > 0.0:
        if s == 0.0:
            return 0.0
        return math.nan
    F = S * math.exp((r - q) * T)
    d1 = math.log(F / K) / s + 0.5 * s
    return math.exp(-q * T) * norm_pdf(d1) / (S * s)


@njit(cache=True, fastmath=False)
def bs_vega(sign: float, S: float, K: float, T: float, r: float, q: float, sigma: float) -> float:
    """∂V/∂σ per 1.0 of volatility (same for calls and puts): ``S e^{-qT} φ(d1) √T``."""
    s = math.sqrt(T) * sigma
    if not s > 0.0:
        if s == 0.0:
            return 0.0
        return math.nan
    F = S * math.exp((r - q) * T)
    d1 = math.log(F / K) / s + 0.5 * s
    return S * math.exp(-q * T) * norm_pdf(d1) * math.sqrt(T)
