"""Benchmark: Keel's option pricing vs plain numpy, py_vollib_vectorized and a QuantLib loop.

Same seeded inputs for every contender, in one run; medians of repeated timings and ratios.

1. price + Greeks (price, delta, gamma, vega, theta, rho): Keel ``greeks`` (which also returns
   vanna and volga), a plain numpy/scipy.special implementation, py_vollib_vectorized
   (price + ``get_all_greeks``), QuantLib ``BlackCalculator`` in a Python loop on a subset.
2. implied vol (Black-Scholes-Merton): Keel ``implied_vol``, py_vollib_vectorized
   ``vectorized_implied_volatility``, QuantLib ``blackFormulaImpliedStdDev`` loop on a subset;
   accuracy = max |σ − σ_true| on the well-posed inputs (where rounding the price to a double
   moves σ by less than 1e-10).

Goals (#20), single-threaded and like for like: price+Greeks >= 3.5x numpy, implied vol >= 5x
py_vollib_vectorized.  All-core figures are printed beside them from the same rounds.
Run: ``.venv/bin/python bench/pricing.py [--n 1000000] [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from typing import Any

import numba
import numpy as np
from scipy.special import ndtr

sys.path.insert(0, os.path.dirname(__file__))
from _common import header, interleaved, load_average, one_thread

import keel.pricing as kp


def make_inputs(n: int, seed: int = 42) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    S = np.full(n, 100.0)
    T = rng.uniform(0.02, 2.0, n)
    sigma = rng.uniform(0.1, 1.0, n)
    K = S * np.exp(rng.normal(0.0, 1.0, n) * sigma * np.sqrt(T))
    r = rng.uniform(0.0, 0.05, n)
    q = rng.uniform(0.0, 0.02, n)
    w = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    return {"w": w, "S": S, "K": K, "T": T, "r": r, "q": q, "sigma": sigma}


def numpy_greeks(w: Any, S: Any, K: Any, T: Any, r: Any, q: Any, sigma: Any) -> tuple[np.ndarray, ...]:
    """Textbook vectorized Black-Scholes-Merton price + 5 Greeks (numpy + scipy.special.ndtr)."""
    sqt = np.sqrt(T)
    sd = sigma * sqt
    d1 = (np.log(S / K) + (r - q) * T) / sd + 0.5 * sd
    d2 = d1 - sd
    df = np.exp(-r * T)
    dq = np.exp(-q * T)
    nd1 = ndtr(w * d1)
    nd2 = ndtr(w * d2)
    pdf = np.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
    price = w * (S * dq * nd1 - K * df * nd2)
    delta = w * dq * nd1
    gamma = dq * pdf / (S * sd)
    vega = S * dq * pdf * sqt
    theta = -S * dq * pdf * sigma / (2 * sqt) - w * r * K * df * nd2 + w * q * S * dq * nd1
    rho = w * K * T * df * nd2
    return price, delta, gamma, vega, theta, rho


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--ql", type=int, default=20_000, help="QuantLib loop subset size")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    n, repeats = args.n, args.repeats

    import QuantLib as ql  # noqa: N813

    warnings.filterwarnings("ignore")
    import py_vollib_vectorized as pvv  # noqa: F401 (patches py_vollib)
    from py_vollib_vectorized import get_all_greeks, vectorized_black_scholes_merton, vectorized_implied_volatility

    x = make_inputs(n)
    w, S, K, T, r, q, sigma = (x[k] for k in ("w", "S", "K", "T", "r", "q", "sigma"))
    flags = np.where(w > 0, "c", "p")
    m = min(args.ql, n)

    header(
        "option pricing: Keel vs numpy, py_vollib_vectorized, QuantLib",
        "numpy", "scipy", "numba", "llvmlite", "QuantLib", "py_vollib_vectorized", "py_lets_be_rational",
    )  # fmt: skip
    print(
        f"n = {n:,} options (QuantLib loop: {m:,}, scaled), {repeats} rounds, contenders timed round-robin; "
        "min / median / max.\nnumpy, scipy.special and the QuantLib loop run on one thread; py_vollib_vectorized "
        "is timed with numba limited to one thread.\nKeel is timed on one thread (the like-for-like figure, "
        f"where the goals apply) and on all {numba.config.NUMBA_NUM_THREADS} cores, in the same rounds.\n"
    )

    # ---- accuracy cross-check of the contenders against each other (same inputs)
    g = kp.greeks(w, S, K, T, r, sigma, q)
    ref = numpy_greeks(w, S, K, T, r, q, sigma)
    worst = max(
        float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-8)))
        for a, b in zip((g.price, g.delta, g.gamma, g.vega, g.theta, g.rho), ref, strict=True)
    )
    print(f"keel vs numpy price+Greeks max rel diff (|ref|>=1e-8): {worst:.1e}")

    # ---- price + Greeks
    def pvv_greeks() -> None:
        vectorized_black_scholes_merton(flags, S, K, T, r, sigma, q, return_as="numpy")
        get_all_greeks(flags, S, K, T, r, sigma, q, model="black_scholes_merton", return_as="dict")

    def ql_loop() -> None:
        for i in range(m):
            ot = ql.Option.Call if w[i] > 0 else ql.Option.Put
            df = math.exp(-r[i] * T[i])
            fwd = S[i] * math.exp((r[i] - q[i]) * T[i])
            bc = ql.BlackCalculator(ql.PlainVanillaPayoff(ot, K[i]), fwd, sigma[i] * math.sqrt(T[i]), df)
            bc.value(), bc.delta(S[i]), bc.gamma(S[i]), bc.vega(T[i]), bc.theta(S[i], T[i]), bc.rho(T[i])

    tg = interleaved(
        {
            "keel": lambda: kp.greeks(w, S, K, T, r, sigma, q),
            "keel1": one_thread(lambda: kp.greeks(w, S, K, T, r, sigma, q)),
            "numpy": lambda: numpy_greeks(w, S, K, T, r, q, sigma),
        },
        repeats,
    )
    tg.update(interleaved({"pvv": one_thread(pvv_greeks), "ql": ql_loop}, max(3, repeats // 3)))
    scale = {"ql": n / m}
    rows = [
        ("keel greeks (all cores)", "keel"),
        ("keel greeks (1 thread)", "keel1"),
        ("numpy + scipy.special.ndtr (1 thread)", "numpy"),
        ("py_vollib_vectorized (1 thread)", "pvv"),
        ("QuantLib BlackCalculator loop (scaled)", "ql"),
    ]
    print("price + delta, gamma, vega, theta, rho (Keel also vanna, volga)")
    print(
        f"  {'contender':42s} {'ms min / median / max':>26s} {'M opt/s':>8s} {'vs keel 1T':>10s} {'vs keel all':>11s}"
    )
    for name, key in rows:
        st = tg[key]
        f = scale.get(key, 1.0)
        med = st.median * f
        print(
            f"  {name:42s} {st.min * f * 1e3:8.1f} /{med * 1e3:8.1f} /{st.max * f * 1e3:8.1f} {n / med / 1e6:8.2f} "
            f"{med / tg['keel1'].median:9.2f}x {med / tg['keel'].median:10.2f}x"
        )
    r1 = tg["numpy"].median / tg["keel1"].median
    ra = tg["numpy"].median / tg["keel"].median
    print(
        f"  GOAL keel / numpy >= 3.5x single-thread: {r1:.2f}x -> {'MET' if r1 >= 3.5 else 'MISSED'}"
        f"   (all cores: {ra:.2f}x)\n"
    )

    # ---- implied vol
    prices = np.asarray(kp.price(w, S, K, T, r, sigma, q))
    vega = g.vega
    ulp = np.spacing(prices)
    well = 0.5 * ulp / vega < 1e-10
    iv_keel = np.asarray(kp.implied_vol(w, prices, S, K, T, r, q))
    iv_pvv = np.asarray(
        vectorized_implied_volatility(prices, S, K, T, r, flags, q=q, model="black_scholes_merton", return_as="numpy")
    )

    def ql_iv() -> np.ndarray:
        out = np.empty(m)
        for i in range(m):
            ot = ql.Option.Call if w[i] > 0 else ql.Option.Put
            df = math.exp(-r[i] * T[i])
            fwd = S[i] * math.exp((r[i] - q[i]) * T[i])
            try:
                out[i] = ql.blackFormulaImpliedStdDev(ot, K[i], fwd, prices[i], df, 0.0, 0.3, 1e-14, 200) / math.sqrt(
                    T[i]
                )
            except RuntimeError:
                out[i] = math.nan
        return out

    iv_ql = ql_iv()

    def acc(v: np.ndarray, mask: np.ndarray, s: np.ndarray) -> str:
        e = np.abs(v[mask] - s[mask])
        e = np.where(np.isnan(e), np.inf, e)
        return f"max err {np.max(e):.1e}, {np.mean(e > 1e-10) * 100:.3f}% > 1e-10"

    def pvv_iv() -> None:
        vectorized_implied_volatility(prices, S, K, T, r, flags, q=q, model="black_scholes_merton", return_as="numpy")

    ti = interleaved(
        {
            "keel": lambda: kp.implied_vol(w, prices, S, K, T, r, q),
            "keel1": one_thread(lambda: kp.implied_vol(w, prices, S, K, T, r, q)),
            "pvv": one_thread(pvv_iv),
        },
        repeats,
    )
    ti.update(interleaved({"ql": ql_iv}, 3))
    print(f"implied vol (BSM), well-posed inputs: {well.sum():,} of {n:,}")
    wm = well[:m]
    rows_iv = [
        ("keel implied_vol (all cores)", "keel", acc(iv_keel, well, sigma)),
        ("keel implied_vol (1 thread)", "keel1", "same"),
        ("py_vollib_vectorized (1 thread)", "pvv", acc(iv_pvv, well, sigma)),
        ("QuantLib blackFormulaImpliedStdDev (scaled)", "ql", acc(iv_ql, wm, sigma[:m])),
    ]
    print(f"  {'contender':44s} {'ms min / median / max':>26s} {'M IV/s':>7s} {'vs keel 1T':>10s} {'vs keel all':>11s}")
    for name, key, a in rows_iv:
        st = ti[key]
        f = scale.get(key, 1.0)
        med = st.median * f
        print(
            f"  {name:44s} {st.min * f * 1e3:8.1f} /{med * 1e3:8.1f} /{st.max * f * 1e3:8.1f} {n / med / 1e6:7.2f} "
            f"{med / ti['keel1'].median:9.2f}x {med / ti['keel'].median:10.2f}x  {a}"
        )
    r1 = ti["pvv"].median / ti["keel1"].median
    ra = ti["pvv"].median / ti["keel"].median
    print(
        f"  GOAL keel / py_vollib_vectorized >= 5x single-thread: {r1:.2f}x -> {'MET' if r1 >= 5 else 'MISSED'}"
        f"   (all cores: {ra:.2f}x)"
    )
    print(f"# numba threading layer used: {numba.threading_layer()}; load average at end: {load_average()}")


if __name__ == "__main__":
    main()
