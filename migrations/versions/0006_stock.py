"""Stock reservations in the database, so any worker can release what another reserved

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stock_reservations",
        sa.Column("trial_id", sa.String(length=200), nullable=False),
        sa.Column("piece_id", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("trial_id", "piece_id", name=op.f("pk_stock_reservations")),
    )
    op.create_table(
        "stock_operations",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("trial_id", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("piece_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_stock_operations")),
    )
    with op.batch_alter_table("stock_operations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_operations_trial_id"), ["trial_id"], unique=False)


def downgrade() -> None:
    op.drop_table("stock_operations")
    op.drop_table("stock_reservations")
