"""Accounts: multi-asset collateral with haircuts, positions, equity and unrealized PnL.

Units and conventions
- Money in the ledger is an ``int`` in an asset's base units (``CollateralAsset.decimals``).
- Position quantities are exact ``Decimal``: coins for spot, linear perpetuals/futures and all
  options (one option = one coin of notional, as on Deribit); USD notional for inverse
  perpetuals/futures (the Deribit ``BTC-PERPETUAL`` convention, one contract = 1 USD here).
- Analytics (margin, equity in USD) are floats; the ledger never sees a float.
- A position's PnL settles in its settlement asset: the quote (e.g. USDC) for linear
  instruments, the coin for inverse ones.  Inverse option premium in coin = linear price / S.
- Prices (``MarketState.prices``) are USD per whole unit of an asset or underlying.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from types import MappingProxyType

from keel.domain import (
    Future,
    Instrument,
    Option,
    Perpetual,
    Settlement,
    Spot,
    parse_instrument,
    year_fraction,
)
from keel.errors import InstrumentNameError, ValidationError
from keel.pricing.kernels import bs_price

__all__ = [
    "STABLE_QUOTES",
    "AccountStatus",
    "AccountView",
    "CollateralAsset",
    "MarginMode",
    "MarketState",
    "PositionState",
    "PositionView",
    "instrument_from_name",
    "settlement_asset",
    "underlying_of",
    "unit_value_usd",
]

STABLE_QUOTES = frozenset({"USD", "USDC", "USDT"})


class MarginMode(str, Enum):
    """CROSS: one pool of collateral backs every position.  ISOLATED: one position, its own collateral."""

    CROSS = "cross"
    ISOLATED = "isolated"


class AccountStatus(str, Enum):
    ACTIVE = "active"
    REDUCE_ONLY = "reduce_only"  # may only reduce risk
    FROZEN = "frozen"  # no action on a bad price; ``frozen_reason`` says why
    BANKRUPT = "bankrupt"  # negative equity with no positions left; debt resolved by fund/ADL


@dataclass(frozen=True, slots=True)
class CollateralAsset:
    """An asset accepted as collateral: ``haircut`` in [0, 1) cuts its USD value for margin."""

    symbol: str
    decimals: int
    haircut: float = 0.0

    def __post_init__(self) -> None:
        if not self.symbol or not isinstance(self.symbol, str):
            raise ValidationError("symbol", self.symbol, "must be a non-empty string")
        if not isinstance(self.decimals, int) or not 0 <= self.decimals <= 36:
            raise ValidationError("decimals", self.decimals, "must be an int in [0, 36]")
        if not (isinstance(self.haircut, int | float) and 0.0 <= self.haircut < 1.0):
            raise ValidationError("haircut", self.haircut, "must be in [0, 1)")

    @property
    def unit(self) -> int:
        return int(10**self.decimals)


def _finite_positive(field_name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValidationError(field_name, value, "must be a finite positive number")
    return float(value)


@dataclass(frozen=True, slots=True)
class MarketState:
    """Prices and volatilities at ``ts_ns``.

    ``prices``: USD per unit for every underlying and collateral asset (USD, USDC and USDT
    default to 1.0 unless given).  ``vols``: annualized implied volatility per underlying
    (flat), overridden per option name by ``option_vols``.  ``rate``: continuously compounded.
    ``open_interest``: per instrument name, in the instrument's quantity units (standard margin).
    """

    ts_ns: int
    prices: Mapping[str, float]
    vols: Mapping[str, float] = field(default_factory=dict)
    option_vols: Mapping[str, float] = field(default_factory=dict)
    rate: float = 0.0
    open_interest: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.ts_ns, bool) or not isinstance(self.ts_ns, int):
            raise ValidationError("ts_ns", self.ts_ns, "must be int nanoseconds UTC")
        prices = {str(k): _finite_positive(f"prices[{k}]", v) for k, v in sorted(self.prices.items())}
        vols = {str(k): _finite_positive(f"vols[{k}]", v) for k, v in sorted(self.vols.items())}
        ovols = {str(k): _finite_positive(f"option_vols[{k}]", v) for k, v in sorted(self.option_vols.items())}
        if not (isinstance(self.rate, int | float) and math.isfinite(self.rate)):
            raise ValidationError("rate", self.rate, "must be finite")
        object.__setattr__(self, "prices", MappingProxyType(prices))
        object.__setattr__(self, "vols", MappingProxyType(vols))
        object.__setattr__(self, "option_vols", MappingProxyType(ovols))
        object.__setattr__(self, "open_interest", MappingProxyType(dict(self.open_interest)))

    def price(self, asset: str) -> float:
        """USD per unit of ``asset``; unknown assets are an error (never a guess)."""
        p = self.prices.get(asset)
        if p is None:
            if asset in STABLE_QUOTES:
                return 1.0
            raise ValidationError("asset", asset, "no price in the market state")
        return p

    def vol(self, inst: Option, name: str) -> float:
        v = self.option_vols.get(name)
        if v is None:
            v = self.vols.get(inst.underlying)
        if v is None:
            raise ValidationError("vols", inst.underlying, f"no implied volatility for {name}")
        return v

    def with_prices(self, **updates: float) -> MarketState:
        """A copy with some prices replaced (keyword per asset)."""
        merged = dict(self.prices)
        merged.update(updates)
        return MarketState(self.ts_ns, merged, self.vols, self.option_vols, self.rate, self.open_interest)


def instrument_from_name(name: str) -> Instrument:
    """Parse a Deribit-style name; raises :class:`keel.errors.InstrumentNameError` if unknown."""
    if not isinstance(name, str):
        raise InstrumentNameError("instrument", name, "must be a string")
    return parse_instrument(name)


def underlying_of(inst: Instrument) -> str:
    return inst.base if isinstance(inst, Spot) else inst.underlying


def settlement_asset(inst: Instrument) -> str:
    """The asset a position's PnL and premium settle in."""
    if isinstance(inst, Spot):
        return inst.quote
    return inst.underlying if inst.settlement is Settlement.INVERSE else inst.quote


def unit_value_usd(inst: Instrument, name: str, market: MarketState, spot: float | None = None) -> float:
    """USD value of one unit of quantity, *as a mark* (options: model price; delta-one: spot).

    For inverse perpetuals/futures a unit is 1 USD of notional and the mark value of the
    contract itself is 0 (all value is in settled PnL); for linear ones it is ``S``.
    """
    s = market.price(underlying_of(inst)) if spot is None else spot
    if isinstance(inst, Option):
        t = max(year_fraction(market.ts_ns, inst.expiry_ns), 0.0)
        return float(bs_price(float(inst.kind.sign), s, inst.strike_float, t, market.rate, 0.0, market.vol(inst, name)))
    if isinstance(inst, Perpetual | Future) and inst.settlement is Settlement.INVERSE:
        return 0.0
    return s


def option_mark_in_settlement(inst: Option, name: str, market: MarketState) -> Fraction:
    """Exact (Fraction of the float) option mark per unit in its settlement asset (coin for inverse)."""
    usd = unit_value_usd(inst, name, market)
    s = market.price(inst.underlying)
    mark = usd / s if inst.settlement is Settlement.INVERSE else usd / market.price(inst.quote)
    return Fraction(mark)


@dataclass(slots=True)
class PositionState:
    """Mutable clearing state of one position (internal to :class:`keel.risk.ClearingHouse`).

    ``ref_price``: the price variation margin was last settled at (delta-one) or the option
    mark its value is carried at; ``entry_price``: average entry (ranks ADL by profit).
    """

    name: str
    instrument: Instrument
    quantity: Decimal
    ref_price: Fraction
    entry_price: Fraction


@dataclass(frozen=True, slots=True)
class PositionView:
    """A position as margin models see it: ``quantity`` as float in the instrument's units."""

    name: str
    instrument: Instrument
    quantity: float
    entry_price: float = 0.0


@dataclass(frozen=True, slots=True)
class AccountView:
    """A snapshot of one account, valued in USD at a :class:`MarketState`.

    ``equity``: cash (all assets at market) + option marks + unsettled PnL.
    ``collateral_value``: the same with each collateral asset's haircut applied to positive
    balances (negative balances count in full).  ``unrealized_pnl``: versus entry prices.
    """

    account_id: str
    mode: MarginMode
    status: AccountStatus
    balances: Mapping[str, int]
    positions: tuple[PositionView, ...]
    equity: float
    collateral_value: float
    unrealized_pnl: float
    frozen_reason: str = ""
