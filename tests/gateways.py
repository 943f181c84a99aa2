"""The payment adapters under test, each with the same test-side view of the gateway ("the dashboard").

`localstripe` (PyPI) runs as a real HTTP server on a free loopback port; the Stripe adapter talks to it
through the official SDK exactly as it would talk to Stripe.
"""

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import stripe

from activities.stripe_gateway import KEY, TRIAL, StripeGateway, metadata, received_amount
from cli.devserver import port_open
from domain.steps import (
    AuthorizationResult,
    AuthorizeRequest,
    CaptureRequest,
    ChargeRequest,
    PaymentResult,
    ReleaseRequest,
    ReleaseResult,
)
from tests.machine import free_port

TEST_KEY = "sk_test_styletrial_localstripe"  # localstripe accepts any key; this one is not a secret


@contextmanager
def localstripe(folder: Path) -> Iterator[str]:
    """Start localstripe from scratch on a free port; yield its base URL; stop it."""
    port = free_port()
    log = (folder / "localstripe.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
        cwd=folder, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"localstripe did not start: {(folder / 'localstripe.log').read_text()}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


class StripeUnderTest(StripeGateway):
    """The real adapter against localstripe, plus what a test reads on Stripe's side and one switch.

    `decline_next` makes the client's card fail from now on, the way a card is cancelled during a trial:
    the next merchant-initiated payment goes out with Stripe's test card that declines every charge, so the
    decline really comes from the server.
    """

    def __init__(self, api_base: str) -> None:
        # localstripe ignores Idempotency-Key: the engine's ledger and lookup must cope without it.
        super().__init__(TEST_KEY, api_base)
        self.client = stripe.StripeClient(TEST_KEY, base_addresses={"api": api_base}, max_network_retries=0)
        self._failing: list[str] = []
        # Stripe cancels a hold by itself when it expires; localstripe never does. The expiry the adapter
        # reported stands in for that when a test asks what is still held.
        self.expiry: dict[str, datetime] = {}
        self.clock: datetime | None = None

    def decline_next(self, operation: str, code: str = "card_declined") -> None:
        self._failing.append(operation)

    async def authorize(self, req: AuthorizeRequest) -> AuthorizationResult:
        self._tick(req.at)
        if req.merchant_initiated and "authorize" in self._failing:
            self._failing.remove("authorize")
            req = req.model_copy(update={"payment_method": "pm_card_chargeCustomerFail"})
        result = await super().authorize(req)
        if result.authorization_id and result.expires_at:
            self.expiry[result.authorization_id] = result.expires_at
        return result

    async def capture(self, req: CaptureRequest) -> PaymentResult:
        self._tick(req.at)
        return await super().capture(req)

    async def charge(self, req: ChargeRequest) -> PaymentResult:
        self._tick(req.at)
        if "charge" in self._failing:
            self._failing.remove("charge")
            req = req.model_copy(update={"payment_method": "pm_card_chargeCustomerFail"})
        return await super().charge(req)

    async def release(self, req: ReleaseRequest) -> ReleaseResult:
        self._tick(req.at)
        return await super().release(req)

    def _tick(self, at: datetime) -> None:
        self.clock = at if self.clock is None else max(self.clock, at)

    # -- Stripe's side ------------------------------------------------------------------------------

    def intents(self, trial_id: str) -> list[dict[str, Any]]:
        everything = self.client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
        return [i.to_dict() for i in everything if metadata(i, TRIAL) == trial_id]

    def held(self, trial_id: str, at: datetime | None = None) -> int:
        """Uncaptured, uncancelled and, as Stripe would see it, unexpired at `at` (default: latest call)."""
        when = at or self.clock
        return sum(
            i["amount"]
            for i in self.intents(trial_id)
            if i["status"] == "requires_capture" and not self._expired(i["id"], when)
        )

    def _expired(self, intent_id: str, when: datetime | None) -> bool:
        expires_at = self.expiry.get(intent_id)
        return when is not None and expires_at is not None and expires_at <= when

    def total(self, trial_id: str, kind: str) -> int:
        """What was taken by captures or charges (before any refund), or given back by the engine's refunds."""
        intents = self.intents(trial_id)
        if kind == "refund":
            return sum(self._refunded(i["id"]) for i in intents)
        manual = kind == "capture"
        # localstripe counts the engine's refunds in what a payment received; Stripe's amount_received does not.
        return sum(
            received_amount(i) + (0 if "amount_received" in i else self._refunded(i["id"]))
            for i in intents
            if (i.get("capture_method") == "manual") == manual
        )

    def _refunded(self, intent_id: str) -> int:
        """The engine's refunds of one PaymentIntent (localstripe also shows an uncaptured remainder as one)."""
        refunds = self.client.v1.refunds.list(params={"payment_intent": intent_id, "limit": 100}).auto_paging_iter()
        return sum(int(r.amount) for r in refunds if (r.to_dict().get("metadata") or {}).get(KEY))

    def keys(self, trial_id: str) -> list[str]:
        return [i["metadata"][KEY] for i in self.intents(trial_id)]
