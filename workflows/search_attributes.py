"""The custom search attributes support staff filter on: one definition for every environment.

The dev server gets them as `--search-attribute` flags (cli.devserver), the test servers through their
own registration, production through `temporal operator search-attribute create` (docs/support-guide.md). Within
PostgreSQL visibility's limits: 5 of 10 Keyword, 2 of 3 Datetime, 1 of 3 Bool, 2 of 3 Int.
They carry ids, statuses, dates and counts only: never a name, an address or contact details.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

from domain.pieces import CHARGED_FATES, PieceState
from domain.view import TrialView

# Each attribute once: its key, and its value for a trial (read from the trial's view).
ATTRIBUTES: tuple[tuple[SearchAttributeKey, Callable[[TrialView], Any]], ...] = (  # type: ignore[type-arg]
    (SearchAttributeKey.for_keyword("StyleTrialStatus"), lambda v: v.status.value),
    (SearchAttributeKey.for_keyword("CustomerId"), lambda v: v.customer_id),
    (SearchAttributeKey.for_keyword("CustomerTier"), lambda v: v.tier),
    (SearchAttributeKey.for_keyword("Region"), lambda v: v.region),
    (SearchAttributeKey.for_keyword("PersonalShopper"), lambda v: v.personal_shopper_id),
    (SearchAttributeKey.for_datetime("TrialEndsAt"), lambda v: v.trial_ends_at),
    (SearchAttributeKey.for_datetime("ReturnDeadline"), lambda v: v.return_deadline),
    (SearchAttributeKey.for_bool("NeedsAttention"), lambda v: v.needs_attention),
    (SearchAttributeKey.for_int("PiecesKept"), lambda v: sum(1 for p in v.pieces if p.state in CHARGED_FATES)),
    (
        SearchAttributeKey.for_int("PiecesReturned"),
        lambda v: sum(1 for p in v.pieces if p.state == PieceState.RETURNED),
    ),
)
ALL: tuple[SearchAttributeKey, ...] = tuple(key for key, _ in ATTRIBUTES)  # type: ignore[type-arg]

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


def values(view: TrialView) -> Values:
    """What staff filter on in the Temporal UI. Ids, statuses, dates and counts: no personal data."""
    return {key.name: value(view) for key, value in ATTRIBUTES}


def updates(current: Values) -> list[SearchAttributeUpdate]:  # type: ignore[type-arg]
    """Search-attribute updates for these values; None unsets (a deadline not known yet)."""
    out: list[SearchAttributeUpdate] = []  # type: ignore[type-arg]
    for key in ALL:
        value = current[key.name]
        out.append(key.value_unset() if value is None else key.value_set(value))
    return out
