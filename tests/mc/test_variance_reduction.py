"""Variance reduction and convergence: antithetic, control variates, randomized QMC, 1/√N."""

from __future__ import annotations

import math

from keel.pricing.kernels import bs_price
from keel.pricing.mc import GBM, AsianArithmeticCall, BarrierOption, EuropeanCall, price

M = GBM(100.0, 0.05, 0.25)
REF = bs_price(1.0, 100.0, 100.0, 1.0, 0.05, 0.0, 0.25)


def test_stderr_falls_as_one_over_sqrt_n() -> None:
    small = price(M, EuropeanCall(100.0, 1.0), n_paths=20_000, n_steps=1, seed=1, antithetic=False)
    big = price(M, EuropeanCall(100.0, 1.0), n_paths=320_000, n_steps=1, seed=2, antithetic=False)
    assert small.n_paths == 20_000 and big.n_paths == 320_000
    assert 3.6 < small.stderr / big.stderr < 4.4  # 16x the paths -> a quarter of the error
    for r in (small, big):
        assert r.ci95[0] < r.price < r.ci95[1]
        assert math.isclose(r.ci95[1] - r.ci95[0], 2 * 1.96 * r.stderr)


def test_antithetic_reduces_error_at_equal_paths() -> None:
    plain = price(M, EuropeanCall(100.0, 1.0), n_paths=50_000, n_steps=1, seed=3, antithetic=False)
    anti = price(M, EuropeanCall(100.0, 1.0), n_paths=50_000, n_steps=1, seed=3, antithetic=True)
    assert anti.stderr < 0.8 * plain.stderr
    assert abs(anti.price - REF) < 3 * anti.stderr


def test_geometric_control_variate_for_arithmetic_asian() -> None:
    p = AsianArithmeticCall(100.0, 1.0, 52)
    plain = price(M, p, n_paths=20_000, n_steps=52, seed=4)
    cv = price(M, p, n_paths=20_000, n_steps=52, seed=4, control_variate="geometric")
    assert cv.stderr < plain.stderr / 20.0
    assert abs(cv.price - plain.price) < 3 * plain.stderr


def test_european_control_variate_for_barrier() -> None:
    p = BarrierOption("call", "up-and-out", 100.0, 140.0, 1.0)
    plain = price(M, p, n_paths=40_000, n_steps=50, seed=5)
    cv = price(M, p, n_paths=40_000, n_steps=50, seed=5, control_variate="european")
    assert cv.stderr < plain.stderr
    assert abs(cv.price - plain.price) < 3 * math.hypot(cv.stderr, plain.stderr)


def test_european_control_on_a_european_is_exact() -> None:
    r = price(M, EuropeanCall(100.0, 1.0), n_paths=1000, n_steps=1, seed=6, control_variate="european")
    assert abs(r.price - REF) < 1e-9 and r.stderr < 1e-9


def test_qmc_converges_faster_than_pseudo_random() -> None:
    p = AsianArithmeticCall(100.0, 1.0, 64)
    n = 2**14
    mc = price(M, p, n_paths=n, n_steps=64, seed=7, antithetic=False)
    qmc = price(M, p, n_paths=n, n_steps=64, seed=7, antithetic=False, qmc=True)
    assert qmc.n_paths == n
    assert qmc.stderr < mc.stderr / 4.0
    assert abs(qmc.price - mc.price) < 3 * math.hypot(qmc.stderr, mc.stderr)
    # and its error shrinks faster than 1/sqrt(N) when N grows 16-fold
    qmc_small = price(M, EuropeanCall(100.0, 1.0), n_paths=2**10, n_steps=1, seed=8, qmc=True, antithetic=False)
    qmc_big = price(M, EuropeanCall(100.0, 1.0), n_paths=2**14, n_steps=1, seed=8, qmc=True, antithetic=False)
    assert qmc_small.stderr / qmc_big.stderr > 6.0
    assert abs(qmc_big.price - REF) < 3 * qmc_big.stderr
