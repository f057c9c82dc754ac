"""Properties of the v3 math against exact rational arithmetic (fractions), in the spirit of
v3-core's echidna tests: rounding always favours the pool, steps never overshoot their target,
fees and amounts never exceed what was specified."""

from __future__ import annotations

from fractions import Fraction
from math import ceil, floor

from hypothesis import given, settings
from hypothesis import strategies as st

from keel.venues import Revert
from keel.venues.uniswap_v3 import (
    MAX_SQRT_RATIO,
    MIN_SQRT_RATIO,
    compute_swap_step,
    get_amount0_delta,
    get_amount1_delta,
    get_next_sqrt_price_from_input,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)

Q96 = 2**96
prices = st.integers(MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1)
liquidities = st.integers(1, 2**128 - 1)
fees = st.sampled_from([1, 100, 500, 3000, 10000, 999_999])


@settings(max_examples=300, deadline=None)
@given(prices, prices, st.integers(0, 2**128 - 1))
def test_amount_deltas_are_the_exact_value_rounded(a: int, b: int, liquidity: int) -> None:
    lo, hi = min(a, b), max(a, b)
    exact0 = Fraction(liquidity * Q96 * (hi - lo), lo * hi)
    exact1 = Fraction(liquidity * (hi - lo), Q96)
    assert get_amount0_delta(a, b, liquidity, True) == ceil(exact0)
    assert get_amount0_delta(a, b, liquidity, False) == floor(exact0)
    assert get_amount1_delta(a, b, liquidity, True) == ceil(exact1)
    assert get_amount1_delta(a, b, liquidity, False) == floor(exact1)


@settings(max_examples=300, deadline=None)
@given(prices, liquidities, st.integers(0, 2**200), st.booleans())
def test_next_price_from_input_never_overshoots(price: int, liquidity: int, amount: int, zero_for_one: bool) -> None:
    try:
        nxt = get_next_sqrt_price_from_input(price, liquidity, amount, zero_for_one)
    except Revert:
        return
    if zero_for_one:
        exact = Fraction(liquidity * Q96 * price, liquidity * Q96 + amount * price)
        assert nxt == ceil(exact) and nxt <= price
    else:
        exact = price + Fraction(amount * Q96, liquidity)
        assert nxt == floor(exact) and nxt >= price


@settings(max_examples=400, deadline=None)
@given(prices, prices, liquidities, st.integers(-(2**200), 2**200), fees)
def test_compute_swap_step_invariants(current: int, target: int, liquidity: int, remaining: int, fee: int) -> None:
    try:
        nxt, amount_in, amount_out, fee_amount = compute_swap_step(current, target, liquidity, remaining, fee)
    except Revert:
        return
    zero_for_one = current >= target
    assert min(current, target) <= nxt <= max(current, target)  # never past the target
    if remaining >= 0:
        assert amount_in + fee_amount <= remaining
    else:
        assert amount_out <= -remaining
    if nxt != current:  # the pool is paid at least the exact value of the move, and pays at most it
        lo, hi = min(current, nxt), max(current, nxt)
        need = Fraction(liquidity * Q96 * (hi - lo), lo * hi) if zero_for_one else Fraction(liquidity * (hi - lo), Q96)
        give = Fraction(liquidity * (hi - lo), Q96) if zero_for_one else Fraction(liquidity * Q96 * (hi - lo), lo * hi)
        assert amount_in >= need and amount_out <= give


@settings(max_examples=300, deadline=None)
@given(prices)
def test_tick_at_sqrt_ratio_brackets_the_price(price: int) -> None:
    tick = get_tick_at_sqrt_ratio(price)
    assert get_sqrt_ratio_at_tick(tick) <= price < get_sqrt_ratio_at_tick(tick + 1)
