"""sample_paths: the simulator's synthetic markets (moments against the models' exact laws)."""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

from keel.pricing.mc import GBM, Heston, Merton, OrnsteinUhlenbeck, PathPayoff, price, sample_paths


def test_shape_start_and_positivity() -> None:
    p = sample_paths(GBM(50.0, 0.0, 0.8), 0.5, 24, 7, 1)
    assert p.shape == (7, 25) and p.dtype == np.float64
    assert np.all(p[:, 0] == 50.0) and np.all(p > 0.0)


def test_gbm_log_increments_are_exact_normal() -> None:
    m = GBM(100.0, 0.05, 0.6, q=0.01)
    p = sample_paths(m, 1.0, 4, 40_000, 2)
    inc = np.diff(np.log(p), axis=1).ravel()
    mu, sd = (0.05 - 0.01 - 0.18) * 0.25, 0.6 * 0.5
    assert abs(inc.mean() - mu) < 4 * sd / math.sqrt(inc.size)
    assert abs(inc.std() / sd - 1.0) < 0.01
    assert stats.kstest((inc - mu) / sd, "norm").pvalue > 1e-3


def test_merton_crash_paths_are_martingales_with_fat_left_tails() -> None:
    m = Merton(100.0, 0.0, 0.3, 4.0, -0.25, 0.1)  # crash-prone: about 4 jumps of -22 % a year
    p = sample_paths(m, 1.0, 52, 40_000, 3)
    ST = p[:, -1]
    assert abs(ST.mean() - 100.0) < 4 * ST.std() / math.sqrt(ST.size)
    weekly = np.diff(np.log(p), axis=1).ravel()
    assert stats.skew(weekly) < -1.0 and stats.kurtosis(weekly) > 3.0


def test_heston_forward_and_ou_moments() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = Heston(100.0, 0.03, 0.06, 1.0, 0.06, 0.8, -0.7)
    ST = sample_paths(h, 1.0, 50, 40_000, 4)[:, -1]
    assert abs(ST.mean() - 100.0 * math.exp(0.03)) < 4 * ST.std() / math.sqrt(ST.size)
    ou = OrnsteinUhlenbeck(0.05, 4.0, 0.01, 0.2)
    X = sample_paths(ou, 2.0, 8, 40_000, 5)
    e = math.exp(-4.0 * 0.25)
    mean = 0.01 + (0.05 - 0.01) * e
    sd = 0.2 * math.sqrt((1 - e * e) / 8.0)
    assert abs(X[:, 1].mean() - mean) < 4 * sd / math.sqrt(X.shape[0])
    assert abs(X[:, 1].std() / sd - 1.0) < 0.02
    assert abs(X[:, -1].mean() - 0.01) < 0.01


def test_path_payoff_sees_the_same_paths_as_builtins() -> None:
    """A user function pricing an up-and-out with discrete monitoring only knocks out less
    often than the continuously monitored built-in, and a European matches exactly in law."""
    m = GBM(100.0, 0.05, 0.3)
    eu = price(m, PathPayoff(lambda p: np.maximum(p[:, -1] - 100.0, 0.0), 1.0), n_paths=40_000, n_steps=5, seed=6)
    ref = 14.2312  # Black-Scholes S=K=100, r=5 %, σ=30 %, T=1
    assert abs(eu.price - ref) < 3 * eu.stderr
    cv = price(
        m, PathPayoff(lambda p: p.mean(axis=1), 1.0), n_paths=2000, n_steps=5, seed=6, control_variate="european"
    )
    assert cv.stderr < 0.2
