"""Rows the store keeps and returns, and the exact-integer column type for base-unit amounts.

Every amount in base units is a Python ``int`` in and out: ``NUMERIC(78, 0)`` in PostgreSQL
(room for any uint256/int256) and a decimal string in SQLite, whose own NUMERIC affinity would
round integers above 2**63 to a float.  Analytics (USD values, ratios, prices in USD) are float64.
Timestamps are int ns UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from keel.errors import KeelError, ValidationError

__all__ = [
    "CONTROL_ACTIONS",
    "RUN_MODES",
    "RUN_STATUSES",
    "AlertRow",
    "Amount",
    "CheckpointRow",
    "ControlRow",
    "EventRow",
    "FillRow",
    "IntentRow",
    "LeaseInfo",
    "OracleRow",
    "PnlRow",
    "PositionRow",
    "RiskRow",
    "RunInfo",
    "StoreError",
    "TransactionRow",
]

RUN_STATUSES = ("running", "paused", "finished", "failed", "killed")
RUN_MODES = ("sim", "live")
CONTROL_ACTIONS = ("kill", "pause", "resume")


class StoreError(KeelError):
    """The store cannot be opened or used (bad URL, unreachable server, newer schema, unknown run, lease held)."""


class Amount(TypeDecorator[int]):
    """An exact integer amount in base units (never a float)."""

    impl = sa.Numeric(78, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(80))
        return dialect.type_descriptor(sa.Numeric(78, 0, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("amount", value, "must be an int in base units")
        if abs(value) >= 10**78:
            raise ValidationError("amount", value, "does not fit NUMERIC(78, 0)")
        return str(value) if dialect.name == "sqlite" else Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int(value)


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One run: ``status`` is running, paused, finished, failed or killed; times are int ns UTC (wall clock)."""

    id: str
    name: str
    status: str
    keel_version: str
    config_hash: str
    config_text: str
    seed: int | None
    mode: str
    chain_id: int | None
    account: str
    started_ns: int
    ended_ns: int | None
    parent_run: str
    out_dir: str
    host: str
    pid: int
    summary_json: str


@dataclass(frozen=True, slots=True)
class EventRow:
    """One row of the event log (the columns of :class:`keel.engine.EventRecorder`)."""

    seq: int
    ts_ns: int
    source: str
    kind: str
    instrument: str = ""
    quantity: float = float("nan")
    price: float = float("nan")
    value: float = float("nan")
    detail: str = ""


@dataclass(frozen=True, slots=True)
class IntentRow:
    """An intent or order: what was asked for (base units) and where it stands.

    ``status``: open, submitted, filled, partially_filled, refused, reverted, cancelled, expired.
    """

    intent_id: str
    created_ns: int
    block_number: int
    kind: str
    token_in: str
    token_out: str
    amount_in: int
    min_amount_out: int
    status: str
    deadline_block: int | None = None
    detail: str = ""
    updated_ns: int = 0


@dataclass(frozen=True, slots=True)
class FillRow:
    """One fill, recorded once: ``fill_id`` is unique per run (a tx hash live, a sequence number in simulation).

    ``amount_in``/``amount_out`` and ``fee`` are base units of ``token_in``/``token_out``/``fee_token``;
    ``quantity`` and ``price`` are the human-unit view for reports.
    """

    fill_id: str
    ts_ns: int
    block_number: int
    source: str
    instrument: str
    token_in: str
    token_out: str
    amount_in: int
    amount_out: int
    fee: int = 0
    fee_token: str = ""
    quantity: float = float("nan")
    price: float = float("nan")
    intent_id: str = ""
    tx_hash: str = ""


@dataclass(frozen=True, slots=True)
class PositionRow:
    """An account's holding of ``asset`` after block ``block_number``: ``amount`` base units (``decimals``)."""

    block_number: int
    ts_ns: int
    account: str
    asset: str
    amount: int
    decimals: int


@dataclass(frozen=True, slots=True)
class RiskRow:
    """Risk of one account after a block (USD float64; ``margin_ratio`` = equity / maintenance, NaN if none);
    the option book's ``gamma`` (delta change per 1 USD of the underlying), ``vega`` (USD per 1.0 of volatility)
    and ``theta`` (USD per calendar day), None where not measured (and in rows recorded before schema 0003)."""

    block_number: int
    ts_ns: int
    account: str
    equity_usd: float
    initial_margin_usd: float
    maintenance_margin_usd: float
    margin_ratio: float
    delta: float
    status: str = "ok"
    gamma: float | None = None
    vega: float | None = None
    theta: float | None = None


@dataclass(frozen=True, slots=True)
class OracleRow:
    """One oracle reading: price and confidence in USD (NaN when halted), ``status`` ok/degraded/halted."""

    ts_ns: int
    block_number: int
    source: str
    price: float
    confidence: float
    status: str


@dataclass(frozen=True, slots=True)
class PnlRow:
    """Cumulative PnL attribution after a block: one row per component (USD)."""

    block_number: int
    ts_ns: int
    component: str
    usd: float


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An alert raised during a run (``severity``: info, warning, critical)."""

    ts_ns: int
    severity: str
    kind: str
    message: str
    block_number: int = -1


@dataclass(frozen=True, slots=True)
class TransactionRow:
    """The journal's view of one intent's transaction (``status``: signed, sent, mined, dropped, released)."""

    intent: str
    run_id: str
    sender: str
    chain_id: int
    nonce: int
    tx_hash: str
    status: str
    attempts: int
    block_number: int
    tx_status: int


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    """A saved engine state after ``block_number`` (``payload`` is opaque to the store)."""

    run_id: str
    seq: int
    block_number: int
    ts_ns: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class ControlRow:
    """A kill, pause or resume request for a run that executes in another process.

    ``requester``: ``host:pid`` of the process that asked, or ``"api"`` (``keel serve``).  ``applied_ns``
    is None while the request waits for the run; ``applied_block`` is the last block the run had done
    when it took effect (None for a request the run never saw: its process ended and the run was
    resumed later, which discards what was asked of the process before)."""

    seq: int
    action: str
    requested_ns: int
    requester: str
    applied_ns: int | None = None
    applied_block: int | None = None

    @property
    def pending(self) -> bool:
        return self.applied_ns is None


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """Who holds the single-writer lease on ``key`` (``account@chain_id``) and until when (ns UTC)."""

    key: str
    run_id: str
    host: str
    pid: int
    acquired_ns: int
    expires_ns: int
