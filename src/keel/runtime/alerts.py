"""Alerts: rules from the scenario's ``[alerts]`` section, checked as a run subscriber; webhooks in the background.

:class:`AlertMonitor` is a ``keel.engine.pipeline.RunSubscriber``.  It reads every pipeline
event and the per-block snapshot, and fires an :class:`Alert` when a rule's condition starts to
hold (edge-triggered: a condition that stays true fires once; after it clears it may fire again).
Each alert goes to the monitor's sinks (the store, the service) and to :class:`WebhookSender`,
which POSTs it as JSON from its own thread, retrying with exponential backoff; the run only puts
the alert on a queue, so a slow or dead receiver never slows the engine.

Rules (``keel.sim.config.AlertsConfig``): ``margin_ratio_below`` (equity / maintenance margin,
ratio), ``oracle_halted``, ``hedge_failed`` (a hedge transaction reverted, or its intent was
refused; one alert per streak of blocks with failures), ``drawdown_usd`` (USD below the PnL's
running peak), ``tx_stuck_blocks`` (a submitted transaction without a receipt for that many blocks).
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from keel.domain.pipeline import BlockSnapshot, IntentStated, TxSubmitted
from keel.engine.transactions import Receipt
from keel.sim.config import AlertsConfig

__all__ = ["Alert", "AlertMonitor", "WebhookSender", "store_sink"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Alert:
    """One fired alert.  ``alert_id`` (``RUN:SEQ``) is unique and sent as the webhook's idempotency key.

    ``kind``: ``margin_ratio``, ``oracle_halted``, ``hedge_failed``, ``drawdown``, ``tx_stuck``, ``killed``;
    ``severity``: ``warning`` or ``critical``; ``value``: the measured figure (ratio, USD, blocks)."""

    alert_id: str
    run_id: str
    seq: int
    ts_ns: int
    block_number: int
    kind: str
    severity: str
    message: str
    value: float | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["value"] is not None and not math.isfinite(data["value"]):
            data["value"] = None
        return data


class WebhookSender:
    """POSTs alerts as JSON to each URL from one background thread; retries with exponential backoff.

    A delivery succeeds on a 2xx answer and is then never sent again; 4xx other than 408/429 is
    final (logged); other failures are retried up to ``retries`` times, waiting ``backoff_s`` × 2^k
    (at most ``max_backoff_s``).  :meth:`send` never blocks.  ``delivered``/``failed`` count outcomes."""

    def __init__(
        self,
        urls: Iterable[str],
        *,
        timeout_s: float = 5.0,
        retries: int = 5,
        backoff_s: float = 0.2,
        max_backoff_s: float = 10.0,
    ) -> None:
        self.urls = tuple(urls)
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.delivered = 0
        self.failed = 0
        self._queue: queue.SimpleQueue[tuple[str, bytes, str] | None] = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def send(self, alert: Alert) -> None:
        """Queue the alert for every URL (returns at once)."""
        if not self.urls or self._closed:
            return
        body = json.dumps({"alert": alert.as_dict()}, allow_nan=False, sort_keys=True).encode()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="keel-webhooks", daemon=True)
                self._thread.start()
            self._pending += len(self.urls)
        for url in self.urls:
            self._queue.put((url, body, alert.alert_id))

    def _post(self, url: str, body: bytes, key: str) -> tuple[bool, bool]:
        """One attempt: (delivered, retry worth it)."""
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": key, "User-Agent": "keel-alerts"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return 200 <= response.status < 300, True
        except urllib.error.HTTPError as exc:
            return False, exc.code >= 500 or exc.code in (408, 429)
        except (OSError, ValueError):
            return False, True

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            url, body, key = item
            ok = False
            for attempt in range(self.retries + 1):
                ok, again = self._post(url, body, key)
                if ok or not again or attempt == self.retries:
                    break
                time.sleep(min(self.backoff_s * 2**attempt, self.max_backoff_s))
            with self._lock:
                if ok:
                    self.delivered += 1
                else:
                    self.failed += 1
                    log.warning("alert %s not delivered to %s", key, url)
                self._pending -= 1
                self._lock.notify_all()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued delivery succeeded or gave up; True if none is left."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what is queued (up to ``timeout_s``), then stop the thread."""
        self.flush(timeout_s)
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=1.0)


class AlertMonitor:
    """A run subscriber that checks the ``[alerts]`` rules every block (see the module docstring).

    ``sinks``: callables receiving each :class:`Alert` (in the run's thread; keep them quick).
    ``alerts`` keeps every fired alert in order."""

    def __init__(
        self,
        config: AlertsConfig,
        run_id: str,
        *,
        sinks: Iterable[Callable[[Alert], None]] = (),
        webhooks: WebhookSender | None = None,
    ) -> None:
        self.config = config
        self.run_id = run_id
        self.sinks = list(sinks)
        self.webhooks = (
            webhooks
            if webhooks is not None
            else WebhookSender(config.webhooks, timeout_s=config.webhook_timeout_s, retries=config.webhook_retries)
        )
        self.alerts: list[Alert] = []
        self._active: set[str] = set()
        self._peak = -math.inf
        self._pending_tx: dict[int, int] = {}  # tx_id -> block submitted (hedge and other desk transactions)
        self._stuck_reported: set[int] = set()
        self._block = 0
        self._ts = 0
        self._hedge_failures: list[tuple[str, float | None]] = []

    # -- run subscriber -------------------------------------------------------------------------

    def on_event(self, topic: str, event: object) -> None:
        if isinstance(event, TxSubmitted):
            self._pending_tx[event.tx_id] = event.block_number
        elif isinstance(event, Receipt):
            self._pending_tx.pop(event.tx_id, None)
            self._stuck_reported.discard(event.tx_id)
            if event.tag == "hedge" and not event.status:
                reason = event.revert_reason or "reverted"
                self._hedge_failures.append((f"hedge transaction {event.tx_id} reverted: {reason}", None))
        elif isinstance(event, IntentStated) and not event.accepted:
            why = event.reason or event.cause or "refused"
            self._hedge_failures.append((f"hedge intent {event.order_id} by {event.agent} refused: {why}", None))

    def on_snapshot(self, snapshot: BlockSnapshot) -> None:
        self._block, self._ts = snapshot.block_number, snapshot.ts_ns
        cfg = self.config
        if cfg.hedge_failed:  # one alert when hedges start failing; again after a block without failure
            failures = self._hedge_failures
            more = f" (+{len(failures) - 1} more in this block)" if len(failures) > 1 else ""
            self._edge("hedge_failed", bool(failures), "warning", (failures[0][0] + more) if failures else "", None)
        self._hedge_failures = []
        if cfg.margin_ratio_below is not None:
            ratio = snapshot.margin_ratio
            self._edge(
                "margin_ratio",
                math.isfinite(ratio) and ratio < cfg.margin_ratio_below,
                "critical",
                f"margin ratio {ratio:.4g} below {cfg.margin_ratio_below:g} (equity / maintenance margin)",
                ratio,
            )
        if cfg.oracle_halted:
            self._edge(
                "oracle_halted",
                snapshot.oracle_status.lower() == "halted",
                "critical",
                "oracle HALTED: no usable price",
                None,
            )
        if cfg.drawdown_usd is not None:
            total = float(snapshot.pnl.get("total", math.nan))
            if math.isfinite(total):
                self._peak = max(self._peak, total)
                drawdown = self._peak - total
                self._edge(
                    "drawdown",
                    drawdown > cfg.drawdown_usd,
                    "warning",
                    f"drawdown {drawdown:,.2f} USD beyond {cfg.drawdown_usd:,.2f} USD",
                    drawdown,
                )
        if cfg.tx_stuck_blocks is not None:
            for tx_id, since in sorted(self._pending_tx.items()):
                waited = snapshot.block_number - since
                if waited >= cfg.tx_stuck_blocks and tx_id not in self._stuck_reported:
                    self._stuck_reported.add(tx_id)
                    self._fire(
                        "tx_stuck",
                        "warning",
                        f"transaction {tx_id} without a receipt for {waited} blocks",
                        float(waited),
                    )

    def on_end(self, summary: dict[str, Any]) -> None:
        """The kill switch notifies: a killed run fires a ``killed`` alert; then queued webhooks are delivered."""
        if summary.get("status") == "killed":
            self._fire("killed", "critical", "run stopped by the kill switch: no new transactions", None)
        self.webhooks.close()

    # -- firing ---------------------------------------------------------------------------------

    def _edge(self, kind: str, holds: bool, severity: str, message: str, value: float | None) -> None:
        if holds and kind not in self._active:
            self._active.add(kind)
            self._fire(kind, severity, message, value)
        elif not holds:
            self._active.discard(kind)

    def _fire(self, kind: str, severity: str, message: str, value: float | None) -> None:
        seq = len(self.alerts)
        alert = Alert(f"{self.run_id}:{seq}", self.run_id, seq, self._ts, self._block, kind, severity, message, value)
        self.alerts.append(alert)
        for sink in self.sinks:
            try:
                sink(alert)
            except Exception:  # a sink (UI, store) must not stop the run; the alert stays in .alerts
                log.exception("alert sink failed")
        self.webhooks.send(alert)


def store_sink(recorder: Any) -> Callable[[Alert], None]:
    """An alert sink writing each alert through a ``keel.store.StoreRecorder`` (its ``alerts`` table)."""
    from keel.store import AlertRow

    def sink(alert: Alert) -> None:
        recorder.alert(AlertRow(alert.ts_ns, alert.severity, alert.kind, alert.message, alert.block_number))

    return sink
