"""keel.venues.uniswap_v4 against the real v4-core 1.0.2 PoolManager in pyrevm (Cancun).

600 random operations over six pools -- three static fee tiers, a dynamic-fee pool whose fee is
set by its flag-free hooks address, a native-ETH pool and a pool with protocol fees -- each
initialize, modifyLiquidity (add, remove, fee collection, salted positions), swaps both ways,
exact input and exact output, with and without price limits, crossing ticks: every returned
BalanceDelta, slot0 (price, tick, protocol fee, LP fee), liquidity, fee growth, touched tick
and position must be identical, and a call must revert in Keel exactly when it reverts in the EVM.
"""

from __future__ import annotations

import random

import pytest

from keel.venues.base import Revert
from keel.venues.uniswap_v3.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO, get_sqrt_ratio_at_tick
from keel.venues.uniswap_v4 import DYNAMIC_FEE_FLAG, NATIVE, PoolKey, PoolManager
from tests.evm_support import EVMRevert
from tests.v4_evm_support import V4World

N_OPS = 600
DYNAMIC_HOOKS = "0x" + "5a" * 18 + "c000"  # no permission bits: a plain owner address


def _pools(w: V4World) -> list[tuple[PoolKey, int]]:
    t0, t1 = w.tokens
    return [
        (PoolKey(t0, t1, 500, 10), 2**96),
        (PoolKey(t0, t1, 3000, 60), get_sqrt_ratio_at_tick(-23_028)),  # ~0.1
        (PoolKey(t0, t1, 10_000, 200), get_sqrt_ratio_at_tick(46_055)),  # ~100
        (PoolKey(t0, t1, DYNAMIC_FEE_FLAG, 60, DYNAMIC_HOOKS), 2**96),
        (PoolKey(NATIVE, t0, 3000, 60), get_sqrt_ratio_at_tick(6_931)),
        (PoolKey(t0, t1, 100, 1), 2**96 + 12_345_678_901),
    ]


def _compare_pool(w: V4World, m: PoolManager, key: PoolKey, ticks: set[int]) -> None:
    assert w.slot0(key) == m.get_slot0(key)
    g0, g1, liq = w.pool_scalars(key)
    assert (g0, g1) == m.get_fee_growth_globals(key)
    assert liq == m.get_liquidity(key)
    for t in ticks:
        info = m.get_tick_info(key, t)
        assert w.tick_info(key, t) == (
            info.liquidity_gross,
            info.liquidity_net,
            info.fee_growth_outside0_x128,
            info.fee_growth_outside1_x128,
        ), t
        word = (t // key.tick_spacing) >> 8
        assert w.tick_bitmap(key, word) == m.get_tick_bitmap(key, word)


@pytest.mark.slow
def test_random_operations_identical_to_v4_core() -> None:
    rng = random.Random(20260419)
    w = V4World()
    m = PoolManager()
    owner = w.liquidity_router  # the PoolManager sees the router as the position owner
    pools = _pools(w)
    positions: dict[int, list[tuple[int, int, bytes]]] = {i: [] for i in range(len(pools))}
    ticks: dict[int, set[int]] = {i: set() for i in range(len(pools))}
    for key, price in pools:
        assert w.initialize(key, price) == m.initialize(key, price)
    counts = {"add": 0, "remove": 0, "collect": 0, "swap_in": 0, "swap_out": 0, "fee": 0, "revert": 0, "crossed": 0}
    w.evm.raw.set_balance(w.evm.me, 10**40)
    value = 10**36  # native ETH sent along; the test routers refund what is not used

    for op in range(N_OPS):
        i = rng.randrange(len(pools))
        key = pools[i][0]
        ts = key.tick_spacing
        native = key.currency0 == NATIVE
        r = rng.random()
        evm_error = ""
        evm_result: object
        keel_result: object
        if r < 0.28 or not positions[i]:
            kind = "add"
            here = m.get_slot0(key)[1] // ts
            if rng.random() < 0.1:
                lo, hi = (-887272 // ts) * ts + (ts if -887272 % ts else 0), (887272 // ts) * ts
            else:
                lo = (here + rng.randint(-60, 30)) * ts
                hi = lo + rng.randint(1, 60) * ts
            salt = bytes([rng.randrange(3)]) * 32
            liq = int(10 ** rng.uniform(9, 21))
            try:
                evm_result = w.modify_liquidity(key, lo, hi, liq, salt, value if native else 0)[0]
            except EVMRevert:
                evm_result = "revert"
            try:
                keel_result = m.modify_liquidity(key, owner, lo, hi, liq, salt)[0]
            except Revert:
                keel_result = "revert"
            if keel_result != "revert":
                positions[i].append((lo, hi, salt))
                ticks[i] |= {lo, hi}
        elif r < 0.40:
            lo, hi, salt = rng.choice(positions[i])
            have = m.get_position_info(key, owner, lo, hi, salt)[0]
            if have == 0 or rng.random() < 0.2:
                kind, delta = "collect", 0
            else:
                kind = "remove"
                delta = -have if rng.random() < 0.4 else -rng.randint(1, have)
            try:
                evm_result = w.modify_liquidity(key, lo, hi, delta, salt, value if native else 0)[0]
            except EVMRevert:
                evm_result = "revert"
            try:
                keel_result = m.modify_liquidity(key, owner, lo, hi, delta, salt)[0]
            except Revert:
                keel_result = "revert"
            ticks[i] |= {lo, hi}
        elif r < 0.93:
            zero_for_one = rng.random() < 0.5
            exact_in = rng.random() < 0.55
            kind = "swap_in" if exact_in else "swap_out"
            amount = int(10 ** rng.uniform(2, 20))
            specified = -amount if exact_in else amount
            u = rng.random()
            price = m.get_slot0(key)[0]
            if u < 0.6:
                limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
            elif u < 0.95:
                t = m.get_slot0(key)[1] + (-1 if zero_for_one else 1) * rng.randint(1, 3000)
                limit = get_sqrt_ratio_at_tick(max(-887271, min(887271, t)))
            else:
                limit = price + (1 if zero_for_one else -1) * rng.randint(0, 10)  # wrong side: reverts
            try:
                evm_result = w.swap(key, zero_for_one, specified, limit, value if native and zero_for_one else 0)[0]
            except EVMRevert as exc:
                evm_result = "revert"
                evm_error = str(exc)[:300]
            try:
                quoted = m.quote(key, zero_for_one, specified, limit)  # the read-only path (no fee growth)
                out = m.swap_detailed(key, zero_for_one, specified, limit)
                assert quoted[:3] == out[:3] and quoted[4:] == out[4:]
                keel_result = (out.amount0, out.amount1)
                counts["crossed"] += out.ticks_crossed
            except Revert:
                keel_result = "revert"
        else:
            kind = "fee"
            if key.fee == DYNAMIC_FEE_FLAG:
                fee = rng.choice([0, 100, 500, 3000, 10_000, rng.randint(0, 100_000)])
                w.update_dynamic_lp_fee(key, fee, DYNAMIC_HOOKS)
                m.update_dynamic_lp_fee(key, fee, sender=DYNAMIC_HOOKS)
            else:
                fee = rng.randint(0, 1000) | (rng.randint(0, 1000) << 12)
                w.set_protocol_fee(key, fee)
                m.set_protocol_fee(key, fee)
            evm_result = keel_result = None
        assert keel_result == evm_result, (op, kind, key, evm_result, keel_result, evm_error)
        counts[kind] += 1
        if evm_result == "revert":
            counts["revert"] += 1
        _compare_pool(w, m, key, ticks[i])
        if kind in ("add", "remove", "collect") and evm_result != "revert":
            lo, hi, salt = positions[i][-1] if kind == "add" else (lo, hi, salt)
            assert w.position(key, owner, lo, hi, salt) == m.get_position_info(key, owner, lo, hi, salt)

    for currency in {*w.tokens, NATIVE}:
        assert w.protocol_fees_accrued(currency) == m.protocol_fees_accrued.get(currency.lower(), 0)
    # the run really exercised what it claims
    assert counts["swap_in"] > 150 and counts["swap_out"] > 100 and counts["add"] > 100
    assert counts["remove"] > 20 and counts["collect"] > 5 and counts["fee"] > 10
    assert counts["crossed"] > 50 and 0 < counts["revert"] < N_OPS // 5
    assert sum(m.protocol_fees_accrued.values()) > 0
    print(counts)


def test_extsload_reads_the_same_words_as_storage() -> None:
    w = V4World()
    key = PoolKey(w.tokens[0], w.tokens[1], 3000, 60)
    w.initialize(key, 2**96)
    w.modify_liquidity(key, -600, 600, 10**18)
    from keel.venues.uniswap_v4 import state_slots as slots

    s = slots.pool_state_slot(key.to_id())
    for slot in (s, s + 1, s + 2, s + 3, slots.tick_slot(s, -600), slots.tick_slot(s, 600)):
        assert w.extsload(slot) == w.sload(slot)
    assert w.sload(s + 3) == 10**18
