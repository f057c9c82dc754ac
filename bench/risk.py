"""Risk benchmarks: portfolio margin across accounts and the health scan on a price tick.

1. Portfolio margin, 100,000 accounts x 10 option positions x 27 scenarios (Deribit grid:
   9 price moves x 3 vol shocks).  Positions are drawn from the real Deribit BTC chain of
   2021-02-09 (every listed option, its mark IV).  Keel, two variants:
   (a) shared: one risk array per listed option (``keel.risk.risk_arrays``), then the
       per-account gather-and-sum (``keel.risk.portfolio_scan``);
   (b) per position: every one of the 1,000,000 positions revalued on its own in every
       scenario (27 M Black-Scholes, ``keel.risk.position_scan``), as for OTC strikes.
   Peers: the same per-position revaluation as whole-array numpy/scipy (``scipy.special.ndtr``,
   in chunks of 10,000 accounts), and a straightforward per-account Python loop with
   ``math.erfc`` (run on a subset of accounts and scaled per account).  All results are
   checked equal in the run.
2. Health scan of 1,000,000 accounts with positions in 3 underlyings on one price tick,
   at the favourable edge of the oracle band.  Keel: the stateless ``health_scan`` (one fused
   numba pass; row-major book with fresh output arrays, and a column-major (SoA) book with
   reused output arrays) and ``HealthBook.scan`` (per-tick cost of a prepared book).  Peers:
   the same formula as whole-array numpy, and a per-account Python loop (subset, scaled).

Wall time is ``time.perf_counter``; CPU time is ``time.process_time`` (all threads), both
medians.  Run: .venv/bin/python bench/risk.py   (NUMBA_NUM_THREADS defaults to the cores)
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
from scipy.special import ndtr

from keel.domain import Option, parse_instrument
from keel.risk import ScenarioGrid, portfolio_scan, position_scan, risk_arrays
from keel.risk.health import HealthBook, health_scan
from keel.risk.scenario import KIND_CALL, KIND_PUT

ROOT = Path(__file__).resolve().parents[1]
CHAIN = ROOT / "data" / "deribit_option_chain_snapshots_2021-02" / "btc_option_chain_2021-02-09T1338Z.csv"
REPEATS = 5


def median_time(fn, repeats: int = REPEATS) -> float:  # type: ignore[no-untyped-def]
    return median_times(fn, repeats)[0]


def median_times(fn, repeats: int = REPEATS) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(median wall seconds, median CPU seconds of the process, all threads)."""
    walls, cpus = [], []
    for _ in range(repeats):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


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


def numpy_margin(kind, strike, t, vol, spot, qty, grid, chunk: int = 10_000) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Per-position revaluation as whole-array numpy/scipy, ``chunk`` accounts at a time."""
    moves, shocks, weights = grid.arrays()
    out = np.empty(qty.shape[0])
    for a0 in range(0, qty.shape[0], chunk):
        sl = slice(a0, a0 + chunk)
        sign = np.where(kind[sl] == KIND_CALL, 1.0, -1.0)[..., None]
        k, tt, v, s0, q = strike[sl], t[sl], vol[sl], spot[sl], qty[sl]
        sqt = np.sqrt(tt)
        sd0 = v * sqt
        d1 = np.log(s0 / k) / sd0 + 0.5 * sd0
        v0 = sign[..., 0] * (s0 * ndtr(sign[..., 0] * d1) - k * ndtr(sign[..., 0] * (d1 - sd0)))
        scale = (30.0 / np.maximum(tt * 365.0, grid.dte_floor_days)) ** grid.vol_power
        vj = np.maximum(v[..., None] * (1.0 + shocks * scale[..., None]), 0.01 * v[..., None])
        sd = vj * sqt[..., None]
        s1 = s0[..., None] * (1.0 + moves)
        d1 = np.log(s1 / k[..., None]) / sd + 0.5 * sd
        val = sign * (s1 * ndtr(sign * d1) - k[..., None] * ndtr(sign * (d1 - sd)))
        pnl = (q[..., None] * weights * (val - v0[..., None])).sum(axis=1)
        out[sl] = np.maximum(0.0, -pnl.min(axis=1))
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

    def keel_shared() -> np.ndarray:
        risk = risk_arrays(kinds, strikes, ts, vols, spots, grid)
        loss, _ = portfolio_scan(idx, qty, risk)
        return loss

    loss = keel_shared()  # compile / load cache
    t_shared, c_shared = median_times(keel_shared)

    # every position revalued on its own (as if each account held its own OTC strikes):
    # per-position arrays, 1,000,000 positions x 27 scenarios of Black-Scholes
    k_p, s_p, t_p, v_p = kinds[idx], strikes[idx], ts[idx], vols[idx]
    spot_p = np.full(idx.shape, spot)

    def keel_positions() -> np.ndarray:
        return position_scan(k_p, s_p, t_p, v_p, spot_p, qty, grid)[0]

    np.testing.assert_allclose(keel_positions(), loss, rtol=1e-10, atol=1e-6)
    t_pos, c_pos = median_times(keel_positions)
    t0 = time.perf_counter()
    np_loss = numpy_margin(k_p, s_p, t_p, v_p, spot_p, qty, grid)
    t_np = time.perf_counter() - t0
    np.testing.assert_allclose(np_loss, loss, rtol=1e-9, atol=1e-6)
    t_np = min(t_np, median_time(lambda: numpy_margin(k_p, s_p, t_p, v_p, spot_p, qty, grid), 2))
    t0 = time.perf_counter()
    ref = python_margin_loop(idx[:n_py], qty[:n_py], kinds, strikes, ts, vols, spot, grid)
    t_py_subset = time.perf_counter() - t0
    np.testing.assert_allclose(loss[:n_py], ref, rtol=1e-9, atol=1e-6)
    t_py = t_py_subset / n_py * n_accounts
    return {
        "accounts": n_accounts,
        "instruments": n_instr,
        "shared_s": t_shared,
        "shared_cpu_s": c_shared,
        "positions_s": t_pos,
        "positions_cpu_s": c_pos,
        "numpy_s": t_np,
        "python_loop_s_scaled": t_py,
        "python_subset": n_py,
        "ratio_shared": t_py / t_shared,
        "ratio_positions": t_py / t_pos,
        "ratio_positions_numpy": t_np / t_pos,
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
    qty_f, ref_f = np.asfortranarray(qty), np.asfortranarray(ref)  # the same book stored SoA
    out = (np.empty(n_accounts), np.empty(n_accounts), np.empty(n_accounts, dtype=np.bool_))

    def keel_run() -> np.ndarray:
        return health_scan(col, qty, ref, mmf, price, conf)[2]

    def keel_soa() -> np.ndarray:
        return health_scan(col, qty_f, ref_f, mmf, price, conf, out=out)[2]

    def numpy_run() -> np.ndarray:
        p = np.where(qty > 0, price + conf, price - conf)
        eq = col + (qty * (p - ref)).sum(axis=1)
        mm = (mmf * np.abs(qty) * p).sum(axis=1)
        return eq < mm

    flags = keel_run()
    t_stateless, c_stateless = median_times(keel_run, 15)
    assert np.array_equal(keel_soa(), flags)
    t_soa, c_soa = median_times(keel_soa, 15)
    assert np.array_equal(flags, numpy_run())
    t_np = median_time(numpy_run)
    t0 = time.perf_counter()
    book = HealthBook(col, qty, ref, mmf)
    t_prep = time.perf_counter() - t0
    _, bflags = book.scan(price, conf)
    assert np.array_equal(bflags, flags)
    t_keel, c_keel = median_times(lambda: book.scan(price, conf), 15)

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
        "book_s": t_keel,
        "book_cpu_s": c_keel,
        "stateless_s": t_stateless,
        "stateless_cpu_s": c_stateless,
        "soa_s": t_soa,
        "soa_cpu_s": c_soa,
        "prep_s": t_prep,
        "numpy_s": t_np,
        "python_loop_s_scaled": t_py,
        "python_subset": n_py,
    }


def main() -> int:
    load = os.getloadavg()
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}, "
        f"threads {numba.get_num_threads()}, cores {os.cpu_count()}, {platform.machine()}, "
        f"load average {load[0]:.2f}"
    )
    pm = bench_portfolio_margin()
    py = pm["python_loop_s_scaled"]
    print(
        f"portfolio margin: {pm['accounts']:,} accounts x 10 positions x 27 scenarios over "
        f"{pm['instruments']} listed options   (wall / CPU medians; target <= 1000 ms)"
    )
    print(
        f"  keel shared (risk_arrays + portfolio_scan)   {pm['shared_s'] * 1e3:8.1f} ms"
        f" / {pm['shared_cpu_s'] * 1e3:8.1f} ms cpu   ratio vs python {py / pm['shared_s']:,.0f}x"
    )
    print(
        f"  keel per position (position_scan, 27M BS)   {pm['positions_s'] * 1e3:8.1f} ms"
        f" / {pm['positions_cpu_s'] * 1e3:8.1f} ms cpu   ratio vs python {py / pm['positions_s']:,.0f}x,"
        f" vs numpy {pm['ratio_positions_numpy']:.1f}x"
    )
    print(f"  numpy/scipy per position (whole arrays)     {pm['numpy_s'] * 1e3:8.1f} ms")
    print(f"  python loop (scaled from {pm['python_subset']} accounts)      {py:8.1f} s")
    hs = bench_health()
    py = hs["python_loop_s_scaled"]
    print(
        f"health scan: {hs['accounts']:,} accounts x 3 underlyings, {hs['flagged']:,} flagged"
        "   (wall / CPU medians; target <= 50 ms)"
    )
    for label, key in (
        ("keel health_scan (stateless, row-major)", "stateless"),
        ("keel health_scan (stateless, SoA, out=)", "soa"),
        ("keel HealthBook.scan (prepared book)", "book"),
    ):
        print(
            f"  {label:42s} {hs[key + '_s'] * 1e3:7.2f} ms / {hs[key + '_cpu_s'] * 1e3:7.2f} ms cpu"
            f"   vs numpy {hs['numpy_s'] / hs[key + '_s']:6.1f}x   vs python {py / hs[key + '_s']:,.0f}x"
        )
    print(f"  (book prepared once in {hs['prep_s'] * 1e3:.0f} ms)")
    print(f"  numpy arrays                               {hs['numpy_s'] * 1e3:7.2f} ms")
    print(f"  python loop (scaled from {hs['python_subset']:,})            {py:7.2f} s")
    ok = max(pm["shared_s"], pm["positions_s"]) <= 1.0 and max(hs["stateless_s"], hs["book_s"]) <= 0.05
    print("targets met" if ok else "TARGET MISSED (machine shared? see BENCHMARKS.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
