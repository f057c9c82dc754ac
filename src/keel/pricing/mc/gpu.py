"""Array backend of the Monte Carlo engine for CUDA GPUs (CuPy), written against the
numpy API so the same code runs with ``xp = numpy`` (which is how CI tests it).

All paths advance together, one time step at a time, keeping only per-path running
statistics (O(n_paths) device memory).  Same models, schemes, payoff statistics and
estimator as the numba kernels in :mod:`keel.pricing.mc.simulate`; the random numbers come
from the array library's generator seeded with ``seed`` (CuPy's cuRAND-based generator on
the GPU, Philox on the CPU), so prices agree with the CPU backend within standard errors,
not bit for bit.  Selected automatically by :func:`keel.pricing.mc.price` when
:func:`cuda_available` is true.
"""

from __future__ import annotations

import functools
import math
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["cuda_available", "cupy_module", "simulate_sums_xp"]


@functools.cache
def cuda_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount()) > 0
    except Exception:
        return False


def cupy_module() -> ModuleType:
    """The ``cupy`` module (only call when :func:`cuda_available`)."""
    import cupy

    mod: ModuleType = cupy
    return mod


class _Rng:
    """Normals, uniforms on (0, 1) and Poisson counts from the array library's generator."""

    def __init__(self, xp: ModuleType, seed: int) -> None:
        self.xp = xp
        if xp is np:
            self.g: Any = np.random.Generator(np.random.Philox(seed))
        else:
            self.g = xp.random.RandomState(seed)

    def normal(self, n: int) -> Any:
        return self.g.standard_normal(n)

    def uniform(self, n: int) -> Any:
        return self.xp.clip(self.g.uniform(0.0, 1.0, n), 1e-300, 1.0)

    def poisson(self, lam: float, n: int) -> Any:
        return self.g.poisson(lam, n).astype(self.xp.float64)


def _ndtr(xp: ModuleType) -> Any:
    if xp is np:
        from scipy.special import ndtr

        return ndtr
    from cupyx.scipy.special import ndtr as cundtr  # type: ignore[import-not-found]

    return cundtr


def _sqrt(xp: ModuleType, v: Any) -> Any:
    """Square root of a Python float or an array (CuPy's ufuncs take arrays only)."""
    return math.sqrt(v) if isinstance(v, float) else xp.sqrt(v)


def _heston_step(xp: ModuleType, x: Any, v: Any, zv: Any, zs: Any, c: npt.NDArray[np.float64], ndtr: Any) -> Any:
    c0, c1, c2, c3, c4, c5, c6, c7 = (float(t) for t in c)
    k1 = c5 - c4
    k2 = c5 + c4
    a_coef = k2 + 0.5 * c6
    m = c3 + (v - c3) * c0
    s2 = v * c1 + c2
    safe_m = xp.where(m > 0.0, m, 1.0)
    psi = xp.where(m > 0.0, s2 / (safe_m * safe_m), 0.0)
    quad = (psi <= 1.5) & (m > 0.0)
    # quadratic branch
    t = 2.0 / xp.where(quad, psi, 1.0)
    b2 = t - 1.0 + xp.sqrt(t) * xp.sqrt(xp.maximum(t - 1.0, 0.0))
    a = safe_m / (1.0 + b2)
    v_quad = a * (xp.sqrt(b2) + zv) ** 2
    den = 1.0 - 2.0 * a_coef * a
    ok_q = den > 0.0
    lnm_q = xp.where(ok_q, a_coef * b2 * a / xp.where(ok_q, den, 1.0) - 0.5 * xp.log(xp.where(ok_q, den, 1.0)), 0.0)
    # exponential branch
    p = xp.where(quad, 0.0, (psi - 1.0) / (psi + 1.0))
    beta = (1.0 - p) / safe_m
    u = ndtr(zv)
    v_exp = xp.where(u <= p, 0.0, xp.log((1.0 - p) / xp.maximum(1.0 - u, 1e-300)) / beta)
    ok_e = a_coef < beta
    mm = xp.where(ok_e, p + beta * (1.0 - p) / xp.where(ok_e, beta - a_coef, 1.0), 1.0)
    lnm_e = xp.log(mm)
    v1 = xp.where(m > 0.0, xp.where(quad, v_quad, v_exp), 0.0)
    lnm = xp.where(m > 0.0, xp.where(quad, lnm_q, lnm_e), 0.0)
    k0 = -lnm - (k1 + 0.5 * c6) * v
    x1 = x + c7 + k0 + k1 * v + k2 * v1 + xp.sqrt(c6 * (v + v1)) * zs
    return x1, v1


def simulate_sums_xp(
    xp: ModuleType,
    model: int,
    c: npt.NDArray[np.float64],
    x0: float,
    n_steps: int,
    dt: float,
    n_pairs: int,
    seed: int,
    antithetic: bool,
    pi: npt.NDArray[np.int64],
    pf: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], int]:
    """``[Σy, Σy², Σx, Σx², Σxy]`` and the sample count, same conventions as
    :func:`keel.pricing.mc.simulate.simulate_sums` (``pi``/``pf`` layouts included)."""
    code, fix_every, cv = int(pi[0]), int(pi[1]), int(pi[2])
    logspace, down, out = bool(pi[3]), bool(pi[4]), bool(pi[5])
    avg_on, bar_on, min_on, int_on = bool(pi[6]), bool(pi[7]), bool(pi[8]), bool(pi[9])
    sign, K, h, rebate, s_min, cv_sign, cv_K, r, T, div, v0 = (float(t) for t in pf)
    df = math.exp(-r * T)
    rng = _Rng(xp, seed)
    ndtr = _ndtr(xp)
    n = n_pairs
    lanes = 2 * n
    x = xp.full(lanes, x0)
    s = xp.exp(x) if logspace else x.copy()
    v = xp.full(lanes, v0)
    asum = xp.zeros(lanes)
    gsum = xp.zeros(lanes)
    surv = xp.ones(lanes)
    reb = xp.zeros(lanes)
    xmin = xp.full(lanes, x0)

    def pair(draw: Any) -> Any:
        a = draw(n)
        return xp.concatenate([a, -a]) if antithetic else xp.concatenate([a, draw(n)])

    for k in range(1, n_steps + 1):
        z = pair(rng.normal)
        if model == 0:
            xm = x + c[0] + c[1] * z
            x1 = xm
            var = float(c[1] * c[1])
        elif model == 1:
            xm = x + c[0] + c[1] * z
            x1 = xm
            if c[2] > 0.0:
                nj_a = rng.poisson(float(c[2]), n)
                nj = xp.concatenate([nj_a, nj_a if antithetic else rng.poisson(float(c[2]), n)])
                zj = pair(rng.normal)
                x1 = xm + nj * c[3] + xp.sqrt(nj) * c[4] * zj
            var = float(c[1] * c[1])
        elif model == 2:
            w = pair(rng.normal)
            x1, v1 = _heston_step(xp, x, v, w, z, c, ndtr)
            xm = x1
            var = 0.5 * (v + v1) * dt
            v = v1
        else:
            x1 = c[1] + (x - c[1]) * c[0] + c[2] * z
            xm = x1
            var = float(c[2] * c[2])
        s1 = xp.exp(x1) if logspace else x1
        if avg_on:
            if fix_every > 0:
                if k % fix_every == 0:
                    asum += s1
                    gsum += x1
            else:
                asum += 0.5 * (s + s1) * dt
                zi = pair(rng.normal) if int_on else 0.0
                gsum += 0.5 * (x + x1) * dt + _sqrt(xp, var * dt * dt / 12.0) * zi
        if bar_on:
            d0, d1, d2 = (x - h, xm - h, x1 - h) if down else (h - x, h - xm, h - x1)
            crossed = (d1 <= 0.0) | (d2 <= 0.0)
            pr = xp.where(crossed, 1.0, xp.exp(-2.0 * d0 * xp.maximum(d1, 0.0) / var))
            reb += surv * pr * rebate * math.exp(-r * (k - 0.5) * dt)
            surv *= 1.0 - pr
        if min_on:
            u = rng.uniform(n)
            u = xp.concatenate([u, u if antithetic else rng.uniform(n)])
            dx = xm - x
            m = 0.5 * (x + xm - xp.sqrt(dx * dx - 2.0 * var * xp.log(u)))
            xmin = xp.minimum(xp.minimum(xmin, m), x1)
        x = x1
        s = s1
    if code == 0:
        y = xp.maximum(sign * (s - K), 0.0) * df
    elif code == 1:
        y = xp.maximum(asum / div - K, 0.0) * df
    elif code == 2:
        y = xp.maximum(xp.exp(gsum / div) - K, 0.0) * df
    elif code == 3:
        van = xp.maximum(sign * (s - K), 0.0) * df
        y = surv * van + reb if out else (1.0 - surv) * van + surv * rebate * df
    elif code == 4:
        mn = xp.exp(xmin) if logspace else xmin
        y = (s - xp.minimum(s_min, mn)) * df
    else:
        y = xp.where(sign * (s - K) > 0.0, df, 0.0)
    if cv == 1:
        xc = xp.maximum(xp.exp(gsum / div) - cv_K, 0.0) * df
    elif cv == 2:
        xc = xp.maximum(cv_sign * (s - cv_K), 0.0) * df
    else:
        xc = xp.zeros(lanes)
    if antithetic:
        y = 0.5 * (y[:n] + y[n:])
        xc = 0.5 * (xc[:n] + xc[n:])
    sums = xp.stack([y.sum(), (y * y).sum(), xc.sum(), (xc * xc).sum(), (xc * y).sum()])
    host = np.asarray(sums.get() if hasattr(sums, "get") else sums, dtype=np.float64)
    return host, int(y.shape[0])
