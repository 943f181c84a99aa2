"""The returns adapters' state in the engine's database (migration 0013): the embedded provider's labels
and collections (`return_labels`) and the EasyPost adapter's progress (`return_booking_progress`), one row
per booking, by its idempotency key."""

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from activities.ports import Progress, StoredLabel
from persistence.db import make_sessions, one_writer
from persistence.models import ReturnBookingProgressRecord, ReturnLabelRecord


class SqlLabelBook:
    blocking = True

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sessions = make_sessions(engine)

    def by_key(self, key: str) -> StoredLabel | None:
        with self._sessions() as s:
            row = s.get(ReturnLabelRecord, key)
            return _label(row) if row else None

    def add(self, label: StoredLabel) -> StoredLabel:
        try:
            with one_writer(self._engine), self._sessions.begin() as s:
                s.add(ReturnLabelRecord(**label.__dict__))
        except IntegrityError:
            existing = self.by_key(label.key)  # a retry that raced the first attempt: the first one's label
            if existing is None:
                raise
            return existing
        return label

    def by_token(self, token: str) -> StoredLabel | None:
        with self._sessions() as s:
            row = s.scalars(select(ReturnLabelRecord).where(ReturnLabelRecord.token == token)).first()
            return _label(row) if row else None


def _label(row: ReturnLabelRecord) -> StoredLabel:
    return StoredLabel(
        key=row.key, order_id=row.order_id, kind=row.kind, carrier=row.carrier, tracking_number=row.tracking_number,
        token=row.token, pdf=row.pdf, created_at=row.created_at, slot_starts_at=row.slot_starts_at,
        slot_ends_at=row.slot_ends_at,
    )  # fmt: skip


class SqlBookingProgress:
    blocking = True

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sessions = make_sessions(engine)

    def get(self, key: str) -> Progress:
        with self._sessions() as s:
            row = s.get(ReturnBookingProgressRecord, key)
            return Progress(row.shipment_id, row.pickup_id, row.result) if row else Progress()

    def put(self, key: str, progress: Progress) -> None:
        with one_writer(self._engine), self._sessions.begin() as s:
            s.merge(ReturnBookingProgressRecord(key=key, **progress.__dict__))
