"""Benchmark: Keel's option pricing vs plain numpy, py_vollib_vectorized and a QuantLib loop.

Same seeded inputs for every contender, in one run; medians of repeated timings and ratios.

1. price + Greeks (price, delta, gamma, vega, theta, rho): Keel ``greeks`` (which also returns
   vanna and volga), a plain numpy/scipy.special implementation, py_vollib_vectorized
   (price + ``get_all_greeks``), QuantLib ``BlackCalculator`` in a Python loop on a subset.
2. implied vol (Black-Scholes-Merton): Keel ``implied_vol``, py_vollib_vectorized
   ``vectorized_implied_volatility``, QuantLib ``blackFormulaImpliedStdDev`` loop on a subset;
   accuracy = max |σ − σ_true| on the well-posed inputs (where rounding the price to a double
   moves σ by less than 1e-10).

Targets (issue 3): price+Greeks >= 3.5x numpy, implied vol >= 5x py_vollib_vectorized.
Run: ``.venv/bin/python bench/pricing.py [--n 1000000] [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from scipy.special import ndtr

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
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


def interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall time per contender, timing them round-robin so machine load hits all alike."""
    for fn in fns.values():
        fn()  # warm-up (JIT, caches)
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def timeit(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (JIT, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


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

    print(f"machine: {platform.machine()} {os.cpu_count()} cores (shared with other jobs), {platform.python_version()}")
    print(
        f"numpy {np.__version__}, numba {numba.__version__} ({numba.get_num_threads()} threads), "
        f"QuantLib {ql.__version__}"
    )
    print(f"n = {n:,} options (QuantLib loop: {m:,}), median of {repeats}, contenders timed round-robin\n")

    # ---- accuracy cross-check of the contenders against each other (same inputs)
    g = kp.greeks(w, S, K, T, r, sigma, q)
    ref = numpy_greeks(w, S, K, T, r, q, sigma)
    worst = max(
        float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-8)))
        for a, b in zip((g.price, g.delta, g.gamma, g.vega, g.theta, g.rho), ref, strict=True)
    )
    print(f"keel vs numpy price+Greeks max rel diff (|ref|>=1e-8): {worst:.1e}")

    # ---- price + Greeks
    def keel_1thread() -> None:
        numba.set_num_threads(1)
        kp.greeks(w, S, K, T, r, sigma, q)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)

    def pvv_greeks() -> None:
        vectorized_black_scholes_merton(flags, S, K, T, r, sigma, q, return_as="numpy")
        get_all_greeks(flags, S, K, T, r, sigma, q, model="black_scholes_merton", return_as="dict")

    tg = interleaved(
        {
            "keel": lambda: kp.greeks(w, S, K, T, r, sigma, q),
            "keel1": keel_1thread,
            "numpy": lambda: numpy_greeks(w, S, K, T, r, q, sigma),
        },
        repeats,
    )
    t_keel, t_keel1, t_np = tg["keel"], tg["keel1"], tg["numpy"]
    t_pvv = timeit(pvv_greeks, max(3, repeats // 3))

    def ql_loop() -> None:
        for i in range(m):
            ot = ql.Option.Call if w[i] > 0 else ql.Option.Put
            df = math.exp(-r[i] * T[i])
            fwd = S[i] * math.exp((r[i] - q[i]) * T[i])
            bc = ql.BlackCalculator(ql.PlainVanillaPayoff(ot, K[i]), fwd, sigma[i] * math.sqrt(T[i]), df)
            bc.value(), bc.delta(S[i]), bc.gamma(S[i]), bc.vega(T[i]), bc.theta(S[i], T[i]), bc.rho(T[i])

    t_ql = timeit(ql_loop, 3) * n / m
    rows = [
        ("keel greeks (all cores)", t_keel),
        ("keel greeks (1 thread)", t_keel1),
        ("numpy + scipy.special.ndtr", t_np),
        ("py_vollib_vectorized", t_pvv),
        ("QuantLib BlackCalculator loop (scaled)", t_ql),
    ]
    print("price + delta, gamma, vega, theta, rho (Keel also vanna, volga)")
    for name, t in rows:
        print(f"  {name:42s} {t * 1e3:9.1f} ms  {n / t / 1e6:8.2f} M options/s  keel speed-up x{t / t_keel:6.2f}")
    print(f"  TARGET keel/numpy >= 3.5: x{t_np / t_keel:.2f} -> {'MET' if t_np / t_keel >= 3.5 else 'MISSED'}\n")

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

    def keel_iv_1thread() -> None:
        numba.set_num_threads(1)
        kp.implied_vol(w, prices, S, K, T, r, q)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)

    ti = interleaved(
        {
            "keel": lambda: kp.implied_vol(w, prices, S, K, T, r, q),
            "keel1": keel_iv_1thread,
            "pvv": lambda: vectorized_implied_volatility(
                prices, S, K, T, r, flags, q=q, model="black_scholes_merton", return_as="numpy"
            ),
        },
        repeats,
    )
    t_ivk, t_ivk1, t_ivp = ti["keel"], ti["keel1"], ti["pvv"]
    t_ivq = timeit(ql_iv, 3) * n / m
    print(f"implied vol (BSM), well-posed inputs: {well.sum():,} of {n:,}")
    wm = well[:m]
    rows = [
        ("keel implied_vol (all cores)", t_ivk, acc(iv_keel, well, sigma)),
        ("keel implied_vol (1 thread)", t_ivk1, ""),
        ("py_vollib_vectorized", t_ivp, acc(iv_pvv, well, sigma)),
        ("QuantLib blackFormulaImpliedStdDev (scaled)", t_ivq, acc(iv_ql, wm, sigma[:m])),
    ]
    for name, t, a in rows:
        print(f"  {name:44s} {t * 1e3:9.1f} ms  {n / t / 1e6:7.2f} M IV/s  keel x{t / t_ivk:6.2f}  {a}")
    print(
        f"  TARGET keel/py_vollib_vectorized >= 5: x{t_ivp / t_ivk:.2f} -> {'MET' if t_ivp / t_ivk >= 5 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
