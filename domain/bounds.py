"""How long and what shape every string and number from outside may be, checked where it enters.

Each bound sits below every limit the value meets further in: database columns (120-200 characters),
Temporal's workflow id (1,000 bytes) and payload limits (2 MB), the gateway's largest amount, and our own
messages, which quote ids back. A value outside them is refused where it enters (HTTP 422, with where and
why), so nothing downstream ever has to fail on it.

The checks run only **at the edge** (`at_the_edge()`: the HTTP API sets it for every request). The same
models are how a workflow decodes its input and its commands, on every replay, for years: a running trial
accepted under yesterday's rules must still decode under today's, or its workflow would fail on replay.
So inside a workflow these annotations accept what they are given, and tightening them is always safe.
"""

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

_EDGE: ContextVar[bool] = ContextVar("styletrial_at_the_edge", default=False)


@contextmanager
def at_the_edge() -> Iterator[None]:
    """Within this block, models built from outside input enforce every bound below."""
    token = _EDGE.set(True)
    try:
        yield
    finally:
        _EDGE.reset(token)


def _edge_rule(check: Callable[[Any], str | None]) -> AfterValidator:
    def validate(value: Any) -> Any:
        if _EDGE.get():
            problem = check(value)
            if problem:
                raise ValueError(problem)
        return value

    return AfterValidator(validate)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Ids name things across systems (orders, pieces, parcels, customers): letters and digits of any script,
# and . _ : # -. No spaces, slashes or control characters, so an id is safe in a log line, a SQL column,
# an idempotency key and a message. An order id also names a URL path and a workflow id: no #.
ORDER_ID_PATTERN = r"^[\w.:-]+$"
_ORDER_ID = re.compile(ORDER_ID_PATTERN)
# Other ids (pieces, tracking numbers, customers) may also hold #.
REFERENCE_PATTERN = r"^[\w.:#-]+$"
# A webhook subscriber's name, as settings declare it (config.py); also a filter of the API's webhook routes.
SUBSCRIBER_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,59}$"
_REFERENCE = re.compile(REFERENCE_PATTERN)
ID_MAX = 64
# A trial's id: `style-trial-` and its order id, within the read model's column.
TRIAL_ID_MAX = 200
DOT_SEGMENTS = {".", ".."}


def _id(pattern: re.Pattern[str]) -> Callable[[Any], str | None]:
    def check(value: str) -> str | None:
        if not 1 <= len(value) <= ID_MAX:
            return f"must be 1 to {ID_MAX} characters"
        if not pattern.match(value):
            return "may hold only letters, digits and . _ : - (no spaces, slashes or control characters)"
        if value in DOT_SEGMENTS:
            # `/v1/trials/..` is normalised away by every HTTP client: such a trial could never be reached.
            return "must not be . or .., which name no path of their own"
        return None

    return check


def _text(limit: int) -> Callable[[Any], str | None]:
    def check(value: str) -> str | None:
        if len(value) > limit:
            return f"must be at most {limit} characters"
        if _CONTROL.search(value):
            return "must not contain control characters"
        return None

    return check


OrderId = Annotated[
    str, _edge_rule(_id(_ORDER_ID)), Field(json_schema_extra={"maxLength": ID_MAX, "pattern": ORDER_ID_PATTERN})
]
Id = Annotated[str, _edge_rule(_id(_REFERENCE)), Field(json_schema_extra={"maxLength": ID_MAX})]
# Names of people and carriers ("cr.amelia", "Royal Mail"), codes such as a tier or region.
Label = Annotated[str, _edge_rule(_text(100)), Field(json_schema_extra={"maxLength": 100})]
# A piece's description, a reason, a message reference.
Text = Annotated[str, _edge_rule(_text(500)), Field(json_schema_extra={"maxLength": 500})]

# The largest amount any adapter will move in one payment (minor units), and so the largest price.
MAX_AMOUNT = 99_999_999


def _whole_number(low: int, high: int) -> BeforeValidator:
    def validate(value: Any) -> Any:
        if _EDGE.get():
            # `true` is not 1 and "1200" is not 1200: a fulfilment system sending either has a bug to see.
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError("must be a whole number, not true/false, a string or a fraction")
            if not low <= value <= high:
                raise ValueError(f"must be between {low} and {high:,}")
        return value

    return BeforeValidator(validate)


# Zero and negatives pass here and get the domain's own code (invalid_price).
Price = Annotated[int, _whole_number(-MAX_AMOUNT, MAX_AMOUNT), Field(json_schema_extra={"maximum": MAX_AMOUNT})]
# Whole days; the domain's own rules (1-7 per extension, say) answer with their codes inside this range.
Days = Annotated[int, _whole_number(-1000, 1000)]

# A hard cap on any list from outside, well above the domain's own rules (30 pieces) so those rules still
# answer with their own codes (too_many_pieces), while a million-element list is refused at the door.
MAX_ITEMS = 100


def _few(value: list[Any]) -> str | None:
    return f"must hold at most {MAX_ITEMS} items" if len(value) > MAX_ITEMS else None


Few = _edge_rule(_few)
