"""A liquidator: watches a perpetual venue's accounts every block and liquidates those under maintenance.

The decision is keel.risk's (:func:`accounts_to_liquidate`): the venue's accounts are scanned
with :func:`keel.risk.health.health_scan` at the *favourable* edge of the oracle's confidence
band (longs at ``price + confidence``, shorts at ``price − confidence``), so an account is
taken only if it is below maintenance even there, and nothing is liquidated on a halted
oracle reading (the scan is frozen).  The liquidator reacts ``delay_blocks`` after it first
sees an account under water (its latency), then submits :class:`Liquidate` actions; the
venue closes the position in its keel.risk clearing house (:meth:`keel.risk.perpetual.PerpVenue.liquidate`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from keel.engine import DECISIONS, Actor, Block, DecisionSkipped
from keel.errors import RiskError
from keel.oracle import OracleReading
from keel.risk.health import health_scan
from keel.risk.perpetual import PerpVenue

__all__ = ["Liquidate", "Liquidator", "accounts_to_liquidate"]


@dataclass(frozen=True, slots=True)
class Liquidate:
    venue: str
    owner: str


def accounts_to_liquidate(venue: PerpVenue, price: float | OracleReading) -> list[str]:
    """Owners below maintenance at the favourable edge of the oracle band, in account order.

    ``price``: an :class:`OracleReading` (its ``confidence`` is the band half-width; a halted
    reading liquidates nobody) or a plain price (a band of zero width).
    """
    if isinstance(price, OracleReading):
        if not price.usable:
            return []
        p, conf = float(price.price), float(price.confidence)
    else:
        p, conf = float(price), 0.0
    if not venue.owners:
        return []
    conf = min(max(conf, 0.0), 0.5 * p) if np.isfinite(conf) else 0.0
    _, _, below = health_scan(
        venue.collateral,
        venue.size.reshape(-1, 1),
        venue.entry.reshape(-1, 1),
        np.array([venue.mm]),
        np.array([p]),
        np.array([conf]),
    )
    return [venue.owners[i] for i in np.flatnonzero(below).tolist()]


class Liquidator(Actor):
    """``price(ts)``: the mark; ``reading(ts)``: the oracle reading the decision uses (default:
    the mark with a zero-width band).  ``frozen_blocks`` counts blocks skipped on a halted oracle."""

    def __init__(
        self,
        name: str,
        venue: PerpVenue,
        price: Callable[[int], float],
        delay_blocks: int = 1,
        reading: Callable[[int], OracleReading] | None = None,
    ) -> None:
        super().__init__(name)
        self.venue = venue
        self.price = price
        self.reading = reading
        self.delay = delay_blocks
        self._seen: dict[str, int] = {}
        self.count = 0
        self.fees_usd = 0.0
        self.frozen_blocks = 0

    def on_block(self, block: Block) -> None:
        if self.reading is not None:
            reading = self.reading(block.ts_ns)
            if not reading.usable:
                self.frozen_blocks += 1
                reason = "oracle halted: " + ("; ".join(reading.reasons) or "no usable price")
                skip = DecisionSkipped(block.ts_ns, block.number, self.name, "liquidate", "oracle_halted", reason)
                self.ctx.publish(DECISIONS, skip)
                return
            targets = accounts_to_liquidate(self.venue, reading)
        else:
            targets = accounts_to_liquidate(self.venue, float(self.price(block.ts_ns)))
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
