"""LiquidityMath of Uniswap v3-core: add a signed delta to a uint128 liquidity."""

from __future__ import annotations

from keel.venues.base import Revert

__all__ = ["add_delta"]

_MAX_UINT128 = (1 << 128) - 1


def add_delta(x: int, y: int) -> int:
    """``x + y`` for uint128 ``x`` and int128 ``y``; reverts 'LS' on underflow, 'LA' on overflow."""
    z = x + y
    if y < 0:
        if z < 0:
            raise Revert("LS", f"liquidity {x} minus {-y}")
    elif z > _MAX_UINT128:
        raise Revert("LA", f"liquidity {x} plus {y}")
    return z
