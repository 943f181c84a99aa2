"""The weekly buying digest: the digests mailed (a retry never mails a week twice), and the index its
figures are read by (pieces by when they were decided).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digests_sent",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_pieces_decided_at", "pieces", ["decided_at"])


def downgrade() -> None:
    op.drop_index("ix_pieces_decided_at", table_name="pieces")
    op.drop_table("digests_sent")
