"""v2 Pair as a router venue, copies and snapshots; and v3 flash-loan accounting."""

from __future__ import annotations

import pytest

from keel.domain import Token
from keel.errors import ValidationError
from keel.venues import Pair, Pool, Revert, Venue
from keel.venues.uniswap_v2 import SWAP_GAS, get_amount_in, get_amount_out
from keel.venues.uniswap_v3 import get_sqrt_ratio_at_tick

USDC = Token("USDC", 6)
WETH = Token("WETH", 18)


def test_pair_venue_quotes_and_swaps() -> None:
    pair = Pair(2_000_000 * 10**6, 1000 * 10**18, token0=USDC, token1=WETH)
    assert isinstance(pair, Venue)
    q = pair.quote_exact_in(USDC, 10_000 * 10**6)
    assert q.amount_out == get_amount_out(10_000 * 10**6, pair.reserve0, pair.reserve1)
    assert q.gas_units == SWAP_GAS and q.ticks_crossed == 0
    back = pair.quote_exact_out(WETH, 10_000 * 10**6)
    assert back.amount_in == get_amount_in(10_000 * 10**6, pair.reserve1, pair.reserve0)
    clone = pair.copy()
    done = clone.swap_exact_in(USDC, 10_000 * 10**6)
    assert done == q
    assert (clone.reserve0, clone.reserve1) == (pair.reserve0 + q.amount_in, pair.reserve1 - q.amount_out)
    assert (pair.reserve0, pair.reserve1) == (2_000_000 * 10**6, 1000 * 10**18)  # the original is untouched
    out = clone.swap_exact_out(WETH, 5_000 * 10**6)
    assert out.amount_out == 5_000 * 10**6
    k_before = pair.reserve0 * pair.reserve1
    assert clone.reserve0 * clone.reserve1 > k_before  # fees stay in the pool
    with pytest.raises(ValidationError):
        pair.quote_exact_in(Token("DAI", 18), 1)
    with pytest.raises(Revert) as info:
        pair.quote_exact_out(WETH, pair.reserve0)
    assert info.value.reason == ""  # the library divides by zero
    with pytest.raises(Revert) as info:
        pair.swap(0, pair.reserve1)
    assert info.value.reason == "UniswapV2: INSUFFICIENT_LIQUIDITY"


def test_pair_mint_burn_round_trip_and_cumulative_prices() -> None:
    pair = Pair(0, 0, block_timestamp=100)
    minted = pair.mint("lp", 4 * 10**18, 10**18)
    assert minted == 2 * 10**18 - 1000 and pair.total_supply == 2 * 10**18
    pair.block_timestamp = 160
    pair.sync()
    assert pair.price0_cumulative_last == (10**18 << 112) // (4 * 10**18) * 60
    assert pair.price1_cumulative_last == ((4 * 10**18) << 112) // 10**18 * 60
    a0, a1 = pair.burn("lp", minted)
    assert (a0, a1) == (minted * 4 * 10**18 // (2 * 10**18), minted * 10**18 // (2 * 10**18))
    with pytest.raises(Revert) as info:
        pair.burn("lp", 1)
    assert info.value.reason == "ds-math-sub-underflow"


def test_flash_fees_accrue_to_liquidity_and_protocol() -> None:
    pool = Pool(3000, 60, get_sqrt_ratio_at_tick(0))
    with pytest.raises(Revert) as info:
        pool.flash(10, 10, 1, 1)
    assert info.value.reason == "L"
    pool.mint("lp", -600, 600, 10**18)
    fee0, fee1 = pool.flash(10**18, 2 * 10**18, 3 * 10**15, 6 * 10**15)
    assert (fee0, fee1) == (3 * 10**15, 6 * 10**15)
    assert pool.fee_growth_global0_x128 == 3 * 10**15 * 2**128 // 10**18
    with pytest.raises(Revert) as info:
        pool.flash(10**18, 0, 3 * 10**15 - 1, 0)
    assert info.value.reason == "F0"
    pool.set_fee_protocol(5, 0)
    pool.flash(10**18, 0, 3 * 10**15, 0)
    assert pool.protocol_fees0 == 3 * 10**15 // 5
    with pytest.raises(Revert):
        pool.set_fee_protocol(3, 0)
    pool.burn("lp", -600, 600, 0)
    growth = 3 * 10**15 * 2**128 // 10**18 + (3 * 10**15 - 3 * 10**15 // 5) * 2**128 // 10**18
    assert pool.fee_growth_global0_x128 == growth
    assert pool.positions("lp", -600, 600).tokens_owed0 == growth * 10**18 // 2**128
