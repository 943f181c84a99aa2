"""The application's one door: what the API (and any other edge) may ask of the engine.

Commands, reads (a trial, lists, reports, webhook deliveries, health), starts. The API is only HTTP on top
of it (routes, auth, the error shape, OpenAPI): it imports this layer, the domain's types, security and
observability, never the database, Temporal or the workflow (tests/unit/test_import_direction.py).
"""

import asyncio
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from temporalio.client import Client, RPCTimeoutOrCancelledError
from temporalio.service import RPCError

from activities.messages import slot_text, zone_named
from application import customers, reports
from application.choices import choice_command
from application.erasure import ErasedTrial, Erasure
from application.trials import CommandNotProcessed, TrialService
from domain import commands as cmd
from domain.errors import DomainError
from domain.order import TrialOrder
from domain.policy import PolicyTable
from domain.status import TrialStatus
from domain.trial import Trial, trial_id_for
from domain.view import TrialView, view_of
from domain.workflow_io import StartTrial
from persistence import customers as customer_queries
from persistence.db import make_engine
from persistence.return_labels import SqlLabelBook
from persistence.store import Cursor, Page, SqlStore
from persistence.webhooks import WebhookQueue
from security.links import Links

# What "briefly unavailable" is made of: Temporal or the database away, a command that reached no worker.
# The API answers them 503 with Retry-After; the caller retries with the same Idempotency-Key.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    RPCError, RPCTimeoutOrCancelledError, TimeoutError, OperationalError, CommandNotProcessed,
)  # fmt: skip

__all__ = [
    "UNAVAILABLE",
    "Application",
    "ChoiceOutcome",
    "Cursor",
    "Page",
    "attention_queue_at",
    "customer_story_from",
    "list_trials_at",
    "shopper_trials_from",
]

log = logging.getLogger(__name__)


@contextmanager
def read_model_at(database_url: str) -> Iterator[SqlStore]:
    """The read model at `database_url`, for a tool with no API in front (the CLI), closed after use."""
    store = SqlStore(make_engine(database_url))
    try:
        yield store
    finally:
        store.engine.dispose()


def list_trials_at(database_url: str, *, limit: int, **filters: Any) -> Page:
    """Trials, newest first (the CLI's `trial list`); the filters of `Application.list_trials`."""
    with read_model_at(database_url) as store:
        return store.list_trials(limit=limit, **filters)


def customer_story_from(engine: Engine, customer_id: str) -> customers.CustomerStory | None:
    """A client's story from the read model behind `engine` (blocking); None when they have no trial."""
    page = customer_queries.customer_trials(engine, customer_id, customers.STORY_TRIALS)
    if not page.trials:
        return None
    return customers.story_of(customer_id, page.trials, page.pieces, page.truncated)


def shopper_trials_from(engine: Engine, shopper_id: str, now: datetime) -> customers.ShopperTrials:
    """A shopper's open trials from the read model behind `engine` (blocking)."""
    page = customer_queries.shopper_open_trials(engine, shopper_id, customers.SHOPPER_TRIALS)
    return customers.open_trials_of(shopper_id, page.trials, page.pieces, now, page.truncated)


def attention_queue_at(database_url: str, **filters: Any) -> list[Any]:
    """What trials need staff for, oldest first (the CLI's `attention`); the filters of `GET /v1/attention`."""
    with read_model_at(database_url) as store:
        return store.attention_queue(**filters)


@dataclass(frozen=True)
class ChoiceOutcome:
    """What a client's link (security/links.py) is for, and what became of it."""

    status: int  # the page's HTTP status: 200, 404 (not a link of ours, or expired), 409 (the trial refused it)
    locale: str = "en"
    order_id: str | None = None
    # A collection's slot in the client's language, on their clock, with the zone; None for the label.
    slot: str | None = None
    booked: bool = False
    refusal: str | None = None


@dataclass(frozen=True)
class Application:
    temporal: Client
    trials: TrialService
    store: SqlStore
    # The policy each new trial starts with, by the client's tier and region (domain.policy.PolicyTable).
    policies: PolicyTable
    # Links in clients' messages (security/links.py); None: this API serves none.
    links: Links | None = None
    # How many trials this process has opening at once (Settings.api_starts_in_flight): from its start until
    # its worker has authorized it and reserved its stock (it left AUTHORIZING in the read model), or
    # `opening_hold` seconds. A wave of starts waits here, in turn, instead of in the Temporal server and the
    # worker ahead of every command (docs/performance.md, "A wave of starts").
    start_gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(8))
    opening_hold: float = 10.0
    _opening: set["asyncio.Task[None]"] = field(default_factory=set)  # what holds a place (referenced until done)

    @property
    def reports(self) -> reports.Reports:
        return reports.Reports(self.store.engine)

    # ------------------------------------------------------------------ trials

    async def start(self, order: TrialOrder) -> tuple[TrialView, bool]:
        """Start the trial for an order, with the policy for its client's tier and region resolved now and
        carried in the trial's input; the trial as it opened, and whether this call created it."""
        policy = self.policies.for_client(order.customer.tier, order.customer.region)
        await self.start_gate.acquire()
        created = False
        try:
            opened_at = datetime.now(UTC)
            _, created = await self.trials.start(StartTrial(order=order, policy=policy))
        finally:
            if created:  # its place is given back once it has opened
                holder = asyncio.create_task(self._release_once_opened(trial_id_for(order.order_id)))
                self._opening.add(holder)
                holder.add_done_callback(self._opening.discard)
            else:  # refused, failed, or the same order again: nothing opens
                self.start_gate.release()
        if created:
            # The trial as it opens, from the order and policy in hand: no worker has reported it yet, and
            # asking Temporal (its history and description) cost two reads a start, a wave's worth of them
            # queued ahead of every command (docs/performance.md, "A wave of starts").
            return view_of(Trial(order, policy, opened_at)), True
        return await self.trials.read(order.order_id), False

    async def _release_once_opened(self, trial_id: str) -> None:
        """Keep a new trial's place in the start gate until it has opened: its first projection past
        AUTHORIZING (accepted, or refused) shows the wave's heavy part for it is done (the authorization, the
        stock, the first messages and projections). At most `opening_hold` seconds, so that a trial whose
        worker is down or whose gateway is slow holds a place only that long."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.opening_hold
        try:
            while loop.time() < deadline:
                status = await self.store.read(self.store.status_of, trial_id)
                if status is not None and status != TrialStatus.AUTHORIZING:
                    return
                await asyncio.sleep(0.05)
        except Exception as err:  # the read model unreachable: the place goes back now, not after the hold
            log.warning("start gate: could not read whether %s opened (%s)", trial_id, type(err).__name__)
        finally:
            self.start_gate.release()

    async def trial_json(self, order_id: str) -> str:
        """The trial as its workflow last reported it, as the JSON text the read model stored."""
        return await self.trials.read_json(order_id)

    async def command(self, role: str, order_id: str, command: BaseModel, key: str | None = None) -> str:
        """One command of the command table, sent by a caller in `role` (see TrialService.command)."""
        return await self.trials.command(role, order_id, command, key)

    async def list_trials(self, *, limit: int, after: Cursor | None, **filters: Any) -> Page:
        """Trials from the read model, newest first (filters: status, customer_id, needs_attention,
        ending_before)."""
        return await self.store.read(self.store.list_trials, limit=limit, after=after, **filters)

    async def return_label(self, token: str) -> bytes | None:
        """The PDF of the return label whose link carries `token` (the embedded returns provider's)."""
        label = await self.store.read(SqlLabelBook(self.store.engine).by_token, token)
        return label.pdf if label else None

    async def attention_queue(
        self, *, assignee: str | None, reason: str | None, limit: int, after: tuple[datetime, str, str] | None
    ) -> list[Any]:
        """What trials need staff for, oldest first: reason, text, since, owner (the read model's queue)."""
        return await self.store.read(
            self.store.attention_queue, assignee=assignee, reason=reason, limit=limit, after=after
        )

    async def customer_story(self, customer_id: str) -> customers.CustomerStory | None:
        """Every trial of a client, with what they kept, returned and said; None: no trial of theirs."""
        return await self.store.read(customer_story_from, self.store.engine, customer_id)

    async def shopper_trials(self, shopper_id: str, now: datetime) -> customers.ShopperTrials:
        """A shopper's open trials: who has not decided, who needs a nudge (those first)."""
        return await self.store.read(shopper_trials_from, self.store.engine, shopper_id, now)

    async def erase_customer(self, customer_id: str, by: str) -> list[ErasedTrial] | None:
        """Erase a client (application/erasure.py): their closed trials now, the rest as they close."""
        return await Erasure(self.temporal, self.store).request(customer_id, by)

    async def erasure_of(self, customer_id: str) -> list[ErasedTrial]:
        return await Erasure(self.temporal, self.store).status(customer_id)

    async def client_choice(self, token: str, *, book: bool) -> ChoiceOutcome:
        """A client's link: what it books, and with `book`, the booking made as the client (once: the link
        is the update's id, so opening it twice books once)."""
        link = self.links.read(token, datetime.now(UTC)) if self.links else None
        command = choice_command(link.choice, "email") if link else None
        if link is None or command is None:
            return ChoiceOutcome(status=404)
        slot = None
        if isinstance(command, cmd.CollectionBooking):
            zone = zone_named(link.zone)
            slot = (
                f"{slot_text(command.slot.starts_at, command.slot.ends_at, zone, link.locale, 'MMMMEd')} ({zone.key})"
            )
        outcome = ChoiceOutcome(status=200, locale=link.locale, order_id=link.order_id, slot=slot)
        if not book:
            return outcome
        update_id = "link:" + hashlib.sha256(token.encode()).hexdigest()[:40]
        try:
            await self.trials.execute(link.order_id, command, update_id)
        except DomainError as err:
            return replace(outcome, status=409, refusal=err.message)
        return replace(outcome, booked=True)

    # ------------------------------------------------------------------ webhooks

    async def webhook_deliveries(self, **filters: Any) -> list[Any]:
        """Deliveries of trial events to subscribers (filters: status, subscriber, trial_id, limit)."""
        return await self.store.read(WebhookQueue(self.store.engine).deliveries, **filters)

    async def replay_webhook(self, event_id: str, now: datetime, subscriber: str | None) -> int:
        """Send an event again to every subscriber (or the one named); how many deliveries start over."""
        return await asyncio.to_thread(WebhookQueue(self.store.engine).replay, event_id, now, subscriber)

    # ------------------------------------------------------------------ health

    async def health(self) -> dict[str, str]:
        """Whether Temporal and the database answer: "ok", or why not (the error's class, nothing more)."""
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(self.temporal.service_client.check_health(), 3)
            checks["temporal"] = "ok"
        except Exception as err:
            checks["temporal"] = f"unreachable: {type(err).__name__}"
        try:
            await asyncio.to_thread(self._ping)
            checks["database"] = "ok"
        except Exception as err:
            checks["database"] = f"unreachable: {type(err).__name__}"
        return checks

    def _ping(self) -> None:
        with self.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
