"""What one settlement's money calls cost through the payment activities (ledger first, then the gateway),
for each adapter: the simulated gateway on SQLite and on PostgreSQL, and the Stripe adapter on localstripe.

    .venv/bin/python -m bench.bench_payments [rounds]

Each round is the life of one hold: authorize, capture part of it (the rest is released), then an
off-session charge, each as its activity with the ledger on the same database. localstripe is a Python
server on the same two cores, so its numbers say what the adapter and the SDK cost, not Stripe's latency.
"""

import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from activities.payments import PaymentActivities
from activities.ports import PaymentGateway
from activities.simulated_gateway import SimulatedGateway
from bench.stats import ms
from domain.steps import AuthorizeRequest, CaptureRequest, ChargeRequest
from persistence.db import make_engine
from persistence.simulated_book import SqlGatewayBook
from persistence.store import SqlStore
from tests.databases import postgres_database, sqlite_database
from tests.gateways import StripeUnderTest, localstripe

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def measure(gateway_for: Callable[[Any], PaymentGateway], url: str, rounds: int) -> str:
    engine = make_engine(url)
    activities = PaymentActivities(gateway_for(engine), SqlStore(engine))
    times: dict[str, list[float]] = {"authorize": [], "capture": [], "charge": []}

    async def timed(kind: str, call: Awaitable[Any]) -> Any:
        t0 = time.perf_counter()
        result = await call
        times[kind].append(time.perf_counter() - t0)
        return result

    for r in range(rounds):
        trial = f"bench-pay-{r}-{time.time_ns()}"
        auth = await timed("authorize", activities.authorize(AuthorizeRequest(
            key=f"{trial}-authorize-1", trial_id=trial, amount=480_000, currency="GBP",
            payment_method="pm_card_visa", merchant_initiated=False, at=AT,
        )))  # fmt: skip
        await timed("capture", activities.capture(CaptureRequest(
            key=f"{trial}-settlement-1-1", trial_id=trial, authorization_id=auth.authorization_id, amount=200_000,
            currency="GBP", settlement=1, at=AT + timedelta(days=7),
        )))  # fmt: skip
        await timed("charge", activities.charge(ChargeRequest(
            key=f"{trial}-settlement-2-1", trial_id=trial, amount=30_000, currency="GBP",
            payment_method="pm_card_visa", settlement=2, at=AT + timedelta(days=10),
        )))  # fmt: skip
    engine.dispose()
    return "; ".join(f"{k} p50 {ms(v, 0.5):.1f} ms, p99 {ms(v, 0.99):.1f} ms" for k, v in times.items())


async def main(rounds: int) -> None:
    folder = Path(tempfile.mkdtemp())

    def simulated(engine: Any) -> PaymentGateway:
        return SimulatedGateway(SqlGatewayBook(engine))

    with sqlite_database(folder) as url:
        print("simulated, SQLite      ", await measure(simulated, url, rounds))
    with postgres_database() as url:
        print("simulated, PostgreSQL  ", await measure(simulated, url, rounds))
    with localstripe(folder) as base, sqlite_database(folder) as url:
        print("stripe on localstripe  ", await measure(lambda _: StripeUnderTest(base), url, rounds))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
