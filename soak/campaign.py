"""The fault campaign: random trials over HTTP against separate processes while workers, the Temporal
server and the API are killed, and readers (the API, and Temporal queries as the UI makes them) read
throughout. Then every trial is checked (checks.py) and the figures are printed.

`make soak` runs the full campaign; tests/e2e/test_soak.py runs a small one inside `make test`.
"""

import asyncio
import contextlib
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bootstrap import connect
from config import Settings
from security.webhook_signing import new_secret
from soak.checks import Books, Gateway, SimulatedGatewayBook, StripeDashboard, Verdict, check_trial
from soak.gateway_faults import GatewayFaults
from soak.plans import AS, AT_REST, WAITING, Api, Figures, play, random_plan, wait_status
from soak.processes import LOCALSTRIPE_KEY, Stack
from tests.gateways import localstripe
from tests.webhook_receiver import Receiver


@dataclass(frozen=True)
class Campaign:
    trials: int = 200
    in_flight: int = 15
    day_seconds: float = 5.0  # one policy day
    workers: int = 2
    worker_kill_every: tuple[float, float] = (10.0, 30.0)
    # Temporal server faults, spread over the campaign: SIGKILL twice and SIGTERM once, as in production.
    server_faults: tuple[str, ...] = ("SIGKILL", "SIGTERM", "SIGKILL")
    api_kills: int = 3
    # A worker stops answering for longer than the server's sticky timeout (10 s) and then goes on, as a
    # process does behind a VM pause or a starved CPU: its trials' tasks and queries move to the shared
    # queue, and the same worker may then get them back with the whole history.
    worker_stalls: int = 2
    worker_stall_seconds: tuple[float, float] = (11.0, 15.0)
    # The webhook subscriber goes away this many times, for 2 to 6 s each.
    subscriber_outages: int = 3
    seed: int = 1
    # "simulated", or "stripe": the Stripe adapter on localstripe, behind a proxy that delays and drops calls
    payments: str = "simulated"


@dataclass
class Outcome:
    verdicts: list[Verdict]
    faults: Counter[str]
    http: Figures
    queries: int
    unexpected_exits: int
    seconds: float
    histories: Path
    webhooks: "WebhookFigures"

    @property
    def lost(self) -> int:
        return sum(1 for v in self.verdicts if v.lost)

    @property
    def duplicated(self) -> int:
        return sum(1 for v in self.verdicts if v.duplicated)

    @property
    def stuck(self) -> int:
        return sum(1 for v in self.verdicts if v.stuck)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.stuck or self.http.server_errors or self.webhooks.refused)

    def summary(self) -> str:
        return (
            f"soak: {len(self.verdicts)} trials, {sum(self.faults.values())} faults, {self.lost} lost, "
            f"{self.duplicated} duplicated, {self.stuck} stuck, {self.http.server_errors} 5xx"
        )

    def table(self) -> str:
        statuses = Counter(v.status for v in self.verdicts)
        rows = [
            ("trials", len(self.verdicts)),
            *((f"  ended {s}", n) for s, n in sorted(statuses.items())),
            *((f"fault: {k}", n) for k, n in sorted(self.faults.items())),
            ("pieces exchanged", sum(v.exchanged for v in self.verdicts)),
            *((f"staff: {k}", n) for k, n in sorted(sum((v.answered for v in self.verdicts), Counter()).items())),
            ("workflow tasks retried (not a defect)", sum(v.task_retries for v in self.verdicts)),
            ("processes that exited by themselves", self.unexpected_exits),
            ("HTTP requests", self.http.requests),
            ("  503 with Retry-After (retried)", self.http.unavailable),
            ("  connection errors (retried)", self.http.transport_errors),
            ("  refused by the domain (4xx)", self.http.refused),
            ("  other 5xx (defects)", self.http.server_errors),
            ("Temporal queries (as the UI makes them)", self.queries),
            ("webhook events received (each once)", self.webhooks.events),
            ("  arrivals again, same webhook-id (at least once)", self.webhooks.again),
            ("  signatures refused by the subscriber", self.webhooks.refused),
            ("lost", self.lost),
            ("duplicated", self.duplicated),
            ("stuck", self.stuck),
            ("minutes", round(self.seconds / 60, 1)),
        ]
        width = max(len(k) for k, _ in rows)
        lines = [f"{k:<{width}}  {n}" for k, n in rows]
        for v in self.verdicts:
            for d in v.defects:
                lines.append(f"DEFECT {v.order_id}: {d}")
        lines += [f"5xx sample: {s}" for s in self.http.server_error_samples]
        return "\n".join(lines)


async def run(c: Campaign, root: Path) -> Outcome:
    rng = random.Random(c.seed)
    histories = root / "failed-histories"
    histories.mkdir(parents=True, exist_ok=True)
    figures, faults = Figures(), Counter[str]()
    began = time.monotonic()
    with contextlib.ExitStack() as resources:
        proxy: GatewayFaults | None = None
        if c.payments == "stripe":
            # The Stripe adapter talks to localstripe through a proxy that delays and drops payment calls.
            folder = root / "localstripe"
            folder.mkdir(exist_ok=True)
            proxy = GatewayFaults(
                resources.enter_context(localstripe(folder)), random.Random(c.seed + 1),
                journal=root / "gateway-proxy.log",
            )  # fmt: skip
            await proxy.start()
        secret = new_secret()
        subscriber = Receiver(secret)
        await subscriber.start()
        stack = Stack(
            root, time_scale=86_400 / c.day_seconds, workers=c.workers, payments=c.payments,
            stripe_api_base=proxy.url if proxy else None, webhook_url=subscriber.url, webhook_secret=secret,
        )  # fmt: skip
        stack.start()
        try:
            dashboard = proxy.upstream if proxy else None  # read Stripe's side directly, not through the faults
            outcome = await _campaign(c, rng, stack, histories, figures, faults, began, dashboard, subscriber)
        finally:
            stack.stop()  # never leave a process behind, whatever happened
            await subscriber.stop()
            if proxy:
                await proxy.stop()
        if proxy:
            outcome.faults.update(proxy.faults)
        return outcome


async def _campaign(
    c: Campaign, rng: random.Random, stack: Stack, histories: Path, figures: Figures, faults: Counter[str],
    began: float, stripe_dashboard: str | None, subscriber: Receiver,
) -> Outcome:  # fmt: skip
    settings = Settings(data_dir=stack.root, temporal_address=stack.address)
    client = await connect(settings, patience=60)
    api = Api(stack.api_url, figures)
    accepted: list[str] = []
    active: set[str] = set()
    last_kill = [0.0]  # when a worker was last killed (monotonic)
    finished = asyncio.Event()
    queries = 0

    async def one(plan_seed: int, gate: asyncio.Semaphore) -> None:
        async with gate:
            trial_rng = random.Random(plan_seed)
            plan = random_plan(trial_rng, f"soak{c.seed}{c.payments[0]}", c.payments)
            accepted.append(plan.order_id)
            active.add(plan.order_id)
            try:
                await play(api, plan, c.day_seconds, trial_rng)
            finally:
                active.discard(plan.order_id)

    async def kill_workers() -> None:
        while not finished.is_set():
            await asyncio.sleep(rng.uniform(*c.worker_kill_every))
            i = rng.randrange(c.workers)
            stack.kill_worker(i)
            faults["worker SIGKILL"] += 1
            last_kill[0] = time.monotonic()
            await asyncio.sleep(rng.uniform(0.5, 3.0))
            stack.start_worker(i)

    async def stall_workers() -> None:
        for _ in range(c.worker_stalls):
            await asyncio.sleep(rng.uniform(10.0, 40.0))
            if finished.is_set():
                return
            i = rng.randrange(c.workers)
            if stack.stall_worker(i):
                faults["worker stalled (SIGSTOP, then SIGCONT)"] += 1
                try:
                    await asyncio.sleep(rng.uniform(*c.worker_stall_seconds))
                finally:
                    stack.resume_worker(i)

    async def other_faults() -> None:
        # Spread the server and API faults over the time the trials take to start.
        moments = sorted(
            [(rng.uniform(0.15, 0.85), "server", f) for f in c.server_faults]
            + [(rng.uniform(0.1, 0.9), "api", "SIGKILL") for _ in range(c.api_kills)]
        )
        for share, what, how in moments:
            while len(accepted) < share * c.trials and not finished.is_set():
                await asyncio.sleep(0.5)
            if finished.is_set():
                return
            if what == "server":
                stack.stop_server(signal.Signals[how])
                faults[f"Temporal server {how}"] += 1
                await asyncio.sleep(rng.uniform(1, 3))
                await asyncio.to_thread(stack.start_server)
            else:
                stack.kill_api()
                faults["API SIGKILL"] += 1
                await asyncio.sleep(rng.uniform(0.5, 2))
                await asyncio.to_thread(stack.start_api)

    async def subscriber_away() -> None:
        # The subscriber goes away for a while, a few times: what it misses must come later, in order.
        for _ in range(c.subscriber_outages):
            await asyncio.sleep(rng.uniform(5, 20))
            if finished.is_set():
                return
            await subscriber.stop()
            faults["webhook subscriber away"] += 1
            await asyncio.sleep(rng.uniform(2, 6))
            await subscriber.start()

    async def read_api() -> None:
        while not finished.is_set():
            await asyncio.sleep(0.2)
            if accepted:
                await api.view(rng.choice(accepted))
            if rng.random() < 0.2:
                await api.call("GET", "/v1/trials?limit=20", AS["read"])

    async def staff_in_the_ui() -> None:
        # What the Temporal UI does while staff keep a trial open: it queries it, and the query is answered
        # by whichever worker polls. That is the read that let a worker replay a trial it did not hold,
        # so every trial in play is queried about once a second.
        nonlocal queries

        async def query(order_id: str) -> None:
            nonlocal queries
            with contextlib.suppress(Exception):
                handle = client.get_workflow_handle(f"style-trial-{order_id}")
                await asyncio.wait_for(handle.query("__temporal_workflow_metadata"), 10)
                queries += 1

        while not finished.is_set():
            # Staff refresh more while a worker has just died: its trials' next tasks wait on its queue for
            # about 10 s, the window in which a query reached another worker.
            pause = 0.25 if time.monotonic() - last_kill[0] < 12 else 1.0
            await asyncio.gather(*(query(o) for o in list(active)), asyncio.sleep(pause))

    async def supervisor() -> None:
        while not finished.is_set():
            await asyncio.sleep(1)
            stack.revive()

    loops = (kill_workers, stall_workers, other_faults, subscriber_away, read_api, staff_in_the_ui, supervisor)
    background = [asyncio.create_task(t()) for t in loops]
    gate = asyncio.Semaphore(c.in_flight)
    try:
        await asyncio.gather(*(one(rng.getrandbits(64), gate) for _ in range(c.trials)))
        # Let every trial come to rest (lost returns take 14 days, dunning 7) while faults go on.
        for order_id in list(accepted):
            await wait_status(api, order_id, AT_REST | WAITING, 30 * c.day_seconds)
    finally:
        finished.set()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
    # The campaign's faults are over: every process up, every trial checked against every book.
    stack.revive()
    for i, proc in enumerate(stack.worker_procs):
        if proc is None:
            stack.start_worker(i)
    for order_id in accepted:
        await wait_status(api, order_id, AT_REST | WAITING, 30 * c.day_seconds)
    books = Books(stack.database_url)
    gateway: Gateway = (
        await asyncio.to_thread(StripeDashboard, stripe_dashboard, LOCALSTRIPE_KEY)
        if stripe_dashboard else SimulatedGatewayBook(books)
    )  # fmt: skip
    if not subscriber.started:
        await subscriber.start()
    verdicts = [await check_trial(client, books, gateway, order_id, histories) for order_id in accepted]
    webhooks = await check_webhooks(books, subscriber, verdicts)
    await api.close()
    return Outcome(
        verdicts, faults, figures, queries, stack.unexpected_exits, time.monotonic() - began, histories, webhooks
    )


@dataclass
class WebhookFigures:
    events: int = 0
    again: int = 0
    refused: int = 0


async def check_webhooks(books: Books, subscriber: Receiver, verdicts: list[Verdict]) -> WebhookFigures:
    """Every trial's audit trail reached the subscriber, each event once (by webhook-id) and in order."""
    for _ in range(240):  # until nothing is left to deliver (retries every 2 s at most), or two minutes
        if not books.rows("SELECT 1 FROM webhook_deliveries WHERE status != 'delivered' LIMIT 1"):
            break
        await asyncio.sleep(0.5)
    received: dict[str, list[int]] = {}
    for event in subscriber.events:
        received.setdefault(event["data"]["trial_id"], []).append(event["data"]["seq"])
    for v in verdicts:
        view = books.read_model_view(v.order_id)
        if view is None:
            continue
        trail = [e["seq"] for e in view["events"]]
        got = received.get(view["trial_id"], [])
        if got != trail:
            missing = sorted(set(trail) - set(got))
            v.lost.append(f"webhook events {got} at the subscriber, the trail is {trail} (missing {missing})")
    again = len(subscriber.arrivals) - len(set(subscriber.arrivals))
    return WebhookFigures(len(subscriber.events), again, subscriber.refused)
