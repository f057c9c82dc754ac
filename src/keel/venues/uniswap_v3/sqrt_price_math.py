"""SqrtPriceMath of Uniswap v3-core: next sqrt price from an amount, amount deltas between prices.

Prices are Q64.96 sqrt prices (uint160), liquidity is uint128, amounts are uint256
base units.  Rounding is always in the pool's favour, exactly as in the contract,
including the contract's 256-bit overflow checks (they change which formula runs).
"""

from __future__ import annotations

from keel.venues.base import Revert

__all__ = [
    "get_amount0_delta",
    "get_amount0_delta_signed",
    "get_amount1_delta",
    "get_amount1_delta_signed",
    "get_next_sqrt_price_from_amount0_rounding_up",
    "get_next_sqrt_price_from_amount1_rounding_down",
    "get_next_sqrt_price_from_input",
    "get_next_sqrt_price_from_output",
]

_Q96 = 1 << 96
_RES = 96
_MAX_UINT160 = (1 << 160) - 1
_MAX_UINT256 = (1 << 256) - 1
_INT256_MAX = (1 << 255) - 1


def get_next_sqrt_price_from_amount0_rounding_up(sqrt_px96: int, liquidity: int, amount: int, add: bool) -> int:
    """Next sqrt price after adding (``add``) or removing ``amount`` of token0; rounds up."""
    if amount == 0:
        return sqrt_px96
    numerator1 = liquidity << _RES
    product = amount * sqrt_px96
    if add:
        if product <= _MAX_UINT256:
            denominator = numerator1 + product
            if denominator <= _MAX_UINT256:
                return -(-(numerator1 * sqrt_px96) // denominator)
        denominator = numerator1 // sqrt_px96 + amount
        if denominator > _MAX_UINT256:
            raise Revert("", "SqrtPriceMath: denominator overflows uint256")
        return -(-numerator1 // denominator)
    if product > _MAX_UINT256 or numerator1 <= product:
        raise Revert("", "SqrtPriceMath: not enough token0 liquidity for the output")
    result = -(-(numerator1 * sqrt_px96) // (numerator1 - product))
    if result > _MAX_UINT160:
        raise Revert("", "SqrtPriceMath: next price overflows uint160")
    return result


def get_next_sqrt_price_from_amount1_rounding_down(sqrt_px96: int, liquidity: int, amount: int, add: bool) -> int:
    """Next sqrt price after adding (``add``) or removing ``amount`` of token1; rounds down."""
    if add:
        quotient = (amount << _RES) // liquidity
        if quotient > _MAX_UINT256:
            raise Revert("", "FullMath.mulDiv: result overflows uint256")
        result = sqrt_px96 + quotient
        if result > _MAX_UINT160:
            raise Revert("", "SafeCast: next price overflows uint160")
        return result
    quotient = -(-(amount << _RES) // liquidity)
    if quotient > _MAX_UINT256:
        raise Revert("", "FullMath.mulDivRoundingUp: result overflows uint256")
    if sqrt_px96 <= quotient:
        raise Revert("", "SqrtPriceMath: not enough token1 liquidity for the output")
    return sqrt_px96 - quotient


def get_next_sqrt_price_from_input(sqrt_px96: int, liquidity: int, amount_in: int, zero_for_one: bool) -> int:
    """Next sqrt price after ``amount_in`` of token0 (zero_for_one) or token1 enters; never overshoots."""
    if sqrt_px96 <= 0 or liquidity <= 0:
        raise Revert("", "SqrtPriceMath: price and liquidity must be positive")
    if zero_for_one:
        return get_next_sqrt_price_from_amount0_rounding_up(sqrt_px96, liquidity, amount_in, True)
    return get_next_sqrt_price_from_amount1_rounding_down(sqrt_px96, liquidity, amount_in, True)


def get_next_sqrt_price_from_output(sqrt_px96: int, liquidity: int, amount_out: int, zero_for_one: bool) -> int:
    """Next sqrt price after ``amount_out`` of token1 (zero_for_one) or token0 leaves; never undershoots."""
    if sqrt_px96 <= 0 or liquidity <= 0:
        raise Revert("", "SqrtPriceMath: price and liquidity must be positive")
    if zero_for_one:
        return get_next_sqrt_price_from_amount1_rounding_down(sqrt_px96, liquidity, amount_out, False)
    return get_next_sqrt_price_from_amount0_rounding_up(sqrt_px96, liquidity, amount_out, False)


def get_amount0_delta(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int, round_up: bool) -> int:
    """token0 between two sqrt prices for ``liquidity``: L * (sqrtB - sqrtA) / (sqrtA * sqrtB)."""
    if sqrt_ratio_a_x96 > sqrt_ratio_b_x96:
        sqrt_ratio_a_x96, sqrt_ratio_b_x96 = sqrt_ratio_b_x96, sqrt_ratio_a_x96
    if sqrt_ratio_a_x96 <= 0:
        raise Revert("", "SqrtPriceMath: sqrt price must be positive")
    product = (liquidity << _RES) * (sqrt_ratio_b_x96 - sqrt_ratio_a_x96)
    # The contract divides by sqrtB then by sqrtA (rounding each time the same way); for
    # positive integers ceil(ceil(p/b)/a) == ceil(p/(a*b)) and floor(floor(p/b)/a) == floor(p/(a*b)),
    # so one division gives the identical result, faster.
    if round_up:
        return -(-product // (sqrt_ratio_b_x96 * sqrt_ratio_a_x96))
    return product // (sqrt_ratio_b_x96 * sqrt_ratio_a_x96)


def get_amount1_delta(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int, round_up: bool) -> int:
    """token1 between two sqrt prices for ``liquidity``: L * (sqrtB - sqrtA)."""
    diff = sqrt_ratio_b_x96 - sqrt_ratio_a_x96
    if diff < 0:
        diff = -diff
    if round_up:
        return -(-(liquidity * diff) >> _RES)
    return (liquidity * diff) >> _RES


def get_amount0_delta_signed(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int) -> int:
    """Signed token0 delta for a signed liquidity change (rounded up when adding, down when removing)."""
    if liquidity < 0:
        return -get_amount0_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, -liquidity, False)
    return get_amount0_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, liquidity, True)


def get_amount1_delta_signed(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int) -> int:
    """Signed token1 delta for a signed liquidity change (rounded up when adding, down when removing)."""
    if liquidity < 0:
        return -get_amount1_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, -liquidity, False)
    return get_amount1_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, liquidity, True)
