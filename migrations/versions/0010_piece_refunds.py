"""What support refunded of each piece, so the keep-rate report can say what kept pieces brought in the end

No rows are filled in: refunds came in the same release as this column, so no piece before it has one.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pieces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refunded", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pieces", schema=None) as batch_op:
        batch_op.drop_column("refunded")
