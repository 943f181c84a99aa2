"""A client's trials and a shopper's open trials, from the read model, for the people who look after them.

Two reads, each by an index and bounded, so they stay fast however many trials the engine has seen:
- `customer_trials`: the client's trials (the index on customer_id, opened_at), newest first, at most
  `limit`, with their pieces (by the pieces' primary key, trial_id first).
- `shopper_open_trials`: the trials of a personal shopper that are still open (the index on
  personal_shopper_id, status: the shopper's years of completed trials are never read), with their pieces.
Measured at 1,000,000 trials by bench/bench_reports.py.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, select

from domain.status import FINAL_STATUSES, TrialStatus
from persistence.models import PieceRecord, TrialRecord

OPEN_STATUSES = sorted(s.value for s in TrialStatus if s not in FINAL_STATUSES)


@dataclass(frozen=True)
class TrialRow:
    order_id: str
    trial_id: str
    status: str
    customer_id: str
    tier: str
    region: str
    personal_shopper_id: str | None
    currency: str
    value: int
    authorized: int
    charged: int
    needs_attention: bool
    opened_at: datetime
    trial_ends_at: datetime | None
    return_deadline: datetime | None


@dataclass(frozen=True)
class PieceRow:
    trial_id: str
    piece_id: str
    sku: str
    designer: str | None
    size: str | None
    price: int
    state: str
    decision: str | None
    decided_at: datetime | None
    return_reason: str | None
    feedback: str | None
    refunded: int | None


_TRIAL = tuple(getattr(TrialRecord, f) for f in TrialRow.__dataclass_fields__)
_PIECE = tuple(getattr(PieceRecord, f) for f in PieceRow.__dataclass_fields__)


@dataclass(frozen=True)
class Page:
    trials: list[TrialRow]
    pieces: list[PieceRow]
    truncated: bool  # more trials matched than `limit`: the first `limit` only


def customer_trials(engine: Engine, customer_id: str, limit: int) -> Page:
    """The client's `limit` most recent trials, newest first, and their pieces."""
    query = (
        select(*_TRIAL)
        .where(TrialRecord.customer_id == customer_id)
        .order_by(TrialRecord.opened_at.desc(), TrialRecord.trial_id.desc())
    )
    return _page(engine, query, limit)


def shopper_open_trials(engine: Engine, shopper_id: str, limit: int) -> Page:
    """The shopper's open trials (at most `limit`, the soonest to end first) and their pieces."""
    query = (
        select(*_TRIAL)
        .where(TrialRecord.personal_shopper_id == shopper_id, TrialRecord.status.in_(OPEN_STATUSES))
        .order_by(TrialRecord.trial_ends_at.asc().nulls_last(), TrialRecord.trial_id)
    )
    return _page(engine, query, limit)


def _page(engine: Engine, query: Select[Any], limit: int) -> Page:
    with engine.connect() as conn:
        trials = [TrialRow(*r) for r in conn.execute(query.limit(limit + 1))]
        kept = trials[:limit]
        return Page(kept, _pieces(conn, [t.trial_id for t in kept]), truncated=len(trials) > limit)


def _pieces(conn: Connection, trial_ids: Sequence[str]) -> list[PieceRow]:
    if not trial_ids:
        return []
    rows: list[PieceRow] = []
    # In chunks: one IN list per few hundred trials keeps every database's parameter limit far away.
    for start in range(0, len(trial_ids), 500):
        chunk = trial_ids[start : start + 500]
        query = (
            select(*_PIECE).where(PieceRecord.trial_id.in_(chunk)).order_by(PieceRecord.trial_id, PieceRecord.position)
        )
        rows += [PieceRow(*r) for r in conn.execute(query)]
    return rows
