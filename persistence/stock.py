"""The embedded stock adapter: reservations kept in the engine's database, so that any worker process can
release what another reserved (in memory, a reservation lived and died with the worker that made it).

Idempotent by key, as the port asks: the answer to a key is stored with the change it made, in the same
transaction, and a retried call gets the first answer and changes nothing.
"""

import asyncio
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, select

from persistence.db import make_sessions, one_writer
from persistence.models import StockOperationRecord, StockReservationRecord


class SqlStock:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = make_sessions(engine)
        self._dialect = engine.dialect.name

    async def reserve(
        self, key: str, trial_id: str, piece_ids: list[str], skus: dict[str, str] | None = None
    ) -> list[str]:
        # Reservations are kept by piece: the embedded stock has no units per SKU to count down.
        return await asyncio.to_thread(self._change, "reserve", key, trial_id, piece_ids)

    async def release(self, key: str, trial_id: str, piece_ids: list[str]) -> list[str]:
        return await asyncio.to_thread(self._change, "release", key, trial_id, piece_ids)

    async def write_off(self, key: str, trial_id: str, piece_ids: list[str]) -> list[str]:
        # The reservation ends as with a release; the operation's row keeps that the units were lost.
        return await asyncio.to_thread(self._change, "write_off", key, trial_id, piece_ids)

    def held(self, trial_id: str) -> list[str]:
        """The pieces reserved for a trial now."""
        with self._sessions() as s:
            return list(
                s.scalars(
                    select(StockReservationRecord.piece_id)
                    .where(StockReservationRecord.trial_id == trial_id)
                    .order_by(StockReservationRecord.piece_id)
                )
            )

    def _change(self, action: str, key: str, trial_id: str, piece_ids: list[str]) -> list[str]:
        now = datetime.now(UTC)
        with one_writer(self.engine), self._sessions.begin() as s:
            # Two workers racing on one new key (PostgreSQL): the second one's insert of the key fails, its
            # transaction changes nothing, and the activity's retry finds the first one's answer here.
            earlier = s.scalar(select(StockOperationRecord.piece_ids).where(StockOperationRecord.key == key))
            if earlier is not None:
                return list(earlier)
            held = set(
                s.scalars(
                    select(StockReservationRecord.piece_id).where(
                        StockReservationRecord.trial_id == trial_id, StockReservationRecord.piece_id.in_(piece_ids)
                    )
                )
            )
            if action == "reserve":
                done = list(piece_ids)
                s.add_all(
                    StockReservationRecord(trial_id=trial_id, piece_id=p, key=key, reserved_at=now)
                    for p in dict.fromkeys(piece_ids)
                    if p not in held
                )
            else:
                done = [p for p in piece_ids if p in held]
                if done:
                    s.execute(
                        delete(StockReservationRecord).where(
                            StockReservationRecord.trial_id == trial_id, StockReservationRecord.piece_id.in_(done)
                        )
                    )
            s.add(StockOperationRecord(key=key, trial_id=trial_id, action=action, piece_ids=done, created_at=now))
        return done
