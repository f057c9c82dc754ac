"""Live runs inside the service's process: their state as the pipeline reports it, and their run control.

A :class:`LiveRun` is fed by :class:`HubSubscriber` (a ``keel.engine.pipeline.RunSubscriber``)
from the run's own thread; the web handlers read it from the event loop.  Every mutation and
every read takes the run's lock, and readers get copies, so neither side sees half a block.

Per block it keeps one row of series (the figures of ``keel.sim.report.chart_figures``), and it
keeps the blotter (intents, transactions, receipts, fills), alerts and the latest snapshot.  The
WebSocket handler streams ``messages`` from a cursor: one ``block`` message per block and one
message per intent, transaction, receipt, fill, skipped decision and alert.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from keel.domain.pipeline import BlockSnapshot, DecisionSkipped, FillEvent, IntentStated, TxSubmitted
from keel.engine.transactions import Receipt
from keel.runtime.alerts import Alert
from keel.sim.scenario import PNL_PARTS

__all__ = ["Control", "HubSubscriber", "LiveRun", "RunHub", "event_message"]

MAX_ROWS = 20_000  # blotter rows and stream messages kept per live run (oldest dropped first)
STATUS_CODES = {"ok": 0, "degraded": 1, "halted": 2}


class Control(Protocol):
    """What the kill switch and pause/resume act on (``keel.engine.pipeline.RunControl``)."""

    @property
    def status(self) -> str: ...

    def stop(self) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


@dataclass
class _Capped:
    """An append-only list that forgets its oldest rows beyond ``cap``; ``total`` counts every append."""

    cap: int = MAX_ROWS
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.total += 1
        if len(self.rows) > self.cap:
            del self.rows[: len(self.rows) - self.cap]

    def since(self, cursor: int) -> tuple[list[dict[str, Any]], int]:
        first = self.total - len(self.rows)
        start = max(cursor, first) - first
        return list(self.rows[start:]), self.total


def event_message(event: object) -> dict[str, Any] | None:
    """The stream message of one pipeline event (``type``: intent, transaction, receipt, fill, skipped), else None.

    The same messages for a run in this process and for one another process records in the store."""
    if isinstance(event, IntentStated):
        return {
            "type": "intent",
            "block": event.block_number,
            "ts_ns": event.ts_ns,
            "agent": event.agent,
            "order_id": event.order_id,
            "quantity": _finite(event.quantity),
            "net_delta": _finite(event.net_delta),
            "accepted": event.accepted,
            "cause": event.cause,
            "reason": event.reason,
        }
    if isinstance(event, TxSubmitted):
        return {
            "type": "transaction",
            "block": event.block_number,
            "ts_ns": event.ts_ns,
            "tx_id": event.tx_id,
            "sender": event.sender,
            "tag": event.tag,
            "token_in": event.token_in,
            "amount_in": str(event.amount_in),
            "venues": list(event.venues),
            "status": "pending",
            "included_block": None,
            "latency_s": None,
            "reason": "",
        }
    if isinstance(event, Receipt):
        return {
            "type": "receipt",
            "tx_id": event.tx_id,
            "block": event.block_number,
            "status": event.status,
            "tag": event.tag,
            "reason": event.revert_reason,
            "latency_s": (event.ts_ns - event.submitted_ns) / 1e9 if event.submitted_ns else None,
        }
    if isinstance(event, FillEvent):
        return {
            "type": "fill",
            "block": event.block_number,
            "ts_ns": event.ts_ns,
            "agent": event.agent,
            "kind": event.kind,
            "instrument": event.instrument,
            "quantity": _finite(event.quantity),
            "price": _finite(event.price),
            "fee_usd": _finite(event.fee_usd),
        }
    if isinstance(event, DecisionSkipped):
        return {
            "type": "skipped",
            "block": event.block_number,
            "agent": event.agent,
            "decision": event.decision,
            "cause": event.cause,
            "reason": event.reason,
        }
    return None


class LiveRun:
    """One run's live state.  ``status``: ``running``, ``paused``, ``killed``, ``finished`` or ``failed``."""

    def __init__(
        self,
        run_id: str,
        name: str,
        control: Control | None = None,
        *,
        mode: str = "sim",
        thresholds: dict[str, float] | None = None,
        n_blocks: int | None = None,
    ) -> None:
        self.run_id = run_id
        self.name = name
        self.mode = mode
        self.control = control
        self.thresholds = dict(thresholds or {"liquidation": 1.0})
        self.n_blocks = n_blocks
        self.started_wall = time.time()
        self.lock = threading.Lock()
        self._status = "running"
        self.error = ""
        self.summary: dict[str, Any] | None = None
        self.blocks = 0
        self.last: BlockSnapshot | None = None
        self.block_wall: dict[int, float] = {}  # block number -> wall time the service saw it (store lag)
        self.series: dict[str, list[float]] = {
            k: []
            for k in (
                "ts_ns",
                "block",
                "pnl",
                "delta",
                "asset",
                "margin_ratio",
                "base_fee_gwei",
                "oracle_price",
                "oracle_confidence",
                "oracle_status",
                *(f"pnl_{p}" for p in PNL_PARTS),
            )
        }
        self.fills_for_chart: list[tuple[int, float, float]] = []
        self.intents = _Capped()
        self.transactions = _Capped()
        self.fills = _Capped()
        self.alerts = _Capped()
        self.messages = _Capped()
        self._tx_rows: dict[int, dict[str, Any]] = {}  # pending transactions' blotter rows
        self.hedge_outcomes: dict[str, int] = {}
        self.listeners: list[Callable[[str, Any], None]] = []  # metrics: (kind, payload)

    # -- status ---------------------------------------------------------------------------------

    @property
    def status(self) -> str:
        if self._status == "running" and self.control is not None and self.control.status == "paused":
            return "paused"
        return self._status

    def set_status(self, status: str, error: str = "") -> None:
        with self.lock:
            self._status = status
            self.error = error
            self.messages.append({"type": "status", "run_id": self.run_id, "status": self.status, "error": error})

    # -- feeding (run thread) -------------------------------------------------------------------

    def _notify(self, kind: str, payload: Any) -> None:
        for listener in self.listeners:
            listener(kind, payload)

    def add_event(self, topic: str, event: object) -> None:
        with self.lock:
            msg = event_message(event)
            if msg is None:
                return
            row = {k: v for k, v in msg.items() if k != "type"}
            if isinstance(event, IntentStated):
                self.intents.append(row)
                if not event.accepted:
                    self._outcome("refused")
            elif isinstance(event, TxSubmitted):
                self.transactions.append(row)  # updated in place by its receipt (the blotter row)
                self._tx_rows[event.tx_id] = row
            elif isinstance(event, Receipt):
                pending = self._tx_rows.pop(event.tx_id, None)
                if pending is not None:
                    pending["status"] = "included" if event.status else "reverted"
                    pending["included_block"] = event.block_number
                    pending["latency_s"] = msg["latency_s"]
                    pending["reason"] = event.revert_reason
                self._notify("receipt", event)
                if event.tag == "hedge" and not event.status:
                    self._outcome("reverted")
            elif isinstance(event, FillEvent):
                self.fills.append(row)
                if event.kind == "hedge":
                    self._outcome("filled")
                    self.fills_for_chart.append((event.ts_ns, event.quantity, event.price))
            elif isinstance(event, DecisionSkipped) and event.decision == "hedge":
                self._outcome("skipped")
            self.messages.append(msg)

    def _outcome(self, outcome: str) -> None:
        self.hedge_outcomes[outcome] = self.hedge_outcomes.get(outcome, 0) + 1
        self._notify("hedge", outcome)

    def add_snapshot(self, snap: BlockSnapshot, base_fee_gwei: float = math.nan) -> None:
        with self.lock:
            self.last = snap
            self.blocks += 1
            self.block_wall[snap.block_number] = time.time()
            if len(self.block_wall) > 4096:
                for key in sorted(self.block_wall)[:1024]:
                    del self.block_wall[key]
            s = self.series
            s["ts_ns"].append(snap.ts_ns)
            s["block"].append(snap.block_number)
            s["pnl"].append(float(snap.pnl.get("total", math.nan)))
            for part in PNL_PARTS:
                s[f"pnl_{part}"].append(float(snap.pnl.get(part, math.nan)))
            s["delta"].append(snap.net_delta)
            s["asset"].append(_hedge_units(snap.positions))
            s["margin_ratio"].append(snap.margin_ratio)
            s["base_fee_gwei"].append(float(getattr(snap, "base_fee_gwei", base_fee_gwei)))
            s["oracle_price"].append(snap.oracle_price)
            s["oracle_confidence"].append(snap.oracle_confidence)
            s["oracle_status"].append(float(STATUS_CODES.get(snap.oracle_status.lower(), 2)))
            self.messages.append(
                {
                    "type": "block",
                    "block": snap.block_number,
                    "blocks": self.blocks,
                    "ts_ns": snap.ts_ns,
                    "pnl": {k: _finite(v) for k, v in snap.pnl.items()},
                    "net_delta": _finite(snap.net_delta),
                    "gamma": _finite(snap.gamma),
                    "vega_usd": _finite(snap.vega),
                    "theta_usd_per_day": _finite(snap.theta),
                    "margin_ratio": _finite(snap.margin_ratio),
                    "health": snap.health,
                    "oracle": {
                        "price": _finite(snap.oracle_price),
                        "confidence": _finite(snap.oracle_confidence),
                        "status": snap.oracle_status,
                    },
                }
            )
        self._notify("snapshot", snap)

    def add_alert(self, alert: Alert) -> None:
        with self.lock:
            row = alert.as_dict()
            self.alerts.append(row)
            self.messages.append({"type": "alert", **row})
        self._notify("alert", alert)

    def finish(self, summary: dict[str, Any]) -> None:
        status = str(summary.get("status", "finished"))
        status = {"completed": "finished", "stopped": "killed"}.get(status, status)
        with self.lock:
            self.summary = summary
        self.set_status(status)

    # -- reading (web handlers) -----------------------------------------------------------------

    def series_copy(self) -> tuple[dict[str, list[float]], list[tuple[int, float, float]]]:
        with self.lock:
            return {k: list(v) for k, v in self.series.items()}, list(self.fills_for_chart)


def _hedge_units(positions: Iterable[tuple[str, float]]) -> float:
    """The desk's delta-one holdings: positions that are not option legs (no expiry-strike-type name)."""
    total = 0.0
    for name, qty in positions:
        if name.count("-") < 3:
            total += qty
    return total


class HubSubscriber:
    """Feeds a :class:`LiveRun` from the pipeline (``keel.engine.pipeline.RunSubscriber``)."""

    def __init__(self, run: LiveRun) -> None:
        self.run = run

    def on_event(self, topic: str, event: object) -> None:
        self.run.add_event(topic, event)

    def on_snapshot(self, snapshot: BlockSnapshot) -> None:
        self.run.add_snapshot(snapshot)

    def on_end(self, summary: dict[str, Any]) -> None:
        self.run.finish(summary)


class RunHub:
    """The live runs of this process, by id (thread-safe)."""

    def __init__(self) -> None:
        self._runs: dict[str, LiveRun] = {}
        self._lock = threading.Lock()
        self.on_add: list[Callable[[LiveRun], None]] = []

    def add(self, run: LiveRun) -> LiveRun:
        with self._lock:
            self._runs[run.run_id] = run
        for hook in self.on_add:
            hook(run)
        return run

    def get(self, run_id: str) -> LiveRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def runs(self) -> list[LiveRun]:
        with self._lock:
            return list(self._runs.values())
