"""A Python HookModel against the real hook: v4-core's FeeTakingHook (afterSwap and after add/remove
liquidity, all returning deltas) on the real PoolManager in pyrevm.

The hook's runtime code is placed at an address whose low bits carry its permission flags (how a
hook is deployed on chain, by CREATE2 salt mining); Keel refuses the same PoolKey without a model
and, with the model below, reproduces every caller delta, price, tick and liquidity.
"""

from __future__ import annotations

import random

import pytest
from pyrevm import AccountInfo

from keel.errors import ValidationError
from keel.venues.base import Revert
from keel.venues.uniswap_v3.tick_math import get_sqrt_ratio_at_tick
from keel.venues.uniswap_v4 import HookModel, PoolKey, PoolManager
from keel.venues.uniswap_v4 import hooks as h
from tests.evm_support import EVMRevert
from tests.v4_evm_support import V4World

FLAGS = (
    h.AFTER_ADD_LIQUIDITY_FLAG
    | h.AFTER_REMOVE_LIQUIDITY_FLAG
    | h.AFTER_SWAP_FLAG
    | h.AFTER_SWAP_RETURNS_DELTA_FLAG
    | h.AFTER_ADD_LIQUIDITY_RETURNS_DELTA_FLAG
    | h.AFTER_REMOVE_LIQUIDITY_RETURNS_DELTA_FLAG
)
HOOKS = "0x" + "ab" * 18 + f"{FLAGS:04x}"


class FeeTakingModel(HookModel):
    """FeeTakingHook.sol in Python: 1.23% of the unspecified swap amount, 5.43% of liquidity deltas."""

    def after_swap(self, key, zero_for_one, amount_specified, limit, swap_delta):  # type: ignore[no-untyped-def]
        specified_is_0 = (amount_specified < 0) == zero_for_one
        amount = swap_delta[1] if specified_is_0 else swap_delta[0]
        return abs(amount) * 123 // 10000

    def after_modify_liquidity(self, key, liquidity_delta, caller_delta, fees_accrued):  # type: ignore[no-untyped-def]
        d0, d1 = caller_delta
        if liquidity_delta > 0:
            return (-d0) * 543 // 10000, (-d1) * 543 // 10000
        return d0 * 543 // 10000, d1 * 543 // 10000


def _world() -> tuple[V4World, PoolKey]:
    w = V4World()
    # deploy FeeTakingHook(manager), then put its runtime code at the flagged address
    from eth_abi import encode

    from tests.v4_evm_support import v4_artifact

    _, code = v4_artifact("FeeTakingHook")
    deployed = str(w.evm.raw.deploy(w.evm.me, code + encode(["address"], [w.manager]), gas=30_000_000))
    runtime = w.evm.raw.get_code(deployed)
    w.evm.raw.insert_account_info(HOOKS, AccountInfo(code=runtime))
    # the hook `take`s its fee inside the unlock, before the router settles: give the singleton reserves
    # (a live PoolManager holds every pool's tokens; unsynced balance changes no accounting)
    for token in w.tokens:
        w.evm.call(token, "transfer(address,uint256)", [w.manager, 2**190])
    return w, PoolKey(w.tokens[0], w.tokens[1], 3000, 60, HOOKS)


def test_amount_changing_hook_is_refused_without_its_model() -> None:
    key = PoolKey("0x" + "11" * 20, "0x" + "22" * 20, 3000, 60, HOOKS)
    with pytest.raises(
        ValidationError, match=r"^hooks='0x[0-9a-f]+': permission flags afterSwap, afterSwapReturnDelta"
    ):
        PoolManager().initialize(key, 2**96)


@pytest.mark.slow
def test_fee_taking_hook_model_matches_the_real_hook() -> None:
    w, key = _world()
    model = FeeTakingModel()
    m = PoolManager(hook_models={HOOKS: model})
    assert w.initialize(key, 2**96) == m.initialize(key, 2**96)
    rng = random.Random(5)
    positions: list[tuple[int, int]] = []
    swaps = liquidity_ops = 0
    for _ in range(120):
        r = rng.random()
        if r < 0.3 or not positions:
            here = m.get_slot0(key)[1] // 60
            lo = (here + rng.randint(-40, 10)) * 60
            hi = lo + rng.randint(1, 40) * 60
            delta = int(10 ** rng.uniform(15, 21))
            positions.append((lo, hi))
        elif r < 0.4:
            lo, hi = rng.choice(positions)
            have = m.get_position_info(key, w.liquidity_router, lo, hi)[0]
            delta = -rng.randint(0, have) if have else 0
            if delta == 0 and have == 0:
                continue
        else:
            zfo = rng.random() < 0.5
            specified = int(10 ** rng.uniform(6, 19)) * (-1 if rng.random() < 0.6 else 1)
            # limits keep the price within +-6000 ticks of the start (a wrong-side limit reverts on both)
            t = m.get_slot0(key)[1] + (-1 if zfo else 1) * rng.randint(1, 3000)
            limit = get_sqrt_ratio_at_tick(max(-6000, min(6000, t)))
            try:
                evm = w.swap(key, zfo, specified, limit)[0]
            except EVMRevert:
                evm = None
            try:
                keel = m.swap(key, zfo, specified, limit)
            except Revert:
                keel = None
            assert keel == evm
            swaps += evm is not None
            assert w.slot0(key) == m.get_slot0(key) and w.pool_scalars(key)[2] == m.get_liquidity(key)
            continue
        try:
            evm = w.modify_liquidity(key, lo, hi, delta)[0]
        except EVMRevert:
            evm = None
        try:
            keel = m.modify_liquidity(key, w.liquidity_router, lo, hi, delta)[0]
        except Revert:
            keel = None
        assert keel == evm, (lo, hi, delta)
        liquidity_ops += evm is not None
        assert w.slot0(key) == m.get_slot0(key) and w.pool_scalars(key) == (
            *m.get_fee_growth_globals(key),
            m.get_liquidity(key),
        )
    assert swaps > 40 and liquidity_ops > 20
    # the hook really took fees: a swap now pays 1.23% of its output to the hook
    q = m.quote(key, True, -(10**15), get_sqrt_ratio_at_tick(-6000))
    plain = PoolManager()
    plain_key = PoolKey(key.currency0, key.currency1, 3000, 60)
    plain.load_pool(
        plain_key, sqrt_price_x96=m.get_slot0(key)[0], tick=m.get_slot0(key)[1], protocol_fee=0, lp_fee=3000,
        liquidity=m.get_liquidity(key), fee_growth_global0_x128=0, fee_growth_global1_x128=0,
        ticks={t: (i.liquidity_gross, i.liquidity_net, 0, 0)
               for t in m.pool(key).tick_table().ticks for i in [m.get_tick_info(key, t)]},
    )  # fmt: skip
    p = plain.quote(plain_key, True, -(10**15), get_sqrt_ratio_at_tick(-6000))
    assert q.amount1 == p.amount1 - p.amount1 * 123 // 10000 > 0
