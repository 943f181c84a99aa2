"""Path, query and header parameters shared by the routes, bounded like every input from outside.

Every text that reaches a query is held to the alphabet of what it names, not only to a length: a NUL, say,
is a fine SQLite string but PostgreSQL refuses it (`psycopg.DataError`), so it must never get that far.
"""

import base64
import re
from datetime import datetime
from typing import Annotated

from fastapi import Header, Query
from fastapi import Path as FastApiPath

from api.auth import ApiError
from domain.bounds import ID_MAX, ORDER_ID_PATTERN, REFERENCE_PATTERN, SUBSCRIBER_NAME_PATTERN, TRIAL_ID_MAX

# An order id in a path: the same alphabet and length as in a body (see domain.bounds).
OrderId = Annotated[str, FastApiPath(max_length=ID_MAX, pattern=ORDER_ID_PATTERN)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=100, pattern=r"^[A-Za-z0-9._:-]+$",
           description="Makes a command safe to retry: the same key for the same command gets the first answer; "
                       "the same key with another body is refused (422 `idempotency_key_reused`)."),
]  # fmt: skip
# An id to filter on (a customer's id).
Filter = Annotated[str | None, Query(max_length=ID_MAX, pattern=REFERENCE_PATTERN)]
# A trial's id (`style-trial-<order id>`).
TrialIdFilter = Annotated[str | None, Query(max_length=TRIAL_ID_MAX, pattern=ORDER_ID_PATTERN)]
# A webhook subscriber's name, as configured.
SubscriberFilter = Annotated[str | None, Query(max_length=60, pattern=SUBSCRIBER_NAME_PATTERN)]
# A trial event's id (`evt_...`).
EventId = Annotated[str, FastApiPath(max_length=260, pattern=REFERENCE_PATTERN)]


# A page's cursor: the last row's position (a moment, a trial id, and for some lists more), opaque to callers.
CursorParam = Annotated[str | None, Query(max_length=400)]


def encode_cursor(at: datetime, trial_id: str, *rest: str) -> str:
    return base64.urlsafe_b64encode("|".join((at.isoformat(), trial_id, *rest)).encode()).decode()


def decode_cursor(raw: str, rest: int = 0) -> tuple[datetime, str, list[str]]:
    """A cursor this API handed out: its moment, its trial id and `rest` more parts; 422 for anything else.
    What reaches the query is what it handed out (a trial id's alphabet: no NUL, which PostgreSQL refuses)."""
    try:
        at, trial_id, *more = base64.urlsafe_b64decode(raw.encode()).decode().split("|", 1 + rest)
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or len(more) != rest:
            raise ValueError("not ours")
        if len(trial_id) > TRIAL_ID_MAX or not re.fullmatch(ORDER_ID_PATTERN, trial_id):
            raise ValueError("not a trial id")
        return when, trial_id, more
    except Exception:
        raise ApiError(422, "invalid_request", "cursor is not one this API handed out.") from None
