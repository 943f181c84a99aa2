"""Erasure on request, in the engine's database: each trial's data key for its payloads in Temporal (the key
store `security.codec.TrialKeys` reads), and the record of the trials a client asked to have erased.

What erasing a trial does to the read model is `SqlStore.erase_trial`; when it may happen (once the trial's
workflow has closed) is the application's (application/erasure.py).
"""

from datetime import UTC, datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from persistence.db import make_sessions
from persistence.models import ErasureRecord, TrialKeyRecord, TrialRecord


class SqlTrialKeys:
    """Trial data keys, wrapped by a configured key; an erased trial's row stays, with no key."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.location = engine.url.render_as_string(hide_password=True)
        self._sessions = make_sessions(engine)
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def get(self, trial_id: str) -> tuple[str, bytes] | bool | None:
        with self._sessions() as s:
            row = s.get(TrialKeyRecord, trial_id)
        if row is None:
            return None
        return False if row.wrapped is None else (row.key_id, row.wrapped)

    def put(self, trial_id: str, key_id: str, wrapped: bytes) -> tuple[str, bytes] | bool:
        with self._sessions.begin() as s:
            values = {"trial_id": trial_id, "key_id": key_id, "wrapped": wrapped, "created_at": datetime.now(UTC)}
            s.execute(self._insert(TrialKeyRecord).values(**values).on_conflict_do_nothing())
        kept = self.get(trial_id)
        assert kept is not None
        return kept

    def destroy(self, trial_id: str, now: datetime) -> None:
        """Crypto-shredding: the key is gone; a trial that never had one gets a row that says it is erased."""
        with self._sessions.begin() as s:
            s.execute(
                self._insert(TrialKeyRecord)
                .values(trial_id=trial_id, key_id="-", wrapped=None, created_at=now, erased_at=now)
                .on_conflict_do_update(index_elements=["trial_id"], set_={"wrapped": None, "erased_at": now})
            )


class ErasureBook:
    """The trials a client asked to have erased, until each is."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = make_sessions(engine)
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def request(self, customer_id: str, by: str, now: datetime) -> list[str]:
        """Every trial of the client in the read model is to be erased (asked again: nothing twice). The
        trial ids."""
        with self._sessions.begin() as s:
            trials = list(s.scalars(select(TrialRecord.trial_id).where(TrialRecord.customer_id == customer_id)))
            if trials:
                rows = [
                    {"trial_id": t, "customer_id": customer_id, "requested_at": now, "requested_by": by} for t in trials
                ]
                s.execute(self._insert(ErasureRecord).on_conflict_do_nothing(), rows)
        return trials

    def pending(self, limit: int = 100) -> list[str]:
        with self._sessions() as s:
            return list(
                s.scalars(
                    select(ErasureRecord.trial_id)
                    .where(ErasureRecord.erased_at.is_(None))
                    .order_by(ErasureRecord.requested_at, ErasureRecord.trial_id)
                    .limit(limit)
                )
            )

    def of(self, customer_id: str) -> list[ErasureRecord]:
        with self._sessions() as s:
            return list(
                s.scalars(
                    select(ErasureRecord)
                    .where(ErasureRecord.customer_id == customer_id)
                    .order_by(ErasureRecord.trial_id)
                )
            )

    def done(self, trial_id: str, now: datetime) -> None:
        with self._sessions.begin() as s:
            s.execute(update(ErasureRecord).where(ErasureRecord.trial_id == trial_id).values(erased_at=now))
