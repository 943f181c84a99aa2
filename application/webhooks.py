"""The delivery loop: sends each trial event to every subscriber, signed (Standard Webhooks), in order per
trial, at least once, with retries on a schedule (docs/integrations.md).

It runs in every worker process beside the Temporal worker, never in workflow code: sending is a side effect
with its own retries, and it must go on while no workflow runs. The queue (`persistence.webhooks`) decides
who sends what, so any number of loops may run.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from persistence.webhooks import Claimed, WebhookQueue
from security.webhook_signing import headers

log = logging.getLogger("styletrial.webhooks")
# A subscriber that has not answered by then has failed this attempt.
SEND_TIMEOUT_SECONDS = 10.0
# A claimed delivery nobody reported on in this time (its loop died) is sent again.
LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class Subscriber:
    name: str
    url: str
    secrets: list[str]


class WebhookDispatcher:
    def __init__(
        self, queue: WebhookQueue, subscribers: list[Subscriber], backoff: list[float], http: httpx.AsyncClient,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:  # fmt: skip
        self.queue = queue
        self.subscribers = subscribers
        self.backoff = backoff
        self.http = http
        self.clock = clock

    async def run(self, idle_seconds: float = 0.25) -> None:
        """Deliver until cancelled; sleep only when there was nothing to send."""
        while True:
            try:
                sent = await self.deliver_due()
            except Exception as err:  # the database is away: try again shortly
                log.warning("webhook delivery round failed: %s", type(err).__name__)
                sent = 0
            if not sent:
                await asyncio.sleep(idle_seconds)

    async def deliver_due(self) -> int:
        """One round: claim what is due for each subscriber (at most one event per trial) and send it, the
        trials side by side. Returns how many attempts were made. One subscriber's trouble (its queue could
        not be read) does not keep the others from theirs; it is raised once they have had their turn."""
        attempts = 0
        trouble: Exception | None = None
        for subscriber in self.subscribers:
            try:
                claimed = await asyncio.to_thread(self.queue.claim, subscriber.name, self.clock(), LEASE)
            except Exception as err:
                trouble = err
                continue
            await asyncio.gather(*(self._send(subscriber, c) for c in claimed))
            attempts += len(claimed)
        if trouble is not None and not attempts:
            raise trouble
        return attempts

    async def _send(self, subscriber: Subscriber, delivery: Claimed) -> None:
        """One attempt. Whatever goes wrong (the subscriber, the network, or a bug of ours such as a header
        that cannot be encoded) is recorded on this delivery, which is retried and then dead like any failed
        attempt: staff see it, and no other trial's delivery waits on it."""
        try:
            error = await self._post(subscriber, delivery)
        except httpx.HTTPError as err:
            error = type(err).__name__
        except Exception as err:  # a bug: recorded on the delivery rather than failing the whole round
            log.exception("webhook %s to %s could not be sent", delivery.event_id, subscriber.name)
            error = f"not sent: {type(err).__name__}"
        try:
            if error is None:
                await asyncio.to_thread(self.queue.delivered, subscriber.name, delivery.event_id, self.clock())
                return
            status = await asyncio.to_thread(
                self.queue.failed, subscriber.name, delivery.event_id, error, self.clock(), self.backoff
            )
        except Exception as err:  # the database is away: the claim runs out and the event is sent again
            log.warning("webhook %s to %s: outcome not recorded (%s)", delivery.event_id, subscriber.name,
                        type(err).__name__)  # fmt: skip
            return
        # Ids and the error class only: never the body or the subscriber's answer.
        log.warning(
            "webhook %s to %s failed (%s, attempt %d)%s", delivery.event_id, subscriber.name, error,
            delivery.attempts + 1, "; dead, staff can replay it" if status == "dead" else "",
        )  # fmt: skip

    async def _post(self, subscriber: Subscriber, delivery: Claimed) -> str | None:
        body = delivery.body.encode()
        signed = headers(subscriber.secrets, delivery.event_id, int(time.time()), body)
        answer = await self.http.post(subscriber.url, content=body, headers=signed, timeout=SEND_TIMEOUT_SECONDS)
        return None if answer.is_success else f"HTTP {answer.status_code}"
