"""Path, query and header parameters shared by the routes, bounded like every input from outside."""

from typing import Annotated

from fastapi import Header, Query
from fastapi import Path as FastApiPath

from domain.bounds import ID_MAX, ORDER_ID_PATTERN

# An order id in a path: the same alphabet and length as in a body (see domain.bounds).
OrderId = Annotated[str, FastApiPath(max_length=ID_MAX, pattern=ORDER_ID_PATTERN)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=100, pattern=r"^[A-Za-z0-9._:-]+$",
           description="Makes a command safe to retry: the same key for the same command gets the first answer."),
]  # fmt: skip
Filter = Annotated[str | None, Query(max_length=ID_MAX)]
