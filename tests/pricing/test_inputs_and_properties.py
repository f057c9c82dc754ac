"""Bad input (clear errors or documented NaN), broadcasting, and hypothesis properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import keel.pricing as kp
from keel.errors import ValidationError
from keel.pricing import kernels


@pytest.mark.parametrize(
    ("field", "args", "match"),
    [
        ("S", {"S": -1.0}, r"S=-1.0: must be positive and finite"),
        ("S", {"S": math.nan}, r"S=nan"),
        ("K", {"K": 0.0}, r"K=0.0: must be positive"),
        ("T", {"T": -0.5}, r"T=-0.5: must be non-negative"),
        ("T", {"T": math.inf}, r"T=inf"),
        ("sigma", {"sigma": -0.2}, r"sigma=-0.2"),
        ("sigma", {"sigma": math.inf}, r"sigma=inf"),
        ("r", {"r": math.nan}, r"r=nan: must be finite"),
    ],
)
def test_scalar_bad_input_names_the_field(field: str, args: dict[str, float], match: str) -> None:
    base = {"S": 100.0, "K": 100.0, "T": 1.0, "r": 0.01, "sigma": 0.2}
    base.update(args)
    with pytest.raises(ValidationError, match=match) as exc:
        kp.price("call", base["S"], base["K"], base["T"], base["r"], base["sigma"])
    assert exc.value.field == field
    with pytest.raises(ValidationError, match=match):
        kp.greeks("put", base["S"], base["K"], base["T"], base["r"], base["sigma"])


def test_vector_bad_input_names_field_and_index() -> None:
    K = np.array([[90.0, 100.0], [110.0, np.nan]])
    with pytest.raises(ValidationError, match=r"K\[1, 1\]=nan: must be positive and finite"):
        kp.price("call", 100.0, K, 1.0, 0.0, 0.2)
    with pytest.raises(ValidationError, match=r"sigma\[2\]=-1.0"):
        kp.greeks("call", 100.0, 100.0, 1.0, 0.0, [0.1, 0.2, -1.0])
    big = np.full(5000, 0.2)
    big[4321] = np.nan
    with pytest.raises(ValidationError, match=r"sigma\[4321\]=nan"):
        kp.greeks("call", 100.0, 100.0, 1.0, 0.0, big)
    with pytest.raises(ValidationError, match=r"sigma\[4321\]=nan"):
        kp.price("put", 100.0, 100.0, 1.0, 0.0, big)
    with pytest.raises(ValidationError, match=r"df\[0\]=0.0"):
        kp.black76("call", 100.0, 100.0, 1.0, 0.2, [0.0, 1.0])


def test_kind_validation() -> None:
    with pytest.raises(ValidationError, match="kind='straddle'"):
        kp.price("straddle", 100.0, 100.0, 1.0, 0.0, 0.2)
    with pytest.raises(ValidationError, match=r"kind\[1\]=0.0: must be \+1 \(call\) or -1 \(put\)"):
        kp.price([1, 0], 100.0, 100.0, 1.0, 0.0, 0.2)
    assert kp.price("CALL", 100.0, 100.0, 1.0, 0.0, 0.2) == kp.price([1.0], 100.0, 100.0, 1.0, 0.0, 0.2)[0]


def test_shapes_that_do_not_broadcast() -> None:
    with pytest.raises(ValidationError, match="shape=.*do not broadcast"):
        kp.price("call", [100.0, 101.0, 102.0], [90.0, 95.0], 1.0, 0.0, 0.2)
    with pytest.raises(ValidationError, match="do not broadcast"):
        kp.implied_vol([1, -1, 1], [1.0, 2.0], 100.0, 100.0, 1.0, 0.0)


def test_broadcasting_shapes_and_scalars() -> None:
    K = np.linspace(80, 120, 5)[:, None]
    T = np.array([0.1, 0.5, 1.0])[None, :]
    p = kp.price("put", 100.0, K, T, 0.02, 0.25)
    assert isinstance(p, np.ndarray) and p.shape == (5, 3) and p.dtype == np.float64
    g = kp.greeks(np.array([1, -1])[:, None, None], 100.0, K, T, 0.02, 0.25)
    assert g.vega.shape == (2, 5, 3)
    assert np.allclose(g.price[1], p, rtol=1e-14, atol=0)
    assert isinstance(kp.price("call", 100, 100, 1, 0, 0.2), float)  # ints accepted, scalar out
    assert kp.greeks("call", 100.0, 100.0, 1.0, 0.0, 0.2).delta.shape == ()


def test_t_zero_is_intrinsic_and_sigma_zero_is_discounted_forward_intrinsic() -> None:
    assert kp.price("call", 110.0, 100.0, 0.0, 0.05, 0.3) == 10.0
    assert kp.price("put", 110.0, 100.0, 0.0, 0.05, 0.3) == 0.0
    np.testing.assert_array_equal(kp.price([1, -1], 90.0, 100.0, 0.0, 0.05, 0.3), [0.0, 10.0])
    g = kp.greeks("call", 110.0, 100.0, 0.0, 0.05, 0.3)
    assert float(g.delta) == 1.0 and float(g.gamma) == 0.0 and float(g.vega) == 0.0
    # sigma = 0: deterministic forward, V = max(S e^{-qT} - K e^{-rT}, 0)
    v = kp.price("call", 100.0, 100.0, 1.0, 0.05, 0.0, 0.01)
    assert v == pytest.approx(100 * math.exp(-0.01) - 100 * math.exp(-0.05), rel=1e-15)
    assert kernels.bs_price(1.0, 110.0, 100.0, 0.0, 0.05, 0.0, 0.3) == 10.0


def test_scalar_numba_kernels_agree_with_vector_api() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        S, K = rng.uniform(50, 150, 2)
        T, r, q, v = rng.uniform(0.01, 3), rng.uniform(-0.01, 0.1), rng.uniform(0, 0.05), rng.uniform(0.05, 1.5)
        w = 1.0 if rng.random() < 0.5 else -1.0
        g = kp.greeks([w], S, K, T, r, v, q)
        assert kernels.bs_price(w, S, K, T, r, q, v) == pytest.approx(g.price[0], rel=1e-12, abs=1e-13)
        assert kernels.bs_delta(w, S, K, T, r, q, v) == pytest.approx(g.delta[0], rel=1e-12, abs=1e-14)
        assert kernels.bs_gamma(w, S, K, T, r, q, v) == pytest.approx(g.gamma[0], rel=1e-12, abs=1e-14)
        assert kernels.bs_vega(w, S, K, T, r, q, v) == pytest.approx(g.vega[0], rel=1e-12, abs=1e-13)
        F, df = S * math.exp((r - q) * T), math.exp(-r * T)
        assert kernels.black76_price(w, F, K, T, v, df) == pytest.approx(g.price[0], rel=1e-12, abs=1e-13)
    assert kernels.norm_cdf(-30.0) == pytest.approx(4.906713927148187e-198, rel=1e-14)
    assert kernels.norm_pdf(0.0) == pytest.approx(1 / math.sqrt(2 * math.pi), rel=1e-16)


positive = st.floats(min_value=1.0, max_value=1000.0)
maturity = st.floats(min_value=1.0 / 365, max_value=5.0)
vol = st.floats(min_value=0.02, max_value=2.0)
rate = st.floats(min_value=-0.02, max_value=0.15)
yld = st.floats(min_value=0.0, max_value=0.1)


@settings(max_examples=100, deadline=None)
@given(positive, st.floats(min_value=0.3, max_value=3.0), maturity, rate, vol, yld)
def test_put_call_parity(S: float, m: float, T: float, r: float, sigma: float, q: float) -> None:
    K = S * m
    c = kp.price("call", S, K, T, r, sigma, q)
    p = kp.price("put", S, K, T, r, sigma, q)
    fwd = S * math.exp(-q * T) - K * math.exp(-r * T)
    assert c - p == pytest.approx(fwd, abs=1e-11 * max(S, K))
    g = kp.greeks([1, -1], S, K, T, r, sigma, q)
    assert g.delta[0] - g.delta[1] == pytest.approx(math.exp(-q * T), abs=1e-14)
    assert g.gamma[0] == pytest.approx(g.gamma[1], rel=1e-12) and g.vega[0] == pytest.approx(g.vega[1], rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(positive, st.floats(min_value=0.5, max_value=2.0), maturity, rate, vol, yld)
def test_monotone_in_vol_strike_and_bounded(S: float, m: float, T: float, r: float, sigma: float, q: float) -> None:
    K = S * m
    vols = np.array([sigma * 0.9, sigma, sigma * 1.1])
    for kind in ("call", "put"):
        v = kp.price(kind, S, K, T, r, vols, q)
        assert np.all(np.diff(v) >= -1e-12 * S)  # non-decreasing in sigma
    strikes = np.array([K * 0.95, K, K * 1.05])
    c = kp.price("call", S, strikes, T, r, sigma, q)
    p = kp.price("put", S, strikes, T, r, sigma, q)
    assert np.all(np.diff(c) <= 1e-12 * S) and np.all(np.diff(p) >= -1e-12 * S)
    assert np.all(c <= S * math.exp(-q * T) + 1e-12 * S) and np.all(p <= strikes * math.exp(-r * T) + 1e-12 * S)


@settings(max_examples=100, deadline=None)
@given(positive, st.floats(min_value=0.7, max_value=1.4), st.floats(min_value=0.05, max_value=3.0), rate, vol, yld)
def test_implied_vol_inverts_price(S: float, m: float, T: float, r: float, sigma: float, q: float) -> None:
    K = S * m
    for kind in ("call", "put"):
        p = kp.price(kind, S, K, T, r, sigma, q)
        vega = float(kp.greeks(kind, S, K, T, r, sigma, q).vega)
        if vega > 0 and math.ulp(p) / vega < 1e-11:
            assert kp.implied_vol(kind, p, S, K, T, r, q) == pytest.approx(sigma, abs=1e-10)
