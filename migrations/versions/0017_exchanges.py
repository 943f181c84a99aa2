"""Exchanges in the read model: each piece's exchange (the piece it replaces, the piece it was exchanged
for), so the reports count exchanges by designer and SKU.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("pieces", sa.Column("exchange_of", sa.String(length=120), nullable=True))
    op.add_column("pieces", sa.Column("exchanged_for", sa.String(length=120), nullable=True))


def downgrade() -> None:
    op.drop_column("pieces", "exchanged_for")
    op.drop_column("pieces", "exchange_of")
