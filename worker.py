"""The composition root: settings -> adapters -> activities -> worker. Tests call `build_worker` with
the same wiring and their own adapters instead of patching anything."""

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass, field

from fastapi import FastAPI
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.worker import Worker

from activities.fulfilment import FulfilmentActivities, InMemoryStock
from activities.notifications import NotificationActivities, RecordingNotifier
from activities.payments import PaymentActivities
from activities.ports import Notifier, PaymentGateway, StockPort
from activities.read_model import ReadModelActivities
from activities.simulated_gateway import SimulatedGateway
from activities.stripe_gateway import StripeGateway
from api.app import create_app
from client.trials import TrialClient
from config import Settings
from domain.trial import order_id_of
from persistence.db import make_engine
from persistence.simulated_book import SqlGatewayBook
from persistence.store import SqlStore
from workflows.style_trial import WORKFLOW_NAME, StyleTrialWorkflow

log = logging.getLogger("styletrial.worker")


@dataclass
class Adapters:
    store: SqlStore  # the read model and the ledger
    gateway: PaymentGateway = field(default_factory=SimulatedGateway)
    stock: StockPort = field(default_factory=InMemoryStock)
    notifier: Notifier = field(default_factory=RecordingNotifier)


def default_adapters(settings: Settings) -> Adapters:
    """From settings: the configured database (SQLite by default), the configured payment gateway
    (simulated by default, its state in that database), in-memory stock and a recording notifier."""
    engine = make_engine(settings.resolved_database_url)
    return Adapters(store=SqlStore(engine), gateway=payment_gateway(settings, engine))


def payment_gateway(settings: Settings, engine: Engine) -> PaymentGateway:
    if settings.payments == "stripe":
        if settings.stripe_api_key is None or not settings.stripe_api_key.get_secret_value():
            raise ValueError("STYLETRIAL_PAYMENTS=stripe needs STYLETRIAL_STRIPE_API_KEY (a restricted key is enough).")
        return StripeGateway(settings.stripe_api_key.get_secret_value(), settings.stripe_api_base)
    return SimulatedGateway(SqlGatewayBook(engine))


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic models as JSON, then encrypted: client data never reaches Temporal's history in clear."""
    return dataclasses.replace(pydantic_data_converter, payload_codec=settings.codec())


async def connect(settings: Settings, *, patience: float | None = None) -> Client:
    """Connect to Temporal, waiting for it to come up: a worker or API started before the server (a compose
    stack, a restart) waits and retries instead of exiting. `patience` seconds at most; None waits forever."""
    deadline = None if patience is None else time.monotonic() + patience
    delay = 0.5
    while True:
        try:
            return await Client.connect(
                settings.temporal_address, namespace=settings.temporal_namespace,
                data_converter=data_converter(settings),
            )  # fmt: skip
        except RuntimeError as err:  # the SDK's "Failed client connect"
            if deadline is not None and time.monotonic() + delay > deadline:
                raise
            log.warning("Temporal at %s is not reachable yet (%s); retrying in %.1f s",
                        settings.temporal_address, str(err).split(":")[0], delay)  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def build_worker(client: Client, task_queue: str, adapters: Adapters) -> Worker:
    caps = adapters.gateway.capabilities
    log.info(
        "payments: %s; multiple captures %s; holds %d days client-present, %d merchant-initiated",
        type(adapters.gateway).__name__, caps.multiple_captures, caps.customer_initiated_validity_days,
        caps.merchant_initiated_validity_days,
    )  # fmt: skip
    payments = PaymentActivities(adapters.gateway, adapters.store)
    read_model = ReadModelActivities(adapters.store)
    fulfilment = FulfilmentActivities(adapters.stock)
    notifications = NotificationActivities(adapters.notifier)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[StyleTrialWorkflow],
        activities=[
            payments.authorize,
            payments.capture,
            payments.charge,
            payments.release,
            fulfilment.stock,
            notifications.send,
            read_model.project,
        ],
    )


def build_api(settings: Settings, client: Client, store: SqlStore) -> FastAPI:
    return create_app(
        temporal=client,
        trials=TrialClient(client, settings.task_queue),
        store=store,
        tokens=settings.api_tokens,
        policy=settings.resolved_policy,
        codec=settings.codec(),
        codec_ui_key=settings.codec_ui_key,
        ui_origins=settings.ui_origins,
        codec_oidc=settings.codec_oidc(),
    )


async def watch_failing_tasks(client: Client, store: SqlStore, every: float = 30.0) -> None:
    """Keep the read model's needs-attention flag in step with trials whose workflow task keeps failing.

    Such a trial cannot speak for itself (its code is what fails), and its money may be in flight, so it
    must never be silent. Temporal marks it (TemporalReportedProblems, after two failures in a row); this
    copies the mark into the read model, where GET, the needs-attention list and `styletrial trial list
    --attention` show it. Every worker runs it; the writes are idempotent.
    """
    while True:
        try:
            await flag_failing_tasks(client, store)
        except Exception as err:  # Temporal or the database is away: try again next round
            log.warning("could not check for failing workflow tasks: %s", type(err).__name__)
        await asyncio.sleep(every)


async def flag_failing_tasks(client: Client, store: SqlStore) -> dict[str, str]:
    failing: dict[str, str] = {}
    query = f"WorkflowType = '{WORKFLOW_NAME}' AND ExecutionStatus = 'Running' AND TemporalReportedProblems IS NOT NULL"
    async for wf in client.list_workflows(query):
        problems = wf.search_attributes.get("TemporalReportedProblems") or []
        cause = next((str(p).removeprefix("cause=") for p in problems if str(p).startswith("cause=")), "unknown")
        failing[wf.id] = f"Its workflow task keeps failing ({cause}); see docs/durability.md to recover it."
    for trial_id in failing:
        if await asyncio.to_thread(store.view, order_id_of(trial_id)) is None:
            # It failed before it ever reported: enter it as it opened (revision 0, so the workflow's own
            # first projection replaces it), so that the flag has a row to stand on.
            opening = await TrialClient(client, "").opening_view(order_id_of(trial_id))
            await asyncio.to_thread(store.project, 0, opening)
    await asyncio.to_thread(store.mark_failing_tasks, failing)
    return failing


async def run_worker(settings: Settings) -> None:
    client = await connect(settings)
    worker = build_worker(client, settings.task_queue, default_adapters(settings))
    log.info("worker polling task queue %r on %s", settings.task_queue, settings.temporal_address)
    await worker.run()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run_worker(Settings()))
