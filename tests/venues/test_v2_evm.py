"""Keel's v2 Pair against the real UniswapV2Pair (v2-core 1.0.1, created by UniswapV2Factory) in pyrevm.

Random transfers, mints, burns, swaps (some asking for too much), donations with sync/skim, the
protocol fee switched on, the block time moving: after every step the reserves, the price
accumulators, kLast, the LP supply and balances are identical, and every revert carries the same
reason string.
"""

from __future__ import annotations

import random

import pytest

from keel.venues import Revert
from keel.venues.uniswap_v2 import MINIMUM_LIQUIDITY, Pair, get_amount_in, get_amount_out
from tests import evm_support

pytestmark = pytest.mark.evm


ZERO = "0x0000000000000000000000000000000000000000"
FEE_TO = "0x" + "fe" * 20


def _state(w: object, pair: str, holders: list[str]) -> tuple[int, ...]:
    assert isinstance(w, evm_support.UniswapV2World)
    r0, r1, ts = w.reserves(pair)
    return (
        r0,
        r1,
        ts,
        w.uint(pair, "price0CumulativeLast()"),
        w.uint(pair, "price1CumulativeLast()"),
        w.uint(pair, "kLast()"),
        w.uint(pair, "totalSupply()"),
        *(w.uint(pair, "balanceOf(address)", [h]) for h in holders),
        w.uint(w.token0, "balanceOf(address)", [pair]),
        w.uint(w.token1, "balanceOf(address)", [pair]),
    )


def _mirror(p: Pair, holders: list[str]) -> tuple[int, ...]:
    return (
        p.reserve0,
        p.reserve1,
        p.block_timestamp_last,
        p.price0_cumulative_last,
        p.price1_cumulative_last,
        p.k_last,
        p.total_supply,
        *(p.balance_of.get(h, 0) for h in holders),
        p.balance0,
        p.balance1,
    )


def test_random_pair_operations_bit_exact() -> None:
    rng = random.Random(7)
    w = evm_support.UniswapV2World()
    e = w.evm
    e.call(w.factory, "setFeeTo(address)", [FEE_TO])
    addr = w.create_pair()
    me = e.me.lower()
    holders = [me, FEE_TO, ZERO]
    pair = Pair(0, 0, fee_to=FEE_TO, block_timestamp=e.timestamp)
    reverts: dict[str, int] = {}
    ops = 0

    def both(evm_fn: object, keel_fn: object) -> None:
        nonlocal ops
        ops += 1
        try:
            evm_fn()  # type: ignore[operator]
        except evm_support.EVMRevert as exc:
            with pytest.raises(Revert) as info:
                keel_fn()  # type: ignore[operator]
            assert info.value.reason == exc.reason, (info.value.reason, exc.reason)
            reverts[exc.reason] = reverts.get(exc.reason, 0) + 1
        else:
            keel_fn()  # type: ignore[operator]

    def transfer(a0: int, a1: int) -> None:
        w.transfer(w.token0, addr, a0)
        w.transfer(w.token1, addr, a1)
        pair.transfer_in(a0, a1)

    # first mint: too small, then real
    transfer(10, 10)
    both(lambda: e.call(addr, "mint(address)", [e.me]), lambda: pair.mint(me))
    transfer(10**20, 3 * 10**20)
    both(lambda: e.call(addr, "mint(address)", [e.me]), lambda: pair.mint(me))
    assert pair.balance_of[ZERO] == MINIMUM_LIQUIDITY
    for step in range(220):
        if rng.random() < 0.6:
            e.set_time(e.timestamp + rng.choice([1, 12, 600, 86_400]))
            pair.block_timestamp = e.timestamp
        op = rng.choices(["swap", "mint", "burn", "donate", "bad_swap"], [10, 3, 2, 1, 2])[0]
        r0, r1 = pair.reserve0, pair.reserve1
        if op == "swap":
            zero_in = rng.random() < 0.5
            amount = max(1, (r0 if zero_in else r1) * rng.randint(1, 300) // 1000)
            exact_out = rng.random() < 0.3
            if zero_in:
                out = get_amount_out(amount, r0, r1)
                if exact_out:
                    out = max(1, out // 2)
                    amount = get_amount_in(out, r0, r1)
                transfer(amount, 0)
                both(
                    lambda out=out: e.call(addr, "swap(uint256,uint256,address,bytes)", [0, out, e.me, b""]),
                    lambda out=out: pair.swap(0, out),
                )
            else:
                out = get_amount_out(amount, r1, r0)
                if exact_out:
                    out = max(1, out // 2)
                    amount = get_amount_in(out, r1, r0)
                transfer(0, amount)
                both(
                    lambda out=out: e.call(addr, "swap(uint256,uint256,address,bytes)", [out, 0, e.me, b""]),
                    lambda out=out: pair.swap(out, 0),
                )
        elif op == "bad_swap":
            kind = rng.choice(["k", "no_out", "too_much", "no_in", "empty_mint"])
            if kind == "empty_mint":
                both(lambda: e.call(addr, "mint(address)", [e.me]), lambda: pair.mint(me))
                args = [0, 0]
            elif kind == "k":
                amount = r0 // 100 + 1
                transfer(amount, 0)
                out = get_amount_out(amount, r0, r1) + rng.randint(1, 10**6)
                args = [0, out]
            elif kind == "no_out":
                args = [0, 0]
            elif kind == "too_much":
                args = [r0, 0]
            else:
                args = [0, r1 // 10]
            both(
                lambda args=args: e.call(addr, "swap(uint256,uint256,address,bytes)", [*args, e.me, b""]),
                lambda args=args: pair.swap(*args),
            )
        elif op == "mint":
            a0 = rng.randint(0, r0 // 3 + 1)
            a1 = a0 * r1 // max(r0, 1) + rng.randint(-1000, 1000) if rng.random() < 0.8 else rng.randint(0, 3)
            transfer(a0, max(a1, 0))
            both(lambda: e.call(addr, "mint(address)", [e.me]), lambda: pair.mint(me))
        elif op == "burn":
            held = pair.balance_of.get(me, 0)
            liquidity = rng.choice([held // 10, held // 2])
            if liquidity:
                e.call(addr, "transfer(address,uint256)", [addr, liquidity])
                both(lambda: e.call(addr, "burn(address)", [e.me]), lambda liq=liquidity: pair.burn(me, liq))
        else:
            transfer(rng.randint(1, 10**15), rng.randint(1, 10**15))
            if rng.random() < 0.5:
                both(lambda: e.call(addr, "sync()"), pair.sync)
            else:
                both(lambda: e.call(addr, "skim(address)", [e.me]), pair.skim)
        assert _state(w, addr, holders) == _mirror(pair, holders), (step, op)
    assert ops > 200
    assert {"UniswapV2: K", "UniswapV2: INSUFFICIENT_OUTPUT_AMOUNT", "UniswapV2: INSUFFICIENT_LIQUIDITY"} <= set(
        reverts
    )
    assert "UniswapV2: INSUFFICIENT_LIQUIDITY_MINTED" in reverts
    assert pair.balance_of.get(FEE_TO, 0) > 0  # the protocol fee was minted at least once


def test_library_reverts_and_rounding() -> None:
    assert get_amount_out(10**18, 10**21, 10**21) == 10**18 * 997 * 10**21 // (10**24 + 997 * 10**18)
    needed = get_amount_in(10**18, 10**21, 10**21)
    assert get_amount_out(needed, 10**21, 10**21) >= 10**18 > get_amount_out(needed - 1, 10**21, 10**21)
    for fn, args, reason in [
        (get_amount_out, (0, 1, 1), "UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT"),
        (get_amount_out, (1, 0, 1), "UniswapV2Library: INSUFFICIENT_LIQUIDITY"),
        (get_amount_in, (0, 1, 1), "UniswapV2Library: INSUFFICIENT_OUTPUT_AMOUNT"),
        (get_amount_in, (1, 1, 0), "UniswapV2Library: INSUFFICIENT_LIQUIDITY"),
    ]:
        with pytest.raises(Revert) as info:
            fn(*args)
        assert info.value.reason == reason
