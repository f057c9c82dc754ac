"""Volatility forecasts for predictive margin: EWMA (RiskMetrics, λ = 0.94) and GARCH(1,1) by MLE.

Returns are log returns per observation period (e.g. one minute); variances are per period.
``horizon`` arguments count periods; :meth:`VolForecast.horizon_vol` is the standard deviation
of the sum of the next ``h`` returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.optimize import minimize

from keel.errors import RiskError, ValidationError

__all__ = ["GarchParams", "VolForecast", "ewma_forecast", "ewma_variance", "fit_garch", "log_returns"]


def _returns(returns: np.ndarray, minimum: int) -> np.ndarray:
    r = np.ascontiguousarray(returns, dtype=np.float64)
    if r.ndim != 1 or r.size < minimum:
        raise ValidationError("returns", r.shape, f"need a 1-D series of at least {minimum} returns")
    if not np.all(np.isfinite(r)):
        raise ValidationError("returns", "NaN/inf", "every return must be finite")
    return r


def log_returns(prices: np.ndarray) -> np.ndarray:
    """``log(p[t]/p[t−1])``; prices must be finite and positive."""
    p = np.asarray(prices, dtype=np.float64)
    if p.ndim != 1 or p.size < 2 or not np.all(np.isfinite(p)) or np.any(p <= 0):
        raise ValidationError("prices", "series", "need >= 2 finite positive prices")
    return np.diff(np.log(p))


@njit(cache=True)
def _ewma(r, lam, v0):  # type: ignore[no-untyped-def]
    out = np.empty(r.shape[0] + 1)
    out[0] = v0
    for t in range(r.shape[0]):
        out[t + 1] = lam * out[t] + (1.0 - lam) * r[t] * r[t]
    return out


def ewma_variance(returns: np.ndarray, lam: float = 0.94, initial: float | None = None) -> np.ndarray:
    """RiskMetrics variance ``σ²[t+1] = λσ²[t] + (1−λ)r[t]²``, length ``len(returns)+1``.

    Element ``t`` is the forecast for ``returns[t]`` made with data before it; the last
    element is the one-step forecast after the sample.  ``initial`` defaults to the mean
    square of the first min(30, n) returns.
    """
    r = _returns(returns, 1)
    if not 0.0 < lam < 1.0:
        raise ValidationError("lam", lam, "must be in (0, 1)")
    v0 = float(np.mean(r[: min(30, r.size)] ** 2)) if initial is None else float(initial)
    if not (math.isfinite(v0) and v0 >= 0):
        raise ValidationError("initial", initial, "must be a finite non-negative variance")
    return np.asarray(_ewma(r, float(lam), v0))


@dataclass(frozen=True, slots=True)
class GarchParams:
    """GARCH(1,1): ``σ²[t] = ω + α r²[t−1] + β σ²[t−1]`` (mean-zero returns), fitted by Gaussian MLE."""

    omega: float
    alpha: float
    beta: float
    loglik: float
    n_obs: int

    @property
    def persistence(self) -> float:
        return self.alpha + self.beta

    @property
    def long_run_variance(self) -> float:
        return self.omega / (1.0 - self.persistence)

    def variance_path(self, returns: np.ndarray) -> np.ndarray:
        """Conditional variances for each return and one step beyond (length n+1)."""
        r = _returns(returns, 1)
        return np.asarray(_garch_filter(r, self.omega, self.alpha, self.beta, float(np.var(r))))

    def forecast(self, last_variance: float, last_return: float, horizon: int) -> np.ndarray:
        """Per-period variance forecasts for steps 1..horizon after the sample."""
        h1 = self.omega + self.alpha * last_return**2 + self.beta * last_variance
        lr = self.long_run_variance
        k = np.arange(horizon, dtype=np.float64)
        return np.asarray(lr + self.persistence**k * (h1 - lr))


@njit(cache=True)
def _garch_filter(r, omega, alpha, beta, v0):  # type: ignore[no-untyped-def]
    out = np.empty(r.shape[0] + 1)
    out[0] = v0
    for t in range(r.shape[0]):
        out[t + 1] = omega + alpha * r[t] * r[t] + beta * out[t]
    return out


@njit(cache=True)
def _garch_nll(r, omega, alpha, beta, v0):  # type: ignore[no-untyped-def]
    v = v0
    nll = 0.0
    for t in range(r.shape[0]):
        if v <= 0.0:
            return 1e300
        nll += 0.5 * (math.log(2.0 * math.pi) + math.log(v) + r[t] * r[t] / v)
        v = omega + alpha * r[t] * r[t] + beta * v
    return nll


def fit_garch(returns: np.ndarray) -> GarchParams:
    """Gaussian MLE of GARCH(1,1) with scipy (L-BFGS-B on a scaled, constrained parametrization).

    Returns are demeaned first; the recursion starts at the sample variance.  Stationarity
    (α + β < 1) and positivity are enforced by the bounds and a penalty.
    """
    r = _returns(returns, 50)
    r = r - r.mean()
    scale = float(np.std(r))
    if scale == 0.0:
        raise RiskError("fit_garch: the returns are constant; no volatility to fit")
    z = r / scale  # fit in unit variance, scale back after
    v0 = 1.0

    def nll(x: np.ndarray) -> float:
        omega, alpha, beta = float(x[0]), float(x[1]), float(x[2])
        if alpha + beta >= 0.9999:
            return 1e300
        return float(_garch_nll(z, omega, alpha, beta, v0))

    best = None
    for a0, b0 in ((0.05, 0.90), (0.10, 0.80), (0.20, 0.60)):
        x0 = np.array([1.0 - a0 - b0, a0, b0])
        res = minimize(nll, x0, method="L-BFGS-B", bounds=[(1e-8, 10.0), (1e-8, 0.9999), (0.0, 0.9999)])
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    omega, alpha, beta = (float(v) for v in best.x)
    loglik = -float(best.fun) - r.size * math.log(scale)
    return GarchParams(omega * scale * scale, alpha, beta, loglik, int(r.size))


@dataclass(frozen=True, slots=True)
class VolForecast:
    """A per-period volatility forecast and its term structure (``variances[k]`` = step k+1)."""

    method: str
    variances: tuple[float, ...]

    def horizon_vol(self, horizon: int = 1) -> float:
        """Standard deviation of the sum of the next ``horizon`` returns."""
        if horizon < 1 or horizon > len(self.variances):
            raise ValidationError("horizon", horizon, f"must be in [1, {len(self.variances)}]")
        return math.sqrt(sum(self.variances[:horizon]))

    @classmethod
    def from_ewma(cls, returns: np.ndarray, lam: float = 0.94, horizon: int = 1) -> VolForecast:
        """EWMA forecast, flat over the horizon (RiskMetrics square-root-of-time)."""
        v = float(ewma_variance(returns, lam)[-1])
        return cls("ewma", (v,) * horizon)

    @classmethod
    def from_garch(cls, returns: np.ndarray, horizon: int = 1, params: GarchParams | None = None) -> VolForecast:
        """GARCH(1,1) forecast (fitted on ``returns`` unless ``params`` given), mean-reverting."""
        r = _returns(returns, 2)
        p = fit_garch(r) if params is None else params
        rc = r - r.mean()
        path = _garch_filter(rc, p.omega, p.alpha, p.beta, float(np.var(rc)))
        v = float(path[-1])
        lr = p.long_run_variance
        steps = tuple(float(lr + p.persistence**k * (v - lr)) for k in range(horizon))
        return cls("garch", steps)


def ewma_forecast(returns: np.ndarray, lam: float = 0.94, horizon: int = 1) -> VolForecast:
    """Shorthand for :meth:`VolForecast.from_ewma`."""
    return VolForecast.from_ewma(returns, lam, horizon)
