"""Engine throughput: 100k, 300k and 1M quote ticks through Keel's engine and NautilusTrader, same ticks, same run.

Two strategies, written the idiomatic way on each side and doing the same work:
  (a) noop      — subscribes to quotes and does nothing;
  (b) ema_cross — fast/slow EMA (10/20 ticks) of the mid; on every cross it flips a position of
                  ORDER_UNIT (1,000 units: the Nautilus test instrument's minimum trade size and
                  lot) with a market order that fills at the touch of the simulated venue.
                  Orders, fills and denials/rejections are counted and printed on both sides; a
                  run where the two sides do not fill the same orders is reported as such.
In both engines a simulated venue sees every tick (Keel: TouchFillVenue; Nautilus: its
SimulatedExchange), so the venue's per-tick work is counted on both sides.  Each tick
reaches the strategy one by one.  Timed: the engine run only (tick objects for Nautilus and
arrays for Keel are built before the clock starts).  Each size: the engines take turns for REPEATS
rounds (min / median / max); the ratio and the scaling from 100k to 1M ticks are printed.

Also times a simulated day of the ETH options desk (examples/eth_options_desk.toml: 7,200
blocks of 12 s on the real 2024-01-05 path, v3 pool, arbitrageur, sandwich bot, noise traders,
hedger, portfolio margin), warm (after one short run compiles and loads everything); no peer.

Run: .venv/bin/python bench/engine.py [--sizes 100000,300000,1000000] [--repeats R] [--skip-sim]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from keel.engine import Actor, Engine
from keel.sim import MarketOrder, TouchFillVenue

sys.path.insert(0, os.path.dirname(__file__))
from _common import Stats, header, load_average

FAST, SLOW = 10, 20
ORDER_UNIT = 1000  # Nautilus default_fx_ccy: min_quantity 1,000, lot size 1,000


def make_ticks(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random-walk EUR/USD-like quote stream: 1 ms apart, 5-decimal prices, 1-pip spread."""
    rng = np.random.default_rng(seed)
    mid = 1.10 + np.cumsum(rng.normal(0.0, 2e-5, n))
    bid = np.round(mid - 0.00005, 5)
    ask = np.round(bid + 0.0001, 5)
    ts = 1_704_067_200_000_000_000 + np.arange(n, dtype=np.int64) * 1_000_000
    return ts, bid, ask


# ----------------------------------------------------------------------------------------- Keel
class KeelNoop(Actor):
    def on_quote(self, instrument: str, ts_ns: int, bid: float, ask: float) -> None:
        pass


class KeelEmaCross(Actor):
    def __init__(self) -> None:
        super().__init__("ema_cross")
        self.a_fast = 2.0 / (FAST + 1)
        self.a_slow = 2.0 / (SLOW + 1)
        self.fast = 0.0
        self.slow = 0.0
        self.count = 0
        self.position = 0.0
        self.orders = 0

    def on_quote(self, instrument: str, ts_ns: int, bid: float, ask: float) -> None:
        mid = 0.5 * (bid + ask)
        count = self.count
        if count == 0:
            self.fast = self.slow = mid
            self.count = 1
            return
        fast = self.fast + self.a_fast * (mid - self.fast)
        slow = self.slow + self.a_slow * (mid - self.slow)
        self.fast = fast
        self.slow = slow
        if count < SLOW:  # warm-up like Nautilus' `initialized`
            self.count = count + 1
            return
        if fast >= slow:
            if self.position <= 0.0:
                self.ctx.submit(MarketOrder(instrument, ORDER_UNIT - self.position))
                self.position = float(ORDER_UNIT)
                self.orders += 1
        elif self.position >= 0.0:
            self.ctx.submit(MarketOrder(instrument, -ORDER_UNIT - self.position))
            self.position = -float(ORDER_UNIT)
            self.orders += 1


def run_keel(kind: str, ts: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> tuple[float, int, int, int]:
    """(seconds, orders, fills, refused)."""
    engine = Engine(seed=1)
    venue = TouchFillVenue(engine)
    strategy: Actor = KeelNoop("noop") if kind == "noop" else KeelEmaCross()
    engine.add_actor(strategy)
    t0 = time.perf_counter()
    engine.replay_quotes("EUR/USD.SIM", ts, bid, ask)
    engine.stop()
    elapsed = time.perf_counter() - t0
    orders = getattr(strategy, "orders", 0)
    return elapsed, orders, venue.fills, orders - venue.fills


# ------------------------------------------------------------------------------------- Nautilus
def nautilus_ticks(ts: np.ndarray, bid: np.ndarray, ask: np.ndarray):  # type: ignore[no-untyped-def]
    from nautilus_trader.model.data import QuoteTick
    from nautilus_trader.model.identifiers import Venue
    from nautilus_trader.test_kit.providers import TestInstrumentProvider

    instrument = TestInstrumentProvider.default_fx_ccy("EUR/USD", Venue("SIM"))
    size = np.full(len(ts), 1_000_000.0)
    ticks = QuoteTick.from_raw_arrays_to_list(  # takes float prices despite the name
        instrument.id,
        5,
        0,
        bid.astype(np.float64),
        ask.astype(np.float64),
        size,
        size,
        ts.astype(np.uint64),
        ts.astype(np.uint64),
    )
    return instrument, ticks


def run_nautilus(kind: str, instrument, ticks) -> tuple[float, int, int, int]:  # type: ignore[no-untyped-def]
    """(seconds, orders, fills, denied or rejected)."""
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.config import LoggingConfig, StrategyConfig
    from nautilus_trader.indicators import ExponentialMovingAverage
    from nautilus_trader.model.currencies import USD
    from nautilus_trader.model.enums import AccountType, OmsType, OrderSide, PriceType
    from nautilus_trader.model.identifiers import InstrumentId, Venue
    from nautilus_trader.model.objects import Money, Quantity
    from nautilus_trader.trading.strategy import Strategy

    class NoopConfig(StrategyConfig, frozen=True):
        instrument_id: InstrumentId

    class NautilusNoop(Strategy):
        def __init__(self, config: NoopConfig) -> None:
            super().__init__(config)
            self.orders = 0

        def on_start(self) -> None:
            self.subscribe_quote_ticks(self.config.instrument_id)

        def on_quote_tick(self, tick) -> None:  # type: ignore[no-untyped-def]
            pass

    class NautilusEmaCross(Strategy):
        def __init__(self, config: NoopConfig) -> None:
            super().__init__(config)
            self.fast = ExponentialMovingAverage(FAST, price_type=PriceType.MID)
            self.slow = ExponentialMovingAverage(SLOW, price_type=PriceType.MID)
            self.position = 0
            self.orders = 0
            self.fills = 0
            self.refused = 0

        def on_order_filled(self, event) -> None:  # type: ignore[no-untyped-def]
            self.fills += 1

        def on_order_denied(self, event) -> None:  # type: ignore[no-untyped-def]
            self.refused += 1

        def on_order_rejected(self, event) -> None:  # type: ignore[no-untyped-def]
            self.refused += 1

        def on_start(self) -> None:
            self.register_indicator_for_quote_ticks(self.config.instrument_id, self.fast)
            self.register_indicator_for_quote_ticks(self.config.instrument_id, self.slow)
            self.subscribe_quote_ticks(self.config.instrument_id)

        def _trade(self, side: OrderSide, qty: int) -> None:
            order = self.order_factory.market(self.config.instrument_id, side, Quantity.from_int(qty))
            self.submit_order(order)
            self.orders += 1

        def on_quote_tick(self, tick) -> None:  # type: ignore[no-untyped-def]
            if not self.slow.initialized:
                return
            if self.fast.value >= self.slow.value:
                if self.position <= 0:
                    self._trade(OrderSide.BUY, ORDER_UNIT - self.position)
                    self.position = ORDER_UNIT
            elif self.position >= 0:
                self._trade(OrderSide.SELL, ORDER_UNIT + self.position)
                self.position = -ORDER_UNIT

    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR")))
    engine.add_venue(
        venue=Venue("SIM"),
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN,
        base_currency=USD,
        starting_balances=[Money(10_000_000, USD)],
    )
    engine.add_instrument(instrument)
    engine.add_data(ticks)
    cls = NautilusNoop if kind == "noop" else NautilusEmaCross
    strategy = cls(NoopConfig(instrument_id=instrument.id))
    engine.add_strategy(strategy)
    t0 = time.perf_counter()
    engine.run()
    elapsed = time.perf_counter() - t0
    orders = strategy.orders
    fills = getattr(strategy, "fills", 0)
    refused = getattr(strategy, "refused", 0)
    engine.dispose()
    return elapsed, orders, fills, refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big-repeats", type=int, default=2, help="rounds at 1M ticks and above")
    parser.add_argument("--skip-sim", action="store_true")
    parser.add_argument("--keel-only", action="store_true", help="Keel alone, sizes interleaved (its scaling)")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    if args.keel_only:
        keel_scaling(sizes, args.repeats)
        return
    header("engine throughput: Keel vs NautilusTrader", "numpy", "nautilus_trader")
    ts_all, bid_all, ask_all = make_ticks(max(sizes))
    print(f"order size {ORDER_UNIT} units (the instrument's minimum and lot); min / median / max over rounds\n")
    print(
        f"{'strategy':<10} {'ticks':>9} {'keel s':>22} {'nautilus s':>24} {'keel/s':>11} {'naut/s':>11} "
        f"{'ratio':>7}  keel orders/fills/refused   nautilus orders/fills/refused"
    )
    medians: dict[tuple[str, int], tuple[float, float]] = {}
    for n in sizes:
        ts, bid, ask = ts_all[:n], bid_all[:n], ask_all[:n]
        instrument, ticks = nautilus_ticks(ts, bid, ask)
        rounds = args.big_repeats if n >= 1_000_000 else args.repeats
        for kind in ("noop", "ema_cross"):
            keel_times, naut_times = [], []
            k_counts: tuple[int, ...] = ()
            n_counts: tuple[int, ...] = ()
            for _ in range(rounds):
                elapsed, *kc = run_keel(kind, ts, bid, ask)
                keel_times.append(elapsed)
                k_counts = tuple(kc)
                elapsed, *nc = run_nautilus(kind, instrument, ticks)
                naut_times.append(elapsed)
                n_counts = tuple(nc)
            k, nt = Stats(keel_times), Stats(naut_times)
            medians[(kind, n)] = (k.median, nt.median)
            same = kind == "noop" or (k_counts[1] == n_counts[1] and n_counts[2] == 0)
            print(
                f"{kind:<10} {n:>9,} {k.fmt(1.0, 's'):>22} {nt.fmt(1.0, 's'):>24} {n / k.median:>11,.0f} "
                f"{n / nt.median:>11,.0f} {nt.median / k.median:>6.1f}x  "
                f"{'/'.join(str(c) for c in k_counts):>26}   {'/'.join(str(c) for c in n_counts):>29}"
                + ("" if same else "  <-- NOT THE SAME FILLS")
            )
            sys.stdout.flush()
        del ticks
    lo, hi = min(sizes), max(sizes)
    if hi > lo:
        print(f"\nscaling {lo:,} -> {hi:,} ticks ({hi / lo:.0f}x the ticks): median time multiplied by")
        for kind in ("noop", "ema_cross"):
            k0, n0 = medians[(kind, lo)]
            k1, n1 = medians[(kind, hi)]
            print(f"  {kind:<10} keel {k1 / k0:6.1f}x   nautilus {n1 / n0:6.1f}x")
    print(f"# load average at end: {load_average()}")
    if not args.skip_sim:
        sim_day(args.repeats)


def keel_scaling(sizes: list[int], repeats: int) -> None:
    """Keel alone at every size, the sizes taking turns in each round (load hits them alike)."""
    header("engine: Keel alone, sizes interleaved (scaling)", "numpy")
    ts, bid, ask = make_ticks(max(sizes))
    times: dict[tuple[str, int], list[float]] = {}
    counts: dict[tuple[str, int], list[int]] = {}
    for _ in range(repeats):
        for n in sizes:
            for kind in ("noop", "ema_cross"):
                elapsed, *c = run_keel(kind, ts[:n], bid[:n], ask[:n])
                times.setdefault((kind, n), []).append(elapsed)
                counts[(kind, n)] = c
    for (kind, n), t in sorted(times.items()):
        st = Stats(t)
        print(
            f"{kind:<10} {n:>9,} {st.fmt(1.0, 's')}  {n / st.median:,.0f} ticks/s  "
            f"orders/fills/refused {'/'.join(map(str, counts[(kind, n)]))}"
        )
    print(f"# load average at end: {load_average()}")


def sim_day(repeats: int) -> None:
    from pathlib import Path

    from keel.runtime import run_simulation
    from keel.sim.config import load_config

    root = Path(__file__).resolve().parents[1]
    config = load_config(root / "examples" / "eth_options_desk.toml")
    warm = config.model_copy(update={"market": config.market.model_copy(update={"hours": 0.25})})
    run_simulation(warm, root=root)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        summary = run_simulation(config, root=root)
        times.append(time.perf_counter() - t0)
    blocks = summary["blocks"]
    med = statistics.median(times)
    print(f"ETH desk, simulated day: {blocks} blocks in {med:.2f} s median ({blocks / med:,.0f} blocks/s)")


if __name__ == "__main__":
    main()
