"""The real USDC/WETH 0.05% Uniswap v3 pool (2024-01-05) rebuilt from its logged events, and
realistic companion pools at the other fee tiers, for router tests and bench/router.py.

Reconstruction (the data holds one day of events, not the pool's history, so the pool cannot be
replayed from ``Initialize``): every logged Swap gives the pool's active liquidity at its
resulting tick.  Subtracting the Mint/Burn liquidity logged earlier that day over ranges
covering that tick gives the *start-of-day* liquidity of that tick-spacing bucket.  The
profile is exact over the ticks the price visited that day (198976..199380); outside it the
edge liquidity is extended linearly tapering to 20% over ``EXTEND_TICKS`` ticks, then zero --
an extrapolation, used only by trades that push the price beyond the day's range.
The snapshot is the state after the day's first swap (2024-01-05 00:00:23).
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from keel.domain import PoolState, TickState, Token
from keel.venues.uniswap_v2 import Pair
from keel.venues.uniswap_v3 import Pool

ROOT = Path(__file__).resolve().parents[2]
DAY = ROOT / "data" / "uniswap_v3_usdc_weth_005_2024-01-05"
TICK_CSV = DAY / "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05.tick.csv"

USDC = Token("USDC", 6, 1, "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
WETH = Token("WETH", 18, 1, "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2")
SPACING = 10
EXTEND_TICKS = 2500


def _ticks(value: str) -> int:
    return int(float(value))


@lru_cache(maxsize=1)
def day_rows() -> tuple[dict[str, str], ...]:
    with TICK_CSV.open(newline="") as fh:
        return tuple(csv.DictReader(fh))


@lru_cache(maxsize=1)
def start_of_day_profile() -> tuple[int, int, int, dict[int, int]]:
    """(sqrt_price_x96, tick, liquidity, {bucket lower tick: liquidity}) at the snapshot."""
    rows = day_rows()
    adjustments: list[tuple[int, int, int]] = []
    observed: dict[int, int] = {}
    first = rows[0]
    assert first["tx_type"] == "SWAP"
    for r in rows:
        kind = r["tx_type"]
        if kind in ("MINT", "BURN"):
            delta = int(r["liquidity"]) * (1 if kind == "MINT" else -1)
            if delta:
                adjustments.append((_ticks(r["tick_lower"]), _ticks(r["tick_upper"]), delta))
        elif kind == "SWAP":
            tick = _ticks(r["current_tick"])
            bucket = tick - tick % SPACING
            if bucket in observed:
                continue
            adj = sum(d for lo, hi, d in adjustments if lo <= tick < hi)
            observed[bucket] = int(r["total_liquidity"]) - adj
    lo, hi = min(observed), max(observed)
    profile: dict[int, int] = {}
    last = observed[lo]
    for b in range(lo, hi + SPACING, SPACING):
        last = observed.get(b, last)
        profile[b] = last
    for k in range(1, EXTEND_TICKS // SPACING + 1):
        w = 1.0 - 0.8 * k / (EXTEND_TICKS // SPACING)
        profile[lo - k * SPACING] = int(observed[lo] * w)
        profile[hi + k * SPACING] = int(observed[hi] * w)
    return int(first["sqrtPriceX96"]), _ticks(first["current_tick"]), int(first["total_liquidity"]), profile


def _state_from_profile(
    sqrt_price_x96: int, tick: int, liquidity: int, profile: dict[int, int], fee: int, spacing: int, ts_ns: int
) -> PoolState:
    buckets = sorted(profile)
    ticks: list[TickState] = []
    prev = 0
    for b in buckets:
        net = profile[b] - prev
        if net:
            ticks.append(TickState(b, abs(net), net))
        prev = profile[b]
    end = buckets[-1] + spacing
    if prev:
        ticks.append(TickState(end, prev, -prev))
    return PoolState(
        kind="uniswap_v3",
        token0="USDC",
        token1="WETH",
        fee=fee,
        ts_ns=ts_ns,
        tick_spacing=spacing,
        sqrt_price_x96=sqrt_price_x96,
        tick=tick,
        liquidity=liquidity,
        ticks=tuple(ticks),
    )


SNAPSHOT_NS = 1704412823 * 10**9  # 2024-01-05 00:00:23 UTC


def real_pool(name: str = "univ3-usdc-weth-0.05%") -> Pool:
    """The reconstructed 0.05% pool at the snapshot (see the module docstring)."""
    sqrt_p, tick, liq, profile = start_of_day_profile()
    state = _state_from_profile(sqrt_p, tick, liq, profile, 500, SPACING, SNAPSHOT_NS)
    pool = Pool.from_state(state, token0=USDC, token1=WETH)
    pool.name = name
    return pool


def scaled_pool(name: str, fee: int, spacing: int, scale: float, *, widen: int = 1) -> Pool:
    """A companion v3 pool at another fee tier: the real profile scaled by ``scale`` and spread
    ``widen`` times wider (LPs at higher tiers use wider ranges), on the tier's tick spacing."""
    sqrt_p, tick, _, profile = start_of_day_profile()
    centre = tick - tick % spacing
    out: dict[int, int] = {}
    for b, liq in profile.items():
        nb = centre + ((b - centre) * widen) // spacing * spacing
        for k in range(widen * SPACING // spacing or 1):
            out.setdefault(nb + k * spacing, int(liq * scale))
    liq_here = out.get(tick - tick % spacing, 0)
    state = _state_from_profile(sqrt_p, tick, liq_here, out, fee, spacing, SNAPSHOT_NS)
    pool = Pool.from_state(state, token0=USDC, token1=WETH)
    pool.name = name
    return pool


def v2_pair(name: str, usdc: int, price_usdc_per_weth: float) -> Pair:
    """A Uniswap v2 USDC/WETH pair holding ``usdc`` whole USDC at the given price."""
    weth = usdc / price_usdc_per_weth
    return Pair(usdc * 10**6, int(weth * 10**18), token0=USDC, token1=WETH, name=name, updated_ns=SNAPSHOT_NS)


def spot_price() -> float:
    """USDC per WETH at the snapshot."""
    sqrt_p = start_of_day_profile()[0]
    return 1e12 / (sqrt_p / 2**96) ** 2


def realistic_venues() -> list[Pool | Pair]:
    """The real 0.05% pool plus realistic 0.3% and 1% v3 pools and two v2 pairs (0.3%)."""
    px = spot_price()
    return [
        real_pool(),
        scaled_pool("univ3-usdc-weth-0.3%", 3000, 60, 0.25, widen=2),
        scaled_pool("univ3-usdc-weth-1%", 10000, 200, 0.05, widen=4),
        v2_pair("univ2-usdc-weth", 30_000_000, px * 1.0004),
        v2_pair("sushi-usdc-weth", 8_000_000, px * 0.9995),
    ]
