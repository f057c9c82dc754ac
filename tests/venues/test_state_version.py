"""state_version on every venue and the v3 pool's cached tick table.

* every state change (v2 swap/mint/burn/sync/skim/transfer, v3 mint/burn/swap/collect/flash,
  book fill) gives a fresh, larger ``state_version``; quotes and reverted calls change nothing
  observable; a copy keeps the version until either side changes, then they differ;
* ``Pool.tick_table()`` equals a table read tick by tick from the contract getter
  ``ticks(i)`` over the bitmap (``tick_bitmap`` words) after random mints, burns and
  tick-crossing swaps, on the pool and on copies mutated independently.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from keel.domain import Token
from keel.venues.base import Revert
from keel.venues.orderbook import OrderBook
from keel.venues.uniswap_v2 import Pair
from keel.venues.uniswap_v3 import MAX_TICK, MIN_TICK, Pool, get_sqrt_ratio_at_tick

A = Token("A", 18)
B = Token("B", 18)


def _bitmap_table(pool: Pool) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Initialized ticks found by walking the tick bitmap words, with ``ticks(i).liquidity_net``."""
    sp = pool.tick_spacing
    ticks = []
    for word in range((MIN_TICK // sp) >> 8, ((MAX_TICK // sp) >> 8) + 1):
        bits = pool.tick_bitmap(word)
        while bits:
            low = bits & -bits
            ticks.append(((word << 8) + low.bit_length() - 1) * sp)
            bits ^= low
    return tuple(ticks), tuple(pool.ticks(t).liquidity_net for t in ticks)


def _check_table(pool: Pool) -> None:
    table = pool.tick_table()
    assert (table.ticks, table.liquidity_net) == _bitmap_table(pool)
    assert table.index.tolist() == list(table.ticks)
    np.testing.assert_allclose(table.net_f, [float(x) for x in table.liquidity_net], rtol=1e-15)
    np.testing.assert_allclose(table.sqrt_price, [get_sqrt_ratio_at_tick(t) / 2**96 for t in table.ticks], rtol=1e-12)
    for arr in (table.index, table.net_f, table.sqrt_price):
        assert not arr.flags.writeable


def _pool() -> Pool:
    pool = Pool(3000, 60, 2**96, token0=A, token1=B)
    pool.mint("a", -6000, 6000, 10**20)
    return pool


def test_v3_every_change_bumps_and_quotes_do_not() -> None:
    pool = _pool()
    seen = [pool.state_version]

    def bumped() -> None:
        assert pool.state_version > seen[-1]
        seen.append(pool.state_version)

    pool.quote(True, 10**18)
    pool.quote_exact_in(A, 10**18)
    assert pool.state_version == seen[-1]
    pool.mint("b", -600, 600, 10**19)
    bumped()
    pool.swap(True, 10**18)
    bumped()
    pool.swap_exact_in(B, 10**18)
    bumped()
    pool.burn("b", -600, 600, 10**18)
    bumped()
    pool.collect("b", -600, 600, 10**30, 10**30)
    bumped()
    pool.flash(10**18, 0, 10**16, 0)
    bumped()
    pool.increase_observation_cardinality_next(5)
    bumped()
    state = (pool.sqrt_price_x96, pool.liquidity, pool.tick, pool.tick_table())
    with pytest.raises(Revert):
        pool.mint("c", -600, 601, 10**18)  # 'TLU'-family revert: nothing changes
    with pytest.raises(Revert):
        pool.swap(True, 10**18, pool.sqrt_price_x96 + 1)  # 'SPL'
    assert (pool.sqrt_price_x96, pool.liquidity, pool.tick, pool.tick_table()) == state


def test_v3_tick_table_cached_kept_by_swaps_rebuilt_by_mint_burn() -> None:
    pool = _pool()
    pool.mint("b", -600, 600, 10**19)
    t1 = pool.tick_table()
    assert pool.tick_table() is t1
    q = pool.swap_exact_in(A, 5 * 10**19)  # crosses -600 (liquidity_net unchanged)
    assert q.ticks_crossed >= 1
    assert pool.tick_table() is t1
    _check_table(pool)
    pool.mint("c", -1200, 1200, 10**18)
    t2 = pool.tick_table()
    assert t2 is not t1 and -1200 in t2.ticks and -1200 not in t1.ticks
    pool.burn("c", -1200, 1200, 10**18)  # burning all of it un-initializes both ticks
    assert -1200 not in pool.tick_table().ticks
    _check_table(pool)


def test_v3_copy_shares_table_until_either_side_changes() -> None:
    pool = _pool()
    table = pool.tick_table()
    twin = pool.copy()
    assert twin.state_version == pool.state_version
    assert twin.tick_table() is table
    twin.mint("x", -120, 120, 10**18)
    assert twin.state_version != pool.state_version
    assert pool.tick_table() is table and -120 not in table.ticks
    assert -120 in twin.tick_table().ticks
    pool.swap_exact_in(A, 10**17)
    assert pool.state_version != twin.state_version
    _check_table(pool)
    _check_table(twin)


def test_v3_tick_table_random_against_bitmap_walk() -> None:
    rng = random.Random(7)
    pool = Pool(500, 10, 2**96, token0=A, token1=B)
    owned: list[tuple[str, int, int, int]] = []
    copies = [pool]
    for step in range(250):
        p = rng.choice(copies)
        op = rng.random()
        if op < 0.4 or not owned:
            lo = rng.randrange(-300, 300) * 10
            hi = lo + rng.randrange(1, 60) * 10
            amt = rng.randrange(10**15, 10**19)
            owner = f"o{step}"
            try:
                p.mint(owner, lo, hi, amt)
            except Revert:
                continue
            owned.append((owner, lo, hi, amt))
        elif op < 0.6:
            owner, lo, hi, amt = rng.choice(owned)
            if p.positions(owner, lo, hi).liquidity >= amt:
                p.burn(owner, lo, hi, amt)
        elif op < 0.95:
            tok = rng.choice((A, B))
            try:
                p.swap_exact_in(tok, rng.randrange(10**15, 10**19))
            except Revert:
                continue
        else:
            copies.append(p.copy())
        if step % 10 == 0:
            p.tick_table()  # populate the cache between changes
    for p in copies:
        _check_table(p)


def test_v2_every_change_bumps() -> None:
    pair = Pair(10**21, 2 * 10**21, token0=A, token1=B)
    v = [pair.state_version]

    def bumped() -> None:
        assert pair.state_version > v[-1]
        v.append(pair.state_version)

    pair.quote_exact_in(A, 10**18)
    pair.quote_exact_out(A, 10**18)
    assert pair.state_version == v[-1]
    pair.swap_exact_in(A, 10**18)
    bumped()
    pair.mint("lp", 10**18, 2 * 10**18)
    bumped()
    pair.burn("lp", 10**17)
    bumped()
    pair.transfer_in(10**18, 0)
    bumped()
    pair.sync()
    bumped()
    pair.transfer_in(0, 10**18)
    bumped()
    pair.skim()
    bumped()
    twin = pair.copy()
    assert twin.state_version == pair.state_version
    twin.swap_exact_in(B, 10**18)
    pair.swap_exact_in(B, 10**18)
    assert twin.state_version != pair.state_version
    reserves = pair.get_reserves()
    with pytest.raises(Revert):
        pair.swap(pair.reserve0, 0)  # INSUFFICIENT_LIQUIDITY
    assert pair.get_reserves() == reserves


def test_book_fill_bumps_quote_does_not() -> None:
    book = OrderBook.from_human("bk", A, B, bids=[("2", "10")], asks=[("3", "10"), ("4", "10")])
    v0 = book.state_version
    book.quote_exact_in(B, 10**18)
    assert book.state_version == v0
    twin = book.copy()
    assert twin.state_version == v0
    book.swap_exact_in(B, 10**18)
    assert book.state_version > v0
    assert twin.state_version == v0
    twin.swap_exact_out(B, 10**18)
    assert twin.state_version not in (v0, book.state_version)
