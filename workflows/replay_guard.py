"""The workflow's defences against activations that no workflow task started.

A worker that answers a query for a trial it does not hold replays the trial's history there, including
events whose workflow task has not started yet (a timer that fired, an activity that finished, while the
trial's own worker is dead), at the clock of the last task that did start; and it keeps what it decided for
the real task. Left alone, that decides at a stale clock, and splits one task in two. Found by the fault
campaign; the evidence is in tests/histories/failover/ and docs/durability.md ("Replay defences").

`ReplayGuard` holds the trial's history clock and the point the run last resumed at, and refuses (fails the
activation, so the run is evicted and the real task replays it from scratch) whatever no real task could
have produced. The workflow asks it at every wake-up; tests/workflow/test_replay_guard.py tests it alone.
"""

from datetime import datetime, timedelta

from temporalio import workflow

# A deadline that passed while an activity ran still gets a (tiny) timer, so whether a timer starts never
# depends on the task's clock.
SHORTEST_TIMER = timedelta(milliseconds=1)


class ReplayGuard:
    def __init__(self, history_clock: bool) -> None:
        # The history clock: the latest moment the workflow *knows* has passed, from what history records
        # (the start, a fired timer's deadline, the task that delivered a command). See `wake_clock`.
        self.clock = workflow.now()
        # The task clock and history length this run last resumed at; see `require_a_real_task`.
        self._resumed_at = (workflow.now(), workflow.info().get_current_history_length())
        # Trials started before the history clock (a patch) decide with `workflow.now()` after every wake-up.
        self.history_clock = history_clock

    def loop_clock(self) -> datetime:
        """The clock the loop decides deadlines and steps by: the history clock (see `wake_clock`)."""
        return self.clock if self.history_clock else workflow.now()

    def timer_fired(self, deadline: datetime) -> None:
        """The timer fired, so its deadline has passed, whatever this task's clock says."""
        self.clock = max(self.clock, deadline)

    def validation_clock(self) -> datetime:
        """The clock an update's validator judges by: never behind what the trial already knows."""
        return max(workflow.now(), self.clock)

    def require_a_real_task(self) -> None:
        """Refuse to go on in an activation that no workflow task started: fail it, so the run is evicted.

        A worker answering a query for a trial it does not hold replays the history including events whose
        task has not started (see `wake_clock`), and keeps what it decided for the real task. Besides the
        stale clock, that splits one task in two: a command that arrives with the real task is then ordered
        after what the query's replay decided, while any later replay sees both in one task and orders the
        command first. So the workflow checks, each time it resumes, that it stands in a newer task than
        the last: a new history length must come with a later clock. The query's replay has a new length
        (up to the unstarted task) but the last started task's clock; failing it costs one failed query and
        evicts the run, and the real task then replays it from scratch. A real task always has a later clock
        (on a server with millisecond times, the same millisecond at worst; its retry has a later one).
        """
        now, length = workflow.now(), workflow.info().get_current_history_length()
        last_now, last_length = self._resumed_at
        if length == last_length:
            return  # the same activation
        if now <= last_now:
            raise RuntimeError(
                f"activation at history length {length} has the clock {now.isoformat()} of an earlier task "
                f"(length {last_length}): no workflow task started it; failing it so the run is replayed"
            )
        self._resumed_at = (now, length)

    def require_a_later_task(self, since: datetime, what: str, *, strictly: bool = True) -> None:
        """Fail an activation that delivers a timer's firing or an activity's answer at a clock no later than
        `since`: the deadline the timer slept until (`strictly=False`), the clock of the task that started the
        timer, or that of the task that scheduled the activity.

        A workflow task that delivers either starts after the event, so its clock is later: a timer fires
        at or after its deadline (its length was measured from the clock of the task that started it), and
        an activity answers after the task that scheduled it. An activation at an earlier clock is a worker
        replaying the history to answer a query for a trial it does not hold, applying events whose task
        has not started yet (see `wake_clock`); left to go on, it decides at that stale clock and sends its
        commands with the real task, ahead of a command that arrives with it, which no later replay does
        (found by the fault campaign: a fired timer's activity recorded before an update's acceptance, and
        every replay failing). `require_a_real_task` catches most such activations by history length; this
        check does not depend on which tasks ran workflow code. Failing it costs one failed query and evicts
        the run; the real task replays it from scratch."""
        now = workflow.now()
        if now < since or (strictly and now == since):
            raise RuntimeError(
                f"{what} arrived in an activation at {now.isoformat()}, not after {since.isoformat()}: no workflow "
                "task started it; failing it so the run is replayed"
            )

    def timer_length(self, deadline: datetime) -> timedelta:
        """How long to sleep until `deadline`. Only the length depends on this task's clock, never whether a
        timer starts: replay checks which commands a task made, not how long a timer was."""
        if not self.history_clock:
            return deadline - workflow.now()
        return max(deadline - workflow.now(), SHORTEST_TIMER)

    def wake_clock(self) -> datetime:
        """The clock for a command, read in the task that delivered it.

        Why not `workflow.now()` everywhere: a worker that answers a query for a trial it does not hold
        replays the history *including* events whose workflow task has not started yet (a timer that fired,
        an activity that finished, while the trial's own worker is dead), at the clock of the last task that
        did start, and then keeps that state and sends its commands when the real task reaches it. A later
        replay sees the real task's clock, so any decision taken from `workflow.now()` in that task could
        differ: the trial stops with a non-determinism error (the failover evidence in tests/histories/
        failover/). So the loop decides from the history clock: a fired timer advances it to its deadline,
        an activity result does not advance it at all, and only a command's own task reads `workflow.now()`.
        A command's task whose clock is behind what the trial already knows has that stale clock: failing
        the task evicts the run, and the retry replays it from scratch with the right clock.
        """
        now = workflow.now()
        if not self.history_clock:
            return now
        if now < self.clock:
            raise RuntimeError(
                f"stale workflow clock {now.isoformat()} behind the trial's history clock {self.clock.isoformat()}; "
                "failing this task so that it is replayed from scratch"
            )
        self.clock = now
        return now
