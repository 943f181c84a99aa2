"""One durable Style Trial per order (workflow id `style-trial-<order_id>`).

The workflow owns time and orchestration and nothing else: it holds the domain aggregate, turns every
deadline the aggregate names into a durable timer, runs the activity for every request the aggregate makes,
and exposes commands as Temporal updates whose validators ask the aggregate before anything reaches history.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.steps import kind_of
    from domain import commands as cmd
    from domain.errors import DomainError
    from domain.money import format_money
    from domain.steps import Step, StepResult
    from domain.trial import Trial
    from domain.view import TrialView, view_of
    from domain.workflow_io import CommandOutcome, StartTrial
    from workflows import search_attributes
    from workflows.calls import ACTIVITY_FAILED_FOR_GOOD, RETRY, TIMEOUT, domain_failure, task_failure
    from workflows.command_updates import Answer, with_command_updates
    from workflows.patches import (
        PATCH_ATTENTION_KEEPS_OPEN,
        PATCH_CANCEL_REQUEST,
        PATCH_CLIENT_JOURNEY,
        PATCH_CLIENT_MESSAGES,
        PATCH_HISTORY_CLOCK,
        PATCH_LEAN_EVENTS,
        PATCH_REFUND_WINDOW,
        PATCH_RETURN_JOURNEY,
        PATCH_SEARCH_ATTRIBUTES,
        PATCH_TIMER_BEFORE_REPORT,
    )
    from workflows.presentation import details_markdown
    from workflows.projection import Projection
    from workflows.replay_guard import ReplayGuard

WORKFLOW_NAME = "StyleTrial"
T = TypeVar("T")
# Named here for the modules that read the workflow's failures and answers (recovery, the API's client).
__all__ = ["ACTIVITY_FAILED_FOR_GOOD", "WORKFLOW_NAME", "Answer", "StyleTrialWorkflow"]
# What a cancellation requested in Temporal (the UI's "Request Cancellation", `temporal workflow cancel`)
# becomes: the domain's cancel, by this actor, for this reason.
TEMPORAL_CANCEL = cmd.Cancel(actor="temporal-ui-or-cli", reason="Cancellation requested in Temporal (UI or CLI).")


@workflow.defn(name=WORKFLOW_NAME, failure_exception_types=[ValidationError])
@with_command_updates
class StyleTrialWorkflow:
    @workflow.init
    def __init__(self, start: StartTrial) -> None:
        self._changed = False
        self._idle = False
        self._published: dict[str, object] | None = None
        self._refused: DomainError | None = None
        self._trial: Trial | None = None
        # The history clock and the defences against activations no task started (workflows/replay_guard.py).
        self._guard = ReplayGuard(workflow.patched(PATCH_HISTORY_CLOCK))
        self._cancel_is_a_command = workflow.patched(PATCH_CANCEL_REQUEST)
        self._cancel_requested = False
        self._lean_events = workflow.patched(PATCH_LEAN_EVENTS)
        # Lean events only: before them the report was a regular activity and the timer part of the wait.
        self._timer_before_report = self._lean_events and workflow.patched(PATCH_TIMER_BEFORE_REPORT)
        self._projection = Projection(self._lean_events, self._uncancelled)  # the read model (projection.py)
        # The running deadline timer and the deadline it sleeps until (lean events): kept while it holds.
        self._timer: asyncio.Future[None] | None = None
        self._timer_for: tuple[datetime, str] | None = None
        self._timer_started_at = workflow.now()  # the clock of the task that started the running timer
        try:
            self._trial = Trial(start.order, start.policy, workflow.now())
        except DomainError as err:
            # An invalid order fails the workflow at once with its code (see `run`), never a stuck task.
            self._refused = err
        if self._trial is not None:
            self._trial.journal.tells_the_client = workflow.patched(PATCH_CLIENT_MESSAGES)
            self._trial.refunds_after_completion = workflow.patched(PATCH_REFUND_WINDOW)
            self._trial.journal.tells_the_journey = workflow.patched(PATCH_CLIENT_JOURNEY)
            self._trial.returns.tells_returns = workflow.patched(PATCH_RETURN_JOURNEY)
            self._trial.waits_for_staff = workflow.patched(PATCH_ATTENTION_KEEPS_OPEN)

    @workflow.run
    async def run(self, start: StartTrial) -> TrialView:
        trial = self._require_trial()
        while True:
            if self._cancel_requested:
                self._cancel_requested = False
                self._carry_out_cancel_request(trial)
            now = self._guard.loop_clock()
            trial.tick(now)
            step = trial.next_step(now)
            if step is not None:
                asked_at = workflow.now()
                await self._perform(trial, step)
                self._guard.require_a_later_task(asked_at, f"the answer to {type(step).__name__}")
                self._guard.require_a_real_task()
                continue
            # Report the change before answering waiting commands: once a command has answered, the
            # read model (and so every list) and the UI's search attributes already show it.
            view = view_of(trial)
            self._publish(view)
            deadline = None if trial.finished else trial.next_deadline(now)
            if self._timer_before_report:
                # The report is a local activity, whose result a task may receive one task late (see
                # PATCH_TIMER_BEFORE_REPORT): make every command of this round before it, none after it.
                self._keep_timer(deadline)
            await self._projection.report(view)
            # Not kept while the trial waits, which is most of its life: a 30-piece trial's view is ~100 KiB,
            # a third of what a worker holds for each trial in its cache (docs/performance.md).
            del view
            self._guard.require_a_real_task()
            if trial.finished:
                break
            self._idle = True
            # Wake for a command, or at the next deadline (a durable timer named for the UI).
            try:
                if await self._wait(deadline):
                    assert deadline is not None
                    if self._guard.history_clock:
                        self._guard.require_a_later_task(deadline[0], f"the timer for {deadline[1]}", strictly=False)
                        self._guard.require_a_later_task(self._timer_started_at, f"the timer for {deadline[1]}")
                    self._guard.timer_fired(deadline[0])
            except asyncio.CancelledError:
                if not self._cancel_is_a_command:
                    raise
                self._cancel_requested = True
            self._guard.require_a_real_task()
            self._changed = False
            self._idle = False
        if self._timer is not None:
            self._timer.cancel()
        self._idle, self._changed = True, False
        try:
            await workflow.wait_condition(workflow.all_handlers_finished)
        except asyncio.CancelledError:
            if not self._cancel_is_a_command:
                raise
            # The trial has ended and its money is settled: a late cancellation request changes nothing.
        return view_of(trial)

    async def _wait(self, deadline: tuple[datetime, str] | None) -> bool:
        """Wait for a command or the deadline; True when the deadline's timer fired.

        With lean events the timer outlives the wait: a command that leaves the next deadline where it was
        (most do) keeps it, instead of cancelling it and starting the same one again (two events each time).
        Whether a timer starts depends only on the deadline, never on this task's clock (see
        workflows/replay_guard.py, `wake_clock`).
        """
        if not self._lean_events:
            self._timer_started_at = workflow.now()
            try:
                await workflow.wait_condition(
                    lambda: self._changed,
                    timeout=self._guard.timer_length(deadline[0]) if deadline else None,
                    timeout_summary=deadline[1] if deadline else None,
                )
            except TimeoutError:
                return True
            return False
        self._keep_timer(deadline)
        timer = self._timer
        await workflow.wait_condition(lambda: self._changed or (timer is not None and timer.done()))
        if timer is None or not timer.done():
            return False
        self._timer = self._timer_for = None
        return True

    def _keep_timer(self, deadline: tuple[datetime, str] | None) -> None:
        """Have the deadline timer sleep until `deadline` (lean events): keep the running one if it already
        does, else cancel it and start one for the new deadline (none when there is no deadline)."""
        if deadline == self._timer_for:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        if deadline is not None:
            sleep = workflow.sleep(self._guard.timer_length(deadline[0]), summary=deadline[1])
            self._timer = asyncio.ensure_future(sleep)
            self._timer_started_at = workflow.now()
        self._timer_for = deadline

    def _carry_out_cancel_request(self, trial: Trial) -> None:
        """A cancellation requested in Temporal is the domain's cancel: before dispatch the trial is
        cancelled and its hold released; after, it is refused, written to the audit trail, and the trial
        goes on. Never the workflow's own cancellation, which would end it with the hold still in place."""
        now = self._guard.wake_clock()
        trial.tick(now)
        try:
            trial.cancel(TEMPORAL_CANCEL, now)
        except DomainError as err:
            trial.refuse_cancellation(TEMPORAL_CANCEL, now, err.message)

    async def _uncancelled(self, activity: Awaitable[T]) -> T:
        """Await an activity that a cancellation request must not interrupt: a payment half-made is money in
        an unknown state. The request is kept for the loop, which carries it out once the step is recorded."""
        if not self._cancel_is_a_command:
            return await activity
        running = asyncio.ensure_future(activity)
        while True:
            try:
                return await asyncio.shield(running)
            except asyncio.CancelledError:
                self._cancel_requested = True

    def _publish(self, view: TrialView) -> None:
        """What staff see in the Temporal UI: current details, and search attributes to filter on."""
        workflow.set_current_details(details_markdown(view))
        if not workflow.patched(PATCH_SEARCH_ATTRIBUTES):
            return
        values = search_attributes.values(view)
        if values != self._published:
            workflow.upsert_search_attributes(search_attributes.updates(values))
            self._published = dict(values)

    async def _perform(self, trial: Trial, step: Step) -> None:
        trial.begin(step)
        try:
            result = await self._uncancelled(self._run_activity(step, trial.currency))
        except ActivityError as err:
            raise task_failure(type(step).__name__, err) from err
        # An activity's answer does not move the history clock (workflows/replay_guard.py): deadlines that passed
        # while it ran are caught by the next timer, which then fires at once.
        trial.record(step, result, self._guard.loop_clock())

    async def _run_activity(self, step: Step, currency: str) -> StepResult:
        kind = kind_of(step)
        summary = kind.summary(step, lambda amount: format_money(amount, currency))
        result: StepResult = await workflow.execute_activity_method(
            kind.activity, step, start_to_close_timeout=TIMEOUT, retry_policy=RETRY, summary=summary
        )
        return result

    # ------------------------------------------------------------------ reading

    @workflow.query(name="view", description="The whole trial: status, deadlines, every piece, every money movement.")
    def view(self) -> TrialView:
        return view_of(self._require_trial())

    # ------------------------------------------------------------------ commands (updates)
    # One update per row of domain.command_table, added by `_with_command_updates` below: its validator asks
    # the aggregate and raises before anything is written to history; its handler applies the command and
    # answers once the workflow has acted on it.

    # ------------------------------------------------------------------ helpers

    def _require_trial(self) -> Trial:
        if self._trial is None:
            assert self._refused is not None
            raise domain_failure(self._refused)
        return self._trial

    def _check(self, validate: Callable[[Trial, Any], None]) -> None:
        try:
            validate(self._require_trial(), self._guard.validation_clock())
        except DomainError as err:
            raise domain_failure(err) from None

    async def _apply(self, command: Callable[[Trial, Any], None]) -> Answer:
        trial = self._require_trial()
        now = self._guard.wake_clock()
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
        if self._projection.revision == 0:
            # This run never reports to the read model (started before it existed): the whole trial.
            return view_of(trial)
        return CommandOutcome(order_id=trial.order.order_id, status=trial.status, revision=self._projection.revision)
