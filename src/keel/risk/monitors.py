"""Risk monitors: thresholds on portfolio Greeks and margin ratio that emit events.

Events are plain frozen dataclasses that agents (hedgers, market makers, the simulator)
consume; nothing here acts on them.

- :class:`HedgeRequested` — a portfolio Greek (``delta`` in coins of the underlying,
  ``gamma`` per USD move, ``vega`` USD per 1.0 of vol) is beyond its limit;
  ``hedge_delta`` is the coin quantity of the underlying to trade to bring delta to 0
  (only set for delta breaches).
- :class:`ReduceOnly` — margin ratio (maintenance / collateral value, Deribit's convention:
  liquidation at ≥ 1) is at or above ``reduce_only_ratio``: the account should only reduce.
- :class:`Liquidate` — margin ratio ≥ ``liquidate_ratio`` at the monitored price (the
  clearing house still confirms at the favourable edge of the oracle band before acting).
- :class:`AccountFrozen` — the account was frozen (a halted oracle); ``reason`` says why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from keel.domain import Future, Option, Perpetual, Settlement, year_fraction
from keel.errors import ValidationError
from keel.pricing import greeks as bs_greeks
from keel.risk.accounts import AccountStatus, MarketState, PositionView, underlying_of

__all__ = [
    "AccountFrozen",
    "HedgeRequested",
    "Liquidate",
    "MonitorThresholds",
    "PortfolioGreeks",
    "ReduceOnly",
    "RiskEvent",
    "RiskMonitor",
    "margin_ratio",
    "portfolio_greeks",
]


@dataclass(frozen=True, slots=True)
class HedgeRequested:
    ts_ns: int
    account_id: str
    underlying: str
    greek: str
    value: float
    limit: float
    hedge_delta: float = 0.0


@dataclass(frozen=True, slots=True)
class ReduceOnly:
    ts_ns: int
    account_id: str
    margin_ratio: float
    threshold: float


@dataclass(frozen=True, slots=True)
class Liquidate:
    ts_ns: int
    account_id: str
    margin_ratio: float
    threshold: float


@dataclass(frozen=True, slots=True)
class AccountFrozen:
    ts_ns: int
    account_id: str
    reason: str


RiskEvent = HedgeRequested | ReduceOnly | Liquidate | AccountFrozen


@dataclass(frozen=True, slots=True)
class PortfolioGreeks:
    """Greeks of one account in one underlying (USD-value conventions, see module doc)."""

    underlying: str
    delta: float
    gamma: float
    vega: float


def portfolio_greeks(positions: Sequence[PositionView], market: MarketState) -> dict[str, PortfolioGreeks]:
    """Sum of position Greeks per underlying, options through :func:`keel.pricing.greeks` (vectorized).

    Inverse perpetuals/futures (USD notional ``q``) have delta ``q / S`` coins.  Options of
    either settlement are measured in USD value (an inverse option's USD value is its
    linear price), so their Greeks are the Black-Scholes ones.
    """
    out: dict[str, list[float]] = {}
    opts = [p for p in positions if isinstance(p.instrument, Option) and p.quantity != 0.0]
    for p in positions:
        if p.quantity == 0.0 or isinstance(p.instrument, Option):
            continue
        u = underlying_of(p.instrument)
        s = market.price(u)
        inst = p.instrument
        inverse = isinstance(inst, Perpetual | Future) and inst.settlement is Settlement.INVERSE
        d = p.quantity / s if inverse else p.quantity
        acc = out.setdefault(u, [0.0, 0.0, 0.0])
        acc[0] += d
    if opts:
        kind = np.array([float(o.instrument.kind.sign) for o in opts if isinstance(o.instrument, Option)])
        spots = np.array([market.price(underlying_of(o.instrument)) for o in opts])
        k = np.array([o.instrument.strike_float for o in opts if isinstance(o.instrument, Option)])
        t = np.array(
            [
                max(year_fraction(market.ts_ns, o.instrument.expiry_ns), 0.0)
                for o in opts
                if isinstance(o.instrument, Option)
            ]
        )
        sig = np.array([market.vol(o.instrument, o.name) for o in opts if isinstance(o.instrument, Option)])
        g = bs_greeks(kind, spots, k, t, market.rate, sig)
        for i, o in enumerate(opts):
            acc = out.setdefault(underlying_of(o.instrument), [0.0, 0.0, 0.0])
            acc[0] += o.quantity * float(g.delta[i])
            acc[1] += o.quantity * float(g.gamma[i])
            acc[2] += o.quantity * float(g.vega[i])
    return {u: PortfolioGreeks(u, *v) for u, v in sorted(out.items())}


def margin_ratio(maintenance: float, collateral: float) -> float:
    """Maintenance / collateral value; ``inf`` when collateral ≤ 0 and maintenance > 0."""
    if not (math.isfinite(maintenance) and math.isfinite(collateral)):
        raise ValidationError("margin", (maintenance, collateral), "must be finite")
    if collateral <= 0:
        return math.inf if maintenance > 0 or collateral < 0 else 0.0
    return maintenance / collateral


@dataclass(frozen=True)
class MonitorThresholds:
    """Limits: Greeks per underlying (absolute; missing = no limit) and margin-ratio triggers."""

    max_delta: Mapping[str, float] = field(default_factory=dict)
    max_gamma: Mapping[str, float] = field(default_factory=dict)
    max_vega: Mapping[str, float] = field(default_factory=dict)
    reduce_only_ratio: float = 0.8
    liquidate_ratio: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.reduce_only_ratio <= self.liquidate_ratio:
            raise ValidationError("reduce_only_ratio", self.reduce_only_ratio, "must be in (0, liquidate_ratio]")
        for name in ("max_delta", "max_gamma", "max_vega"):
            for u, v in getattr(self, name).items():
                if not (math.isfinite(v) and v >= 0):
                    raise ValidationError(f"{name}[{u}]", v, "must be finite and >= 0")


@dataclass(frozen=True)
class RiskMonitor:
    """Turns an account's Greeks and margin into events (see the module docstring)."""

    thresholds: MonitorThresholds = field(default_factory=MonitorThresholds)

    def check(
        self,
        ts_ns: int,
        account_id: str,
        positions: Sequence[PositionView],
        market: MarketState,
        collateral: float,
        maintenance: float,
        status: AccountStatus = AccountStatus.ACTIVE,
        frozen_reason: str = "",
    ) -> tuple[RiskEvent, ...]:
        if status is AccountStatus.FROZEN:
            return (AccountFrozen(ts_ns, account_id, frozen_reason or "frozen"),)
        events: list[RiskEvent] = []
        th = self.thresholds
        for u, g in portfolio_greeks(positions, market).items():
            lim = th.max_delta.get(u)
            if lim is not None and abs(g.delta) > lim:
                events.append(HedgeRequested(ts_ns, account_id, u, "delta", g.delta, lim, -g.delta))
            lim = th.max_gamma.get(u)
            if lim is not None and abs(g.gamma) > lim:
                events.append(HedgeRequested(ts_ns, account_id, u, "gamma", g.gamma, lim))
            lim = th.max_vega.get(u)
            if lim is not None and abs(g.vega) > lim:
                events.append(HedgeRequested(ts_ns, account_id, u, "vega", g.vega, lim))
        ratio = margin_ratio(maintenance, collateral)
        if ratio >= th.liquidate_ratio:
            events.append(Liquidate(ts_ns, account_id, ratio, th.liquidate_ratio))
        elif ratio >= th.reduce_only_ratio:
            events.append(ReduceOnly(ts_ns, account_id, ratio, th.reduce_only_ratio))
        return tuple(events)
