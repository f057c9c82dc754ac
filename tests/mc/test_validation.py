"""Monte Carlo prices against references nobody here wrote: QuantLib's analytic engines,
Haug's published tables (The Complete Guide to Option Pricing Formulas) and Black-Scholes.
Every check is "within 3 standard errors" of the reference, with fixed seeds."""

from __future__ import annotations

import math
import warnings

import pytest

from keel.pricing.kernels import bs_price
from keel.pricing.mc import (
    GBM,
    AsianArithmeticCall,
    AsianGeometricCall,
    BarrierOption,
    Digital,
    EuropeanCall,
    EuropeanPut,
    Heston,
    LookbackFloatingCall,
    Merton,
    OrnsteinUhlenbeck,
    geometric_asian_call,
    merton_european,
    ou_european,
    price,
)
from tests.mc import ql_refs


def _within(res: object, ref: float, k: float = 3.0) -> None:
    p, se = res.price, res.stderr  # type: ignore[attr-defined]
    assert se > 0.0
    assert abs(p - ref) <= k * se, f"MC {p:.5f} ± {se:.5f} vs reference {ref:.5f} ({(p - ref) / se:+.2f} se)"


@pytest.mark.parametrize(
    ("payoff", "sign", "K"),
    [
        (EuropeanCall(100.0, 1.0), 1.0, 100.0),
        (EuropeanPut(90.0, 1.0), -1.0, 90.0),
        (EuropeanCall(130.0, 1.0), 1.0, 130.0),
    ],
)
def test_european_vs_black_scholes(payoff: EuropeanCall | EuropeanPut, sign: float, K: float) -> None:
    m = GBM(100.0, 0.05, 0.3, q=0.02)
    ref = bs_price(sign, 100.0, K, 1.0, 0.05, 0.02, 0.3)
    _within(price(m, payoff, n_paths=100_000, n_steps=1, seed=11), ref)
    _within(price(m, payoff, n_paths=50_000, n_steps=1, seed=12, antithetic=False), ref)
    qmc = price(m, payoff, n_paths=8192, n_steps=4, seed=13, qmc=True)
    _within(qmc, ref)


def test_digital_vs_black_scholes() -> None:
    m = GBM(100.0, 0.05, 0.25)
    d2 = (math.log(100 / 105) + (0.05 - 0.5 * 0.25**2) * 0.5) / (0.25 * math.sqrt(0.5))
    ref = math.exp(-0.05 * 0.5) * 0.5 * math.erfc(-d2 / math.sqrt(2))
    _within(price(m, Digital("call", 105.0, 0.5), n_paths=100_000, n_steps=1, seed=3), ref)
    _within(price(m, Digital("put", 105.0, 0.5), n_paths=100_000, n_steps=1, seed=3), math.exp(-0.025) - ref)


HAUG = {"S": 100.0, "r": 0.08, "q": 0.04, "T": 0.5, "sigma": 0.25, "rebate": 3.0}


def test_haug_barrier_value_is_quantlibs() -> None:
    ref = ql_refs.barrier("call", "down-and-out", 100.0, 90.0, 95.0, 3.0, 0.5, 0.08, 0.04, 0.25)
    assert round(ref, 4) == 9.0246


@pytest.mark.parametrize(
    ("kind", "btype", "K", "H", "cv"),
    [
        ("call", "down-and-out", 90.0, 95.0, None),
        ("call", "down-and-out", 90.0, 95.0, "european"),
        ("call", "down-and-in", 100.0, 95.0, "european"),
        ("call", "up-and-out", 90.0, 105.0, None),
        ("call", "up-and-in", 100.0, 105.0, "european"),
        ("put", "down-and-out", 100.0, 95.0, None),
        ("put", "up-and-in", 100.0, 105.0, "european"),
    ],
)
def test_barrier_vs_quantlib_analytic(kind: str, btype: str, K: float, H: float, cv: str | None) -> None:
    m = GBM(HAUG["S"], HAUG["r"], HAUG["sigma"], q=HAUG["q"])
    ref = ql_refs.barrier(kind, btype, 100.0, K, H, 3.0, 0.5, 0.08, 0.04, 0.25)
    opt = BarrierOption(kind, btype, K, H, 0.5, rebate=3.0)  # type: ignore[arg-type]
    _within(price(m, opt, n_paths=60_000, n_steps=100, seed=21, control_variate=cv), ref)


def test_geometric_asian_closed_forms_match_quantlib() -> None:
    for n in (4, 12, 36):
        ours = geometric_asian_call(100.0, 95.0, 1.0, 0.05, 0.01, 0.3, n)
        assert ours == pytest.approx(ql_refs.geometric_asian_discrete(100.0, 95.0, 1.0, 0.05, 0.01, 0.3, n), rel=1e-10)
    ours = geometric_asian_call(100.0, 95.0, 1.0, 0.05, 0.01, 0.3, None)
    assert ours == pytest.approx(ql_refs.geometric_asian_continuous(100.0, 95.0, 1.0, 0.05, 0.01, 0.3), rel=1e-10)


def test_geometric_asian_mc_discrete_and_continuous() -> None:
    m = GBM(100.0, 0.05, 0.3, q=0.01)
    ref_d = ql_refs.geometric_asian_discrete(100.0, 95.0, 1.0, 0.05, 0.01, 0.3, 12)
    _within(price(m, AsianGeometricCall(95.0, 1.0, 12), n_paths=60_000, n_steps=12, seed=5), ref_d)
    ref_c = ql_refs.geometric_asian_continuous(100.0, 95.0, 1.0, 0.05, 0.01, 0.3)
    # continuous average: exact in log space (Brownian-bridge integral), so a coarse grid is unbiased
    _within(price(m, AsianGeometricCall(95.0, 1.0, None), n_paths=60_000, n_steps=8, seed=6), ref_c)


def test_arithmetic_asian_control_variate_vs_quantlib_mc() -> None:
    import QuantLib as ql  # noqa: N813

    m = GBM(100.0, 0.05, 0.3, q=0.01)
    payoff = AsianArithmeticCall(95.0, 1.0, 12)
    ours = price(m, payoff, n_paths=40_000, n_steps=12, seed=7, control_variate="geometric")
    plain = price(m, payoff, n_paths=40_000, n_steps=12, seed=8)
    assert ours.stderr < plain.stderr / 10.0
    ql_refs._setup()
    dates = [ql_refs._TODAY + 30 * i for i in range(1, 13)]
    call = ql.PlainVanillaPayoff(ql.Option.Call, 95.0)
    opt = ql.DiscreteAveragingAsianOption(ql.Average.Arithmetic, 0.0, 0, dates, call, ql.EuropeanExercise(dates[-1]))
    eng = ql.MCDiscreteArithmeticAPEngine(
        ql_refs._bsm(100.0, 0.05, 0.01, 0.3), "pseudorandom", requiredSamples=40_000, seed=42, controlVariate=True
    )
    opt.setPricingEngine(eng)
    ref, ref_se = opt.NPV(), opt.errorEstimate()
    assert abs(ours.price - ref) <= 3.0 * math.hypot(ours.stderr, ref_se)
    assert abs(ours.price - plain.price) <= 3.0 * math.hypot(ours.stderr, plain.stderr)


@pytest.mark.parametrize(
    ("params", "kind", "K"),
    [
        ((0.04, 1.5, 0.04, 0.3, -0.7), "call", 105.0),  # Feller holds
        ((0.04, 1.5, 0.04, 0.5, -0.7), "put", 95.0),  # Feller violated: the QE scheme's regime
        ((0.09, 3.0, 0.06, 0.6, -0.3), "call", 100.0),
    ],
)
def test_heston_vs_quantlib_analytic(params: tuple[float, ...], kind: str, K: float) -> None:
    v0, kappa, theta, xi, rho = params
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = Heston(100.0, 0.03, v0, kappa, theta, xi, rho, q=0.01)
    ref = ql_refs.heston(kind, 100.0, K, 1.0, 0.03, 0.01, v0, kappa, theta, xi, rho)
    payoff = EuropeanCall(K, 1.0) if kind == "call" else EuropeanPut(K, 1.0)
    _within(price(m, payoff, n_paths=100_000, n_steps=50, seed=31), ref)


def test_heston_closed_form_matches_quantlib() -> None:
    from keel.pricing.mc import heston_european

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = Heston(100.0, 0.03, 0.04, 1.5, 0.04, 0.5, -0.7, q=0.01)
    for sign, kind, K in ((1.0, "call", 80.0), (1.0, "call", 120.0), (-1.0, "put", 95.0)):
        ref = ql_refs.heston(kind, 100.0, K, 1.0, 0.03, 0.01, 0.04, 1.5, 0.04, 0.5, -0.7)
        assert heston_european(sign, m, K, 1.0) == pytest.approx(ref, abs=1e-8)


def _haug_merton() -> Merton:
    sigma = 0.25 * math.sqrt(0.75)
    sigma_j = 0.25 * math.sqrt(0.25 / 5.0)
    return Merton(100.0, 0.08, sigma, 5.0, -0.5 * sigma_j**2, sigma_j)


def test_merton_series_matches_haug() -> None:
    assert round(merton_european(1.0, _haug_merton(), 100.0, 0.25), 4) == 5.9591


def test_merton_mc_vs_series() -> None:
    m = _haug_merton()
    _within(price(m, EuropeanCall(100.0, 0.25), n_paths=100_000, n_steps=4, seed=41), 5.9591)
    put_ref = merton_european(-1.0, m, 90.0, 0.25)
    _within(price(m, EuropeanPut(90.0, 0.25), n_paths=100_000, n_steps=1, seed=42), put_ref)


def test_floating_lookback_vs_quantlib() -> None:
    ref = ql_refs.lookback_floating_call(120.0, 100.0, 0.5, 0.10, 0.06, 0.30)
    assert ref == pytest.approx(25.3533, abs=1e-4)
    m = GBM(120.0, 0.10, 0.30, q=0.06)
    # the within-step minimum is drawn from the Brownian bridge: exact for GBM on any grid
    _within(price(m, LookbackFloatingCall(0.5, 100.0), n_paths=80_000, n_steps=20, seed=51), ref)


def test_ou_vs_gaussian_closed_form() -> None:
    m = OrnsteinUhlenbeck(0.02, 3.0, -0.01, 0.08)
    for payoff, sign in ((EuropeanCall(0.0, 1.0), 1.0), (EuropeanPut(0.005, 1.0), -1.0)):
        ref = ou_european(sign, m, payoff.K, 1.0)
        _within(price(m, payoff, n_paths=60_000, n_steps=5, seed=61), ref)
