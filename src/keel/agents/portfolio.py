"""A portfolio manager that opens and rolls multi-leg option strategies by rule.

Strategies (strikes as % of spot at opening; ``contracts`` per leg):
- ``short_call_strip``: sell a call at each strike;
- ``covered_call``: hold ``contracts`` of the asset, sell a call at the first strike;
- ``straddle``: sell a call and a put at the money (first strike);
- ``iron_condor``: sell a put and a call at strikes[0]/strikes[1] %-from-money wings, buy the wings
  further out (strikes[2]): put spread below, call spread above.
Rule: open at start; when a leg is within ``roll_ns`` of expiry, close every leg at the venue
and open the same strategy ``tenor_ns`` out — unless a risk monitor has put the book in
reduce-only (a ``ReduceOnly`` event on the bus), when it only closes.
"""

from __future__ import annotations

from collections.abc import Callable

from keel.agents.book import DeskBook
from keel.domain import Option, OptionKind, Settlement
from keel.engine import Actor, Block
from keel.errors import ConfigError
from keel.venues.options import OptionsVenue

__all__ = ["PortfolioManager", "strategy_legs"]


def _round_strike(value: float) -> str:
    return str(int(round(value / 5.0) * 5))


def strategy_legs(
    strategy: str, spot: float, strikes_pct: list[float], contracts: float, underlying: str, expiry_ns: int
) -> list[tuple[Option, float]]:
    """The legs (option, signed contracts) of ``strategy`` at ``spot``."""

    def opt(pct: float, kind: OptionKind) -> Option:
        strike = _round_strike(spot * pct / 100.0)
        return Option(underlying, strike, expiry_ns, kind, "USD", Settlement.LINEAR)  # type: ignore[arg-type]

    if strategy == "short_call_strip":
        return [(opt(p, OptionKind.CALL), -contracts) for p in strikes_pct]
    if strategy == "covered_call":
        return [(opt(strikes_pct[0], OptionKind.CALL), -contracts)]
    if strategy == "straddle":
        return [(opt(strikes_pct[0], OptionKind.CALL), -contracts), (opt(strikes_pct[0], OptionKind.PUT), -contracts)]
    if strategy == "iron_condor":
        if len(strikes_pct) < 3:
            raise ConfigError("desk.strikes_pct", strikes_pct, "iron_condor needs [inner %, (unused), wing %] offsets")
        inner, wing = abs(strikes_pct[0] - 100.0), abs(strikes_pct[2] - 100.0)
        return [
            (opt(100.0 - inner, OptionKind.PUT), -contracts),
            (opt(100.0 - wing, OptionKind.PUT), contracts),
            (opt(100.0 + inner, OptionKind.CALL), -contracts),
            (opt(100.0 + wing, OptionKind.CALL), contracts),
        ]
    raise ConfigError("desk.strategy", strategy, "unknown strategy")


class PortfolioManager(Actor):
    def __init__(
        self,
        name: str,
        book: DeskBook,
        venue: OptionsVenue,
        spot: Callable[[int], float],
        strategy: str,
        strikes_pct: list[float],
        contracts: float,
        tenor_ns: int,
        roll_ns: int,
        first_expiry_ns: int | None = None,
    ) -> None:
        super().__init__(name)
        self.book = book
        self.venue = venue
        self.spot = spot
        self.strategy = strategy
        self.strikes_pct = strikes_pct
        self.contracts = contracts
        self.tenor_ns = tenor_ns
        self.roll_ns = roll_ns
        self.first_expiry_ns = first_expiry_ns
        self.opened = 0
        self.rolls = 0
        self.edge_usd = 0.0  # (fill − mark) × −quantity: spread paid (−) or earned (+)
        self.reduce_only = False  # set by a risk monitor's ReduceOnly: close at the roll, open nothing

    def _trade(self, option: Option, qty: float, spot: float, ts: int) -> None:
        fill = self.venue.trade(self.name, option, qty, spot, ts)
        mark = self.venue.value(option, spot, ts)
        self.edge_usd += (mark - fill.price) * qty
        self.book.add_option(option, qty, fill.price)
        self.ctx.record("option_fill", option.name, qty, fill.price, value=fill.iv)

    def _open(self, spot: float, ts: int, expiry: int) -> None:
        for option, qty in strategy_legs(
            self.strategy,
            spot,
            self.strikes_pct,
            self.contracts,
            self.book.asset_token.symbol.removeprefix("W"),
            expiry,
        ):
            self._trade(option, qty, spot, ts)
        self.opened += 1

    def on_block(self, block: Block) -> None:
        ts = block.ts_ns
        spot = float(self.spot(ts))
        if self.opened == 0:
            self._open(spot, ts, self.first_expiry_ns or ts + self.tenor_ns)
            return
        if self.roll_ns <= 0 or not self.book.options:
            return
        nearest = min(opt.expiry_ns for opt, _ in self.book.options.values())
        if nearest - ts <= self.roll_ns:
            for name in sorted(self.book.options):
                option, qty = self.book.options[name]
                self._trade(option, -qty, spot, ts)
            if self.reduce_only:
                self.ctx.record("reduce_only_close", detail="legs closed, not reopened")
                return
            self._open(spot, ts, nearest + self.tenor_ns)
            self.rolls += 1

    def on_event(self, topic: str, message: object) -> None:
        if type(message).__name__ == "ReduceOnly":
            self.reduce_only = True
