"""SwapMath of Uniswap v4-core: one swap step, in exact integers.

Reuses v3's :mod:`~keel.venues.uniswap_v3.sqrt_price_math` (identical in v4).  Where v4's
``computeSwapStep`` differs from v3's:

* the sign convention: ``amount_remaining < 0`` is exact input, ``> 0`` exact output (v3: the
  opposite);
* an exact-input step that stops short of the target sets ``amountIn = amountRemainingLessFee``
  (v3 recomputes it from the new price, which can be smaller), so the step's split between input
  and fee -- and hence fee growth -- can differ from v3 by a unit; the total taken is the same;
* an exact-output step that stops short sets ``amountOut = amountRemaining`` directly and derives
  the input from the new price; v3 reaches the same result through a cap;
* a fee of 100% (1_000_000 pips) is allowed for exact input (the whole input is fee).
"""

from __future__ import annotations

from keel.venues.uniswap_v3.sqrt_price_math import (
    get_amount0_delta,
    get_amount1_delta,
    get_next_sqrt_price_from_input,
    get_next_sqrt_price_from_output,
)

__all__ = ["MAX_SWAP_FEE", "compute_swap_step", "get_sqrt_price_target"]

MAX_SWAP_FEE = 1_000_000


def get_sqrt_price_target(zero_for_one: bool, sqrt_price_next_x96: int, sqrt_price_limit_x96: int) -> int:
    """The step's target: the next tick's price unless the limit comes first."""
    if zero_for_one:
        return sqrt_price_next_x96 if sqrt_price_next_x96 >= sqrt_price_limit_x96 else sqrt_price_limit_x96
    return sqrt_price_next_x96 if sqrt_price_next_x96 < sqrt_price_limit_x96 else sqrt_price_limit_x96


def compute_swap_step(
    sqrt_price_current_x96: int,
    sqrt_price_target_x96: int,
    liquidity: int,
    amount_remaining: int,
    fee_pips: int,
) -> tuple[int, int, int, int]:
    """``(sqrt_price_next, amount_in, amount_out, fee_amount)`` of one step (v4 signs).

    Rounding as the contract: input rounded up, output down, fee on a full step rounded up
    (``ceil(amountIn * fee / (1e6 - fee))``), on a partial exact-input step the remainder.
    """
    zero_for_one = sqrt_price_current_x96 >= sqrt_price_target_x96
    if amount_remaining < 0:
        remaining = -amount_remaining
        less_fee = remaining * (MAX_SWAP_FEE - fee_pips) // MAX_SWAP_FEE
        if zero_for_one:
            amount_in = get_amount0_delta(sqrt_price_target_x96, sqrt_price_current_x96, liquidity, True)
        else:
            amount_in = get_amount1_delta(sqrt_price_current_x96, sqrt_price_target_x96, liquidity, True)
        if less_fee >= amount_in:
            sqrt_next = sqrt_price_target_x96
            if fee_pips == MAX_SWAP_FEE:
                fee_amount = amount_in
            else:
                fee_amount = -(-(amount_in * fee_pips) // (MAX_SWAP_FEE - fee_pips))
        else:
            amount_in = less_fee
            sqrt_next = get_next_sqrt_price_from_input(sqrt_price_current_x96, liquidity, less_fee, zero_for_one)
            fee_amount = remaining - amount_in
        if zero_for_one:
            amount_out = get_amount1_delta(sqrt_next, sqrt_price_current_x96, liquidity, False)
        else:
            amount_out = get_amount0_delta(sqrt_price_current_x96, sqrt_next, liquidity, False)
        return sqrt_next, amount_in, amount_out, fee_amount
    if zero_for_one:
        amount_out = get_amount1_delta(sqrt_price_target_x96, sqrt_price_current_x96, liquidity, False)
    else:
        amount_out = get_amount0_delta(sqrt_price_current_x96, sqrt_price_target_x96, liquidity, False)
    if amount_remaining >= amount_out:
        sqrt_next = sqrt_price_target_x96
    else:
        amount_out = amount_remaining
        sqrt_next = get_next_sqrt_price_from_output(sqrt_price_current_x96, liquidity, amount_out, zero_for_one)
    if zero_for_one:
        amount_in = get_amount0_delta(sqrt_next, sqrt_price_current_x96, liquidity, True)
    else:
        amount_in = get_amount1_delta(sqrt_price_current_x96, sqrt_next, liquidity, True)
    fee_amount = -(-(amount_in * fee_pips) // (MAX_SWAP_FEE - fee_pips))
    return sqrt_next, amount_in, amount_out, fee_amount
