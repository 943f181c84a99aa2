"""All queries live here: the read-model projection, the ledger, and the lists people ask for.

Every write is one transaction and idempotent, so an activity that is retried (after a timeout, a crash,
or a worker restart) changes nothing the first attempt already wrote.
"""

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine, Insert, Row, String, Text, bindparam, cast, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from activities.ports import LedgerEntry, ReadModelBehind
from domain.erasure import erased
from domain.trial_events import TrialEvent, trial_events
from domain.view import EventView, PieceView, TrialSummary, TrialView, merged
from persistence.db import make_sessions, one_writer
from persistence.models import (
    AttentionItemRecord,
    ClientMessageRecord,
    IdempotencyKeyRecord,
    MoneyMovementRecord,
    OutboxEventRecord,
    PieceRecord,
    ReturnLabelRecord,
    TrackingNumberRecord,
    TrialEventRecord,
    TrialRecord,
    WebhookDeliveryRecord,
)

P = ParamSpec("P")
T = TypeVar("T")

# The attention reason the failing-task watcher sets (see mark_failing_tasks).
TASK_FAILING = "workflow_task_failing"

# The parameter of a projection's upsert below which a stored revision is replaced (see SqlStore._upsert).
BELOW = "replaces_below_revision"

# How long an Idempotency-Key is remembered with its body: longer than any trial stays open to commands
# (a trial, its extensions, returns and the 30-day refund window).
IDEMPOTENCY_KEY_DAYS = 90


@dataclass(frozen=True)
class Cursor:
    """Keyset pagination: the last row of the previous page (newest first)."""

    opened_at: datetime
    trial_id: str


@dataclass(frozen=True)
class Page:
    items: list[Row[Any]]  # the columns of LISTED, by name
    next_cursor: Cursor | None


# What a list shows of each trial: named columns, never the ORM object, whose `view` column holds the whole
# trial (tens of KB of JSON to decode per row that a list never shows).
LISTED = (TrialRecord.trial_id, *(getattr(TrialRecord, name) for name in TrialSummary.model_fields))


class SqlStore:
    def __init__(
        self, engine: Engine, projection_engine: Engine | None = None, subscribers: Sequence[str] = ()
    ) -> None:
        self.engine = engine
        # The webhook subscribers (by name): each new trial event gets a delivery row per subscriber, in the
        # projection's transaction. A subscriber added later receives the events recorded from then on.
        self.subscribers = list(subscribers)
        self._sessions = make_sessions(engine)
        # Projections may go through a faster, non-durable engine (see persistence.db.make_engine).
        self._projections = make_sessions(projection_engine or engine)
        self._dialect = engine.dialect.name
        self._statements: dict[tuple[Any, ...], Any] = {}  # see _upsert

    async def read(self, query: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run one of the reads below for async code (the API). SQLite reads a local file in tens of
        microseconds, and under WAL a reader never waits for a writer, so the read runs in place: handing it
        to a thread cost more than the read itself, and under 50 concurrent clients in place served 2.4x the
        GETs per second (docs/performance.md). A network database's reads go to a thread, so that a slow
        server never stalls the event loop."""
        if self._dialect == "sqlite":
            return query(*args, **kwargs)
        return await asyncio.to_thread(query, *args, **kwargs)

    # ------------------------------------------------------------------ read model

    def project(
        self, revision: int, view: TrialView, now: datetime | None = None, *, whole: bool = True,
        replaces_below: int | None = None, before: TrialView | None = None,
    ) -> bool:  # fmt: skip
        """Write the trial as the workflow saw it at `revision`. False when a newer revision is already
        stored (a late retry): nothing is written then.

        `replaces_below` (default: `revision`) is the revision below which a stored trial is replaced. A
        workflow that numbers its revisions by workflow task (see `StyleTrialWorkflow._next_revision`) sets
        it to the end of its task's numbers: two attempts of one task (the first one's worker died after its
        projection ran) number alike, and the attempt that writes last is the one that goes on, since a
        task's attempts run one after the other.

        The whole trial (`whole`, as the workflow sends it the first time, or when the read model is behind)
        is authoritative for the audit trail too: it may replace what a workflow task that never completed
        wrote, so stored events are overwritten by seq.

        `before` is the trial as stored before these changes (when known; it was written in the same
        transaction as the trial's rows in the other tables): only the pieces that changed are written, the
        tracking numbers and the attention queue only when they changed, and the events and movements new
        since `before` are known without asking the database. Most changes are one piece and an event."""
        with one_writer(self.engine), self._projections.begin() as s:
            return self._write(s, revision, view, now, whole=whole, replaces_below=replaces_below, before=before)

    def _write(
        self, s: Session, revision: int, view: TrialView, now: datetime | None, *, whole: bool,
        replaces_below: int | None, before: TrialView | None,
    ) -> bool:  # fmt: skip
        now = now or datetime.now(UTC)
        row = _trial_row(revision, view, now)
        below = revision if replaces_below is None else replaces_below
        upsert = self._upsert(TrialRecord, tuple(row), ("trial_id",), newer=True)
        if s.execute(upsert, {**row, BELOW: below}).first() is None:
            return False
        pieces = _piece_rows(view, before)
        if pieces:
            s.execute(self._upsert(PieceRecord, tuple(pieces[0]), ("trial_id", "piece_id")), pieces)
        if before is None or _tracking(before) != _tracking(view):
            self._index_tracking(s, view)
        if before is None or before.attention_items != view.attention_items:
            self._queue_attention(s, view, now)
        self._add_to_outbox(s, view, self._append_events(s, view, before, replace=whole), now, replace=whole)
        self._add_derived_movements(s, view, before, now)
        return True

    def project_changes(
        self, revision: int, base_revision: int, changes: TrialView, now: datetime | None = None,
        replaces_below: int | None = None,
    ) -> bool:  # fmt: skip
        """Apply what changed since `base_revision` (see `domain.view.merged`). False when a revision at or
        above `replaces_below` (default: `revision`) is already stored (a late retry); `ReadModelBehind` when
        the stored trial is not at `base_revision`, which includes `revision` itself stored by an attempt of
        the task that may have seen something else: the whole trial then replaces it.

        The stored trial is read in the transaction that writes, its row locked (PostgreSQL; SQLite has one
        writer at a time): what is written is decided against `before`, so no other projection of the trial
        may come between the read and the write."""
        with one_writer(self.engine), self._projections.begin() as s:
            # The view as text, for pydantic to read: a third cheaper than the JSON column's dict.
            row = s.execute(
                select(TrialRecord.revision, cast(TrialRecord.view, Text).label("view"))
                .where(TrialRecord.trial_id == changes.trial_id)
                .with_for_update()
            ).first()
            if row is not None and row.revision >= (revision if replaces_below is None else replaces_below):
                return False
            if row is None or row.revision != base_revision or row.view is None:
                stored = "nothing" if row is None else f"revision {row.revision}"
                raise ReadModelBehind(f"{changes.trial_id}: changes since {base_revision}, but it holds {stored}")
            before = TrialView.model_validate_json(row.view)
            after = merged(before, changes)
            return self._write(s, revision, after, now, whole=False, replaces_below=replaces_below, before=before)

    def erase_trial(self, trial_id: str, now: datetime) -> bool:
        """The client's personal data leaves this trial in the read model (domain/erasure.py): its view, its
        pieces' words, its audit trail's free text, its attention texts, the messages sent to the client (their
        ids and number fingerprints) and its return labels' PDFs (a name and an address). Subscribers receive
        `trial.erased`. False when the read model has no such trial."""
        with one_writer(self.engine), self._projections.begin() as s:
            row = s.get(TrialRecord, trial_id)
            if row is None or row.view is None:
                return False
            view = TrialView.model_validate(row.view)
            if view.events and view.events[-1].kind == "erased":
                return True  # erased already (a retried erasure)
            after = erased(view, now)
            row.view = after.model_dump(mode="json")
            row.attention = after.attention
            row.updated_at = now
            s.execute(update(PieceRecord).where(PieceRecord.trial_id == trial_id).values(feedback=None))
            s.execute(delete(TrialEventRecord).where(TrialEventRecord.trial_id == trial_id))
            s.execute(self._insert(TrialEventRecord), [{"trial_id": trial_id, **e.model_dump()} for e in after.events])
            for item in after.attention_items:
                s.execute(
                    update(AttentionItemRecord)
                    .where(AttentionItemRecord.trial_id == trial_id, AttentionItemRecord.reason == item.reason)
                    .values(text=item.text)
                )
            s.execute(delete(ClientMessageRecord).where(ClientMessageRecord.order_id == view.order_id))
            s.execute(update(ReturnLabelRecord).where(ReturnLabelRecord.order_id == view.order_id).values(pdf=b""))
            self._add_to_outbox(s, after, after.events[-1:], now, replace=False)
        return True

    def _index_tracking(self, s: Session, view: TrialView) -> None:
        """Every tracking number of the trial, so that a carrier's event finds it (`orders_tracking`)."""
        rows = _tracking(view)
        if rows:
            stmt = self._insert(TrackingNumberRecord).on_conflict_do_nothing()
            s.execute(stmt, [{"tracking_number": t, "order_id": view.order_id, "direction": d} for t, d in rows])

    def _queue_attention(self, s: Session, view: TrialView, now: datetime) -> None:
        """The trial's reasons for staff, as the queue lists them (only what the view holds now)."""
        s.execute(delete(AttentionItemRecord).where(AttentionItemRecord.trial_id == view.trial_id))
        rows = [
            {"trial_id": view.trial_id, "reason": i.reason, "order_id": view.order_id, "text": i.text,
             "since": i.since or now, "assignee": i.assignee}
            for i in view.attention_items
        ]  # fmt: skip
        if rows:
            s.execute(self._insert(AttentionItemRecord), rows)

    def attention_queue(
        self, *, assignee: str | None = None, reason: str | None = None, limit: int = 50,
        after: tuple[datetime, str, str] | None = None,
    ) -> list[AttentionItemRecord]:  # fmt: skip
        """What trials need staff for, oldest first (keyset after (since, trial_id, reason))."""
        q = select(AttentionItemRecord)
        if assignee is not None:
            q = q.where(AttentionItemRecord.assignee == assignee)
        if reason is not None:
            q = q.where(AttentionItemRecord.reason == reason)
        if after is not None:
            since, trial_id, after_reason = after
            q = q.where(
                or_(
                    AttentionItemRecord.since > since,
                    (AttentionItemRecord.since == since) & (AttentionItemRecord.trial_id > trial_id),
                    (AttentionItemRecord.since == since) & (AttentionItemRecord.trial_id == trial_id)
                    & (AttentionItemRecord.reason > after_reason),
                )
            )  # fmt: skip
        q = q.order_by(AttentionItemRecord.since, AttentionItemRecord.trial_id, AttentionItemRecord.reason)
        with self._sessions() as s:
            return list(s.scalars(q.limit(limit)))

    def orders_tracking(self, tracking_number: str, limit: int = 5) -> list[str]:
        """The orders a tracking number belongs to (normally one; a carrier may reuse numbers over years)."""
        with self._sessions() as s:
            q = select(TrackingNumberRecord.order_id).where(TrackingNumberRecord.tracking_number == tracking_number)
            return list(s.scalars(q.limit(limit)))

    def _append_events(
        self, s: Session, view: TrialView, before: TrialView | None, *, replace: bool
    ) -> list[EventView]:
        """Store the audit events not stored yet (all of them, by seq, when `replace`); returns those."""
        if before is not None:
            stored = before.events[-1].seq if before.events else 0
        else:
            last = select(func.max(TrialEventRecord.seq)).where(TrialEventRecord.trial_id == view.trial_id)
            stored = s.scalar(last) or 0
        new = view.events if replace else [e for e in view.events if e.seq > stored]
        if new:
            rows = [{"trial_id": view.trial_id, **e.model_dump()} for e in new]
            if replace:
                stmt = self._upsert(TrialEventRecord, tuple(rows[0]), ("trial_id", "seq"))
            else:
                stmt = self._insert(TrialEventRecord).on_conflict_do_nothing()
            s.execute(stmt, rows)
        if replace and stored > len(view.events):  # the dead attempt had gone further than the trial did
            s.execute(
                delete(TrialEventRecord).where(
                    TrialEventRecord.trial_id == view.trial_id, TrialEventRecord.seq > len(view.events)
                )
            )
        return new

    def _add_to_outbox(
        self, s: Session, view: TrialView, events: list[EventView], now: datetime, *, replace: bool
    ) -> None:
        """The trial events for the systems around it, and a delivery of each per subscriber. Ids are stable:
        an event already in the outbox keeps the id it was first written with (also one from before today's
        id scheme, see `domain.trial_events.event_id`), except that the whole trial (`replace`, which may
        replace what a workflow task attempt that never completed projected) corrects an entry that no
        subscriber has received yet."""
        if not events:
            return
        made = trial_events(view, events)
        # What the outbox holds of this trial, by seq: (event id, body). Only a whole trial can meet it.
        stored: dict[int, tuple[str, str]] = {}
        if replace:
            found = s.execute(
                select(OutboxEventRecord.seq, OutboxEventRecord.event_id, OutboxEventRecord.body).where(
                    OutboxEventRecord.trial_id == view.trial_id
                )
            )
            stored = {seq: (event_id, body) for seq, event_id, body in found}
            self._correct_undelivered(s, view.trial_id, made, stored)
        rows = [
            {"event_id": e.id, "trial_id": e.data.trial_id, "seq": e.data.seq, "type": e.type.value,
             "occurred_at": e.occurred_at, "body": e.model_dump_json(), "created_at": now}
            for e in made
            if e.data.seq not in stored
        ]  # fmt: skip
        if rows:
            s.execute(self._insert(OutboxEventRecord).on_conflict_do_nothing(index_elements=["event_id"]), rows)
        if self.subscribers:
            ids = [(stored[e.data.seq][0] if e.data.seq in stored else e.id, e.data.seq) for e in made]
            deliveries = [
                {"subscriber": name, "event_id": event_id, "trial_id": view.trial_id, "seq": seq,
                 "status": "pending", "attempts": 0, "next_attempt_at": now}
                for name in self.subscribers
                for event_id, seq in ids
            ]  # fmt: skip
            s.execute(
                self._insert(WebhookDeliveryRecord).on_conflict_do_nothing(index_elements=["subscriber", "event_id"]),
                deliveries,
            )

    def _correct_undelivered(
        self, s: Session, trial_id: str, made: list[TrialEvent], stored: dict[int, tuple[str, str]]
    ) -> None:
        """Rewrite stored events whose audit entry differs from the trial's (a dead attempt's), unless a
        subscriber already has them. Status and amounts move on with the trial; only the entry counts. A
        stored event keeps its id, in its row and in its body."""
        delivered = set(
            s.scalars(
                select(WebhookDeliveryRecord.event_id).where(
                    WebhookDeliveryRecord.trial_id == trial_id, WebhookDeliveryRecord.status == "delivered"
                )
            )
        )
        for event in made:
            if event.data.seq not in stored:
                continue
            event_id, body = stored[event.data.seq]
            if event_id in delivered or _entry(TrialEvent.model_validate_json(body)) == _entry(event):
                continue
            event = event.model_copy(update={"id": event_id})
            s.execute(
                update(OutboxEventRecord)
                .where(OutboxEventRecord.event_id == event_id)
                .values(type=event.type.value, occurred_at=event.occurred_at, body=event.model_dump_json())
            )

    def _add_derived_movements(self, s: Session, view: TrialView, before: TrialView | None, now: datetime) -> None:
        # Payment activities write their own rows; what the trial derives without a gateway call (the
        # remainder a capture released, an authorization that expired) arrives with the projection. A row
        # already there (an activity's, or one `before` brought) is left as it is: the insert skips its key.
        if before is not None:
            known = {m.key for m in before.movements}
        else:
            query = select(MoneyMovementRecord.idempotency_key).where(MoneyMovementRecord.trial_id == view.trial_id)
            known = set(s.scalars(query))
        rows = [
            {
                "idempotency_key": m.key, "trial_id": view.trial_id, "kind": m.kind, "amount": m.amount,
                "currency": view.currency, "status": m.outcome, "gateway_reference": m.reference,
                "expires_at": m.expires_at, "settlement": m.settlement, "decline_code": m.decline_code,
                "result": None, "created_at": m.at, "completed_at": m.at,
            }
            for m in view.movements
            if m.key not in known
        ]  # fmt: skip
        if rows:
            s.execute(
                self._insert(MoneyMovementRecord).on_conflict_do_nothing(index_elements=["idempotency_key"]), rows
            )

    def has_trial(self, trial_id: str) -> bool:
        """Whether the read model holds this trial (by primary key; one column is read)."""
        return self.status_of(trial_id) is not None

    def status_of(self, trial_id: str) -> str | None:
        """The trial's status as last projected (one column by primary key), or None before its first."""
        with self._sessions() as s:
            return s.scalar(select(TrialRecord.status).where(TrialRecord.trial_id == trial_id))

    def trial(self, order_id: str) -> TrialRecord | None:
        with self._sessions() as s:
            return s.scalar(
                select(TrialRecord).options(selectinload(TrialRecord.pieces)).where(TrialRecord.order_id == order_id)
            )

    def mark_failing_tasks(self, failing: dict[str, str]) -> None:
        """Flag the trials whose workflow task keeps failing ({trial_id: what the server reports}) and
        unflag those that no longer fail. The workflow cannot report this itself, so its own projections
        know nothing of the flag; they overwrite it once the trial runs again, which is right."""
        # Only the rows to flag and those flagged before: every worker runs this every 30 s, and a list of
        # all trials that need attention (for any reason) would grow with the business.
        flagged_before = cast(TrialRecord.attention, String).like(f"%{TASK_FAILING}%")
        with one_writer(self.engine), self._sessions.begin() as s:
            flagged = s.scalars(select(TrialRecord).where(or_(TrialRecord.trial_id.in_(list(failing)), flagged_before)))
            for row in flagged:
                attention = dict(row.attention)
                if row.trial_id in failing:
                    attention[TASK_FAILING] = failing[row.trial_id]
                elif TASK_FAILING in attention:
                    del attention[TASK_FAILING]
                else:
                    continue
                row.attention = attention
                row.needs_attention = bool(attention)
                if row.view is not None:
                    row.view = {**row.view, "attention": attention, "needs_attention": bool(attention)}

    def view(self, order_id: str) -> TrialView | None:
        """The trial as last projected, or None if it never was (unknown, or not yet projected)."""
        with self._sessions() as s:
            raw = s.scalar(select(TrialRecord.view).where(TrialRecord.order_id == order_id))
        return None if raw is None else TrialView.model_validate(raw)

    def view_json(self, order_id: str) -> str | None:
        """The same, as the JSON text it was stored as: what an API read answers with, neither parsed nor
        validated again (the workflow's view was valid when it was projected)."""
        with self._sessions() as s:
            raw = s.scalar(select(cast(TrialRecord.view, Text)).where(TrialRecord.order_id == order_id))
        return None if raw is None or raw == "null" else str(raw)

    def events(self, trial_id: str) -> list[TrialEventRecord]:
        with self._sessions() as s:
            return list(
                s.scalars(
                    select(TrialEventRecord).where(TrialEventRecord.trial_id == trial_id).order_by(TrialEventRecord.seq)
                )
            )

    def list_trials(
        self,
        *,
        status: str | None = None,
        customer_id: str | None = None,
        needs_attention: bool | None = None,
        ending_before: datetime | None = None,
        limit: int = 50,
        after: Cursor | None = None,
    ) -> Page:
        """Trials newest first, filtered, one page at a time (keyset, so deep pages stay cheap)."""
        q = select(*LISTED)
        if status is not None:
            q = q.where(TrialRecord.status == status)
        if customer_id is not None:
            q = q.where(TrialRecord.customer_id == customer_id)
        if needs_attention is not None:
            q = q.where(TrialRecord.needs_attention == needs_attention)
        if ending_before is not None:
            q = q.where(TrialRecord.trial_ends_at < ending_before, TrialRecord.closed_at.is_(None))
        if after is not None:
            q = q.where(
                or_(
                    TrialRecord.opened_at < after.opened_at,
                    (TrialRecord.opened_at == after.opened_at) & (TrialRecord.trial_id < after.trial_id),
                )
            )
        q = q.order_by(TrialRecord.opened_at.desc(), TrialRecord.trial_id.desc()).limit(limit + 1)
        with self._sessions() as s:
            rows: list[Row[Any]] = list(s.execute(q))
        more = len(rows) > limit
        items = rows[:limit]
        last = items[-1] if more and items else None
        return Page(items, Cursor(last.opened_at, last.trial_id) if last else None)

    # ------------------------------------------------------------------ messages to clients

    def remember_message(
        self, message_id: str, order_id: str, kind: str, locale: str, recipient: str | None = None,
        notification_key: str | None = None,
    ) -> None:  # fmt: skip
        """A message sent to a client (see ClientMessageRecord), with the fingerprint of the number it went
        to and the notification it carried; the same id again changes nothing."""
        row = {"message_id": message_id, "order_id": order_id, "kind": kind, "locale": locale,
               "recipient": recipient, "notification_key": notification_key, "sent_at": datetime.now(UTC)}  # fmt: skip
        with one_writer(self.engine), self._sessions.begin() as s:
            s.execute(
                self._insert(ClientMessageRecord).values(**row).on_conflict_do_nothing(index_elements=["message_id"])
            )

    def sent_reference(self, notification_key: str) -> str | None:
        """The provider's id for a notification already sent to the client, or None."""
        q = select(ClientMessageRecord.message_id).where(ClientMessageRecord.notification_key == notification_key)
        with self._sessions() as s:
            return s.scalar(q)

    def message(self, message_id: str) -> ClientMessageRecord | None:
        with self._sessions() as s:
            return s.get(ClientMessageRecord, message_id)

    # ------------------------------------------------------------------ idempotency keys

    def first_use(self, key: str, body_sha256: str, now: datetime | None = None) -> str:
        """The body hash `key` was first used with: `body_sha256` when this is its first use. Concurrent
        first uses of one key end with one row: the unique key decides. Rows older than
        `IDEMPOTENCY_KEY_DAYS` go as new ones arrive (an index range, usually empty)."""
        now = now or datetime.now(UTC)
        row = {"key": key, "body_sha256": body_sha256, "created_at": now}
        with one_writer(self.engine), self._sessions.begin() as s:
            s.execute(self._insert(IdempotencyKeyRecord).values(**row).on_conflict_do_nothing(index_elements=["key"]))
            first = s.scalar(select(IdempotencyKeyRecord.body_sha256).where(IdempotencyKeyRecord.key == key))
            s.execute(
                delete(IdempotencyKeyRecord).where(
                    IdempotencyKeyRecord.created_at < now - timedelta(days=IDEMPOTENCY_KEY_DAYS)
                )
            )
        return str(first)

    # ------------------------------------------------------------------ ledger

    def begin_movement(
        self, *, key: str, trial_id: str, kind: str, amount: int, currency: str, settlement: int | None = None,
        now: datetime | None = None,
    ) -> LedgerEntry:  # fmt: skip
        """Claim `key` with a pending row, or return the row an earlier attempt left.

        Concurrent claims of one key end with exactly one row: the unique key decides, and the loser reads
        the winner's row instead of raising.
        """
        now = now or datetime.now(UTC)
        row = {
            "idempotency_key": key, "trial_id": trial_id, "kind": kind, "amount": amount, "currency": currency,
            "status": "pending", "settlement": settlement, "created_at": now,
        }  # fmt: skip
        with one_writer(self.engine), self._sessions.begin() as s:
            inserted = s.execute(
                self._insert(MoneyMovementRecord)
                .values(**row)
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(MoneyMovementRecord.id)
            ).first()
            existing = s.scalars(select(MoneyMovementRecord).where(MoneyMovementRecord.idempotency_key == key)).one()
            return LedgerEntry(key, existing.status, existing.result, created=inserted is not None)

    def complete_movement(
        self, *, key: str, status: str, amount: int, result: dict[str, Any], reference: str | None = None,
        expires_at: datetime | None = None, decline_code: str | None = None, now: datetime | None = None,
    ) -> None:  # fmt: skip
        """Record the gateway's answer. Only a pending row changes: a completed movement is final."""
        with one_writer(self.engine), self._sessions.begin() as s:
            s.execute(
                update(MoneyMovementRecord)
                .where(MoneyMovementRecord.idempotency_key == key, MoneyMovementRecord.status == "pending")
                .values(
                    status=status, amount=amount, result=result, gateway_reference=reference, expires_at=expires_at,
                    decline_code=decline_code, completed_at=now or datetime.now(UTC),
                )
            )  # fmt: skip

    def movements(self, trial_id: str) -> list[MoneyMovementRecord]:
        with self._sessions() as s:
            q = (
                select(MoneyMovementRecord)
                .where(MoneyMovementRecord.trial_id == trial_id)
                .order_by(MoneyMovementRecord.id)
            )
            return list(s.scalars(q))

    # ------------------------------------------------------------------ internals

    def _upsert(self, model: type[Any], keys: tuple[str, ...], conflict: tuple[str, ...], newer: bool = False) -> Any:
        """INSERT of rows with these `keys` that updates the row already there (by `conflict`), built once per
        shape and kept: building it (its `excluded` alias copies every column of the table) was a fifth of
        a projection's time. `newer`: only a stored row whose revision is below the `BELOW` parameter is
        updated, and the statement returns the revision (nothing when the stored row was newer)."""
        shape = (model, keys, conflict, newer)
        stmt = self._statements.get(shape)
        if stmt is None:
            stmt = self._insert(model)
            stmt = stmt.on_conflict_do_update(
                index_elements=list(conflict),
                set_={k: stmt.excluded[k] for k in keys if k not in conflict},
                where=model.revision < bindparam(BELOW) if newer else None,
            )
            if newer:
                stmt = stmt.returning(model.revision)
            self._statements[shape] = stmt
        return stmt

    def _insert(self, model: type[Any]) -> Any:
        # Both dialects speak INSERT ... ON CONFLICT, which makes every write here a single atomic statement.
        # Statements go to the Core table and rows travel as executemany parameters: the SQL is then
        # compiled once and cached, instead of once per call for a multi-row VALUES list.
        dialect_insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        stmt: Insert = dialect_insert(model.__table__)
        return stmt


def _tracking(view: TrialView) -> set[tuple[str, str]]:
    """The trial's tracking numbers, each with its direction: parcels out, returns booked or posted."""
    rows = {(p.tracking_number, "out") for p in view.parcels}
    rows |= {(b.tracking_number, "return") for b in view.return_bookings if b.tracking_number}
    return rows | {(p.return_tracking, "return") for p in view.pieces if p.return_tracking}


def _entry(e: TrialEvent) -> tuple[Any, ...]:
    """What an event says happened (its audit entry), without the trial's status and amounts."""
    d = e.data
    return (e.type, e.occurred_at, d.seq, d.kind, d.actor, d.channel, d.reference, tuple(d.piece_ids))


def _trial_row(revision: int, v: TrialView, now: datetime) -> dict[str, Any]:
    return {
        "trial_id": v.trial_id, "order_id": v.order_id, "revision": revision, "status": v.status,
        "needs_attention": v.needs_attention, "attention": v.attention, "customer_id": v.customer_id,
        "tier": v.tier, "region": v.region, "personal_shopper_id": v.personal_shopper_id, "currency": v.currency,
        "value": v.amounts.value, "authorized": v.amounts.authorized, "charged": v.amounts.charged,
        "released": v.amounts.released, "opened_at": v.opened_at, "accepted_at": v.accepted_at,
        "dispatched_at": v.dispatched_at, "trial_ends_at": v.trial_ends_at, "closed_at": v.closed_at,
        "return_deadline": v.return_deadline, "extension_days": v.extension_days, "updated_at": now,
        "view": v,  # written by pydantic (persistence.db._json)
    }  # fmt: skip


# The piece's own fields that the pieces table keeps (domain/pieces.py declares them; the table reports on
# these): named by the table and the view together, so a field added to both is copied with no edit here.
PIECE_COLUMNS = tuple(c.key for c in PieceRecord.__table__.columns if c.key in PieceView.model_fields)


def _piece_rows(view: TrialView, before: TrialView | None) -> list[dict[str, Any]]:
    """The pieces table's rows for `view`: those that differ from `before`'s, or all of them without it."""
    delivered = _delivered(view)
    return [_piece_row(view, i, p, delivered.get(p.piece_id)) for i, p in _changed_pieces(view, before, delivered)]


def _changed_pieces(
    view: TrialView, before: TrialView | None, delivered: dict[str, datetime | None]
) -> list[tuple[int, PieceView]]:
    placed = list(enumerate(view.pieces))
    if before is None or _trial_columns_of_pieces(before) != _trial_columns_of_pieces(view):
        return placed
    was = {p.piece_id: (i, p) for i, p in enumerate(before.pieces)}
    delivered_before = _delivered(before)
    return [
        (i, p)
        for i, p in placed
        if was.get(p.piece_id) != (i, p) or delivered_before.get(p.piece_id) != delivered.get(p.piece_id)
    ]


def _delivered(view: TrialView) -> dict[str, datetime | None]:
    return {pid: parcel.delivered_at for parcel in view.parcels for pid in parcel.piece_ids}


def _trial_columns_of_pieces(v: TrialView) -> tuple[Any, ...]:
    """What each piece's row copies of its trial (see `_piece_row`)."""
    return (v.trial_id, v.opened_at, v.currency, v.tier, v.region, v.personal_shopper_id)


def _piece_row(v: TrialView, position: int, p: PieceView, delivered_at: datetime | None) -> dict[str, Any]:
    # Besides the piece's own fields: its trial's opening and client, which never change (the reports read
    # pieces alone), its place in the order, and when it reached the client.
    return {
        "trial_id": v.trial_id, "trial_opened_at": v.opened_at, "currency": v.currency, "tier": v.tier,
        "region": v.region, "personal_shopper_id": v.personal_shopper_id, "position": position,
        "delivered_at": delivered_at, **{name: getattr(p, name) for name in PIECE_COLUMNS},
    }  # fmt: skip
