"""Hardening: webhook event ids that any HTTP header can carry, the number a WhatsApp message went to (as a
keyed fingerprint), and what each Idempotency-Key was first used for

- Trial events whose id holds a character outside printable ASCII (an order id in another script,
  `evt_style-trial-注文-1_1`) could never be sent: the id is the `webhook-id` header. They get the id
  today's code gives every event (`evt_<32 hex digits of SHA-256 of the trial id>_<seq>`, see
  domain.trial_events.event_id), in the row, in the body and in their deliveries, which start over. Nothing
  was ever delivered under the old id, so no subscriber knows it.
- `client_messages.recipient`: HMAC-SHA256 of the number a WhatsApp message was sent to, so that only a
  reply from that number counts (application/replies.py). Messages sent before have none; a reply to one of them
  is not taken as a decision.
- `idempotency_keys`: a SHA-256 of the command an Idempotency-Key was first sent with, so the same key with
  another body is refused instead of silently answering the first command.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 02:00:00
"""

import hashlib
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("client_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient", sa.String(length=80), nullable=True))
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False)
    _rename_unsendable_events()


def _rename_unsendable_events() -> None:
    bind = op.get_bind()
    # Ids with a character outside printable ASCII, found by the database (an index-free scan, once).
    where = "event_id ~ '[^ -~]'" if bind.dialect.name == "postgresql" else "event_id GLOB '*[^ -~]*'"
    bad = bind.execute(sa.text(f"SELECT event_id, trial_id, seq, body FROM outbox_events WHERE {where}")).all()
    for old, trial_id, seq, body in bad:
        # domain.trial_events.event_id as of this revision (written out: a migration must not change later).
        new = f"evt_{hashlib.sha256(trial_id.encode()).hexdigest()[:32]}_{seq}"
        document = json.loads(body)
        document["id"] = new
        deliveries = bind.execute(
            sa.text("SELECT subscriber, trial_id, seq, next_attempt_at FROM webhook_deliveries WHERE event_id = :e"),
            {"e": old},
        ).all()
        bind.execute(sa.text("DELETE FROM webhook_deliveries WHERE event_id = :e"), {"e": old})
        bind.execute(
            sa.text("UPDATE outbox_events SET event_id = :new, body = :body WHERE event_id = :old"),
            {"new": new, "old": old, "body": json.dumps(document, ensure_ascii=False, separators=(",", ":"))},
        )
        for d in deliveries:
            bind.execute(
                sa.text(
                    "INSERT INTO webhook_deliveries (subscriber, event_id, trial_id, seq, status, attempts, "
                    "next_attempt_at) VALUES (:subscriber, :event_id, :trial_id, :seq, 'pending', 0, :at)"
                ),
                {"subscriber": d.subscriber, "event_id": new, "trial_id": d.trial_id, "seq": d.seq,
                 "at": d.next_attempt_at},
            )  # fmt: skip


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("client_messages", schema=None) as batch_op:
        batch_op.drop_column("recipient")
