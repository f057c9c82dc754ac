"""Engine throughput: 1,000,000 quote ticks through Keel's engine and through NautilusTrader, same ticks, same run.

Two strategies, written the idiomatic way on each side and doing the same work:
  (a) noop      — subscribes to quotes and does nothing;
  (b) ema_cross — fast/slow EMA (10/20 ticks) of the mid; on every cross it flips a 1-unit
                  position with a market order that fills at the touch of the simulated venue.
In both engines a simulated venue sees every tick (Keel: TouchFillVenue; Nautilus: its
SimulatedExchange), so the venue's per-tick work is counted on both sides.  Each tick
reaches the strategy one by one.  Timed: the engine run only (tick objects for Nautilus and
arrays for Keel are built before the clock starts).  Reports medians of REPEATS and ratios.

Also times a simulated day of the ETH options desk (examples/eth_options_desk.toml: 7,200
blocks of 12 s on the real 2024-01-05 path, v3 pool, arbitrageur, sandwich bot, noise traders,
hedger, portfolio margin), warm (after one short run compiles and loads everything); no peer.

Run: .venv/bin/python bench/engine.py [--ticks N] [--repeats R] [--skip-sim]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from keel.engine import Actor, Engine
from keel.sim import MarketOrder, TouchFillVenue

FAST, SLOW = 10, 20


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
                self.ctx.submit(MarketOrder(instrument, 1.0 - self.position))
                self.position = 1.0
                self.orders += 1
        elif self.position >= 0.0:
            self.ctx.submit(MarketOrder(instrument, -1.0 - self.position))
            self.position = -1.0
            self.orders += 1


def run_keel(kind: str, ts: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> tuple[float, int]:
    engine = Engine(seed=1)
    TouchFillVenue(engine)
    strategy: Actor = KeelNoop("noop") if kind == "noop" else KeelEmaCross()
    engine.add_actor(strategy)
    t0 = time.perf_counter()
    engine.replay_quotes("EUR/USD.SIM", ts, bid, ask)
    engine.stop()
    elapsed = time.perf_counter() - t0
    return elapsed, getattr(strategy, "orders", 0)


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


def run_nautilus(kind: str, instrument, ticks) -> tuple[float, int]:  # type: ignore[no-untyped-def]
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
                    self._trade(OrderSide.BUY, 1 - self.position)
                    self.position = 1
            elif self.position >= 0:
                self._trade(OrderSide.SELL, 1 + self.position)
                self.position = -1

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
    engine.dispose()
    return elapsed, orders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-sim", action="store_true")
    args = parser.parse_args()
    n = args.ticks
    ts, bid, ask = make_ticks(n)
    import nautilus_trader

    print(f"engine throughput, {n:,} quote ticks, medians of {args.repeats} runs")
    print(f"python {platform.python_version()}, numpy {np.__version__}, nautilus_trader {nautilus_trader.__version__}")
    instrument, ticks = nautilus_ticks(ts, bid, ask)
    print(f"{'strategy':<10} {'keel ticks/s':>14} {'nautilus ticks/s':>17} {'ratio':>7} {'orders k/n':>14}")
    for kind in ("noop", "ema_cross"):
        keel_times, naut_times = [], []
        keel_orders = naut_orders = 0
        for _ in range(args.repeats):
            elapsed, keel_orders = run_keel(kind, ts, bid, ask)
            keel_times.append(elapsed)
            elapsed, naut_orders = run_nautilus(kind, instrument, ticks)
            naut_times.append(elapsed)
        k = n / statistics.median(keel_times)
        nt = n / statistics.median(naut_times)
        print(f"{kind:<10} {k:>14,.0f} {nt:>17,.0f} {k / nt:>6.1f}x {keel_orders:>6}/{naut_orders:<6}")
    if not args.skip_sim:
        sim_day(args.repeats)


def sim_day(repeats: int) -> None:
    from pathlib import Path

    from keel.sim.config import load_config
    from keel.runtime import run_scenario

    root = Path(__file__).resolve().parents[1]
    config = load_config(root / "examples" / "eth_options_desk.toml")
    warm = config.model_copy(update={"market": config.market.model_copy(update={"hours": 0.25})})
    run_scenario(warm, root)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = run_scenario(config, root)
        times.append(time.perf_counter() - t0)
    blocks = result.summary["blocks"]
    med = statistics.median(times)
    print(f"ETH desk, simulated day: {blocks} blocks in {med:.2f} s median ({blocks / med:,.0f} blocks/s)")


if __name__ == "__main__":
    main()
