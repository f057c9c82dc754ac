"""Margin backtest: Kupiec's proportion-of-failures test of the predictive margin.

At each step the predictive model sets a scan range ``R_t`` (relative move) from returns
seen so far; the position's realized loss over the next ``horizon`` periods (a unit long or a
unit short, whichever lost) is compared with ``R_t``.  The exceedance rate should match the
target ``1 − confidence``; Kupiec (1995):

    LR = −2 ln[(1−p)^(n−x) p^x] + 2 ln[(1−x/n)^(n−x) (x/n)^x]  ~  χ²(1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import chi2

from keel.errors import ValidationError
from keel.risk.margin import APCMethod, apc_scan_range
from keel.risk.volatility import GarchParams, ewma_variance, fit_garch

__all__ = ["KupiecResult", "MarginBacktest", "backtest_real_data", "kupiec_pof", "margin_backtest"]


@dataclass(frozen=True, slots=True)
class KupiecResult:
    n: int
    exceedances: int
    rate: float
    target: float
    lr: float
    p_value: float

    def rejects(self, level: float = 0.05) -> bool:
        """True if the coverage is rejected at ``level``."""
        return self.p_value < level


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x == 0 else x * math.log(y)


def kupiec_pof(exceedances: int, n: int, target: float) -> KupiecResult:
    """Kupiec POF likelihood-ratio test of ``exceedances`` out of ``n`` against rate ``target``."""
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValidationError("n", n, "must be a positive int")
    if isinstance(exceedances, bool) or not isinstance(exceedances, int) or not 0 <= exceedances <= n:
        raise ValidationError("exceedances", exceedances, f"must be an int in [0, {n}]")
    if not 0.0 < target < 1.0:
        raise ValidationError("target", target, "must be in (0, 1)")
    x, p = exceedances, target
    phat = x / n
    ll0 = _xlogy(n - x, 1 - p) + _xlogy(x, p)
    ll1 = _xlogy(n - x, 1 - phat) + _xlogy(x, phat)
    lr = max(-2.0 * (ll0 - ll1), 0.0)
    return KupiecResult(n, x, phat, p, lr, float(chi2.sf(lr, 1)))


@dataclass(frozen=True, slots=True)
class MarginBacktest:
    """One backtest: the series, the model and the Kupiec result (``mean_range`` relative)."""

    series: str
    method: str
    apc: str
    horizon: int
    kupiec: KupiecResult
    mean_range: float


def margin_backtest(
    prices: np.ndarray,
    *,
    series: str = "",
    method: str = "ewma",
    horizon: int = 1,
    confidence: float = 0.99,
    apc: APCMethod = APCMethod.NONE,
    warmup: int = 60,
    refit_every: int = 60,
    lam: float = 0.94,
    sigma_stressed: float | None = None,
    sigma_long: float | None = None,
) -> MarginBacktest:
    """Walk forward over ``prices`` with non-overlapping ``horizon``-period windows.

    ``method``: ``ewma`` (λ = ``lam``) or ``garch`` (GARCH(1,1) refitted by MLE every
    ``refit_every`` periods on all returns so far, never on future data).
    """
    p = np.asarray(prices, dtype=np.float64)
    if p.ndim != 1 or p.size < warmup + horizon + 2 or not np.all(np.isfinite(p)) or np.any(p <= 0):
        raise ValidationError("prices", p.shape, f"need > {warmup + horizon + 1} finite positive prices")
    if method not in ("ewma", "garch"):
        raise ValidationError("method", method, "must be 'ewma' or 'garch'")
    if horizon < 1:
        raise ValidationError("horizon", horizon, "must be >= 1")
    r = np.diff(np.log(p))
    if method == "ewma":
        var_path = ewma_variance(r, lam)  # var_path[t] forecasts r[t] from r[:t]
    params: GarchParams | None = None
    fitted_at = -(10**9)
    x = n = 0
    ranges = []
    t = warmup
    while t + horizon <= r.size:
        if method == "ewma":
            v1 = float(var_path[t])
            var_h = v1 * horizon
        else:
            if params is None or t - fitted_at >= refit_every:
                params = fit_garch(r[:t])
                fitted_at = t
            rc = r[:t] - r[:t].mean()
            v1 = float(params.variance_path(rc)[-1])
            lr_var = params.long_run_variance
            var_h = float(sum(lr_var + params.persistence**k * (v1 - lr_var) for k in range(horizon)))
        rng = apc_scan_range(
            math.sqrt(max(var_h, 1e-300)),
            confidence=confidence,
            method=apc,
            sigma_stressed=sigma_stressed,
            sigma_long=sigma_long,
        )
        move = p[t + horizon] / p[t] - 1.0
        loss = max(-move, move)
        x += int(loss > rng)
        n += 1
        ranges.append(rng)
        t += horizon
    return MarginBacktest(
        series, method, apc.value, horizon, kupiec_pof(x, n, 1.0 - confidence), float(np.mean(ranges))
    )


def backtest_real_data(data_dir: Path | None = None) -> list[MarginBacktest]:
    """Every real minute series in ``data/`` × {EWMA, GARCH} × every APC measure.

    Stressed sigma = the 2020-03-12 BTC window's per-minute st. dev.  The long-lookback
    ("10-year") floor is only approximated: ``sigma_long`` is the pooled st. dev. of every
    real one-minute return available (1,855 minutes, about 31 hours in three windows of
    2020-2025, two of them crashes), not a 10-year lookback, which ``data/`` does not hold.
    """
    from keel.risk.history import real_series

    series = real_series(data_dir)
    all_r = np.concatenate([np.diff(np.log(s.price)) for s in series.values()])
    sigma_long = float(np.std(all_r))
    sigma_stressed = float(np.std(np.diff(np.log(series["BTC-2020-03-12"].price))))
    out = []
    for name, s in series.items():
        for method in ("ewma", "garch"):
            for apc in APCMethod:
                out.append(
                    margin_backtest(
                        s.price,
                        series=name,
                        method=method,
                        apc=apc,
                        sigma_stressed=sigma_stressed,
                        sigma_long=sigma_long,
                    )
                )
    return out
