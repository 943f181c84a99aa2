"""A wave of starts opens a few trials at a time (Settings.api_starts_in_flight): each new trial keeps its place
in the API's gate until its worker has opened it (it left AUTHORIZING in the read model), or for a bounded
time; the rest wait in the API. A new trial is answered from its order without reading Temporal back."""

import asyncio
import time
from typing import Any, cast

from application.door import Application
from domain.examples import order
from domain.policy import PolicyTable, TrialPolicy
from domain.trial import trial_id_for
from domain.workflow_io import StartTrial


class _Stack:
    """Temporal's start and the read model, as the gate sees them: a started trial opens `opens_after`
    seconds later (None: never, its worker is down); `created` False plays the same order sent again."""

    def __init__(self, opens_after: float | None = 0.02, created: bool = True) -> None:
        self.opens_after = opens_after
        self.created = created
        self.status: dict[str, str] = {}
        self.opening = 0
        self.most_opening = 0
        self.started: list[tuple[float, str]] = []

    async def start(self, start: StartTrial) -> tuple[Any, bool]:
        await asyncio.sleep(0.005)
        trial_id = trial_id_for(start.order.order_id)
        self.started.append((time.monotonic(), start.order.order_id))
        if self.created:
            self.status[trial_id] = "AUTHORIZING"
            self.opening += 1
            self.most_opening = max(self.most_opening, self.opening)
            if self.opens_after is not None:
                asyncio.get_running_loop().call_later(self.opens_after, self._open, trial_id)
        return None, self.created

    def _open(self, trial_id: str) -> None:
        self.status[trial_id] = "AWAITING_DISPATCH"
        self.opening -= 1

    async def read(self, query: Any, *args: Any) -> Any:  # SqlStore.read
        return query(*args)

    def status_of(self, trial_id: str) -> str | None:  # SqlStore.status_of
        return self.status.get(trial_id)


def _app(stack: _Stack, places: int, hold: float = 10.0) -> Application:
    class Trials:
        start = stack.start

        @staticmethod
        async def read(order_id: str) -> Any:
            assert not stack.created, "a new trial is answered from its order, not read back"
            return order_id

    return Application(
        temporal=cast(Any, None), trials=cast(Any, Trials()), store=cast(Any, stack),
        policies=PolicyTable(base=TrialPolicy()), start_gate=asyncio.Semaphore(places), opening_hold=hold,
    )  # fmt: skip


async def test_a_wave_of_starts_opens_a_few_trials_at_a_time_and_every_one_opens():
    stack = _Stack()
    app = _app(stack, places=3)
    orders = [order(30) for _ in range(20)]
    answers = await asyncio.gather(*(app.start(o) for o in orders))
    assert stack.most_opening == 3  # never more trials opening at once than the gate's places
    assert sorted(o for _, o in stack.started) == sorted(o.order_id for o in orders)
    for o, (view, created) in zip(orders, answers, strict=True):
        assert created
        assert view.order_id == o.order_id
        assert [p.piece_id for p in view.pieces] == [p.piece_id for p in o.pieces]
        assert view.status == "AUTHORIZING"  # as the workflow opens it, before the card is authorized
    while app._opening:  # the last places go back once their trials open
        await asyncio.sleep(0.01)
    assert stack.opening == 0


async def test_a_trial_that_does_not_open_gives_its_place_back_after_the_hold():
    stack = _Stack(opens_after=None)  # no worker: the trials stay AUTHORIZING
    app = _app(stack, places=1, hold=0.3)
    await asyncio.gather(app.start(order(3)), app.start(order(3)))
    (first, _), (second, _) = sorted(stack.started)
    assert second - first >= 0.3  # the second start waited for the first one's hold, no longer
    assert second - first < 2


async def test_the_same_order_again_holds_no_place():
    stack = _Stack(created=False)  # the trial exists already: nothing opens
    app = _app(stack, places=1)
    began = time.monotonic()
    answers = await asyncio.gather(*(app.start(order(3)) for _ in range(5)))
    assert [created for _, created in answers] == [False] * 5
    assert time.monotonic() - began < 1 and not app._opening
