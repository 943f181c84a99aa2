"""Every message sent to a client, by the notification it carried: `client_messages` (until now the WhatsApp
messages, for replies) keeps email messages too, with `notification_key`, so that a notification activity
retried after a crash finds what it sent and does not send the client the same message twice.

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
    with op.batch_alter_table("client_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notification_key", sa.String(length=200), nullable=True))
        batch_op.create_index("ix_client_messages_notification_key", ["notification_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("client_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_client_messages_notification_key")
        batch_op.drop_column("notification_key")
