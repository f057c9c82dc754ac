"""Recording a run into the store: rows are gathered into batches and handed through a bounded queue to
one writer: a process of its own (``writer="process"``, :mod:`keel.store._writer`: the database work leaves
the run's process and its GIL) or a thread (``writer="thread"``).

When the database is slower than the run, the queue fills and :meth:`StoreRecorder.put` blocks:
the run slows down, no row is dropped.  A failed write is raised in the run's thread at its next
``put``/``flush``/``close`` (as :class:`StoreError`), never swallowed.  Each batch is one
transaction; the writers are idempotent per key, so a batch written twice records nothing twice.
"""

from __future__ import annotations

import math
import queue
import threading
from typing import Any, Literal

from keel.errors import ValidationError
from keel.store._writer import ProcessWriter, reason_of, writer_url
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


def _opt(x: float | None) -> float | None:
    return None if x is None or x != x else float(x)


def _ints(*amounts: int) -> None:
    for a in amounts:
        if type(a) is not int:  # bool and float refused too: amounts are exact base units
            raise ValidationError("amount", a, "must be an int in base units")
        if abs(a) >= 10**78:
            raise ValidationError("amount", a, "does not fit NUMERIC(78, 0)")


class StoreRecorder:
    """Batched, back-pressured writer of one run's rows.

    ``batch_rows`` rows make a batch; at most ``max_batches`` batches wait for the writer.
    ``event_seq``/``oracle_seq``/``alert_seq`` continue a resumed run's numbering.  ``append_only``: no row
    recorded here exists yet (a new run, or a resumed one after :meth:`Store.discard_after`): PostgreSQL
    takes batches by COPY.

    ``writer``: ``"process"`` writes from a child process (it opens the same database: a SQLite file or a
    PostgreSQL server), ``"thread"`` from a thread of this process, ``"auto"`` (default) the process where a
    child can open the store (not an in-memory SQLite, nor a store whose ``write_rows`` is replaced here), else
    the thread.  Rows, transactions, back-pressure and errors are the same either way."""

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
        append_only: bool = False,
        writer: Literal["auto", "process", "thread"] = "auto",
    ) -> None:
        if batch_rows < 1 or max_batches < 1:
            raise StoreError(f"batch_rows={batch_rows}, max_batches={max_batches}: must be >= 1")
        if writer not in ("auto", "process", "thread"):
            raise StoreError(f"writer={writer!r}: use 'process', 'thread' or 'auto'")
        self.store = store
        self.run_id = run_id
        self.batch_rows = batch_rows
        self.event_seq = event_seq
        self.oracle_seq = oracle_seq
        self.alert_seq = alert_seq
        self.append_only = append_only
        self._rows_written = 0
        self._batches_written = 0
        self._batch: dict[str, list[tuple[Any, ...]]] = {}
        self._pending = 0
        self._error: BaseException | None = None
        self._closed = False
        url = writer_url(store) if writer != "thread" else None
        if writer == "process" and url is None:
            raise StoreError(f"db={store.url!r}: writer='process': a child process cannot open this store")
        self._process: ProcessWriter | None = None
        self._thread: threading.Thread | None = None
        if url is not None:  # started first thing: the child's start-up overlaps the run's
            self._process = ProcessWriter(url, store.url, run_id, append_only=append_only, max_batches=max_batches)
        else:
            self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_batches)
            self._thread = threading.Thread(target=self._writer, name=f"keel-store-{run_id}", daemon=True)
            self._thread.start()

    @property
    def writer(self) -> str:
        """``"process"`` or ``"thread"``: where batches are written."""
        return "process" if self._process is not None else "thread"

    @property
    def rows_written(self) -> int:
        """Rows committed so far (exact after :meth:`flush` or :meth:`close`)."""
        return self._process.rows_written if self._process is not None else self._rows_written

    @property
    def batches_written(self) -> int:
        return self._process.batches_written if self._process is not None else self._batches_written

    # ---- the writer thread ------------------------------------------------------------------------
    def _writer(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                if self._error is None:
                    self.store.write_rows(self.run_id, item, append_only=self.append_only)
                    self._rows_written += sum(len(v) for v in item.values())
                    self._batches_written += 1
            except BaseException as exc:  # handed to the run's thread at its next call
                self._error = exc
            finally:
                self._queue.task_done()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            exc = self._error
            raise StoreError(f"db={self.store.url!r}: writing run {self.run_id} failed: {reason_of(exc)}") from exc

    def _hand_over(self, item: Any) -> None:
        if self._process is not None:
            self._process.put(item)
            return
        while True:  # blocks while the writer is behind (back-pressure), but notices a dead writer
            self._raise_if_failed()
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _send(self) -> None:
        if self._pending:
            batch, self._batch, self._pending = self._batch, {}, 0
            self._hand_over(batch)

    # ---- rows (tuples in the column order of keel.store.store.ROW_COLUMNS) ------------------------
    def next_event_seq(self) -> int:
        """The sequence number of the next event row (for :meth:`add_row` ``("events", ...)``)."""
        seq = self.event_seq
        self.event_seq = seq + 1
        return seq

    def add_row(self, kind: str, row: tuple[Any, ...]) -> None:
        """A row already in column order (``ROW_COLUMNS[kind]``, without ``run_id``): NaN as None, amounts as
        exact ints (the caller's duty; the typed methods below check them)."""
        if self._closed:
            raise StoreError(f"run {self.run_id}: recorder already closed")
        try:
            self._batch[kind].append(row)
        except KeyError:
            self._batch[kind] = [row]
        self._pending += 1
        if self._pending >= self.batch_rows:
            self._send()

    _add = add_row

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
        self._add("events", (seq, ts_ns, source, kind, instrument, _f(quantity), _f(price), _f(value), detail))

    def event(self, r: EventRow) -> None:
        self.event_seq = max(self.event_seq, r.seq + 1)
        row = (r.seq, r.ts_ns, r.source, r.kind, r.instrument, _f(r.quantity), _f(r.price), _f(r.value), r.detail)
        self._add("events", row)

    def fill(self, r: FillRow) -> None:
        _ints(r.amount_in, r.amount_out, r.fee)
        self._add(
            "fills",
            (
                r.fill_id,
                r.ts_ns,
                r.block_number,
                r.source,
                r.instrument,
                r.token_in,
                r.token_out,
                r.amount_in,
                r.amount_out,
                r.fee,
                r.fee_token,
                _f(r.quantity),
                _f(r.price),
                r.intent_id,
                r.tx_hash,
            ),
        )

    def intent(self, r: IntentRow) -> None:
        _ints(r.amount_in, r.min_amount_out)
        self._add(
            "intents",
            (
                r.intent_id,
                r.created_ns,
                r.updated_ns or r.created_ns,
                r.block_number,
                r.kind,
                r.token_in,
                r.token_out,
                r.amount_in,
                r.min_amount_out,
                r.deadline_block,
                r.status,
                r.detail,
            ),
        )

    def position(self, r: PositionRow) -> None:
        _ints(r.amount)
        self._add("positions", (r.block_number, r.ts_ns, r.account, r.asset, r.amount, r.decimals))

    def risk(self, r: RiskRow) -> None:
        self._add(
            "risk",
            (
                r.block_number,
                r.ts_ns,
                r.account,
                _f(r.equity_usd),
                _f(r.initial_margin_usd),
                _f(r.maintenance_margin_usd),
                _f(r.margin_ratio),
                _f(r.delta),
                r.status,
                _opt(r.gamma),
                _opt(r.vega),
                _opt(r.theta),
            ),
        )

    def pnl(self, r: PnlRow) -> None:
        self._add("pnl", (r.block_number, r.ts_ns, r.component, _f(r.usd)))

    def oracle(self, r: OracleRow) -> None:
        seq = self.oracle_seq
        self.oracle_seq = seq + 1
        self._add("oracle", (seq, r.ts_ns, r.block_number, r.source, _f(r.price), _f(r.confidence), r.status))

    def alert(self, r: AlertRow) -> None:
        seq = self.alert_seq
        self.alert_seq = seq + 1
        self._add("alerts", (seq, r.ts_ns, r.block_number, r.severity, r.kind, r.message))

    # ---- control ----------------------------------------------------------------------------------
    def flush(self) -> None:
        """Hand over what is gathered and wait until every batch so far is committed."""
        self._send()
        if self._process is not None:
            self._process.flush()
            return
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
            if self._process is not None:
                self._process.close()
            else:
                self._queue.put(_STOP)
                assert self._thread is not None
                self._thread.join()
        self._raise_if_failed()

    def __enter__(self) -> StoreRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
