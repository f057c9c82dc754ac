"""Risk benchmarks: portfolio margin across accounts and the health scan on a price tick.

1. Portfolio margin, 100,000 accounts x 10 option positions x 27 scenarios (Deribit grid:
   9 price moves x 3 vol shocks).  Positions are drawn from the real Deribit BTC chain of
   2021-02-09 (every listed option, its mark IV).  Keel: one risk array per listed option
   (``keel.risk.risk_arrays``, numba, Black-Scholes from ``keel.pricing.kernels``), then the
   per-account gather-and-sum (``keel.risk.portfolio_scan``).  Peer: a straightforward
   per-account Python loop revaluing each position in each scenario with ``math.erf`` (run on
   a subset of accounts and scaled per account; results are checked equal).
2. Health scan of 1,000,000 accounts with positions in 3 underlyings on one price tick,
   at the favourable edge of the oracle band.  Keel: ``keel.risk.health.HealthBook.scan``
   (numba, parallel; per-tick cost, the book is prepared once and updated per trade; the
   preparation time is printed too) and the stateless ``health_scan``.  Peers: the same
   formula as whole-array numpy, and a per-account Python loop (subset, scaled).

Run: .venv/bin/python bench/risk.py   (NUMBA_NUM_THREADS defaults to the machine's cores)
"""

from __future__ import annotations

import csv
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np

from keel.domain import Option, parse_instrument
from keel.risk import ScenarioGrid, portfolio_scan, risk_arrays
from keel.risk.health import HealthBook, health_scan
from keel.risk.scenario import KIND_CALL, KIND_PUT

ROOT = Path(__file__).resolve().parents[1]
CHAIN = ROOT / "data" / "deribit_option_chain_snapshots_2021-02" / "btc_option_chain_2021-02-09T1338Z.csv"
REPEATS = 5


def median_time(fn, repeats: int = REPEATS) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def load_chain() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, int]:
    kinds, strikes, ts, vols = [], [], [], []
    spot, now = 0.0, 0
    for r in csv.DictReader(CHAIN.open()):
        inst = parse_instrument(r["instrument_name"])
        assert isinstance(inst, Option)
        now = int(r["timestamp"]) * 10**6
        spot = float(r["index_price"])
        kinds.append(KIND_CALL if inst.kind.sign > 0 else KIND_PUT)
        strikes.append(inst.strike_float)
        ts.append(inst.time_to_expiry(now))
        vols.append(max(float(r["mark_iv"]) / 100.0, 0.05))
    return np.array(kinds), np.array(strikes), np.array(ts), np.array(vols), spot, now


def py_bs(sign: float, s: float, k: float, t: float, vol: float) -> float:
    sd = vol * math.sqrt(t)
    if sd <= 0:
        return max(sign * (s - k), 0.0)
    d1 = math.log(s / k) / sd + 0.5 * sd
    d2 = d1 - sd
    n = lambda x: 0.5 * math.erfc(-x / math.sqrt(2.0))  # noqa: E731
    return sign * (s * n(sign * d1) - k * n(sign * d2))


def python_margin_loop(idx, qty, kinds, strikes, ts, vols, spot, grid) -> np.ndarray:  # type: ignore[no-untyped-def]
    moves, shocks, _ = grid.arrays()
    out = np.empty(idx.shape[0])
    for a in range(idx.shape[0]):
        worst = 0.0
        pnl = [0.0] * moves.size
        for p in range(idx.shape[1]):
            i = idx[a, p]
            sign = 1.0 if kinds[i] == KIND_CALL else -1.0
            v0 = py_bs(sign, spot, strikes[i], ts[i], vols[i])
            scale = (30.0 / max(ts[i] * 365.0, 1.0)) ** 0.3
            for j in range(moves.size):
                vol = max(vols[i] * (1.0 + shocks[j] * scale), 0.01 * vols[i])
                pnl[j] += qty[a, p] * (py_bs(sign, spot * (1 + moves[j]), strikes[i], ts[i], vol) - v0)
        worst = max(0.0, -min(pnl))
        out[a] = worst
    return out


def bench_portfolio_margin(n_accounts: int = 100_000, n_pos: int = 10, n_py: int = 300) -> dict[str, float]:
    kinds, strikes, ts, vols, spot, _ = load_chain()
    n_instr = kinds.size
    rng = np.random.default_rng(42)
    idx = np.argsort(rng.random((n_accounts, n_instr)), axis=1)[:, :n_pos].astype(np.int64)
    qty = np.round(rng.normal(0.0, 5.0, (n_accounts, n_pos)), 1)
    grid = ScenarioGrid(extended_moves=())  # the 27 regular scenarios
    assert grid.n_scenarios == 27
    spots = np.full(n_instr, spot)

    def keel_run() -> np.ndarray:
        risk = risk_arrays(kinds, strikes, ts, vols, spots, grid)
        loss, _ = portfolio_scan(idx, qty, risk)
        return loss

    loss = keel_run()  # compile / load cache
    t_keel = median_time(keel_run)

    # the same work without sharing: every position revalued on its own (as if each account
    # held its own OTC strikes): 1,000,000 positions x 27 scenarios of Black-Scholes
    flat = idx.reshape(-1)
    own_idx = np.arange(flat.size, dtype=np.int64).reshape(idx.shape)

    def keel_unshared() -> np.ndarray:
        risk = risk_arrays(kinds[flat], strikes[flat], ts[flat], vols[flat], np.full(flat.size, spot), grid)
        return portfolio_scan(own_idx, qty, risk)[0]

    assert np.allclose(keel_unshared(), loss, rtol=1e-12, atol=1e-9)
    t_unshared = median_time(keel_unshared, 3)
    t0 = time.perf_counter()
    ref = python_margin_loop(idx[:n_py], qty[:n_py], kinds, strikes, ts, vols, spot, grid)
    t_py_subset = time.perf_counter() - t0
    np.testing.assert_allclose(loss[:n_py], ref, rtol=1e-9, atol=1e-6)
    t_py = t_py_subset / n_py * n_accounts
    return {
        "accounts": n_accounts,
        "instruments": n_instr,
        "keel_s": t_keel,
        "unshared_s": t_unshared,
        "python_loop_s_scaled": t_py,
        "python_subset": n_py,
        "ratio": t_py / t_keel,
    }


def bench_health(n_accounts: int = 1_000_000, n_py: int = 50_000) -> dict[str, float]:
    rng = np.random.default_rng(7)
    u = 3
    price = np.array([50_000.0, 3_000.0, 150.0])
    conf = price * 0.0005
    mmf = np.array([0.03, 0.04, 0.06])
    qty = rng.normal(0, 1, (n_accounts, u)) * np.array([0.5, 5.0, 100.0]) * (rng.random((n_accounts, u)) < 0.6)
    ref = price * (1 + rng.normal(0, 0.02, (n_accounts, u)))
    col = np.abs(qty * price).sum(axis=1) * rng.uniform(0.03, 0.5, n_accounts)

    def keel_run() -> np.ndarray:
        return health_scan(col, qty, ref, mmf, price, conf)[2]

    def numpy_run() -> np.ndarray:
        p = np.where(qty > 0, price + conf, price - conf)
        eq = col + (qty * (p - ref)).sum(axis=1)
        mm = (mmf * np.abs(qty) * p).sum(axis=1)
        return eq < mm

    flags = keel_run()
    t_stateless = median_time(keel_run, 9)
    assert np.array_equal(flags, numpy_run())
    t_np = median_time(numpy_run)
    t0 = time.perf_counter()
    book = HealthBook(col, qty, ref, mmf)
    t_prep = time.perf_counter() - t0
    _, bflags = book.scan(price, conf)
    assert np.array_equal(bflags, flags)
    t_keel = median_time(lambda: book.scan(price, conf), 15)

    def python_loop(n: int) -> list[bool]:
        out = []
        for a in range(n):
            e, m = float(col[a]), 0.0
            for j in range(u):
                q = float(qty[a, j])
                if q == 0.0:
                    continue
                p = float(price[j] + conf[j]) if q > 0 else float(price[j] - conf[j])
                e += q * (p - float(ref[a, j]))
                m += float(mmf[j]) * abs(q) * p
            out.append(e < m)
        return out

    t0 = time.perf_counter()
    py = python_loop(n_py)
    t_py = (time.perf_counter() - t0) / n_py * n_accounts
    assert py == flags[:n_py].tolist()
    return {
        "accounts": n_accounts,
        "flagged": int(flags.sum()),
        "keel_s": t_keel,
        "stateless_s": t_stateless,
        "prep_s": t_prep,
        "numpy_s": t_np,
        "python_loop_s_scaled": t_py,
        "python_subset": n_py,
        "ratio_numpy": t_np / t_keel,
        "ratio_python": t_py / t_keel,
    }


def main() -> int:
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}, "
        f"threads {numba.get_num_threads()}, cores {os.cpu_count()}, {platform.machine()}"
    )
    pm = bench_portfolio_margin()
    print(
        f"portfolio margin: {pm['accounts']:,} accounts x 10 positions x 27 scenarios over "
        f"{pm['instruments']} listed options"
    )
    print(f"  keel (risk arrays + scan)  median {pm['keel_s'] * 1e3:9.1f} ms   target <= 1000 ms")
    print(f"  keel, every position revalued on its own (27M BS)  median {pm['unshared_s'] * 1e3:9.1f} ms")
    print(
        f"  python loop (scaled from {pm['python_subset']} accounts) {pm['python_loop_s_scaled']:9.1f} s"
        f"   ratio {pm['ratio']:,.0f}x"
    )
    hs = bench_health()
    print(f"health scan: {hs['accounts']:,} accounts x 3 underlyings, {hs['flagged']:,} flagged")
    print(
        f"  keel HealthBook.scan  median {hs['keel_s'] * 1e3:8.2f} ms   target <= 50 ms"
        f"   (book prepared once in {hs['prep_s'] * 1e3:.0f} ms)"
    )
    print(f"  keel health_scan (stateless)  median {hs['stateless_s'] * 1e3:8.2f} ms")
    print(f"  numpy arrays      median {hs['numpy_s'] * 1e3:8.2f} ms   ratio {hs['ratio_numpy']:.1f}x")
    print(
        f"  python loop (scaled from {hs['python_subset']:,}) {hs['python_loop_s_scaled']:8.2f} s"
        f"   ratio {hs['ratio_python']:,.0f}x"
    )
    ok = pm["keel_s"] <= 1.0 and hs["keel_s"] <= 0.05
    print("targets met" if ok else "TARGET MISSED (machine shared? see BENCHMARKS.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
