"""The one-step v4 quote (``PoolManager.quote`` -> ``PoolState.quote_in_one_step``, per-state constants
kept until ``state_version`` changes) against the general swap loop, a swap on a copy, and the real
v4-periphery 1.0.3 ``V4Quoter`` / v4-core 1.0.2 ``PoolManager`` in pyrevm.

Every quote that takes the short path must equal the general loop field for field (amounts, protocol
cut, fee, price, tick, liquidity, ticks crossed); bad inputs must raise what ``swap`` raises.
"""

from __future__ import annotations

import json
import random

import pytest
from eth_abi import decode, encode
from eth_utils import keccak

from keel.errors import ValidationError
from keel.venues.base import Revert
from keel.venues.uniswap_v3.sqrt_price_math import get_amount0_delta, get_amount1_delta
from keel.venues.uniswap_v3.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO, get_sqrt_ratio_at_tick
from keel.venues.uniswap_v4 import DYNAMIC_FEE_FLAG, PoolKey, PoolManager
from keel.venues.uniswap_v4.pool import SwapOutcome

A = "0x" + "11" * 20
B = "0x" + "22" * 20
LP = "0x" + "33" * 20
DYNAMIC_HOOKS = "0x" + "5a" * 18 + "c000"  # no permission bits: a plain owner address that sets the fee
MIN_LIMIT, MAX_LIMIT = MIN_SQRT_RATIO + 1, MAX_SQRT_RATIO - 1


def _general(m: PoolManager, key: PoolKey, zfo: bool, amount_specified: int, limit: int) -> SwapOutcome:
    """The general swap loop, without the short path, and the same swap executed on a copy."""
    slow = m.pool(key).swap(zfo, amount_specified, limit, 0, commit=False)
    assert m.copy().swap_detailed(key, zfo, amount_specified, limit) == slow
    return slow


def _limit(rng: random.Random, m: PoolManager, key: PoolKey, zfo: bool) -> int:
    """The extreme limit, or one near the price (often between the price and the next tick's)."""
    price = m.get_slot0(key)[0]
    if rng.random() < 0.5:
        return MIN_LIMIT if zfo else MAX_LIMIT
    move = rng.randint(1, max(1, price >> rng.randint(8, 24)))
    return max(price - move, MIN_LIMIT) if zfo else min(price + move, MAX_LIMIT)


def _random_pool(rng: random.Random) -> tuple[PoolManager, PoolKey, list[int]]:
    spacing = rng.choice([1, 10, 60, 200])
    dynamic = rng.random() < 0.15
    fee = DYNAMIC_FEE_FLAG if dynamic else rng.choice([0, 1, 100, 500, 3000, 10_000, 999_999])
    key = PoolKey(A, B, fee, spacing, DYNAMIC_HOOKS if dynamic else "0x" + "00" * 20)
    m = PoolManager()
    tick = rng.randint(-200_000, 200_000)
    r = rng.random()
    if r < 0.3:
        price = get_sqrt_ratio_at_tick(tick)  # exactly on a tick (the bench's case: a one-tick move)
    elif r < 0.4:
        price = get_sqrt_ratio_at_tick(tick) - 1  # just below a tick
    else:
        price = rng.randint(get_sqrt_ratio_at_tick(tick), get_sqrt_ratio_at_tick(tick + 1) - 1)
    m.initialize(key, price)
    here = m.get_slot0(key)[1] // spacing
    lows = []
    for _ in range(rng.randint(1, 4)):
        lo = (here + rng.randint(-60, 1)) * spacing
        m.modify_liquidity(key, LP, lo, lo + rng.randint(1, 80) * spacing, int(10 ** rng.uniform(6, 26)))
        lows.append(lo)
    if dynamic:
        m.update_dynamic_lp_fee(key, rng.choice([0, 3000, 999_999, 1_000_000]))
    if rng.random() < 0.4:
        p0, p1 = rng.choice([0, 1, 500, 1000]), rng.choice([0, 1, 500, 1000])
        m.set_protocol_fee(key, p0 | p1 << 12)
    return m, key, lows


def test_one_step_quotes_equal_the_general_loop_and_a_swap_on_a_copy() -> None:
    rng = random.Random(20261203)
    fast = boundary = moved = 0
    for _ in range(400):
        m, key, lows = _random_pool(rng)
        below = [t for t in lows if get_sqrt_ratio_at_tick(t) < m.get_slot0(key)[0]]
        if below and rng.random() < 0.4:
            # a swap stopped exactly on an initialized tick: tick = that tick - 1, price = sqrt(tick + 1)
            t = rng.choice(below)
            m.swap(key, True, -(2**120), get_sqrt_ratio_at_tick(t))
            boundary += m.get_slot0(key)[:2] == (get_sqrt_ratio_at_tick(t), t - 1)  # not with a 100% fee
        for _ in range(6):
            zfo = rng.random() < 0.5
            amount = int(10 ** rng.uniform(0, 24))
            limit = _limit(rng, m, key, zfo)
            short = m.pool(key).quote_in_one_step(zfo, amount, limit)
            try:
                slow = _general(m, key, zfo, -amount, limit)
            except Revert as exc:
                assert short is None
                with pytest.raises(Revert) as got:
                    m.quote(key, zfo, -amount, limit)
                assert (got.value.reason, str(got.value)) == (exc.reason, str(exc))
                continue
            assert m.quote(key, zfo, -amount, limit) == slow
            if short is not None:
                fast += 1
                moved += short.tick != m.get_slot0(key)[1]
                assert short == slow and type(short) is SwapOutcome
    assert fast > 600 and moved > 100 and boundary > 30


def test_constants_follow_every_state_change() -> None:
    rng = random.Random(5)
    key = PoolKey(A, B, DYNAMIC_FEE_FLAG, 10, DYNAMIC_HOOKS)
    m = PoolManager()
    m.initialize(key, 2**96)
    m.update_dynamic_lp_fee(key, 3000)
    m.modify_liquidity(key, LP, -600, 600, 10**22)
    copies = [m.copy()]
    for step in range(300):
        for zfo in (True, False):
            for manager in (m, copies[-1]):
                amount = int(10 ** rng.uniform(3, 19))
                assert manager.quote(key, zfo, -amount, MIN_LIMIT if zfo else MAX_LIMIT) == _general(
                    manager, key, zfo, -amount, MIN_LIMIT if zfo else MAX_LIMIT
                )
        r = step % 6
        if r == 0:
            z = rng.random() < 0.5
            m.swap(key, z, -int(10 ** rng.uniform(10, 20)), MIN_LIMIT if z else MAX_LIMIT)
        elif r == 1:
            lo = rng.randrange(-60, 59) * 10
            m.modify_liquidity(key, LP, lo, lo + 10 * rng.randint(1, 20), int(10 ** rng.uniform(15, 21)))
        elif r == 2:
            m.set_protocol_fee(key, rng.randint(0, 1000) | rng.randint(0, 1000) << 12)
        elif r == 3:
            m.update_dynamic_lp_fee(key, rng.choice([0, 100, 3000, 50_000]))
        elif r == 4 and m.get_liquidity(key):
            m.donate(key, 10**12, 10**12)
        elif r == 5:
            copies.append(m.copy())
            m.swap(key, False, -(10**15), MAX_LIMIT)  # the copy keeps the old state and its constants


def test_amounts_at_the_edge_of_reaching_the_target() -> None:
    """Inputs whose amount after fee is exactly, or one unit off, what reaches the step's target
    (the next initialized tick, or the limit): the short path must hand the reaching ones over."""
    rng = random.Random(8)
    reached = short = landed = 0
    for _ in range(200):
        spacing = rng.choice([1, 10])
        fee = rng.choice([0, 500, 3000])
        key = PoolKey(A, B, fee, spacing)
        m = PoolManager()
        # compressed tick 100 of its bitmap word; deep prices make the rounded-up price land on the target
        deep = rng.random() < 0.5
        c = 100 + 256 * ((-2735 if spacing == 1 else -274) if deep else 0)
        start = rng.randint(get_sqrt_ratio_at_tick(c * spacing), get_sqrt_ratio_at_tick((c + 1) * spacing) - 1)
        m.initialize(key, start)
        liquidity = int(10 ** rng.uniform(8, 22))
        m.modify_liquidity(key, LP, (c - 3) * spacing, (c + 4) * spacing, liquidity)
        price = m.get_slot0(key)[0]
        for zfo in (True, False):
            tick_next = (c - 3 if zfo else c + 4) * spacing
            target = get_sqrt_ratio_at_tick(tick_next)
            limit = MIN_LIMIT if zfo else MAX_LIMIT
            if rng.random() < 0.5:  # a limit before the tick: the limit is the target
                target = limit = rng.randint(target + 1, price - 1) if zfo else rng.randint(price + 1, target - 1)
            if zfo:
                need = get_amount0_delta(target, price, liquidity, True)
            else:
                need = get_amount1_delta(price, target, liquidity, True)
            base = -(-need * 1_000_000 // (1_000_000 - fee))  # the least input whose amount after fee is `need`
            for amount in (base - 2, base - 1, base, base + 1):
                if amount <= 0:
                    continue
                got = m.quote(key, zfo, -amount, limit)
                assert got == _general(m, key, zfo, -amount, limit)
                reached += got.sqrt_price_x96 == target
                landed += got.sqrt_price_x96 == target and amount == base  # exactly enough to land on it
                short += m.pool(key).quote_in_one_step(zfo, amount, limit) is not None
    assert reached > 200 and short > 200 and landed > 100


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((1, -(10**18), MIN_LIMIT), ValidationError),
        (("yes", -(10**18), MIN_LIMIT), ValidationError),
        ((True, -1e18, MIN_LIMIT), ValidationError),
        ((True, -(2**255) - 1, MIN_LIMIT), ValidationError),
        ((True, 0, MIN_LIMIT), Revert),
        ((True, -(10**18), -1), ValidationError),
        ((False, -(10**18), 2**160), ValidationError),
        ((True, -(10**18), 1.5), ValidationError),
        ((True, -(10**18), 2**96), Revert),  # the price itself: PriceLimitAlreadyExceeded
        ((False, -(10**18), 2**96 - 1), Revert),
        ((True, -(10**18), MIN_SQRT_RATIO), Revert),  # PriceLimitOutOfBounds
        ((False, -(10**18), MAX_SQRT_RATIO), Revert),
        ((True, -(2**200), MIN_LIMIT), Revert),  # SafeCastOverflow
    ],
)
def test_bad_inputs_raise_what_swap_raises(args: tuple[object, object, object], error: type[Exception]) -> None:
    key = PoolKey(A, B, 3000, 60)
    m = PoolManager()
    m.initialize(key, 2**96)
    m.modify_liquidity(key, LP, -6000, 6000, 10**24)
    m.modify_liquidity(key, LP, -887220, 887220, 10**24)
    assert m.quote(key, True, -(10**18), MIN_LIMIT).amount0 == -(10**18)  # constants built
    with pytest.raises(error) as swapped:
        m.copy().swap_detailed(key, *args)  # type: ignore[arg-type]
    with pytest.raises(error) as quoted:
        m.quote(key, *args)  # type: ignore[arg-type]
    assert str(quoted.value) == str(swapped.value) and "\n" not in str(quoted.value)
    with pytest.raises(ValidationError, match=r"^key="):
        m.quote(object(), True, -(10**18), MIN_LIMIT)  # type: ignore[arg-type]
    with pytest.raises(Revert, match="PoolNotInitialized"):
        m.quote(PoolKey(A, B, 500, 10), True, -(10**18), MIN_LIMIT)


@pytest.mark.slow
def test_one_step_quotes_equal_v4_quoter_and_the_swap_in_pyrevm() -> None:
    from tests.v4_evm_support import KEY_T, ROOT, V4World

    w = V4World()
    art = json.loads((ROOT / "node_modules/@uniswap/v4-periphery/foundry-out/V4Quoter.sol/V4Quoter.json").read_text())
    code = bytes.fromhex(art["bytecode"]["object"].removeprefix("0x")) + encode(["address"], [w.manager])
    quoter = str(w.evm.raw.deploy(w.evm.me, code, gas=30_000_000))
    sig = keccak(text=f"quoteExactInputSingle(({KEY_T},bool,uint128,bytes))")[:4]
    t0, t1 = w.tokens
    m = PoolManager()
    pools = [
        (PoolKey(t0, t1, 3000, 60), get_sqrt_ratio_at_tick(7_710), 0),  # exactly on a tick, as the bench
        (PoolKey(t0, t1, 500, 10), 2**96 + 12_345_678_901, 0),
        (PoolKey(t0, t1, 10_000, 200), get_sqrt_ratio_at_tick(-46_055) + 10**20, 0),
        (PoolKey(t0, t1, 100, 1), 2**96, 300 | 1000 << 12),  # protocol fee both ways
        (PoolKey(t0, t1, 0, 60), get_sqrt_ratio_at_tick(60), 1000),  # protocol fee = the whole swap fee
    ]
    for key, price, protocol_fee in pools:
        assert w.initialize(key, price) == m.initialize(key, price)
        tick = m.get_slot0(key)[1] // key.tick_spacing * key.tick_spacing
        for lo, hi, liq in ((-100, 100, 10**24), (-5, 7, 10**22)):
            a, b = tick + lo * key.tick_spacing, tick + hi * key.tick_spacing
            assert w.modify_liquidity(key, a, b, liq)[0] == m.modify_liquidity(key, w.liquidity_router, a, b, liq)[0]
        if protocol_fee:
            w.set_protocol_fee(key, protocol_fee)
            m.set_protocol_fee(key, protocol_fee)
    rng = random.Random(11)
    fast = 0
    for _ in range(240):
        key = rng.choice(pools)[0]
        zfo = rng.random() < 0.5
        amount = int(10 ** rng.uniform(2, 21))
        short = m.pool(key).quote_in_one_step(zfo, amount, MIN_LIMIT if zfo else MAX_LIMIT)
        q = m.quote(key, zfo, -amount, MIN_LIMIT if zfo else MAX_LIMIT)
        data = sig + encode([f"({KEY_T},bool,uint128,bytes)"], [(key.as_tuple(), zfo, amount, b"")])
        out = w.evm.raw.message_call(w.evm.me, quoter, data, gas=30_000_000)
        amount_out = decode(["uint256", "uint256"], bytes(out))[0]
        assert (q.amount0, q.amount1) == ((-amount, amount_out) if zfo else (amount_out, -amount))
        fast += short is not None
        if rng.random() < 0.3:  # the swap itself, with a limit near the price: price, tick and amounts
            limit = _limit(rng, m, key, zfo)
            q = m.quote(key, zfo, -amount, limit)
            assert w.swap(key, zfo, -amount, limit)[0] == m.swap(key, zfo, -amount, limit) == (q.amount0, q.amount1)
            assert w.slot0(key)[:2] == m.get_slot0(key)[:2] == (q.sqrt_price_x96, q.tick)
            assert w.pool_scalars(key)[2] == q.liquidity
    assert fast > 150
