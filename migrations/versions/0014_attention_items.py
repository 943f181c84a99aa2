"""The attention queue: one row per reason a trial needs staff (`attention_items`), with its age and owner,
written by the projection, so that staff list what needs them oldest first and by owner.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attention_items",
        sa.Column("trial_id", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=160), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assignee", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(["trial_id"], ["trials.trial_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("trial_id", "reason"),
    )
    op.create_index("ix_attention_items_since", "attention_items", ["since"])
    op.create_index("ix_attention_items_assignee", "attention_items", ["assignee"])


def downgrade() -> None:
    op.drop_index("ix_attention_items_assignee", table_name="attention_items")
    op.drop_index("ix_attention_items_since", table_name="attention_items")
    op.drop_table("attention_items")
