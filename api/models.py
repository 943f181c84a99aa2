"""Bodies the API answers with besides the trial view, and the error shape every failure shares."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain.view import TrialSummary


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


# What each error status means, for the OpenAPI document. Every failure has the same shape.
_ERROR_MEANINGS = {
    401: "No bearer token, or one the API does not know (`unauthorized`).",
    403: "The token's role may not do this (`forbidden`).",
    404: "No trial for this order (`unknown_order`).",
    409: "Conflicts with the trial's state (`already_dispatched`, `trial_finished`, `order_conflict`, ...).",
    413: "The body is over 256 KiB (`body_too_large`).",
    422: "The request breaks a rule about its own contents (`invalid_request`, `invalid_price`, ...).",
    503: "Temporal or the database is briefly away, or a command waited 30 s (`temporarily_unavailable`): retry "
    "after Retry-After, with the same Idempotency-Key.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error responses a route can return, each in the one error shape: exactly these, no more."""
    return {s: {"model": ErrorResponse, "description": _ERROR_MEANINGS[s]} for s in statuses}


class TrialList(BaseModel):
    items: list[TrialSummary]  # type: ignore[valid-type]  # derived from TrialView (domain/view.py)
    next_cursor: str | None


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


class WebhookDelivery(BaseModel):
    """One trial event for one subscriber, and where its delivery stands."""

    subscriber: str = Field(description="The subscriber's name in settings.", examples=["oms"])
    event_id: str = Field(
        description="The event's id, sent as `webhook-id`.", examples=["evt_9c4ba318d4a975aafb2025778db651bd_3"]
    )
    trial_id: str = Field(examples=["style-trial-o-1"])
    seq: int = Field(description="The event's place in its trial's audit trail.", examples=[3])
    type: str = Field(description="The event type (docs/integrations.md).", examples=["trial.dispatched"])
    status: Literal["pending", "delivered", "dead"] = Field(
        description="dead: the retries are spent; the trial's later events wait until it is replayed."
    )
    attempts: int = Field(description="Attempts made so far.", examples=[1])
    next_attempt_at: datetime = Field(description="When it is (or was) next due, UTC.")
    last_error: str | None = Field(description="The last attempt's failure: an HTTP status or an error class.")
    delivered_at: datetime | None


class WebhookDeliveries(BaseModel):
    items: list[WebhookDelivery]


class Replayed(BaseModel):
    event_id: str
    deliveries: int = Field(description="How many deliveries start over (one per subscriber, or the one named).")
