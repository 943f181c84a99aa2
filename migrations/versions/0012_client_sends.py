"""What was sent to each client, by notification: the channel and the provider's message id, so that a
notification activity retried after a crash does not send the client the same message twice.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "client_sends",
        sa.Column("notification_key", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("notification_key"),
    )


def downgrade() -> None:
    op.drop_table("client_sends")
