"""Implied vol round trips against 30-digit mpmath references; bounds, statuses and errors.

Reference: for each case the price is the 30-digit Black-Scholes-Merton value rounded to a double,
and sigma_true is the exact (mpmath Newton, 30 digits) implied vol of *that double*.  An input is
well posed when rounding the price to a double moves the vol by less than 1e-10, i.e.
``ulp(price) / 2 / vega < 1e-10``; on those we require ``|sigma - sigma_true| <= 1e-10``.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

import keel.pricing as kp
from keel.errors import ValidationError

mp.mp.dps = 30
HOUR = 1.0 / (365.0 * 24.0)


def _mp_bsm(w: int, S: float, K: float, T: float, r: float, q: float, sig: mp.mpf) -> tuple[mp.mpf, mp.mpf]:
    S_, K_, T_, r_, q_ = (mp.mpf(x) for x in (S, K, T, r, q))
    F = S_ * mp.exp((r_ - q_) * T_)
    df = mp.exp(-r_ * T_)
    sd = sig * mp.sqrt(T_)
    d1 = mp.log(F / K_) / sd + sd / 2
    d2 = d1 - sd
    price = df * w * (F * mp.ncdf(w * d1) - K_ * mp.ncdf(w * d2))
    vega = df * F * mp.npdf(d1) * mp.sqrt(T_)
    return price, vega


def _case(w: int, S: float, K: float, T: float, r: float, q: float, sigma: float) -> tuple[float, float, bool] | None:
    """(double price, sigma_true of that double, well posed) or None when the price is 0 or not finite."""
    p_exact, vega = _mp_bsm(w, S, K, T, r, q, mp.mpf(sigma))
    P = float(p_exact)
    if not (P > 0 and math.isfinite(P)) or vega == 0:
        return None
    well_posed = float(mp.mpf(math.ulp(P)) / 2 / vega) < 1e-10
    if not well_posed:
        return P, math.nan, False
    target = mp.mpf(P)
    s = mp.mpf(sigma)
    for _ in range(8):  # Newton in 30 digits from the generating sigma (already within ~1e-16 relative)
        p, v = _mp_bsm(w, S, K, T, r, q, s)
        step = (p - target) / v
        s -= step
        if abs(step) < s * mp.mpf(10) ** -14:  # quadratic: the error left is of order step**2, below 1e-25
            break
    return P, float(s), True


def _random_cases(n: int, seed: int) -> list[tuple[int, float, float, float, float, float, float]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        sigma = float(10 ** rng.uniform(-2, math.log10(5)))  # 1% .. 500%
        T = float(10 ** rng.uniform(math.log10(HOUR), math.log10(5)))  # 1 hour .. 5 years
        z = float(rng.uniform(-7, 7))  # standardized moneyness: deep ITM .. deep OTM
        S = float(rng.uniform(10, 1000))
        K = S * math.exp(z * sigma * math.sqrt(T))
        r = float(rng.uniform(-0.01, 0.10))
        q = float(rng.uniform(0.0, 0.05))
        w = 1 if rng.random() < 0.5 else -1
        out.append((w, S, K, T, r, q, sigma))
    return out


def _extreme_cases() -> list[tuple[int, float, float, float, float, float, float]]:
    out = []
    for T in (HOUR, 1.0 / 365, 1.0, 5.0):
        for sigma in (0.01, 0.2, 1.0, 5.0):
            for z in (-8.0, -4.0, -1.0, 0.0, 1.0, 4.0, 8.0):
                for w in (1, -1):
                    out.append((w, 100.0, 100.0 * math.exp(z * sigma * math.sqrt(T)), T, 0.05, 0.02, sigma))
    return out


Case = tuple[int, float, float, float, float, float, float]


@pytest.mark.parametrize(("label", "cases"), [("random", _random_cases(1500, 11)), ("extreme", _extreme_cases())])
def test_round_trip_machine_precision(label: str, cases: list[Case]) -> None:
    rows = [(c, _case(*c)) for c in cases]
    rows = [(c, ref) for c, ref in rows if ref is not None]
    w = np.array([c[0] for c, _ in rows], dtype=float)
    S, K, T, r, q = (np.array([c[i] for c, _ in rows]) for i in range(1, 6))
    P = np.array([ref[0] for _, ref in rows])
    truth = np.array([ref[1] for _, ref in rows])
    well = np.array([ref[2] for _, ref in rows])
    assert well.sum() >= 0.6 * len(rows)
    # tiled past 2048 elements so the vectorized (SIMD) path runs; small arrays take the scalar kernels
    reps = -(-2100 // len(rows))
    tiled = np.asarray(kp.implied_vol(*(np.tile(a, reps) for a in (w, P, S, K, T, r, q))))
    small = np.asarray(kp.implied_vol(w[:100], P[:100], S[:100], K[:100], T[:100], r[:100], q[:100]))
    got = tiled[: len(rows)]
    assert np.array_equal(tiled.reshape(reps, -1), np.tile(got, (reps, 1)), equal_nan=True)
    err = np.abs(got - truth)
    assert np.all((np.abs(small - truth[:100]) <= 1e-10)[well[:100]])
    bad = np.flatnonzero(well & ~(err <= 1e-10))
    assert bad.size == 0, [(rows[i][0], got[i], truth[i]) for i in bad[:5]]
    # the scalar path (safeguarded scalar solver, libm) agrees with the vector path (SIMD bulk solver)
    for i in np.flatnonzero(well)[::50]:
        kind = "call" if w[i] > 0 else "put"
        one = kp.implied_vol(kind, float(P[i]), float(S[i]), float(K[i]), float(T[i]), float(r[i]), float(q[i]))
        assert abs(one - truth[i]) <= 1e-10
        assert one == pytest.approx(got[i], abs=1e-13)


def _mp_b76(w: int, F: float, K: float, T: float, df: float, sig: mp.mpf) -> tuple[mp.mpf, mp.mpf]:
    F_, K_, T_, df_ = (mp.mpf(x) for x in (F, K, T, df))
    sd = sig * mp.sqrt(T_)
    d1 = mp.log(F_ / K_) / sd + sd / 2
    d2 = d1 - sd
    return df_ * w * (F_ * mp.ncdf(w * d1) - K_ * mp.ncdf(w * d2)), df_ * F_ * mp.npdf(d1) * mp.sqrt(T_)


def test_black76_round_trip_machine_precision() -> None:
    rng = np.random.default_rng(5)
    rows = []
    for _ in range(800):
        sigma = float(10 ** rng.uniform(-2, math.log10(5)))
        T = float(10 ** rng.uniform(math.log10(HOUR), math.log10(5)))
        F = float(rng.uniform(10, 1e5))
        K = F * math.exp(float(rng.uniform(-7, 7)) * sigma * math.sqrt(T))
        df = math.exp(-float(rng.uniform(0, 0.1)) * T)
        w = 1 if rng.random() < 0.5 else -1
        p_exact, vega = _mp_b76(w, F, K, T, df, mp.mpf(sigma))
        P = float(p_exact)
        if not P > 0 or float(mp.mpf(math.ulp(P)) / 2 / vega) >= 1e-10:
            continue
        s = mp.mpf(sigma)
        for _ in range(6):
            p, v = _mp_b76(w, F, K, T, df, s)
            s -= (p - mp.mpf(P)) / v
        rows.append((w, P, F, K, T, df, float(s)))
    assert len(rows) > 500
    a = np.array(rows)
    got = np.asarray(kp.implied_vol_black76(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], a[:, 5]))
    assert np.max(np.abs(got - a[:, 6])) <= 1e-10


def test_deep_itm_uses_time_value() -> None:
    # deep ITM call, 1 day, 30% vol: price is almost all intrinsic; vol still recovered to 1e-10
    S, K, T, r, sig = 100.0, 80.0, 1.0 / 365, 0.05, 0.3
    P, truth, well = _case(1, S, K, T, r, 0.0, sig)  # type: ignore[misc]
    if well:
        assert abs(kp.implied_vol("call", P, S, K, T, r) - truth) <= 1e-10
    S, K, T, r, sig = 100.0, 97.0, 0.25, 0.01, 0.2
    P, truth, well = _case(1, S, K, T, r, 0.0, sig)  # type: ignore[misc]
    assert well
    assert abs(kp.implied_vol("call", P, S, K, T, r) - truth) <= 1e-10


def test_out_of_bounds_gives_nan_and_status() -> None:
    S, K, T, r = 100.0, 90.0, 0.5, 0.0
    prices = np.array([5.0, 100.0, 150.0, np.nan, 10.0 + 1e-3, 10.0])  # below intrinsic, >= S, nan, ok, = intrinsic
    iv = np.asarray(kp.implied_vol("call", prices, S, K, T, r))
    st = kp.implied_vol_status("call", prices, S, K, T, r)
    assert np.isnan(iv[:4]).all()
    assert list(st) == [
        kp.IVStatus.BELOW_INTRINSIC,
        kp.IVStatus.ABOVE_MAXIMUM,
        kp.IVStatus.ABOVE_MAXIMUM,
        kp.IVStatus.INVALID_INPUT,
        kp.IVStatus.OK,
        kp.IVStatus.OK,
    ]
    assert iv[4] > 0 and iv[5] == 0.0
    # the same through the vectorized path (arrays of >= 2048 elements)
    big = np.tile(prices, 400)
    np.testing.assert_array_equal(kp.implied_vol_status("call", big, S, K, T, r), np.tile(st, 400))
    np.testing.assert_array_equal(np.asarray(kp.implied_vol("call", big, S, K, T, r)), np.tile(iv, 400))
    assert kp.IVStatus(int(st[0])).describe().startswith("price is below")
    st76 = kp.implied_vol_black76_status("put", [0.5, 200.0], 100.0, 110.0, 1.0, 0.9)
    assert list(st76) == [kp.IVStatus.BELOW_INTRINSIC, kp.IVStatus.ABOVE_MAXIMUM]


def test_scalar_api_raises_clear_errors() -> None:
    with pytest.raises(kp.ImpliedVolError, match="below the discounted intrinsic") as exc:
        kp.implied_vol("call", 5.0, 100.0, 90.0, 0.5, 0.0)
    assert exc.value.status is kp.IVStatus.BELOW_INTRINSIC
    with pytest.raises(kp.ImpliedVolError, match="maximum"):
        kp.implied_vol_black76("put", 120.0, 100.0, 110.0, 1.0, 1.0)
    with pytest.raises(ValidationError, match="T=0.0"):
        kp.implied_vol("call", 5.0, 100.0, 100.0, 0.0, 0.0)
    with pytest.raises(ValidationError, match="price=-1.0"):
        kp.implied_vol("call", -1.0, 100.0, 100.0, 1.0, 0.0)
    with pytest.raises(ValidationError, match=r"S\[1\]=-5.0"):
        kp.implied_vol("call", [1.0, 1.0], [100.0, -5.0], 100.0, 1.0, 0.0)
    with pytest.raises(ValidationError, match=r"S\[2999\]=-5.0"):
        kp.implied_vol("call", np.ones(3000), np.r_[np.full(2999, 100.0), -5.0], 100.0, 1.0, 0.0)
    with pytest.raises(ValidationError, match=r"T\[0\]=0.0"):
        kp.implied_vol("call", [1.0, 1.0], 100.0, 100.0, [0.0, 1.0], 0.0)
