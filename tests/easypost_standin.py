"""A loopback stand-in of the part of EasyPost's HTTP API the returns adapter uses, for its contract test (as
the Stripe adapter is tested against localstripe): shipments with rates, buying one (a tracking code and a
hosted label), pickups with rates, buying one; and EasyPost's signed tracker webhook events.

It answers in EasyPost's documented shapes (`object`, ids with their prefixes, `{"error": {...}}` bodies),
checks the bearer key, refuses an address whose postal code is `00000` (422, as EasyPost does for an address
it cannot verify), quotes no rate for one in Antarctica (`AQ`), and can fail the next buy with a 500 after doing it, which is the crash a retry must
survive without buying twice.
"""

import asyncio
import hashlib
import hmac
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.machine import free_port

KEY = "EZTK_standin_key"


class EasyPostStandIn:
    def __init__(self) -> None:
        self.app = FastAPI()
        self.shipments: dict[str, dict[str, Any]] = {}
        self.pickups: dict[str, dict[str, Any]] = {}
        self.bought: list[str] = []  # every buy that took money: shipment and pickup ids
        self.fail_next_buy = False
        self._ids = itertools.count(1)
        self._routes()

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):08d}"

    def _routes(self) -> None:
        app = self.app

        @app.middleware("http")
        async def _key(request: Request, call_next: Any) -> Any:
            if request.headers.get("authorization") != f"Bearer {KEY}":
                return _error(401, "APIKEY.INACTIVE", "This api key is no longer active.")
            return await call_next(request)

        @app.post("/v2/shipments")
        async def create_shipment(request: Request) -> Any:
            params = (await request.json())["shipment"]
            if params["from_address"]["zip"] == "00000":
                return _error(422, "ADDRESS.VERIFY.FAILURE", "Unable to verify address.")
            sid = self._id("shp")
            rates = [
                {"id": self._id("rate"), "object": "Rate", "shipment_id": sid, "carrier": c, "service": s, "rate": r}
                for c, s, r in (("UPS", "Ground", "12.40"), ("DHLExpress", "ExpressWorldwide", "9.85"))
                if params["from_address"]["country"] != "AQ"  # no carrier serves Antarctica
            ]
            self.shipments[sid] = {
                "id": sid, "object": "Shipment", "is_return": params.get("is_return", False),
                "reference": params.get("reference"), "rates": rates, "tracking_code": None, "selected_rate": None,
                "postage_label": None, "from_address": params["from_address"],
            }  # fmt: skip
            return self.shipments[sid]

        @app.get("/v2/shipments/{sid}")
        async def retrieve_shipment(sid: str) -> Any:
            return self.shipments.get(sid) or _error(404, "NOT_FOUND", "The requested resource could not be found.")

        @app.post("/v2/shipments/{sid}/buy")
        async def buy_shipment(sid: str, request: Request) -> Any:
            shipment = self.shipments[sid]
            if shipment["tracking_code"]:
                return _error(422, "SHIPMENT.POSTAGE.EXISTS", "The shipment already has postage.")
            rate_id = (await request.json())["rate"]["id"]
            rate = next(r for r in shipment["rates"] if r["id"] == rate_id)
            shipment |= {
                "selected_rate": rate, "tracking_code": f"EZ{next(self._ids):010d}",
                "postage_label": {"object": "PostageLabel", "label_url": f"https://easypost-files.test/{sid}.pdf"},
            }  # fmt: skip
            self.bought.append(sid)
            return self._after_buy(shipment)

        @app.post("/v2/pickups")
        async def create_pickup(request: Request) -> Any:
            params = (await request.json())["pickup"]
            pid = self._id("pickup")
            rates = [{"id": self._id("pickuprate"), "object": "PickupRate", "carrier": "DHLExpress",
                      "service": "Same Day", "rate": "0.00"}]  # fmt: skip
            self.pickups[pid] = {
                "id": pid, "object": "Pickup", "status": "unknown", "reference": params.get("reference"),
                "min_datetime": params.get("min_datetime"), "max_datetime": params.get("max_datetime"),
                "shipment_id": params["shipment"]["id"], "pickup_rates": rates, "confirmation": None,
            }  # fmt: skip
            return self.pickups[pid]

        @app.get("/v2/pickups/{pid}")
        async def retrieve_pickup(pid: str) -> Any:
            return self.pickups.get(pid) or _error(404, "NOT_FOUND", "The requested resource could not be found.")

        @app.post("/v2/pickups/{pid}/buy")
        async def buy_pickup(pid: str) -> Any:
            pickup = self.pickups[pid]
            if pickup["status"] == "scheduled":
                return _error(422, "PICKUP.ALREADY_SCHEDULED", "The pickup is already scheduled.")
            pickup |= {"status": "scheduled", "confirmation": f"WRT{next(self._ids):06d}"}
            self.bought.append(pid)
            return self._after_buy(pickup)

    def _after_buy(self, bought: dict[str, Any]) -> Any:
        if self.fail_next_buy:  # it was bought; the answer is lost
            self.fail_next_buy = False
            return _error(500, "INTERNAL_SERVER_ERROR", "We're sorry, something went wrong.")
        return bought

    @asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        """Serve on a free loopback port; yields the API base the adapter takes."""
        port = free_port()
        config = uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="error", lifespan="off")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}/v2"
        finally:
            server.should_exit = True
            await task


def tracker_event(tracking_code: str, status: str, at: datetime, carrier: str = "DHLExpress") -> dict[str, Any]:
    """An EasyPost `tracker.updated` event, as its webhook posts it."""
    return {
        "id": f"evt_{hashlib.sha256(f'{tracking_code}{status}{at}'.encode()).hexdigest()[:24]}",
        "object": "Event",
        "description": "tracker.updated",
        "mode": "test",
        "created_at": at.isoformat(),
        "result": {
            "id": f"trk_{tracking_code.lower()}",
            "object": "Tracker",
            "tracking_code": tracking_code,
            "status": status,
            "carrier": carrier,
            "tracking_details": [{"object": "TrackingDetail", "status": status, "datetime": at.isoformat()}],
            "updated_at": at.isoformat(),
        },
    }


def signed(event: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    """The body and the X-Hmac-Signature header EasyPost sends it with."""
    body = json.dumps(event).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-Hmac-Signature": f"hmac-sha256-hex={digest}", "Content-Type": "application/json"}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "errors": []}}, status_code=status)
