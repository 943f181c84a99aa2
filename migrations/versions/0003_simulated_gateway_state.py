"""The simulated gateway's state (holds and the calls it answered), so a worker restart forgets nothing

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 02:55:20.834157
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "simulated_authorizations",
        sa.Column("authorization_id", sa.String(length=80), nullable=False),
        sa.Column("trial_id", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("authorization_id", name=op.f("pk_simulated_authorizations")),
    )
    with op.batch_alter_table("simulated_authorizations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_simulated_authorizations_trial_id"), ["trial_id"], unique=False)

    op.create_table(
        "simulated_operations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("trial_id", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("reference", sa.String(length=80), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_simulated_operations")),
    )
    with op.batch_alter_table("simulated_operations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_simulated_operations_key"), ["key"], unique=False)
        batch_op.create_index(batch_op.f("ix_simulated_operations_trial_id"), ["trial_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("simulated_operations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_simulated_operations_trial_id"))
        batch_op.drop_index(batch_op.f("ix_simulated_operations_key"))

    op.drop_table("simulated_operations")
    with op.batch_alter_table("simulated_authorizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_simulated_authorizations_trial_id"))

    op.drop_table("simulated_authorizations")
