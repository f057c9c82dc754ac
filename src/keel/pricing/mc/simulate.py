"""Numba kernels: model transitions, running payoff statistics, block-parallel reduction.

Memory is O(n_paths / block) for built-in payoffs: each path keeps running statistics
(sum of fixings, log-sum, survival probability, running minimum) instead of its history.
Paths run in antithetic-or-independent *pairs* of lanes.  Work is split into blocks of
pairs; block ``b`` uses its own random stream (``keel.pricing.mc.rng``) and writes its own
row of sums, so the result does not depend on thread count or scheduling.

State variable ``x``: ``ln S`` for GBM/Merton/Heston (``logspace=1``), the level ``X``
for Ornstein-Uhlenbeck (``logspace=0``).  The payoff sees ``s = e^x`` (or ``x``).

Model codes and the constants ``c0..c7`` each transition uses (built by
``keel.pricing.mc.engine``):

- 0 GBM exact: c0 = (r-q-σ²/2)dt, c1 = σ√dt.
- 1 Merton exact: c0 = (r-q-λκ-σ²/2)dt, c1 = σ√dt, c2 = λ dt, c3 = μ_J, c4 = σ_J.
- 2 Heston, Andersen QE with martingale correction: c0 = e^{-κdt}, c1 = ξ²e(1-e)/κ,
  c2 = θξ²(1-e)²/(2κ), c3 = θ, c4 = ρ/ξ, c5 = (κρ/ξ - 1/2) dt / 2, c6 = (1-ρ²) dt / 2,
  c7 = (r-q) dt.  (Central weights γ1 = γ2 = 1/2, ψ_c = 1.5.)
- 3 Ornstein-Uhlenbeck exact: c0 = e^{-κdt}, c1 = μ, c2 = σ√((1-e^{-2κdt})/(2κ)).

Payoff codes: 0 European, 1 arithmetic Asian, 2 geometric Asian, 3 barrier, 4 floating
lookback call, 5 digital.  Control variates: 0 none, 1 geometric Asian, 2 European.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from keel.pricing.mc.rng import block_state, std_normal, std_normal_call, uniform01
from keel.pricing.simd import exp_taylor13

__all__ = ["fill_paths", "simulate_sums"]

_SQRT1_2 = 0.7071067811865476
_PSI_C = 1.5


@njit(cache=True, inline="always")
def _heston_step(
    x: float,
    v: float,
    zv: float,
    zs: float,
    c0: float,
    c1: float,
    c2: float,
    c3: float,
    c4: float,
    c5: float,
    c6: float,
    c7: float,
) -> tuple[float, float]:
    """One QE step of (ln S, v) with Andersen's martingale correction.

    ``k0`` makes ``E[S_{t+dt} | S_t, v_t] = S_t e^{(r-q)dt}`` exactly.  Where the moment the
    correction needs does not exist (``A >= 1/(2a)`` or ``A >= β``, large positive ``ρ/ξ``) the
    step keeps only the ``-(K1 + K3/2) v_t`` part of it (a small drift bias, documented)."""
    m = c3 + (v - c3) * c0
    s2 = v * c1 + c2
    k1 = c5 - c4
    k2 = c5 + c4
    a_coef = k2 + 0.5 * c6
    if m <= 0.0:
        v1 = 0.0
        k0 = -(k1 + 0.5 * c6) * v
        return x + c7 + k0 + k1 * v + math.sqrt(c6 * v) * zs, v1
    psi = s2 / (m * m)
    if psi <= _PSI_C:
        t = 2.0 / psi
        b2 = t - 1.0 + math.sqrt(t) * math.sqrt(t - 1.0)
        a = m / (1.0 + b2)
        bb = math.sqrt(b2) + zv
        v1 = a * bb * bb
        den = 1.0 - 2.0 * a_coef * a
        if den > 0.0:
            lnm = a_coef * b2 * a / den - 0.5 * math.log(den)
            k0 = -lnm - (k1 + 0.5 * c6) * v
        else:
            k0 = -(k1 + 0.5 * c6) * v
    else:
        p = (psi - 1.0) / (psi + 1.0)
        beta = (1.0 - p) / m
        u = 0.5 * math.erfc(-zv * _SQRT1_2)
        if u <= p:
            v1 = 0.0
        else:
            v1 = math.log((1.0 - p) / (1.0 - u)) / beta
        if a_coef < beta:
            mm = p + beta * (1.0 - p) / (beta - a_coef)
            k0 = -math.log(mm) - (k1 + 0.5 * c6) * v
        else:
            k0 = -(k1 + 0.5 * c6) * v
    return x + c7 + k0 + k1 * v + k2 * v1 + math.sqrt(c6 * (v + v1)) * zs, v1


@njit(cache=True)
def _poisson(lam: float, u: float) -> int:
    """Poisson(lam) by inversion of one uniform (lam = λ dt is small)."""
    p = math.exp(-lam)
    cdf = p
    n = 0
    while u > cdf and n < 1000:
        n += 1
        p *= lam / n
        cdf += p
    return n


@njit(cache=True, inline="always")
def _update(
    k: int,
    x0: float,
    s0: float,
    xm: float,
    x1: float,
    s1: float,
    var: float,
    dt: float,
    avg_on: bool,
    fix_every: int,
    bar_on: bool,
    down: bool,
    h: float,
    rebate: float,
    r: float,
    min_on: bool,
    u_min: float,
    z_int: float,
    asum: float,
    gsum: float,
    surv: float,
    reb: float,
    xmin: float,
) -> tuple[float, float, float, float, float]:
    """Advance a path's running statistics over step k (from x0 through xm, jump to x1)."""
    if avg_on:
        if fix_every > 0:
            if k % fix_every == 0:
                asum += s1
                gsum += x1
        else:
            asum += 0.5 * (s0 + s1) * dt
            gsum += 0.5 * (x0 + x1) * dt + math.sqrt(var * dt * dt / 12.0) * z_int
    if bar_on and surv > 0.0:
        if down:
            d0 = x0 - h
            d1 = xm - h
            d2 = x1 - h
        else:
            d0 = h - x0
            d1 = h - xm
            d2 = h - x1
        if d1 <= 0.0 or d2 <= 0.0:
            p = 1.0
        elif var > 0.0:
            p = math.exp(-2.0 * d0 * d1 / var)
        else:
            p = 0.0
        if p > 0.0:
            reb += surv * p * rebate * math.exp(-r * (k - 0.5) * dt)
            surv *= 1.0 - p
    if min_on:
        dx = xm - x0
        m = 0.5 * (x0 + xm - math.sqrt(dx * dx - 2.0 * var * math.log(u_min)))
        if m < xmin:
            xmin = m
        if x1 < xmin:
            xmin = x1
    return asum, gsum, surv, reb, xmin


@njit(cache=True, inline="always")
def _finish(
    code: int,
    cv: int,
    logspace: bool,
    sign: float,
    K: float,
    cv_sign: float,
    cv_K: float,
    s_min: float,
    out: bool,
    rebate: float,
    df: float,
    div: float,
    sT: float,
    asum: float,
    gsum: float,
    surv: float,
    reb: float,
    xmin: float,
) -> tuple[float, float]:
    """Discounted payoff and control-variate value of one finished path."""
    y = 0.0
    if code == 0:
        y = max(sign * (sT - K), 0.0) * df
    elif code == 1:
        y = max(asum / div - K, 0.0) * df
    elif code == 2:
        y = max(math.exp(gsum / div) - K, 0.0) * df
    elif code == 3:
        van = max(sign * (sT - K), 0.0) * df
        if out:
            y = surv * van + reb
        else:
            y = (1.0 - surv) * van + surv * rebate * df
    elif code == 4:
        mn = math.exp(xmin) if logspace else xmin
        y = (sT - min(s_min, mn)) * df
    else:
        y = df if sign * (sT - K) > 0.0 else 0.0
    xcv = 0.0
    if cv == 1:
        xcv = max(math.exp(gsum / div) - cv_K, 0.0) * df
    elif cv == 2:
        xcv = max(cv_sign * (sT - cv_K), 0.0) * df
    return y, xcv


@njit(cache=True, inline="always")
def _advance(
    model: int,
    k: int,
    n_steps: int,
    dt: float,
    xa: float,
    xb: float,
    va: float,
    vb: float,
    ra: int,
    antithetic: bool,
    use_z: bool,
    zarr: npt.NDArray[np.float64],
    c0: float,
    c1: float,
    c2: float,
    c3: float,
    c4: float,
    c5: float,
    c6: float,
    c7: float,
    s0_: np.uint64,
    s1_: np.uint64,
    s2_: np.uint64,
    s3_: np.uint64,
    zx: npt.NDArray[np.float64],
    zr: npt.NDArray[np.float64],
    zf: npt.NDArray[np.float64],
) -> tuple[float, float, float, float, float, float, float, float, np.uint64, np.uint64, np.uint64, np.uint64]:
    """Step k of a pair of lanes: draw (or read, for QMC) the normals and apply the model.

    Returns the lanes' pre-jump and post-step states, the bridge variances of the step,
    the new variances (Heston) and the advanced random state."""
    # --- normals driving this step (lane a, lane b)
    if use_z:
        za = zarr[ra, k - 1]
        zb = -za if antithetic else zarr[ra + 1, k - 1]
        if model == 2:
            wa = zarr[ra, n_steps + k - 1]
            wb = -wa if antithetic else zarr[ra + 1, n_steps + k - 1]
        else:
            wa = 0.0
            wb = 0.0
    else:
        za, s0_, s1_, s2_, s3_ = std_normal_call(s0_, s1_, s2_, s3_, zx, zr, zf)
        if antithetic:
            zb = -za
        else:
            zb, s0_, s1_, s2_, s3_ = std_normal_call(s0_, s1_, s2_, s3_, zx, zr, zf)
        if model == 2:
            wa, s0_, s1_, s2_, s3_ = std_normal_call(s0_, s1_, s2_, s3_, zx, zr, zf)
            if antithetic:
                wb = -wa
            else:
                wb, s0_, s1_, s2_, s3_ = std_normal_call(s0_, s1_, s2_, s3_, zx, zr, zf)
        else:
            wa = 0.0
            wb = 0.0
    # --- model transition
    if model == 0:
        xma = xa + c0 + c1 * za
        xmb = xb + c0 + c1 * zb
        x1a = xma
        x1b = xmb
        var_a = c1 * c1
        var_b = var_a
    elif model == 1:
        xma = xa + c0 + c1 * za
        xmb = xb + c0 + c1 * zb
        x1a = xma
        x1b = xmb
        if c2 > 0.0:
            u, s0_, s1_, s2_, s3_ = uniform01(s0_, s1_, s2_, s3_)
            nja = _poisson(c2, u)
            if antithetic:
                njb = nja
            else:
                u, s0_, s1_, s2_, s3_ = uniform01(s0_, s1_, s2_, s3_)
                njb = _poisson(c2, u)
            if nja > 0 or njb > 0:
                zj, s0_, s1_, s2_, s3_ = std_normal_call(s0_, s1_, s2_, s3_, zx, zr, zf)
                x1a += nja * c3 + math.sqrt(nja) * c4 * zj
                if antithetic:
                    x1b += njb * c3 - math.sqrt(njb) * c4 * zj
                else:
                    zj, s0_, s1_, s2_, s3_ = std_normal_call(s0_, s1_, s2_, s3_, zx, zr, zf)
                    x1b += njb * c3 + math.sqrt(njb) * c4 * zj
        var_a = c1 * c1
        var_b = var_a
    elif model == 2:
        x1a, v1a = _heston_step(xa, va, wa, za, c0, c1, c2, c3, c4, c5, c6, c7)
        x1b, v1b = _heston_step(xb, vb, wb, zb, c0, c1, c2, c3, c4, c5, c6, c7)
        xma = x1a
        xmb = x1b
        var_a = 0.5 * (va + v1a) * dt
        var_b = 0.5 * (vb + v1b) * dt
        va = v1a
        vb = v1b
    else:
        x1a = c1 + (xa - c1) * c0 + c2 * za
        x1b = c1 + (xb - c1) * c0 + c2 * zb
        xma = x1a
        xmb = x1b
        var_a = c2 * c2
        var_b = var_a
    return xma, xmb, x1a, x1b, var_a, var_b, va, vb, s0_, s1_, s2_, s3_


@njit(cache=True, parallel=True)
def simulate_sums(
    model: int,
    c: npt.NDArray[np.float64],
    x0: float,
    n_steps: int,
    dt: float,
    n_pairs: int,
    block_pairs: int,
    seed: np.uint64,
    antithetic: bool,
    zarr: npt.NDArray[np.float64],
    use_z: bool,
    pi: npt.NDArray[np.int64],
    pf: npt.NDArray[np.float64],
    zx: npt.NDArray[np.float64],
    zr: npt.NDArray[np.float64],
    zf: npt.NDArray[np.float64],
    block0: int = 0,
) -> npt.NDArray[np.float64]:
    """Per-block sums ``[Σy, Σy², Σx, Σx², Σxy]`` of discounted payoff y and control x.

    A sample is a pair's mean when ``antithetic`` and a single lane otherwise.  ``block0``: the
    global index of this call's first block (its stream), so a run split into block ranges
    across processes draws exactly the numbers one call would.
    ``pi = [code, fix_every, cv, logspace, down, out, avg_on, bar_on, min_on, int_on]``,
    ``pf = [sign, K, h, rebate, s_min, cv_sign, cv_K, r, T, div, v0]``."""
    n_blocks = (n_pairs + block_pairs - 1) // block_pairs
    res = np.zeros((n_blocks, 5))
    code = pi[0]
    fix_every = pi[1]
    cv = pi[2]
    logspace = pi[3] != 0
    down = pi[4] != 0
    out = pi[5] != 0
    avg_on = pi[6] != 0
    bar_on = pi[7] != 0
    min_on = pi[8] != 0
    int_on = pi[9] != 0
    sign = pf[0]
    K = pf[1]
    h = pf[2]
    rebate = pf[3]
    s_min = pf[4]
    cv_sign = pf[5]
    cv_K = pf[6]
    r = pf[7]
    T = pf[8]
    div = pf[9]
    v0 = pf[10]
    df = math.exp(-r * T)
    c0 = c[0]
    c1 = c[1]
    c2 = c[2]
    c3 = c[3]
    c4 = c[4]
    c5 = c[5]
    c6 = c[6]
    c7 = c[7]
    s_start = math.exp(x0) if logspace else x0
    for b in prange(n_blocks):
        s0_, s1_, s2_, s3_ = block_state(seed, block0 + b)
        p_lo = b * block_pairs
        p_hi = min(p_lo + block_pairs, n_pairs)
        sy = 0.0
        syy = 0.0
        sx = 0.0
        sxx = 0.0
        sxy = 0.0
        for p in range(p_lo, p_hi):
            xa = x0
            xb = x0
            sa = s_start
            sb = s_start
            va = v0
            vb = v0
            asa = 0.0
            asb = 0.0
            gsa = 0.0
            gsb = 0.0
            sva = 1.0
            svb = 1.0
            rba = 0.0
            rbb = 0.0
            mna = x0
            mnb = x0
            ra = p if antithetic else 2 * p
            for k in range(1, n_steps + 1):
                (xma, xmb, x1a, x1b, var_a, var_b, va, vb, s0_, s1_, s2_, s3_) = _advance(
                    model, k, n_steps, dt, xa, xb, va, vb, ra, antithetic, use_z, zarr,
                    c0, c1, c2, c3, c4, c5, c6, c7, s0_, s1_, s2_, s3_, zx, zr, zf,
                )  # fmt: skip
                s1a = math.exp(x1a) if logspace else x1a
                s1b = math.exp(x1b) if logspace else x1b
                # --- extra randomness some payoffs need
                u_a = 0.5
                u_b = 0.5
                if min_on:
                    u_a, s0_, s1_, s2_, s3_ = uniform01(s0_, s1_, s2_, s3_)
                    if antithetic:
                        u_b = u_a
                    else:
                        u_b, s0_, s1_, s2_, s3_ = uniform01(s0_, s1_, s2_, s3_)
                zi_a = 0.0
                zi_b = 0.0
                if int_on:
                    zi_a, s0_, s1_, s2_, s3_ = std_normal_call(s0_, s1_, s2_, s3_, zx, zr, zf)
                    if antithetic:
                        zi_b = -zi_a
                    else:
                        zi_b, s0_, s1_, s2_, s3_ = std_normal_call(s0_, s1_, s2_, s3_, zx, zr, zf)
                asa, gsa, sva, rba, mna = _update(
                    k, xa, sa, xma, x1a, s1a, var_a, dt, avg_on, fix_every, bar_on, down, h, rebate, r,
                    min_on, u_a, zi_a, asa, gsa, sva, rba, mna,
                )  # fmt: skip
                asb, gsb, svb, rbb, mnb = _update(
                    k, xb, sb, xmb, x1b, s1b, var_b, dt, avg_on, fix_every, bar_on, down, h, rebate, r,
                    min_on, u_b, zi_b, asb, gsb, svb, rbb, mnb,
                )  # fmt: skip
                xa = x1a
                xb = x1b
                sa = s1a
                sb = s1b
            ya, xca = _finish(
                code, cv, logspace, sign, K, cv_sign, cv_K, s_min, out, rebate, df, div, sa, asa, gsa, sva, rba, mna
            )
            yb, xcb = _finish(
                code, cv, logspace, sign, K, cv_sign, cv_K, s_min, out, rebate, df, div, sb, asb, gsb, svb, rbb, mnb
            )
            if antithetic:
                y = 0.5 * (ya + yb)
                xc = 0.5 * (xca + xcb)
                sy += y
                syy += y * y
                sx += xc
                sxx += xc * xc
                sxy += xc * y
            else:
                sy += ya + yb
                syy += ya * ya + yb * yb
                sx += xca + xcb
                sxx += xca * xca + xcb * xcb
                sxy += xca * ya + xcb * yb
        res[b, 0] = sy
        res[b, 1] = syy
        res[b, 2] = sx
        res[b, 3] = sxx
        res[b, 4] = sxy
    return res


@njit(cache=True, parallel=True)
def fill_paths(
    model: int,
    c: npt.NDArray[np.float64],
    x0: float,
    s_start: float,
    v0: float,
    logspace: bool,
    n_steps: int,
    dt: float,
    pair0: int,
    n_pairs: int,
    block_pairs: int,
    seed: np.uint64,
    antithetic: bool,
    zarr: npt.NDArray[np.float64],
    use_z: bool,
    zx: npt.NDArray[np.float64],
    zr: npt.NDArray[np.float64],
    zf: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Whole paths of pairs ``pair0 .. pair0 + n_pairs`` (2 rows per pair), ``(2 n_pairs, n_steps + 1)``;
    column 0 is ``s_start`` (the model's exact spot).

    ``pair0`` must be a multiple of ``block_pairs``: block ``pair0 // block_pairs + j`` is drawn
    from the same stream whichever chunk it falls in.  With ``use_z`` row ``2p`` (or ``p``
    when antithetic) of ``zarr`` holds the normals of pair ``p`` of this call."""
    out = np.empty((2 * n_pairs, n_steps + 1))
    n_blocks = (n_pairs + block_pairs - 1) // block_pairs
    b0 = pair0 // block_pairs
    c0 = c[0]
    c1 = c[1]
    c2 = c[2]
    c3 = c[3]
    c4 = c[4]
    c5 = c[5]
    c6 = c[6]
    c7 = c[7]
    for b in prange(n_blocks):
        s0_, s1_, s2_, s3_ = block_state(seed, b0 + b)
        p_lo = b * block_pairs
        p_hi = min(p_lo + block_pairs, n_pairs)
        for p in range(p_lo, p_hi):
            xa = x0
            xb = x0
            va = v0
            vb = v0
            out[2 * p, 0] = s_start
            out[2 * p + 1, 0] = s_start
            ra = p if antithetic else 2 * p
            for k in range(1, n_steps + 1):
                (_xma, _xmb, x1a, x1b, _var_a, _var_b, va, vb, s0_, s1_, s2_, s3_) = _advance(
                    model, k, n_steps, dt, xa, xb, va, vb, ra, antithetic, use_z, zarr,
                    c0, c1, c2, c3, c4, c5, c6, c7, s0_, s1_, s2_, s3_, zx, zr, zf,
                )  # fmt: skip
                xa = x1a
                xb = x1b
                out[2 * p, k] = math.exp(xa) if logspace else xa
                out[2 * p + 1, k] = math.exp(xb) if logspace else xb
    return out


_EXP_POLY_LIMIT = 0.35  # |w| bound for the Taylor exponential below (error < 4e-16 relative)


@njit(cache=True, parallel=True)
def gbm_fast_sums(
    c: npt.NDArray[np.float64],
    x0: float,
    n_steps: int,
    n_pairs: int,
    block_pairs: int,
    seed: np.uint64,
    antithetic: bool,
    zarr: npt.NDArray[np.float64],
    use_z: bool,
    pi: npt.NDArray[np.int64],
    pf: npt.NDArray[np.float64],
    zx: npt.NDArray[np.float64],
    zr: npt.NDArray[np.float64],
    zf: npt.NDArray[np.float64],
    block0: int = 0,
) -> npt.NDArray[np.float64]:
    """:func:`simulate_sums` specialized to GBM with a European or discretely fixed Asian payoff.

    Each block advances its pairs step by step as small arrays: a scalar loop draws the
    step's normals, a branch-free loop (vectorized by LLVM) applies ``S *= e^{w}`` with the
    antithetic partner ``S' *= e^{2 c0} / e^{w}`` (one exponential per pair) and the fixings.
    The exponential is the Taylor polynomial when every ``|w| <= 0.35`` in the step, else
    ``math.exp``.  Same inputs and outputs as :func:`simulate_sums`."""
    n_blocks = (n_pairs + block_pairs - 1) // block_pairs
    res = np.zeros((n_blocks, 5))
    code = pi[0]
    fix_every = pi[1]
    cv = pi[2]
    need_geo = code == 2 or cv == 1
    sign = pf[0]
    K = pf[1]
    cv_sign = pf[5]
    cv_K = pf[6]
    r = pf[7]
    T = pf[8]
    div = pf[9]
    df = math.exp(-r * T)
    c0 = c[0]
    c1 = c[1]
    g2 = math.exp(2.0 * c0)
    s_start = math.exp(x0)
    z_lim = (_EXP_POLY_LIMIT - abs(c0)) / c1 if c1 > 0.0 else np.inf
    for b in prange(n_blocks):
        s0_, s1_, s2_, s3_ = block_state(seed, block0 + b)
        p_lo = b * block_pairs
        m = min(p_lo + block_pairs, n_pairs) - p_lo
        lanes = m if antithetic else 2 * m
        z = np.empty(lanes)
        sa = np.full(lanes, s_start)
        sb = np.full(m, s_start)
        xa = np.full(lanes, x0)
        asa = np.zeros(lanes)
        asb = np.zeros(m)
        gsa = np.zeros(lanes)
        gfix = 0.0  # Σ over fixings of 2 (x0 + k c0): the antithetic partner's log-sum is gfix - gsa
        for k in range(1, n_steps + 1):
            small = True
            for j in range(lanes):
                if use_z:
                    row = (p_lo + j) if antithetic else (2 * p_lo + j)
                    zj = zarr[row, k - 1]
                else:
                    zj, s0_, s1_, s2_, s3_ = std_normal(s0_, s1_, s2_, s3_, zx, zr, zf)
                z[j] = zj
                if abs(zj) > z_lim:
                    small = False
            if antithetic:
                if small:
                    for j in range(lanes):
                        w = c0 + c1 * z[j]
                        e = exp_taylor13(w)
                        sa[j] *= e
                        sb[j] *= g2 / e
                        xa[j] += w
                else:
                    for j in range(lanes):
                        w = c0 + c1 * z[j]
                        e = math.exp(w)
                        sa[j] *= e
                        sb[j] *= g2 / e
                        xa[j] += w
            else:
                if small:
                    for j in range(lanes):
                        w = c0 + c1 * z[j]
                        sa[j] *= exp_taylor13(w)
                        xa[j] += w
                else:
                    for j in range(lanes):
                        w = c0 + c1 * z[j]
                        sa[j] *= math.exp(w)
                        xa[j] += w
            if fix_every > 0 and k % fix_every == 0:
                for j in range(lanes):
                    asa[j] += sa[j]
                if antithetic:
                    for j in range(m):
                        asb[j] += sb[j]
                if need_geo:
                    for j in range(lanes):
                        gsa[j] += xa[j]
                    gfix += 2.0 * (x0 + k * c0)
        sy = 0.0
        syy = 0.0
        sx = 0.0
        sxx = 0.0
        sxy = 0.0
        per = 2 if not antithetic else 1
        for i in range(lanes // per if not antithetic else m):
            if antithetic:
                j = i
                ya, xca = _finish(
                    code,
                    cv,
                    True,
                    sign,
                    K,
                    cv_sign,
                    cv_K,
                    0.0,
                    False,
                    0.0,
                    df,
                    div,
                    sa[j],
                    asa[j],
                    gsa[j],
                    1.0,
                    0.0,
                    0.0,
                )
                yb, xcb = _finish(
                    code,
                    cv,
                    True,
                    sign,
                    K,
                    cv_sign,
                    cv_K,
                    0.0,
                    False,
                    0.0,
                    df,
                    div,
                    sb[j],
                    asb[j],
                    gfix - gsa[j],
                    1.0,
                    0.0,
                    0.0,
                )
                y = 0.5 * (ya + yb)
                xc = 0.5 * (xca + xcb)
                sy += y
                syy += y * y
                sx += xc
                sxx += xc * xc
                sxy += xc * y
            else:
                for j in (2 * i, 2 * i + 1):
                    y, xc = _finish(
                        code,
                        cv,
                        True,
                        sign,
                        K,
                        cv_sign,
                        cv_K,
                        0.0,
                        False,
                        0.0,
                        df,
                        div,
                        sa[j],
                        asa[j],
                        gsa[j],
                        1.0,
                        0.0,
                        0.0,
                    )
                    sy += y
                    syy += y * y
                    sx += xc
                    sxx += xc * xc
                    sxy += xc * y
        res[b, 0] = sy
        res[b, 1] = syy
        res[b, 2] = sx
        res[b, 3] = sxx
        res[b, 4] = sxy
    return res
