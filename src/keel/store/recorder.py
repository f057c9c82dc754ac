"""Recording a run into the store: rows are gathered into batches and handed to one writer thread
through a bounded queue.

When the database is slower than the run, the queue fills and :meth:`StoreRecorder.put` blocks:
the run slows down, no row is dropped.  A failed write is raised in the run's thread at its next
``put``/``flush``/``close`` (as :class:`StoreError`), never swallowed.  Each batch is one
transaction; the writers are idempotent per key, so a batch written twice records nothing twice.
"""

from __future__ import annotations

import math
import queue
import threading
from dataclasses import asdict
from typing import Any

from keel.store.store import Store
from keel.store.types import (
    AlertRow,
    EventRow,
    FillRow,
    IntentRow,
    OracleRow,
    PnlRow,
    PositionRow,
    RiskRow,
    StoreError,
)

__all__ = ["StoreRecorder"]

_STOP = object()


def _f(x: float) -> float | None:
    return None if x != x else float(x)


class StoreRecorder:
    """Batched, back-pressured writer of one run's rows.

    ``batch_rows`` rows make a batch; at most ``max_batches`` batches wait for the writer.
    ``event_seq``/``oracle_seq``/``alert_seq`` continue a resumed run's numbering."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        *,
        batch_rows: int = 5000,
        max_batches: int = 4,
        event_seq: int = 0,
        oracle_seq: int = 0,
        alert_seq: int = 0,
    ) -> None:
        if batch_rows < 1 or max_batches < 1:
            raise StoreError(f"batch_rows={batch_rows}, max_batches={max_batches}: must be >= 1")
        self.store = store
        self.run_id = run_id
        self.batch_rows = batch_rows
        self.event_seq = event_seq
        self.oracle_seq = oracle_seq
        self.alert_seq = alert_seq
        self.rows_written = 0
        self.batches_written = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_batches)
        self._batch: dict[str, list[dict[str, Any]]] = {}
        self._pending = 0
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._writer, name=f"keel-store-{run_id}", daemon=True)
        self._thread.start()

    # ---- the writer thread ------------------------------------------------------------------------
    def _writer(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                if self._error is None:
                    self.store.write_batch(self.run_id, item)
                    self.rows_written += sum(len(v) for v in item.values())
                    self.batches_written += 1
            except BaseException as exc:  # handed to the run's thread at its next call
                self._error = exc
            finally:
                self._queue.task_done()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            exc = self._error
            lines = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
            reason = lines[0] if lines else type(exc).__name__
            raise StoreError(f"db={self.store.url!r}: writing run {self.run_id} failed: {reason}") from exc

    def _hand_over(self, item: Any) -> None:
        while True:  # blocks while the writer is behind (back-pressure), but notices a dead writer
            self._raise_if_failed()
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _add(self, kind: str, row: dict[str, Any]) -> None:
        if self._closed:
            raise StoreError(f"run {self.run_id}: recorder already closed")
        bucket = self._batch.get(kind)
        if bucket is None:
            bucket = self._batch[kind] = []
        bucket.append(row)
        self._pending += 1
        if self._pending >= self.batch_rows:
            self._send()

    def _send(self) -> None:
        if self._pending:
            batch, self._batch, self._pending = self._batch, {}, 0
            self._hand_over(batch)

    # ---- rows -------------------------------------------------------------------------------------
    def record(
        self,
        ts_ns: int,
        source: str,
        kind: str,
        instrument: str = "",
        quantity: float = math.nan,
        price: float = math.nan,
        value: float = math.nan,
        detail: str = "",
    ) -> None:
        """One event-log row (same arguments as :meth:`keel.engine.EventRecorder.record`)."""
        seq = self.event_seq
        self.event_seq = seq + 1
        self._add(
            "events",
            {
                "seq": seq,
                "ts_ns": ts_ns,
                "source": source,
                "kind": kind,
                "instrument": instrument,
                "quantity": _f(quantity),
                "price": _f(price),
                "value": _f(value),
                "detail": detail,
            },
        )

    def event(self, row: EventRow) -> None:
        self.event_seq = max(self.event_seq, row.seq + 1)
        d = asdict(row)
        d["quantity"], d["price"], d["value"] = _f(row.quantity), _f(row.price), _f(row.value)
        self._add("events", d)

    def fill(self, row: FillRow) -> None:
        d = asdict(row)
        d["quantity"], d["price"] = _f(row.quantity), _f(row.price)
        self._add("fills", d)

    def intent(self, row: IntentRow) -> None:
        d = asdict(row)
        d["updated_ns"] = row.updated_ns or row.created_ns
        self._add("intents", d)

    def position(self, row: PositionRow) -> None:
        self._add("positions", asdict(row))

    def risk(self, row: RiskRow) -> None:
        d = asdict(row)
        for k in ("equity_usd", "initial_margin_usd", "maintenance_margin_usd", "margin_ratio", "delta"):
            d[k] = _f(d[k])
        self._add("risk", d)

    def pnl(self, row: PnlRow) -> None:
        self._add("pnl", {**asdict(row), "usd": _f(row.usd)})

    def oracle(self, row: OracleRow) -> None:
        seq = self.oracle_seq
        self.oracle_seq = seq + 1
        self._add("oracle", {**asdict(row), "seq": seq, "price": _f(row.price), "confidence": _f(row.confidence)})

    def alert(self, row: AlertRow) -> None:
        seq = self.alert_seq
        self.alert_seq = seq + 1
        self._add("alerts", {**asdict(row), "seq": seq})

    # ---- control ----------------------------------------------------------------------------------
    def flush(self) -> None:
        """Hand over what is gathered and wait until every batch so far is committed."""
        self._send()
        self._queue.join()
        self._raise_if_failed()

    def close(self) -> None:
        """Flush and stop the writer; raises :class:`StoreError` if any batch failed."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()
        self._raise_if_failed()

    def __enter__(self) -> StoreRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
