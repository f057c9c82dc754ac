"""DEX adapter math against the real pool data and keel.venues' exact Uniswap v3 pool."""

from __future__ import annotations

import csv
import math
from fractions import Fraction

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.errors import ValidationError
from keel.oracle.dex import (
    DexPoolSource,
    arithmetic_mean_tick,
    harmonic_mean_liquidity,
    price_from_sqrt_price_x96,
    price_from_tick,
    twap_price_from_cumulatives,
)
from keel.venues.uniswap_v3 import Pool, get_sqrt_ratio_at_tick

from .realdata import UNI, USDC, WETH, PoolReplay, rel_price


def test_spot_matches_the_real_usd_price_column() -> None:
    """rel-price.csv's ETH price is 1e12 / (sqrtPriceX96 / 2**96)**2 per SOURCE.md."""
    _, eth, usdc, sqrt = rel_price()
    for k in range(len(sqrt)):
        got = price_from_sqrt_price_x96(sqrt[k], 6, 18, invert=True)
        assert abs(got / (eth[k] / usdc[k]) - 1) < 1e-12
        # not inverted: WETH per USDC
        assert abs(price_from_sqrt_price_x96(sqrt[k], 6, 18) * got - 1) < 1e-15


def test_tick_brackets_sqrt_price_on_real_swaps() -> None:
    """For every real swap, price(tick) <= price(sqrtPriceX96) < price(tick + 1)."""
    with open(f"{UNI}.tick.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["tx_type"] == "SWAP"]
    assert len(rows) == 6046
    for r in rows[::7]:
        s = int(r["sqrtPriceX96"])
        tick = int(float(r["current_tick"]))
        p = price_from_sqrt_price_x96(s, 6, 18)
        assert price_from_tick(tick, 6, 18) <= p * (1 + 1e-11)
        assert p < price_from_tick(tick + 1, 6, 18) * (1 + 1e-11)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(4295128739, 1461446703485210103287273052203988822378723970341),
    st.integers(0, 18),
    st.integers(0, 18),
    st.booleans(),
)
def test_spot_price_is_the_exact_rational_rounded_once(s: int, d0: int, d1: int, invert: bool) -> None:
    """price_from_sqrt_price_x96 is s**2 * 10**d0 / (2**192 * 10**d1) (or its reciprocal) rounded once to the
    nearest float: equal to Fraction's rounding and to 400-digit mpmath rounded to 53 bits."""
    num, den = s * s * 10**d0, (1 << 192) * 10**d1
    if invert:
        num, den = den, num
    try:
        want = float(Fraction(num, den))
    except OverflowError:
        with pytest.raises(OverflowError):
            price_from_sqrt_price_x96(s, d0, d1, invert=invert)
        return
    got = price_from_sqrt_price_x96(s, d0, d1, invert=invert)
    assert got == want
    with mpmath.workdps(400):
        assert got == float(mpmath.mpf(num) / mpmath.mpf(den))


@settings(max_examples=200, deadline=None)
@given(st.integers(-887272, 887272), st.integers(0, 18), st.integers(0, 18), st.booleans())
def test_tick_price_matches_mpmath_and_tickmath(tick: int, d0: int, d1: int, invert: bool) -> None:
    """price_from_tick against 1.0001**tick in 50-digit mpmath, and against the Q64.96 sqrt ratio
    keel.venues' TickMath computes (exact to within one unit of that integer)."""
    got = price_from_tick(tick, d0, d1, invert=invert)
    with mpmath.workdps(50):
        ref = mpmath.power(mpmath.mpf("1.0001"), -tick if invert else tick) * mpmath.power(
            10, (d1 - d0) if invert else (d0 - d1)
        )
        assert abs(mpmath.mpf(got) / ref - 1) < 1e-12
    s = get_sqrt_ratio_at_tick(tick)
    exact = Fraction(s * s * 10**d0, (1 << 192) * 10**d1)
    if invert:
        exact = 1 / exact
    assert abs(got / float(exact) - 1) < 1e-12 + 3.0 / s


@settings(max_examples=300, deadline=None)
@given(st.integers(-(2**55), 2**55 - 1), st.integers(-(2**55), 2**55 - 1), st.integers(1, 2**32 - 1))
def test_mean_tick_rounds_toward_negative_infinity(a: int, b: int, secs: int) -> None:
    expect = math.floor(Fraction(b - a, secs))
    if -887272 <= expect <= 887272:
        assert arithmetic_mean_tick(a, b, secs) == expect
    else:
        with pytest.raises(ValidationError):
            arithmetic_mean_tick(a, b, secs)


def test_mean_tick_examples_and_errors() -> None:
    assert arithmetic_mean_tick(0, -5, 2) == -3  # Solidity -5 / 2 = -2, then decremented
    assert arithmetic_mean_tick(0, 5, 2) == 2
    assert arithmetic_mean_tick(0, -4, 2) == -2
    assert arithmetic_mean_tick(100, 100, 60) == 0
    with pytest.raises(ValidationError, match="seconds=0"):
        arithmetic_mean_tick(0, 1, 0)
    with pytest.raises(ValidationError, match="sqrt_price_x96"):
        price_from_sqrt_price_x96(1, 6, 18)
    with pytest.raises(ValidationError, match="decimals1"):
        price_from_tick(0, 6, 99)
    with pytest.raises(ValidationError, match="tick_cumulatives"):
        twap_price_from_cumulatives([1, 2, 3], 60, 6, 18)


def test_twap_over_a_real_pool_replay() -> None:
    """Replay 2 h of the real pool's minute prices through the exact pool; the adapter's mean
    tick equals the floor of the time-weighted mean of the ticks the pool actually held."""
    ts, _, _, sqrt = rel_price()
    rp = PoolReplay(sqrt[0], int(ts[0]) // 10**9)
    held: list[tuple[int, int]] = []  # (block time, tick from then on)
    src = DexPoolSource("uni", 6, 18, invert=True, twap_seconds=1800)
    for k in range(120):
        now = int(ts[k]) // 10**9
        pre_tick = rp.pool.tick
        rp.pool.block_timestamp = now
        rp.move_to(sqrt[k])
        held.append((now, rp.pool.tick))
        if k >= 35:
            start = now - 1800
            acc = 0
            # the pool held pre-block ticks; integrate the tick step function over [start, now]
            steps = [(t, tk) for t, tk in held[:-1]]
            for j, (t, tk) in enumerate(steps):
                t_next = steps[j + 1][0] if j + 1 < len(steps) else now
                lo, hi = max(t, start), min(t_next, now)
                if hi > lo:
                    acc += tk * (hi - lo)
            assert held[-2][1] == pre_tick
            assert src.mean_tick(rp.pool) == math.floor(Fraction(acc, 1800))
            upd = src.twap(rp.pool, now * 10**9)
            assert upd.source_id == "uni-twap" and upd.ts_ns == now * 10**9
            assert upd.price == price_from_tick(src.mean_tick(rp.pool), 6, 18, invert=True)
            spot = src.spot(rp.pool, now * 10**9)
            assert spot.price == price_from_sqrt_price_x96(sqrt[k], 6, 18, invert=True)


def test_harmonic_mean_liquidity_of_constant_liquidity() -> None:
    pool = Pool(500, 10, get_sqrt_ratio_at_tick(0), token0=USDC, token1=WETH, block_timestamp=1000)
    pool.mint("lp", -1000, 1000, 10**18)
    pool.increase_observation_cardinality_next(4)
    pool.block_timestamp = 1600
    _, spl = pool.observe([600, 0])
    got = harmonic_mean_liquidity(spl[0], spl[1], 600)
    assert abs(got - 10**18) <= 10**18 // 10**9
