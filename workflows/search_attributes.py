"""The custom search attributes support staff filter on: one definition for every environment.

The dev server gets them as `--search-attribute` flags (cli.devserver), the test servers through their
own registration, production through `temporal operator search-attribute create` (README). Within
PostgreSQL visibility's limits: 5 of 10 Keyword, 2 of 3 Datetime, 1 of 3 Bool, 2 of 3 Int.
They carry ids, statuses, dates and counts only: never a name, an address or contact details.
"""

from datetime import datetime

from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

STATUS = SearchAttributeKey.for_keyword("StyleTrialStatus")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
CUSTOMER_TIER = SearchAttributeKey.for_keyword("CustomerTier")
REGION = SearchAttributeKey.for_keyword("Region")
PERSONAL_SHOPPER = SearchAttributeKey.for_keyword("PersonalShopper")
TRIAL_ENDS_AT = SearchAttributeKey.for_datetime("TrialEndsAt")
RETURN_DEADLINE = SearchAttributeKey.for_datetime("ReturnDeadline")
NEEDS_ATTENTION = SearchAttributeKey.for_bool("NeedsAttention")
PIECES_KEPT = SearchAttributeKey.for_int("PiecesKept")
PIECES_RETURNED = SearchAttributeKey.for_int("PiecesReturned")

ALL: tuple[SearchAttributeKey, ...] = (  # type: ignore[type-arg]
    STATUS, CUSTOMER_ID, CUSTOMER_TIER, REGION, PERSONAL_SHOPPER,
    TRIAL_ENDS_AT, RETURN_DEADLINE, NEEDS_ATTENTION, PIECES_KEPT, PIECES_RETURNED,
)  # fmt: skip

_TYPE_NAMES = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool", "INT": "Int"}


def dev_server_flags() -> list[str]:
    """`temporal server start-dev` flags that register every attribute."""
    flags: list[str] = []
    for key in ALL:
        flags += [
            "--search-attribute",
            f"{key.name}={_TYPE_NAMES[key.indexed_value_type.name.removeprefix('INDEXED_VALUE_TYPE_')]}",
        ]
    return flags


Values = dict[str, str | int | bool | datetime | None]


def updates(current: Values) -> list[SearchAttributeUpdate]:  # type: ignore[type-arg]
    """Search-attribute updates for these values; None unsets (a deadline not known yet)."""
    out: list[SearchAttributeUpdate] = []  # type: ignore[type-arg]
    for key in ALL:
        value = current[key.name]
        out.append(key.value_unset() if value is None else key.value_set(value))
    return out
