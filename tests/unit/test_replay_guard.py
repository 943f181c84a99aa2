"""The replay defences (workflows/replay_guard.py) alone: what a real workflow task always satisfies passes,
and what only a query's replay of unstarted events produces (a new history length at an old clock, a timer
or an answer delivered no later than it was asked for, a command at a clock behind the trial's) is refused.
The workflow's own tests and the failover histories check them in place."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from workflows import replay_guard
from workflows.replay_guard import SHORTEST_TIMER, ReplayGuard

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@dataclass
class _Task:
    """What the workflow module would answer in the current activation."""

    clock: datetime = T0
    length: int = 3

    def now(self) -> datetime:
        return self.clock

    def info(self) -> Any:
        task = self

        class Info:
            def get_current_history_length(self) -> int:
                return task.length

        return Info()


@pytest.fixture
def task(monkeypatch: pytest.MonkeyPatch) -> _Task:
    current = _Task()
    monkeypatch.setattr(replay_guard, "workflow", current)
    return current


def test_a_new_task_has_a_longer_history_and_a_later_clock(task: _Task):
    guard = ReplayGuard(history_clock=True)
    guard.require_a_real_task()  # the same activation: nothing to check
    task.length, task.clock = 8, T0 + timedelta(milliseconds=1)
    guard.require_a_real_task()
    task.length = 12  # a query's replay up to an unstarted task: longer history, the last started task's clock
    with pytest.raises(RuntimeError, match="no workflow task started it"):
        guard.require_a_real_task()


def test_a_timer_or_an_answer_arrives_after_it_was_asked_for(task: _Task):
    guard = ReplayGuard(history_clock=True)
    task.clock = T0 + timedelta(seconds=5)
    guard.require_a_later_task(T0, "the answer")
    guard.require_a_later_task(task.clock, "the timer", strictly=False)  # a timer may fire at its deadline
    with pytest.raises(RuntimeError, match="not after"):
        guard.require_a_later_task(task.clock, "the answer")
    with pytest.raises(RuntimeError, match="not after"):
        guard.require_a_later_task(task.clock + timedelta(seconds=1), "the timer", strictly=False)


def test_a_command_s_clock_moves_the_history_clock_and_may_not_go_back(task: _Task):
    guard = ReplayGuard(history_clock=True)
    guard.timer_fired(T0 + timedelta(hours=1))
    assert guard.loop_clock() == T0 + timedelta(hours=1)  # the loop decides by what history proves
    task.clock = T0 + timedelta(minutes=30)  # a task whose clock is behind a timer that already fired
    with pytest.raises(RuntimeError, match="stale workflow clock"):
        guard.wake_clock()
    task.clock = T0 + timedelta(hours=2)
    assert guard.wake_clock() == task.clock and guard.clock == task.clock
    guard.timer_fired(T0)  # an older deadline never moves it back
    assert guard.clock == task.clock


def test_trials_from_before_the_history_clock_keep_the_task_clock(task: _Task):
    guard = ReplayGuard(history_clock=False)
    guard.timer_fired(T0 + timedelta(hours=1))
    task.clock = T0 + timedelta(minutes=1)
    assert guard.loop_clock() == task.clock and guard.wake_clock() == task.clock
    assert guard.timer_length(T0) == -timedelta(minutes=1)  # as they did: their histories replay so


def test_a_timer_is_never_shorter_than_the_shortest(task: _Task):
    guard = ReplayGuard(history_clock=True)
    assert guard.timer_length(T0 - timedelta(seconds=3)) == SHORTEST_TIMER
    assert guard.timer_length(T0 + timedelta(days=7)) == timedelta(days=7)
    assert guard.validation_clock() == T0
