"""Uniswap v3 in exact integers: the v3-core libraries, the pool, and a float64 fast path.

Library modules mirror v3-core one to one (``tick_math``, ``sqrt_price_math``,
``swap_math``, ``full_math``, ``liquidity_math``, ``tick_bitmap``, ``tick``,
``position``, ``oracle``); :class:`Pool` is UniswapV3Pool.  Everything on the exact
path is a Python int; :mod:`keel.venues.uniswap_v3.fast_path` is the float64
vectorized approximation for routing and simulation.
"""

from keel.venues.uniswap_v3 import (
    fast_path,
    full_math,
    liquidity_math,
    oracle,
    position,
    sqrt_price_math,
    swap_math,
    tick,
    tick_bitmap,
    tick_math,
)
from keel.venues.uniswap_v3 import full_math as FullMath  # noqa: N812 - the library's own name
from keel.venues.uniswap_v3 import liquidity_math as LiquidityMath  # noqa: N812
from keel.venues.uniswap_v3 import oracle as Oracle  # noqa: N812
from keel.venues.uniswap_v3 import position as Position  # noqa: N812
from keel.venues.uniswap_v3 import sqrt_price_math as SqrtPriceMath  # noqa: N812
from keel.venues.uniswap_v3 import swap_math as SwapMath  # noqa: N812
from keel.venues.uniswap_v3 import tick as Tick  # noqa: N812
from keel.venues.uniswap_v3 import tick_bitmap as TickBitmap  # noqa: N812
from keel.venues.uniswap_v3 import tick_math as TickMath  # noqa: N812
from keel.venues.uniswap_v3.fast_path import SwapCurve, build_curve
from keel.venues.uniswap_v3.full_math import mul_div, mul_div_rounding_up
from keel.venues.uniswap_v3.liquidity_math import add_delta
from keel.venues.uniswap_v3.pool import (
    SWAP_GAS_BASE,
    SWAP_GAS_FIRST_CROSSING,
    SWAP_GAS_PER_TICK,
    Pool,
    Slot0,
    SwapResult,
    swap_gas,
)
from keel.venues.uniswap_v3.sqrt_price_math import (
    get_amount0_delta,
    get_amount1_delta,
    get_next_sqrt_price_from_input,
    get_next_sqrt_price_from_output,
)
from keel.venues.uniswap_v3.swap_math import compute_swap_step
from keel.venues.uniswap_v3.tick_math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)
from keel.venues.uniswap_v3.tick_table import TickTable, build_tick_table

__all__ = [
    "MAX_SQRT_RATIO",
    "MAX_TICK",
    "MIN_SQRT_RATIO",
    "MIN_TICK",
    "SWAP_GAS_BASE",
    "SWAP_GAS_FIRST_CROSSING",
    "SWAP_GAS_PER_TICK",
    "FullMath",
    "LiquidityMath",
    "Oracle",
    "Pool",
    "Position",
    "Slot0",
    "SqrtPriceMath",
    "SwapCurve",
    "SwapMath",
    "SwapResult",
    "Tick",
    "TickBitmap",
    "TickMath",
    "TickTable",
    "add_delta",
    "build_curve",
    "build_tick_table",
    "compute_swap_step",
    "fast_path",
    "full_math",
    "get_amount0_delta",
    "get_amount1_delta",
    "get_next_sqrt_price_from_input",
    "get_next_sqrt_price_from_output",
    "get_sqrt_ratio_at_tick",
    "get_tick_at_sqrt_ratio",
    "liquidity_math",
    "mul_div",
    "mul_div_rounding_up",
    "oracle",
    "position",
    "sqrt_price_math",
    "swap_gas",
    "swap_math",
    "tick",
    "tick_bitmap",
    "tick_math",
]
