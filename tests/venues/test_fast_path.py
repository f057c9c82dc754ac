"""The float64 fast path (keel.venues.uniswap_v3.fast_path, uniswap_v2.amounts_out_f64) against the exact pools.

Bound checked: |fast - exact| <= 1e-9 * exact + (exact swap steps) base units, for trade sizes spanning
twelve decades, both directions, exact input and exact output, at three fee tiers.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from keel.venues.uniswap_v2 import amount_in_to_price_f64, amounts_out_f64, get_amount_out
from keel.venues.uniswap_v3 import Pool, get_sqrt_ratio_at_tick


def _pool(fee: int, spacing: int, seed: int) -> Pool:
    rng = random.Random(seed)
    center = rng.choice([-60_000, 0, 199_000])
    pool = Pool(fee, spacing, get_sqrt_ratio_at_tick(center) + rng.randint(1, 10**9))
    for _ in range(50):
        lower = (center // spacing + rng.randint(-300, 200)) * spacing
        pool.mint("lp", lower, lower + rng.randint(1, 80) * spacing, 10 ** rng.randint(14, 19))
    return pool


def _steps_bound(pool: Pool, result_tick: int, crossed: int) -> int:
    words = abs((result_tick // pool.tick_spacing >> 8) - (pool.tick // pool.tick_spacing >> 8))
    return crossed + words + 2


@pytest.mark.parametrize("fee,spacing,seed", [(500, 10, 1), (3000, 60, 2), (10000, 200, 3)])
@pytest.mark.parametrize("zero_for_one", [True, False])
def test_fast_path_within_1e9_of_exact(fee: int, spacing: int, seed: int, zero_for_one: bool) -> None:
    pool = _pool(fee, spacing, seed)
    curve = pool.curve(zero_for_one)
    sizes = [int(curve.max_amount_in * f) for f in np.geomspace(1e-12, 0.999, 40)]
    sizes = [s for s in sizes if s > 0]
    fast_out = curve.amount_out(np.array(sizes, dtype=np.float64))
    fast_ticks = curve.ticks_crossed(np.array(sizes, dtype=np.float64))
    big = 0
    for size, out, ticks in zip(sizes, fast_out, fast_ticks, strict=True):
        r = pool.quote_detailed(zero_for_one, size)
        exact = -(r.amount1 if zero_for_one else r.amount0)
        assert abs(out - exact) <= 1e-9 * exact + _steps_bound(pool, r.tick, r.ticks_crossed), (size, out, exact)
        assert ticks == r.ticks_crossed
        big += exact >= 10**12
    assert big >= 10
    outs = [int(curve.max_amount_out * f) for f in np.geomspace(1e-12, 0.999, 40)]
    outs = [o for o in outs if o > 0]
    fast_in = curve.amount_in(np.array(outs, dtype=np.float64))
    for want, need in zip(outs, fast_in, strict=True):
        r = pool.quote_detailed(zero_for_one, -want)
        exact = r.amount0 if zero_for_one else r.amount1
        assert abs(need - exact) <= 1e-9 * exact + _steps_bound(pool, r.tick, r.ticks_crossed), (want, need, exact)
    # moving the price to a target: the exact pool's amounts_to_price
    for ticks_away in (1, 7, 40, 300):
        t = pool.tick - ticks_away * spacing if zero_for_one else pool.tick + ticks_away * spacing
        target = get_sqrt_ratio_at_tick(t)
        a0, a1 = pool.amounts_to_price(target)
        exact = a0 if zero_for_one else a1
        fast = float(curve.amount_in_to_sqrt_price([target / 2**96])[0])
        assert abs(fast - exact) <= 1e-9 * exact + 1e-9 * curve.max_amount_in * 1e-6 + 300, (t, fast, exact)
        moved = pool.copy()
        moved.swap(zero_for_one, 2**255 - 1, target)
        assert moved.sqrt_price_x96 == target
        if moved.liquidity > 0:  # inside a liquidity gap the price jumps: no input maps to it
            after = float(curve.sqrt_price_after([exact])[0])
            assert after == pytest.approx(target / 2**96, rel=1e-9)


def test_gas_and_limits_of_the_curve() -> None:
    pool = _pool(3000, 60, 4)
    curve = pool.curve(True)
    assert curve.amount_out([curve.max_amount_in * 10])[0] == pytest.approx(curve.max_amount_out, rel=1e-12)
    assert np.isinf(curve.amount_in([curve.max_amount_out * 2])[0])
    sizes = np.array([1e9, curve.max_amount_in / 2])
    gas = curve.gas(sizes)
    assert list(gas) == [pool.swap_gas(int(k)) for k in curve.ticks_crossed(sizes)]
    rates = curve.marginal_rate(np.geomspace(1e6, curve.max_amount_in / 2, 20))
    assert np.all(np.diff(rates) <= 0)  # output per unit input only worsens with size


def test_v2_float_path() -> None:
    rng = random.Random(5)
    r0, r1 = 10**24 * 3, 10**21 * 7
    sizes = [rng.randint(10**12, 10**23) for _ in range(200)]
    fast = amounts_out_f64(np.array(sizes, dtype=np.float64), r0, r1)
    for x, f in zip(sizes, fast, strict=True):
        exact = get_amount_out(x, r0, r1)
        assert abs(f - exact) <= 1e-12 * exact + 1

    # moving the marginal price: after the computed input, reserves sit at the target price
    targets = np.array([r1 / r0 * f for f in (0.99, 0.9, 0.5)])
    needed = amount_in_to_price_f64(targets, r0, r1)
    for target, x in zip(targets, needed, strict=True):
        out = get_amount_out(int(x), r0, r1)
        assert (r1 - out) / (r0 + int(x)) == pytest.approx(target, rel=1e-3)  # fee stays in the pool
