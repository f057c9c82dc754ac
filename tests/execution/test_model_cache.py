"""The router's venue-model cache never serves a stale model, and reuses models of unchanged venues.

Every test mutates venues the router holds (v3 mint in and out of range, burn, swap, v2 mint,
burn, swap, sync and skim after a donation, order-book fills, copy-then-mutate) and checks the
long-lived router's plan equals the plan of a fresh router built on the same venues (no cache),
then that the plan executes exactly on copies of the venues.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from keel.domain import Token
from keel.execution import RoutePlan, SmartRouter, execute_plan
from keel.venues.base import Venue
from keel.venues.orderbook import OrderBook
from keel.venues.uniswap_v2 import Pair
from keel.venues.uniswap_v3 import Pool, get_tick_at_sqrt_ratio

USDC = Token("USDC", 6)
WETH = Token("WETH", 18)
WBTC = Token("WBTC", 8)
GWEI = 10**9


def _v3(name: str, t0: Token, t1: Token, price: float, fee: int, spacing: int, liq: int, widths: list[int]) -> Pool:
    sqrt_x96 = math.isqrt(int(price * t1.unit / t0.unit * 2**192))
    pool = Pool(fee, spacing, sqrt_x96, token0=t0, token1=t1, name=name)
    tick = get_tick_at_sqrt_ratio(sqrt_x96)
    for k, w in enumerate(widths):
        pool.mint(f"lp{k}", (tick - w) // spacing * spacing, (tick + w) // spacing * spacing + spacing, liq // (k + 1))
    return pool


def _venues() -> list[Venue]:
    """USDC/WETH (v3 x2, v2, book), WETH/WBTC (v3, v2), USDC/WBTC (v2): routes of 1 and 2 hops."""
    return [
        _v3("v3-usdc-weth-500", WETH, USDC, 2000.0, 500, 10, 3 * 10**16, [200, 1200, 6000]),
        _v3("v3-usdc-weth-3000", WETH, USDC, 2001.0, 3000, 60, 10**16, [600, 6000]),
        Pair(2_000 * 10**18, 4_000_000 * 10**6, token0=WETH, token1=USDC, name="v2-usdc-weth"),
        OrderBook.from_human(
            "book-weth-usdc",
            WETH,
            USDC,
            bids=[("1999", "50"), ("1995", "200")],
            asks=[("2001.5", "50"), ("2004", "200")],
        ),
        _v3("v3-wbtc-weth-500", WBTC, WETH, 19.0, 500, 10, 2 * 10**13, [300, 3000]),
        Pair(300 * 10**8, 5_700 * 10**18, token0=WBTC, token1=WETH, name="v2-wbtc-weth"),
        Pair(20 * 10**8, 760_000 * 10**6, token0=WBTC, token1=USDC, name="v2-wbtc-usdc"),
    ]


def _gas_price(token: Token) -> float:
    return {"USDC": 2000.0, "WETH": 1.0, "WBTC": 1 / 19.0}[token.symbol]


def _router(venues: list[Venue]) -> SmartRouter:
    return SmartRouter(venues, gas_price_wei=20 * GWEI, gas_token_price=_gas_price)


TRADES = [(USDC, WBTC, 250_000 * 10**6), (USDC, WETH, 3_000_000 * 10**6), (WETH, USDC, 40 * 10**18)]


def _plans(router: SmartRouter) -> list[RoutePlan]:
    return [router.quote_exact_in(a, b, x) for a, b, x in TRADES] + [router.quote_exact_out(USDC, WETH, 150 * 10**18)]


def _check_fresh(router: SmartRouter, venues: list[Venue]) -> None:
    got = _plans(router)
    assert got == _plans(_router(venues))
    for plan in got:
        assert execute_plan(plan, [v.copy() for v in venues]) == (plan.amount_in, plan.amount_out, plan.gas_units)


def _v3_pool(venues: list[Venue], name: str) -> Pool:
    v = next(v for v in venues if v.name == name)
    assert isinstance(v, Pool)
    return v


def _pair(venues: list[Venue], name: str) -> Pair:
    v = next(v for v in venues if v.name == name)
    assert isinstance(v, Pair)
    return v


def _mutations() -> list[tuple[str, object]]:
    def v3_mint_out_of_range(vs: list[Venue]) -> None:
        # no price, tick or in-range liquidity change: only the tick table moves
        p = _v3_pool(vs, "v3-usdc-weth-500")
        lo = (p.tick // 10 + 50) * 10
        p.mint("new", lo, lo + 400, 5 * 10**17)

    def v3_mint_in_range(vs: list[Venue]) -> None:
        p = _v3_pool(vs, "v3-usdc-weth-3000")
        t = p.tick // 60 * 60
        p.mint("new", t - 120, t + 180, 4 * 10**16)

    def v3_burn(vs: list[Venue]) -> None:
        p = _v3_pool(vs, "v3-usdc-weth-500")
        t = get_tick_at_sqrt_ratio(math.isqrt(int(2000.0 * USDC.unit / WETH.unit * 2**192)))
        p.burn("lp0", (t - 200) // 10 * 10, (t + 200) // 10 * 10 + 10, 3 * 10**16)

    def v3_swap_crossing(vs: list[Venue]) -> None:
        p = _v3_pool(vs, "v3-wbtc-weth-500")
        q = p.swap_exact_in(WETH, 400 * 10**18)
        assert q.ticks_crossed >= 1

    def v2_swap(vs: list[Venue]) -> None:
        _pair(vs, "v2-usdc-weth").swap_exact_in(USDC, 700_000 * 10**6)

    def v2_mint(vs: list[Venue]) -> None:
        _pair(vs, "v2-wbtc-weth").mint("lp", 100 * 10**8, 1_900 * 10**18)

    def v2_burn(vs: list[Venue]) -> None:
        _pair(vs, "v2-wbtc-weth").burn("genesis", 10**12)

    def v2_donate_sync(vs: list[Venue]) -> None:
        pair = _pair(vs, "v2-wbtc-usdc")
        pair.transfer_in(0, 200_000 * 10**6)
        pair.sync()

    def v2_donate_skim(vs: list[Venue]) -> None:
        pair = _pair(vs, "v2-usdc-weth")
        pair.transfer_in(10**18, 0)
        pair.skim()

    def book_fill(vs: list[Venue]) -> None:
        book = next(v for v in vs if v.name == "book-weth-usdc")
        book.swap_exact_in(USDC, 150_000 * 10**6)

    return [
        ("v3_mint_out_of_range", v3_mint_out_of_range),
        ("v3_mint_in_range", v3_mint_in_range),
        ("v3_burn", v3_burn),
        ("v3_swap_crossing", v3_swap_crossing),
        ("v2_swap", v2_swap),
        ("v2_mint", v2_mint),
        ("v2_burn", v2_burn),
        ("v2_donate_sync", v2_donate_sync),
        ("v2_donate_skim", v2_donate_skim),
        ("book_fill", book_fill),
    ]


@pytest.mark.parametrize(("label", "mutate"), _mutations(), ids=[m[0] for m in _mutations()])
def test_plan_after_mutation_equals_fresh_router(label: str, mutate: object) -> None:
    venues = _venues()
    router = _router(venues)
    before = _plans(router)
    assert callable(mutate)
    mutate(venues)
    _check_fresh(router, venues)
    if label != "v2_donate_skim":  # skim leaves the reserves (and so the plans) as they were
        assert _plans(router) != before


def test_many_mutations_in_a_row_across_blocks() -> None:
    venues = _venues()
    router = _router(venues)
    _plans(router)
    for _, mutate in _mutations():
        assert callable(mutate)
        mutate(venues)
        _check_fresh(router, venues)


def test_unchanged_venues_reuse_models_and_changed_ones_rebuild() -> None:
    venues = _venues()
    router = _router(venues)
    cache = router._cache
    _plans(router)
    built = cache.builds
    assert built > 0
    for v in venues:  # a new block: every timestamp moves, no state changes
        v.updated_ns += 12 * 10**9
    _plans(router)
    assert cache.builds == built
    _pair(venues, "v2-usdc-weth").swap_exact_in(USDC, 10**9)
    _plans(router)
    # the swapped pair is rebuilt once per input token it is seen from, nothing else
    assert 1 <= cache.builds - built <= 2


def test_copy_then_mutate_either_side() -> None:
    venues = _venues()
    router = _router(venues)
    _plans(router)
    copies = [v.copy() for v in venues]
    copy_router = _router(copies)
    _plans(copy_router)
    # mutate the copies: the router on the originals must not see it, the copy router must
    for _, mutate in _mutations()[:4]:
        assert callable(mutate)
        mutate(copies)
    _check_fresh(router, venues)
    _check_fresh(copy_router, copies)
    assert _plans(router) != _plans(copy_router)
    # and the other way round
    for _, mutate in _mutations()[4:]:
        assert callable(mutate)
        mutate(venues)
    _check_fresh(router, venues)
    _check_fresh(copy_router, copies)


def test_direct_attribute_write_is_not_served_stale() -> None:
    """A write that bypasses the venue's methods (no state_version bump) still misses the cache."""
    venues = _venues()
    router = _router(venues)
    _plans(router)
    pair = _pair(venues, "v2-wbtc-usdc")
    pair.reserve1 = pair.balance1 = pair.reserve1 * 2
    _check_fresh(router, venues)


def test_book_levels_model_follows_fills() -> None:
    book = OrderBook("b", WETH, USDC, asks=[(Fraction(2000, 10**12), 10**18), (Fraction(2010, 10**12), 10**18)])
    pair = Pair(1_000 * 10**18, 2_000_000 * 10**6, token0=WETH, token1=USDC, name="p")
    venues: list[Venue] = [book, pair]
    router = SmartRouter(venues)
    first = router.quote_exact_in(USDC, WETH, 3_000 * 10**6)
    assert "b" in first.venues_touched
    book.swap_exact_in(USDC, 2_000 * 10**6)  # the first level is gone
    second = router.quote_exact_in(USDC, WETH, 3_000 * 10**6)
    assert second == SmartRouter(venues).quote_exact_in(USDC, WETH, 3_000 * 10**6)
    assert second.amount_out < first.amount_out
