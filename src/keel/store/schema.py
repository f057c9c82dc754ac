"""The store's tables (SQLAlchemy Core).  The Alembic migrations in ``keel/store/migrations`` create
exactly these; ``tests/store`` compares the migrated database with this metadata.

Keys: every per-run table carries ``run_id``; the live transaction journal is keyed by account
(``sender``, ``chain_id``) so that a restarted run sees what an earlier one signed.  ``run_controls``
carries the kill/pause/resume requests for a run that executes in another process (``keel serve``
writes them, the run applies them at a block boundary and marks them applied).
"""

from __future__ import annotations

import sqlalchemy as sa

from keel.store.types import Amount

__all__ = [
    "SCHEMA_HEAD",
    "alerts",
    "checkpoints",
    "events",
    "fills",
    "intents",
    "leases",
    "metadata",
    "oracle_readings",
    "pnl",
    "positions",
    "risk_snapshots",
    "run_controls",
    "runs",
    "transactions",
]

SCHEMA_HEAD = "0003"

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("keel_version", sa.String(40), nullable=False),
    sa.Column("config_text", sa.Text, nullable=False),
    sa.Column("config_hash", sa.String(64), nullable=False),
    sa.Column("seed", sa.BigInteger, nullable=True),
    sa.Column("chain_id", sa.BigInteger, nullable=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("started_ns", sa.BigInteger, nullable=False),
    sa.Column("ended_ns", sa.BigInteger, nullable=True),
    sa.Column("parent_run", sa.String(40), nullable=False),
    sa.Column("out_dir", sa.Text, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("summary_json", sa.Text, nullable=False),
    sa.Index("ix_runs_started", "started_ns"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("source", sa.String(120), nullable=False),
    sa.Column("kind", sa.String(60), nullable=False),
    sa.Column("instrument", sa.String(120), nullable=False),
    sa.Column("quantity", sa.Float, nullable=True),
    sa.Column("price", sa.Float, nullable=True),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("detail", sa.Text, nullable=False),
)

intents = sa.Table(
    "intents",
    metadata,
    sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("intent_id", sa.String(120), primary_key=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.Column("block_number", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("token_in", sa.String(64), nullable=False),
    sa.Column("token_out", sa.String(64), nullable=False),
    sa.Column("amount_in", Amount, nullable=False),
    sa.Column("min_amount_out", Amount, nullable=False),
    sa.Column("deadline_block", sa.BigInteger, nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)

transactions = sa.Table(
    "transactions",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("sender", sa.String(64), nullable=False),
    sa.Column("chain_id", sa.BigInteger, nullable=False),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("intent", sa.String(200), nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("nonce", sa.BigInteger, nullable=True),
    sa.Column("tx_hash", sa.String(80), nullable=False),
    sa.Column("block_number", sa.BigInteger, nullable=True),
    sa.Column("record", sa.Text, nullable=False),
    sa.Index("ix_transactions_account", "sender", "chain_id", "seq"),
    sa.Index("ix_transactions_run", "run_id"),
)

fills = sa.Table(
    "fills",
    metadata,
    sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("fill_id", sa.String(120), primary_key=True),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("block_number", sa.BigInteger, nullable=False),
    sa.Column("source", sa.String(120), nullable=False),
    sa.Column("instrument", sa.String(120), nullable=False),
    sa.Column("token_in", sa.String(64), nullable=False),
    sa.Column("token_out", sa.String(64), nullable=False),
    sa.Column("amount_in", Amount, nullable=False),
    sa.Column("amount_out", Amount, nullable=False),
    sa.Column("fee", Amount, nullable=False),
    sa.Column("fee_token", sa.String(64), nullable=False),
    sa.Column("quantity", sa.Float, nullable=True),
    sa.Column("price", sa.Float, nullable=True),
    sa.Column("intent_id", sa.String(200), nullable=False),
    sa.Column("tx_hash", sa.String(80), nullable=False),
    sa.Index("ix_fills_block", "run_id", "block_number"),
)

positions = sa.Table(
    "positions",
    metadata,
    sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("block_number", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("asset", sa.String(120), primary_key=True),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("amount", Amount, nullable=False),
    sa.Column("decimals", sa.Integer, nullable=False),
)

risk_snapshots = sa.Table(
    "risk_snapshots",
    metadata,
    sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("block_number", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("equity_usd", sa.Float, nullable=True),
    sa.Column("initial_margin_usd", sa.Float, nullable=True),
    sa.Column("maintenance_margin_usd", sa.Float, nullable=True),
    sa.Column("margin_ratio", sa.Float, nullable=True),
    sa.Column("delta", sa.Float, nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("gamma", sa.Float, nullable=True),  # 0003: the option book's gamma, vega (per 1.0), theta (per day)
    sa.Column("vega", sa.Float, nullable=True),
    sa.Column("theta", sa.Float, nullable=True),
)

oracle_readings = sa.Table(
    "oracle_readings",
    metadata,
    sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("block_number", sa.BigInteger, nullable=False),
    sa.Column("source", sa.String(120), nullable=False),
    sa.Column("price", sa.Float, nullable=True),
    sa.Column("confidence", sa.Float, nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.PrimaryKeyConstraint("run_id", "seq"),
)

pnl = sa.Table(
    "pnl",
    metadata,
    sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("block_number", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("component", sa.String(60), primary_key=True),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("usd", sa.Float, nullable=True),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("block_number", sa.BigInteger, nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(60), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("run_id", "seq"),
)

checkpoints = sa.Table(
    "checkpoints",
    metadata,
    sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("block_number", sa.BigInteger, nullable=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("acquired_ns", sa.BigInteger, nullable=False),
    sa.Column("expires_ns", sa.BigInteger, nullable=False),
)

run_controls = sa.Table(
    "run_controls",
    metadata,
    sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("action", sa.String(8), nullable=False),  # kill | pause | resume
    sa.Column("requested_ns", sa.BigInteger, nullable=False),
    sa.Column("requester", sa.String(300), nullable=False),  # "host:pid" or "api"
    sa.Column("applied_ns", sa.BigInteger, nullable=True),  # NULL while pending
    sa.Column("applied_block", sa.BigInteger, nullable=True),  # the last block done before it took effect
)
