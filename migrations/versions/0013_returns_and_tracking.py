"""Returns the client does not organise, and carriers that move the trial: `return_labels` (the embedded
returns provider's labels and collections) and `tracking_numbers` (which trial a carrier's tracking number
belongs to, so that a tracking event finds it), and `return_booking_progress` (how far the EasyPost
adapter got with a booking, so that a retry never buys twice).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tracking_numbers",
        sa.Column("tracking_number", sa.String(length=120), nullable=False),
        sa.Column("order_id", sa.String(length=160), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("tracking_number", "order_id"),
    )
    op.create_table(
        "return_labels",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("carrier", sa.String(length=80), nullable=False),
        sa.Column("tracking_number", sa.String(length=120), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("slot_starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("slot_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key"),
        sa.UniqueConstraint("tracking_number"),
        sa.UniqueConstraint("token"),
    )
    op.create_index("ix_return_labels_order_id", "return_labels", ["order_id"])
    op.create_table(
        "return_booking_progress",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("shipment_id", sa.String(length=120), nullable=True),
        sa.Column("pickup_id", sa.String(length=120), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("return_booking_progress")
    op.drop_index("ix_return_labels_order_id", table_name="return_labels")
    op.drop_table("return_labels")
    op.drop_table("tracking_numbers")
