"""Risk as a pipeline actor: margin, Greeks and monitor events before the agents act.

:class:`RiskActor` runs at stage RISK of a block: after the oracle has published this block's
reading and before any agent decides.  Every ``every_blocks`` blocks it asks its ``inputs``
callback for the account's positions, market state and equity at the reading's price, computes
the margin requirement (a :class:`keel.risk.MarginModel`), the portfolio Greeks
(:func:`keel.risk.monitors.portfolio_greeks`) and the :class:`keel.risk.monitors.RiskMonitor`'s
events, and publishes each event on :data:`RISK_EVENTS` (the typed ``RiskEvent`` union).  Agents
subscribed to that topic receive a breach in the same block it is raised, matched by type
(``isinstance(event, HedgeRequested)``).  On a HALTED reading nothing is measured: the account is
reported frozen (an :class:`AccountFrozen` event with the oracle's reasons).

Layer 2: this module does not import ``keel.engine`` (see ``keel.domain.pipeline``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from keel.domain.pipeline import Block, PipelineContext, Stage, Topic
from keel.errors import ConfigError
from keel.oracle.actor import ORACLE_READINGS
from keel.oracle.reading import OracleReading
from keel.risk.accounts import AccountStatus, MarketState, PositionView
from keel.risk.margin import MarginModel
from keel.risk.monitors import (
    AccountFrozen,
    HedgeRequested,
    Liquidate,
    PortfolioGreeks,
    ReduceOnly,
    RiskEvent,
    RiskMonitor,
    portfolio_greeks,
)

__all__ = ["RISK_EVENTS", "RiskActor", "RiskInputs"]

RISK_EVENTS: Topic[RiskEvent] = Topic("risk_event", HedgeRequested | ReduceOnly | Liquidate | AccountFrozen)


@dataclass(frozen=True, slots=True)
class RiskInputs:
    """An account at one instant: ``positions`` and ``market`` for the margin model and the Greeks,
    ``equity`` (collateral value, USD).  ``margin_ratio``: a venue's own ratio (equity /
    maintenance) when the account is margined by the venue rather than a model (then
    ``positions`` may be empty)."""

    positions: Sequence[PositionView]
    market: MarketState | None
    equity: float
    margin_ratio: float | None = None


class RiskActor:
    """Stage RISK: ``inputs(ts_ns, price) -> RiskInputs | None`` (None: nothing to measure).

    After each measurement: ``margin_ratio`` (equity / maintenance, ``inf`` with no requirement),
    ``maintenance`` (USD), ``greeks`` (per underlying), ``health`` (``"ok"``, ``"reduce_only"``,
    ``"liquidatable"``, ``"frozen"``), ``min_margin_ratio`` and ``event_counts`` by event type."""

    stage = Stage.RISK
    ctx: PipelineContext

    def __init__(
        self,
        name: str,
        account_id: str,
        inputs: Callable[[int, float], RiskInputs | None],
        margin_model: MarginModel | None = None,
        monitor: RiskMonitor | None = None,
        every_blocks: int = 1,
    ) -> None:
        if not name:
            raise ConfigError("risk.name", name, "an actor needs a non-empty name")
        if isinstance(every_blocks, bool) or not isinstance(every_blocks, int) or every_blocks < 1:
            raise ConfigError("risk.every_blocks", every_blocks, "must be an int >= 1")
        self.name = name
        self.account_id = account_id
        self.inputs = inputs
        self.margin_model = margin_model
        self.monitor = monitor
        self.every_blocks = every_blocks
        self.reading: OracleReading | None = None
        self.blocks = 0
        self.measured = 0
        self.margin_ratio = math.nan
        self.min_margin_ratio = math.inf
        self.maintenance = math.nan
        self.health = "n/a"
        self._inputs: RiskInputs | None = None  # the last measurement's inputs (Greeks computed on demand)
        self._greeks: dict[str, PortfolioGreeks] | None = None
        self.event_counts: dict[str, int] = {}

    def on_start(self) -> None:
        self.ctx.subscribe(ORACLE_READINGS)

    def on_event(self, topic: str, message: object) -> None:
        if isinstance(message, OracleReading):
            self.reading = message

    def on_block(self, block: Block) -> None:
        due = self.blocks % self.every_blocks == 0
        self.blocks += 1
        if not due:
            return
        reading = self.reading
        ts = block.ts_ns
        if reading is not None and not reading.usable:
            self.health = "frozen"
            if self.monitor is not None:
                reason = "oracle halted: " + ("; ".join(reading.reasons) or "no usable price")
                events = self.monitor.check(ts, self.account_id, (), _EMPTY, 0.0, 0.0, AccountStatus.FROZEN, reason)
                self._publish(events)
            return
        price = reading.price if reading is not None else math.nan
        inputs = self.inputs(ts, price)
        if inputs is None:
            return
        self.measured += 1
        if inputs.margin_ratio is not None:
            ratio = float(inputs.margin_ratio)
            self.maintenance = math.nan
        else:
            if self.margin_model is None or not inputs.positions or inputs.market is None:
                self.margin_ratio = math.inf
                self.health = "ok"
                return
            req = self.margin_model.requirement(list(inputs.positions), inputs.market)
            self.maintenance = req.maintenance
            ratio = inputs.equity / req.maintenance if req.maintenance > 0 else math.inf
            self._inputs, self._greeks = inputs, None
            if self.monitor is not None:
                events = self.monitor.check(
                    ts, self.account_id, inputs.positions, inputs.market, inputs.equity, req.maintenance
                )
                self._publish(events)
        self.margin_ratio = ratio
        if math.isfinite(ratio):
            self.min_margin_ratio = min(self.min_margin_ratio, ratio)
        if self.monitor is not None and math.isfinite(ratio) and ratio > 0:
            th = self.monitor.thresholds
            inverse = 1.0 / ratio  # maintenance / equity, the monitor's convention
            self.health = (
                "liquidatable"
                if inverse >= th.liquidate_ratio
                else "reduce_only"
                if inverse >= th.reduce_only_ratio
                else "ok"
            )
        else:
            self.health = "ok" if ratio > 0 else "liquidatable"

    @property
    def greeks(self) -> dict[str, PortfolioGreeks]:
        """Portfolio Greeks per underlying at the last measurement (computed when first asked for)."""
        if self._greeks is None:
            inputs = self._inputs
            if inputs is None or inputs.market is None or not inputs.positions:
                return {}
            self._greeks = portfolio_greeks(inputs.positions, inputs.market)
        return self._greeks

    def _publish(self, events: Sequence[RiskEvent]) -> None:
        for event in events:
            kind = type(event).__name__
            self.event_counts[kind] = self.event_counts.get(kind, 0) + 1
            value = float(getattr(event, "value", getattr(event, "margin_ratio", math.nan)))
            self.ctx.record("risk_" + kind, getattr(event, "underlying", ""), value=value)
            self.ctx.publish(RISK_EVENTS, event)

    def summary(self) -> dict[str, Any]:
        return {"measured": self.measured, "events": dict(sorted(self.event_counts.items()))}


_EMPTY = MarketState(0, {})
