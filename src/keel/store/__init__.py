"""Durable state: runs, events, intents, the live transaction journal, fills, positions per block,
risk snapshots, oracle readings, PnL attribution, alerts, checkpoints and single-writer leases.

One interface over SQLite (embedded default ``runs/keel.db``, WAL) and PostgreSQL (psycopg 3,
``postgresql://...`` or ``$KEEL_DB_URL``), on SQLAlchemy Core with Alembic migrations shipped in
the package.  Amounts in base units are exact ints (NUMERIC(78, 0) in PostgreSQL).

Public API: :func:`open_store` -> :class:`Store` (``runs()``, ``run(id)``, ``fills``, ``positions``,
``risk``, ``pnl``, ``oracle``, ``intents``, ``transactions``, ``alerts``, ``events``; writers;
checkpoints; leases; run control for a run in another process: ``request_control``,
``pending_controls``, ``mark_control_applied``), :class:`StoreRecorder` (batched writer behind a
bounded queue), :class:`StoreJournal` (the live journal in the store), :class:`StoreSubscriber`
(records a run from the pipeline's events and per-block snapshots).
"""

from keel.store import migrate
from keel.store.recorder import StoreRecorder
from keel.store.store import DEFAULT_URL, Store, config_hash, new_run_id, open_store, resolve_url
from keel.store.types import (
    AlertRow,
    CheckpointRow,
    ControlRow,
    EventRow,
    FillRow,
    IntentRow,
    LeaseInfo,
    OracleRow,
    PnlRow,
    PositionRow,
    RiskRow,
    RunInfo,
    StoreError,
    TransactionRow,
)

__all__ = [
    "DEFAULT_URL",
    "AlertRow",
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
    "Store",
    "StoreError",
    "StoreJournal",
    "StoreRecorder",
    "StoreSubscriber",
    "TransactionRow",
    "config_hash",
    "migrate",
    "new_run_id",
    "open_store",
    "resolve_url",
]


def __getattr__(name: str) -> object:
    # The journal pulls keel.chain (web3) and the subscriber keel.engine: loaded on first use only,
    # so readers (keel runs, the service) stay light.
    if name == "StoreJournal":
        from keel.store.journal import StoreJournal

        return StoreJournal
    if name == "StoreSubscriber":
        from keel.store.subscriber import StoreSubscriber

        return StoreSubscriber
    raise AttributeError(f"module 'keel.store' has no attribute {name!r}")
