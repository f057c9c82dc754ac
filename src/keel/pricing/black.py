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
from keel.pricing.simd import vexp, vlog, vnorm_cdf

__all__ = [
    "black76_kernel",
    "bs_greeks_kernel",
    "bs_greeks_scalar",
    "bs_greeks_simd_kernel",
    "bs_price_kernel",
    "bs_price_simd_kernel",
    "first_invalid",
    "greeks_one",
]

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


_CHUNK = 4096
_INV_SQRT_2PI = 0.3989422804014326779


@njit(cache=True, error_model="numpy")
def _greeks_block(
    sign: F64, S: F64, K: F64, T: F64, r: F64, q: F64, sigma: F64,
    o0: F64, o1: F64, o2: F64, o3: F64, o4: F64, o5: F64, o6: F64, o7: F64,
) -> None:  # fmt: skip
    """Branch-free Greeks over one block (a separate function so LLVM vectorizes the loop)."""
    for i in range(S.shape[0]):
        w = sign[i]
        s_ = S[i]
        t_ = T[i]
        r_ = r[i]
        q_ = q[i]
        v_ = sigma[i]
        df = vexp(-r_ * t_)
        dq = vexp(-q_ * t_)
        sqt = math.sqrt(t_)
        sd = v_ * sqt
        inv_sd = 1.0 / sd
        inv_v = 1.0 / v_
        d1 = (vlog(s_ / K[i]) + (r_ - q_) * t_) * inv_sd + 0.5 * sd
        d2 = d1 - sd
        nd1 = vnorm_cdf(w * d1)
        nd2 = vnorm_cdf(w * d2)
        pdf = vexp(-0.5 * d1 * d1) * _INV_SQRT_2PI
        sq = s_ * dq
        kd = K[i] * df
        vega = sq * pdf * sqt
        o0[i] = w * (sq * nd1 - kd * nd2)
        o1[i] = w * dq * nd1
        o2[i] = dq * pdf * inv_sd / s_
        o3[i] = vega
        o4[i] = -0.5 * sq * pdf * v_ * v_ * inv_sd - w * r_ * kd * nd2 + w * q_ * sq * nd1
        o5[i] = w * kd * t_ * nd2
        o6[i] = -dq * pdf * d2 * inv_v
        o7[i] = vega * d1 * d2 * inv_v


@njit(cache=True, error_model="numpy")
def _price_block(sign: F64, S: F64, K: F64, T: F64, r: F64, q: F64, sigma: F64, out: F64) -> None:
    """Branch-free prices over one block (vectorized by LLVM)."""
    for i in range(S.shape[0]):
        w = sign[i]
        t_ = T[i]
        sd = sigma[i] * math.sqrt(t_)
        d1 = (vlog(S[i] / K[i]) + (r[i] - q[i]) * t_) * (1.0 / sd) + 0.5 * sd
        call_leg = S[i] * vexp(-q[i] * t_) * vnorm_cdf(w * d1)
        out[i] = w * (call_leg - K[i] * vexp(-r[i] * t_) * vnorm_cdf(w * (d1 - sd)))


@njit(cache=True, error_model="numpy")
def _n_special(sign: F64, S: F64, K: F64, T: F64, r: F64, q: F64, sigma: F64) -> int:
    """How many elements are invalid or deterministic (T = 0 or sigma = 0); branch-free, vectorized."""
    count = 0
    for i in range(S.shape[0]):
        w = sign[i]
        ok = (
            (abs(w) == 1.0)
            & (S[i] > 0.0)
            & (S[i] < math.inf)
            & (K[i] > 0.0)
            & (K[i] < math.inf)
            & (T[i] > 0.0)
            & (T[i] < math.inf)
            & (sigma[i] > 0.0)
            & (sigma[i] < math.inf)
            & (abs(r[i]) < math.inf)
            & (abs(q[i]) < math.inf)
        )
        count += 0 if ok else 1
    return count


@njit(cache=True, parallel=True, error_model="numpy")
def bs_greeks_simd_kernel(
    sign: F64, S: F64, K: F64, T: F64, r: F64, q: F64, sigma: F64,
    o0: F64, o1: F64, o2: F64, o3: F64, o4: F64, o5: F64, o6: F64, o7: F64,
) -> int:  # fmt: skip
    """:func:`bs_greeks_kernel` for full-length inputs, with SIMD exp/log/Φ (:mod:`keel.pricing.simd`).

    Outputs are eight separate contiguous arrays (price, delta, gamma, vega, theta, rho, vanna,
    volga), which become the :class:`~keel.pricing.Greeks` fields.  Each chunk runs a branch-free block LLVM
    vectorizes, then (only if the chunk holds any) a scalar pass that validates the inputs
    (NaN and first-invalid bookkeeping as in the scalar kernel) and redoes ``T = 0`` /
    ``sigma = 0`` elements with the exact deterministic limit.
    """
    n = S.shape[0]
    nchunks = (n + _CHUNK - 1) // _CHUNK
    bad = np.full(nchunks, -1, dtype=np.int64)
    for c in prange(nchunks):
        lo = c * _CHUNK
        hi = min(lo + _CHUNK, n)
        _greeks_block(
            sign[lo:hi], S[lo:hi], K[lo:hi], T[lo:hi], r[lo:hi], q[lo:hi], sigma[lo:hi],
            o0[lo:hi], o1[lo:hi], o2[lo:hi], o3[lo:hi], o4[lo:hi], o5[lo:hi], o6[lo:hi], o7[lo:hi],
        )  # fmt: skip
        if _n_special(sign[lo:hi], S[lo:hi], K[lo:hi], T[lo:hi], r[lo:hi], q[lo:hi], sigma[lo:hi]) == 0:
            continue
        for i in range(lo, hi):
            w = sign[i]
            s_ = S[i]
            k_ = K[i]
            t_ = T[i]
            r_ = r[i]
            q_ = q[i]
            v_ = sigma[i]
            if not _valid(w, s_, k_, t_, v_, r_, q_):
                g = (math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)
                if bad[c] < 0:
                    bad[c] = i
            elif not v_ * t_ > 0.0:
                g = greeks_one(w, s_, k_, t_, r_, q_, v_)
            else:
                continue
            o0[i], o1[i], o2[i], o3[i], o4[i], o5[i], o6[i], o7[i] = g
    for c in range(nchunks):
        if bad[c] >= 0:
            return int(bad[c])
    return -1


@njit(cache=True, parallel=True, error_model="numpy")
def bs_price_simd_kernel(sign: F64, S: F64, K: F64, T: F64, r: F64, q: F64, sigma: F64, out: F64) -> int:
    """:func:`bs_price_kernel` for full-length inputs, with SIMD exp/log/Φ."""
    n = out.shape[0]
    nchunks = (n + _CHUNK - 1) // _CHUNK
    bad = np.full(nchunks, -1, dtype=np.int64)
    for c in prange(nchunks):
        lo = c * _CHUNK
        hi = min(lo + _CHUNK, n)
        _price_block(sign[lo:hi], S[lo:hi], K[lo:hi], T[lo:hi], r[lo:hi], q[lo:hi], sigma[lo:hi], out[lo:hi])
        if _n_special(sign[lo:hi], S[lo:hi], K[lo:hi], T[lo:hi], r[lo:hi], q[lo:hi], sigma[lo:hi]) == 0:
            continue
        for i in range(lo, hi):
            w = sign[i]
            s_ = S[i]
            k_ = K[i]
            t_ = T[i]
            r_ = r[i]
            q_ = q[i]
            v_ = sigma[i]
            if not _valid(w, s_, k_, t_, v_, r_, q_):
                out[i] = math.nan
                if bad[c] < 0:
                    bad[c] = i
            elif not v_ * t_ > 0.0:
                out[i] = max(w * (s_ * math.exp(-q_ * t_) - k_ * math.exp(-r_ * t_)), 0.0)
    for c in range(nchunks):
        if bad[c] >= 0:
            return int(bad[c])
    return -1
