"""An options market maker: quotes around the surface with an inventory skew; takers hit the quotes.

Quote for each listed option: vol = mark − skew × (inventory vega) ∓ half spread — long vega
lowers both quotes (sell more readily), short vega raises them; no quote on a side that would
push |vega| past ``max_vega``.  Pure decision: :func:`mm_quote_vols`.  No quotes on a HALTED
oracle reading (a ``DecisionSkipped`` event per block).
"""

from __future__ import annotations

from collections.abc import Callable

from keel.agents.book import DeskBook
from keel.agents.gate import OracleGate
from keel.domain import Option
from keel.engine import FILLS, Actor, Block, FillEvent
from keel.oracle.actor import ORACLE_READINGS
from keel.venues.options import OptionsVenue

__all__ = ["OptionsMarketMaker", "mm_quote_vols"]


def mm_quote_vols(
    mark_vol: float,
    inventory_vega: float,
    half_spread: float,
    skew_per_vega: float,
    max_vega: float,
    option_vega: float,
) -> tuple[float | None, float | None]:
    """(bid vol, ask vol); a side is None when filling it would breach ``max_vega``."""
    centre = mark_vol - skew_per_vega * inventory_vega
    bid = max(centre - half_spread, 0.01) if inventory_vega + option_vega <= max_vega else None
    ask = centre + half_spread if inventory_vega - option_vega >= -max_vega else None
    return bid, ask


class OptionsMarketMaker(OracleGate, Actor):
    def __init__(
        self,
        name: str,
        book: DeskBook,
        venue: OptionsVenue,
        spot: Callable[[int], float],
        listed: list[Option],
        half_spread_vol: float,
        skew_per_vega: float,
        max_vega: float,
        takers_per_block: float,
        taker_size: float,
        taker_edge_vol: float,
    ) -> None:
        super().__init__(name)
        self.book = book
        self.venue = venue
        self.spot = spot
        self.listed = listed
        self.half_spread = half_spread_vol
        self.skew = skew_per_vega
        self.max_vega = max_vega
        self.rate = takers_per_block
        self.size = taker_size
        self.taker_edge = taker_edge_vol
        self.edge_usd = 0.0
        self.fills = 0

    def on_start(self) -> None:
        self.ctx.subscribe(ORACLE_READINGS)

    def on_event(self, topic: str, message: object) -> None:
        self.observe(message)

    def on_block(self, block: Block) -> None:
        if self.halted(block, "quote"):
            return
        rng = self.ctx.rng
        ts = block.ts_ns
        arrivals = int(rng.poisson(self.rate))
        if arrivals == 0:
            return
        reading = self.reading
        spot = float(reading.price) if reading is not None else float(self.spot(ts))
        for _ in range(arrivals):
            live = [o for o in self.listed if o.expiry_ns > ts]
            if not live:
                return
            option = live[int(rng.integers(0, len(live)))]
            taker_buys = bool(rng.random() < 0.5)
            inv_vega = self.book.greeks(self.venue, spot, ts).vega
            _, _, _, vega, mark_vol = self.venue.greeks(option, spot, ts)
            bid_vol, ask_vol = mm_quote_vols(
                mark_vol, inv_vega, self.half_spread, self.skew, self.max_vega, vega * self.size
            )
            # the taker trades when the quote is within its own edge of the mark
            if taker_buys and ask_vol is not None and ask_vol <= mark_vol + self.taker_edge:
                qty, vol = -self.size, ask_vol
            elif not taker_buys and bid_vol is not None and bid_vol >= mark_vol - self.taker_edge:
                qty, vol = self.size, bid_vol
            else:
                continue
            price = self.venue.value(option, spot, ts, vol)
            mark = self.venue.value(option, spot, ts)
            self.book.add_option(option, qty, price)
            self.edge_usd += (mark - price) * qty
            self.fills += 1
            self.ctx.record("mm_fill", option.name, qty, price, value=vol)
            self.ctx.publish(FILLS, FillEvent(ts, block.number, self.name, "option", option.name, qty, price))
