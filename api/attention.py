"""The attention queue: what trials need staff for, one reason at a time, oldest first, by owner.

Each reason a trial is flagged for is an item with its age (since it was first flagged) and its owner (once
`assign_attention` gave it to someone). An item leaves the queue with the change that cleared it: the event
awaited (a parcel delivered), the staff command that closes it (`acknowledge_attention`), or the trial's own
answer (a new card authorized). From the read model: the queue never waits on a worker.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.auth import AnyRole, ApiError
from api.models import errors
from api.params import CursorParam, Filter, decode_cursor, encode_cursor
from api.services import ServicesDep
from domain.status import Attention

router = APIRouter(prefix="/v1/attention", tags=["attention"])


class AttentionEntry(BaseModel):
    """One reason a trial needs staff for."""

    order_id: str
    trial_id: str
    reason: str
    text: str
    since: datetime
    assignee: str | None


class AttentionQueue(BaseModel):
    items: list[AttentionEntry]
    next_cursor: str | None


@router.get("", response_model=AttentionQueue, responses=errors(401, 422, 503))
async def attention_queue(
    _: AnyRole,
    services: ServicesDep,
    assignee: Filter = None,
    reason: Attention | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorParam = None,
) -> AttentionQueue:
    """What trials need staff for, oldest first; `assignee` for one person's, `reason` for one kind. Pass
    `next_cursor` back as `cursor` for the next page."""
    rows = await services.attention_queue(
        assignee=assignee, reason=reason.value if reason else None, limit=limit + 1, after=_decode(cursor)
    )
    items = [
        AttentionEntry(order_id=r.order_id, trial_id=r.trial_id, reason=r.reason, text=r.text, since=r.since,
                       assignee=r.assignee)
        for r in rows[:limit]
    ]  # fmt: skip
    last = items[-1] if len(rows) > limit else None
    return AttentionQueue(items=items, next_cursor=_encode(last) if last else None)


def _encode(last: AttentionEntry) -> str:
    return encode_cursor(last.since, last.trial_id, last.reason)


def _decode(raw: str | None) -> tuple[datetime, str, str] | None:
    if raw is None:
        return None
    since, trial_id, (reason,) = decode_cursor(raw, rest=1)
    if reason not in Attention.__members__.values():
        raise ApiError(422, "invalid_request", "cursor is not one this API handed out.")
    return since, trial_id, reason
