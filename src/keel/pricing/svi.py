"""Raw SVI smiles (Gatheral 2004): fit, butterfly check (Gatheral-Jacquier g(k) >= 0), repair.

Raw SVI total implied variance at log-moneyness ``k = ln(K/F)``::

    w(k) = a + b (ρ (k − m) + √((k − m)² + σ²)),   b >= 0, |ρ| < 1, σ > 0, a + b σ √(1−ρ²) >= 0

Butterfly (static) arbitrage is absent on a slice iff the risk-neutral density is non-negative,
i.e. ``g(k) = (1 − k w'/(2w))² − (w'²/4)(1/w + 1/4) + w''/2 >= 0`` with ``w > 0``
(Gatheral & Jacquier 2014); we check it on a grid one unit of log-moneyness beyond the quotes.
:func:`fit_svi` fits by weighted least squares in implied-vol points; when the
best fit has ``min g < 0`` on the check grid it refits with a penalty on the negative part of g
("repair") and reports both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import least_squares

from keel.errors import PricingError, ValidationError

__all__ = ["SVIFit", "SVIParams", "fit_svi"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SVIParams:
    """Raw SVI parameters of one expiry (total variance, not vol)."""

    a: float
    b: float
    rho: float
    m: float
    sigma: float

    def total_variance(self, k: npt.ArrayLike) -> F64:
        """w(k): total implied variance at log-moneyness k."""
        d = np.asarray(k, dtype=np.float64) - self.m
        return np.asarray(self.a + self.b * (self.rho * d + np.sqrt(d * d + self.sigma**2)))

    def derivatives(self, k: npt.ArrayLike) -> tuple[F64, F64, F64]:
        """(w, w', w'') at k."""
        d = np.asarray(k, dtype=np.float64) - self.m
        root = np.sqrt(d * d + self.sigma**2)
        w = self.a + self.b * (self.rho * d + root)
        w1 = self.b * (self.rho + d / root)
        w2 = self.b * self.sigma**2 / root**3
        return w, w1, w2

    def g(self, k: npt.ArrayLike) -> F64:
        """Gatheral-Jacquier density function g(k); the slice is butterfly-free iff g >= 0 (and w > 0)."""
        kk = np.asarray(k, dtype=np.float64)
        w, w1, w2 = self.derivatives(kk)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (1.0 - kk * w1 / (2.0 * w)) ** 2 - 0.25 * w1 * w1 * (1.0 / w + 0.25) + 0.5 * w2
        return np.where(w > 0, out, -np.inf)

    def as_tuple(self) -> tuple[float, float, float, float, float]:
        return (self.a, self.b, self.rho, self.m, self.sigma)


@dataclass(frozen=True)
class SVIFit:
    """Result of fitting one expiry.

    ``wrmse_vol_pts`` (weighted with the fit weights), ``rmse_vol_pts``, ``max_vol_pts``: fit error
    against the market implied vols in vol points (1 vol point = 0.01 of vol); ``min_g``: minimum
    of g(k) on ``k in [k_lo - 1, k_hi + 1]``;
    ``repaired``: the unconstrained best fit had butterfly arbitrage and was refitted with a
    penalty; ``min_g_unrepaired``: min g of that first fit.
    """

    params: SVIParams
    T: float
    wrmse_vol_pts: float
    rmse_vol_pts: float
    max_vol_pts: float
    n: int
    min_g: float
    repaired: bool
    min_g_unrepaired: float
    k_range: tuple[float, float]

    @property
    def butterfly_free(self) -> bool:
        return self.min_g >= -1e-9


def _check_grid(k: F64) -> F64:
    lo, hi = float(np.min(k)), float(np.max(k))
    return np.linspace(lo - 1.0, hi + 1.0, 401)


def _resid(p: F64, k: F64, iv: F64, wt: F64, T: float) -> F64:
    a, b, rho, m, s = p
    d = k - m
    w = a + b * (rho * d + np.sqrt(d * d + s * s))
    model = np.sqrt(np.maximum(w, 1e-12) / T)
    return np.asarray((model - iv) * wt * 100.0)


def fit_svi(
    k: npt.ArrayLike, iv: npt.ArrayLike, T: float, weights: npt.ArrayLike | None = None, *, repair: bool = True
) -> SVIFit:
    """Fit raw SVI to implied vols ``iv`` (fractions) at log-moneyness ``k`` for expiry ``T`` years.

    ``weights`` (>= 0, e.g. vega or 1/bid-ask spread) scale the vol residuals; the fit minimizes
    ``Σ (weight·(σ_svi − σ_mkt))²``.  Needs at least 5 points.
    """
    kk = np.asarray(k, dtype=np.float64)
    vv = np.asarray(iv, dtype=np.float64)
    if kk.shape != vv.shape or kk.ndim != 1:
        raise ValidationError("k/iv", (kk.shape, vv.shape), "must be 1-D arrays of the same length")
    if not (T > 0 and math.isfinite(T)):
        raise ValidationError("T", T, "must be positive and finite")
    wt = np.ones_like(kk) if weights is None else np.asarray(weights, dtype=np.float64)
    ok = np.isfinite(kk) & np.isfinite(vv) & (vv > 0) & np.isfinite(wt) & (wt > 0)
    kk, vv, wt = kk[ok], vv[ok], wt[ok]
    if kk.size < 5:
        raise PricingError(f"SVI fit needs at least 5 valid quotes, got {kk.size} (T={T:.6g})")
    wt = wt / np.mean(wt)
    wtot = vv * vv * T
    i0 = int(np.argmin(wtot))
    span = float(np.ptp(kk)) or 0.1
    lb = np.array([-float(np.max(wtot)), 0.0, -0.999, float(np.min(kk)) - span, 1e-4])
    ub = np.array([float(np.max(wtot)), 10.0 / T + 10.0, 0.999, float(np.max(kk)) + span, 10.0])
    best = None
    slope_l = (wtot[0] - wtot[i0]) / min(kk[0] - kk[i0], -1e-3)
    slope_r = (wtot[-1] - wtot[i0]) / max(kk[-1] - kk[i0], 1e-3)
    b0 = max((abs(slope_r) + abs(slope_l)) / 2.0, 1e-3)
    rho0 = float(np.clip((slope_r + slope_l) / (2 * b0), -0.9, 0.9))
    for m0, s0 in ((kk[i0], 0.1), (kk[i0], 0.3 * span + 0.01), (0.0, 0.05)):
        a0 = max(wtot[i0] - b0 * s0 * math.sqrt(1 - rho0 * rho0), 1e-6 - float(np.max(wtot)))
        x0 = np.clip(np.array([a0, b0, rho0, m0, s0]), lb + 1e-9, ub - 1e-9)
        res = least_squares(_resid, x0, bounds=(lb, ub), args=(kk, vv, wt, T), method="trf", x_scale="jac")
        if best is None or res.cost < best.cost:
            best = res
    assert best is not None
    params = SVIParams(*(float(v) for v in best.x))
    grid = _check_grid(kk)
    min_g0 = float(np.min(params.g(grid)))
    repaired = False
    if repair and min_g0 < 0:
        x = best.x
        for lam in (1e3, 1e5, 1e7):
            scale = lam * math.sqrt(kk.size)

            def pen(p: F64, scale: float = scale) -> F64:
                g = SVIParams(*(float(v) for v in p)).g(grid)
                g = np.where(np.isfinite(g), g, -10.0)
                return np.concatenate([_resid(p, kk, vv, wt, T), scale * np.minimum(g - 1e-6, 0.0)])

            res = least_squares(pen, x, bounds=(lb, ub), method="trf", x_scale="jac")
            x = res.x
            cand = SVIParams(*(float(v) for v in x))
            if float(np.min(cand.g(grid))) >= 0.0:
                break
        if float(np.min(cand.g(grid))) > min_g0:
            params, repaired = cand, True
    model = np.sqrt(np.maximum(params.total_variance(kk), 0.0) / T)
    err = (model - vv) * 100.0
    return SVIFit(
        params=params,
        T=float(T),
        wrmse_vol_pts=float(np.sqrt(np.sum(wt * err * err) / np.sum(wt))),
        rmse_vol_pts=float(np.sqrt(np.mean(err * err))),
        max_vol_pts=float(np.max(np.abs(err))),
        n=int(kk.size),
        min_g=float(np.min(params.g(grid))),
        repaired=repaired,
        min_g_unrepaired=min_g0,
        k_range=(float(np.min(kk)), float(np.max(kk))),
    )
