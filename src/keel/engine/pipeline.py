"""The block pipeline seen from the engine: the engine's own topics, run control and run subscribers.

Stages and payload types are defined in :mod:`keel.domain.pipeline` (layer 0) and re-exported
here.  Topics carried by every run:

==================  ======================================  ==========================================
topic name          payload                                 published by
==================  ======================================  ==========================================
``market_data``     :class:`MarketData`                     the market-data actor (stage MARKET_DATA)
``oracle``          ``keel.oracle.OracleReading``           ``keel.oracle.OracleActor`` (ORACLE)
``risk_event``      ``keel.risk.monitors.RiskEvent`` union  ``keel.risk.RiskActor`` (RISK)
``intent``          :class:`IntentStated`                   hedging agents (AGENTS)
``decision_skipped``:class:`DecisionSkipped`                agents, and the engine while paused/stopped
``transaction``     :class:`TxSubmitted`                    the environment, when a ``Tx`` enters it
``receipt``         ``keel.engine.Receipt``                 the environment, when a block includes a tx
``fill``            :class:`FillEvent`                      agents, when they book an execution
``snapshot``        :class:`BlockSnapshot`                  the reporting actor (REPORTING)
==================  ======================================  ==========================================

A :class:`RunSubscriber` receives all of them (``on_event``), the per-block snapshot
(``on_snapshot``) and the final summary (``on_end``); it only reads.  A :class:`RunControl`
is honoured at block boundaries: ``pause()`` skips the AGENTS stage (each skipped agent
decision is a ``DecisionSkipped`` with cause ``"paused"``), ``stop()`` ends the run before the
next block (no new transactions; the summary's ``status`` is ``"killed"``).
"""

from __future__ import annotations

import threading
from typing import Any, Protocol, runtime_checkable

from keel.domain.pipeline import (
    Block,
    BlockSnapshot,
    DecisionSkipped,
    FillEvent,
    IntentStated,
    MarketData,
    PipelineActor,
    PipelineContext,
    Stage,
    Topic,
    TxSubmitted,
)

__all__ = [
    "DECISIONS",
    "FILLS",
    "INTENTS",
    "MARKET_DATA",
    "SNAPSHOTS",
    "TRANSACTIONS",
    "Block",
    "BlockSnapshot",
    "DecisionSkipped",
    "FillEvent",
    "IntentStated",
    "MarketData",
    "PipelineActor",
    "PipelineContext",
    "RunControl",
    "RunSubscriber",
    "Stage",
    "TxSubmitted",
]

MARKET_DATA: Topic[MarketData] = Topic("market_data", MarketData)
INTENTS: Topic[IntentStated] = Topic("intent", IntentStated)
DECISIONS: Topic[DecisionSkipped] = Topic("decision_skipped", DecisionSkipped)
TRANSACTIONS: Topic[TxSubmitted] = Topic("transaction", TxSubmitted)
FILLS: Topic[FillEvent] = Topic("fill", FillEvent)
SNAPSHOTS: Topic[BlockSnapshot] = Topic("snapshot", BlockSnapshot)


class RunControl:
    """Stop, pause and resume a run from outside (a kill switch, a service); honoured at block boundaries.

    Thread-safe: another thread may call :meth:`stop`, :meth:`pause`, :meth:`resume` while the run steps."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status = "running"

    @property
    def status(self) -> str:
        """``"running"``, ``"paused"`` or ``"stopped"``."""
        return self._status

    @property
    def stopped(self) -> bool:
        return self._status == "stopped"

    @property
    def paused(self) -> bool:
        return self._status == "paused"

    def stop(self) -> None:
        """No new transactions; the run ends before the next block, with status ``"killed"``."""
        with self._lock:
            self._status = "stopped"

    def pause(self) -> None:
        """Agents stop deciding from the next block (market, oracle, risk and reporting go on)."""
        with self._lock:
            if self._status == "running":
                self._status = "paused"

    def resume(self) -> None:
        with self._lock:
            if self._status == "paused":
                self._status = "running"

    def __getstate__(self) -> dict[str, Any]:
        return {"status": self._status}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._lock = threading.Lock()
        self._status = state["status"]


@runtime_checkable
class RunSubscriber(Protocol):
    """Reads a run: every typed pipeline event, one snapshot per block, and the final summary."""

    def on_event(self, topic: str, event: object) -> None: ...

    def on_snapshot(self, snapshot: BlockSnapshot) -> None: ...

    def on_end(self, summary: dict[str, Any]) -> None: ...
