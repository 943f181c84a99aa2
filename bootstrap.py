"""The composition root: settings -> adapters -> activities, worker, API. The one place that knows which
adapter stands behind each port and which process runs what; everything else receives what it needs.
Tests call the same functions with their own adapters instead of patching anything."""

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.client_messages import ClientMessages, SmtpEmail, WhatsAppCloud
from activities.digest import DigestActivities
from activities.fulfilment import FulfilmentActivities, InMemoryStock
from activities.notifications import LoggedNotifier, NotificationActivities, RecordingNotifier
from activities.payments import PaymentActivities
from activities.ports import Notifier, PaymentGateway, StockPort
from activities.read_model import ReadModelActivities
from activities.returns import DEFAULT_WAREHOUSE, InMemoryLabelBook, LocalReturns, ReturnsActivities, ReturnsProvider
from activities.simulated_gateway import SimulatedGateway
from activities.stripe_gateway import StripeGateway
from activities.warehouse_stock import WarehouseStock
from api.app import create_app
from api.whatsapp import whatsapp_router
from application.connection import client_links as client_links

# Re-exported: the composition root is where callers look for them.
from application.connection import codec as codec
from application.connection import connect as connect
from application.connection import data_converter as data_converter
from application.connection import fingerprints as fingerprints
from application.door import Application
from application.erasure import sweep_erasures
from application.failing_tasks import watch_failing_tasks
from application.replies import Replies
from application.schedules import ensure_digest_schedule
from application.tracking import CarrierTracking
from application.trials import TrialService
from application.webhooks import Subscriber, WebhookDispatcher
from config import Settings
from observability.metrics import REGISTRY, serve_metrics
from observability.tracing import instrument_api, otlp_provider, temporal_interceptor
from persistence.db import make_engine
from persistence.digest import SqlDigestBook, SqlDigestSource
from persistence.metrics import ReadModelCollector
from persistence.return_labels import SqlBookingProgress, SqlLabelBook
from persistence.simulated_book import SqlGatewayBook
from persistence.stock import SqlStock
from persistence.store import SqlStore
from persistence.webhooks import WebhookQueue
from security.oidc import OidcConfig, OidcVerifier, StaffTokens
from workflows.buying_digest import BuyingDigestWorkflow
from workflows.style_trial import StyleTrialWorkflow

log = logging.getLogger("styletrial")
# How long each part of the stack gets to finish what it is doing when asked to stop.
STOP_GRACE_SECONDS = 3
# What one cached open trial costs a worker in memory (RSS growth per trial, bench/bench_memory.py); with
# the default budget of 256 MiB a worker keeps the most recent ~740 trials cached. Measured on 7 Dec 2026:
# 345 MiB per 1,000 open 30-piece trials (251 MiB on 23 Nov, before the trial grew its journeys, exchanges
# and erasure; the 257 KiB kept since let a worker's cache hold ~1,000 trials, ~100 MiB over its budget).
CACHED_TRIAL_KIB = 353


@dataclass
class Adapters:
    store: SqlStore  # the read model and the ledger
    gateway: PaymentGateway = field(default_factory=SimulatedGateway)
    stock: StockPort = field(default_factory=InMemoryStock)
    notifier: Notifier = field(default_factory=RecordingNotifier)
    returns: ReturnsProvider = field(default_factory=lambda: LocalReturns(InMemoryLabelBook(), "http://127.0.0.1:8000"))
    # The weekly buying digest's sending; None: from the store, sent to no one (no recipients, no mail server).
    digest: DigestActivities | None = None


def default_adapters(settings: Settings) -> Adapters:
    """From settings: the configured database (SQLite by default), the configured payment gateway
    (simulated by default, its state in that database), stock (in that database by default) and a
    recording notifier."""
    engine = make_engine(settings.resolved_database_url)
    projections = make_engine(settings.resolved_database_url, durable=False)
    store = SqlStore(engine, projections, subscribers=[s.name for s in settings.webhooks])
    return Adapters(
        store=store, gateway=payment_gateway(settings, engine), stock=stock(settings, engine),
        notifier=client_messages(settings, store), returns=returns_provider(settings, engine),
        digest=DigestActivities(SqlDigestSource(engine), SqlDigestBook(engine), smtp(settings),
                                settings.digest_recipients),
    )  # fmt: skip


def returns_provider(settings: Settings, engine: Engine) -> ReturnsProvider:
    """Where returns are booked: the embedded provider (labels and collections in the database) or EasyPost."""
    warehouse = settings.returns_address or DEFAULT_WAREHOUSE
    if settings.returns == "easypost":
        if settings.easypost_api_key is None or not settings.easypost_api_key.get_secret_value():
            raise ValueError("STYLETRIAL_RETURNS=easypost needs STYLETRIAL_EASYPOST_API_KEY.")
        from activities.easypost_returns import EasyPostReturns  # the SDK only where it is configured

        key = settings.easypost_api_key.get_secret_value()
        return EasyPostReturns(key, warehouse, settings.easypost_api_base, SqlBookingProgress(engine))
    return LocalReturns(SqlLabelBook(engine), settings.public_url, warehouse)


def whatsapp(settings: Settings) -> WhatsAppCloud | None:
    if not (settings.whatsapp_phone_number_id and settings.whatsapp_token):
        return None
    return WhatsAppCloud(
        settings.whatsapp_api_base, settings.whatsapp_phone_number_id, settings.whatsapp_token.get_secret_value()
    )


def smtp(settings: Settings) -> SmtpEmail | None:
    """Email over SMTP, when a server and a sender are configured."""
    if not (settings.smtp_host and settings.smtp_from):
        return None
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SmtpEmail(
        settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.smtp_username, password,
        settings.smtp_starttls,
    )  # fmt: skip


def client_messages(settings: Settings, store: SqlStore | None = None) -> Notifier:
    """Every notification recorded; those to the client sent on WhatsApp or by email, where configured."""
    return ClientMessages(
        LoggedNotifier(), whatsapp(settings), smtp(settings), messages=store, team=settings.team_emails,
        fingerprint=fingerprints(settings).of, links=client_links(settings).url, tracking_pages=settings.tracking_pages,
    )  # fmt: skip


def stock(settings: Settings, engine: Engine) -> StockPort:
    if settings.stock == "http":
        if not settings.stock_url:
            raise ValueError("STYLETRIAL_STOCK=http needs STYLETRIAL_STOCK_URL (the warehouse's API).")
        token = settings.stock_token.get_secret_value() if settings.stock_token else None
        return WarehouseStock(settings.stock_url, token)
    return SqlStock(engine)


def webhook_dispatcher(settings: Settings, store: SqlStore, http: httpx.AsyncClient) -> WebhookDispatcher:
    """The loop that sends trial events to the subscribers in settings (none: it has nothing to send)."""
    subscribers = [
        Subscriber(s.name, s.url, [secret.get_secret_value() for secret in s.secrets]) for s in settings.webhooks
    ]
    return WebhookDispatcher(WebhookQueue(store.engine), subscribers, settings.webhook_backoff, http)


def payment_gateway(settings: Settings, engine: Engine) -> PaymentGateway:
    if settings.payments == "stripe":
        if settings.stripe_api_key is None or not settings.stripe_api_key.get_secret_value():
            raise ValueError("STYLETRIAL_PAYMENTS=stripe needs STYLETRIAL_STRIPE_API_KEY (a restricted key is enough).")
        return StripeGateway(settings.stripe_api_key.get_secret_value(), settings.stripe_api_base)
    return SimulatedGateway(SqlGatewayBook(engine))


def staff_tokens(settings: Settings) -> StaffTokens | None:
    """People's OpenID Connect tokens on the API, when the provider is configured (api/auth.py)."""
    if not settings.api_oidc_jwks_url:
        return None
    if not (settings.api_oidc_issuer and settings.api_oidc_audience):
        raise ValueError("STYLETRIAL_API_OIDC_JWKS_URL needs STYLETRIAL_API_OIDC_ISSUER and _AUDIENCE too.")
    verifier = OidcVerifier(OidcConfig(
        settings.api_oidc_jwks_url, settings.api_oidc_issuer, settings.api_oidc_audience, settings.api_oidc_role_claim,
    ))  # fmt: skip
    return StaffTokens(verifier, settings.api_oidc_roles, settings.api_oidc_actor_claim)


def codec_oidc(settings: Settings) -> OidcVerifier | None:
    """Who may read decoded payloads in the Temporal UI, when an identity provider vouches for them."""
    if not settings.codec_oidc_jwks_url:
        return None
    if not (settings.codec_oidc_issuer and settings.codec_oidc_audience):
        raise ValueError("STYLETRIAL_CODEC_OIDC_JWKS_URL needs STYLETRIAL_CODEC_OIDC_ISSUER and _AUDIENCE too.")
    return OidcVerifier(OidcConfig(
        settings.codec_oidc_jwks_url, settings.codec_oidc_issuer, settings.codec_oidc_audience,
        settings.codec_oidc_role_claim, settings.codec_oidc_support_role,
    ))  # fmt: skip


def build_worker(
    client: Client, task_queue: str, adapters: Adapters, *, max_cached_workflows: int = 1000, sandboxed: bool = False
) -> Worker:
    caps = adapters.gateway.capabilities
    log.info(
        "payments: %s; multiple captures %s; holds %d days client-present, %d merchant-initiated",
        type(adapters.gateway).__name__, caps.multiple_captures, caps.customer_initiated_validity_days,
        caps.merchant_initiated_validity_days,
    )  # fmt: skip
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[StyleTrialWorkflow, BuyingDigestWorkflow],
        max_cached_workflows=max_cached_workflows,
        # Unsandboxed: the sandbox re-imports the workflow module for every trial it caches (130 KiB of
        # memory and 16% of the worker's CPU per trial, docs/performance.md) and only ever checked
        # workflows/*.py, since the domain is passed through it. tests/unit/test_workflow_determinism.py
        # checks that code statically instead; the replay tests still run recorded trials in the sandbox.
        # (`sandboxed=True` is there to measure that: bench/bench_engine_vs_bare.py.)
        workflow_runner=SandboxedWorkflowRunner() if sandboxed else UnsandboxedWorkflowRunner(),
        activities=activities_of(adapters),
    )


def activities_of(adapters: Adapters) -> list[Callable[..., Any]]:
    """Every activity of the engine, bound to `adapters`."""
    payments = PaymentActivities(adapters.gateway, adapters.store)
    read_model = ReadModelActivities(adapters.store)
    fulfilment = FulfilmentActivities(adapters.stock)
    notifications = NotificationActivities(adapters.notifier)
    returns = ReturnsActivities(adapters.returns)
    engine = adapters.store.engine
    digest = adapters.digest or DigestActivities(SqlDigestSource(engine), SqlDigestBook(engine), None, [])
    return [
        payments.authorize,
        payments.capture,
        payments.charge,
        payments.release,
        payments.refund,
        fulfilment.stock,
        notifications.send,
        returns.book,
        read_model.project,
        read_model.project_changes,
        digest.send_buying_digest,
    ]


def cache_size(settings: Settings) -> int:
    """How many trials a worker keeps cached within its memory budget (STYLETRIAL_WORKER_CACHE_MIB)."""
    return max(1, settings.worker_cache_mib * 1024 // CACHED_TRIAL_KIB)


def sdk_runtime(settings: Settings) -> Runtime | None:
    """The Temporal SDK's runtime with its Prometheus metrics on STYLETRIAL_SDK_METRICS_PORT (workflow task
    and activity latencies, schedule-to-start, sticky cache hits, pollers), or None for the default runtime.
    One per process: the SDK binds the port when the runtime is made."""
    if settings.sdk_metrics_port is None:
        return None
    address = f"{settings.metrics_host}:{settings.sdk_metrics_port}"
    # Named and measured like the engine's own metrics: seconds, `_seconds` and `_total` suffixes.
    metrics = PrometheusConfig(
        bind_address=address, counters_total_suffix=True, unit_suffix=True, durations_as_seconds=True
    )
    return Runtime(telemetry=TelemetryConfig(metrics=metrics))


def tracing(settings: Settings, role: str) -> TracerProvider | None:
    """Traces exported to the OTLP collector in settings, or None (no tracing, no interceptor)."""
    return otlp_provider(settings.otlp_endpoint, role) if settings.otlp_endpoint else None


def engine_metrics(settings: Settings, store: SqlStore) -> Callable[[], None]:
    """The engine's metrics on STYLETRIAL_METRICS_PORT: this process's (API latency, projection lag) and the
    read model's (trials, money, outbox), the latter the same from every process (persistence/metrics.py).
    Returns what stops serving them."""
    if settings.metrics_port is None:
        return lambda: None
    collector = ReadModelCollector(store.engine)
    REGISTRY.register(collector)
    server = serve_metrics(settings.metrics_host, settings.metrics_port)
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        REGISTRY.unregister(collector)

    return stop


def build_api(
    settings: Settings, client: Client, store: SqlStore, cloud: WhatsAppCloud | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:  # fmt: skip
    trials = TrialService(client, settings.task_queue, store)
    app = create_app(
        Application(
            temporal=client,
            trials=trials,
            store=store,
            policies=settings.policy_table,
            links=client_links(settings),
            start_gate=asyncio.Semaphore(settings.api_starts_in_flight),
        ),
        tokens=settings.api_tokens,
        codec=codec(settings),
        codec_ui_key=settings.codec_ui_key,
        ui_origins=settings.ui_origins,
        codec_oidc=codec_oidc(settings),
        whatsapp=whatsapp_replies(settings, trials, store, cloud),
        staff=staff_tokens(settings),
        carriers=carrier_tracking(settings, trials, store),
    )
    if tracer_provider is not None:
        instrument_api(app, tracer_provider)
    return app


def whatsapp_replies(
    settings: Settings, trials: TrialService, store: SqlStore, cloud: WhatsAppCloud | None = None
) -> APIRouter | None:
    """The inbound WhatsApp webhook, when the app secret, the verify token and a sending number are set."""
    cloud = cloud or whatsapp(settings)
    if cloud is None or settings.whatsapp_app_secret is None or settings.whatsapp_verify_token is None:
        return None
    return whatsapp_router(
        Replies(trials, store, cloud, fingerprints(settings)), settings.whatsapp_app_secret.get_secret_value(),
        settings.whatsapp_verify_token.get_secret_value(),
    )  # fmt: skip


def carrier_tracking(settings: Settings, trials: TrialService, store: SqlStore) -> APIRouter | None:
    """The inbound tracking webhook (EasyPost's), when its signing secret is set."""
    if settings.easypost_webhook_secret is None:
        return None
    from api.carriers import easypost_router  # the SDK only where it is configured

    return easypost_router(CarrierTracking(trials, store), settings.easypost_webhook_secret.get_secret_value())


async def serve(settings: Settings, *, api: bool, worker: bool) -> None:
    """Run the worker and/or the API in this process until SIGINT or SIGTERM, then stop both cleanly."""
    import uvicorn

    provider = tracing(settings, "worker" if not api else "api" if not worker else "dev")
    interceptors = [temporal_interceptor(provider)] if provider else []
    client = await connect(settings, runtime=sdk_runtime(settings) if worker else None, interceptors=interceptors)
    # Only a worker builds the adapters: the payment gateway (and its Stripe key) stay out of the API.
    adapters = default_adapters(settings) if worker else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks: list[asyncio.Task[Any]] = []
    temporal_worker = (
        build_worker(client, settings.task_queue, adapters, max_cached_workflows=cache_size(settings))
        if adapters
        else None
    )
    if temporal_worker and adapters:
        if settings.digest_recipients:
            await ensure_digest_schedule(client, settings.task_queue, settings.buying_digest_time_zone)
        tasks.append(asyncio.create_task(temporal_worker.run()))
    # Loops beside the worker that never end by themselves: cancelled at the stop.
    loops: list[asyncio.Task[Any]] = []
    webhook_http = httpx.AsyncClient()
    if temporal_worker and adapters:
        loops.append(asyncio.create_task(watch_failing_tasks(client, adapters.store)))
        loops.append(asyncio.create_task(sweep_erasures(client, adapters.store)))
        if settings.webhooks:
            loops.append(asyncio.create_task(webhook_dispatcher(settings, adapters.store, webhook_http).run()))
    server = None
    store = adapters.store if adapters else SqlStore(make_engine(settings.resolved_database_url))
    stop_metrics = engine_metrics(settings, store)
    if api:
        config = uvicorn.Config(
            build_api(settings, client, store, tracer_provider=provider), host=settings.api_host, port=settings.api_port, log_level="warning",
            timeout_graceful_shutdown=STOP_GRACE_SECONDS,
        )  # fmt: skip
        server = _QuietSignalsServer(config)
        tasks.append(asyncio.create_task(server.serve()))
    _settle_garbage_collector(young_collections_rare=temporal_worker is None)
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    # Stop within seconds even under load: in-flight HTTP requests get STOP_GRACE_SECONDS to finish, the
    # worker as long to hand back its tasks (Temporal gives them to another worker, or to this one when it
    # starts again); whatever is left is cancelled.
    if server:
        server.should_exit = True
    for loop_task in loops:
        loop_task.cancel()
    await asyncio.gather(*loops, return_exceptions=True)
    await webhook_http.aclose()
    if temporal_worker:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(temporal_worker.shutdown(), STOP_GRACE_SECONDS)
    _, late = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
    for task in late:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    waiter.cancel()
    stop_metrics()
    if provider is not None:
        provider.shutdown()  # sends the spans still batched
    for task in done:
        if task is not waiter and task.exception():
            raise task.exception()  # type: ignore[misc]


# Allocations between young-generation collections of the garbage collector (CPython's default is 700).
GC_YOUNG_THRESHOLD = 50_000


def _settle_garbage_collector(*, young_collections_rare: bool) -> None:
    """Once everything is imported and built: move what lives for the whole process (modules, the app, the
    workflow code) out of the collector's sight and, in a process that only serves the API, collect the
    young generation less often. Each full collection otherwise walked every one of those objects, in the
    middle of a request: under 50 concurrent clients the GET p99 was 130-145 ms with the defaults and 46-57
    ms with this (docs/performance.md).

    Not in a process that runs a worker: a trial the worker's cache evicts becomes garbage in cycles (its
    workflow's event loop, tasks and futures) that only a full collection frees, and with young collections
    50,000 allocations apart the full ones came so seldom that a worker's memory kept growing once its cache
    was full: 517 MiB with 1,000 open trials, 672 MiB with 2,000, against 513 and 532 MiB with CPython's
    default (bench/bench_memory.py, docs/performance.md)."""
    gc.collect()
    gc.freeze()
    if young_collections_rare:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


class _QuietSignalsServer:
    """uvicorn's server without its own signal handling: `serve` owns SIGINT/SIGTERM for the whole stack."""

    def __init__(self, config: Any) -> None:
        import uvicorn

        self._server = uvicorn.Server(config)
        self._server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]

    @property
    def should_exit(self) -> bool:
        return bool(self._server.should_exit)

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._server.should_exit = value

    async def serve(self) -> None:
        await self._server.serve()
