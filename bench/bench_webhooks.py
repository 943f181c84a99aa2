"""Webhook delivery latency: from a trial's change being recorded (the projection's commit, which writes the
event to the outbox) to its arrival at a subscriber, a real HTTP server on loopback verifying signatures.

    .venv/bin/python -m bench.bench_webhooks [trials] [changes_per_trial]

`trials` trials change one after another, a new change every few milliseconds, while one delivery loop (as
in each worker process) sends. Ends with `webhook_p50_ms=`, `webhook_p99_ms=`.
"""

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

from application.webhooks import Subscriber, WebhookDispatcher
from bench.stats import ms
from config import DEFAULT_WEBHOOK_BACKOFF
from domain import commands as cmd
from domain.examples import order, parcels
from domain.trial_events import event_id
from domain.view import TrialView, view_of
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import SqlStore
from persistence.webhooks import WebhookQueue
from security.webhook_signing import new_secret
from tests.domain_support import Driver
from tests.webhook_receiver import Receiver


def lives(trials: int) -> list[list[TrialView]]:
    """Each trial at a few moments: opened, dispatched, delivered (each change adds audit events)."""
    out = []
    for i in range(trials):
        d = Driver(order(5, order_id=f"bench-{i}-{time.time_ns()}"))
        views = [view_of(d.trial)]
        d.trial.dispatch(parcels([[f"p{j}" for j in range(1, 6)]]), d.now)
        views.append(view_of(d.trial))
        d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
        views.append(view_of(d.trial))
        out.append(views)
    return out


async def main(trials: int = 100) -> None:
    secret = new_secret()
    receiver = Receiver(secret)
    arrived: dict[str, float] = {}
    original = receiver.verifier.verify

    def verify(body: bytes, headers: dict[str, str]) -> object:
        arrived.setdefault(headers["webhook-id"], time.perf_counter())
        return original(body, headers)

    receiver.verifier.verify = verify  # type: ignore[method-assign,assignment]
    await receiver.start()
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    store = SqlStore(engine, make_engine(url, durable=False), subscribers=["oms"])
    histories = await asyncio.to_thread(lives, trials)
    recorded: dict[str, float] = {}
    async with httpx.AsyncClient() as http:
        dispatcher = WebhookDispatcher(
            WebhookQueue(engine), [Subscriber("oms", receiver.url, [secret])], DEFAULT_WEBHOOK_BACKOFF, http
        )
        loop = asyncio.create_task(dispatcher.run(idle_seconds=0.01))
        began = time.perf_counter()
        for step in range(3):
            for views in histories:
                before = {e.seq for e in views[step - 1].events} if step else set()
                await asyncio.to_thread(store.project, step + 1, views[step])
                at = time.perf_counter()
                for e in views[step].events:
                    if e.seq not in before:
                        recorded[event_id(views[step].trial_id, e.seq)] = at
                await asyncio.sleep(0.005)
        while len(arrived) < len(recorded) and time.perf_counter() - began < 120:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - began
        loop.cancel()
    await receiver.stop()
    latencies = [arrived[k] - t for k, t in recorded.items() if k in arrived]
    print(f"webhooks: {trials} trials, {len(recorded)} events, {len(latencies)} arrived in {elapsed:.1f} s")
    print(
        f"  from the projection's commit to the subscriber: p50 {ms(latencies, 0.5):.0f} ms, p99 {ms(latencies, 0.99):.0f} ms"
    )
    print(f"webhook_p50_ms={ms(latencies, 0.5):.1f}")
    print(f"webhook_p99_ms={ms(latencies, 0.99):.1f}")


if __name__ == "__main__":
    asyncio.run(main(*[int(a) for a in sys.argv[1:2]]))
