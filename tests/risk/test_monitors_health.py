"""Risk monitors (events) and the vectorized health scan."""

from __future__ import annotations

import math

import numpy as np
import pytest

from keel.domain import parse_instrument
from keel.errors import ValidationError
from keel.pricing import greeks
from keel.risk import AccountStatus, MarketState, PositionView
from keel.risk.health import health_scan
from keel.risk.monitors import (
    AccountFrozen,
    HedgeRequested,
    Liquidate,
    MonitorThresholds,
    ReduceOnly,
    RiskMonitor,
    margin_ratio,
    portfolio_greeks,
)

T0 = 1_612_877_925 * 10**9


def _pv(name: str, q: float) -> PositionView:
    return PositionView(name, parse_instrument(name), q)


def test_portfolio_greeks_sum_positions() -> None:
    m = MarketState(T0, {"BTC": 45_000.0}, {"BTC": 0.8})
    pos = [_pv("BTC-26MAR21-40000-P", -2.0), _pv("BTC-PERPETUAL", 90_000.0), _pv("BTC_USDC-PERPETUAL", 0.5)]
    g = portfolio_greeks(pos, m)["BTC"]
    inst = parse_instrument("BTC-26MAR21-40000-P")
    t = inst.time_to_expiry(T0)  # type: ignore[union-attr]
    ref = greeks("put", 45_000.0, 40_000.0, t, 0.0, 0.8)
    assert g.delta == pytest.approx(-2 * float(ref.delta) + 2.0 + 0.5)
    assert g.gamma == pytest.approx(-2 * float(ref.gamma))
    assert g.vega == pytest.approx(-2 * float(ref.vega))


def test_monitor_emits_events() -> None:
    m = MarketState(T0, {"BTC": 45_000.0}, {"BTC": 0.8})
    mon = RiskMonitor(MonitorThresholds(max_delta={"BTC": 1.0}, max_vega={"BTC": 1e9}))
    ev = mon.check(T0, "a", [_pv("BTC_USDC-PERPETUAL", 3.0)], m, collateral=10_000.0, maintenance=8_500.0)
    assert ev == (
        HedgeRequested(T0, "a", "BTC", "delta", 3.0, 1.0, -3.0),
        ReduceOnly(T0, "a", 0.85, 0.8),
    )
    ev = mon.check(T0, "a", [], m, collateral=-1.0, maintenance=10.0)
    assert ev == (Liquidate(T0, "a", math.inf, 1.0),)
    ev = mon.check(T0, "a", [], m, 1.0, 1.0, AccountStatus.FROZEN, "oracle halted")
    assert ev == (AccountFrozen(T0, "a", "oracle halted"),)
    assert margin_ratio(0.0, 0.0) == 0.0
    with pytest.raises(ValidationError):
        MonitorThresholds(reduce_only_ratio=1.5)


def test_health_scan_matches_a_loop_at_the_favourable_edge() -> None:
    rng = np.random.default_rng(5)
    n, u = 2_000, 3
    col = rng.uniform(100, 10_000, n)
    qty = rng.normal(0, 1, (n, u)) * (rng.uniform(size=(n, u)) < 0.7)
    ref = rng.uniform(90, 110, (n, u))
    mmf = np.array([0.05, 0.03, 0.1])
    price = np.array([100.0, 95.0, 104.0])
    conf = np.array([0.5, 1.0, 0.2])
    eq, mm, flag = health_scan(col, qty, ref, mmf, price, conf)
    for a in range(0, n, 37):
        e, mt = col[a], 0.0
        for j in range(u):
            q = qty[a, j]
            if q == 0:
                continue
            p = price[j] + conf[j] if q > 0 else price[j] - conf[j]
            e += q * (p - ref[a, j])
            mt += mmf[j] * abs(q) * p
        assert eq[a] == pytest.approx(e) and mm[a] == pytest.approx(mt) and flag[a] == (e < mt)
    with pytest.raises(ValidationError, match="price"):
        health_scan(col, qty, ref, mmf, np.array([100.0, float("nan"), 1.0]), conf)


def test_health_book_equals_the_stateless_scan_and_updates() -> None:
    from keel.risk.health import HealthBook

    rng = np.random.default_rng(9)
    n, u = 500, 2
    col = rng.uniform(100, 1_000, n)
    qty = rng.normal(0, 1, (n, u))
    ref = rng.uniform(95, 105, (n, u))
    mmf = np.array([0.05, 0.1])
    price, conf = np.array([100.0, 101.0]), np.array([0.3, 0.0])
    eq, mm, flag = health_scan(col, qty, ref, mmf, price, conf)
    book = HealthBook(col, qty, ref, mmf)
    slack, bflag = book.scan(price, conf)
    np.testing.assert_allclose(slack, eq - mm, rtol=1e-12, atol=1e-9)
    assert np.array_equal(bflag, flag)
    qty[3] = [5.0, -2.0]
    book.update(3, float(col[3]), qty[3], ref[3])
    eq, mm, _ = health_scan(col, qty, ref, mmf, price, conf)
    assert book.scan(price, conf)[0][3] == pytest.approx(eq[3] - mm[3])
    with pytest.raises(ValidationError, match="price"):
        book.scan(np.array([100.0, -1.0]), conf)


def test_clearing_house_monitor_events() -> None:
    from decimal import Decimal

    from keel.risk import ClearingHouse, CollateralAsset, StandardMargin

    h = ClearingHouse((CollateralAsset("USDC", 6),), StandardMargin())
    for a in ("x", "y"):
        h.open_account(a)
        h.deposit(a, "USDC", 10_000 * 10**6)
    m = MarketState(0, {"BTC": 50_000.0})
    h.trade("x", "y", "BTC_USDC-PERPETUAL", Decimal("2"), 50_000, m)
    mon = RiskMonitor(MonitorThresholds(max_delta={"BTC": 1.0}))
    ev = h.monitor_events(mon, m)
    assert HedgeRequested(0, "x", "BTC", "delta", 2.0, 1.0, -2.0) in ev
    assert HedgeRequested(0, "y", "BTC", "delta", -2.0, 1.0, 2.0) in ev
    low = m.with_prices(BTC=45_500.0)  # equity 1,000 vs maintenance 1,092
    assert any(isinstance(e, (ReduceOnly, Liquidate)) and e.account_id == "x" for e in h.monitor_events(mon, low))


def test_reduce_only_status_blocks_risk_increases() -> None:
    from decimal import Decimal

    from keel.errors import RiskError
    from keel.risk import ClearingHouse, CollateralAsset, StandardMargin

    h = ClearingHouse((CollateralAsset("USDC", 6),), StandardMargin())
    for a in ("x", "y"):
        h.open_account(a)
        h.deposit(a, "USDC", 10_000 * 10**6)
    m = MarketState(0, {"BTC": 50_000.0})
    h.trade("x", "y", "BTC_USDC-PERPETUAL", Decimal("2"), 50_000, m)
    stressed = m.with_prices(BTC=45_800.0)  # x: equity 1,600 vs maintenance 1,099 -> ratio 0.69
    mon = RiskMonitor(MonitorThresholds(reduce_only_ratio=0.6))
    h.monitor_events(mon, stressed, apply=True)
    assert h.status("x")[0] is AccountStatus.REDUCE_ONLY
    with pytest.raises(RiskError, match="reduce_only"):
        h.trade("x", "y", "BTC_USDC-PERPETUAL", Decimal("0.1"), 45_800, stressed)
    h.trade("y", "x", "BTC_USDC-PERPETUAL", Decimal("1"), 45_800, stressed)  # reducing is allowed
    h.monitor_events(mon, m, apply=True)
    assert h.status("x")[0] is AccountStatus.ACTIVE
    assert h.imbalance() == 0
