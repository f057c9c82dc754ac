"""FullMath and UnsafeMath of Uniswap v3-core, in exact Python integers.

``mul_div(a, b, d)`` is ``floor(a * b / d)`` with the full 512-bit product, and
reverts (as the contract does, without a reason string) when ``d == 0`` or the
result does not fit in 256 bits.  ``mul_div_rounding_up`` rounds the quotient up.
"""

from __future__ import annotations

from keel.venues.base import Revert

__all__ = [
    "MAX_UINT128",
    "MAX_UINT160",
    "MAX_UINT256",
    "Q96",
    "Q128",
    "div_rounding_up",
    "mul_div",
    "mul_div_rounding_up",
]

Q96 = 1 << 96
Q128 = 1 << 128
MAX_UINT128 = (1 << 128) - 1
MAX_UINT160 = (1 << 160) - 1
MAX_UINT256 = (1 << 256) - 1


def mul_div(a: int, b: int, denominator: int) -> int:
    """``floor(a*b/denominator)``; reverts on a zero denominator or a result >= 2**256."""
    if denominator <= 0:
        raise Revert("", "FullMath.mulDiv: denominator is zero")
    result = a * b // denominator
    if result > MAX_UINT256:
        raise Revert("", "FullMath.mulDiv: result overflows uint256")
    return result


def mul_div_rounding_up(a: int, b: int, denominator: int) -> int:
    """``ceil(a*b/denominator)``; reverts like :func:`mul_div` and when the rounded result overflows."""
    if denominator <= 0:
        raise Revert("", "FullMath.mulDivRoundingUp: denominator is zero")
    result = -(-(a * b) // denominator)
    if result > MAX_UINT256:
        raise Revert("", "FullMath.mulDivRoundingUp: result overflows uint256")
    return result


def div_rounding_up(x: int, y: int) -> int:
    """UnsafeMath.divRoundingUp: ``ceil(x/y)`` for ``y > 0`` (the contract returns 0 for y == 0)."""
    if y == 0:
        return 0
    return -(-x // y)
