"""A desk's book: a view of the desk's account in a keel.risk ClearingHouse.

Money is the house's exact :class:`keel.risk.Ledger` (int base units): the on-chain tokens the
desk holds (``cash_token``, e.g. USDC, and ``asset_token``, e.g. WETH; a swap moves what the desk
paid to ``@market`` and what it received back; a short sale is a recorded debt) and the ``USD`` premium account (6
decimals) where option premium and expiry payoffs settle.  Option legs are house positions,
traded against the options venue's account, so every leg has its opposite and
``house.imbalance() == 0``.  The book changes only through its methods (:meth:`add_option`,
:meth:`book_swap`, :meth:`fund`, :meth:`add_costs`, :meth:`expire`); the cost accounts PnL is
attributed to (gas, MEV, slippage, funding) stay USD floats.  Option quantities are contracts of
one underlying unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from keel.domain import Option, Token, parse_instrument
from keel.errors import ValidationError
from keel.risk.accounts import CollateralAsset, MarketState
from keel.risk.clearing import ClearingHouse
from keel.risk.margin import PortfolioMargin
from keel.venues.options import OptionsVenue

__all__ = ["OPTIONS_COUNTERPARTY", "BookGreeks", "DeskBook"]

OPTIONS_COUNTERPARTY = "options_venue"
MARKET = "@market"  # the other side of the desk's swaps (pools and routes): tokens in and out of the wallet
PREMIUM = CollateralAsset("USD", 6)
_COUNTERPARTY_FUNDS = 10**9 * PREMIUM.unit  # the venue's own capital: it pays premium it sells


@dataclass(frozen=True, slots=True)
class BookGreeks:
    """Option legs only, in USD: value; delta (underlying units); gamma (per unit²);
    vega (per 1.0 vol); theta (per year)."""

    value: float
    delta: float
    gamma: float
    vega: float
    theta: float


class DeskBook:
    """What a desk holds, read from its clearing-house account (see the module doc).

    ``cash``/``asset``: exact int balances of the two tokens; ``options``: name -> (option,
    contracts); ``premium_cash_usd``: the USD premium account (received + / paid −).
    """

    def __init__(
        self,
        cash_token: Token,
        asset_token: Token,
        cash: int = 0,
        asset: int = 0,
        *,
        account: str = "desk",
        house: ClearingHouse | None = None,
    ) -> None:
        if cash_token.symbol in ("USD", asset_token.symbol):
            raise ValidationError("cash_token", cash_token.symbol, "must differ from USD and the asset token")
        self.cash_token = cash_token
        self.asset_token = asset_token
        self.account = account
        if house is None:
            assets = (
                PREMIUM,
                CollateralAsset(cash_token.symbol, cash_token.decimals),
                CollateralAsset(asset_token.symbol, asset_token.decimals),
            )
            house = ClearingHouse(assets, PortfolioMargin())
        self.house = house
        house.open_account(account)
        house.open_account(OPTIONS_COUNTERPARTY)
        house.deposit(OPTIONS_COUNTERPARTY, "USD", _COUNTERPARTY_FUNDS)
        self._options: dict[str, Option] = {}  # house name -> option
        self._labels: dict[str, str] = {}  # house name -> the name the book shows (Deribit's, unless taken)
        self._legs: dict[str, tuple[Option, float]] | None = None
        self.fund(cash_token, cash)
        self.fund(asset_token, asset)
        self.gas_usd = 0.0
        self.mev_loss_usd = 0.0
        self.slippage_usd = 0.0
        self.funding_usd = 0.0
        self.hedge_trades = 0
        self.option_trades = 0
        self._greeks_key: tuple[float, int, int, int, int] | None = None
        self._greeks: BookGreeks | None = None

    # ------------------------------------------------------------------ money ---------
    @property
    def cash(self) -> int:
        return self.house.ledger.balance(self.account, self.cash_token.symbol)

    @property
    def asset(self) -> int:
        return self.house.ledger.balance(self.account, self.asset_token.symbol)

    @property
    def premium_cash_usd(self) -> float:
        """The USD premium account: premium received (+) / paid (−) and expiry payoffs, in USD."""
        return self.house.ledger.balance(self.account, "USD") / PREMIUM.unit

    @property
    def options(self) -> dict[str, tuple[Option, float]]:
        """Open legs: name -> (option, contracts), from the house's positions (read again after
        every fill or expiry: only this book's methods change them)."""
        if self._legs is None:
            self._legs = {
                self._labels[p.name]: (self._options[p.name], p.quantity) for p in self.house.positions(self.account)
            }
        return dict(self._legs)

    def ledger_imbalance(self) -> int:
        """The house ledger's exact imbalance in base units (0 when consistent)."""
        return int(self.house.ledger.imbalance())

    def fund(self, token: Token, amount: int) -> None:
        """Tokens entering the desk's wallet from outside (a deposit, in base units)."""
        if amount:
            self.house.deposit(self.account, self._symbol(token), amount)

    def _symbol(self, token: Token | str) -> str:
        symbol = token if isinstance(token, str) else token.symbol
        if symbol not in (self.cash_token.symbol, self.asset_token.symbol):
            raise ValidationError(
                "token", symbol, f"the book holds {self.cash_token.symbol} and {self.asset_token.symbol}"
            )
        return symbol

    def book_swap(self, token_in: Token | str, amount_in: int, amount_out: int, *, hedge: bool = True) -> None:
        """A swap the chain carried out: ``amount_in`` of ``token_in`` went to the market
        (``@market`` in the ledger) and ``amount_out`` of the other token came back (base units);
        ``hedge`` counts it as a hedge trade.  Selling more than the wallet holds is a short sale:
        the negative balance is recorded as the desk's debt in that token."""
        sold = self._symbol(token_in)
        bought = self.asset_token.symbol if sold == self.cash_token.symbol else self.cash_token.symbol
        for name, v in (("amount_in", amount_in), ("amount_out", amount_out)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValidationError(name, v, "must be a non-negative int in base units")
        ledger = self.house.ledger
        ledger.transfer(self.account, MARKET, sold, amount_in, "swap: paid", allow_debt=True)
        ledger.transfer(MARKET, self.account, bought, amount_out, "swap: received", allow_debt=True)
        self.hedge_trades += int(hedge)

    def add_costs(
        self, *, gas_usd: float = 0.0, mev_loss_usd: float = 0.0, slippage_usd: float = 0.0, funding_usd: float = 0.0
    ) -> None:
        """Add to the USD cost accounts PnL is attributed to."""
        self.gas_usd += gas_usd
        self.mev_loss_usd += mev_loss_usd
        self.slippage_usd += slippage_usd
        self.funding_usd += funding_usd

    def _list(self, option: Option) -> str:
        """The option's name in the house: its Deribit name, with ``@expiry_ns`` appended when it
        does not expire at Deribit's 08:00 UTC (the name alone would then say another time).  The
        book shows the Deribit name unless another option of the book already shows it."""
        name = option.name
        if parse_instrument(name) != option:
            name = f"{name}@{option.expiry_ns}"
        if name not in self._options:
            self.house.list_instrument(name, option)
            self._options[name] = option
            shown = set(self._labels.values())
            self._labels[name] = option.name if option.name not in shown else name
        return name

    def add_option(self, option: Option, quantity: float, price: float) -> None:
        """Book a fill: ``quantity`` contracts (+ bought) at ``price`` USD each, a house trade
        against the options venue (premium in exact USD base units)."""
        qty = Decimal(repr(float(quantity)))
        px = Decimal(repr(float(price)))
        if qty == 0:
            return
        name = self._list(option)
        if qty > 0:
            self.house.trade(
                self.account, OPTIONS_COUNTERPARTY, name, qty, px, check_margin=False, reason="option fill"
            )
        else:
            self.house.trade(
                OPTIONS_COUNTERPARTY, self.account, name, -qty, px, check_margin=False, reason="option fill"
            )
        self.option_trades += 1
        self._legs = None

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
        """Cash-settle legs expired by ``ts_ns`` at ``spot`` in the house; returns the USD
        received (+) or paid (−) by the desk."""
        due = {o.underlying for n, o in self._options.items() if o.expiry_ns <= ts_ns}
        if not any(option.expiry_ns <= ts_ns for option, _ in self.options.values()):
            return 0.0
        before = self.house.ledger.balance(self.account, "USD")
        self.house.expire(MarketState(ts_ns, dict.fromkeys(sorted(due), float(spot))))
        self._legs = None
        return (self.house.ledger.balance(self.account, "USD") - before) / PREMIUM.unit

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
