"""Typed SQLAlchemy models. Alembic migrations (migrations/) are the only source of the schema."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on every database (SQLite would otherwise hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the engine stores UTC instants only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Timestamp = UtcDateTime()


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class TrialRecord(Base):
    """One trial as last projected from its workflow."""

    __tablename__ = "trials"

    trial_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    # Unique through trial_id (always `style-trial-<order_id>`). A second unique constraint here would
    # not be covered by the projection's ON CONFLICT (trial_id): concurrent first writes would then raise.
    order_id: Mapped[str] = mapped_column(String(160), index=True)
    # The workflow numbers its projections; an older (retried, late) one never overwrites a newer one.
    revision: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    needs_attention: Mapped[bool] = mapped_column(Boolean)
    attention: Mapped[dict[str, str]] = mapped_column(JSON)
    customer_id: Mapped[str] = mapped_column(String(120))
    tier: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(64))
    personal_shopper_id: Mapped[str | None] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3))
    value: Mapped[int] = mapped_column(BigInteger)
    authorized: Mapped[int] = mapped_column(BigInteger)
    charged: Mapped[int] = mapped_column(BigInteger)
    released: Mapped[int] = mapped_column(BigInteger)
    opened_at: Mapped[datetime] = mapped_column(Timestamp)
    accepted_at: Mapped[datetime | None] = mapped_column(Timestamp)
    dispatched_at: Mapped[datetime | None] = mapped_column(Timestamp)
    trial_ends_at: Mapped[datetime | None] = mapped_column(Timestamp)
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    return_deadline: Mapped[datetime | None] = mapped_column(Timestamp)
    extension_days: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)
    # The whole view as the workflow last projected it: what GET /v1/trials/{order_id} answers with.
    view: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    pieces: Mapped[list["PieceRecord"]] = relationship(
        back_populates="trial", lazy="raise", order_by="PieceRecord.position"
    )

    __table_args__ = (
        # The lists support staff and fulfilment ask for, newest first.
        Index("ix_trials_status_opened_at", "status", "opened_at"),
        Index("ix_trials_customer_id_opened_at", "customer_id", "opened_at"),
        # A shopper's open trials (GET /v1/shoppers/{id}/trials): their rows by status, never their history.
        Index("ix_trials_personal_shopper_id_status", "personal_shopper_id", "status"),
        Index("ix_trials_needs_attention_opened_at", "needs_attention", "opened_at"),
        Index("ix_trials_opened_at", "opened_at"),
        Index("ix_trials_trial_ends_at", "trial_ends_at"),
        Index("ix_trials_return_deadline", "return_deadline"),
    )


class PieceRecord(Base):
    __tablename__ = "pieces"

    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.trial_id", ondelete="CASCADE"), primary_key=True)
    piece_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text)
    price: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(32))
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_via: Mapped[str | None] = mapped_column(String(16))
    designer: Mapped[str | None] = mapped_column(String(120))
    size: Mapped[str | None] = mapped_column(String(120))
    # An exchange: the piece this one replaces, and the piece it was exchanged for (the exchange rate).
    exchange_of: Mapped[str | None] = mapped_column(String(120))
    exchanged_for: Mapped[str | None] = mapped_column(String(120))
    # Its trial's opening and client, copied (they never change): the reports read pieces alone, by the
    # index on trial_opened_at, with no join (persistence/reports.py).
    trial_opened_at: Mapped[datetime | None] = mapped_column(Timestamp, index=True)
    currency: Mapped[str | None] = mapped_column(String(3))
    tier: Mapped[str | None] = mapped_column(String(32))
    region: Mapped[str | None] = mapped_column(String(64))
    personal_shopper_id: Mapped[str | None] = mapped_column(String(120))
    # When it reached the client and when it was (last) decided: the reports' time to decide.
    delivered_at: Mapped[datetime | None] = mapped_column(Timestamp)
    decided_at: Mapped[datetime | None] = mapped_column(Timestamp, index=True)
    # Why a returned piece went back (domain.commands.ReturnReason), and the client's words on the piece.
    return_reason: Mapped[str | None] = mapped_column(String(32))
    feedback: Mapped[str | None] = mapped_column(Text)
    charged: Mapped[bool] = mapped_column(Boolean)
    settlement: Mapped[int | None] = mapped_column(Integer)
    # What support refunded of the piece after charging it (minor units; null: nothing), for the reports.
    refunded: Mapped[int | None] = mapped_column(BigInteger)

    trial: Mapped[TrialRecord] = relationship(back_populates="pieces", lazy="raise")


class TrialEventRecord(Base):
    """The append-only audit trail: every state change and every human action."""

    __tablename__ = "trial_events"

    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.trial_id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(Timestamp)
    kind: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(120))
    channel: Mapped[str | None] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    piece_ids: Mapped[list[str]] = mapped_column(JSON)


class MoneyMovementRecord(Base):
    """The ledger: one row per money movement, unique by idempotency key.

    Payment activities write a `pending` row *before* calling the gateway and complete it after, so a
    retry knows a call may already have happened. There is deliberately no foreign key to `trials`:
    the authorization is recorded before the trial's first projection.
    """

    __tablename__ = "money_movements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    trial_id: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))  # pending | succeeded | declined
    gateway_reference: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)
    settlement: Mapped[int | None] = mapped_column(Integer)
    decline_code: Mapped[str | None] = mapped_column(String(64))
    # The gateway's whole answer, so a retried activity returns exactly what the first attempt got.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    completed_at: Mapped[datetime | None] = mapped_column(Timestamp)


class SimulatedAuthorizationRecord(Base):
    """A hold in the embedded (simulated) payment gateway. The gateway's own state, not the engine's: it
    lives in the same database only so that a worker restart does not forget what the "bank" holds."""

    __tablename__ = "simulated_authorizations"

    authorization_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    trial_id: Mapped[str] = mapped_column(String(200), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    expires_at: Mapped[datetime] = mapped_column(Timestamp)
    state: Mapped[str] = mapped_column(String(16))  # authorized | captured | released


class SimulatedOperationRecord(Base):
    """One call that reached the simulated gateway, with its answer: its dashboard, and its memory of
    idempotency keys."""

    __tablename__ = "simulated_operations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    trial_id: Mapped[str] = mapped_column(String(200), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    approved: Mapped[bool] = mapped_column(Boolean)
    reference: Mapped[str | None] = mapped_column(String(80))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)


class OutboxEventRecord(Base):
    """An event of a trial for the systems around it (`domain.trial_events`), written in the same transaction
    as the projection it comes from. The body is stored as it is sent, so every delivery and every replay
    of an event carries the same bytes."""

    __tablename__ = "outbox_events"

    event_id: Mapped[str] = mapped_column(String(260), primary_key=True)
    trial_id: Mapped[str] = mapped_column(String(200))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(60))
    occurred_at: Mapped[datetime] = mapped_column(Timestamp)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp)

    __table_args__ = (Index("ix_outbox_events_trial_id_seq", "trial_id", "seq", unique=True),)


class WebhookDeliveryRecord(Base):
    """One event for one subscriber: pending until the subscriber answers 2xx, `dead` once the retries are
    spent (staff see it and replay it). A trial's events go to a subscriber in order: an event waits while
    an earlier one of its trial is not delivered."""

    __tablename__ = "webhook_deliveries"

    subscriber: Mapped[str] = mapped_column(String(60), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("outbox_events.event_id"), primary_key=True)
    trial_id: Mapped[str] = mapped_column(String(200))
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(Timestamp)
    # Who is sending it until when: a delivery loop claims a row before it sends, so that two workers do
    # not send the same event at once; a loop that dies lets its claim run out.
    leased_until: Mapped[datetime | None] = mapped_column(Timestamp)
    last_error: Mapped[str | None] = mapped_column(String(300))
    delivered_at: Mapped[datetime | None] = mapped_column(Timestamp)

    __table_args__ = (
        Index("ix_webhook_deliveries_subscriber_trial_id_seq", "subscriber", "trial_id", "seq"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )


class StockReservationRecord(Base):
    """A piece held for a trial (the embedded stock adapter, persistence.stock)."""

    __tablename__ = "stock_reservations"

    trial_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    piece_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(300))
    reserved_at: Mapped[datetime] = mapped_column(Timestamp)


class StockOperationRecord(Base):
    """What a reserve or release call did, by its idempotency key: a retry gets this answer."""

    __tablename__ = "stock_operations"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    trial_id: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(16))  # reserve | release | write_off
    piece_ids: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class ClientMessageRecord(Base):
    """A message sent to a client, by the provider's id for it (a WhatsApp message id, an email's Message-ID):
    a WhatsApp reply (which quotes it) finds its trial, and a notification activity retried after a crash
    finds, by `notification_key`, that it was sent already. No number and no text: the id, the order, the kind
    and the language to answer in, and for WhatsApp a keyed fingerprint of the number it went to
    (`security.fingerprint.Fingerprints`), so that only a reply from that number decides anything. The
    fingerprint cannot be turned back into the number without the key."""

    __tablename__ = "client_messages"

    message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    locale: Mapped[str] = mapped_column(String(5))
    sent_at: Mapped[datetime] = mapped_column(Timestamp)
    recipient: Mapped[str | None] = mapped_column(String(80))
    notification_key: Mapped[str | None] = mapped_column(String(200), unique=True, index=True)


class IdempotencyKeyRecord(Base):
    """What an Idempotency-Key was first sent with: the same key with another command is refused (422
    `idempotency_key_reused`) rather than answered with the first command's result. `key` is
    `<order id>:<command>:<the caller's key>`; rows older than 90 days are pruned as new ones arrive."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    body_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Timestamp, index=True)


class TrackingNumberRecord(Base):
    """Which trial a carrier's tracking number belongs to, outbound (`out`, a parcel dispatched) or coming
    back (`return`, a booked collection or label, or a return fulfilment posted): how a carrier's tracking
    event finds its trial. Written by the projection, never changed: a tracking number stays with its trial."""

    __tablename__ = "tracking_numbers"

    tracking_number: Mapped[str] = mapped_column(String(120), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    direction: Mapped[str] = mapped_column(String(8))


class ReturnLabelRecord(Base):
    """A return label the embedded returns provider issued (activities/returns.py), and for a collection its
    slot: one per booking, by its idempotency key. The PDF carries the client's name and address; it is
    served only to whoever holds the label's token (`/v1/return-labels/<token>`), the link the client got."""

    __tablename__ = "return_labels"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(160), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    carrier: Mapped[str] = mapped_column(String(80))
    tracking_number: Mapped[str] = mapped_column(String(120), unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    slot_starts_at: Mapped[datetime | None] = mapped_column(Timestamp)
    slot_ends_at: Mapped[datetime | None] = mapped_column(Timestamp)


class ReturnBookingProgressRecord(Base):
    """How far the EasyPost adapter got with a booking (activities/easypost_returns.py): the shipment and
    pickup it created, and its answer once both were bought, so that a retry never buys twice."""

    __tablename__ = "return_booking_progress"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    shipment_id: Mapped[str | None] = mapped_column(String(120))
    pickup_id: Mapped[str | None] = mapped_column(String(120))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class TrialKeyRecord(Base):
    """A trial's own data key (security/codec.py), wrapped by a configured key: its payloads in Temporal are
    sealed with it. Erasing the client destroys it (`wrapped` emptied, `erased_at` set): crypto-shredding."""

    __tablename__ = "trial_keys"

    trial_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64))
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    erased_at: Mapped[datetime | None] = mapped_column(Timestamp)


class ErasureRecord(Base):
    """A client's trial to erase at their request (GDPR Art. 17): erased once its workflow has closed (a
    trial still running, or in its refund window, is erased when it closes)."""

    __tablename__ = "erasures"

    trial_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(120), index=True)
    requested_at: Mapped[datetime] = mapped_column(Timestamp)
    requested_by: Mapped[str] = mapped_column(String(120))
    erased_at: Mapped[datetime | None] = mapped_column(Timestamp, index=True)


class DigestSentRecord(Base):
    """A weekly digest mailed (its key names the week and the recipients): a retry never mails it twice."""

    __tablename__ = "digests_sent"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(Timestamp)


class AttentionItemRecord(Base):
    """One reason a trial needs staff, as the queue lists them: oldest first, by owner. Rewritten from the
    trial's view by every projection, so a reason seen to leaves the queue with the change that cleared it."""

    __tablename__ = "attention_items"

    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.trial_id", ondelete="CASCADE"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(160))
    text: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime] = mapped_column(Timestamp, index=True)
    assignee: Mapped[str | None] = mapped_column(String(120), index=True)
