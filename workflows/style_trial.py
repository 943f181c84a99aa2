"""One durable Style Trial per order (workflow id `style-trial-<order_id>`).

The workflow owns time and orchestration and nothing else: it holds the domain aggregate, turns every
deadline the aggregate names into a durable timer, runs the activity for every request the aggregate makes,
and exposes commands as Temporal updates whose validators ask the aggregate before anything reaches history.
"""

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ValidationError

    from activities.read_model import READ_MODEL_BEHIND, ProjectChanges, ProjectTrial, ReadModelActivities
    from activities.steps import kind_of
    from domain import commands as cmd
    from domain.command_table import COMMANDS, Command
    from domain.errors import DomainError
    from domain.money import format_money
    from domain.steps import Step, StepResult
    from domain.trial import Trial
    from domain.view import TrialView, view_of
    from domain.workflow_io import CommandOutcome, StartTrial
    from workflows import search_attributes
    from workflows.presentation import details_markdown
    from workflows.replay_guard import ReplayGuard

WORKFLOW_NAME = "StyleTrial"
# A command's answer: small (status and revision); the whole view only from runs without a read model.
Answer = CommandOutcome | TrialView
T = TypeVar("T")
W = TypeVar("W")
# Trials started before the read model existed never projected; replaying them must not start now.
PATCH_READ_MODEL = "read-model-projection"
# Trials started before search attributes were kept current never upserted them.
PATCH_SEARCH_ATTRIBUTES = "search-attributes"
# Trials started before the history clock decided with `workflow.now()` after every wake-up
# (workflows/replay_guard.py, `wake_clock`).
PATCH_HISTORY_CLOCK = "history-clock"
# Trials started before a Temporal cancellation request became the domain's cancel ended CANCELED, hold and all.
PATCH_CANCEL_REQUEST = "cancel-request-is-a-command"
# Trials started before the projection carried only what changed sent the whole view every time.
PATCH_LEAN_PROJECTION = "lean-projection"
# Trials started before the lean events restarted their deadline timer on every command and projected with
# a (regular) activity: three events and another workflow task more per change than a local activity's marker.
PATCH_LEAN_EVENTS = "lean-events"
# Trials started before it sent the client no confirmation and no summary (two more notifications each).
PATCH_CLIENT_MESSAGES = "client-messages"
# Trials started before it ended at completion; since, a trial that charged something stays open for the
# policy's refund window after it completes, so that support can refund a piece (a `refund` update).
PATCH_REFUND_WINDOW = "refund-window"
# What a cancellation requested in Temporal (the UI's "Request Cancellation", `temporal workflow cancel`)
# becomes: the domain's cancel, by this actor, for this reason.
TEMPORAL_CANCEL = cmd.Cancel(actor="temporal-ui-or-cli", reason="Cancellation requested in Temporal (UI or CLI).")

# Transient failures (network, 5xx, rate limits) are retried without limit: giving up on a payment call
# half-way would leave money in an unknown state. Every call is idempotent by key, so retrying is safe.
_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=5)
)
_TIMEOUT = timedelta(seconds=30)
# Room for projections within one workflow task before the next task's revisions (see `_next_revision`).
_REVISIONS_PER_TASK = 1000
# How a workflow task that failed on an activity's failure begins its message. A local activity (the
# projection) leaves no event of its own when it fails, so this is how recovery recognises it.
ACTIVITY_FAILED_FOR_GOOD = "activity failed for good:"


def _task_failure(what: str, err: ActivityError | ApplicationError) -> RuntimeError:
    """Only a bug gets an activity here (transient errors retry forever, declines are results). Raising a
    plain exception fails the workflow *task*, never the workflow (an ActivityError left to propagate would
    fail the whole trial with its hold still at the gateway): the trial stays intact, flagged to staff, until
    it is recovered (styletrial trial recover, docs/durability.md)."""
    return RuntimeError(f"{ACTIVITY_FAILED_FOR_GOOD} {what}: {err.cause or err}")


class _ReadModelBehind(Exception):
    pass


def _digest(model: BaseModel) -> bytes:
    """A fingerprint of what the read model was sent, to know what changed without keeping a copy."""
    return hashlib.blake2b(model.model_dump_json().encode(), digest_size=16).digest()


def domain_failure(err: DomainError) -> ApplicationError:
    """A refused command as the caller sees it: `type` is the machine code, `message` the sentence."""
    return ApplicationError(err.message, {"code": err.code.value}, type=err.code.value, non_retryable=True)


def _with_command_updates(cls: type[W]) -> type[W]:
    """Add one named Temporal update per command of the table to the workflow class, before `workflow.defn`
    reads it: the update's name and description (what staff see and send in the UI) come from the table,
    and its argument's type (what the data converter decodes) is the command's model."""
    for command in COMMANDS:
        setattr(cls, command.update, _update_for(command))
    return cls


def _update_for(command: Command) -> Any:
    async def handler(self: "StyleTrialWorkflow", c: BaseModel) -> Answer:
        return await self._apply(lambda t, now: command.apply(t, c, now))

    def validator(self: "StyleTrialWorkflow", c: BaseModel) -> None:
        self._check(lambda t, now: command.validate(t, c, now))

    for fn, returns in ((handler, Answer), (validator, None)):
        fn.__name__ = fn.__qualname__ = command.update
        fn.__annotations__ = {"c": command.model, "return": returns}
    update = workflow.update(name=command.update, description=command.description)(handler)
    update.validator(validator)
    return update


@workflow.defn(name=WORKFLOW_NAME, failure_exception_types=[ValidationError])
@_with_command_updates
class StyleTrialWorkflow:
    @workflow.init
    def __init__(self, start: StartTrial) -> None:
        self._changed = False
        self._idle = False
        # What the read model was last sent, as digests and counts rather than a copy of the view: the whole
        # view, each piece, and how many events and movements (both lists only grow).
        self._projected: bytes | None = None
        self._projected_pieces: dict[str, bytes] = {}
        self._projected_events = 0
        self._projected_movements = 0
        self._published: dict[str, object] | None = None
        self._revision = 0
        # Below which stored revision the current one replaces what the read model holds (lean events: the
        # end of this workflow task's numbers; see `_next_revision`); None: below itself.
        self._replaces_below: int | None = None
        self._refused: DomainError | None = None
        self._trial: Trial | None = None
        # The history clock and the defences against activations no task started (workflows/replay_guard.py).
        self._guard = ReplayGuard(workflow.patched(PATCH_HISTORY_CLOCK))
        self._cancel_is_a_command = workflow.patched(PATCH_CANCEL_REQUEST)
        self._cancel_requested = False
        self._lean_events = workflow.patched(PATCH_LEAN_EVENTS)
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
            await self._project(view)
            self._guard.require_a_real_task()
            if trial.finished:
                break
            deadline = trial.next_deadline(now)
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
        if deadline != self._timer_for:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None
            if deadline is not None:
                sleep = workflow.sleep(self._guard.timer_length(deadline[0]), summary=deadline[1])
                self._timer = asyncio.ensure_future(sleep)
                self._timer_started_at = workflow.now()
            self._timer_for = deadline
        timer = self._timer
        await workflow.wait_condition(lambda: self._changed or (timer is not None and timer.done()))
        if timer is None or not timer.done():
            return False
        self._timer = self._timer_for = None
        return True

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

    async def _project(self, view: TrialView) -> None:
        """Report the trial to the read model whenever it changed, numbered by revision: after the first
        time, only what changed (a few pieces, the new events and movements), so that the history grows
        with what happened rather than with the size of the trial at every change."""
        if not workflow.patched(PATCH_READ_MODEL):
            return
        digest = _digest(view)
        if digest == self._projected:
            return
        previous = self._revision
        self._revision, self._replaces_below = self._next_revision()
        pieces = {p.piece_id: _digest(p) for p in view.pieces}
        lean = previous > 0 and workflow.patched(PATCH_LEAN_PROJECTION)
        if not (lean and await self._project_changes(view, pieces, previous)):
            request = ProjectTrial(revision=self._revision, view=view, replaces_below=self._replaces_below)
            await self._run_projection(ReadModelActivities.project, request, "the trial")
        self._projected = digest
        self._projected_pieces = pieces
        self._projected_events, self._projected_movements = len(view.events), len(view.movements)

    def _next_revision(self) -> tuple[int, int | None]:
        """The number of the next projection, and below which stored number it replaces what the read model
        holds. With lean events the numbers grow with the history, `_REVISIONS_PER_TASK` to a workflow task:
        a task that never completed (its worker died) may still have run its projection, a local activity,
        and written what it saw; the task's next attempt may see more (a command that arrived meanwhile, a
        later clock) and must replace it. An attempt that stands at a longer history numbers higher; one at
        the same length (a retried attempt records no event) numbers alike, and replaces whatever its task
        wrote, since a task's attempts run one after the other. Within one task: one more each time."""
        if not self._lean_events:
            return self._revision + 1, None
        length = workflow.info().get_current_history_length()
        return max(self._revision + 1, length * _REVISIONS_PER_TASK), (length + 1) * _REVISIONS_PER_TASK

    async def _project_changes(self, view: TrialView, pieces: dict[str, bytes], base: int) -> bool:
        """False when the read model is behind (restored from a backup, say): then the whole trial goes."""
        changes = view.model_copy(
            update={
                "pieces": [p for p in view.pieces if self._projected_pieces.get(p.piece_id) != pieces[p.piece_id]],
                "events": view.events[self._projected_events :],
                "movements": view.movements[self._projected_movements :],
            }
        )
        request = ProjectChanges(
            revision=self._revision, base_revision=base, changes=changes, replaces_below=self._replaces_below
        )
        try:
            await self._run_projection(ReadModelActivities.project_changes, request, "what changed")
        except _ReadModelBehind:
            return False
        return True

    async def _run_projection(self, activity: Any, request: Any, what: str) -> None:
        summary = f"Record revision {self._revision} in the read model ({what})"
        # A local activity (lean events) is one marker in the task that asked for it; a regular one is three
        # events and another workflow task. Both retry without limit; the local one on this worker.
        run = workflow.execute_local_activity_method if self._lean_events else workflow.execute_activity_method
        try:
            await self._uncancelled(
                run(activity, request, start_to_close_timeout=_TIMEOUT, retry_policy=_RETRY, summary=summary)
            )
        except (ActivityError, ApplicationError) as err:
            # A local activity's failure arrives as the activity's own ApplicationError, not wrapped in an
            # ActivityError; left to propagate it would fail the whole trial.
            cause = err.cause if isinstance(err, ActivityError) else err
            if isinstance(cause, ApplicationError) and cause.type == READ_MODEL_BEHIND:
                raise _ReadModelBehind() from err
            raise _task_failure("projection", err) from err

    async def _perform(self, trial: Trial, step: Step) -> None:
        trial.begin(step)
        try:
            result = await self._uncancelled(self._run_activity(step, trial.currency))
        except ActivityError as err:
            raise _task_failure(type(step).__name__, err) from err
        # An activity's answer does not move the history clock (workflows/replay_guard.py): deadlines that passed
        # while it ran are caught by the next timer, which then fires at once.
        trial.record(step, result, self._guard.loop_clock())

    async def _run_activity(self, step: Step, currency: str) -> StepResult:
        kind = kind_of(step)
        summary = kind.summary(step, lambda amount: format_money(amount, currency))
        result: StepResult = await workflow.execute_activity_method(
            kind.activity, step, start_to_close_timeout=_TIMEOUT, retry_policy=_RETRY, summary=summary
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
        if self._revision == 0:
            # This run never reports to the read model (started before it existed): the whole trial.
            return view_of(trial)
        return CommandOutcome(order_id=trial.order.order_id, status=trial.status, revision=self._revision)
