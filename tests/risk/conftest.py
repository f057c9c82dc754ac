"""Fixtures for the risk tests: a small clearing house with two traders and a liquidator."""

from __future__ import annotations

from decimal import Decimal

import pytest

from keel.oracle import OracleReading, OracleStatus
from keel.risk import ClearingHouse, CollateralAsset, MarketState, StandardMargin

USDC = CollateralAsset("USDC", 6)
BTC = CollateralAsset("BTC", 8, 0.10)
PERP = "BTC_USDC-PERPETUAL"


def usd(x: float | int) -> int:
    return int(Decimal(str(x)) * USDC.unit)


def reading(price: float, conf: float = 0.0, ts: int = 0) -> OracleReading:
    return OracleReading(price, conf, OracleStatus.OK, ts, ("test",))


def assert_balanced(house: ClearingHouse) -> None:
    """The invariant every risk test asserts: per asset, Σ balances of every holder (accounts,
    insurance, fees, socialized) equals net deposits exactly, and open positions net to zero."""
    assert house.imbalance() == 0
    assert house.ledger.imbalance() == 0
    assert all(house.ledger.total(a) == house.ledger.net_deposits(a) for a in house.ledger.assets())


@pytest.fixture
def house() -> ClearingHouse:
    h = ClearingHouse((USDC, BTC), StandardMargin())
    for a in ("alice", "bob"):
        h.open_account(a)
    h.open_account("liq", liquidator=True)
    h.deposit("alice", "USDC", usd(10_000))
    h.deposit("bob", "USDC", usd(1_000_000))
    h.deposit("liq", "USDC", usd(50_000_000))
    h.seed_insurance("USDC", usd(100_000))
    return h


@pytest.fixture
def market() -> MarketState:
    return MarketState(0, {"BTC": 50_000.0})
