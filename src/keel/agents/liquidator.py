"""A liquidator: watches a perpetual venue's accounts every block and liquidates those under maintenance.

Its decision is pure (:func:`accounts_to_liquidate`); it reacts ``delay_blocks`` after it first
sees an account under water (its latency), then submits :class:`Liquidate` actions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from keel.engine import Actor, Block
from keel.errors import RiskError
from keel.venues.perpetual import PerpVenue

__all__ = ["Liquidate", "Liquidator", "accounts_to_liquidate"]


@dataclass(frozen=True, slots=True)
class Liquidate:
    venue: str
    owner: str


def accounts_to_liquidate(venue: PerpVenue, price: float) -> list[str]:
    """Owners whose margin ratio at ``price`` is below 1, in account order."""
    return venue.liquidatable(price)


class Liquidator(Actor):
    def __init__(self, name: str, venue: PerpVenue, price: Callable[[int], float], delay_blocks: int = 1) -> None:
        super().__init__(name)
        self.venue = venue
        self.price = price
        self.delay = delay_blocks
        self._seen: dict[str, int] = {}
        self.count = 0
        self.fees_usd = 0.0

    def on_block(self, block: Block) -> None:
        price = float(self.price(block.ts_ns))
        targets = accounts_to_liquidate(self.venue, price)
        for owner in targets:
            first = self._seen.setdefault(owner, block.number)
            if block.number - first < self.delay:
                continue
            try:
                result = self.ctx.submit(Liquidate(self.venue.name, owner))
            except RiskError:
                continue  # another liquidator got there first, or the price moved back
            self._seen.pop(owner, None)
            self.count += 1
            self.fees_usd += result.fee_usd
        live = set(targets)
        for owner in [o for o in self._seen if o not in live]:
            del self._seen[owner]
