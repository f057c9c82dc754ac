"""TickMath of Uniswap v3-core: tick <-> sqrt price (Q64.96), exact.

``get_sqrt_ratio_at_tick(tick)`` is ``sqrt(1.0001**tick) * 2**96`` computed with the
contract's 128.128 fixed-point constants and its rounding (up, to 160 bits).
``get_tick_at_sqrt_ratio(p)`` is the greatest tick ``t`` with
``get_sqrt_ratio_at_tick(t) <= p`` -- the contract's definition; we find it from a
float estimate corrected with the exact forward function, so the result is exact.
Results of the forward function are memoised (the domain is finite).
"""

from __future__ import annotations

import math

from keel.venues.base import Revert

__all__ = [
    "MAX_SQRT_RATIO",
    "MAX_TICK",
    "MIN_SQRT_RATIO",
    "MIN_TICK",
    "SQRT_RATIO_CACHE",
    "get_sqrt_ratio_at_tick",
    "get_tick_at_sqrt_ratio",
]

MIN_TICK = -887272
MAX_TICK = 887272
MIN_SQRT_RATIO = 4295128739
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342

_MAX_UINT256 = (1 << 256) - 1
# 2**128 / sqrt(1.0001) ** (2**i) in 128.128 fixed point, as in the contract (bit i of |tick|).
_FACTORS = (
    0xFFFCB933BD6FAD37AA2D162D1A594001,
    0xFFF97272373D413259A46990580E213A,
    0xFFF2E50F5F656932EF12357CF3C7FDCC,
    0xFFE5CACA7E10E4E61C3624EAA0941CD0,
    0xFFCB9843D60F6159C9DB58835C926644,
    0xFF973B41FA98C081472E6896DFB254C0,
    0xFF2EA16466C96A3843EC78B326B52861,
    0xFE5DEE046A99A2A811C461F1969C3053,
    0xFCBE86C7900A88AEDCFFC83B479AA3A4,
    0xF987A7253AC413176F2B074CF7815E54,
    0xF3392B0822B70005940C7A398E4B70F3,
    0xE7159475A2C29B7443B29C7FA6E889D9,
    0xD097F3BDFD2022B8845AD8F792AA5825,
    0xA9F746462D870FDF8A65DC1F90E061E5,
    0x70D869A156D2A1B890BB3DF62BAF32F7,
    0x31BE135F97D08FD981231505542FCFA6,
    0x9AA508B5B7A84E1C677DE54F3E99BC9,
    0x5D6AF8DEDB81196699C329225EE604,
    0x2216E584F5FA1EA926041BEDFE98,
    0x48A170391F7DC42444E8FA2,
)
_LOG_SQRT_10001 = math.log(1.0001) / 2.0
_LN_Q96 = 96 * math.log(2.0)
_cache: dict[int, int] = {}
#: memo of get_sqrt_ratio_at_tick (tick -> sqrtPriceX96), read directly by the pool's hot loop
SQRT_RATIO_CACHE = _cache


def _compute(tick: int) -> int:
    abs_tick = -tick if tick < 0 else tick
    ratio = _FACTORS[0] if abs_tick & 1 else 1 << 128
    bit = 2
    for factor in _FACTORS[1:]:
        if abs_tick & bit:
            ratio = (ratio * factor) >> 128
        bit <<= 1
    if tick > 0:
        ratio = _MAX_UINT256 // ratio
    return (ratio >> 32) + (0 if ratio & 0xFFFFFFFF == 0 else 1)


def get_sqrt_ratio_at_tick(tick: int) -> int:
    """sqrt(1.0001**tick) as a Q64.96 uint160; reverts 'T' outside [MIN_TICK, MAX_TICK]."""
    value = _cache.get(tick)
    if value is None:
        if not MIN_TICK <= tick <= MAX_TICK:
            raise Revert("T", f"tick {tick} outside [{MIN_TICK}, {MAX_TICK}]")
        value = _compute(tick)
        _cache[tick] = value
    return value


def get_tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    """Greatest tick whose sqrt ratio is <= ``sqrt_price_x96``; reverts 'R' outside [MIN_SQRT_RATIO, MAX_SQRT_RATIO)."""
    if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
        raise Revert("R", f"sqrtPriceX96 {sqrt_price_x96} outside [MIN_SQRT_RATIO, MAX_SQRT_RATIO)")
    estimate = (math.log(sqrt_price_x96) - _LN_Q96) / _LOG_SQRT_10001
    tick = math.floor(estimate)
    tick = min(max(tick, MIN_TICK), MAX_TICK - 1)
    while tick > MIN_TICK and get_sqrt_ratio_at_tick(tick) > sqrt_price_x96:
        tick -= 1
    while tick < MAX_TICK - 1 and get_sqrt_ratio_at_tick(tick + 1) <= sqrt_price_x96:
        tick += 1
    return tick
