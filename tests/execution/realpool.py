"""The real USDC/WETH 0.05% Uniswap v3 pool (2024-01-05), rebuilt from its logged events with
:mod:`keel.execution.pool_rebuild`, and realistic companion venues, for tests and bench/router.py.

The profile is exact over the ticks the price visited that day (198976..199380); see the
module docstring of ``keel.execution.pool_rebuild`` for the extrapolation beyond it.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from keel.domain import Token
from keel.execution.pool_rebuild import (
    LiquidityProfile,
    companion_venues,
    pool_from_profile,
    profile_from_events,
    scaled_profile,
)
from keel.venues.base import Venue
from keel.venues.uniswap_v2 import Pair
from keel.venues.uniswap_v3 import Pool

ROOT = Path(__file__).resolve().parents[2]
DAY = ROOT / "data" / "uniswap_v3_usdc_weth_005_2024-01-05"
TICK_CSV = DAY / "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05.tick.csv"

USDC = Token("USDC", 6, 1, "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
WETH = Token("WETH", 18, 1, "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2")
SNAPSHOT_NS = 1704412823 * 10**9  # 2024-01-05 00:00:23 UTC, after the day's first swap


@lru_cache(maxsize=1)
def day_rows() -> tuple[dict[str, str], ...]:
    with TICK_CSV.open(newline="") as fh:
        return tuple(csv.DictReader(fh))


@lru_cache(maxsize=1)
def profile() -> LiquidityProfile:
    return profile_from_events(day_rows())


def real_pool(name: str = "univ3-usdc-weth-0.05%") -> Pool:
    """The rebuilt 0.05% pool at the snapshot."""
    return pool_from_profile(profile(), fee=500, token0=USDC, token1=WETH, name=name, ts_ns=SNAPSHOT_NS)


def scaled_pool(name: str, fee: int, spacing: int, scale: float, *, widen: int = 1) -> Pool:
    """A v3 pool at another tier: the real profile scaled and widened (see ``scaled_profile``)."""
    prof = scaled_profile(profile(), spacing=spacing, scale=scale, widen=widen)
    return pool_from_profile(prof, fee=fee, token0=USDC, token1=WETH, name=name, ts_ns=SNAPSHOT_NS)


def v2_pair(name: str, usdc: int, price_usdc_per_weth: float) -> Pair:
    """A Uniswap v2 USDC/WETH pair holding ``usdc`` whole USDC at the given price."""
    weth = usdc / price_usdc_per_weth
    return Pair(usdc * 10**6, int(weth * 10**18), token0=USDC, token1=WETH, name=name, updated_ns=SNAPSHOT_NS)


def spot_price() -> float:
    """USDC per WETH at the snapshot."""
    return 1e12 / profile().price


def realistic_venues() -> list[Venue]:
    """The real 0.05% pool plus realistic 0.3% and 1% v3 pools and two v2 pairs (0.3%)."""
    return companion_venues(profile(), USDC, WETH, ts_ns=SNAPSHOT_NS)
