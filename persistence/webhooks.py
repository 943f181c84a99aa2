"""The webhook delivery queue: which trial events each subscriber still has to receive, claimed one trial at a
time so that a trial's events arrive in order, retried on a schedule, dead once the retries are spent.

The rows are written with the projection (`SqlStore._add_to_outbox`); every delivery loop (one per worker
process) reads and updates them here. Each change is one transaction and conditional on the row's state,
so two loops never send the same event at once, and a loop that dies mid-send leaves a claim that runs
out: the event is sent again (at least once; receivers dedupe by `webhook-id`).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from persistence.db import make_sessions, one_writer
from persistence.models import OutboxEventRecord, WebhookDeliveryRecord

D = WebhookDeliveryRecord
STATUSES = ("pending", "delivered", "dead")


@dataclass(frozen=True)
class Claimed:
    subscriber: str
    event_id: str
    attempts: int
    body: str


class WebhookQueue:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = make_sessions(engine)

    def claim(self, subscriber: str, now: datetime, lease: timedelta, limit: int = 50) -> list[Claimed]:
        """Deliveries due now that are first in line for their trial (every earlier event of the trial has
        been delivered), claimed until `now + lease`. At most one per trial."""
        earlier = aliased(WebhookDeliveryRecord)
        waits = exists().where(
            earlier.subscriber == D.subscriber, earlier.trial_id == D.trial_id, earlier.seq < D.seq,
            earlier.status != "delivered",
        )  # fmt: skip
        due = (
            select(D.event_id, D.attempts, OutboxEventRecord.body)
            .join(OutboxEventRecord, OutboxEventRecord.event_id == D.event_id)
            .where(
                D.subscriber == subscriber,
                D.status == "pending",
                D.next_attempt_at <= now,
                or_(D.leased_until.is_(None), D.leased_until < now),
                ~waits,
            )
            .order_by(D.next_attempt_at, D.seq)
            .limit(limit)
        )
        claimed = []
        with one_writer(self.engine), self._sessions.begin() as s:
            for row in s.execute(due).all():
                took = s.execute(
                    update(D)
                    .where(
                        D.subscriber == subscriber,
                        D.event_id == row.event_id,
                        D.status == "pending",
                        or_(D.leased_until.is_(None), D.leased_until < now),
                    )
                    .values(leased_until=now + lease)
                )
                if took.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(Claimed(subscriber, row.event_id, row.attempts, row.body))
        return claimed

    def delivered(self, subscriber: str, event_id: str, now: datetime) -> None:
        with one_writer(self.engine), self._sessions.begin() as s:
            s.execute(
                update(D)
                .where(D.subscriber == subscriber, D.event_id == event_id, D.status == "pending")
                .values(
                    status="delivered", attempts=D.attempts + 1, delivered_at=now, leased_until=None, last_error=None
                )
            )

    def failed(self, subscriber: str, event_id: str, error: str, now: datetime, backoff: list[float]) -> str:
        """Count a failed attempt; the delivery waits `backoff[attempts - 1]` seconds for the next one, or is
        dead after `len(backoff) + 1` attempts. Returns its status."""
        with one_writer(self.engine), self._sessions.begin() as s:
            attempts = s.scalar(select(D.attempts).where(D.subscriber == subscriber, D.event_id == event_id))
            if attempts is None:
                return "gone"
            attempts += 1
            status = "dead" if attempts > len(backoff) else "pending"
            wait = timedelta(seconds=backoff[min(attempts, len(backoff)) - 1])
            s.execute(
                update(D)
                .where(D.subscriber == subscriber, D.event_id == event_id, D.status == "pending")
                .values(
                    status=status,
                    attempts=attempts,
                    next_attempt_at=now + wait,
                    leased_until=None,
                    last_error=error[:300],
                )
            )
            return status

    def replay(self, event_id: str, now: datetime, subscriber: str | None = None) -> int:
        """Send an event again (a dead one, or one a subscriber lost): its deliveries start over. Returns how
        many there were; 0 when the event (or that subscriber's delivery of it) is unknown."""
        query = update(D).where(D.event_id == event_id)
        if subscriber is not None:
            query = query.where(D.subscriber == subscriber)
        with one_writer(self.engine), self._sessions.begin() as s:
            done = s.execute(
                query.values(
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    leased_until=None,
                    last_error=None,
                    delivered_at=None,
                )
            )
            return int(done.rowcount)  # type: ignore[attr-defined]

    def deliveries(
        self, *, status: str | None = None, subscriber: str | None = None, trial_id: str | None = None,
        limit: int = 50,
    ) -> list[Row[Any]]:  # fmt: skip
        """Deliveries, the most recently due first, with their event's type."""
        q = select(
            D.subscriber, D.event_id, D.trial_id, D.seq, OutboxEventRecord.type, D.status, D.attempts,
            D.next_attempt_at, D.last_error, D.delivered_at,
        ).join(OutboxEventRecord, OutboxEventRecord.event_id == D.event_id)  # fmt: skip
        if status is not None:
            q = q.where(D.status == status)
        if subscriber is not None:
            q = q.where(D.subscriber == subscriber)
        if trial_id is not None:
            q = q.where(D.trial_id == trial_id)
        q = q.order_by(D.next_attempt_at.desc(), D.event_id).limit(limit)
        with self._sessions() as s:
            return list(s.execute(q))

    def depth(self) -> dict[str, int]:
        """Deliveries by status (pending is the outbox's depth)."""
        with self._sessions() as s:
            counts = {status: int(n) for status, n in s.execute(select(D.status, func.count()).group_by(D.status))}
        return {status: counts.get(status, 0) for status in STATUSES}
