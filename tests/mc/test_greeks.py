"""Bump-and-revalue Greeks with common random numbers against Black-Scholes' analytic ones."""

from __future__ import annotations

import warnings

from keel.pricing.kernels import bs_delta, bs_gamma, bs_price, bs_vega
from keel.pricing.mc import GBM, AsianGeometricCall, EuropeanPut, Heston, geometric_asian_call, greeks


def test_european_put_greeks_vs_black_scholes() -> None:
    m = GBM(100.0, 0.03, 0.4, q=0.01)
    g = greeks(m, EuropeanPut(95.0, 0.5), n_paths=200_000, n_steps=1, seed=1)
    args = (-1.0, 100.0, 95.0, 0.5, 0.03, 0.01, 0.4)
    assert abs(g.price - bs_price(*args)) < 3 * g.price_stderr
    assert abs(g.delta - bs_delta(*args)) < 3 * g.delta_stderr
    assert abs(g.gamma - bs_gamma(*args)) < 3 * g.gamma_stderr + 2e-4  # + O(h²) bump bias
    assert abs(g.vega - bs_vega(*args)) < 3 * g.vega_stderr + 0.02
    assert g.delta_stderr < 0.01 and g.vega_stderr < 0.5
    assert g.n_paths == 200_000


def test_geometric_asian_greeks_vs_closed_form_differences() -> None:
    m = GBM(100.0, 0.05, 0.3)
    g = greeks(m, AsianGeometricCall(100.0, 1.0, 12), n_paths=100_000, n_steps=12, seed=2)

    def f(S: float, sig: float) -> float:
        return geometric_asian_call(S, 100.0, 1.0, 0.05, 0.0, sig, 12)

    delta = (f(101.0, 0.3) - f(99.0, 0.3)) / 2.0
    vega = (f(100.0, 0.31) - f(100.0, 0.29)) / 0.02
    assert abs(g.delta - delta) < 3 * g.delta_stderr
    assert abs(g.vega - vega) < 3 * g.vega_stderr


def test_heston_greeks_are_sane_and_qmc_works() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = Heston(100.0, 0.02, 0.04, 2.0, 0.04, 0.4, -0.5)
    g = greeks(m, EuropeanPut(100.0, 1.0), n_paths=8192, n_steps=20, seed=3, qmc=True)
    assert -1.0 < g.delta < 0.0 and g.gamma > 0.0 and g.vega > 0.0
    assert g.delta_stderr < 0.01
