"""Messages sent to clients on WhatsApp, so that a reply finds its trial

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 07:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "client_messages",
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("locale", sa.String(length=5), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_client_messages")),
    )
    with op.batch_alter_table("client_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_client_messages_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    op.drop_table("client_messages")
