"""The order-book venue's exact fills, and the real pool rebuilt from its logged events."""

from __future__ import annotations

from fractions import Fraction

import pytest

from keel.errors import ValidationError
from keel.execution.curves import curve_out
from keel.execution.venue_models import build_curve
from keel.venues.base import Revert, Venue
from keel.venues.events import PoolEvent, replay_swap
from keel.venues.orderbook import OrderBook
from tests.execution.realpool import USDC, WETH, day_rows, real_pool, realistic_venues


def _book() -> OrderBook:
    return OrderBook.from_human(
        "book", WETH, USDC,
        bids=[("2269.5", "2"), ("2268", "3")], asks=[("2270.25", "1.5"), ("2271", "4")],
        fee_pips=300, gas_per_touch=50_000, gas_per_level=7_000,
    )  # fmt: skip


def test_book_fills_by_hand() -> None:
    book = _book()
    assert isinstance(book, Venue)
    # buy WETH with 5000 USDC: fee 1.5 USDC, then 1.5 WETH at 2270.25 (3405.375 USDC), rest at 2271
    q = book.quote_exact_in(USDC, 5_000 * 10**6)
    net = 5_000 * 10**6 - 1_500_000
    rest = net - 3_405_375_000
    expected = 15 * 10**17 + rest * 10**12 // 2271  # floor(rest / (2271e6 / 1e18))
    assert q.amount_out == expected
    assert q.gas_units == 50_000 + 2 * 7_000 and q.ticks_crossed == 2
    # sell 2.5 WETH: fee 0.00075 WETH; 2 at 2269.5, 0.49925 at 2268
    q2 = book.quote_exact_in(WETH, 25 * 10**17)
    assert q2.amount_out == 2 * 2_269_500_000 + 499_250_000_000_000_000 * 2268 // 10**12
    # exact out is the least input that delivers: one unit less delivers less
    q3 = book.quote_exact_out(USDC, 2 * 10**18)
    assert q3.amount_out == 2 * 10**18
    assert book.quote_exact_in(USDC, q3.amount_in).amount_out >= 2 * 10**18
    assert book.quote_exact_in(USDC, q3.amount_in - 1).amount_out < 2 * 10**18


def test_book_swaps_consume_levels_and_copies_are_independent() -> None:
    book = _book()
    twin = book.copy()
    book.swap_exact_in(USDC, 5_000 * 10**6)
    assert book.levels(USDC)[0][0] == Fraction(2271 * 10**6, 10**18)
    assert twin.levels(USDC)[0] == (Fraction(227025 * 10**4, 10**18), 15 * 10**17)
    book.swap_exact_out(WETH, 1_000 * 10**6)
    with pytest.raises(Revert, match="LIQ"):
        book.swap_exact_in(USDC, 10**12)
    assert book.quote_exact_in(USDC, 10**6).amount_out > 0  # the failed swap changed nothing


def test_book_model_matches_its_integer_fills() -> None:
    book = _book()
    curve = build_curve(book, USDC, 10**9)
    for usdc in (100, 3_000, 9_000):
        x = usdc * 10**6
        assert curve_out(curve, x) == pytest.approx(book.quote_exact_in(USDC, x).amount_out, rel=1e-9)


def test_book_bad_input() -> None:
    with pytest.raises(ValidationError, match="crossed book"):
        OrderBook.from_human("b", WETH, USDC, bids=[("2271", "1")], asks=[("2270", "1")])
    with pytest.raises(ValidationError, match="floats are not exact"):
        OrderBook.from_human("b", WETH, USDC, asks=[(2270.5, "1")])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match=r"asks\[0\].size"):
        OrderBook("b", WETH, USDC, asks=[(Fraction(1), 0)])
    with pytest.raises(ValidationError, match="amount_in=0"):
        _book().quote_exact_in(USDC, 0)
    with pytest.raises(ValidationError, match="token_in"):
        _book().quote_exact_in(realistic_venues()[0].token0.__class__("DAI", 18), 10)


def test_rebuilt_pool_reproduces_every_logged_swap_until_the_first_liquidity_change() -> None:
    """Each Swap log is replayed with keel's v3 pool (exact-in, exact-out or to-limit) and must
    reproduce the logged amounts, sqrtPriceX96, tick and liquidity exactly."""
    pool = real_pool()
    kinds: dict[str, int] = {}
    for r in day_rows()[1:]:
        if r["tx_type"] != "SWAP":
            break
        ev = PoolEvent(
            "Swap",
            {
                "amount0": int(r["amount0"]),
                "amount1": int(r["amount1"]),
                "sqrtPriceX96": int(r["sqrtPriceX96"]),
                "tick": int(float(r["current_tick"])),
                "liquidity": int(r["total_liquidity"]),
            },
        )
        kind = replay_swap(pool, ev)
        kinds[kind] = kinds.get(kind, 0) + 1
    assert sum(kinds.values()) == 181
    assert kinds["exact_in"] > 100


def test_v3_model_matches_integer_quotes_on_the_real_pool() -> None:
    pool = real_pool()
    for tok, unit in ((USDC, 10**6), (WETH, 10**18)):
        curve = build_curve(pool, tok, 10**6 * unit)
        for size in (1_000, 100_000, 5_000_000):
            x = size * unit // (1 if tok == USDC else 2_270)
            q = pool.quote_exact_in(tok, x)
            assert curve_out(curve, x) == pytest.approx(q.amount_out, rel=1e-9)
