"""The returns port on EasyPost (official `easypost` library): a return shipment bought at the lowest rate
(its label is EasyPost's, hosted by EasyPost), and for a collection a pickup at the client's address in the
slot, bought at the lowest pickup rate.

EasyPost has no idempotency keys, and only buying costs money (creating a shipment or a pickup is free). So
the adapter keeps its progress per booking key (`BookingProgress`): the shipment's id once created, the
pickup's once created, and the answer once both are bought. A retry after a crash resumes: it retrieves
what it created and buys only what is not bought yet, so a booking is never paid twice. A retry between
creating and recording leaves at most an unbought shipment behind, which costs nothing.

Errors: a 4xx (an address the carrier does not serve, a slot not offered) is the provider's refusal,
answered as a failed booking with its message; a 5xx, a timeout or a rate limit is retried by the activity.
Tested against a loopback stand-in of EasyPost's HTTP API (tests/easypost_standin.py).
"""

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from easypost.easypost_client import EasyPostClient
from easypost.errors.api.api_error import ApiError
from easypost.errors.general.easypost_error import EasyPostError
from easypost.errors.general.filtering_error import FilteringError

from activities.ports import BookingProgress, Progress
from activities.returns import TransientReturnsError
from domain.order import Address
from domain.steps import ReturnBookingRequest, ReturnBookingResult

log = logging.getLogger(__name__)

# A return parcel of up to 30 pieces of clothing in the retailer's box: what the rates are quoted for.
RETURN_PARCEL = {"length": 50, "width": 40, "height": 20, "weight": 160}  # inches and ounces, EasyPost's units


@dataclass
class InMemoryProgress:
    blocking = False
    rows: dict[str, Progress] = field(default_factory=dict)

    def get(self, key: str) -> Progress:
        p = self.rows.get(key)
        return Progress(p.shipment_id, p.pickup_id, p.result) if p else Progress()

    def put(self, key: str, progress: Progress) -> None:
        self.rows[key] = progress


class EasyPostReturns:
    def __init__(
        self, api_key: str, warehouse: Address, api_base: str = "https://api.easypost.com/v2",
        progress: BookingProgress | None = None,
    ) -> None:  # fmt: skip
        self._client = EasyPostClient(api_key, api_base=api_base, timeout=20)
        self._warehouse = warehouse
        self._progress = progress or InMemoryProgress()

    async def book(self, req: ReturnBookingRequest) -> ReturnBookingResult:
        # The library is synchronous (requests): its calls go to a thread, never the worker's event loop.
        return await asyncio.to_thread(self._book, req)

    def _book(self, req: ReturnBookingRequest) -> ReturnBookingResult:
        progress = self._progress.get(req.key)
        if progress.result is not None:
            return ReturnBookingResult.model_validate(progress.result)
        try:
            result = self._through(req, progress)
        except ApiError as err:
            if err.http_status is not None and 400 <= err.http_status < 500 and err.http_status != 429:
                log.info("easypost refused the return booking %s: %s", req.key, err.http_status)
                result = ReturnBookingResult(
                    booked=False, failure_code=f"easypost_{err.http_status}", failure_message=str(err.message)[:300]
                )
            else:
                raise TransientReturnsError(f"easypost answered {err.http_status}") from err
        except FilteringError:  # no carrier quoted a rate: none serves this address
            result = ReturnBookingResult(
                booked=False, failure_code="no_rates", failure_message="No carrier offers a return from this address."
            )
        except EasyPostError as err:  # a timeout, a connection refused
            raise TransientReturnsError(type(err).__name__) from err
        progress.result = result.model_dump(mode="json")
        self._progress.put(req.key, progress)
        return result

    def _through(self, req: ReturnBookingRequest, progress: Progress) -> ReturnBookingResult:
        if progress.shipment_id is None:
            shipment = self._client.shipment.create(
                from_address=_address(req.address), to_address=_address(self._warehouse), parcel=RETURN_PARCEL,
                is_return=True, reference=req.key, options={"label_format": "PDF"},
            )  # fmt: skip
            progress.shipment_id = shipment.id
            self._progress.put(req.key, progress)
        shipment = self._client.shipment.retrieve(progress.shipment_id)
        if not getattr(shipment, "tracking_code", None):
            shipment = self._client.shipment.buy(shipment.id, rate={"id": shipment.lowest_rate().id})
        carrier = shipment.selected_rate.carrier
        if req.kind == "collection":
            if progress.pickup_id is None:
                pickup = self._client.pickup.create(
                    address=_address(req.address), shipment={"id": shipment.id}, reference=req.key,
                    min_datetime=req.slot_starts_at.isoformat() if req.slot_starts_at else None,
                    max_datetime=req.slot_ends_at.isoformat() if req.slot_ends_at else None,
                    is_account_address=False, instructions="Style Trial return: the client has the parcel ready.",
                )  # fmt: skip
                progress.pickup_id = pickup.id
                self._progress.put(req.key, progress)
            pickup = self._client.pickup.retrieve(progress.pickup_id)
            if pickup.status != "scheduled":
                cheapest = min(pickup.pickup_rates, key=lambda r: float(r.rate))
                self._client.pickup.buy(pickup.id, carrier=cheapest.carrier, service=cheapest.service)
        return ReturnBookingResult(
            booked=True, carrier=carrier, tracking_number=shipment.tracking_code,
            label_url=shipment.postage_label.label_url,
        )  # fmt: skip


def _address(a: Address) -> dict[str, Any]:
    return {
        "name": a.name, "street1": a.line1, "street2": a.line2 or "", "city": a.city, "zip": a.postal_code,
        "country": a.country,
    }  # fmt: skip
