"""Start, read and command trials through Temporal, with domain error codes instead of RPC errors."""

import asyncio
import hashlib
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.command_table import command_for
from domain.errors import DomainError, ErrorCode
from domain.order import TrialOrder, validate_order
from domain.trial import Trial, trial_id_for
from domain.view import TrialView, view_of
from domain.workflow_io import StartTrial
from persistence.store import SqlStore
from workflows.presentation import static_details, static_summary
from workflows.style_trial import Answer, StyleTrialWorkflow

# The codes a workflow's refusal can carry: its domain's. Any other failure type is not a refusal.
_DOMAIN_CODES = frozenset(code.value for code in ErrorCode)
# What the server answers for an update it accepted but no worker processed (the worker was lost).
UNPROCESSED_UPDATE = "UnprocessedUpdate"


class CommandNotProcessed(Exception):
    """A command Temporal dropped before the workflow saw it: nothing changed; retrying it is safe."""


class TrialService:
    def __init__(self, client: Client, task_queue: str, read_model: SqlStore | None = None) -> None:
        self._client = client
        self._task_queue = task_queue
        self._read_model = read_model

    async def start(self, start: StartTrial) -> tuple[WorkflowHandle[Any, Any], bool]:
        """Start the trial for an order; `created` is False when the same order was already started.

        A fulfilment system that retries gets the existing trial back; the same order id with a different
        payload is `order_conflict`. Completed trials count too: an order opens one trial, ever.
        """
        validate_order(start.order, start.policy)  # refuse bad orders before anything reaches Temporal
        workflow_id = trial_id_for(start.order.order_id)
        handle = self._client.get_workflow_handle(workflow_id)
        # Temporal deletes a closed trial's history once the namespace's retention has passed, and its
        # workflow id is then free again; the read model keeps every trial. One indexed lookup of an id.
        if self._read_model is not None and await self._read_model.read(self._read_model.has_trial, workflow_id):
            return await self._same_order_again(handle, start), False
        try:
            handle = await self._client.start_workflow(
                StyleTrialWorkflow.run,
                start,
                id=workflow_id,
                task_queue=self._task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                # What staff see first in the UI: order, piece count, value, tier. Never a name or address.
                static_summary=static_summary(start),
                static_details=static_details(start),
            )
            return handle, True
        except WorkflowAlreadyStartedError:
            return await self._same_order_again(handle, start), False

    async def _same_order_again(self, handle: WorkflowHandle[Any, Any], start: StartTrial) -> WorkflowHandle[Any, Any]:
        """The trial this order already opened, when `start` is the same order; `order_conflict` otherwise.
        While the history exists the whole start input is compared; after retention deleted it, what the read
        model keeps of the order: customer, currency and every piece's id, SKU and price."""
        try:
            same = (await self._original_input(handle)).order == start.order
        except RPCError as err:
            view = None
            if err.status == RPCStatusCode.NOT_FOUND and self._read_model is not None:
                view = await self._read_model.read(self._read_model.view, start.order.order_id)
            if view is None:
                raise
            same = _same_order(view, start.order)
        if not same:
            raise DomainError(
                ErrorCode.ORDER_CONFLICT,
                f"Order {start.order.order_id!r} already has a Style Trial with different contents.",
            )
        return handle

    async def view(self, order_id: str) -> TrialView:
        """The trial from its workflow, through a query: for tools that want the live state. The API reads
        the read model instead, so that a read never waits on (or disturbs) a worker."""
        handle = self._client.get_workflow_handle(trial_id_for(order_id))
        try:
            view: TrialView = await handle.query(StyleTrialWorkflow.view)
            return view
        except RPCError as err:
            raise self._rpc_failure(order_id, err) from None

    async def opening_view(self, order_id: str) -> TrialView:
        """The trial as it opened, from its start input: what a reader sees before the workflow first
        reported to the read model (its worker may not have run yet). `unknown_order` if it was never started."""
        handle = self._client.get_workflow_handle(trial_id_for(order_id))
        try:
            start, started_at = await self._started(handle)
        except RPCError as err:
            raise self._rpc_failure(order_id, err) from None
        return view_of(Trial(start.order, start.policy, started_at))

    async def read(self, order_id: str) -> TrialView:
        """The trial as its workflow last reported it to the read model; one not projected yet (just started,
        or no worker has run it) reads as it opened, and an unknown order is `unknown_order`. Without a read
        model (a tool, a test) it asks the workflow."""
        if self._read_model is None:
            return await self.view(order_id)
        view = await self._read_model.read(self._read_model.view, order_id)
        return view if view is not None else await self.opening_view(order_id)

    async def read_json(self, order_id: str) -> str:
        """`read` as JSON text: straight from the read model as stored, without parsing or validating the
        view again (what the API answers with; a read then costs one indexed SELECT)."""
        raw = await self._read_model.read(self._read_model.view_json, order_id) if self._read_model else None
        return raw if raw is not None else (await self.read(order_id)).model_dump_json()

    async def command(self, role: str, order_id: str, command: BaseModel, key: str | None = None) -> str:
        """A command as the API and the CLI send it, by a caller in `role`: the command table's rule for who
        sends it, then its update (domain.command_table), and the trial after it as JSON text.

        An idempotency `key` names the command: a retry with it (after a timeout, a dropped connection, a
        503) is the same Temporal update, so it gets the first answer instead of applying twice. The same key
        with another command is a caller's bug: refused (`idempotency_key_reused`), as Stripe does, rather
        than answered with the first command's result while this one is silently dropped."""
        row = command_for(command)
        if row.rule is not None:
            row.rule(role, command)
        if key and self._read_model is not None:
            digest = hashlib.sha256(f"{type(command).__name__}:{command.model_dump_json()}".encode()).hexdigest()
            first = await asyncio.to_thread(self._read_model.first_use, f"{order_id}:{row.path}:{key}", digest)
            if first != digest:
                raise DomainError(
                    ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    f"Idempotency-Key {key!r} was first used with another {row.path} command on this trial; "
                    "use a new key for a new command.",
                )
        return await self.send_json(order_id, command, f"{row.path}:{key}" if key else None)

    async def send(self, order_id: str, command: BaseModel, update_id: str | None = None) -> TrialView:
        """Run one command (its workflow update) and return the trial as it stands after it. The same
        `update_id` again is the same update: Temporal answers with the first outcome, it never runs twice.

        The workflow answers with a small `CommandOutcome` once the read model shows the change, so the
        trial is read from there (read-your-writes); runs without a read model answer with the whole view."""
        answer = await self.execute(order_id, command, update_id)
        return answer if isinstance(answer, TrialView) else await self.read(order_id)

    async def send_json(self, order_id: str, command: BaseModel, update_id: str | None = None) -> str:
        """`send`, answering with the trial as JSON text (see `read_json`)."""
        answer = await self.execute(order_id, command, update_id)
        return answer.model_dump_json() if isinstance(answer, TrialView) else await self.read_json(order_id)

    async def execute(self, order_id: str, command: BaseModel, update_id: str | None = None) -> Answer:
        """Run one command, as the update the command table names for its model, and return the workflow's
        answer (see `send`)."""
        update = command_for(command).update
        handle = self._client.get_workflow_handle(trial_id_for(order_id))
        try:
            answer = await self._earlier_outcome(handle, update_id) if update_id is not None else None
            if answer is None:
                answer = await handle.execute_update(update, command, id=update_id, result_type=Answer)  # type: ignore[call-overload]
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type in _DOMAIN_CODES:
                raise DomainError(ErrorCode(cause.type), cause.message) from None
            if isinstance(cause, ApplicationError) and cause.type == UNPROCESSED_UPDATE:
                # The server dropped the update before any worker ran it (its worker died meanwhile, found by
                # the fault campaign): nothing was applied, and the same command again is safe.
                raise CommandNotProcessed(
                    f"The command for order {order_id!r} reached no worker; send it again."
                ) from None
            raise
        except RPCError as err:
            raise await self._closed_or_unknown(order_id, handle, err) from None
        return answer

    @staticmethod
    async def _earlier_outcome(handle: WorkflowHandle[Any, Any], update_id: str) -> Answer | None:
        """The outcome of an update already accepted under this id (waiting for it to finish), or None if
        there is none. A retry attaches to the first request this way rather than sending it again: sent
        again while the first was still running, the SDK's worker delivered it to the workflow a second time
        (found by the fault campaign: the duplicate failed the task with TMPRL1100 until a retry replayed it).
        A request the workflow refused is not kept by Temporal, so it is sent again and refused again."""
        try:
            earlier: Answer = await handle.get_update_handle(update_id, result_type=Answer).result()  # type: ignore[arg-type]
            return earlier
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return None
            raise

    async def _original_input(self, handle: WorkflowHandle[Any, Any]) -> StartTrial:
        return (await self._started(handle))[0]

    async def _started(self, handle: WorkflowHandle[Any, Any]) -> tuple[StartTrial, datetime]:
        """The trial's start input and when it started, from its history's first event alone: a reader polls
        a trial that has just started (not projected yet), and the whole history and a describe cost that
        poll three calls to the server (a quarter of a benchmark load's event loop, by py-spy)."""
        async for event in handle.fetch_history_events(page_size=1):
            started = event.workflow_execution_started_event_attributes
            [decoded] = await self._client.data_converter.decode(started.input.payloads, [StartTrial])
            assert isinstance(decoded, StartTrial)
            return decoded, event.event_time.ToDatetime(tzinfo=UTC)
        raise RPCError("the workflow has no history", RPCStatusCode.NOT_FOUND, b"")

    async def _closed_or_unknown(self, order_id: str, handle: WorkflowHandle[Any, Any], err: RPCError) -> Exception:
        try:
            desc = await handle.describe()
        except RPCError as not_found:
            # Its history is gone (retention) but the read model remembers it: it ended.
            if (
                not_found.status == RPCStatusCode.NOT_FOUND
                and self._read_model is not None
                and await self._read_model.read(self._read_model.view, order_id) is not None
            ):
                return DomainError(
                    ErrorCode.TRIAL_FINISHED, f"The trial for order {order_id!r} has ended; it takes no more commands."
                )
            return self._rpc_failure(order_id, not_found)
        if desc.status != WorkflowExecutionStatus.RUNNING:
            return DomainError(
                ErrorCode.TRIAL_FINISHED, f"The trial for order {order_id!r} has ended; it takes no more commands."
            )
        return err

    @staticmethod
    def _rpc_failure(order_id: str, err: RPCError) -> Exception:
        if err.status == RPCStatusCode.NOT_FOUND:
            return DomainError(ErrorCode.UNKNOWN_ORDER, f"There is no Style Trial for order {order_id!r}.")
        return err


def _same_order(view: TrialView, order: TrialOrder) -> bool:
    """Whether `order` is the order the trial in `view` opened for, as far as the read model can tell."""
    pieces = [(p.piece_id, p.sku, p.price) for p in view.pieces]
    return (
        view.customer_id == order.customer.id
        and view.currency == order.currency
        and pieces == [(p.piece_id, p.sku, p.price) for p in order.pieces]
    )
