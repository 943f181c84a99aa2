"""A command Temporal dropped before any worker ran it (its worker died: `UnprocessedUpdate`, found by the
fault campaign as a 500) answers 503 with Retry-After in the error shape: nothing was applied, and the
same request again is safe. A workflow's own refusals keep their codes."""

import asyncio
from typing import Any

import httpx
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from api.app import create_app
from application.door import Application
from application.trials import TrialService
from domain.policy import PolicyTable, TrialPolicy


class _Handle:
    def __init__(self, failure: ApplicationError) -> None:
        self.failure = failure

    async def execute_update(self, *_: Any, **__: Any) -> Any:
        raise WorkflowUpdateFailedError(self.failure)


class _Client:
    def __init__(self, failure: ApplicationError) -> None:
        self.failure = failure

    def get_workflow_handle(self, _: str) -> _Handle:
        return _Handle(self.failure)


def _dispatch(failure: ApplicationError) -> httpx.Response:
    trials = TrialService(_Client(failure), "q")  # type: ignore[arg-type]
    app = create_app(Application(None, trials, None, PolicyTable(base=TrialPolicy())), tokens={"t": "fulfilment"})  # type: ignore[arg-type]
    body = {"parcels": [{"carrier": "DHL", "tracking_number": "T1", "piece_ids": ["p1"]}]}

    async def send() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
            return await api.post("/v1/trials/A-1/dispatch", json=body, headers={"Authorization": "Bearer t"})

    return asyncio.run(send())


def test_an_update_no_worker_processed_is_a_503_to_retry():
    r = _dispatch(
        ApplicationError("Workflow Update is rejected because it wasn't processed by worker.", type="UnprocessedUpdate")
    )
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert r.json()["error"]["code"] == "temporarily_unavailable"


def test_a_workflow_refusal_keeps_its_code():
    r = _dispatch(ApplicationError("The order has already been dispatched.", type="already_dispatched"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_dispatched"
