"""Volatility forecasts and the Kupiec margin backtest on real data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.stats import binom, chi2

from keel.errors import ValidationError
from keel.risk import APCMethod, VolForecast, ewma_variance, fit_garch, log_returns
from keel.risk.backtest import kupiec_pof, margin_backtest
from keel.risk.history import real_series


def test_ewma_matches_polars() -> None:
    r = np.random.default_rng(1).normal(0, 0.01, 500)
    ours = ewma_variance(r, 0.94, initial=float(r[0] ** 2))
    # polars' recursive EWM (adjust=False) of r²: y0 = r0², y_t = 0.94 y_{t-1} + 0.06 r_t²
    ref = pl.Series(r**2).ewm_mean(alpha=0.06, adjust=False).to_numpy()
    np.testing.assert_allclose(ours[2:], ref[1:], rtol=1e-12)
    assert VolForecast.from_ewma(r, horizon=4).horizon_vol(4) == pytest.approx(2 * math.sqrt(ours[-1]))
    with pytest.raises(ValidationError, match="lam"):
        ewma_variance(r, 1.0)
    with pytest.raises(ValidationError, match="returns"):
        ewma_variance(np.array([0.1, float("nan")]))


def _simulate_garch(n: int, omega: float, alpha: float, beta: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = omega / (1 - alpha - beta)
    out = np.empty(n)
    for t in range(n):
        out[t] = math.sqrt(v) * rng.standard_normal()
        v = omega + alpha * out[t] ** 2 + beta * v
    return out


def _nll(r: np.ndarray, omega: float, alpha: float, beta: float) -> float:
    r = r - r.mean()
    v = float(np.var(r))
    total = 0.0
    for x in r:
        total += 0.5 * (math.log(2 * math.pi) + math.log(v) + x * x / v)
        v = omega + alpha * x * x + beta * v
    return total


def test_garch_mle_recovers_parameters_and_maximizes_likelihood() -> None:
    r = _simulate_garch(6000, 2e-6, 0.08, 0.90, seed=11)
    p = fit_garch(r)
    assert p.alpha == pytest.approx(0.08, abs=0.03)
    assert p.beta == pytest.approx(0.90, abs=0.04)
    assert p.persistence < 1
    # the fitted point is at least as likely as the truth (independent likelihood in numpy)
    assert -p.loglik <= _nll(r, 2e-6, 0.08, 0.90) + 1e-6
    assert p.loglik == pytest.approx(-_nll(r, p.omega, p.alpha, p.beta), rel=1e-6)
    fc = VolForecast.from_garch(r, horizon=50, params=p)
    # mean reversion towards the long-run variance
    assert abs(fc.variances[-1] - p.long_run_variance) < abs(fc.variances[0] - p.long_run_variance)


def test_garch_on_real_btc_minutes(data_dir: Path) -> None:
    s = real_series(data_dir)["BTC-2020-03-12"]
    p = fit_garch(log_returns(s.price))
    assert 0 < p.persistence < 1 and p.omega > 0


def test_kupiec_against_binomial_likelihoods() -> None:
    for x, n, p in ((0, 250, 0.01), (7, 250, 0.01), (30, 1379, 0.01), (5, 100, 0.05)):
        res = kupiec_pof(x, n, p)
        lr = 2 * (binom.logpmf(x, n, x / n) - binom.logpmf(x, n, p))
        assert res.lr == pytest.approx(lr, rel=1e-9, abs=1e-12)
        assert res.p_value == pytest.approx(chi2.sf(lr, 1), rel=1e-9)
    assert kupiec_pof(10, 1000, 0.01).lr == pytest.approx(0.0, abs=1e-12)
    assert kupiec_pof(30, 1000, 0.01).rejects()
    with pytest.raises(ValidationError, match="exceedances"):
        kupiec_pof(11, 10, 0.01)


def test_margin_backtest_on_real_minutes(data_dir: Path) -> None:
    series = real_series(data_dir)
    eth = series["ETH-2024-01-05"].price  # Uniswap v3 USDC/WETH, 1-minute closes
    plain = margin_backtest(eth, series="eth", method="ewma", apc=APCMethod.NONE)
    garch = margin_backtest(eth, series="eth", method="garch", apc=APCMethod.BUFFER)
    # EWMA without a buffer under-covers 1-minute ETH moves (fat tails): Kupiec rejects it;
    # GARCH with the 25% APC buffer is not rejected at 5%.
    assert plain.kupiec.rate > 0.02 and plain.kupiec.rejects()
    assert not garch.kupiec.rejects() and garch.kupiec.n > 1300
    btc = margin_backtest(series["BTC-2020-03-12"].price, method="ewma", apc=APCMethod.BUFFER)
    assert not btc.kupiec.rejects()
    assert btc.mean_range > plain.mean_range  # crash minutes need wider ranges than a calm day
