"""QuantLib reference prices (an implementation nobody here wrote) for the Monte Carlo tests."""

from __future__ import annotations

import QuantLib as ql  # noqa: N813

_TODAY = ql.Date(15, 1, 2024)
# Actual/360 lets T = 0.5, 0.25, 1 be whole day counts (T = days/360 exactly in QuantLib).
_DC = ql.Actual360()


def _setup() -> None:
    ql.Settings.instance().evaluationDate = _TODAY


def _curve(rate: float) -> ql.YieldTermStructureHandle:
    return ql.YieldTermStructureHandle(ql.FlatForward(_TODAY, rate, _DC))


def _expiry(T: float) -> ql.Date:
    days = round(T * 360)
    assert abs(days - T * 360) < 1e-9, "T*360 must be a whole number of days for the QuantLib references"
    return _TODAY + days


def _bsm(S: float, r: float, q: float, sigma: float) -> ql.BlackScholesMertonProcess:
    vol = ql.BlackVolTermStructureHandle(ql.BlackConstantVol(_TODAY, ql.NullCalendar(), sigma, _DC))
    return ql.BlackScholesMertonProcess(ql.QuoteHandle(ql.SimpleQuote(S)), _curve(q), _curve(r), vol)


def _otype(kind: str) -> int:
    return ql.Option.Call if kind == "call" else ql.Option.Put


_BARRIER = {
    "down-and-out": ql.Barrier.DownOut,
    "down-and-in": ql.Barrier.DownIn,
    "up-and-out": ql.Barrier.UpOut,
    "up-and-in": ql.Barrier.UpIn,
}


def barrier(kind: str, btype: str, S: float, K: float, H: float, rebate: float, T: float, r: float, q: float,
            sigma: float) -> float:  # fmt: skip
    _setup()
    opt = ql.BarrierOption(
        _BARRIER[btype], H, rebate, ql.PlainVanillaPayoff(_otype(kind), K), ql.EuropeanExercise(_expiry(T))
    )
    opt.setPricingEngine(ql.AnalyticBarrierEngine(_bsm(S, r, q, sigma)))
    return float(opt.NPV())


def heston(kind: str, S: float, K: float, T: float, r: float, q: float, v0: float, kappa: float, theta: float,
           xi: float, rho: float) -> float:  # fmt: skip
    _setup()
    proc = ql.HestonProcess(_curve(r), _curve(q), ql.QuoteHandle(ql.SimpleQuote(S)), v0, kappa, theta, xi, rho)
    opt = ql.VanillaOption(ql.PlainVanillaPayoff(_otype(kind), K), ql.EuropeanExercise(_expiry(T)))
    opt.setPricingEngine(ql.AnalyticHestonEngine(ql.HestonModel(proc)))
    return float(opt.NPV())


def lookback_floating_call(S: float, S_min: float, T: float, r: float, q: float, sigma: float) -> float:
    _setup()
    opt = ql.ContinuousFloatingLookbackOption(
        S_min, ql.FloatingTypePayoff(ql.Option.Call), ql.EuropeanExercise(_expiry(T))
    )
    opt.setPricingEngine(ql.AnalyticContinuousFloatingLookbackEngine(_bsm(S, r, q, sigma)))
    return float(opt.NPV())


def geometric_asian_discrete(S: float, K: float, T: float, r: float, q: float, sigma: float, n: int) -> float:
    """Fixings at ``i T / n`` (i = 1..n); T*360 must be a multiple of n."""
    _setup()
    days = round(T * 360)
    assert days % n == 0
    dates = [_TODAY + (i * days) // n for i in range(1, n + 1)]
    opt = ql.DiscreteAveragingAsianOption(
        ql.Average.Geometric, 1.0, 0, dates, ql.PlainVanillaPayoff(ql.Option.Call, K), ql.EuropeanExercise(dates[-1])
    )
    opt.setPricingEngine(ql.AnalyticDiscreteGeometricAveragePriceAsianEngine(_bsm(S, r, q, sigma)))
    return float(opt.NPV())


def geometric_asian_continuous(S: float, K: float, T: float, r: float, q: float, sigma: float) -> float:
    _setup()
    opt = ql.ContinuousAveragingAsianOption(
        ql.Average.Geometric, ql.PlainVanillaPayoff(ql.Option.Call, K), ql.EuropeanExercise(_expiry(T))
    )
    opt.setPricingEngine(ql.AnalyticContinuousGeometricAveragePriceAsianEngine(_bsm(S, r, q, sigma)))
    return float(opt.NPV())
