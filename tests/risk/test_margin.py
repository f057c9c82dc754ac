"""Margin models against references nobody here wrote: QuantLib option values for every
scenario of the portfolio grid, Deribit's own marks for inverse premiums, and the published
formulas of the dYdX v4 tiers and RTS 153/2013 Art. 28."""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import mpmath
import numpy as np
import pytest
import QuantLib as ql  # noqa: N813

from keel.domain import Option, parse_instrument
from keel.errors import ValidationError
from keel.risk import (
    APCMethod,
    LiquidityTier,
    MarginModel,
    MarketState,
    PortfolioMargin,
    PositionView,
    PredictiveMargin,
    ScenarioGrid,
    SizeTier,
    StandardMargin,
    VolForecast,
    apc_scan_range,
    portfolio_scan,
    risk_arrays,
)
from keel.risk.accounts import option_mark_in_settlement
from keel.risk.scenario import KIND_CALL, KIND_INVERSE, KIND_LINEAR, KIND_PUT

T0 = 1_612_877_925 * 10**9  # 2021-02-09 13:38:45 UTC (the Deribit snapshot)


def _ql_price(call: bool, s: float, k: float, t: float, vol: float) -> float:
    today = ql.Date(9, 2, 2021)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    days = t * 365.0
    expiry = today + round(days)
    # QuantLib works in whole days; use the exact year fraction through a flat vol scaled to it
    t_ql = dc.yearFraction(today, expiry)
    vol_eff = vol * math.sqrt(t / t_ql) if t_ql > 0 else vol
    payoff = ql.PlainVanillaPayoff(ql.Option.Call if call else ql.Option.Put, k)
    opt = ql.EuropeanOption(payoff, ql.EuropeanExercise(expiry))
    proc = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(s)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, 0.0, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, 0.0, dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), vol_eff, dc)),
    )
    opt.setPricingEngine(ql.AnalyticEuropeanEngine(proc))
    return float(opt.NPV())


def test_deribit_default_grid() -> None:
    g = ScenarioGrid.deribit()
    moves, shocks, weights = g.arrays()
    assert g.n_regular == 27 and g.n_scenarios == 29
    assert moves[:27].min() == pytest.approx(-0.16) and moves[:27].max() == pytest.approx(0.16)
    assert sorted(set(np.round(shocks[:27], 6))) == [-0.3, 0.0, 0.45]
    assert list(moves[27:]) == [-0.66, 5.0] and list(weights[27:]) == pytest.approx([1 / 3, 1 / 3])


def test_risk_arrays_match_quantlib_in_every_scenario() -> None:
    s0 = 45_000.0
    strikes = np.array([36_000.0, 48_000.0, 60_000.0])
    kinds = np.array([KIND_PUT, KIND_CALL, KIND_CALL])
    t = np.array([10 / 365, 45 / 365, 0.5])
    vol = np.array([0.9, 0.8, 0.75])
    g = ScenarioGrid.deribit()
    risk = risk_arrays(kinds, strikes, t, vol, np.full(3, s0), g)
    moves, shocks, weights = g.arrays()
    for i in range(3):
        call = kinds[i] == KIND_CALL
        v0 = _ql_price(call, s0, strikes[i], t[i], vol[i])
        scale = (30.0 / max(t[i] * 365.0, 1.0)) ** 0.3
        for j in range(moves.size):
            vj = vol[i] * (1 + shocks[j] * scale)
            ref = weights[j] * (_ql_price(call, s0 * (1 + moves[j]), strikes[i], t[i], vj) - v0)
            assert risk[i, j] == pytest.approx(ref, rel=1e-7, abs=1e-6)


def test_portfolio_scan_matches_a_plain_loop() -> None:
    rng = np.random.default_rng(3)
    risk = rng.normal(0, 100, (12, 29))
    group = np.array([0] * 6 + [1] * 6)
    cont = np.abs(rng.normal(0, 5, 12))
    idx = rng.integers(-1, 12, (50, 4))
    qty = rng.normal(0, 2, (50, 4))
    loss, c = portfolio_scan(idx, qty, risk, group, cont)
    for a in range(50):
        pnl = np.zeros((2, 29))
        cc = 0.0
        for p in range(4):
            if idx[a, p] >= 0:
                pnl[group[idx[a, p]]] += qty[a, p] * risk[idx[a, p]]
                cc += max(-qty[a, p], 0.0) * cont[idx[a, p]]
        assert loss[a] == pytest.approx(sum(max(0.0, -row.min()) for row in pnl))
        assert c[a] == pytest.approx(cc)
    with pytest.raises(ValidationError, match="qty"):
        portfolio_scan(idx, qty[:, :2], risk)


def _pv(name: str, q: float) -> PositionView:
    return PositionView(name, parse_instrument(name), q)


def test_portfolio_margin_short_put_with_contingency() -> None:
    m = MarketState(T0, {"BTC": 45_000.0}, {"BTC": 0.8})
    pm = PortfolioMargin()
    req = pm.requirement([_pv("BTC-26MAR21-40000-P", -2.0)], m)
    assert isinstance(pm, MarginModel)
    assert req.detail["contingency"] == pytest.approx(2 * 0.01 * 45_000)
    inst = parse_instrument("BTC-26MAR21-40000-P")
    assert isinstance(inst, Option)
    t = inst.time_to_expiry(T0)
    v0 = _ql_price(False, 45_000, 40_000, t, 0.8)
    scale = (30.0 / (t * 365)) ** 0.3
    worst_regular = max(
        2 * (_ql_price(False, 45_000 * (1 + mv), 40_000, t, 0.8 * (1 + sh * scale)) - v0)
        for mv in np.linspace(-0.16, 0.16, 9)
        for sh in (-0.3, 0.0, 0.45)
    )
    worst_ext = 2 * (_ql_price(False, 45_000 * 0.34, 40_000, t, 0.8) - v0) / 3
    assert req.detail["scan"] == pytest.approx(max(worst_regular, worst_ext), rel=1e-7)
    assert req.initial == pytest.approx(1.3 * req.maintenance)
    # a long put against it (a spread) needs less margin than the naked short
    spread = pm.requirement([_pv("BTC-26MAR21-40000-P", -2.0), _pv("BTC-26MAR21-36000-P", 2.0)], m)
    assert spread.maintenance < req.maintenance


def test_delta_one_closed_form_equals_the_kernel() -> None:
    m = MarketState(T0, {"BTC": 45_000.0, "ETH": 1_700.0}, {"BTC": 0.8})
    pm = PortfolioMargin()
    pos = [_pv("BTC_USDC-PERPETUAL", 3.0), _pv("BTC-PERPETUAL", -50_000.0), _pv("ETH_USDC-PERPETUAL", -10.0)]
    req = pm.requirement(pos, m)
    g = ScenarioGrid.deribit()
    kinds = np.array([KIND_LINEAR, KIND_INVERSE])
    risk = risk_arrays(kinds, np.zeros(2), np.zeros(2), np.zeros(2), np.full(2, 45_000.0), g)
    loss_btc, _ = portfolio_scan(np.array([[0, 1]]), np.array([[3.0, -50_000.0]]), risk)
    risk_e = risk_arrays(np.array([KIND_LINEAR]), np.zeros(1), np.zeros(1), np.zeros(1), np.full(1, 1_700.0), g)
    loss_eth, _ = portfolio_scan(np.array([[0]]), np.array([[-10.0]]), risk_e)
    assert req.detail["scan_BTC"] == pytest.approx(float(loss_btc[0]))
    assert req.detail["scan_ETH"] == pytest.approx(float(loss_eth[0]))


def test_standard_margin_tiers_and_open_interest() -> None:
    tier = LiquidityTier(
        size_tiers=(SizeTier(100_000.0, 0.05), SizeTier(math.inf, 0.10)),
        maintenance_fraction=0.6,
        oi_lower_cap=1_000_000.0,
        oi_upper_cap=3_000_000.0,
    )
    sm = StandardMargin({"BTC": tier})
    m = MarketState(0, {"BTC": 50_000.0})
    small = sm.requirement([_pv("BTC_USDC-PERPETUAL", 1.0)], m)
    assert (small.initial, small.maintenance) == pytest.approx((2_500.0, 1_500.0))
    big = sm.requirement([_pv("BTC_USDC-PERPETUAL", -4.0)], m)
    assert big.initial == pytest.approx(20_000.0)
    # open interest 2M USD: halfway between the caps -> imf = 0.1 + 0.9 x 0.5
    m_oi = MarketState(0, {"BTC": 50_000.0}, open_interest={"BTC_USDC-PERPETUAL": 40.0})
    crowded = sm.requirement([_pv("BTC_USDC-PERPETUAL", -4.0)], m_oi)
    assert crowded.initial == pytest.approx(200_000.0 * 0.55)
    assert crowded.maintenance == pytest.approx(200_000.0 * 0.55 * 0.6)
    # inverse contracts are USD notional
    inv = sm.requirement([_pv("BTC-PERPETUAL", 50_000.0)], m)
    assert inv.initial == pytest.approx(2_500.0)


def test_standard_short_option_rule() -> None:
    m = MarketState(T0, {"BTC": 45_000.0}, {"BTC": 0.8})
    req = StandardMargin().requirement([_pv("BTC-26MAR21-40000-P", -1.0)], m)
    inst = parse_instrument("BTC-26MAR21-40000-P")
    assert isinstance(inst, Option)
    mark = _ql_price(False, 45_000, 40_000, inst.time_to_expiry(T0), 0.8)
    otm = 5_000.0
    assert req.initial == pytest.approx(max(0.15 - otm / 45_000, 0.10) * 45_000 + mark, rel=1e-8)
    assert req.maintenance == pytest.approx(0.075 * 45_000 + mark, rel=1e-8)


def test_inverse_option_premium_matches_deribit_marks(data_dir: Path) -> None:
    """Coin premium = linear (Black) price / S, with S the expiry's forward: Deribit's own marks."""
    path = data_dir / "deribit_option_chain_snapshots_2021-02" / "btc_option_chain_2021-02-09T1338Z.csv"
    errors = []
    for r in csv.DictReader(path.open()):
        if float(r["mark_price"]) < 0.001:
            continue
        name = r["instrument_name"]
        fwd = float(r["underlying_price"])  # Deribit prices each expiry off its forward
        m = MarketState(int(r["timestamp"]) * 10**6, {"BTC": fwd}, option_vols={name: float(r["mark_iv"]) / 100.0})
        inst = parse_instrument(name)
        assert isinstance(inst, Option)
        errors.append(abs(float(option_mark_in_settlement(inst, name, m)) - float(r["mark_price"])))
    assert len(errors) > 400
    # rows of one snapshot span ~1 minute, so forward and mark are not taken at the same instant
    assert float(np.median(errors)) < 5e-5
    assert max(errors) < 6e-4


def test_apc_scan_range_measures() -> None:
    z = float(mpmath.sqrt(2) * mpmath.erfinv(0.99))  # two-sided 99% quantile, independently
    base = 1 - math.exp(-z * 0.02)
    assert apc_scan_range(0.02, method=APCMethod.NONE) == pytest.approx(base, rel=1e-9)
    assert apc_scan_range(0.02, method=APCMethod.BUFFER) == pytest.approx(1.25 * base, rel=1e-9)
    assert apc_scan_range(0.02, method=APCMethod.BUFFER, buffer_released=True) == pytest.approx(base)
    blend = math.sqrt(0.75 * 0.02**2 + 0.25 * 0.06**2)
    assert apc_scan_range(0.02, method=APCMethod.STRESSED_WEIGHT, sigma_stressed=0.06) == pytest.approx(
        1 - math.exp(-z * blend)
    )
    assert apc_scan_range(0.02, method=APCMethod.TEN_YEAR_FLOOR, sigma_long=0.03) == pytest.approx(
        1 - math.exp(-z * 0.03)
    )
    with pytest.raises(ValidationError, match="sigma_stressed"):
        apc_scan_range(0.02, method=APCMethod.STRESSED_WEIGHT)
    with pytest.raises(ValidationError, match="sigma_h"):
        apc_scan_range(float("nan"))


def test_predictive_margin_scales_with_the_forecast_and_respects_the_floor() -> None:
    m = MarketState(0, {"BTC": 50_000.0})
    pos = [_pv("BTC_USDC-PERPETUAL", 1.0)]
    calm = PredictiveMargin(
        {"BTC": VolForecast("ewma", (1e-4,))}, base=PortfolioMargin(grid=ScenarioGrid(extended_moves=()))
    )
    wild = PredictiveMargin(
        {"BTC": VolForecast("ewma", (4e-4,))}, base=PortfolioMargin(grid=ScenarioGrid(extended_moves=()))
    )
    r_calm, r_wild = calm.requirement(pos, m), wild.requirement(pos, m)
    assert r_calm.maintenance == pytest.approx(50_000.0 * calm.scan_range("BTC"))
    assert r_wild.maintenance > 1.9 * r_calm.maintenance  # sigma doubled
    floored = PredictiveMargin(
        {"BTC": VolForecast("ewma", (1e-8,))}, floor_model=StandardMargin(), base=calm.base
    ).requirement(pos, m)
    assert floored.maintenance == pytest.approx(StandardMargin().requirement(pos, m).maintenance)
    with pytest.raises(ValidationError, match="forecasts"):
        calm.requirement([_pv("ETH_USDC-PERPETUAL", 1.0)], MarketState(0, {"ETH": 2_000.0}))
    _ = dt  # imported for readers computing dates by hand
