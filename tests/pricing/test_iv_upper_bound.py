"""Implied vol near the upper price bound (deep ITM, long-dated, high vol) against 34-digit mpmath.

Near ``df·F`` (call) / ``df·K`` (put) the price is the bound minus a remainder a few parts in 10⁷
or less of it, so a solver that works on ``b − β`` loses the digits that carry σ (#20: a put at
σ = 4.645 was off by 1.27e-10).  Reference: the 34-digit Black-Scholes-Merton price on the same
double inputs, rounded to a double, and the exact (mpmath Newton) root for that double.  Well
posed as in ``test_implied_vol``: ``ulp(price) / 2 / vega < 1e-10``; there ``|σ − σ_true| <= 1e-10``
through the scalar API, the small-array kernels and the vectorized (SIMD) path.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

import keel.pricing as kp
from keel.errors import ValidationError

DPS = 34


def _bsm(w: int, S: float, K: float, T: float, r: float, q: float, sig: mp.mpf) -> tuple[mp.mpf, mp.mpf]:
    S_, K_, T_, r_, q_ = (mp.mpf(x) for x in (S, K, T, r, q))
    F = S_ * mp.exp((r_ - q_) * T_)
    df = mp.exp(-r_ * T_)
    sd = sig * mp.sqrt(T_)
    d1 = mp.log(F / K_) / sd + sd / 2
    d2 = d1 - sd
    return df * w * (F * mp.ncdf(w * d1) - K_ * mp.ncdf(w * d2)), df * F * mp.npdf(d1) * mp.sqrt(T_)


def _root(w: int, P: float, S: float, K: float, T: float, r: float, q: float, sigma: float) -> float:
    target = mp.mpf(P)
    s = mp.mpf(sigma)
    for _ in range(40):
        p, v = _bsm(w, S, K, T, r, q, s)
        step = (p - target) / v
        s -= step
        if abs(step) < mp.mpf(10) ** -28:
            return float(s)
    raise AssertionError("reference Newton did not converge")


def _sweep(per_decade: int, seed: int) -> list[tuple[int, float, float, float, float, float, float, float, float]]:
    """Well-posed cases whose price is within 1e-7..1e-2 (relative) of its upper bound,
    ``per_decade`` in each decade of that gap (closer than ~1e-7 no double price is well posed)."""
    rng = np.random.default_rng(seed)
    rows = []
    count = dict.fromkeys(range(-7, -2), 0)
    with mp.workdps(DPS):
        for _ in range(20_000):
            if min(count.values()) >= per_decade:
                break
            T = float(rng.uniform(1.0, 10.0))
            sigma = float(10 ** rng.uniform(math.log10(0.8), math.log10(8.0)))
            S = 100.0
            r = float(rng.uniform(-0.01, 0.08))
            q = float(rng.uniform(0.0, 0.05))
            w = 1 if rng.random() < 0.5 else -1
            # in the money for the option's side (puts: K above the forward), up to 3 log-units deep
            z = float(rng.uniform(0.0, 3.0))
            K = S * math.exp(-w * z + (r - q) * T)
            p_exact, vega = _bsm(w, S, K, T, r, q, mp.mpf(sigma))
            P = float(p_exact)
            upper = S * math.exp(-q * T) if w > 0 else K * math.exp(-r * T)
            gap = 1.0 - P / upper
            if not 1e-7 <= gap < 1e-2 or float(mp.mpf(math.ulp(P)) / 2 / vega) >= 1e-10:
                continue
            decade = math.floor(math.log10(gap))
            if count[decade] >= per_decade:
                continue
            count[decade] += 1
            rows.append((w, P, S, K, T, r, q, _root(w, P, S, K, T, r, q, sigma), gap))
    assert min(count.values()) >= per_decade, count
    return rows


ISSUE_CASE = (-1, 84.98000341352555, 100.0, 103.25494353085878, 4.800846827122933, 0.040573001147792824,
              0.021013043083468283)  # fmt: skip


@pytest.fixture(scope="module")
def sweep() -> list[tuple[int, float, float, float, float, float, float, float, float]]:
    rows = _sweep(30, 20)
    with mp.workdps(DPS):
        w, P, S, K, T, r, q = ISSUE_CASE
        rows.append((w, P, S, K, T, r, q, _root(w, P, S, K, T, r, q, 4.645197041128559), 3.7e-7))
    return rows


def test_issue_case_within_1e10() -> None:
    w, P, S, K, T, r, q = ISSUE_CASE
    with mp.workdps(DPS):
        truth = _root(w, P, S, K, T, r, q, 4.645197041128559)
    assert abs(truth - 4.6451970411358) < 1e-12  # the issue's 34-digit root (rounded forward and discount)
    assert abs(kp.implied_vol("put", P, S, K, T, r, q) - truth) <= 1e-11


def test_sweep_near_upper_bound_against_mpmath(sweep: list[tuple[float, ...]]) -> None:
    a = np.array(sweep)
    w, P, S, K, T, r, q, truth, gap = (a[:, i] for i in range(9))
    assert gap.min() < 1e-6 and gap.max() > 1e-3  # the sweep reaches deep into the region
    small = np.asarray(kp.implied_vol(w, P, S, K, T, r, q))  # < 2048 elements: scalar-prep kernels
    reps = -(-2100 // len(a))
    tiled = np.asarray(kp.implied_vol(*(np.tile(x, reps) for x in (w, P, S, K, T, r, q))))[: len(a)]  # SIMD path
    scalar = np.array(
        [kp.implied_vol("call" if c[0] > 0 else "put", *c[1:7]) for c in sweep]  # type: ignore[misc]
    )
    for name, got in (("scalar", scalar), ("small", small), ("vector", tiled)):
        err = np.abs(got - truth)
        worst = int(np.argmax(err))
        assert err[worst] <= 1e-10, (name, sweep[worst], got[worst], err[worst])
    assert np.all(kp.implied_vol_status(w, P, S, K, T, r, q) == kp.IVStatus.OK)


def test_black76_near_upper_bound(sweep: list[tuple[float, ...]]) -> None:
    # the same quotes as Black-76 inputs: F and df rounded to doubles, reference recomputed on them
    rows = []
    with mp.workdps(DPS):
        for w, P, S, K, T, r, q, _, _ in sweep[:60]:
            F = float(mp.mpf(S) * mp.exp((mp.mpf(r) - mp.mpf(q)) * mp.mpf(T)))
            df = float(mp.exp(-mp.mpf(r) * mp.mpf(T)))
            F_, K_, T_, df_ = (mp.mpf(x) for x in (F, K, T, df))

            def b76(s: mp.mpf, w: float = w, F_: mp.mpf = F_, K_: mp.mpf = K_, T_: mp.mpf = T_, df_: mp.mpf = df_):
                sd = s * mp.sqrt(T_)
                d1 = mp.log(F_ / K_) / sd + sd / 2
                return (
                    df_ * w * (F_ * mp.ncdf(w * d1) - K_ * mp.ncdf(w * (d1 - sd))),
                    df_ * F_ * mp.npdf(d1) * mp.sqrt(T_),
                )

            s = mp.mpf(kp.implied_vol("call" if w > 0 else "put", P, S, K, T, r, q))
            if (F if w > 0 else K) * df <= P:
                continue
            for _ in range(30):
                p, v = b76(s)
                step = (p - mp.mpf(P)) / v
                s -= step
                if abs(step) < mp.mpf(10) ** -28:
                    break
            if float(mp.mpf(math.ulp(P)) / 2 / v) < 1e-10:
                rows.append((w, P, F, K, T, df, float(s)))
    assert len(rows) > 40
    a = np.array(rows)
    got = np.asarray(kp.implied_vol_black76(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], a[:, 5]))
    assert np.max(np.abs(got - a[:, 6])) <= 1e-10
    for c in rows[::10]:
        one = kp.implied_vol_black76("call" if c[0] > 0 else "put", *c[1:6])
        assert abs(one - c[6]) <= 1e-10


def test_negative_price_element_is_nan_with_status_in_vector_api() -> None:
    prices = np.array([5.0, -1.0, 12.0, -1e-300])
    for n in (1, 600):  # small-array kernels and the vectorized path
        p = np.tile(prices, n)
        iv = np.asarray(kp.implied_vol("call", p, 100.0, 100.0, 1.0, 0.01))
        st = kp.implied_vol_status("call", p, 100.0, 100.0, 1.0, 0.01)
        assert np.isfinite(iv[0::4]).all() and np.isfinite(iv[2::4]).all()
        assert np.isnan(iv[1::4]).all() and np.isnan(iv[3::4]).all()
        assert (st[1::4] == kp.IVStatus.BELOW_INTRINSIC).all() and (st[3::4] == kp.IVStatus.BELOW_INTRINSIC).all()
    iv76 = np.asarray(kp.implied_vol_black76("put", [-0.5, 3.0], 100.0, 100.0, 1.0, 0.99))
    assert math.isnan(iv76[0]) and iv76[1] > 0
    with pytest.raises(ValidationError, match="price=-1.0"):
        kp.implied_vol("call", -1.0, 100.0, 100.0, 1.0, 0.0)  # the scalar API keeps raising
    with pytest.raises(ValidationError, match=r"price\[1\]=inf"):
        kp.implied_vol("call", [1.0, math.inf], 100.0, 100.0, 1.0, 0.0)  # not a price at all: still refused
