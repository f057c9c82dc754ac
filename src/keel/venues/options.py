"""An options venue quoting European options from a raw-SVI volatility surface.

Per expiry, raw SVI (Gatheral): total variance ``w(k) = a + b(ρ(k−m) + √((k−m)² + σ²))`` in
log-moneyness ``k = ln(K/F)``; implied vol ``√(w/T)`` with ``T`` ACT/365 to expiry.  The
surface is sticky-moneyness: it moves with the forward.  Between expiries total variance is
interpolated linearly in ``T``.  Options are linear (premium in the quote currency, USD) and
priced with Black-Scholes (keel.pricing kernels); the venue quotes ``mark ∓ half_spread_vol``
in volatility, and fills buys at the ask, sells at the bid.  An optional ``vol_scale(ts)`` multiplies
the whole surface (a replay of a real implied-vol level, for example).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from keel.domain import NS_PER_YEAR, Option, OptionKind
from keel.errors import ValidationError
from keel.pricing.black import bs_greeks_scalar
from keel.pricing.kernels import bs_delta, bs_gamma, bs_price, bs_vega

__all__ = ["OptionFill", "OptionsVenue", "SviSlice", "SviSurface"]


@dataclass(frozen=True, slots=True)
class SviSlice:
    """Raw SVI parameters of one expiry (``expiry_ns`` int ns UTC)."""

    expiry_ns: int
    a: float
    b: float
    rho: float
    m: float
    sigma: float

    def __post_init__(self) -> None:
        if self.b < 0:
            raise ValidationError("svi.b", self.b, "must be >= 0")
        if not -1.0 < self.rho < 1.0:
            raise ValidationError("svi.rho", self.rho, "must be in (-1, 1)")
        if self.sigma <= 0:
            raise ValidationError("svi.sigma", self.sigma, "must be > 0")
        if self.a + self.b * self.sigma * math.sqrt(1.0 - self.rho * self.rho) < 0:
            raise ValidationError("svi.a", self.a, "total variance would be negative (a + bσ√(1−ρ²) < 0)")

    def total_variance(self, k: float) -> float:
        d = k - self.m
        return self.a + self.b * (self.rho * d + math.sqrt(d * d + self.sigma * self.sigma))


@dataclass(frozen=True)
class SviSurface:
    """SVI slices calibrated at ``as_of_ns``, sorted by expiry.

    A slice's total variance ``w(k)`` is over its time to expiry at calibration,
    ``T_i = (expiry_i − as_of)/year``; its implied vol is ``√(w(k)/T_i)`` and is held (sticky
    moneyness, sticky implied vol) as time passes, so the remaining variance shrinks and
    options decay.  Between expiries total variance is linear in ``T``; beyond the last (or
    before the first) expiry the nearest slice's vol is used.
    """

    slices: tuple[SviSlice, ...]
    as_of_ns: int

    def __post_init__(self) -> None:
        if not self.slices:
            raise ValidationError("surface", self.slices, "needs at least one SVI slice")
        ordered = tuple(sorted(self.slices, key=lambda s: s.expiry_ns))
        if ordered[0].expiry_ns <= self.as_of_ns:
            raise ValidationError("svi.expiry", ordered[0].expiry_ns, "every slice must expire after as_of_ns")
        object.__setattr__(self, "slices", ordered)
        object.__setattr__(self, "_T", tuple((s.expiry_ns - self.as_of_ns) / NS_PER_YEAR for s in ordered))

    def implied_vol(self, k: float, expiry_ns: int, ts_ns: int = 0) -> float:
        """Implied vol at log-moneyness ``k`` for an option expiring at ``expiry_ns`` (``ts_ns`` is unused:
        the surface is sticky in implied vol)."""
        sl = self.slices
        Ts: tuple[float, ...] = self.__dict__["_T"]
        T = (expiry_ns - self.as_of_ns) / NS_PER_YEAR
        if Ts[0] >= T:
            return math.sqrt(max(sl[0].total_variance(k), 1e-12) / Ts[0])
        for i in range(1, len(sl)):
            if Ts[i] >= T:
                w0, w1 = sl[i - 1].total_variance(k), sl[i].total_variance(k)
                x = (T - Ts[i - 1]) / (Ts[i] - Ts[i - 1])
                return math.sqrt(max(w0 + x * (w1 - w0), 1e-12) / T)
        return math.sqrt(max(sl[-1].total_variance(k), 1e-12) / Ts[-1])


@dataclass(frozen=True, slots=True)
class OptionFill:
    option: Option
    quantity: float  # + bought, − sold (contracts of one underlying unit)
    price: float  # USD per contract
    iv: float
    ts_ns: int


@dataclass
class OptionsVenue:
    """Quotes and fills linear European options from :class:`SviSurface`; keeps positions per owner."""

    name: str
    surface: SviSurface
    half_spread_vol: float = 0.01
    rate: float = 0.0
    positions: dict[tuple[str, str], float] = field(default_factory=dict)
    volume: float = 0.0
    vol_scale: Callable[[int], float] | None = None  # level factor on the surface at time ts (a vol replay)

    def __post_init__(self) -> None:
        if not 0.0 <= self.half_spread_vol < 1.0:
            raise ValidationError("half_spread_vol", self.half_spread_vol, "must be in [0, 1)")

    def mark_vol(self, option: Option, spot: float, ts_ns: int) -> float:
        T = max((option.expiry_ns - ts_ns) / NS_PER_YEAR, 0.0)
        forward = spot * math.exp(self.rate * T)
        sigma = self.surface.implied_vol(math.log(float(option.strike) / forward), option.expiry_ns, ts_ns)
        return sigma if self.vol_scale is None else sigma * self.vol_scale(ts_ns)

    def value(self, option: Option, spot: float, ts_ns: int, vol: float | None = None) -> float:
        """Black-Scholes value (USD per contract) at the surface vol (or ``vol``)."""
        T = max((option.expiry_ns - ts_ns) / NS_PER_YEAR, 0.0)
        sigma = self.mark_vol(option, spot, ts_ns) if vol is None else vol
        return float(bs_price(float(option.kind.sign), spot, float(option.strike), T, self.rate, 0.0, sigma))

    def greeks(self, option: Option, spot: float, ts_ns: int) -> tuple[float, float, float, float, float]:
        """(value, delta, gamma, vega per 1.0 vol, vol) at the surface."""
        T = max((option.expiry_ns - ts_ns) / NS_PER_YEAR, 0.0)
        sigma = self.mark_vol(option, spot, ts_ns)
        sign, K = float(option.kind.sign), float(option.strike)
        return (
            float(bs_price(sign, spot, K, T, self.rate, 0.0, sigma)),
            float(bs_delta(sign, spot, K, T, self.rate, 0.0, sigma)),
            float(bs_gamma(sign, spot, K, T, self.rate, 0.0, sigma)),
            float(bs_vega(sign, spot, K, T, self.rate, 0.0, sigma)),
            sigma,
        )

    def theta(self, option: Option, spot: float, ts_ns: int, sigma: float) -> float:
        """USD per calendar day per contract at ``sigma``: the value's change as a day passes, ``-dV/dT / 365``
        (QuantLib's theta per year, over 365); 0.0 at or after expiry."""
        T = (option.expiry_ns - ts_ns) / NS_PER_YEAR
        if not T > 0.0:
            return 0.0
        sign, K = float(option.kind.sign), float(option.strike)
        return float(bs_greeks_scalar(sign, spot, K, T, self.rate, 0.0, sigma)[4]) / 365.0

    def quote(self, option: Option, spot: float, ts_ns: int) -> tuple[float, float]:
        """(bid, ask) in USD per contract: the mark vol ∓ ``half_spread_vol``."""
        sigma = self.mark_vol(option, spot, ts_ns)
        bid = self.value(option, spot, ts_ns, max(sigma - self.half_spread_vol, 1e-4))
        ask = self.value(option, spot, ts_ns, sigma + self.half_spread_vol)
        return bid, ask

    def trade(self, owner: str, option: Option, quantity: float, spot: float, ts_ns: int) -> OptionFill:
        """Buy (``quantity`` > 0) at the ask or sell at the bid; updates ``owner``'s position."""
        if not math.isfinite(quantity) or quantity == 0.0:
            raise ValidationError("quantity", quantity, "must be finite and non-zero")
        if option.expiry_ns <= ts_ns:
            raise ValidationError("option", option.name, "has expired")
        bid, ask = self.quote(option, spot, ts_ns)
        price = ask if quantity > 0 else bid
        key = (owner, option.name)
        self.positions[key] = self.positions.get(key, 0.0) + quantity
        self.volume += abs(quantity)
        return OptionFill(option, quantity, price, self.mark_vol(option, spot, ts_ns), ts_ns)


def call(underlying: str, strike: float, expiry_ns: int) -> Option:
    """A linear (USD-settled) European call."""
    from keel.domain import Settlement

    return Option(underlying, str(strike), expiry_ns, OptionKind.CALL, "USD", Settlement.LINEAR)  # type: ignore[arg-type]
