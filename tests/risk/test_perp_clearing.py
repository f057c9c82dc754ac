"""One money model: the simulator's perpetual venue is a keel.risk ClearingHouse (exact Ledger),
its close-outs follow keel.risk's LiquidationPolicy, and the ledger balances after every block
of every example scenario."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from keel.domain import Perpetual, Settlement
from keel.errors import RiskError, ValidationError
from keel.risk import LiquidationPolicy
from keel.risk.ledger import INSURANCE
from keel.risk.perpetual import MAKER, PerpVenue

ROOT = Path(__file__).resolve().parents[2]
INST = Perpetual("BTC", "USD", Settlement.LINEAR)
EIGHT_H = INST.funding_interval_ns


def _venue(rate: float = 0.0001, insurance: float = 1000.0) -> PerpVenue:
    return PerpVenue("perp", INST, np.array([EIGHT_H, 2 * EIGHT_H]), np.array([rate, -rate]), 0.005, 0.01, insurance)


def _balanced(v: PerpVenue) -> None:
    assert v.house.imbalance() == 0 and v.ledger_imbalance() == 0
    assert v.house.solvency_violations() == ()


def test_positions_are_house_trades_against_the_maker() -> None:
    v = _venue()
    v.open("long", 10_000.0, 1.5, 100_000.0)
    v.open("short", 20_000.0, -0.5, 100_000.0)
    held = {p.name: p.quantity for p in v.house.positions(MAKER)}
    assert held == {"BTC_USD-PERPETUAL": -1.0}
    assert v.house.ledger.balance("long", "USD") == 10_000 * 10**6  # exact base units
    assert v.account("short") == (-0.5, 20_000.0, 100_000.0)
    _balanced(v)
    with pytest.raises(ValidationError, match="already has an account"):
        v.open("long", 1.0, 1.0, 1.0)
    with pytest.raises(ValidationError, match="finite and positive"):
        v.open("nan", float("nan"), 1.0, 1.0)


def test_funding_accrues_longs_pay_shorts_and_settles_exactly() -> None:
    v = _venue()
    v.open("long", 10_000.0, 1.0, 100_000.0)
    v.open("short", 10_000.0, -1.0, 100_000.0)
    paid = v.accrue_funding(0, EIGHT_H, 100_000.0)  # one full interval at +0.01%: settles (>= 60 s)
    assert paid == pytest.approx(10.0)
    assert v.house.ledger.balance("long", "USD") == 9_990 * 10**6
    assert v.house.ledger.balance("short", "USD") == 10_010 * 10**6
    v.accrue_funding(EIGHT_H, EIGHT_H + 30 * 10**9, 100_000.0)  # 30 s at -0.01%: pending, not settled
    assert v.account("long")[1] == pytest.approx(9_990.0 + 10.0 * 30 / (8 * 3600))
    assert v.house.ledger.balance("long", "USD") == 9_990 * 10**6
    v.accrue_funding(EIGHT_H + 30 * 10**9, EIGHT_H + 60 * 10**9, 100_000.0)  # settled now
    assert v.house.ledger.balance("long", "USD") == pytest.approx(9_990 * 10**6 + 10.0 * 60 / (8 * 3600) * 10**6, abs=2)
    _balanced(v)


def test_close_out_follows_the_liquidation_policy_not_a_whole_close_at_mark() -> None:
    policy = LiquidationPolicy(auction_start=0.001, liquidator_base=0.0005, liquidation_fee=0.001)
    v = PerpVenue("perp", INST, np.array([EIGHT_H]), np.array([0.0]), 0.005, 0.01, 10_000.0, policy=policy)
    v.open("big", 30_000.0, 10.0, 100_000.0)  # 33x long, 1 million notional
    v.open("safe", 500_000.0, 1.0, 100_000.0)
    assert v.liquidatable(98_000.0) == []
    with pytest.raises(RiskError, match="not below maintenance"):
        v.liquidate("safe", "liq", 98_000.0, 1)
    assert v.liquidatable(97_400.0) == ["big"]  # equity 4,000 < 0.5% of 974,000
    before = v.account("big")[0]
    r = v.liquidate("big", "liq", 97_400.0, 2)
    # keel.risk's policy: a partial close-out back to maintenance x (1 + buffer), at the Dutch
    # auction's opening discount (0.1% here) to a liquidator account, the fee to the insurance fund
    assert 0 < r.size < before and v.account("big")[0] == pytest.approx(before - r.size)
    assert r.price == pytest.approx(97_400.0 * (1 - policy.auction_start))
    assert [x.kind for x in r.records] == ["liquidation"] and r.records[0].counterparty == "liq"
    assert {p.name: p.quantity for p in v.house.positions("liq")} == {"BTC_USD-PERPETUAL": pytest.approx(r.size)}
    assert v.liquidations == [r] and r.fee_usd > 0 and r.bad_debt_usd == 0.0
    _balanced(v)


def test_bad_debt_is_paid_by_the_insurance_fund_in_the_ledger() -> None:
    v = _venue(insurance=1_000.0)
    v.open("lev50", 2_000.0, 1.0, 100_000.0)
    r = v.liquidate("lev50", "liq", 97_000.0, 2)  # equity -1,000: no discount left to offer
    # the waterfall: auto-deleveraged against the opposite position (the maker) at the mark,
    # the deficit paid by the insurance fund
    assert [x.kind for x in r.records] == ["adl"] and r.records[0].counterparty == MAKER
    assert v.account("lev50")[0] == 0.0 and r.bad_debt_usd == pytest.approx(1_000.0)
    assert v.insurance_fund == 0.0 and v.house.ledger.balance(INSURANCE, "USD") == 0
    assert v.bad_debt == pytest.approx(r.bad_debt_usd)
    _balanced(v)


def _check_every_block(name: str, full_every: int) -> tuple[dict[str, object], object]:
    from keel.runtime.simulate import Simulation, ledger_imbalance

    sim = Simulation(ROOT / "examples" / f"{name}.toml", root=ROOT)
    world = sim.world
    blocks = 0
    while not sim.finished:
        sim.step(1)
        blocks += 1
        assert ledger_imbalance(world) == 0, f"{name}: ledger imbalance after block {blocks}"
        if world.perp is not None and blocks % full_every == 0:
            _balanced(world.perp)
        if world.book is not None and blocks % full_every == 0:
            assert world.book.house.imbalance() == 0 and world.book.house.solvency_violations() == ()
    if world.perp is not None:
        _balanced(world.perp)
    summary = sim.finish()
    assert summary["ledger_imbalance"] == 0
    return summary, world


@pytest.mark.parametrize("name", ["eth_options_desk", "options_market_maker"])
def test_desk_examples_balance_after_every_block(name: str) -> None:
    _check_every_block(name, 1)


def test_crash_example_clears_through_the_house_and_balances_after_every_block() -> None:
    summary, world = _check_every_block("crash_2025_10_10", 1)
    venue = world.perp  # type: ignore[attr-defined]
    policy = venue.house.policy
    records = [r for res in venue.liquidations for r in res.records]
    assert records and {r.kind for r in records} <= {"liquidation", "adl", "collateral"}
    # every close-out to a liquidator is priced by the policy's Dutch auction, never at the bare mark
    assert all(policy.auction_start <= r.discount <= policy.max_discount for r in records if r.kind == "liquidation")
    assert venue.house.n_liquidations == sum(1 for r in records if r.kind == "liquidation")
    perp = summary["perp"]
    assert isinstance(perp, dict)
    assert perp["liquidations"] > 100 and perp["bad_debt_usd"] > 0
    assert perp["insurance_fund_end_usd"] == pytest.approx(
        perp["insurance_fund_start_usd"] - perp["bad_debt_usd"], abs=1e5
    )


def test_the_desk_book_is_a_view_of_its_clearing_house_account() -> None:
    from keel.agents.book import OPTIONS_COUNTERPARTY, DeskBook
    from keel.domain import NS_PER_DAY, Option, OptionKind, Token

    usdc, weth = Token("USDC", 6), Token("WETH", 18)
    book = DeskBook(usdc, weth, cash=1_000_000 * 10**6)
    t0 = 1_704_412_800 * 10**9  # 2024-01-05 00:00 UTC
    odd = Option("ETH", "2300", t0 + 7 * NS_PER_DAY + 123, OptionKind.CALL, "USD", Settlement.LINEAR)
    listed = Option("ETH", "2400", t0 + 7 * NS_PER_DAY + 8 * 3600 * 10**9, OptionKind.PUT, "USD", Settlement.LINEAR)
    book.add_option(odd, -10.0, 20.125)
    book.add_option(listed, 5.0, 101.5)
    assert book.house.ledger.balance("desk", "USD") == 201_250_000 - 507_500_000  # exact premium
    assert sorted(book.options) == ["ETH_USD-12JAN24-2300-C", "ETH_USD-12JAN24-2400-P"]  # Deribit names shown
    assert book.options["ETH_USD-12JAN24-2300-C"] == (odd, -10.0)
    assert {p.name: p.quantity for p in book.house.positions(OPTIONS_COUNTERPARTY)} == {
        "ETH_USD-12JAN24-2300-C@" + str(odd.expiry_ns): 10.0,
        "ETH_USD-12JAN24-2400-P": -5.0,
    }
    book.book_swap(usdc, 2_270 * 10**6, 10**18)
    assert (book.cash, book.asset, book.hedge_trades) == (997_730 * 10**6, 10**18, 1)
    book.book_swap(weth, 2 * 10**18, 4_500 * 10**6)  # holds 1 WETH, sells 2: short 1 WETH, a recorded debt
    assert book.asset == -(10**18) and book.house.ledger.debt("desk", "WETH") == 10**18
    book.book_swap(usdc, 2_300 * 10**6, 10**18)  # bought back: the debt is repaid
    assert book.asset == 0 and book.house.ledger.debt("desk", "WETH") == 0
    before = book.house.ledger.state()
    with pytest.raises(ValidationError):
        book.book_swap(weth, -1, 4_000 * 10**6)  # refused, nothing changes
    assert book.house.ledger.state() == before
    # the odd expiry settles at its own time (not 08:00 of the day), in the house
    assert book.expire(odd.expiry_ns - 1, 2_350.0) == 0.0
    paid = book.expire(odd.expiry_ns, 2_350.0)
    assert paid == pytest.approx(-10 * 50.0) and sorted(book.options) == ["ETH_USD-12JAN24-2400-P"]
    assert book.expire(listed.expiry_ns, 2_350.0) == pytest.approx(5 * 50.0) and not book.options
    assert book.premium_cash_usd == pytest.approx(201.25 - 507.5 - 500.0 + 250.0)
    assert book.house.imbalance() == 0 and book.ledger_imbalance() == 0
    assert book.house.solvency_violations() == ()
