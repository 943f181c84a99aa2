"""A piece's size (a client's sizes kept and returned per designer, in their story), and the index a
shopper's open trials are read by.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("pieces", sa.Column("size", sa.String(length=120), nullable=True))
    op.create_index("ix_trials_personal_shopper_id_status", "trials", ["personal_shopper_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_trials_personal_shopper_id_status", table_name="trials")
    op.drop_column("pieces", "size")
