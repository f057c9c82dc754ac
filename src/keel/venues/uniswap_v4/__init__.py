"""Uniswap v4 in exact integers: ``PoolKey``, the singleton ``PoolManager``, hooks, a router venue.

v4 reuses v3's math libraries (:mod:`keel.venues.uniswap_v3`: ``TickMath``, ``SqrtPriceMath``,
``LiquidityMath``, ``TickBitmap``, ``FullMath``); the modules here hold only what v4 changes:
:mod:`~keel.venues.uniswap_v4.swap_math` (signs, partial exact-input step),
:mod:`~keel.venues.uniswap_v4.fees` (LP fee incl. the dynamic flag, 2x12-bit protocol fee),
:mod:`~keel.venues.uniswap_v4.pool` (the ``Pool`` library: salted positions, fees accrued on
every liquidity change, no oracle), :mod:`~keel.venues.uniswap_v4.manager` (``PoolManager``:
many pools, BalanceDelta results, negative = owed by the caller),
:mod:`~keel.venues.uniswap_v4.hooks` (permission flags, :class:`HookModel`) and
:mod:`~keel.venues.uniswap_v4.venue` (:class:`V4Pool`, gas).
"""

from keel.venues.uniswap_v4 import fees, hooks, manager, pool, pool_key, swap_math, venue
from keel.venues.uniswap_v4.fees import DYNAMIC_FEE_FLAG, OVERRIDE_FEE_FLAG
from keel.venues.uniswap_v4.hooks import AMOUNT_CHANGING_FLAGS, BeforeSwap, HookModel
from keel.venues.uniswap_v4.manager import PoolManager
from keel.venues.uniswap_v4.pool import PoolState, SwapOutcome, TickInfo
from keel.venues.uniswap_v4.pool_key import MAX_TICK_SPACING, MIN_TICK_SPACING, NATIVE, ZERO_ADDRESS, PoolKey
from keel.venues.uniswap_v4.venue import (
    CHAINED_HOP_SAVING,
    SWAP_GAS_BASE,
    SWAP_GAS_FIRST_CROSSING,
    SWAP_GAS_PER_TICK,
    V4Pool,
    swap_gas,
)

__all__ = [
    "AMOUNT_CHANGING_FLAGS",
    "CHAINED_HOP_SAVING",
    "DYNAMIC_FEE_FLAG",
    "MAX_TICK_SPACING",
    "MIN_TICK_SPACING",
    "NATIVE",
    "OVERRIDE_FEE_FLAG",
    "SWAP_GAS_BASE",
    "SWAP_GAS_FIRST_CROSSING",
    "SWAP_GAS_PER_TICK",
    "ZERO_ADDRESS",
    "BeforeSwap",
    "HookModel",
    "PoolKey",
    "PoolManager",
    "PoolState",
    "SwapOutcome",
    "TickInfo",
    "V4Pool",
    "fees",
    "hooks",
    "manager",
    "pool",
    "pool_key",
    "swap_gas",
    "swap_math",
    "venue",
]
