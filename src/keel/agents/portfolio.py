"""A portfolio manager that opens and rolls multi-leg option strategies by rule.

Strategies (strikes as % of spot at opening; ``contracts`` per leg):
- ``short_call_strip``: sell a call at each strike;
- ``covered_call``: hold ``contracts`` of the asset, sell a call at the first strike;
- ``straddle``: sell a call and a put at the money (first strike);
- ``iron_condor``: sell a put and a call at strikes[0]/strikes[1] %-from-money wings, buy the wings
  further out (strikes[2]): put spread below, call spread above.
Rule: open at start; when a leg is within ``roll_ns`` of expiry, close every leg at the venue
and open the same strategy ``tenor_ns`` out — unless a risk monitor has put the book in
reduce-only (a ``ReduceOnly`` event on ``keel.risk.RISK_EVENTS``, raised by the risk actor
earlier in the same block), when it only closes.  Nothing is opened, closed or rolled on a
HALTED oracle reading: the due decision is a ``DecisionSkipped`` event and waits for a usable one.
"""

from __future__ import annotations

from collections.abc import Callable

from keel.agents.book import DeskBook
from keel.agents.gate import OracleGate
from keel.domain import Option, OptionKind, Settlement
from keel.engine import FILLS, Actor, Block, FillEvent
from keel.errors import ConfigError
from keel.oracle.actor import ORACLE_READINGS
from keel.risk.actor import RISK_EVENTS
from keel.risk.monitors import ReduceOnly
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


class PortfolioManager(OracleGate, Actor):
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
        self.block_number = 0

    def on_start(self) -> None:
        self.ctx.subscribe(ORACLE_READINGS)
        self.ctx.subscribe(RISK_EVENTS)

    def _spot(self, ts: int) -> float:
        reading = self.reading
        return float(reading.price) if reading is not None and reading.usable else float(self.spot(ts))

    def _trade(self, option: Option, qty: float, spot: float, ts: int) -> None:
        fill = self.venue.trade(self.name, option, qty, spot, ts)
        mark = self.venue.value(option, spot, ts)
        self.edge_usd += (mark - fill.price) * qty
        self.book.add_option(option, qty, fill.price)
        self.ctx.record("option_fill", option.name, qty, fill.price, value=fill.iv)
        number = self.block_number
        self.ctx.publish(FILLS, FillEvent(ts, number, self.name, "option", option.name, qty, fill.price))

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
        self.block_number = block.number
        if self.opened == 0:
            if self.halted(block, "open"):
                return
            self._open(self._spot(ts), ts, self.first_expiry_ns or ts + self.tenor_ns)
            return
        if self.roll_ns <= 0 or not self.book.options:
            return
        nearest = min(opt.expiry_ns for opt, _ in self.book.options.values())
        if nearest - ts <= self.roll_ns:
            if self.halted(block, "roll"):
                return
            spot = self._spot(ts)
            for name in sorted(self.book.options):
                option, qty = self.book.options[name]
                self._trade(option, -qty, spot, ts)
            if self.reduce_only:
                self.ctx.record("reduce_only_close", detail="legs closed, not reopened")
                return
            self._open(spot, ts, nearest + self.tenor_ns)
            self.rolls += 1

    def on_event(self, topic: str, message: object) -> None:
        if self.observe(message):
            return
        if isinstance(message, ReduceOnly):
            self.reduce_only = True
