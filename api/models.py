"""Bodies the API answers with besides the trial view, and the error shape every failure shares."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from domain import commands as cmd
from domain.bounds import Label


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


# The same error shape for every failure, documented in the OpenAPI.
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorResponse} for s in (401, 403, 404, 409, 422, 503)}


class FinishRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: Label = "client"
    channel: cmd.Channel = "site"


class TrialSummary(BaseModel):
    order_id: str
    status: str
    needs_attention: bool
    attention: dict[str, str]
    customer_id: str
    tier: str
    region: str
    currency: str
    value: int
    authorized: int
    charged: int
    released: int
    opened_at: datetime
    trial_ends_at: datetime | None
    return_deadline: datetime | None


class TrialList(BaseModel):
    items: list[TrialSummary]
    next_cursor: str | None


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}
