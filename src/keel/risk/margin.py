"""Margin models behind one interface: standard (tiered), portfolio (scenario grid), predictive.

Every model answers :meth:`MarginModel.requirement` with a :class:`MarginRequirement` in USD
for a set of :class:`keel.risk.PositionView` at a :class:`keel.risk.MarketState`.  Collateral
(cash balances) is not a position: it enters through the account's haircut collateral value.

- :class:`StandardMargin`: initial/maintenance fractions of notional by position-size tier,
  with the initial fraction rising linearly to 100% between open-interest caps (dYdX v4's
  liquidity tiers); maintenance = initial × ``maintenance_fraction``.  Short options use the
  Deribit standard rule ``max(0.15 − OTM/S, 0.10)·S`` initial, ``0.075·S`` maintenance, plus mark.
- :class:`PortfolioMargin`: worst loss over a :class:`keel.risk.ScenarioGrid` per underlying
  plus a contingency add-on of ``contingency × S`` per net-short option (maintenance);
  initial = maintenance × ``im_factor`` (Deribit: 1.3).
- :class:`PredictiveMargin`: the same grid with its price range set per underlying to
  ``z(confidence) × σ_h`` from a volatility forecast, after an EU RTS 153/2013 Art. 28
  anti-procyclicality measure (:class:`APCMethod`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from statistics import NormalDist
from typing import Protocol, runtime_checkable

import numpy as np

from keel.domain import Future, Option, OptionKind, Perpetual, Settlement, Spot, year_fraction
from keel.errors import ValidationError
from keel.pricing.kernels import bs_price
from keel.risk.accounts import MarketState, PositionView, underlying_of
from keel.risk.scenario import (
    KIND_CALL,
    KIND_INVERSE,
    KIND_LINEAR,
    KIND_PUT,
    ScenarioGrid,
    portfolio_scan,
    risk_arrays,
)
from keel.risk.volatility import VolForecast

__all__ = [
    "APCMethod",
    "LiquidityTier",
    "MarginModel",
    "MarginRequirement",
    "PortfolioMargin",
    "PredictiveMargin",
    "SizeTier",
    "StandardMargin",
    "apc_scan_range",
]


@dataclass(frozen=True, slots=True)
class MarginRequirement:
    """``initial`` and ``maintenance`` margin in USD; ``detail`` names the parts (USD)."""

    initial: float
    maintenance: float
    model: str
    detail: Mapping[str, float] = field(default_factory=dict)


@runtime_checkable
class MarginModel(Protocol):
    """What every margin model provides."""

    @property
    def name(self) -> str: ...

    def requirement(self, positions: Sequence[PositionView], market: MarketState) -> MarginRequirement: ...


def _notional_usd(p: PositionView, market: MarketState) -> float:
    inst = p.instrument
    if isinstance(inst, Perpetual | Future) and inst.settlement is Settlement.INVERSE:
        return abs(p.quantity)  # USD contracts
    return abs(p.quantity) * market.price(underlying_of(inst))


# ---------------------------------------------------------------- standard -----------
@dataclass(frozen=True, slots=True)
class SizeTier:
    """Positions with notional up to ``max_notional`` USD use initial fraction ``imf``."""

    max_notional: float
    imf: float


@dataclass(frozen=True, slots=True)
class LiquidityTier:
    """dYdX v4-style liquidity tier of one market.

    ``size_tiers`` sorted by ``max_notional`` (the last one applies beyond); the initial
    fraction rises linearly from the tier's value to 1.0 as the market's open interest (USD)
    goes from ``oi_lower_cap`` to ``oi_upper_cap``; ``maintenance_fraction`` × initial is
    the maintenance fraction.
    """

    size_tiers: tuple[SizeTier, ...] = (
        SizeTier(1_000_000.0, 0.02),
        SizeTier(5_000_000.0, 0.04),
        SizeTier(20_000_000.0, 0.08),
        SizeTier(math.inf, 0.15),
    )
    maintenance_fraction: float = 0.6
    oi_lower_cap: float = 500_000_000.0
    oi_upper_cap: float = 1_000_000_000.0

    def __post_init__(self) -> None:
        if not self.size_tiers:
            raise ValidationError("size_tiers", self.size_tiers, "need at least one tier")
        last = 0.0
        for t in self.size_tiers:
            if not 0.0 < t.imf <= 1.0:
                raise ValidationError("imf", t.imf, "must be in (0, 1]")
            if t.max_notional <= last:
                raise ValidationError("max_notional", t.max_notional, "tiers must be increasing")
            last = t.max_notional
        if not 0.0 < self.maintenance_fraction <= 1.0:
            raise ValidationError("maintenance_fraction", self.maintenance_fraction, "must be in (0, 1]")
        if not 0.0 <= self.oi_lower_cap < self.oi_upper_cap:
            raise ValidationError("oi_upper_cap", self.oi_upper_cap, "must exceed oi_lower_cap >= 0")

    def fractions(self, notional: float, open_interest_usd: float) -> tuple[float, float]:
        """(initial, maintenance) fractions for a position of ``notional`` USD."""
        imf = self.size_tiers[-1].imf
        for t in self.size_tiers:
            if notional <= t.max_notional:
                imf = t.imf
                break
        x = (open_interest_usd - self.oi_lower_cap) / (self.oi_upper_cap - self.oi_lower_cap)
        x = min(max(x, 0.0), 1.0)
        imf = imf + (1.0 - imf) * x
        return imf, imf * self.maintenance_fraction


@dataclass(frozen=True)
class StandardMargin:
    """Per-position tiered margin (no offsets between positions)."""

    tiers: Mapping[str, LiquidityTier] = field(default_factory=dict)
    default_tier: LiquidityTier = field(default_factory=LiquidityTier)
    name: str = "standard"

    def tier(self, underlying: str) -> LiquidityTier:
        return self.tiers.get(underlying, self.default_tier)

    def requirement(self, positions: Sequence[PositionView], market: MarketState) -> MarginRequirement:
        im = mm = 0.0
        opt_im = opt_mm = 0.0
        for p in positions:
            if p.quantity == 0.0:
                continue
            inst = p.instrument
            s = market.price(underlying_of(inst))
            if isinstance(inst, Spot):
                continue
            if isinstance(inst, Option):
                if p.quantity >= 0:
                    continue  # long options: premium paid, value counted in equity
                t = max(year_fraction(market.ts_ns, inst.expiry_ns), 0.0)
                k = inst.strike_float
                otm = max(k - s, 0.0) if inst.kind is OptionKind.CALL else max(s - k, 0.0)
                mark = float(bs_price(float(inst.kind.sign), s, k, t, market.rate, 0.0, market.vol(inst, p.name)))
                q = -p.quantity
                opt_im += q * (max(0.15 - otm / s, 0.10) * s + mark)
                opt_mm += q * (0.075 * s + mark)
                continue
            notional = _notional_usd(p, market)
            oi = float(market.open_interest.get(p.name, 0.0))
            oi_usd = oi if isinstance(inst, Perpetual | Future) and inst.settlement is Settlement.INVERSE else oi * s
            imf, mmf = self.tier(inst.underlying).fractions(notional, oi_usd)
            im += notional * imf
            mm += notional * mmf
        return MarginRequirement(
            im + opt_im, mm + opt_mm, self.name, {"delta_one_im": im, "delta_one_mm": mm, "options_mm": opt_mm}
        )


# ---------------------------------------------------------------- portfolio ----------
def _kind_code(p: PositionView) -> int:
    inst = p.instrument
    if isinstance(inst, Option):
        return KIND_CALL if inst.kind is OptionKind.CALL else KIND_PUT
    if isinstance(inst, Perpetual | Future) and inst.settlement is Settlement.INVERSE:
        return KIND_INVERSE
    return KIND_LINEAR


@dataclass(frozen=True)
class PortfolioMargin:
    """Scenario-grid margin (Deribit defaults); see the module docstring."""

    grid: ScenarioGrid = field(default_factory=ScenarioGrid.deribit)
    contingency: float = 0.01
    im_factor: float = 1.3
    grids: Mapping[str, ScenarioGrid] = field(default_factory=dict)  # per-underlying override
    name: str = "portfolio"

    def grid_for(self, underlying: str, market: MarketState) -> ScenarioGrid:
        return self.grids.get(underlying, self.grid)

    def requirement(self, positions: Sequence[PositionView], market: MarketState) -> MarginRequirement:
        by_und: dict[str, list[PositionView]] = {}
        for p in positions:
            if p.quantity != 0.0:
                by_und.setdefault(underlying_of(p.instrument), []).append(p)
        scan = cont = 0.0
        detail: dict[str, float] = {}
        for und in sorted(by_und):
            ps = by_und[und]
            s = market.price(und)
            grid = self.grid_for(und, market)
            if not any(isinstance(p.instrument, Option) for p in ps):
                # delta-one only: the grid's worst case in closed form (same numbers as the kernel)
                q_usd = sum(p.quantity if _kind_code(p) == KIND_INVERSE else p.quantity * s for p in ps)
                moves, _, weights = grid.arrays()
                loss = max(0.0, float(np.max(-q_usd * moves * weights)))
                scan += loss
                detail[f"scan_{und}"] = loss
                detail[f"range_{und}"] = grid.price_range
                continue
            kinds = np.array([_kind_code(p) for p in ps])
            strike = np.array([p.instrument.strike_float if isinstance(p.instrument, Option) else 0.0 for p in ps])
            t = np.array(
                [
                    max(year_fraction(market.ts_ns, p.instrument.expiry_ns), 0.0)
                    if isinstance(p.instrument, Option)
                    else 0.0
                    for p in ps
                ]
            )
            sig = np.array([market.vol(p.instrument, p.name) if isinstance(p.instrument, Option) else 0.0 for p in ps])
            risk = risk_arrays(kinds, strike, t, sig, np.full(len(ps), s), grid, market.rate)
            cvec = np.where(kinds >= KIND_CALL, self.contingency * s, 0.0)
            # net per instrument name so contingency applies to net shorts
            names = sorted({p.name for p in ps})
            row = {n: i for i, n in enumerate(names)}
            first: dict[str, int] = {}
            for i, p in enumerate(ps):
                first.setdefault(p.name, i)
            qty = np.zeros((1, len(names)))
            idx = np.array([[first[n] for n in names]])
            for p in ps:
                qty[0, row[p.name]] += p.quantity
            loss_a, cont_a = portfolio_scan(idx, qty, risk, None, cvec)
            scan += float(loss_a[0])
            cont += float(cont_a[0])
            detail[f"scan_{und}"] = float(loss_a[0])
            detail[f"range_{und}"] = grid.price_range
        mm = scan + cont
        detail["scan"] = scan
        detail["contingency"] = cont
        return MarginRequirement(mm * self.im_factor, mm, self.name, detail)


# ---------------------------------------------------------------- predictive ---------
class APCMethod(str, Enum):
    """EU RTS 153/2013 Art. 28(1) anti-procyclicality options.

    BUFFER: a buffer of 25% on top of the computed margin (releasable in stress).
    STRESSED_WEIGHT: at least 25% weight on stressed observations (variance blend).
    TEN_YEAR_FLOOR: never below margin from a 10-year lookback volatility (``sigma_long``,
    supplied by the caller; the data in ``data/`` holds no 10-year history, so Keel's backtest
    can only approximate it, see :func:`keel.risk.backtest.backtest_real_data`).
    """

    NONE = "none"
    BUFFER = "buffer"
    STRESSED_WEIGHT = "stressed_weight"
    TEN_YEAR_FLOOR = "ten_year_floor"


def apc_scan_range(
    sigma_h: float,
    *,
    confidence: float = 0.99,
    method: APCMethod = APCMethod.BUFFER,
    sigma_stressed: float | None = None,
    sigma_long: float | None = None,
    buffer_released: bool = False,
    min_range: float = 0.0,
    max_range: float = 0.95,
) -> float:
    """Two-sided scan range ``z·σ`` (relative move) after the anti-procyclicality measure.

    ``sigma_h``: forecast st. dev. of the log return over the margin horizon.  The relative
    range is ``1 − exp(−z·σ)`` (the downside move of that many sigmas), clipped to
    ``[min_range, max_range]``.
    """
    for nm, v in (("sigma_h", sigma_h), ("confidence", confidence)):
        if not math.isfinite(v) or v <= 0:
            raise ValidationError(nm, v, "must be finite and positive")
    if not 0.5 < confidence < 1.0:
        raise ValidationError("confidence", confidence, "must be in (0.5, 1)")
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    sigma = sigma_h
    mult = 1.0
    if method is APCMethod.BUFFER:
        mult = 1.0 if buffer_released else 1.25
    elif method is APCMethod.STRESSED_WEIGHT:
        if sigma_stressed is None:
            raise ValidationError("sigma_stressed", sigma_stressed, "STRESSED_WEIGHT needs a stressed-period sigma")
        sigma = math.sqrt(0.75 * sigma_h**2 + 0.25 * sigma_stressed**2)
    elif method is APCMethod.TEN_YEAR_FLOOR:
        if sigma_long is None:
            raise ValidationError("sigma_long", sigma_long, "TEN_YEAR_FLOOR needs a long-lookback sigma")
        sigma = max(sigma_h, sigma_long)
    rng = (1.0 - math.exp(-z * sigma)) * mult
    return min(max(rng, min_range), max_range)


@dataclass(frozen=True)
class PredictiveMargin:
    """Portfolio margin whose price range per underlying comes from a volatility forecast.

    ``forecasts``: per underlying, a :class:`keel.risk.VolForecast` per period; ``horizon``
    periods of margin period of risk; ``sigma_stressed`` / ``sigma_long`` per underlying for
    the APC methods that need them.  ``floor_model``: if given, each of initial and
    maintenance is at least that model's (a venue's static schedule as a floor).
    """

    forecasts: Mapping[str, VolForecast]
    horizon: int = 1
    confidence: float = 0.99
    apc: APCMethod = APCMethod.BUFFER
    sigma_stressed: Mapping[str, float] = field(default_factory=dict)
    sigma_long: Mapping[str, float] = field(default_factory=dict)
    buffer_released: bool = False
    base: PortfolioMargin = field(default_factory=PortfolioMargin)
    min_range: float = 0.0
    floor_model: MarginModel | None = None
    name: str = "predictive"

    def scan_range(self, underlying: str) -> float:
        fc = self.forecasts.get(underlying)
        if fc is None:
            raise ValidationError("forecasts", underlying, "no volatility forecast for this underlying")
        return apc_scan_range(
            fc.horizon_vol(self.horizon),
            confidence=self.confidence,
            method=self.apc,
            sigma_stressed=self.sigma_stressed.get(underlying),
            sigma_long=self.sigma_long.get(underlying),
            buffer_released=self.buffer_released,
            min_range=self.min_range,
        )

    def requirement(self, positions: Sequence[PositionView], market: MarketState) -> MarginRequirement:
        unds = sorted({underlying_of(p.instrument) for p in positions if p.quantity != 0.0})
        grids = {u: self.base.grid.with_range(self.scan_range(u)) for u in unds}
        pm = PortfolioMargin(self.base.grid, self.base.contingency, self.base.im_factor, grids, self.name)
        req = pm.requirement(positions, market)
        if self.floor_model is None:
            return req
        floor = self.floor_model.requirement(positions, market)
        detail = dict(req.detail)
        detail["floor_maintenance"] = floor.maintenance
        return MarginRequirement(
            max(req.initial, floor.initial), max(req.maintenance, floor.maintenance), self.name, detail
        )
