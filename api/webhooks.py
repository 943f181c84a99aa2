"""Where the trial events stand with each webhook subscriber: what is pending, delivered or dead, and a
replay for staff once a subscriber has been fixed (docs/integrations.md)."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.auth import AnyRole, ApiError, Support
from api.models import Replayed, WebhookDeliveries, WebhookDelivery, errors
from api.params import EventId, SubscriberFilter, TrialIdFilter
from api.services import ServicesDep

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


@router.get("", response_model=WebhookDeliveries, responses=errors(401, 403, 422, 503))
async def list_webhook_deliveries(
    _: AnyRole,
    services: ServicesDep,
    status: Literal["pending", "delivered", "dead"] | None = None,
    subscriber: SubscriberFilter = None,
    trial_id: TrialIdFilter = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> WebhookDeliveries:
    """Deliveries of trial events to the subscribers, the most recently due first; `status=dead` lists
    those whose retries are spent (a day of them), which hold their trial's later events back."""
    rows = await services.webhook_deliveries(status=status, subscriber=subscriber, trial_id=trial_id, limit=limit)
    return WebhookDeliveries(items=[WebhookDelivery.model_validate(r._mapping) for r in rows])


@router.post("/{event_id}/replay", response_model=Replayed, responses=errors(401, 403, 404, 422, 503))
async def replay_webhook(
    event_id: EventId, _: Support, services: ServicesDep, subscriber: SubscriberFilter = None
) -> Replayed:
    """Roles: support. Send an event again to every subscriber (or the one named): its deliveries start
    over, and the trial's later events follow it in order. For a dead delivery once the subscriber is fixed,
    or a subscriber that lost what it received; receivers dedupe by `webhook-id`."""
    count = await services.replay_webhook(event_id, datetime.now(UTC), subscriber)
    if count == 0:
        raise ApiError(404, "unknown_event", f"No delivery of event {event_id} is known.")
    return Replayed(event_id=event_id, deliveries=count)
