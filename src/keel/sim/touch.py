"""A venue that fills market orders at the touch of the latest quote (a CEX-style top-of-book fill model).

Buys fill at the ask, sells at the bid, of the last quote the venue saw for the instrument;
positions and cash (quote currency) are float64 analytics.  Used by backtests over recorded
quote streams and by agents that hedge on a centralized venue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from keel.engine import Actor, Engine
from keel.errors import ExecutionError, ValidationError

__all__ = ["MarketOrder", "TouchFill", "TouchFillVenue"]


@dataclass(frozen=True, slots=True)
class MarketOrder:
    """Buy (``quantity`` > 0) or sell (< 0) ``abs(quantity)`` units at market."""

    instrument: str
    quantity: float


@dataclass(frozen=True, slots=True)
class TouchFill:
    instrument: str
    quantity: float
    price: float
    ts_ns: int


class TouchFillVenue(Actor):
    """Fills :class:`MarketOrder` actions at the touch; keeps each submitter's position and cash."""

    def __init__(self, engine: Engine, name: str = "touch", fee_rate: float = 0.0) -> None:
        super().__init__(name)
        if not 0.0 <= fee_rate < 0.1:
            raise ValidationError("fee_rate", fee_rate, "must be in [0, 0.1)")
        self.fee_rate = fee_rate
        self._bid: dict[str, float] = {}
        self._ask: dict[str, float] = {}
        self.positions: dict[tuple[str, str], float] = {}
        self.cash: dict[str, float] = {}
        self.fills = 0
        engine.add_actor(self)
        engine.on_action(MarketOrder, self._execute)

    def on_quote(self, instrument: str, ts_ns: int, bid: float, ask: float) -> None:
        self._bid[instrument] = bid
        self._ask[instrument] = ask

    def _execute(self, owner: str, order: MarketOrder) -> TouchFill:
        qty = order.quantity
        if not math.isfinite(qty) or qty == 0.0:
            raise ValidationError("quantity", qty, "must be finite and non-zero")
        book = self._ask if qty > 0 else self._bid
        price = book.get(order.instrument)
        if price is None:
            raise ExecutionError(f"no quote yet for {order.instrument!r}")
        key = (owner, order.instrument)
        self.positions[key] = self.positions.get(key, 0.0) + qty
        self.cash[owner] = self.cash.get(owner, 0.0) - qty * price - abs(qty) * price * self.fee_rate
        self.fills += 1
        return TouchFill(order.instrument, qty, price, self.ctx.now_ns)

    def position(self, owner: str, instrument: str) -> float:
        return self.positions.get((owner, instrument), 0.0)
