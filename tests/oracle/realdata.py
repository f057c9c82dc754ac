"""Real-data fixtures for the oracle tests: the USDC/WETH 0.05% pool day (2024-01-05) replayed
through keel.venues' exact Uniswap v3 pool, and honest ETH/USD sources built from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from math import isqrt
from pathlib import Path

import numpy as np

from keel.domain import Quote, Token
from keel.oracle import AggregatorConfig, SourceConfig
from keel.oracle.dex import DexPoolSource
from keel.oracle.feeds import PushFeed, PythPrice, quote_to_update
from keel.oracle.replay import load_uniswap_rel_price
from keel.oracle.sample import SourceUpdate
from keel.venues.uniswap_v3 import Pool

DATA = Path(__file__).resolve().parents[2] / "data"
UNI = DATA / "uniswap_v3_usdc_weth_005_2024-01-05" / "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05"
BTC_2020 = DATA / "binance_btcusdt_1m_crashes" / "BTCUSDT-1m-2020-03-12_0936-1423.csv"
BTC_2025 = DATA / "binance_btcusdt_1m_crashes" / "BTCUSDT-1m-2025-10-10_2028-2237.csv"
S = 1_000_000_000
USDC = Token("USDC", 6)
WETH = Token("WETH", 18)
L_REAL = 12453647101533358277  # the pool's in-range liquidity at 00:00 (minute.csv currentLiquidity)


def rel_price() -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    return load_uniswap_rel_price(f"{UNI}.rel-price.csv")


class PoolReplay:
    """A keel.venues v3 pool driven to the real pool's sqrtPriceX96 once per minute (one block each)."""

    def __init__(self, sqrt0: int, ts0_s: int) -> None:
        self.pool = Pool(500, 10, sqrt0, token0=USDC, token1=WETH, block_timestamp=ts0_s - 3600)
        t = self.pool.tick
        self.pool.mint("lp", (t - 30000) // 10 * 10, (t + 30000) // 10 * 10, L_REAL)
        self.pool.increase_observation_cardinality_next(64)
        # an hour of history at the opening price so a 30-minute TWAP is defined from the start
        for k in range(1, 61):
            self.pool.block_timestamp = ts0_s - 3600 + 60 * k
            self.move_to(sqrt0 - (k % 2))

    def move_to(self, sqrt_target: int) -> None:
        pool = self.pool
        if sqrt_target != pool.sqrt_price_x96:
            pool.swap(sqrt_target < pool.sqrt_price_x96, 10**40, sqrt_target)

    def flash_double(self) -> int:
        """Within the current block, push the ETH price (USDC per WETH) to 2x; returns the old sqrt."""
        old = self.pool.sqrt_price_x96
        self.move_to(isqrt(old * old // 2))
        return old


@dataclass
class EthSources:
    """Honest ETH/USD sources over the real day: DEX spot and TWAP, a Pyth-style pull feed, a
    Chainlink-style push feed and an exchange quote (the last three: the real price plus seeded noise)."""

    seed: int = 7
    twap_seconds: int = 300
    dex: DexPoolSource = field(init=False)
    push: PushFeed = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self.dex = DexPoolSource("uni-spot", 6, 18, invert=True, twap_seconds=self.twap_seconds)
        self.push = PushFeed("chainlink", heartbeat_ns=3600 * S, deviation_bps=50.0, decimals=8)

    @staticmethod
    def config(**kw: object) -> AggregatorConfig:
        two_min = 120 * S
        return AggregatorConfig(
            sources={
                "uni-spot": SourceConfig(max_age_ns=two_min),
                "uni-twap": SourceConfig(max_age_ns=two_min),
                "pyth": SourceConfig(max_age_ns=two_min),
                "chainlink": SourceConfig(max_age_ns=3660 * S, default_confidence_bps=5.0),
                "cex": SourceConfig(max_age_ns=two_min),
            },
            quorum=3,
            **kw,  # type: ignore[arg-type]
        )

    def off_dex(self, eth: float, ts_ns: int) -> list[SourceUpdate]:
        n = self.rng.normal(0.0, 2e-4, 3)
        out: list[SourceUpdate] = []
        p = eth * (1 + n[0])
        out.append(PythPrice(round(p * 1e8), round(p * 5e-4 * 1e8), -8, ts_ns // S).to_update("pyth"))
        pushed = self.push.observe(eth * (1 + n[1]), ts_ns)
        if pushed is not None:
            out.append(pushed)
        m = eth * (1 + n[2])
        out.append(quote_to_update("cex", Quote("ETH-USD", m * (1 - 1e-4), m * (1 + 1e-4), ts_ns)))
        return out

    def dex_updates(self, pool: Pool, ts_ns: int) -> list[SourceUpdate]:
        return [self.dex.spot(pool, ts_ns), self.dex.twap(pool, ts_ns, "uni-twap")]
