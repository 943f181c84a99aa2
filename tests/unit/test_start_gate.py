"""A wave of starts goes to Temporal a few at a time (Settings.api_starts_in_flight), the rest waiting in the
API, and a new trial is answered from its order without reading Temporal back."""

import asyncio
from typing import Any, cast

from application.door import Application
from domain.examples import order
from domain.policy import PolicyTable, TrialPolicy
from domain.workflow_io import StartTrial


class _Trials:
    """Records how many starts are inside Temporal's start at once; reads are not expected."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.started: list[str] = []

    async def start(self, start: StartTrial) -> tuple[Any, bool]:
        self.inside += 1
        self.most = max(self.most, self.inside)
        await asyncio.sleep(0.01)
        self.inside -= 1
        self.started.append(start.order.order_id)
        return None, True

    async def read(self, order_id: str) -> Any:
        raise AssertionError("a new trial is answered from its order, not read back")


async def test_a_wave_of_starts_goes_to_temporal_a_few_at_a_time_and_every_one_opens():
    trials = _Trials()
    app = Application(
        temporal=cast(Any, None), trials=cast(Any, trials), store=cast(Any, None),
        policies=PolicyTable(base=TrialPolicy()), start_gate=asyncio.Semaphore(3),
    )  # fmt: skip
    orders = [order(30) for _ in range(20)]
    answers = await asyncio.gather(*(app.start(o) for o in orders))
    assert trials.most == 3
    assert sorted(trials.started) == sorted(o.order_id for o in orders)
    for o, (view, created) in zip(orders, answers, strict=True):
        assert created
        assert view.order_id == o.order_id
        assert [p.piece_id for p in view.pieces] == [p.piece_id for p in o.pieces]
        assert view.status == "AUTHORIZING"  # as the workflow opens it, before the card is authorized
