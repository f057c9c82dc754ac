"""Oracle aggregation speed: Keel's Aggregator and vectorized replay against a straightforward
numpy implementation of the same algorithm, same inputs, same run.

(1) Per tick, 8 sources (ETH/USD around the real 2024-01-05 price, 3 bp noise, one source
    pumped 24x on every 50th tick so outlier rejection runs):
      tick  = one source update + one read (the live case: a feed message arrives, a consumer reads);
      full  = all 8 sources updated + one read.
    Keel: ``Aggregator.update``/``read`` (one compiled kernel per read).
    Straightforward peers, the same staleness/outlier/quorum/vote/TWAP rules: plain Python (sorted
    lists; the strongest on 8-24 values, where numpy's per-call overhead dominates) and numpy
    (np.median for the MAD, np.percentile for the Pyth votes).  Every contender runs the same ticks.
    Timed in batches of 2,000 ticks with perf_counter_ns; median over batches of ns per tick.
(2) Replay of a day of minute data (1,440 ticks x 8 sources, the real ETH/USD minutes): Keel
    ``keel.oracle.replay.replay`` (vectorized) vs the Keel Aggregator tick by tick vs the
    straightforward loops.  Round-robin rounds; min / median / max.

The machine is shared with other jobs: read the ratios.
Run: .venv/bin/python bench/oracle.py [--repeats R]
"""

from __future__ import annotations

import argparse
import bisect
import math
import sys
import time
from pathlib import Path

import numba  # noqa: F401
import numpy as np

from keel.oracle import Aggregator, AggregatorConfig
from keel.oracle.replay import load_uniswap_rel_price, replay

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Stats, header, interleaved, load_average

ROOT = Path(__file__).resolve().parents[1]
REL = (
    ROOT
    / "data/uniswap_v3_usdc_weth_005_2024-01-05"
    / "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05.rel-price.csv"
)
S = 1_000_000_000
N_SRC = 8
IDS = tuple(f"s{j}" for j in range(N_SRC))


class NumpyAggregator:
    """The same algorithm written plainly with numpy per read (equal weights, no compiled code)."""

    def __init__(self, max_age_ns: int, quorum: int, mad_k: float, min_bps: float, band_bps: float, window: int):
        self.samples: dict[str, tuple[float, int, float]] = {}
        self.max_age = max_age_ns
        self.quorum = quorum
        self.k = mad_k
        self.floor = min_bps * 1e-4
        self.band = band_bps * 1e-4
        self.window = window
        self.hist_ts: list[int] = []
        self.hist_px: list[float] = []
        self.hist_cum: list[float] = []

    def update(self, sid: str, price: float, ts: int, conf: float = 0.0) -> bool:
        if sid not in IDS or not (price > 0 and math.isfinite(price)):
            return False
        old = self.samples.get(sid)
        if old is not None and ts < old[1]:
            return False
        self.samples[sid] = (price, ts, conf)
        return True

    def _twap(self, now: int) -> float:
        """TWAP of previous candidates over the window: cumulative sums and a bisection."""
        ts, ps, cum = self.hist_ts, self.hist_px, self.hist_cum
        if not ts or now - ts[-1] > self.window:
            return math.nan
        cum_now = cum[-1] + ps[-1] * (now - ts[-1]) * 1e-9
        start = now - self.window
        if start <= ts[0]:
            start, cum_start = ts[0], cum[0]
        else:
            k = bisect.bisect_right(ts, start) - 1
            cum_start = cum[k] + ps[k] * (start - ts[k]) * 1e-9
        dur = (now - start) * 1e-9
        return ps[-1] if dur <= 0 else (cum_now - cum_start) / dur

    def _push(self, now: int, price: float) -> None:
        ts, ps, cum = self.hist_ts, self.hist_px, self.hist_cum
        if ts and now - ts[-1] > self.window:
            ts.clear(), ps.clear(), cum.clear()
        if ts and ts[-1] == now:
            ps[-1] = price
            return
        cum.append(cum[-1] + ps[-1] * (now - ts[-1]) * 1e-9 if ts else 0.0)
        ts.append(now)
        ps.append(price)
        if len(ts) > 4096:
            del ts[0], ps[0], cum[0]

    def read(self, now: int) -> tuple[float, float, str]:
        fresh = [(p, c) for p, t, c in self.samples.values() if now - t <= self.max_age]
        if len(fresh) < self.quorum:
            return math.nan, math.nan, "halted"
        p = np.array([x for x, _ in fresh])
        c = np.array([y for _, y in fresh])
        med = np.median(p)
        mad = np.median(np.abs(p - med))
        keep = np.abs(p - med) <= max(self.k * 1.4826 * mad, self.floor * med)
        if keep.sum() < self.quorum:
            return math.nan, math.nan, "halted"
        p, c = p[keep], c[keep]
        votes = np.concatenate([p - c, p, p + c])
        agg = float(np.median(votes))
        lo, hi = np.percentile(votes, [25, 75], method="averaged_inverted_cdf")
        conf = max(agg - lo, hi - agg)
        twap = self._twap(now)
        self._push(now, agg)
        if twap == twap and abs(agg - twap) > self.band * twap:
            return math.nan, math.nan, "halted"
        return agg, float(conf), "ok" if keep.all() and len(fresh) == N_SRC else "degraded"


def _median(v: list[float]) -> float:
    """``np.median`` of a sorted list."""
    n = len(v)
    h = n // 2
    return v[h] if n % 2 else 0.5 * (v[h - 1] + v[h])


def _aicdf(v: list[float], q: float) -> float:
    """``np.percentile(v, 100 q, method="averaged_inverted_cdf")`` of a sorted list."""
    g = len(v) * q
    j = int(g)
    if g > j:
        return v[j]
    return v[0] if j == 0 else 0.5 * (v[j - 1] + v[j])


class PlainAggregator(NumpyAggregator):
    """The same algorithm in plain Python (sorted lists, no numpy): on 8-24 values per read the
    numpy call overhead dominates, so this is the stronger straightforward peer (#20)."""

    def read(self, now: int) -> tuple[float, float, str]:
        fresh = [(p, c) for p, t, c in self.samples.values() if now - t <= self.max_age]
        if len(fresh) < self.quorum:
            return math.nan, math.nan, "halted"
        ps = sorted(p for p, _ in fresh)
        med = _median(ps)
        mad = _median(sorted(abs(p - med) for p in ps))
        lim = max(self.k * 1.4826 * mad, self.floor * med)
        kept = [(p, c) for p, c in fresh if abs(p - med) <= lim]
        if len(kept) < self.quorum:
            return math.nan, math.nan, "halted"
        votes = sorted([p - c for p, c in kept] + [p for p, _ in kept] + [p + c for p, c in kept])
        agg = _median(votes)
        conf = max(agg - _aicdf(votes, 0.25), _aicdf(votes, 0.75) - agg)
        twap = self._twap(now)
        self._push(now, agg)
        if twap == twap and abs(agg - twap) > self.band * twap:
            return math.nan, math.nan, "halted"
        return agg, conf, "ok" if len(kept) == len(fresh) == N_SRC else "degraded"


def make_stream(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    _, eth, _, _ = load_uniswap_rel_price(REL)
    rng = np.random.default_rng(seed)
    base = np.interp(np.linspace(0, len(eth) - 1, n), np.arange(len(eth)), eth)
    px = base[:, None] * (1 + rng.normal(0, 3e-4, (n, N_SRC)))
    px[::50, 3] *= 24.0
    ts = 1_704_412_800 * S + np.arange(n, dtype=np.int64) * 100_000_000  # 10 ticks per second
    return ts, px


def config() -> AggregatorConfig:
    return AggregatorConfig.uniform(IDS, max_age_ns=60 * S, quorum=5)


def naive(kind: str = "numpy") -> NumpyAggregator:
    c = config()
    cls = PlainAggregator if kind == "plain" else NumpyAggregator
    return cls(60 * S, 5, c.outlier_mad_k, c.outlier_min_bps, c.breaker_band_bps, c.twap_window_ns)


def per_tick(kind: str, impl: str, ts: np.ndarray, px: np.ndarray, batch: int) -> tuple[list[float], list[float]]:
    """(wall ns per tick, CPU ns per tick) for each batch."""
    ts_l = ts.tolist()
    px_l = px.tolist()
    agg = Aggregator(config()) if impl == "keel" else naive(impl)
    for j, sid in enumerate(IDS):  # prime every source
        agg.update(sid, px_l[0][j], ts_l[0])
    agg.read(ts_l[0])
    wall: list[float] = []
    cpu: list[float] = []
    n = len(ts_l)
    for b0 in range(1, n - batch, batch):
        c0 = time.thread_time_ns()
        t0 = time.perf_counter_ns()
        if kind == "tick":
            for i in range(b0, b0 + batch):
                j = i & 7
                agg.update(IDS[j], px_l[i][j], ts_l[i])
                agg.read(ts_l[i])
        else:
            for i in range(b0, b0 + batch):
                row = px_l[i]
                now = ts_l[i]
                for j in range(N_SRC):
                    agg.update(IDS[j], row[j], now)
                agg.read(now)
        wall.append((time.perf_counter_ns() - t0) / batch)
        cpu.append((time.thread_time_ns() - c0) / batch)
    return wall, cpu


def check_same_prices(ts: np.ndarray, px: np.ndarray, kind: str) -> float:
    """Largest relative difference between Keel and a straightforward version on the first 3,000 ticks."""
    k, v = Aggregator(config()), naive(kind)
    worst = 0.0
    for i in range(3000):
        for j, sid in enumerate(IDS):
            k.update(sid, float(px[i, j]), int(ts[i]))
            v.update(sid, float(px[i, j]), int(ts[i]))
        a, b = k.read(int(ts[i])).price, v.read(int(ts[i]))[0]
        if not (math.isnan(a) and math.isnan(b)):
            worst = max(worst, abs(a / b - 1))
    return worst


def replay_day(repeats: int) -> dict[str, Stats]:
    ts, eth, _, _ = load_uniswap_rel_price(REL)
    rng = np.random.default_rng(3)
    px = eth[:, None] * (1 + rng.normal(0, 3e-4, (len(ts), N_SRC)))
    px[rng.random(px.shape) < 0.1] = np.nan
    cfg = AggregatorConfig.uniform(IDS, max_age_ns=180 * S, quorum=5)
    replay(cfg, ts, px)  # compile / warm
    ts_l, px_l = ts.tolist(), px.tolist()

    def keel_loop() -> None:
        agg = Aggregator(cfg)
        for i, now in enumerate(ts_l):
            row = px_l[i]
            for j in range(N_SRC):
                if row[j] == row[j]:
                    agg.update(IDS[j], row[j], now)
            agg.read(now)

    def loop(cls: type[NumpyAggregator]) -> None:
        agg = cls(180 * S, 5, cfg.outlier_mad_k, cfg.outlier_min_bps, cfg.breaker_band_bps, cfg.twap_window_ns)
        for i, now in enumerate(ts_l):
            row = px_l[i]
            for j in range(N_SRC):
                if row[j] == row[j]:
                    agg.update(IDS[j], row[j], now)
            agg.read(now)

    return interleaved(
        {
            "keel replay (vectorized)": lambda: replay(cfg, ts, px),
            "keel Aggregator loop": keel_loop,
            "plain Python loop": lambda: loop(PlainAggregator),
            "numpy loop": lambda: loop(NumpyAggregator),
        },
        repeats,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=60_000)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    header("oracle aggregation: Keel vs the same algorithm in plain Python and in numpy", "numpy", "numba")
    ts, px = make_stream(args.ticks)
    warm = Aggregator(config())
    warm.update("s0", 1.0, 0)
    warm.read(0)
    for kind in ("plain", "numpy"):
        print(f"Keel vs {kind} price agreement on 3,000 ticks: max rel diff {check_same_prices(ts, px, kind):.1e}")
    print(
        f"\n(1) per tick, 8 sources, {args.ticks:,} ticks on every side (ns per tick, min / median / max over "
        "batches of 2,000 ticks; wall and CPU time)"
    )
    print(f"{'case':<18}{'clock':<6}{'keel':>30}{'plain Python':>30}{'numpy':>30}{'plain/keel':>11}{'numpy/keel':>11}")
    for kind, label in (("tick", "1 update + read"), ("full", "8 updates + read")):
        runs = {impl: per_tick(kind, impl, ts, px, 2000) for impl in ("keel", "plain", "numpy")}
        for c, clock in enumerate(("wall", "cpu")):
            st = {impl: Stats(runs[impl][c]) for impl in runs}
            cells = "".join(f"  {st[i].min:>8.0f} /{st[i].median:>8.0f} /{st[i].max:>8.0f}" for i in runs)
            k = st["keel"].median
            print(f"{label:<18}{clock:<6}{cells}{st['plain'].median / k:>10.1f}x{st['numpy'].median / k:>10.1f}x")
    print(f"\n(2) replay of one day of minute data, 1,440 ticks x {N_SRC} sources ({args.repeats} rounds, round-robin)")
    res = replay_day(args.repeats)
    base = res["keel replay (vectorized)"].median
    for name, st in res.items():
        print(f"{name:<34}{st.fmt():>28}{st.median / base:>10.1f}x")
    print(f"# load average at end: {load_average()}")


if __name__ == "__main__":
    main()
