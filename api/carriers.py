"""Carriers' tracking events, from EasyPost's webhook (`tracker.created` / `tracker.updated` events), each
checked against `X-Hmac-Signature` (HMAC-SHA256 of the raw body with the webhook's secret, verified by the
official library) before anything is read.

A tracker's status becomes a scan (`domain.commands.CarrierScan`): `in_transit`, `out_for_delivery` and
`available_for_pickup` say the carrier has the parcel; `delivered` that it arrived. Every other status
(`pre_transit`: a label exists but no one has scanned it; `return_to_sender`, `failure`, `cancelled`,
`error`, `unknown`) moves nothing and is counted. The scan's time is the carrier's, from the tracker's
details, never the moment the webhook arrived: a return scanned before its deadline is never charged.

Answers: 200 to every signed call, whatever it held (EasyPost retries what it thinks failed, and a retry
would carry the same thing); 401 when unsigned; 503 when the trial is briefly unavailable, so that EasyPost
delivers it again later.
"""

import logging
from datetime import datetime as Moment
from typing import Annotated, Any

from easypost.errors.general.signature_verification_error import SignatureVerificationError
from easypost.util import validate_webhook
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from api.auth import ApiError
from application.tracking import CarrierTracking
from domain import commands as cmd
from observability.metrics import CARRIER_EVENTS

log = logging.getLogger("styletrial.api")

SCANS: dict[str, cmd.ScanStatus] = {
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "available_for_pickup": "in_transit",
    "delivered": "delivered",
}
Short = Annotated[str, StringConstraints(max_length=120)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TrackingDetail(_Lenient):
    status: Short | None = None
    datetime: Moment | None = None


class Tracker(_Lenient):
    tracking_code: Annotated[str, StringConstraints(min_length=1, max_length=120, pattern=r"^[!-~]+$")]
    status: Short
    carrier: Short | None = None
    tracking_details: list[TrackingDetail] = []
    updated_at: Moment | None = None


class TrackerEvent(_Lenient):
    description: Short
    result: dict[str, Any] | None = None
    created_at: Moment | None = None


def scan_of(payload: Any) -> cmd.CarrierScan | str:
    """The scan an EasyPost event carries, or why it carries none (for the count)."""
    try:
        event = TrackerEvent.model_validate(payload)
        if not event.description.startswith("tracker.") or event.result is None:
            return "ignored"
        tracker = Tracker.model_validate(event.result)
    except ValidationError:
        return "malformed"
    status = SCANS.get(tracker.status)
    if status is None:
        return "ignored"
    # When the carrier scanned it: the latest detail with this status (details arrive oldest first).
    times = [d.datetime for d in tracker.tracking_details if d.datetime and d.status == tracker.status]
    at = times[-1] if times else tracker.updated_at or event.created_at
    if at is None or at.tzinfo is None:
        return "malformed"
    carrier = (tracker.carrier or "")[:80] or None
    try:
        return cmd.CarrierScan(tracking_number=tracker.tracking_code, status=status, occurred_at=at, carrier=carrier)
    except ValidationError:
        return "malformed"


def easypost_router(tracking: CarrierTracking, webhook_secret: str) -> APIRouter:
    router = APIRouter(prefix="/v1/carriers", tags=["carriers"])

    @router.post("/easypost/webhook", summary="Tracking events from EasyPost (signed)")
    async def easypost_webhook(request: Request) -> dict[str, str]:
        body = await request.body()
        try:
            # The library reads the header by its exact name; Starlette's are lower-cased.
            signature = {"X-Hmac-Signature": request.headers.get("x-hmac-signature", "")}
            payload = validate_webhook(body, signature, webhook_secret)
        except SignatureVerificationError:
            raise ApiError(401, "unauthenticated", "The X-Hmac-Signature header does not match the body.") from None
        except (ValueError, RecursionError):
            payload = None  # signed, but not JSON: nothing in it to read
        scan = scan_of(payload)
        if isinstance(scan, str):
            outcome = scan
        else:
            outcome = await tracking.handle(scan)  # UNAVAILABLE propagates: a 503, EasyPost retries
        CARRIER_EVENTS.labels("easypost", outcome.split(" ")[0]).inc()
        log.info("easypost event: %s", outcome)
        return {"outcome": outcome}

    return router
