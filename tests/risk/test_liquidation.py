"""Liquidation: the oracle band rule, partial close-out, Dutch auction vs depth penalty,
insurance fund, ADL ranking, bad debt accounting.  Every test asserts the ledger invariant."""

from __future__ import annotations

import math

import pytest

from keel.errors import ValidationError
from keel.risk import (
    INSURANCE,
    SOCIALIZED,
    AdlCandidate,
    ClearingHouse,
    CloseoutMode,
    LiquidationPolicy,
    MarketState,
    StandardMargin,
    closeout_discount,
    partial_fraction,
    rank_adl,
)
from keel.risk.margin import LiquidityTier, SizeTier

from .conftest import PERP, USDC, assert_balanced, reading, usd

FLAT = StandardMargin(default_tier=LiquidityTier(size_tiers=(SizeTier(math.inf, 0.10),), maintenance_fraction=0.5))


def _house(policy: LiquidationPolicy | None = None, insurance: float = 100_000) -> ClearingHouse:
    h = ClearingHouse((USDC,), FLAT, policy or LiquidationPolicy(auction_start=0.02))
    for a in ("alice", "bob", "carol"):
        h.open_account(a)
    h.open_account("liq", liquidator=True)
    h.deposit("alice", "USDC", usd(10_000))
    h.deposit("bob", "USDC", usd(1_000_000))
    h.deposit("carol", "USDC", usd(1_000_000))
    h.deposit("liq", "USDC", usd(100_000_000))
    if insurance:
        h.seed_insurance("USDC", usd(insurance))
    return h


def test_not_liquidated_while_the_favourable_band_edge_is_safe() -> None:
    h = _house()
    h.trade("alice", "bob", PERP, 2, 50_000, MarketState(0, {"BTC": 50_000.0}))
    # MM = 5% of notional. At 45,500: equity 1,000 < MM 4,550 at mid ... and at the top edge
    # 47,000 (conf 1,500): equity 4,000 vs MM 4,700 -> still below: liquidated
    # but at 46,000 with conf 2,000 the top edge 48,000 gives 6,000 >= 4,800: safe
    rep = h.step(1, {"BTC": reading(46_000.0, 2_000.0)})
    assert rep.liquidations == ()
    assert h.collateral_value("alice", h.last_market(1)) < h.requirement("alice", h.last_market(1)).maintenance
    rep = h.step(2, {"BTC": reading(46_000.0, 100.0)})
    assert rep.liquidations and rep.liquidations[0].account_id == "alice"
    assert_balanced(h)


def test_partial_liquidation_restores_maintenance_plus_buffer() -> None:
    h = _house(LiquidationPolicy(auction_start=0.01, buffer=0.10, liquidator_impact=0.0, liquidation_fee=0.0))
    h.deposit("alice", "USDC", usd(2_000))  # 12,000 on 100,000 notional (12%)
    h.trade("alice", "bob", PERP, 2, 50_000, MarketState(0, {"BTC": 50_000.0}))
    rep = h.step(1, {"BTC": reading(46_500.0)})  # equity 5,000 < MM 4,650? no: 5,000 > 4,650
    assert rep.liquidations == ()
    rep = h.step(2, {"BTC": reading(46_000.0)})  # equity 4,000 < MM 4,600: partial
    assert len(rep.liquidations) == 1
    closed = -rep.liquidations[0].quantity
    assert 0 < closed < 2
    m = h.last_market(2)
    assert h.collateral_value("alice", m) >= h.requirement("alice", m).maintenance * 1.10 - 1e-6
    assert h.positions("alice")[0].quantity == pytest.approx(2 - closed)
    assert_balanced(h)


def test_dutch_auction_waits_for_a_discount_a_liquidator_accepts() -> None:
    p = LiquidationPolicy(auction_start=0.0, auction_step_per_min=0.01, liquidator_base=0.015, liquidator_impact=0.0)
    assert closeout_discount(p, 1e5, 1e7, 0, True) is None
    assert closeout_discount(p, 1e5, 1e7, 60 * 10**9, True) is None
    assert closeout_discount(p, 1e5, 1e7, 120 * 10**9, True) == pytest.approx(0.02)
    assert closeout_discount(p, 1e5, 1e7, 10**12, False) is None  # nobody there
    # a stale mark 20% above where liquidators can sell: no bid at any discount
    assert closeout_discount(p, 1e5, 1e7, 10**12, True, gap=0.20) is None
    q = LiquidationPolicy(mode=CloseoutMode.DEPTH_PENALTY, penalty_base=0.01, penalty_impact=0.5)
    assert closeout_discount(q, 1e6, 1e7, 0, True) == pytest.approx(0.06)  # 1% + 0.5 x 10% of depth
    assert closeout_discount(q, 1e9, 1e7, 0, True) == pytest.approx(q.max_discount)
    with pytest.raises(ValidationError, match="depth_usd"):
        closeout_discount(q, 1e6, 0.0, 0, True)


def test_partial_fraction_formula() -> None:
    p = LiquidationPolicy(buffer=0.1, min_fraction=0.05)
    # target 1.1 x 1000 = 1100; collateral 900; cost 200 per full close -> f = 200/900
    assert partial_fraction(900.0, 1000.0, 200.0, p) == pytest.approx(200 / 900)
    assert partial_fraction(-5.0, 1000.0, 200.0, p) == 1.0
    assert partial_fraction(2000.0, 1000.0, 200.0, p) == 0.05


def test_insurance_fund_pays_bad_debt_and_it_is_reported() -> None:
    h = _house(LiquidationPolicy(auction_start=0.02, liquidator_impact=0.0))
    h.trade("alice", "bob", PERP, 2, 50_000, MarketState(0, {"BTC": 50_000.0}))
    rep = h.step(1, {"BTC": reading(40_000.0)})  # equity -10,000 before close-out
    assert rep.bad_debt_usd > 10_000
    assert h.ledger.balance("alice", "USDC") == 0
    assert h.ledger.balance(INSURANCE, "USDC") == usd(100_000) - round(rep.bad_debt_usd * 1e6)
    assert rep.socialized_usd == 0.0
    assert_balanced(h)


def test_adl_ranks_by_profit_times_leverage_when_the_fund_is_short() -> None:
    h = _house(LiquidationPolicy(auction_start=0.02), insurance=0)
    m = MarketState(0, {"BTC": 50_000.0})
    # two shorts: carol is more levered than bob (same entry, so same profit ratio)
    h.deposit("alice", "USDC", usd(40_000))  # 50,000 on 4 BTC (200,000): 25%
    h.open_account("dave")
    h.deposit("dave", "USDC", usd(25_000))
    h.trade("alice", "bob", PERP, 2, 50_000, m)
    h.trade("alice", "dave", PERP, 2, 50_000, m)
    rep = h.step(1, {"BTC": reading(35_000.0)})  # alice: 50,000 - 60,000 = -10,000; fund empty
    adl = [r for r in rep.liquidations if r.kind == "adl"]
    assert adl, rep
    assert adl[0].counterparty == "dave"  # higher leverage first
    assert rep.adl_volume_usd > 0
    # the deficit was borne by the ADL'd shorts at the bankruptcy price, not by the fund
    assert h.equity("alice", h.last_market(1)) == pytest.approx(0.0, abs=0.01)
    assert rep.socialized_usd == pytest.approx(10_000.0, rel=1e-6)
    assert_balanced(h)


def test_rank_adl() -> None:
    c = [
        AdlCandidate("x", -1.0, 0.10, 2.0),
        AdlCandidate("y", -1.0, 0.05, 10.0),
        AdlCandidate("z", -1.0, -0.2, 50.0),  # in loss: never deleveraged
        AdlCandidate("w", -1.0, 0.10, 2.0),
    ]
    assert [a.account_id for a in rank_adl(c)] == ["y", "w", "x"]


def test_written_off_debt_goes_to_the_socialized_holder() -> None:
    """A short put expires deep in the money with nobody left to deleverage: the fund pays
    what it has and the rest is written off to ``@socialized`` (never hidden)."""
    h = _house(insurance=1_000)
    name = "BTC_USDC-26MAR21-50000-P"
    t0 = 1_612_800_000 * 10**9
    h.trade("bob", "alice", name, 1, 1_000, MarketState(t0, {"BTC": 50_000.0}, {"BTC": 0.8}), check_margin=False)
    expiry = 1_616_745_600 * 10**9
    rep = h.step(expiry, {"BTC": reading(30_000.0)}, vols={"BTC": 0.8})
    # alice owed 20,000 against 11,000 of cash: 9,000 of bad debt, 1,000 from the fund
    assert rep.bad_debt_usd == pytest.approx(9_000.0)
    assert rep.socialized_usd == pytest.approx(8_000.0)
    assert h.ledger.balance(INSURANCE, "USDC") == 0
    assert h.ledger.balance(SOCIALIZED, "USDC") == -usd(8_000)
    assert h.ledger.balance("alice", "USDC") == 0
    assert_balanced(h)
