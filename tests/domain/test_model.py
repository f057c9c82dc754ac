"""Domain types: validation, exact amounts, positions, pool-state JSON."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.domain import (
    NS_PER_YEAR,
    Bar,
    Fill,
    Order,
    PoolState,
    Position,
    Quote,
    Side,
    TickState,
    Token,
    datetime_to_ns,
    from_base_units,
    ns_to_datetime,
    to_base_units,
    year_fraction,
)
from keel.errors import ValidationError

USDC = Token("USDC", 6, 1, "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")


def test_token_base_units_are_exact_ints() -> None:
    assert USDC.to_base_units("1234.567891") == 1_234_567_891
    assert USDC.from_base_units(1_234_567_891) == Decimal("1234.567891")
    with pytest.raises(ValidationError, match="amount=1.5"):
        to_base_units(1.5, 6)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="not representable"):
        USDC.to_base_units("0.0000001")
    with pytest.raises(ValidationError, match="decimals=99"):
        Token("X", 99)


@given(st.integers(min_value=-(10**40), max_value=10**40), st.integers(min_value=0, max_value=30))
def test_base_unit_round_trip(amount: int, decimals: int) -> None:
    assert to_base_units(from_base_units(amount, decimals), decimals) == amount


def test_order_validation_names_field() -> None:
    with pytest.raises(ValidationError, match="quantity=Decimal"):
        Order("BTC-PERPETUAL", Side.BUY, Decimal(-1))
    with pytest.raises(ValidationError, match="side='hold'"):
        Order("BTC-PERPETUAL", "hold", Decimal(1))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="limit_price"):
        Order("BTC-PERPETUAL", Side.BUY, Decimal(1), time_in_force="post_only")  # type: ignore[arg-type]
    order = Order("BTC-PERPETUAL", "sell", 2.5)  # type: ignore[arg-type]
    assert order.quantity == Decimal("2.5") and order.signed_quantity == Decimal("-2.5")


def test_position_realizes_pnl_and_flips() -> None:
    pos = Position("ETH-PERPETUAL")
    pos = pos.apply(Fill("ETH-PERPETUAL", Side.BUY, Decimal(2), Decimal(100), 0))
    pos = pos.apply(Fill("ETH-PERPETUAL", Side.BUY, Decimal(2), Decimal(110), 1))
    assert pos.quantity == 4 and pos.average_price == 105
    pos = pos.apply(Fill("ETH-PERPETUAL", Side.SELL, Decimal(5), Decimal(120), 2, fee=Decimal("0.5")))
    assert pos.quantity == -1 and pos.average_price == 120
    assert pos.realized_pnl == Decimal(4 * 15) - Decimal("0.5")
    assert pos.unrealized_pnl(Decimal(100)) == 20


def test_quote_and_bar_validation() -> None:
    assert Quote("X", 99.0, 101.0, 5).mid == 100.0
    with pytest.raises(ValidationError, match="ask=98"):
        Quote("X", 99.0, 98.0, 5)
    with pytest.raises(ValidationError, match="bid=nan"):
        Quote("X", float("nan"), 98.0, 5)
    with pytest.raises(ValidationError, match="ts_ns"):
        Quote("X", 1.0, 2.0, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="low/high"):
        Bar("X", 0, 60, 10.0, 11.0, 10.5, 9.0)


def test_pool_state_json_round_trip_keeps_big_ints() -> None:
    state = PoolState(
        kind="uniswap_v3",
        token0="USDC",
        token1="WETH",
        fee=500,
        tick_spacing=10,
        sqrt_price_x96=1_461_446_703_485_210_103_287_273_052_203_988_822_378_723_970_341,
        tick=-887272,
        liquidity=2**127,
        fee_growth_global0_x128=2**255 + 7,
        ticks=(TickState(-887270, 10, 10, 1, 2), TickState(887270, 10, -10)),
    )
    again = PoolState.from_json(state.to_json())
    assert again == state
    with pytest.raises(ValidationError, match="kind"):
        PoolState.from_dict({"kind": "curve", "token0": "a", "token1": "b", "fee": 1})
    with pytest.raises(ValidationError, match="fee"):
        PoolState.from_dict({"kind": "uniswap_v2", "token0": "a", "token1": "b"})


def test_time_conventions() -> None:
    ts = datetime_to_ns(ns_to_datetime(1_612_877_925_407_000_000))
    assert ts == 1_612_877_925_407_000_000
    assert year_fraction(0, NS_PER_YEAR) == 1.0
