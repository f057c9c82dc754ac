"""Monte Carlo speed: Keel vs a numpy baseline vs QuantLib's MCDiscreteArithmeticAPEngine, same run.

Case: arithmetic-average Asian call, 252 daily fixings over T = 1 (the last at T), 100,000 paths,
S = K = 100, r = 5 %, q = 0, σ = 30 %, GBM.  Throughput is path-steps per second (paths × 252).
Peers (same inputs, same run), compared like for like: Keel plain against numpy plain, Keel
antithetic against numpy antithetic (same number of paths, mirrors counted); Keel on one thread
(numpy's case) and on all cores.  Goal (#20): plain Keel >= 10x plain numpy on one thread.
  numpy        -- vectorized: standard normals in chunks of 10,000 paths, cumsum, exp, mean;
                  and the same with antithetic pairs;
  numba+Gen    -- a numba parallel loop drawing from a NumPy Generator (one per block);
  QuantLib     -- MCDiscreteArithmeticAPEngine, pseudo-random, no control variate, no antithetic;
  Keel         -- keel.pricing.mc.price: plain, antithetic (the default), antithetic + geometric
                  control variate.  Keel's first call (numba compile / cache load) is excluded.
Each price is printed with its standard error so unbiasedness is visible next to the speed.
Reports the median of REPEATS rounds (the engines take turns in each round, so a shared
machine's background load falls on all of them alike) and ratios against numpy.  If a CUDA device is present the
GPU backend is timed too.

Run: .venv/bin/python bench/monte_carlo.py [--repeats R] [--paths N]
"""

from __future__ import annotations

import argparse
import math
import os

# The numba threading layer is Keel's library default (keel.pricing.threads: OpenMP with passive
# waiting), not set here; the numba+Generator peer runs under the same layer.
import sys
import time
import warnings
from collections.abc import Callable

import numba
import numpy as np
import QuantLib as ql  # noqa: N813
from numba import njit, prange
from numba.core.errors import NumbaTypeSafetyWarning

from keel.pricing.mc import GBM, AsianArithmeticCall, gpu, price

sys.path.insert(0, os.path.dirname(__file__))
from _common import Stats, header, load_average

S0, K, R, Q, SIGMA, T, STEPS = 100.0, 100.0, 0.05, 0.0, 0.30, 1.0, 252
warnings.filterwarnings("ignore", category=NumbaTypeSafetyWarning)  # prange index into the typed List


def numpy_asian(n_paths: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    dt = T / STEPS
    mu, sd = (R - Q - 0.5 * SIGMA**2) * dt, SIGMA * math.sqrt(dt)
    pay = np.empty(n_paths)
    chunk = 10_000
    for lo in range(0, n_paths, chunk):
        m = min(chunk, n_paths - lo)
        x = np.cumsum(mu + sd * rng.standard_normal((m, STEPS)), axis=1)
        pay[lo : lo + m] = np.maximum(S0 * np.exp(x).mean(axis=1) - K, 0.0)
    pay *= math.exp(-R * T)
    return float(pay.mean()), float(pay.std(ddof=1) / math.sqrt(n_paths))


def numpy_asian_antithetic(n_paths: int, seed: int) -> tuple[float, float]:
    """numpy with antithetic variates: n_paths / 2 normal draws, each path paired with its mirror
    (n_paths paths in all, as Keel counts them); stderr over the pair averages."""
    rng = np.random.default_rng(seed)
    dt = T / STEPS
    mu, sd = (R - Q - 0.5 * SIGMA**2) * dt, SIGMA * math.sqrt(dt)
    half = n_paths // 2
    pair = np.empty(half)
    chunk = 5_000
    for lo in range(0, half, chunk):
        m = min(chunk, half - lo)
        z = rng.standard_normal((m, STEPS))
        up = np.maximum(S0 * np.exp(np.cumsum(mu + sd * z, axis=1)).mean(axis=1) - K, 0.0)
        dn = np.maximum(S0 * np.exp(np.cumsum(mu - sd * z, axis=1)).mean(axis=1) - K, 0.0)
        pair[lo : lo + m] = 0.5 * (up + dn)
    pair *= math.exp(-R * T)
    return float(pair.mean()), float(pair.std(ddof=1) / math.sqrt(half))


@njit(parallel=True, cache=True)
def _numba_gen_kernel(gens: list[np.random.Generator], n_paths: int, block: int) -> np.ndarray:  # type: ignore[type-arg]
    dt = T / STEPS
    mu, sd = (R - Q - 0.5 * SIGMA**2) * dt, SIGMA * math.sqrt(dt)
    out = np.empty(n_paths)
    for b in prange(len(gens)):
        g = gens[b]
        for p in range(b * block, min(n_paths, (b + 1) * block)):
            s = S0
            acc = 0.0
            for _ in range(STEPS):
                s *= math.exp(mu + sd * g.standard_normal())
                acc += s
            out[p] = max(acc / STEPS - K, 0.0)
    return out


def numba_gen_asian(n_paths: int, seed: int) -> tuple[float, float]:
    block = 1024
    n_blocks = -(-n_paths // block)
    gens = numba.typed.List([np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n_blocks)])
    pay = _numba_gen_kernel(gens, n_paths, block) * math.exp(-R * T)
    return float(pay.mean()), float(pay.std(ddof=1) / math.sqrt(n_paths))


def quantlib_asian(n_paths: int, seed: int) -> tuple[float, float]:
    today = ql.Date(3, 1, 2022)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    expiry = today + 365
    dates = [today + round(365 * (i + 1) / STEPS) for i in range(STEPS)]
    dates[-1] = expiry

    def curve(rate: float) -> ql.YieldTermStructureHandle:
        return ql.YieldTermStructureHandle(ql.FlatForward(today, rate, dc))

    vol = ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), SIGMA, dc))
    proc = ql.BlackScholesMertonProcess(ql.QuoteHandle(ql.SimpleQuote(S0)), curve(Q), curve(R), vol)
    opt = ql.DiscreteAveragingAsianOption(
        ql.Average.Arithmetic, 0.0, 0, dates, ql.PlainVanillaPayoff(ql.Option.Call, K), ql.EuropeanExercise(expiry)
    )
    opt.setPricingEngine(
        ql.MCDiscreteArithmeticAPEngine(proc, "pseudorandom", requiredSamples=n_paths, seed=seed, controlVariate=False)
    )
    return float(opt.NPV()), float(opt.errorEstimate())


def keel_asian(n_paths: int, seed: int, backend: str = "cpu", **kw: object) -> tuple[float, float]:
    r = price(
        GBM(S0, R, SIGMA, q=Q), AsianArithmeticCall(K, T, STEPS), n_paths=n_paths, n_steps=STEPS, seed=seed,
        backend=backend, **kw,  # type: ignore[arg-type]
    )  # fmt: skip
    return r.price, r.stderr


def _one_thread(fn: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return fn()
    finally:
        numba.set_num_threads(old)


def _round_robin(
    cases: list[tuple[str, Callable[[int], tuple[float, float]], int]], repeats: int
) -> list[tuple[Stats, float, float]]:
    """Times and last (price, stderr) per case; the cases take turns in every round so
    that on a shared machine each one sees the same background load."""
    times: list[list[float]] = [[] for _ in cases]
    res: list[tuple[float, float]] = [(math.nan, math.nan)] * len(cases)
    for rnd in range(repeats):
        for k, (_, fn, reps) in enumerate(cases):
            if rnd >= reps:
                continue
            t0 = time.perf_counter()
            res[k] = fn(1000 + rnd)
            times[k].append(time.perf_counter() - t0)
    return [(Stats(t), p, se) for t, (p, se) in zip(times, res, strict=True)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--paths", type=int, default=100_000)
    a = ap.parse_args()
    n = a.paths
    steps = n * STEPS
    cases: list[tuple[str, Callable[[int], tuple[float, float]], int]] = [
        ("numpy plain (1 thread)", lambda s: numpy_asian(n, s), a.repeats),
        ("numpy antithetic (1 thread)", lambda s: numpy_asian_antithetic(n, s), a.repeats),
        ("numba loop + NumPy Generator (all cores)", lambda s: numba_gen_asian(n, s), a.repeats),
        ("QuantLib MCDiscreteArithmeticAPEngine", lambda s: quantlib_asian(n, s), max(1, min(3, a.repeats))),
        ("Keel plain, 1 thread", lambda s: _one_thread(lambda: keel_asian(n, s, antithetic=False)), a.repeats),
        ("Keel plain, all cores", lambda s: keel_asian(n, s, antithetic=False), a.repeats),
        ("Keel antithetic, 1 thread", lambda s: _one_thread(lambda: keel_asian(n, s)), a.repeats),
        ("Keel antithetic, all cores", lambda s: keel_asian(n, s), a.repeats),
        (
            "Keel antithetic + geometric CV, all cores",
            lambda s: keel_asian(n, s, control_variate="geometric"),
            a.repeats,
        ),
    ]
    if gpu.cuda_available():
        cases.append(("Keel GPU (CuPy) antithetic", lambda s: keel_asian(n, s, backend="gpu"), a.repeats))
        cases.append(("Keel GPU 4M paths", lambda s: keel_asian(40 * n, s, backend="gpu"), a.repeats))
    # warm-ups: numba compile / cache load, QuantLib import paths
    numba_gen_asian(2048, 0)
    keel_asian(2048, 0, antithetic=False)
    keel_asian(2048, 0)
    if gpu.cuda_available():
        keel_asian(2048, 0, backend="gpu")
    header("Monte Carlo: arithmetic Asian call", "numpy", "numba", "QuantLib")
    print(f"numba layer used: {numba.threading_layer()}; CUDA: {gpu.cuda_available()}")
    print(
        f"arithmetic Asian call, {STEPS} fixings, {n:,} paths (= {steps / 1e6:.1f} M path-steps), {a.repeats} rounds\n"
    )
    print(f"{'engine':44s} {'s min / median / max':>24s} {'M path-steps/s':>15s}   price ± stderr")
    results = _round_robin(cases, a.repeats)
    med: dict[str, float] = {}
    for (name, _, _), (st, p, se) in zip(cases, results, strict=True):
        paths_here = 40 * n if "4M" in name else n
        med[name] = st.median
        rate = paths_here * STEPS / st.median / 1e6
        print(f"{name:44s} {st.fmt(1.0, 's'):>24s} {rate:15.1f}   {p:.4f} ± {se:.4f}")
    plain1 = med["numpy plain (1 thread)"] / med["Keel plain, 1 thread"]
    plain_all = med["numpy plain (1 thread)"] / med["Keel plain, all cores"]
    anti1 = med["numpy antithetic (1 thread)"] / med["Keel antithetic, 1 thread"]
    anti_all = med["numpy antithetic (1 thread)"] / med["Keel antithetic, all cores"]
    print(
        f"\nlike for like (same paths, same variance reduction, medians):\n"
        f"  plain vs plain numpy:           1 thread {plain1:5.1f}x   all cores {plain_all:5.1f}x"
        f"   GOAL >= 10x single-thread: {'MET' if plain1 >= 10 else 'MISSED'}\n"
        f"  antithetic vs antithetic numpy: 1 thread {anti1:5.1f}x   all cores {anti_all:5.1f}x"
    )
    print(f"# load average at end: {load_average()}")


if __name__ == "__main__":
    main()
