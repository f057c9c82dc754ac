"""Instruments: what is traded.  They carry no pricing (see keel.pricing).

Naming follows Deribit (``BTC-26MAR21-48000-P``); see :mod:`keel.domain.naming`.
Expiries are int nanoseconds UTC; Deribit expiries are at 08:00 UTC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from keel.domain.time import ns_to_datetime, year_fraction
from keel.errors import ValidationError

__all__ = [
    "Exercise",
    "Future",
    "Instrument",
    "Option",
    "OptionKind",
    "Perpetual",
    "Settlement",
    "Spot",
]

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _currency(underlying: str, quote: str, settlement: Settlement) -> str:
    """Deribit's currency part: ``BTC`` (inverse) or ``BTC_USDC`` (linear)."""
    return underlying if settlement is Settlement.INVERSE else f"{underlying}_{quote}"


def _expiry(expiry_ns: int) -> str:
    moment = ns_to_datetime(expiry_ns)
    return f"{moment.day}{MONTHS[moment.month - 1]}{moment.year % 100:02d}"


def _strike(strike: Decimal) -> str:
    return format(strike.normalize(), "f").replace(".", "d")


class OptionKind(str, Enum):
    CALL = "call"
    PUT = "put"

    @property
    def sign(self) -> int:
        """+1 for a call, -1 for a put (the array convention of keel.pricing)."""
        return 1 if self is OptionKind.CALL else -1


class Settlement(str, Enum):
    """LINEAR: premium and PnL in the quote currency.  INVERSE: in the coin (Deribit BTC/ETH)."""

    LINEAR = "linear"
    INVERSE = "inverse"


class Exercise(str, Enum):
    EUROPEAN = "european"


def _symbol(field: str, value: str) -> str:
    if not isinstance(value, str) or not value or not value.replace("_", "").isalnum():
        raise ValidationError(field, value, "must be a non-empty alphanumeric symbol")
    return value


def _positive_decimal(field: str, value: Decimal | int | float | str) -> Decimal:
    try:
        dec = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except Exception as exc:
        raise ValidationError(field, value, "not a number") from exc
    if not dec.is_finite() or dec <= 0:
        raise ValidationError(field, value, "must be a finite positive number")
    return dec


@dataclass(frozen=True, slots=True)
class Spot:
    """Spot pair: ``base`` priced in ``quote``."""

    base: str
    quote: str

    def __post_init__(self) -> None:
        _symbol("base", self.base)
        _symbol("quote", self.quote)

    @property
    def name(self) -> str:
        """The Deribit name (see :mod:`keel.domain.naming`)."""
        return f"{self.base}_{self.quote}"


@dataclass(frozen=True, slots=True)
class Perpetual:
    """Perpetual swap on ``underlying``; funding is paid between longs and shorts."""

    underlying: str
    quote: str = "USD"
    settlement: Settlement = Settlement.INVERSE
    funding_interval_ns: int = 8 * 3600 * 1_000_000_000

    def __post_init__(self) -> None:
        _symbol("underlying", self.underlying)
        _symbol("quote", self.quote)
        object.__setattr__(self, "settlement", Settlement(self.settlement))
        if self.funding_interval_ns <= 0:
            raise ValidationError("funding_interval_ns", self.funding_interval_ns, "must be positive")

    @property
    def name(self) -> str:
        """The Deribit name (see :mod:`keel.domain.naming`)."""
        return f"{_currency(self.underlying, self.quote, self.settlement)}-PERPETUAL"


@dataclass(frozen=True, slots=True)
class Future:
    """Dated future on ``underlying`` expiring at ``expiry_ns`` (int ns UTC)."""

    underlying: str
    expiry_ns: int
    quote: str = "USD"
    settlement: Settlement = Settlement.INVERSE

    def __post_init__(self) -> None:
        _symbol("underlying", self.underlying)
        _symbol("quote", self.quote)
        object.__setattr__(self, "settlement", Settlement(self.settlement))
        if not isinstance(self.expiry_ns, int) or self.expiry_ns <= 0:
            raise ValidationError("expiry_ns", self.expiry_ns, "must be a positive int (ns UTC)")

    @property
    def name(self) -> str:
        """The Deribit name (see :mod:`keel.domain.naming`)."""
        return f"{_currency(self.underlying, self.quote, self.settlement)}-{_expiry(self.expiry_ns)}"


@dataclass(frozen=True, slots=True)
class Option:
    """European option.  ``strike`` is in the quote currency (USD for Deribit BTC options).

    Inverse options (Deribit BTC/ETH) pay ``max(S-K, 0)/S`` coin for a call; linear ones
    pay ``max(S-K, 0)`` in the quote currency.
    """

    underlying: str
    strike: Decimal
    expiry_ns: int
    kind: OptionKind
    quote: str = "USD"
    settlement: Settlement = Settlement.INVERSE
    exercise: Exercise = Exercise.EUROPEAN

    def __post_init__(self) -> None:
        _symbol("underlying", self.underlying)
        _symbol("quote", self.quote)
        object.__setattr__(self, "strike", _positive_decimal("strike", self.strike))
        try:
            object.__setattr__(self, "kind", OptionKind(self.kind))
        except ValueError as exc:
            raise ValidationError("kind", self.kind, "must be 'call' or 'put'") from exc
        object.__setattr__(self, "settlement", Settlement(self.settlement))
        object.__setattr__(self, "exercise", Exercise(self.exercise))
        if not isinstance(self.expiry_ns, int) or self.expiry_ns <= 0:
            raise ValidationError("expiry_ns", self.expiry_ns, "must be a positive int (ns UTC)")

    @property
    def name(self) -> str:
        """The Deribit name (see :mod:`keel.domain.naming`)."""
        head = _currency(self.underlying, self.quote, self.settlement)
        kind = "C" if self.kind is OptionKind.CALL else "P"
        return f"{head}-{_expiry(self.expiry_ns)}-{_strike(self.strike)}-{kind}"

    @property
    def strike_float(self) -> float:
        return float(self.strike)

    def time_to_expiry(self, now_ns: int) -> float:
        """ACT/365 year fraction from ``now_ns`` to expiry (0 once expired)."""
        return max(year_fraction(now_ns, self.expiry_ns), 0.0)

    def intrinsic(self, spot: float) -> float:
        """Payoff at expiry for ``spot`` in the settlement currency (coin for inverse)."""
        if not math.isfinite(spot) or spot <= 0:
            raise ValidationError("spot", spot, "must be a finite positive price")
        k = float(self.strike)
        payoff = max(spot - k, 0.0) if self.kind is OptionKind.CALL else max(k - spot, 0.0)
        return payoff / spot if self.settlement is Settlement.INVERSE else payoff


Instrument = Spot | Perpetual | Future | Option
