"""Tick library of Uniswap v3-core: per-tick liquidity and "outside" accumulators.

Tick state lives in a ``dict`` tick -> list ``[liquidity_gross, liquidity_net,
fee_growth_outside0_x128, fee_growth_outside1_x128, tick_cumulative_outside,
seconds_per_liquidity_outside_x128, seconds_outside, initialized]`` (all ints; the
field indices are the module constants).  Fee growth wraps modulo 2**256 and the
oracle accumulators at their Solidity widths, exactly as the contract's unchecked
arithmetic does.
"""

from __future__ import annotations

from dataclasses import dataclass

from keel.venues.base import Revert
from keel.venues.uniswap_v3.liquidity_math import add_delta
from keel.venues.uniswap_v3.tick_math import MAX_TICK, MIN_TICK

__all__ = [
    "TickInfo",
    "clear",
    "cross",
    "get_fee_growth_inside",
    "info",
    "new_info",
    "tick_spacing_to_max_liquidity_per_tick",
    "update",
]

LIQUIDITY_GROSS, LIQUIDITY_NET, FEE_GROWTH_OUTSIDE0, FEE_GROWTH_OUTSIDE1 = 0, 1, 2, 3
TICK_CUMULATIVE_OUTSIDE, SECONDS_PER_LIQUIDITY_OUTSIDE, SECONDS_OUTSIDE, INITIALIZED = 4, 5, 6, 7

_MOD256 = (1 << 256) - 1
_MOD160 = (1 << 160) - 1
_MOD32 = (1 << 32) - 1
_INT128_MIN, _INT128_MAX = -(1 << 127), (1 << 127) - 1


def wrap_int56(x: int) -> int:
    """Two's-complement wrap to int56 (the contract's unchecked tickCumulative arithmetic)."""
    x &= (1 << 56) - 1
    return x - (1 << 56) if x >= 1 << 55 else x


@dataclass(frozen=True, slots=True)
class TickInfo:
    """Public view of one tick (the contract's ``ticks(int24)`` getter)."""

    liquidity_gross: int
    liquidity_net: int
    fee_growth_outside0_x128: int
    fee_growth_outside1_x128: int
    tick_cumulative_outside: int
    seconds_per_liquidity_outside_x128: int
    seconds_outside: int
    initialized: bool


def new_info() -> list[int]:
    """An empty (uninitialized) tick record."""
    return [0, 0, 0, 0, 0, 0, 0, 0]


def info(ticks: dict[int, list[int]], tick: int) -> TickInfo:
    """The :class:`TickInfo` of ``tick`` (all zero when never initialized)."""
    r = ticks.get(tick) or new_info()
    return TickInfo(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]))


def tick_spacing_to_max_liquidity_per_tick(tick_spacing: int) -> int:
    """Max liquidity per tick so that the total over all usable ticks fits in uint128."""
    min_tick = int(MIN_TICK / tick_spacing) * tick_spacing  # Solidity truncates toward zero
    max_tick = int(MAX_TICK / tick_spacing) * tick_spacing
    num_ticks = (max_tick - min_tick) // tick_spacing + 1
    return ((1 << 128) - 1) // num_ticks


def get_fee_growth_inside(
    ticks: dict[int, list[int]],
    tick_lower: int,
    tick_upper: int,
    tick_current: int,
    fee_growth_global0_x128: int,
    fee_growth_global1_x128: int,
) -> tuple[int, int]:
    """Fee growth per unit of liquidity inside [tick_lower, tick_upper) (mod 2**256)."""
    lower = ticks.get(tick_lower) or new_info()
    upper = ticks.get(tick_upper) or new_info()
    if tick_current >= tick_lower:
        below0, below1 = lower[2], lower[3]
    else:
        below0 = fee_growth_global0_x128 - lower[2]
        below1 = fee_growth_global1_x128 - lower[3]
    if tick_current < tick_upper:
        above0, above1 = upper[2], upper[3]
    else:
        above0 = fee_growth_global0_x128 - upper[2]
        above1 = fee_growth_global1_x128 - upper[3]
    return (
        (fee_growth_global0_x128 - below0 - above0) & _MOD256,
        (fee_growth_global1_x128 - below1 - above1) & _MOD256,
    )


def update(
    ticks: dict[int, list[int]],
    tick: int,
    tick_current: int,
    liquidity_delta: int,
    fee_growth_global0_x128: int,
    fee_growth_global1_x128: int,
    seconds_per_liquidity_cumulative_x128: int,
    tick_cumulative: int,
    time: int,
    upper: bool,
    max_liquidity: int,
) -> bool:
    """Apply a liquidity change at ``tick``; returns whether it flipped initialized <-> uninitialized.

    Reverts 'LO' above ``max_liquidity`` (and 'LS'/'LA' from LiquidityMath).
    The record is replaced, not mutated, so pool copies sharing it stay independent.
    """
    old = ticks.get(tick)
    r = list(old) if old is not None else new_info()
    gross_before = r[0]
    gross_after = add_delta(gross_before, liquidity_delta)
    if gross_after > max_liquidity:
        raise Revert("LO", f"liquidity gross {gross_after} above max per tick {max_liquidity}")
    flipped = (gross_after == 0) != (gross_before == 0)
    if gross_before == 0:
        if tick <= tick_current:
            r[2] = fee_growth_global0_x128
            r[3] = fee_growth_global1_x128
            r[5] = seconds_per_liquidity_cumulative_x128
            r[4] = tick_cumulative
            r[6] = time
        r[7] = 1
    r[0] = gross_after
    net = r[1] - liquidity_delta if upper else r[1] + liquidity_delta
    if not _INT128_MIN <= net <= _INT128_MAX:
        raise Revert("", f"SafeCast: liquidity net {net} overflows int128")
    r[1] = net
    ticks[tick] = r
    return flipped


def clear(ticks: dict[int, list[int]], tick: int) -> None:
    """Delete the record of ``tick``."""
    ticks.pop(tick, None)


def cross(
    ticks: dict[int, list[int]],
    tick: int,
    fee_growth_global0_x128: int,
    fee_growth_global1_x128: int,
    seconds_per_liquidity_cumulative_x128: int,
    tick_cumulative: int,
    time: int,
) -> int:
    """Flip the outside accumulators of ``tick`` as the price crosses it; returns its liquidity_net."""
    old = ticks.get(tick)
    r = list(old) if old is not None else new_info()
    r[2] = (fee_growth_global0_x128 - r[2]) & _MOD256
    r[3] = (fee_growth_global1_x128 - r[3]) & _MOD256
    r[5] = (seconds_per_liquidity_cumulative_x128 - r[5]) & _MOD160
    r[4] = wrap_int56(tick_cumulative - r[4])
    r[6] = (time - r[6]) & _MOD32
    ticks[tick] = r
    return r[1]
