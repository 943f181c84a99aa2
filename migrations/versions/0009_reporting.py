"""What the reports group and measure by: a piece's designer, and when it was delivered and decided

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pieces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("designer", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pieces", schema=None) as batch_op:
        batch_op.drop_column("decided_at")
        batch_op.drop_column("delivered_at")
        batch_op.drop_column("designer")
