"""Risk snapshots carry the option book's gamma, vega and theta beside its delta.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = ("gamma", "vega", "theta")


def upgrade() -> None:
    with op.batch_alter_table("risk_snapshots") as table:  # rows recorded before stay, their greeks NULL
        for name in _COLUMNS:
            table.add_column(sa.Column(name, sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("risk_snapshots") as table:
        for name in reversed(_COLUMNS):
            table.drop_column(name)
