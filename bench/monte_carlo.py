"""Monte Carlo speed: Keel vs a numpy baseline vs QuantLib's MCDiscreteArithmeticAPEngine, same run.

Case: arithmetic-average Asian call, 252 daily fixings over T = 1 (the last at T), 100,000 paths,
S = K = 100, r = 5 %, q = 0, σ = 30 %, GBM.  Throughput is path-steps per second (paths × 252).
Peers (same inputs, same run):
  numpy        -- vectorized: standard normals in chunks of 10,000 paths, cumsum, exp, mean;
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

# numba's OpenMP layer spin-waits at the end of each parallel region, which on a machine shared
# with other busy processes costs the working thread its core; the workqueue layer sleeps instead
# (measured 1.4-2.5x faster here). It applies to both numba engines below. Override with
# NUMBA_THREADING_LAYER=omp to compare.
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import platform
import statistics
import time
import warnings
from collections.abc import Callable

import numba
import numpy as np
import QuantLib as ql  # noqa: N813
from numba import njit, prange
from numba.core.errors import NumbaTypeSafetyWarning

from keel.pricing.mc import GBM, AsianArithmeticCall, gpu, price

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
) -> list[tuple[float, float, float]]:
    """Median seconds and last (price, stderr) per case; the cases take turns in every round so
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
    return [(statistics.median(t), p, se) for t, (p, se) in zip(times, res, strict=True)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--paths", type=int, default=100_000)
    a = ap.parse_args()
    n = a.paths
    steps = n * STEPS
    cases: list[tuple[str, Callable[[int], tuple[float, float]], int]] = [
        ("numpy (chunked, vectorized)", lambda s: numpy_asian(n, s), a.repeats),
        ("numba loop + NumPy Generator", lambda s: numba_gen_asian(n, s), a.repeats),
        ("QuantLib MCDiscreteArithmeticAPEngine", lambda s: quantlib_asian(n, s), max(1, min(3, a.repeats))),
        ("Keel plain", lambda s: keel_asian(n, s, antithetic=False), a.repeats),
        ("Keel antithetic (default)", lambda s: keel_asian(n, s), a.repeats),
        ("Keel antithetic + geometric CV", lambda s: keel_asian(n, s, control_variate="geometric"), a.repeats),
        ("Keel antithetic, 1 thread", lambda s: _one_thread(lambda: keel_asian(n, s)), a.repeats),
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
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, numba {numba.__version__} ({numba.get_num_threads()} threads, "
        f"{numba.threading_layer()} layer), "
        f"QuantLib {ql.__version__}; CUDA: {gpu.cuda_available()}; "
        f"load average at start {os.getloadavg()[0]:.1f} (shared machine)"
    )
    print(f"arithmetic Asian call, {STEPS} fixings, {n:,} paths (= {steps / 1e6:.1f} M path-steps)\n")
    print(f"{'engine':40s} {'median s':>9s} {'M path-steps/s':>15s} {'vs numpy':>9s}   price ± stderr")
    base = None
    for (name, _, _), (t, p, se) in zip(cases, _round_robin(cases, a.repeats), strict=True):
        paths_here = 40 * n if "4M" in name else n
        rate = paths_here * STEPS / t / 1e6
        if base is None:
            base = rate
        print(f"{name:40s} {t:9.3f} {rate:15.1f} {rate / base:8.1f}x   {p:.4f} ± {se:.4f}")


if __name__ == "__main__":
    main()
