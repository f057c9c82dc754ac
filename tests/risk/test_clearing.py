"""Clearing house: trades, variation margin, funding, expiry, isolated margin, bad input.

Every test ends with the ledger invariant (``assert_balanced``).
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.domain import Option, parse_instrument
from keel.errors import InstrumentNameError, RiskError, ValidationError
from keel.oracle import OracleReading, OracleStatus
from keel.risk import (
    FEES,
    INSURANCE,
    SOCIALIZED,
    AccountStatus,
    ClearingHouse,
    MarginMode,
    MarketState,
    StandardMargin,
)
from keel.risk.accounts import option_mark_in_settlement

from .conftest import BTC, PERP, USDC, assert_balanced, reading, usd


def test_trade_marks_and_pnl_exact(house: ClearingHouse, market: MarketState) -> None:
    house.trade("alice", "bob", PERP, "1.5", 50_000, market, fee_rate="0.0005", taker="alice")
    assert house.ledger.balance(FEES, "USDC") == usd(37.5)
    house.step(60, {"BTC": reading(51_000.0)})
    # alice long 1.5 BTC gained exactly 1,500 USDC of variation margin
    assert house.ledger.balance("alice", "USDC") == usd(10_000 - 37.5 + 1_500)
    assert house.ledger.balance("bob", "USDC") == usd(1_000_000 - 1_500)
    view = house.view("alice", market.with_prices(BTC=51_000.0))
    assert view.unrealized_pnl == pytest.approx(1_500.0)
    assert view.equity == pytest.approx(10_000 - 37.5 + 1_500)
    assert_balanced(house)


def test_trade_away_from_mark_transfers_the_difference(house: ClearingHouse, market: MarketState) -> None:
    house.trade("alice", "bob", PERP, 1, 50_000, market)
    house.trade("bob", "alice", PERP, 1, 50_100, market)  # alice sells back higher: +100
    assert house.positions("alice") == ()
    assert house.ledger.balance("alice", "USDC") == usd(10_100)
    assert_balanced(house)


def test_initial_margin_is_enforced(house: ClearingHouse, market: MarketState) -> None:
    with pytest.raises(RiskError, match="initial margin"):
        house.trade("alice", "bob", PERP, 20, 50_000, market)  # 1M notional on 10k
    assert house.positions("alice") == ()
    assert_balanced(house)


def test_inverse_perpetual_settles_in_coin() -> None:
    h = ClearingHouse((USDC, BTC), StandardMargin())
    for a in ("a", "b"):
        h.open_account(a)
        h.deposit(a, "BTC", 10**8)  # 1 BTC each
    m = MarketState(0, {"BTC": 40_000.0})
    h.trade("a", "b", "BTC-PERPETUAL", 10_000, 40_000, m)  # long 10,000 USD of contracts
    h.step(1, {"BTC": reading(50_000.0)})
    # inverse PnL = q (1/40000 - 1/50000) BTC = 0.05 BTC
    gain = Fraction(10_000) * (Fraction(1, 40_000) - Fraction(1, 50_000)) * 10**8
    assert h.ledger.balance("a", "BTC") == 10**8 + gain
    assert h.ledger.balance("b", "BTC") == 10**8 - gain
    assert_balanced(h)


def test_funding_longs_pay_shorts(house: ClearingHouse, market: MarketState) -> None:
    house.trade("alice", "bob", PERP, 1, 50_000, market)
    before = house.ledger.balance("alice", "USDC")
    house.pay_funding(PERP, 0.0001, market)
    assert house.ledger.balance("alice", "USDC") == before - usd(5)
    with pytest.raises(ValidationError, match="perpetuals"):
        house.pay_funding("BTC-26MAR21", 0.0001, market)
    assert_balanced(house)


def test_option_premium_mark_and_expiry() -> None:
    h = ClearingHouse((USDC, BTC), StandardMargin())
    for a in ("w", "b"):
        h.open_account(a)
        h.deposit(a, "BTC", 10 * 10**8)
    t0 = 1_612_800_000 * 10**9  # 2021-02-08
    name = "BTC-26MAR21-48000-P"  # inverse: premium in BTC
    m = MarketState(t0, {"BTC": 45_000.0}, {"BTC": 0.8})
    h.trade("b", "w", name, 2, Decimal("0.1"), m)
    assert h.ledger.balance("w", "BTC") == 10 * 10**8 + 2 * 10**7
    expiry = MarketState(1_616_745_600 * 10**9, {"BTC": 40_000.0}, {"BTC": 0.8})
    h.expire(expiry)
    # the put pays (48000-40000)/40000 = 0.2 BTC per option
    assert h.ledger.balance("b", "BTC") == 10 * 10**8 - 2 * 10**7 + 4 * 10**7
    assert h.positions("b") == () and h.positions("w") == ()
    assert_balanced(h)


def test_isolated_margin_keeps_losses_in_the_sub_account(house: ClearingHouse, market: MarketState) -> None:
    sub = house.isolate("alice", PERP, "USDC", usd(2_000))
    house.trade(sub, "bob", PERP, "0.5", 50_000, market)
    house.step(1, {"BTC": reading(40_000.0)})
    house.step(2, {"BTC": reading(39_000.0)})
    assert house.ledger.balance("alice", "USDC") == usd(8_000)  # the parent is untouched
    assert house.positions(sub) == ()
    assert house.view(sub, market).mode is MarginMode.ISOLATED
    assert_balanced(house)


def test_bad_input_is_refused(house: ClearingHouse, market: MarketState) -> None:
    with pytest.raises(ValidationError, match="negative collateral"):
        house.deposit("alice", "USDC", -5)
    with pytest.raises(InstrumentNameError):
        house.trade("alice", "bob", "NOT-AN-INSTRUMENT-X-Y", 1, 100, market)
    with pytest.raises(ValidationError, match="asset"):
        house.deposit("alice", "DOGE", 5)
    with pytest.raises(ValidationError, match=r"readings\[BTC\]\.price"):
        house.step(1, {"BTC": OracleReading(float("nan"), 1.0, OracleStatus.OK, 1)})
    with pytest.raises(ValidationError, match="prices"):
        MarketState(0, {"BTC": float("nan")})
    with pytest.raises(ValidationError, match="unknown account"):
        house.deposit("nobody", "USDC", 1)
    assert_balanced(house)


def test_halted_oracle_freezes_and_never_liquidates(house: ClearingHouse, market: MarketState) -> None:
    house.trade("alice", "bob", PERP, 1, 50_000, market)
    halted = OracleReading(float("nan"), float("nan"), OracleStatus.HALTED, 1, (), ("sources disagree",))
    rep = house.step(1, {"BTC": halted})
    assert rep.liquidations == ()
    status, reason = house.status("alice")
    assert status is AccountStatus.FROZEN and "sources disagree" in reason
    with pytest.raises(RiskError, match="frozen"):
        house.withdraw("alice", "USDC", 1, market)
    # the halted price moved nothing; a usable reading unfreezes
    assert house.ledger.balance("alice", "USDC") == usd(10_000)
    house.step(2, {"BTC": reading(50_000.0)})
    assert house.status("alice")[0] is AccountStatus.ACTIVE
    assert_balanced(house)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(
                st.just("trade"),
                st.sampled_from(["a", "b", "c"]),
                st.sampled_from(["a", "b", "c"]),
                st.decimals("0.001", "3", places=3),
                st.sampled_from([PERP, "ETH_USDC-PERPETUAL"]),
            ),
            st.tuples(st.just("move"), st.floats(-0.25, 0.25), st.floats(-0.25, 0.25)),
            st.tuples(st.just("fund"), st.floats(-0.003, 0.003)),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_random_sequences_keep_the_ledger_balanced(ops: list[tuple[object, ...]]) -> None:
    h = ClearingHouse((USDC,), StandardMargin())
    for a in ("a", "b", "c"):
        h.open_account(a)
        h.deposit(a, "USDC", usd(20_000))
    h.open_account("liq", liquidator=True)
    h.deposit("liq", "USDC", usd(10_000_000))
    h.seed_insurance("USDC", usd(5_000))
    deposits = usd(20_000) * 3 + usd(10_000_000) + usd(5_000)
    px = {"BTC": 50_000.0, "ETH": 3_000.0}
    ts = 0
    for op in ops:
        ts += 60 * 10**9
        m = MarketState(ts, px)
        if op[0] == "trade":
            _, buyer, seller, qty, name = op
            if buyer == seller:
                continue
            und = "BTC" if name == PERP else "ETH"
            with contextlib.suppress(RiskError):  # refused for margin or status: nothing moves
                h.trade(
                    str(buyer),
                    str(seller),
                    str(name),
                    qty,
                    Decimal(repr(px[und])),
                    m,
                    fee_rate="0.001",
                    taker=str(buyer),
                )
        elif op[0] == "move":
            px = {"BTC": px["BTC"] * (1 + float(op[1])), "ETH": px["ETH"] * (1 + float(op[2]))}
            h.step(ts, {k: reading(v, v * 0.001, ts) for k, v in px.items()})
        else:
            h.pay_funding(PERP, float(op[1]), m)
        assert h.imbalance() == 0
        assert h.system_totals() == {"USDC": deposits}
        # sum of account equities + insurance + fees + socialized is conserved (exact ints at the mark)
        m = MarketState(ts, px)
        eq = sum(h.equity(a, m) for a in h.account_ids)
        reserved = sum(h.ledger.balance(x, "USDC") for x in (INSURANCE, FEES, SOCIALIZED)) / USDC.unit
        assert eq + reserved == pytest.approx(deposits / USDC.unit, rel=1e-12, abs=1e-6)


_OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("trade"),
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from([PERP, "BTC-PERPETUAL", "BTC_USDC-26MAR21-40000-P", "BTC-26MAR21-60000-C"]),
            st.integers(1, 40),
        ),
        st.tuples(st.just("move"), st.floats(-0.3, 0.3), st.booleans()),
        st.tuples(st.just("halt")),
        st.tuples(st.just("fund"), st.floats(-0.003, 0.003)),
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=20, deadline=None)
@given(_OPS)
def test_random_multi_asset_sequences_keep_the_ledger_balanced(ops: list[tuple[object, ...]]) -> None:
    """Linear and inverse perpetuals, linear and inverse options, BTC and USDC collateral,
    price moves (liquidations, ADL, bad debt), halted readings and funding, in any order."""
    h = ClearingHouse((USDC, BTC), StandardMargin())
    for a in ("a", "b", "c"):
        h.open_account(a)
        h.deposit(a, "USDC", usd(30_000))
        h.deposit(a, "BTC", 10**8 // 2)
    h.open_account("liq", liquidator=True)
    h.deposit("liq", "USDC", usd(50_000_000))
    h.deposit("liq", "BTC", 1_000 * 10**8)
    h.seed_insurance("USDC", usd(10_000))
    totals = dict(h.system_totals())
    t0 = 1_612_800_000 * 10**9
    px = 45_000.0
    ts = t0
    for op in ops:
        ts += 3_600 * 10**9
        m = MarketState(ts, {"BTC": px}, {"BTC": 0.8})
        if op[0] == "trade":
            _, buyer, seller, name, n = op
            if buyer == seller:
                continue
            name = str(name)
            inst = parse_instrument(name)
            if isinstance(inst, Option):
                price = option_mark_in_settlement(inst, name, m)
                if price <= 0:
                    continue
                qty = Decimal(int(n)) / 10
            elif name == "BTC-PERPETUAL":
                price, qty = Decimal(repr(px)), Decimal(int(n)) * 1_000
            else:
                price, qty = Decimal(repr(px)), Decimal(int(n)) / 20
            with contextlib.suppress(RiskError):
                h.trade(str(buyer), str(seller), name, qty, price, m)
        elif op[0] == "move":
            px *= 1 + float(op[1])
            present = bool(op[2])
            h.step(ts, {"BTC": reading(px, px * 0.001, ts)}, vols={"BTC": 0.8}, liquidators_present=present)
        elif op[0] == "halt":
            h.step(ts, {"BTC": OracleReading(float("nan"), float("nan"), OracleStatus.HALTED, ts, (), ("test",))})
        else:
            with contextlib.suppress(ValidationError):
                h.pay_funding(PERP, float(op[1]), m)
                h.pay_funding("BTC-PERPETUAL", float(op[1]), m)
        assert h.imbalance() == 0
        assert h.system_totals() == totals
