"""Orders, fills and positions for off-chain and order-book venues.

Quantities and prices here are exact ``Decimal`` values (floats are converted
through their shortest repr).  On-chain swaps use int base units instead
(keel.venues, keel.execution).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from keel.errors import ValidationError

__all__ = ["Fill", "Order", "Position", "Side", "TimeInForce", "to_decimal"]


class Side(str, Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class TimeInForce(str, Enum):
    GTC = "gtc"  # good till cancelled
    IOC = "ioc"  # immediate or cancel
    FOK = "fok"  # fill or kill
    POST_ONLY = "post_only"


def to_decimal(field: str, value: Decimal | int | float | str, *, positive: bool = False) -> Decimal:
    """Exact Decimal from a number; refuses NaN/inf and (optionally) non-positive values."""
    if isinstance(value, bool):
        raise ValidationError(field, value, "must be a number, not a bool")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(field, value, "must be finite")
        value = repr(value)
    try:
        dec = Decimal(value)
    except Exception as exc:
        raise ValidationError(field, value, "not a number") from exc
    if not dec.is_finite():
        raise ValidationError(field, value, "must be finite")
    if positive and dec <= 0:
        raise ValidationError(field, value, "must be positive")
    return dec


@dataclass(frozen=True, slots=True)
class Order:
    """An order on a venue.  ``limit_price`` None means a market order."""

    instrument: str
    side: Side
    quantity: Decimal
    limit_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    client_id: str = ""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "side", Side(self.side))
        except ValueError as exc:
            raise ValidationError("side", self.side, "must be 'buy' or 'sell'") from exc
        try:
            object.__setattr__(self, "time_in_force", TimeInForce(self.time_in_force))
        except ValueError as exc:
            raise ValidationError("time_in_force", self.time_in_force, "must be gtc, ioc, fok or post_only") from exc
        object.__setattr__(self, "quantity", to_decimal("quantity", self.quantity, positive=True))
        if self.limit_price is not None:
            object.__setattr__(self, "limit_price", to_decimal("limit_price", self.limit_price, positive=True))
        elif self.time_in_force is TimeInForce.POST_ONLY:
            raise ValidationError("limit_price", None, "a post-only order needs a limit price")

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity * self.side.sign


@dataclass(frozen=True, slots=True)
class Fill:
    """An execution: ``quantity`` filled at ``price``; ``fee`` in the settlement currency."""

    instrument: str
    side: Side
    quantity: Decimal
    price: Decimal
    ts_ns: int
    fee: Decimal = Decimal(0)
    client_id: str = ""
    trade_id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", Side(self.side))
        object.__setattr__(self, "quantity", to_decimal("quantity", self.quantity, positive=True))
        object.__setattr__(self, "price", to_decimal("price", self.price, positive=True))
        object.__setattr__(self, "fee", to_decimal("fee", self.fee))
        if not isinstance(self.ts_ns, int):
            raise ValidationError("ts_ns", self.ts_ns, "must be int nanoseconds UTC")


@dataclass(frozen=True, slots=True)
class Position:
    """Net position: ``quantity`` signed (long > 0), ``average_price`` of the open quantity."""

    instrument: str
    quantity: Decimal = Decimal(0)
    average_price: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)

    def apply(self, fill: Fill) -> Position:
        """Return the position after ``fill`` (pure): realizes PnL on the reducing part."""
        if fill.instrument != self.instrument:
            raise ValidationError("fill.instrument", fill.instrument, f"does not match position {self.instrument}")
        delta = fill.quantity * fill.side.sign
        qty, avg, realized = self.quantity, self.average_price, self.realized_pnl
        if qty == 0 or (qty > 0) == (delta > 0):
            new_qty = qty + delta
            new_avg = (abs(qty) * avg + abs(delta) * fill.price) / abs(new_qty)
            return Position(self.instrument, new_qty, new_avg, realized - fill.fee)
        closing = min(abs(delta), abs(qty))
        direction = 1 if qty > 0 else -1
        realized += closing * (fill.price - avg) * direction - fill.fee
        new_qty = qty + delta
        if new_qty == 0:
            return Position(self.instrument, Decimal(0), Decimal(0), realized)
        if (new_qty > 0) == (qty > 0):
            return Position(self.instrument, new_qty, avg, realized)
        return Position(self.instrument, new_qty, fill.price, realized)

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        return self.quantity * (mark - self.average_price)
