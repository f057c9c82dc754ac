"""Prices and all Greeks against QuantLib on 12,000 random options, plus Haug's published values."""

from __future__ import annotations

import math

import numpy as np
import pytest

import keel.pricing as kp

ql = pytest.importorskip("QuantLib")

N = 12_000


def _close(ours: np.ndarray, ref: np.ndarray, rel: float = 1e-9, abs_: float = 1e-12) -> np.ndarray:
    return (np.abs(ours - ref) <= abs_) | (np.abs(ours - ref) <= rel * np.abs(ref))


@pytest.fixture(scope="module")
def random_options() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240521)
    S = rng.uniform(20.0, 200.0, N)
    T = np.exp(rng.uniform(math.log(1 / 365), math.log(5.0), N))
    sigma = rng.uniform(0.03, 2.0, N)
    K = S * np.exp(rng.normal(0.0, 1.5, N) * sigma * np.sqrt(T))
    r = rng.uniform(-0.02, 0.12, N)
    q = rng.uniform(0.0, 0.06, N)
    w = np.where(rng.random(N) < 0.5, 1.0, -1.0)
    return {"w": w, "S": S, "K": K, "T": T, "r": r, "q": q, "sigma": sigma}


@pytest.fixture(scope="module")
def quantlib_values(random_options: dict[str, np.ndarray]) -> np.ndarray:
    o = random_options
    out = np.empty((8, N))
    for i in range(N):
        S, K, T, r, q, v = (float(o[k][i]) for k in ("S", "K", "T", "r", "q", "sigma"))
        kind = ql.Option.Call if o["w"][i] > 0 else ql.Option.Put
        df = math.exp(-r * T)
        fwd = S * math.exp((r - q) * T)
        bc = ql.BlackCalculator(ql.PlainVanillaPayoff(kind, K), fwd, v * math.sqrt(T), df)
        out[:, i] = (
            bc.value(),
            bc.delta(S),
            bc.gamma(S),
            bc.vega(T),
            bc.theta(S, T),
            bc.rho(T),
            bc.vanna(S, T),
            # BlackCalculator::volga divides vega*d1*d2 by the total std dev sigma*sqrt(T), not by sigma:
            # it is d2V/dsigma2 / sqrt(T) (see test_volga_is_the_second_vol_derivative); rescale.
            bc.volga(T) * math.sqrt(T),
        )
    return out


NAMES = ("price", "delta", "gamma", "vega", "theta", "rho", "vanna", "volga")


def _mp_greeks(w: float, S: float, K: float, T: float, r: float, q: float, v: float) -> tuple[float, ...]:
    """40-digit closed forms (mpmath), the referee where QuantLib's double arithmetic loses digits."""
    mp = pytest.importorskip("mpmath")
    with mp.workdps(40):
        S_, K_, T_, r_, q_, v_ = (mp.mpf(x) for x in (S, K, T, r, q, v))
        df, dq = mp.exp(-r_ * T_), mp.exp(-q_ * T_)
        sd = v_ * mp.sqrt(T_)
        d1 = (mp.log(S_ / K_) + (r_ - q_) * T_) / sd + sd / 2
        d2 = d1 - sd
        n1, n2, pdf = mp.ncdf(w * d1), mp.ncdf(w * d2), mp.npdf(d1)
        vega = S_ * dq * pdf * mp.sqrt(T_)
        vals = (
            w * (S_ * dq * n1 - K_ * df * n2),
            w * dq * n1,
            dq * pdf / (S_ * sd),
            vega,
            -S_ * dq * pdf * v_ / (2 * mp.sqrt(T_)) - w * r_ * K_ * df * n2 + w * q_ * S_ * dq * n1,
            w * K_ * T_ * df * n2,
            -dq * pdf * d2 / v_,
            vega * d1 * d2 / v_,
        )
        return tuple(float(x) for x in vals)


@pytest.mark.parametrize("j", range(8), ids=NAMES)
def test_price_and_greeks_match_quantlib(
    random_options: dict[str, np.ndarray], quantlib_values: np.ndarray, j: int
) -> None:
    o = random_options
    g = kp.greeks(o["w"], o["S"], o["K"], o["T"], o["r"], o["sigma"], o["q"])
    ours = getattr(g, NAMES[j])
    ref = quantlib_values[j]
    ok = _close(ours, ref)
    # Where we disagree with QuantLib (a handful of far-OTM options with strikes ~1e4-1e5 x spot, where
    # QuantLib's F N(d1) - K N(d2) cancels), a 40-digit mpmath evaluation decides: ours must be right.
    disputed = np.flatnonzero(~ok)
    assert disputed.size <= N // 1000, f"{NAMES[j]}: {disputed.size} of {N} disagree with QuantLib"
    for i in disputed:
        args = (float(o[k][i]) for k in ("w", "S", "K", "T", "r", "q", "sigma"))
        exact = _mp_greeks(*args)[j]
        assert abs(ours[i] - exact) <= max(1e-12, 1e-12 * abs(exact)), (NAMES[j], i, ours[i], ref[i], exact)
        assert abs(ref[i] - exact) > abs(ours[i] - exact), (NAMES[j], i)


def test_volga_is_the_second_vol_derivative() -> None:
    # central difference of QuantLib's own vega in sigma: fixes which volga convention is right
    S, K, T, r, q, v, h = 100.0, 110.0, 0.7, 0.03, 0.01, 0.25, 1e-4

    def ql_vega(sig: float) -> float:
        bc = ql.BlackCalculator(
            ql.PlainVanillaPayoff(ql.Option.Call, K), S * math.exp((r - q) * T), sig * math.sqrt(T), math.exp(-r * T)
        )
        return float(bc.vega(T))

    fd = (ql_vega(v + h) - ql_vega(v - h)) / (2 * h)
    ours = float(kp.greeks("call", S, K, T, r, v, q).volga)
    assert ours == pytest.approx(fd, rel=1e-6)
    bc = ql.BlackCalculator(ql.PlainVanillaPayoff(ql.Option.Call, K), S * math.exp((r - q) * T), v * math.sqrt(T), 1.0)
    assert bc.volga(T) == pytest.approx(ours / math.sqrt(T) / math.exp(-r * T), rel=1e-12)


def test_vector_price_matches_greeks_price_and_scalar_path(random_options: dict[str, np.ndarray]) -> None:
    o = random_options
    p = kp.price(o["w"], o["S"], o["K"], o["T"], o["r"], o["sigma"], o["q"])
    g = kp.greeks(o["w"], o["S"], o["K"], o["T"], o["r"], o["sigma"], o["q"])
    assert np.all(_close(p, g.price, 1e-13, 1e-14))
    for i in range(0, N, 997):
        kind = "call" if o["w"][i] > 0 else "put"
        args = (o["S"][i], o["K"][i], o["T"][i], o["r"][i], o["sigma"][i], o["q"][i])
        s = kp.price(kind, *(float(a) for a in args))
        assert isinstance(s, float)
        assert s == pytest.approx(float(p[i]), rel=1e-13, abs=1e-14)
        gs = kp.greeks(kind, *(float(a) for a in args))
        assert float(gs.vanna) == pytest.approx(float(g.vanna[i]), rel=1e-13, abs=1e-14)


def test_black76_matches_quantlib_black_formula() -> None:
    rng = np.random.default_rng(7)
    n = 2000
    F = rng.uniform(10, 1000, n)
    K = F * np.exp(rng.normal(0, 0.5, n))
    T = rng.uniform(0.01, 3.0, n)
    v = rng.uniform(0.05, 1.5, n)
    df = np.exp(-rng.uniform(0, 0.1, n) * T)
    w = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    ours = kp.black76(w, F, K, T, v, df)
    ref = np.array(
        [
            ql.blackFormula(ql.Option.Call if w[i] > 0 else ql.Option.Put, K[i], F[i], v[i] * math.sqrt(T[i]), df[i])
            for i in range(n)
        ]
    )
    assert np.all(_close(ours, ref))


# Haug, "The Complete Guide to Option Pricing Formulas", as used in QuantLib's test suite
# (test-suite/europeanoption.cpp and blackformula.cpp): (kind, S, K, r, q, T, sigma, expected, tol).
HAUG_VALUES = [
    ("call", 60.0, 65.0, 0.08, 0.0, 0.25, 0.30, 2.1334, 1e-4),  # Black-Scholes 1973
    ("put", 100.0, 95.0, 0.10, 0.05, 0.5, 0.20, 2.4648, 1e-4),  # Merton 1973, continuous yield
    ("call", 1.56, 1.60, 0.06, 0.08, 0.5, 0.12, 0.0291, 1e-4),  # Garman-Kohlhagen
]

HAUG_GREEKS = [
    # futures-style cost of carry b = r - q = 0 for the delta examples
    ("delta", "call", 105.0, 100.0, 0.10, 0.10, 0.5, 0.36, 0.5946, 1e-4),
    ("delta", "put", 105.0, 100.0, 0.10, 0.10, 0.5, 0.36, -0.3566, 1e-4),
    ("gamma", "call", 55.0, 60.0, 0.10, 0.0, 0.75, 0.30, 0.0278, 1e-4),
    ("vega", "call", 55.0, 60.0, 0.10, 0.0, 0.75, 0.30, 18.9358, 1e-4),
    ("theta", "put", 430.0, 405.0, 0.07, 0.05, 1.0 / 12.0, 0.20, -31.1924, 1e-4),
    ("rho", "call", 72.0, 75.0, 0.09, 0.0, 1.0, 0.19, 38.7325, 1e-4),
]


@pytest.mark.parametrize(("kind", "S", "K", "r", "q", "T", "sigma", "expected", "tol"), HAUG_VALUES)
def test_haug_prices(
    kind: str, S: float, K: float, r: float, q: float, T: float, sigma: float, expected: float, tol: float
) -> None:  # fmt: skip
    assert kp.price(kind, S, K, T, r, sigma, q) == pytest.approx(expected, abs=tol)


@pytest.mark.parametrize(("greek", "kind", "S", "K", "r", "q", "T", "sigma", "expected", "tol"), HAUG_GREEKS)
def test_haug_greeks(
    greek: str, kind: str, S: float, K: float, r: float, q: float, T: float, sigma: float, expected: float, tol: float
) -> None:
    g = kp.greeks(kind, S, K, T, r, sigma, q)
    assert float(getattr(g, greek)) == pytest.approx(expected, abs=tol)


def test_haug_black76() -> None:
    # Black 1976, QuantLib blackformula.cpp: F = K = 19, T = 0.75, sigma = 0.28, r = 0.10
    assert kp.black76("call", 19.0, 19.0, 0.75, 0.28, math.exp(-0.10 * 0.75)) == pytest.approx(1.7011, abs=1e-4)
    assert kp.black76("put", 19.0, 19.0, 0.75, 0.28, math.exp(-0.10 * 0.75)) == pytest.approx(1.7011, abs=1e-4)
