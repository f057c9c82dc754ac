"""Rebuild a Uniswap v3 pool's liquidity from one day of its logged events (pure: rows in, state out).

A day of logs does not hold the pool's history, so the pool cannot be replayed from
``Initialize``.  But every logged Swap states the pool's active liquidity at its resulting
tick; subtracting the Mint/Burn liquidity logged earlier that day over ranges covering that tick
gives the *start-of-day* liquidity of that tick-spacing bucket.  The profile is exact over the
ticks the price visited that day; outside it the edge liquidity is extended linearly tapering to
20% over ``extend_ticks`` ticks, then zero (an extrapolation, reached only by trades that push
the price beyond the day's range).  The snapshot is the state after the day's first swap.

Rows are the decoded events as strings (the columns of demeter-fetch's ``*.tick.csv``:
``tx_type``, ``current_tick``, ``total_liquidity``, ``sqrtPriceX96``, ``liquidity``,
``tick_lower``, ``tick_upper``).  :func:`companion_venues` adds realistic pools at the other fee
tiers and v2 pairs around the rebuilt pool, for routing studies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from keel.domain import PoolState, TickState, Token
from keel.errors import ValidationError
from keel.venues.base import Venue
from keel.venues.uniswap_v2 import Pair
from keel.venues.uniswap_v3 import Pool

__all__ = ["LiquidityProfile", "companion_venues", "pool_from_profile", "profile_from_events", "scaled_profile"]


@dataclass(frozen=True, slots=True)
class LiquidityProfile:
    """Pool price and active liquidity, and the liquidity of every tick bucket (lower tick -> L)."""

    sqrt_price_x96: int
    tick: int
    liquidity: int
    spacing: int
    buckets: Mapping[int, int]

    @property
    def price(self) -> float:
        """token1 base units per token0 base unit."""
        return float((self.sqrt_price_x96 / 2**96) ** 2)


def _tick(row: Mapping[str, str], key: str) -> int:
    try:
        return int(float(row[key]))
    except (KeyError, ValueError) as exc:
        raise ValidationError(key, row.get(key), "missing or not a tick") from exc


def profile_from_events(
    rows: Iterable[Mapping[str, str]], *, spacing: int = 10, extend_ticks: int = 2500
) -> LiquidityProfile:
    """Start-of-day liquidity profile from one day of decoded pool events (see the module docstring)."""
    adjustments: list[tuple[int, int, int]] = []
    observed: dict[int, int] = {}
    first: Mapping[str, str] | None = None
    for r in rows:
        kind = r.get("tx_type")
        if kind in ("MINT", "BURN"):
            delta = int(r["liquidity"]) * (1 if kind == "MINT" else -1)
            if delta:
                adjustments.append((_tick(r, "tick_lower"), _tick(r, "tick_upper"), delta))
        elif kind == "SWAP":
            first = first or r
            tick = _tick(r, "current_tick")
            bucket = tick - tick % spacing
            if bucket in observed:
                continue
            adj = sum(d for lo, hi, d in adjustments if lo <= tick < hi)
            observed[bucket] = int(r["total_liquidity"]) - adj
    if first is None:
        raise ValidationError("rows", "no SWAP", "need at least one logged swap")
    lo, hi = min(observed), max(observed)
    buckets: dict[int, int] = {}
    last = observed[lo]
    for b in range(lo, hi + spacing, spacing):
        last = observed.get(b, last)
        buckets[b] = last
    steps = max(1, extend_ticks // spacing)
    for k in range(1, steps + 1):
        w = 1.0 - 0.8 * k / steps
        buckets[lo - k * spacing] = int(observed[lo] * w)
        buckets[hi + k * spacing] = int(observed[hi] * w)
    return LiquidityProfile(
        int(first["sqrtPriceX96"]), _tick(first, "current_tick"), int(first["total_liquidity"]), spacing, buckets
    )


def scaled_profile(profile: LiquidityProfile, *, spacing: int, scale: float, widen: int = 1) -> LiquidityProfile:
    """The profile scaled by ``scale`` and spread ``widen`` times wider around the price, on another
    tick spacing (liquidity providers at higher fee tiers use wider ranges)."""
    centre = profile.tick - profile.tick % spacing
    out: dict[int, int] = {}
    for b, liq in profile.buckets.items():
        nb = centre + ((b - centre) * widen) // spacing * spacing
        for k in range(max(1, widen * profile.spacing // spacing)):
            out.setdefault(nb + k * spacing, int(liq * scale))
    here = out.get(profile.tick - profile.tick % spacing, 0)
    return LiquidityProfile(profile.sqrt_price_x96, profile.tick, here, spacing, out)


def pool_from_profile(
    profile: LiquidityProfile, *, fee: int, token0: Token, token1: Token, name: str, ts_ns: int = 0
) -> Pool:
    """A keel v3 :class:`Pool` holding the profile (tick liquidity_net from bucket differences)."""
    ticks: list[TickState] = []
    prev = 0
    keys = sorted(profile.buckets)
    for b in keys:
        net = profile.buckets[b] - prev
        if net:
            ticks.append(TickState(b, abs(net), net))
        prev = profile.buckets[b]
    if prev:
        ticks.append(TickState(keys[-1] + profile.spacing, prev, -prev))
    state = PoolState(
        kind="uniswap_v3",
        token0=token0.symbol,
        token1=token1.symbol,
        fee=fee,
        ts_ns=ts_ns,
        tick_spacing=profile.spacing,
        sqrt_price_x96=profile.sqrt_price_x96,
        tick=profile.tick,
        liquidity=profile.liquidity,
        ticks=tuple(ticks),
    )
    pool = Pool.from_state(state, token0=token0, token1=token1)
    pool.name = name
    return pool


def companion_venues(profile: LiquidityProfile, token0: Token, token1: Token, *, ts_ns: int = 0) -> list[Venue]:
    """The rebuilt 0.05% pool plus realistic 0.3% and 1% v3 pools (the real profile scaled 0.25
    and 0.05, 2x and 4x wider) and two 0.3% v2 pairs (30M and 8M of token0 at +4 / -5 bp)."""
    pair = f"{token0.symbol.lower()}-{token1.symbol.lower()}"
    px_human = profile.price * token0.unit / token1.unit  # token1 per token0, whole units
    venues: list[Venue] = [
        pool_from_profile(profile, fee=500, token0=token0, token1=token1, name=f"univ3-{pair}-0.05%", ts_ns=ts_ns),
        pool_from_profile(
            scaled_profile(profile, spacing=60, scale=0.25, widen=2),
            fee=3000, token0=token0, token1=token1, name=f"univ3-{pair}-0.3%", ts_ns=ts_ns,
        ),
        pool_from_profile(
            scaled_profile(profile, spacing=200, scale=0.05, widen=4),
            fee=10000, token0=token0, token1=token1, name=f"univ3-{pair}-1%", ts_ns=ts_ns,
        ),
    ]  # fmt: skip
    for name, size, drift in ((f"univ2-{pair}", 30_000_000, 1 / 1.0004), (f"sushi-{pair}", 8_000_000, 1 / 0.9995)):
        r0 = size * token0.unit
        r1 = int(size * px_human * drift * token1.unit)
        venues.append(Pair(r0, r1, token0=token0, token1=token1, name=name, updated_ns=ts_ns))
    return venues
