"""Pool behaviour the contract comparisons do not reach: reverts raised before the pool is called,
callbacks that underpay, atomicity of reverted calls, copies, snapshots and the Venue interface."""

from __future__ import annotations

import pytest

from keel.domain import PoolState, Token
from keel.errors import ValidationError
from keel.venues import Pair, Pool, Revert, SwapQuote, Venue
from keel.venues.uniswap_v3 import (
    MAX_TICK,
    MIN_TICK,
    SWAP_GAS_BASE,
    SWAP_GAS_FIRST_CROSSING,
    SWAP_GAS_PER_TICK,
    get_sqrt_ratio_at_tick,
)

USDC = Token("USDC", 6)
WETH = Token("WETH", 18)


def _pool() -> Pool:
    pool = Pool(3000, 60, get_sqrt_ratio_at_tick(120), token0=USDC, token1=WETH)
    pool.mint("lp", -6000, 6000, 10**20)
    for k in range(-10, 10):
        pool.mint("lp", k * 60, (k + 1) * 60, 10**19)
    return pool


@pytest.mark.parametrize(
    "lower,upper,reason",
    [(60, 60, "TLU"), (120, 60, "TLU"), (MIN_TICK - 1, 0, "TLM"), (0, MAX_TICK + 1, "TUM")],
)
def test_mint_tick_checks(lower: int, upper: int, reason: str) -> None:
    with pytest.raises(Revert) as info:
        _pool().mint("x", lower, upper, 1)
    assert info.value.reason == reason


def test_reverts_leave_the_pool_unchanged() -> None:
    pool = _pool()
    before = pool.to_state().to_json()
    with pytest.raises(Revert) as info:
        pool.mint("x", -60, 60, pool.max_liquidity_per_tick)
    assert info.value.reason == "LO"
    with pytest.raises(Revert) as info:
        pool.burn("lp", -6000, 6000, 10**20 + 1)
    assert info.value.reason == "LS"
    with pytest.raises(Revert) as info:
        pool.burn("nobody", -60, 60, 0)
    assert info.value.reason == "NP"
    with pytest.raises(Revert) as info:
        pool.swap(True, 10**18, pay=lambda a0, a1: (a0 - 1, 0))
    assert info.value.reason == "IIA"
    with pytest.raises(Revert) as info:
        pool.mint("x", -60, 60, 10**18, pay=lambda a0, a1: (a0, a1 - 1))
    assert info.value.reason == "M1"
    with pytest.raises(Revert) as info:
        pool.initialize(2**96)
    assert info.value.reason == "AI"
    assert pool.to_state().to_json() == before
    assert pool.positions("x", -60, 60).liquidity == 0


def test_paying_callbacks_and_burn_collect_cycle() -> None:
    pool = _pool()
    paid: list[tuple[int, int]] = []

    def pay(a0: int, a1: int) -> tuple[int, int]:
        paid.append((a0, a1))
        return max(a0, 0), max(a1, 0)

    a0, a1 = pool.swap(True, 10**18, pay=pay)
    assert paid == [(a0, a1)] and a0 == 10**18 and a1 < 0
    owed = pool.burn("lp", -60, 0, 10**19)
    got = pool.collect("lp", -60, 0, 2**128 - 1, 2**128 - 1)
    assert got[0] >= owed[0] and got[1] >= owed[1] and got != owed  # fees were earned on top
    assert pool.collect("lp", -60, 0, 2**128 - 1, 2**128 - 1) == (0, 0)


def test_copy_is_independent_and_cheap() -> None:
    pool = _pool()
    state = pool.to_state().to_json()
    clone = pool.copy()
    assert clone._ticks is pool._ticks  # shared until a write
    clone.swap(True, 10**19)
    clone.mint("other", -120, 120, 10**18)
    assert pool.to_state().to_json() == state
    assert clone.to_state().to_json() != state
    result = pool.quote_detailed(True, 10**19)
    assert (result.sqrt_price_x96, result.tick, result.liquidity) == (clone.sqrt_price_x96, clone.tick, clone.liquidity)
    assert result.ticks_crossed > 3


def test_pool_state_json_round_trip() -> None:
    pool = _pool()
    pool.swap(True, 3 * 10**19)
    text = pool.to_state(block_number=7, ts_ns=1_704_412_800_000_000_000, address="0x" + "88" * 20).to_json()
    state = PoolState.from_json(text)
    rebuilt = Pool.from_state(state, token0=USDC, token1=WETH)
    assert rebuilt.to_state(block_number=7, address="0x" + "88" * 20).to_json() == text
    for zero_for_one, amount in ((True, 10**19), (False, 4 * 10**19), (True, -(10**18)), (False, -(10**18))):
        assert rebuilt.quote_detailed(zero_for_one, amount) == pool.quote_detailed(zero_for_one, amount)
    with pytest.raises(ValidationError):
        Pool.from_state(Pair(10**18, 10**18).to_state())
    pair = Pair(10**18, 3 * 10**18)
    assert Pair.from_state(PoolState.from_json(pair.to_state().to_json())).get_reserves()[:2] == (10**18, 3 * 10**18)


def test_venue_protocol() -> None:
    pool = _pool()
    assert isinstance(pool, Venue) and isinstance(Pair(10**18, 10**18), Venue)
    q = pool.quote_exact_in(USDC, 10**19)
    assert isinstance(q, SwapQuote) and q.amount_in == 10**19
    assert q.ticks_crossed > 0
    assert q.gas_units == SWAP_GAS_BASE + SWAP_GAS_FIRST_CROSSING + SWAP_GAS_PER_TICK * q.ticks_crossed
    back = pool.quote_exact_out(USDC, q.amount_out)
    assert back.amount_out == q.amount_out and back.amount_in <= q.amount_in
    done = pool.swap_exact_in(USDC, 10**19)
    assert done == q
    assert pool.quote_exact_in(USDC, 10**19).amount_out < q.amount_out  # the price moved
    with pytest.raises(ValidationError):
        pool.quote_exact_in(Token("DAI", 18), 10)
    with pytest.raises(ValidationError):
        pool.quote_exact_in(USDC, 0)


def test_oracle_observe_interpolates_and_refuses_old_targets() -> None:
    pool = Pool(500, 10, get_sqrt_ratio_at_tick(100), block_timestamp=1000)
    pool.mint("lp", -1000, 1000, 10**18)
    pool.increase_observation_cardinality_next(4)
    pool.block_timestamp = 1010
    pool.swap(True, 10**15)
    tick_after = pool.tick
    pool.block_timestamp = 1030
    (now, mid, start), _ = pool.observe([0, 20, 30])
    assert now - start == 100 * 10 + tick_after * 20
    assert now - mid == tick_after * 20
    with pytest.raises(Revert) as info:
        pool.observe([31])
    assert info.value.reason == "OLD"
    with pytest.raises(Revert) as info:
        Pool(500, 10, 0).observe([0])
    assert info.value.reason == "I"
