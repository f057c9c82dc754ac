"""A desk's book: option legs, on-chain balances (exact ints), and the cost accounts PnL is attributed to.

Balances of on-chain tokens are Python ints in base units; option quantities are contracts
of one underlying unit (float); costs are USD floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from keel.domain import Option, Token
from keel.venues.options import OptionsVenue

__all__ = ["BookGreeks", "DeskBook"]


@dataclass(frozen=True, slots=True)
class BookGreeks:
    """Option legs only, in USD: value; delta (underlying units); gamma (per unit²);
    vega (per 1.0 vol); theta (per year)."""

    value: float
    delta: float
    gamma: float
    vega: float
    theta: float


@dataclass
class DeskBook:
    """What a desk holds.  ``cash_token`` (e.g. USDC) and ``asset_token`` (e.g. WETH) balances are exact ints."""

    cash_token: Token
    asset_token: Token
    cash: int = 0
    asset: int = 0
    options: dict[str, tuple[Option, float]] = field(default_factory=dict)
    premium_cash_usd: float = 0.0  # option premium received (+) / paid (−), USD off-chain account
    gas_usd: float = 0.0
    mev_loss_usd: float = 0.0
    slippage_usd: float = 0.0
    funding_usd: float = 0.0
    hedge_trades: int = 0
    option_trades: int = 0
    _greeks_key: tuple[float, int, int, int, int] | None = field(default=None, repr=False, compare=False)
    _greeks: BookGreeks | None = field(default=None, repr=False, compare=False)

    def add_option(self, option: Option, quantity: float, price: float) -> None:
        """Book a fill: ``quantity`` contracts (+ bought) at ``price`` USD each."""
        _, held = self.options.get(option.name, (option, 0.0))
        new = held + quantity
        if abs(new) < 1e-12:
            self.options.pop(option.name, None)
        else:
            self.options[option.name] = (option, new)
        self.premium_cash_usd -= quantity * price
        self.option_trades += 1

    def asset_units(self) -> float:
        return self.asset / self.asset_token.unit

    def cash_units(self) -> float:
        return self.cash / self.cash_token.unit

    def greeks(self, venue: OptionsVenue, spot: float, ts_ns: int) -> BookGreeks:
        """Greeks of the option legs at ``spot`` and ``ts_ns`` (memoized until the legs change)."""
        key = (spot, ts_ns, self.option_trades, len(self.options), id(venue))
        if self._greeks_key == key and self._greeks is not None:
            return self._greeks
        value = delta = gamma = vega = theta = 0.0
        for name in sorted(self.options):
            option, qty = self.options[name]
            if option.expiry_ns <= ts_ns:
                value += qty * max(float(option.kind.sign) * (spot - float(option.strike)), 0.0)
                continue
            v, d, g, ve, _ = venue.greeks(option, spot, ts_ns)
            one_hour = 3_600_000_000_000
            later = min(ts_ns + one_hour, option.expiry_ns)
            v_later = venue.value(option, spot, later)
            value += qty * v
            delta += qty * d
            gamma += qty * g
            vega += qty * ve
            theta += qty * (v_later - v) / ((later - ts_ns) / (365 * 24 * one_hour))
        self._greeks_key = key
        self._greeks = BookGreeks(value, delta, gamma, vega, theta)
        return self._greeks

    def expire(self, ts_ns: int, spot: float) -> float:
        """Cash-settle legs expired by ``ts_ns`` at ``spot``; returns the USD paid (+) or received."""
        settled = 0.0
        for name in sorted(self.options):
            option, qty = self.options[name]
            if option.expiry_ns <= ts_ns:
                payoff = qty * max(float(option.kind.sign) * (spot - float(option.strike)), 0.0)
                self.premium_cash_usd += payoff
                settled += payoff
                del self.options[name]
        return settled

    def equity_usd(self, venue: OptionsVenue, spot: float, ts_ns: int) -> float:
        """Cash + asset at ``spot`` + premium account + option value − costs already paid out of cash."""
        return (
            self.cash_units()
            + self.asset_units() * spot
            + self.premium_cash_usd
            + self.greeks(venue, spot, ts_ns).value
            - self.gas_usd
            + self.funding_usd
        )
