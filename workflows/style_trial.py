"""One durable Style Trial per order (workflow id `style-trial-<order_id>`).

The workflow owns time and orchestration and nothing else: it holds the domain aggregate, turns every
deadline the aggregate names into a durable timer, runs the activity for every request the aggregate makes,
and exposes commands as Temporal updates whose validators ask the aggregate before anything reaches history.
"""

import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.fulfilment import FulfilmentActivities
    from activities.notifications import NotificationActivities
    from activities.payments import PaymentActivities
    from activities.read_model import ProjectTrial, ReadModelActivities
    from domain import commands as cmd
    from domain.errors import DomainError
    from domain.money import format_money
    from domain.steps import (
        AuthorizeRequest,
        CaptureRequest,
        ChargeRequest,
        ReleaseRequest,
        Step,
        StepResult,
        StockRequest,
    )
    from domain.trial import Trial
    from domain.view import TrialView, details_markdown, search_values, view_of
    from domain.workflow_io import StartTrial
    from workflows import search_attributes

WORKFLOW_NAME = "StyleTrial"
# Trials started before the read model existed never projected; replaying them must not start now.
PATCH_READ_MODEL = "read-model-projection"
# Trials started before search attributes were kept current never upserted them.
PATCH_SEARCH_ATTRIBUTES = "search-attributes"

# Transient failures (network, 5xx, rate limits) are retried without limit: giving up on a payment call
# half-way would leave money in an unknown state. Every call is idempotent by key, so retrying is safe.
_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=5)
)
_TIMEOUT = timedelta(seconds=30)


def domain_failure(err: DomainError) -> ApplicationError:
    """A refused command as the caller sees it: `type` is the machine code, `message` the sentence."""
    return ApplicationError(err.message, {"code": err.code.value}, type=err.code.value, non_retryable=True)


@workflow.defn(name=WORKFLOW_NAME, failure_exception_types=[ValidationError])
class StyleTrialWorkflow:
    @workflow.init
    def __init__(self, start: StartTrial) -> None:
        self._changed = False
        self._idle = False
        self._projected: TrialView | None = None
        self._published: dict[str, object] | None = None
        self._revision = 0
        self._refused: DomainError | None = None
        self._trial: Trial | None = None
        try:
            self._trial = Trial(start.order, start.policy, workflow.now())
        except DomainError as err:
            # An invalid order fails the workflow at once with its code (see `run`), never a stuck task.
            self._refused = err

    @workflow.run
    async def run(self, start: StartTrial) -> TrialView:
        trial = self._require_trial()
        while True:
            now = workflow.now()
            trial.tick(now)
            step = trial.next_step(now)
            if step is not None:
                await self._perform(trial, step)
                continue
            # Report the change before answering waiting commands: once a command has answered, the
            # read model (and so every list) and the UI's search attributes already show it.
            view = view_of(trial)
            self._publish(view)
            await self._project(view)
            if trial.finished:
                break
            deadline = trial.next_deadline(now)
            self._idle = True
            # Wake for a command, or at the next deadline (a durable timer named for the UI).
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._changed,
                    timeout=(deadline[0] - now) if deadline else None,
                    timeout_summary=deadline[1] if deadline else None,
                )
            self._changed = False
            self._idle = False
        self._idle, self._changed = True, False
        await workflow.wait_condition(workflow.all_handlers_finished)
        return view_of(trial)

    def _publish(self, view: TrialView) -> None:
        """What staff see in the Temporal UI: current details, and search attributes to filter on."""
        workflow.set_current_details(details_markdown(view))
        if not workflow.patched(PATCH_SEARCH_ATTRIBUTES):
            return
        values = search_values(view)
        if values != self._published:
            workflow.upsert_search_attributes(search_attributes.updates(values))
            self._published = dict(values)

    async def _project(self, view: TrialView) -> None:
        """Report the trial to the read model whenever it changed, numbered by revision."""
        if not workflow.patched(PATCH_READ_MODEL):
            return
        if view == self._projected:
            return
        self._revision += 1
        await workflow.execute_activity_method(
            ReadModelActivities.project, ProjectTrial(revision=self._revision, view=view),
            start_to_close_timeout=_TIMEOUT, retry_policy=_RETRY, summary=f"Record revision {self._revision} in the read model",
        )  # fmt: skip
        self._projected = view

    async def _perform(self, trial: Trial, step: Step) -> None:
        trial.begin(step)
        try:
            result = await self._run_activity(step, trial.currency)
        except ActivityError as err:
            # Only a bug gets here (transient errors retry forever, declines are results). Failing the
            # workflow task keeps the trial intact and retrying until a fixed worker is deployed.
            raise RuntimeError(f"activity for {type(step).__name__} failed: {err.cause}") from err
        trial.record(step, result, workflow.now())

    async def _run_activity(self, step: Step, currency: str) -> StepResult:
        def money(amount: int) -> str:
            return format_money(amount, currency)

        if isinstance(step, AuthorizeRequest):
            what = "Re-authorize" if step.merchant_initiated else "Authorize"
            return await workflow.execute_activity_method(
                PaymentActivities.authorize, step, start_to_close_timeout=_TIMEOUT, retry_policy=_RETRY,
                summary=f"{what} {money(step.amount)}",
            )  # fmt: skip
        if isinstance(step, CaptureRequest):
            return await workflow.execute_activity_method(
                PaymentActivities.capture, step, start_to_close_timeout=_TIMEOUT, retry_policy=_RETRY,
                summary=f"Capture {money(step.amount)} (settlement {step.settlement})",
            )  # fmt: skip
        if isinstance(step, ChargeRequest):
            return await workflow.execute_activity_method(
                PaymentActivities.charge, step, start_to_close_timeout=_TIMEOUT, retry_policy=_RETRY,
                summary=f"Charge {money(step.amount)} off-session (settlement {step.settlement})",
            )  # fmt: skip
        if isinstance(step, ReleaseRequest):
            return await workflow.execute_activity_method(
                PaymentActivities.release, step, start_to_close_timeout=_TIMEOUT, retry_policy=_RETRY,
                summary="Release what is left of the authorization",
            )  # fmt: skip
        if isinstance(step, StockRequest):
            return await workflow.execute_activity_method(
                FulfilmentActivities.stock, step, start_to_close_timeout=_TIMEOUT, retry_policy=_RETRY,
                summary=f"{step.action.capitalize()} stock for {len(step.piece_ids)} piece(s)",
            )  # fmt: skip
        return await workflow.execute_activity_method(
            NotificationActivities.send, step, start_to_close_timeout=_TIMEOUT, retry_policy=_RETRY,
            summary=f"Notify {' and '.join(step.audience)}: {step.kind.value.replace('_', ' ')}",
        )  # fmt: skip

    # ------------------------------------------------------------------ reading

    @workflow.query(name="view", description="The whole trial: status, deadlines, every piece, every money movement.")
    def view(self) -> TrialView:
        return view_of(self._require_trial())

    # ------------------------------------------------------------------ commands (updates)
    # Each validator asks the aggregate and raises before anything is written to history; each handler
    # applies the command and answers with the trial view once the workflow has acted on it.

    @workflow.update(
        name="dispatch",
        description="Fulfilment: the order left the warehouse in one or more parcels. Pieces in no parcel are unavailable.",
    )
    async def dispatch(self, c: cmd.Dispatch) -> TrialView:
        return await self._apply(lambda t, now: t.dispatch(c, now))

    @dispatch.validator
    def _check_dispatch(self, c: cmd.Dispatch) -> None:
        self._check(lambda t, now: t.validate_dispatch(c, now))

    @workflow.update(
        name="deliver",
        description="A parcel was delivered (carrier), or staff record a delivery with actor and reason.",
    )
    async def deliver(self, c: cmd.Delivery) -> TrialView:
        return await self._apply(lambda t, now: t.deliver(c, now))

    @deliver.validator
    def _check_deliver(self, c: cmd.Delivery) -> None:
        self._check(lambda t, now: t.validate_delivery(c, now))

    @workflow.update(
        name="decide",
        description="Record keep/return decisions for delivered pieces, with actor, channel and an optional message reference.",
    )
    async def decide(self, c: cmd.Decisions) -> TrialView:
        return await self._apply(lambda t, now: t.decide(c, now))

    @decide.validator
    def _check_decide(self, c: cmd.Decisions) -> None:
        self._check(lambda t, now: t.validate_decisions(c, now))

    @workflow.update(
        name="finish_early",
        description="The client is done early: every piece has a decision, so the trial closes now.",
    )
    async def finish_early(self, c: cmd.FinishEarly) -> TrialView:
        return await self._apply(lambda t, now: t.finish_early(c, now))

    @finish_early.validator
    def _check_finish_early(self, c: cmd.FinishEarly) -> None:
        self._check(lambda t, now: t.validate_finish(c, now))

    @workflow.update(
        name="ship_return", description="Fulfilment: the carrier scanned a return parcel with these pieces."
    )
    async def ship_return(self, c: cmd.ReturnShipped) -> TrialView:
        return await self._apply(lambda t, now: t.ship_return(c, now))

    @ship_return.validator
    def _check_ship_return(self, c: cmd.ReturnShipped) -> None:
        self._check(lambda t, now: t.validate_return(c, now))

    @workflow.update(
        name="inspect", description="Fulfilment: a returned piece was received and inspected (ok or damaged)."
    )
    async def inspect(self, c: cmd.Inspection) -> TrialView:
        return await self._apply(lambda t, now: t.inspect(c, now))

    @inspect.validator
    def _check_inspect(self, c: cmd.Inspection) -> None:
        self._check(lambda t, now: t.validate_inspection(c, now))

    @workflow.update(name="extend", description="Staff: extend the trial by 1-7 days (14 in total) with a reason.")
    async def extend(self, c: cmd.Extension) -> TrialView:
        return await self._apply(lambda t, now: t.extend(c, now))

    @extend.validator
    def _check_extend(self, c: cmd.Extension) -> None:
        self._check(lambda t, now: t.validate_extension(c, now))

    @workflow.update(
        name="waive", description="Staff: waive a piece that has not been charged (goodwill); it is never charged."
    )
    async def waive(self, c: cmd.Waiver) -> TrialView:
        return await self._apply(lambda t, now: t.waive(c, now))

    @waive.validator
    def _check_waive(self, c: cmd.Waiver) -> None:
        self._check(lambda t, now: t.validate_waiver(c, now))

    @workflow.update(
        name="change_payment_method",
        description="Staff: supply a new payment method; a declined authorization or charge is retried at once.",
    )
    async def change_payment_method(self, c: cmd.NewPaymentMethod) -> TrialView:
        return await self._apply(lambda t, now: t.change_payment_method(c, now))

    @change_payment_method.validator
    def _check_change_payment_method(self, c: cmd.NewPaymentMethod) -> None:
        self._check(lambda t, now: t.validate_payment_method(c, now))

    @workflow.update(name="cancel", description="Cancel before dispatch; the authorization and the stock are released.")
    async def cancel(self, c: cmd.Cancel) -> TrialView:
        return await self._apply(lambda t, now: t.cancel(c, now))

    @cancel.validator
    def _check_cancel(self, c: cmd.Cancel) -> None:
        self._check(lambda t, now: t.validate_cancel(c, now))

    # ------------------------------------------------------------------ helpers

    def _require_trial(self) -> Trial:
        if self._trial is None:
            assert self._refused is not None
            raise domain_failure(self._refused)
        return self._trial

    def _check(self, validate: Callable[[Trial, Any], None]) -> None:
        try:
            validate(self._require_trial(), workflow.now())
        except DomainError as err:
            raise domain_failure(err) from None

    async def _apply(self, command: Callable[[Trial, Any], None]) -> TrialView:
        trial = self._require_trial()
        now = workflow.now()
        try:
            # Deadlines that passed a moment ago apply before the command is judged.
            trial.tick(now)
            command(trial, now)
        except DomainError as err:
            raise domain_failure(err) from None
        finally:
            self._changed = True
        # Answer once the main loop has acted on the change (e.g. the settlement after finishing early),
        # so the caller sees the trial as it now stands.
        await workflow.wait_condition(lambda: self._idle and not self._changed)
        return view_of(trial)
