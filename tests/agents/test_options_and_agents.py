"""Options venue (SVI + Black-Scholes, checked against QuantLib) and the agents' pure decisions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import QuantLib as ql  # noqa: N813

from keel.agents import (
    BandPolicy,
    DeskBook,
    HedgeConfig,
    hedge_band,
    hedge_trade,
    leland_vol,
    mm_quote_vols,
    strategy_legs,
)
from keel.domain import NS_PER_DAY, NS_PER_YEAR, Option, OptionKind, Settlement, Token
from keel.errors import ValidationError
from keel.venues.options import OptionsVenue, SviSlice, SviSurface

T0 = 1_704_412_800_000_000_000  # 2024-01-05 00:00 UTC
EXPIRY = T0 + 7 * NS_PER_DAY
SLICE = SviSlice(EXPIRY, 0.004, 0.02, -0.2, 0.0, 0.05)


def _ql_price(kind: OptionKind, S: float, K: float, T: float, sigma: float) -> tuple[float, float, float, float]:
    today = ql.Date(5, 1, 2024)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    maturity = today + round(T * 365)
    payoff = ql.PlainVanillaPayoff(ql.Option.Call if kind is OptionKind.CALL else ql.Option.Put, K)
    option = ql.EuropeanOption(payoff, ql.EuropeanExercise(maturity))
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(S)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, 0.0, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, 0.0, dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), sigma, dc)),
    )
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return option.NPV(), option.delta(), option.gamma(), option.vega()


def test_svi_slice_matches_the_raw_formula_and_rejects_arbitrage() -> None:
    for k in (-0.3, -0.05, 0.0, 0.1, 0.4):
        expected = 0.004 + 0.02 * (-0.2 * k + math.sqrt(k * k + 0.05**2))
        assert SLICE.total_variance(k) == pytest.approx(expected, rel=1e-15)
    with pytest.raises(ValidationError, match="svi.rho"):
        SviSlice(EXPIRY, 0.004, 0.02, 1.2, 0.0, 0.05)
    with pytest.raises(ValidationError, match="negative"):
        SviSlice(EXPIRY, -0.01, 0.02, 0.0, 0.0, 0.05)


def test_venue_prices_and_greeks_agree_with_quantlib() -> None:
    venue = OptionsVenue("opts", SviSurface((SLICE,), T0))
    S = 2270.0
    for kind, strike in ((OptionKind.CALL, 2385), (OptionKind.PUT, 2045), (OptionKind.CALL, 2270)):
        option = Option("ETH", str(strike), EXPIRY, kind, "USD", Settlement.LINEAR)
        T = (EXPIRY - T0) / NS_PER_YEAR
        sigma = math.sqrt(SLICE.total_variance(math.log(strike / S)) / T)
        assert venue.mark_vol(option, S, T0) == pytest.approx(sigma, rel=1e-12)
        value, delta, gamma, vega, _ = venue.greeks(option, S, T0)
        ref = _ql_price(kind, S, float(strike), T, sigma)
        assert value == pytest.approx(ref[0], rel=1e-9)
        assert delta == pytest.approx(ref[1], rel=1e-9)
        assert gamma == pytest.approx(ref[2], rel=1e-9)
        assert vega == pytest.approx(ref[3], rel=1e-9)
        bid, ask = venue.quote(option, S, T0)
        assert bid < value < ask


def test_venue_fills_buys_at_ask_and_sells_at_bid() -> None:
    venue = OptionsVenue("opts", SviSurface((SLICE,), T0), half_spread_vol=0.02)
    option = Option("ETH", "2400", EXPIRY, OptionKind.CALL, "USD", Settlement.LINEAR)
    bid, ask = venue.quote(option, 2270.0, T0)
    assert venue.trade("a", option, 3.0, 2270.0, T0).price == ask
    assert venue.trade("a", option, -5.0, 2270.0, T0).price == bid
    assert venue.positions[("a", option.name)] == -2.0
    with pytest.raises(ValidationError, match="expired"):
        venue.trade("a", option, 1.0, 2270.0, EXPIRY)


def test_whalley_wilmott_band_formula_and_trades() -> None:
    cfg = HedgeConfig(BandPolicy.WHALLEY_WILMOTT, risk_aversion=1e-4, cost=0.001)
    gamma, spot = 0.5, 2270.0
    band = hedge_band(BandPolicy.WHALLEY_WILMOTT, gamma, spot, cfg)
    assert band == pytest.approx((1.5 * 0.001 * spot * gamma**2 / 1e-4) ** (1 / 3), rel=1e-15)
    assert hedge_band(BandPolicy.FIXED, gamma, spot, HedgeConfig(band=3.0)) == 3.0
    assert hedge_trade(2.0, 3.0, BandPolicy.FIXED) == 0.0
    assert hedge_trade(5.0, 3.0, BandPolicy.FIXED) == -5.0  # back to zero
    assert hedge_trade(5.0, 3.0, BandPolicy.WHALLEY_WILMOTT) == -2.0  # to the band's edge
    assert hedge_trade(-5.0, 3.0, BandPolicy.WHALLEY_WILMOTT) == 2.0


def test_leland_volatility() -> None:
    # Leland (1985): σ² (1 + √(2/π) k / (σ √δt)) for the short-gamma hedger
    sigma, k, dt_ns = 0.5, 0.002, 3600 * 10**9
    dt = dt_ns / NS_PER_YEAR
    expected = sigma * math.sqrt(1 + math.sqrt(2 / math.pi) * k / (sigma * math.sqrt(dt)))
    assert leland_vol(sigma, k, dt_ns, short_gamma=True) == pytest.approx(expected, rel=1e-15)
    assert leland_vol(sigma, k, dt_ns, short_gamma=False) < sigma


def test_market_maker_skews_against_inventory_and_caps_vega() -> None:
    flat = mm_quote_vols(0.5, 0.0, 0.01, 1e-5, 10_000.0, 100.0)
    long_vega = mm_quote_vols(0.5, 5_000.0, 0.01, 1e-5, 10_000.0, 100.0)
    assert flat == pytest.approx((0.49, 0.51))
    assert long_vega[0] is not None and long_vega[1] is not None
    assert long_vega[0] < flat[0] and long_vega[1] < flat[1]  # long vega: quotes drop to sell
    capped = mm_quote_vols(0.5, 9_950.0, 0.01, 1e-5, 10_000.0, 100.0)
    assert capped[0] is None and capped[1] is not None


def test_strategy_legs() -> None:
    condor = strategy_legs("iron_condor", 2000.0, [95.0, 0.0, 90.0], 10.0, "ETH", EXPIRY)
    assert [(float(o.strike), o.kind.value, q) for o, q in condor] == [
        (1900.0, "put", -10.0),
        (1800.0, "put", 10.0),
        (2100.0, "call", -10.0),
        (2200.0, "call", 10.0),
    ]
    strip = strategy_legs("short_call_strip", 2270.0, [105.0, 110.0], 5.0, "ETH", EXPIRY)
    assert [float(o.strike) for o, _ in strip] == [2385.0, 2495.0]
    assert all(q == -5.0 for _, q in strip)


def test_book_greeks_and_expiry_settlement() -> None:
    venue = OptionsVenue("opts", SviSurface((SLICE,), T0))
    book = DeskBook(Token("USDC", 6), Token("WETH", 18), cash=10**12)
    call = Option("ETH", "2300", EXPIRY, OptionKind.CALL, "USD", Settlement.LINEAR)
    book.add_option(call, -10.0, 20.0)
    g = book.greeks(venue, 2270.0, T0)
    v, d, ga, ve, _ = venue.greeks(call, 2270.0, T0)
    assert (g.value, g.delta, g.gamma, g.vega) == pytest.approx((-10 * v, -10 * d, -10 * ga, -10 * ve))
    assert g.theta > 0  # short options earn time decay
    paid = book.expire(EXPIRY, 2400.0)
    assert paid == pytest.approx(-10 * 100.0) and not book.options
    assert book.premium_cash_usd == pytest.approx(200.0 - 1000.0)
    assert np.isfinite(book.equity_usd(venue, 2400.0, EXPIRY))
