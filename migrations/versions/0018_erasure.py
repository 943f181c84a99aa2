"""Erasure on request: each trial's own data key for its payloads in Temporal (destroyed to erase them:
crypto-shredding), and the trials a client asked to have erased, until each is.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trial_keys",
        sa.Column("trial_id", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("trial_id"),
    )
    op.create_table(
        "erasures",
        sa.Column("trial_id", sa.String(length=200), nullable=False),
        sa.Column("customer_id", sa.String(length=120), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(length=120), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("trial_id"),
    )
    op.create_index("ix_erasures_customer_id", "erasures", ["customer_id"])
    op.create_index("ix_erasures_erased_at", "erasures", ["erased_at"])


def downgrade() -> None:
    op.drop_index("ix_erasures_erased_at", table_name="erasures")
    op.drop_index("ix_erasures_customer_id", table_name="erasures")
    op.drop_table("erasures")
    op.drop_table("trial_keys")
