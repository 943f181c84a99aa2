"""Schemathesis generates requests from the app's own OpenAPI: whatever it sends, never a 5xx.

The app runs in uvicorn on a loopback port, on the test's event loop (its Temporal client lives there);
schemathesis sends its requests from a thread over real HTTP.
"""

import asyncio
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok
from temporalio.testing import WorkflowEnvironment

from bootstrap import Adapters, build_api, build_worker
from config import Settings
from domain.examples import order
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import SqlStore

pytestmark = pytest.mark.devserver
TOKENS = {"fz-fulfil": "fulfilment", "fz-support": "support"}


@pytest.fixture(scope="module")
async def base_url(dev_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    store = SqlStore(engine)
    queue = f"fuzz-{uuid.uuid4()}"
    settings_ = Settings(task_queue=queue, api_tokens=TOKENS, data_dir=tmp_path_factory.mktemp("keys"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(build_api(settings_, dev_env.client, store), host="127.0.0.1", port=port, log_level="error")
    )
    async with build_worker(dev_env.client, queue, Adapters(store=store)):
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
        server.should_exit = True
        await task
    engine.dispose()


def fuzz(base: str, token: str, examples: int) -> tuple[list[str], Counter[int]]:
    """Every operation, `examples` generated requests each; returns what answered 5xx or with a status the
    operation does not document (the OpenAPI lists exactly the errors a route can return), and every
    status seen."""
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the app's OpenAPI has an invalid operation: {result}"
        operation = result.ok()
        documented = set(operation.definition.raw["responses"])

        @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            response = case.call(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}")
            elif str(response.status_code) not in documented:  # noqa: B023 (check runs within this iteration)
                failures.append(
                    f"{case.method} {case.path} -> {response.status_code}, not documented: {response.text[:200]}"
                )

        check()
    return failures, statuses


@pytest.mark.parametrize("token", list(TOKENS), ids=list(TOKENS.values()))
async def test_no_generated_request_gets_a_server_error(base_url: str, token: str):
    # Some real trials, so generated order ids sometimes hit one.
    import httpx

    async with httpx.AsyncClient(base_url=base_url) as http:
        for _ in range(2):
            await http.post(
                "/v1/trials", json=order(2).model_dump(mode="json"), headers={"Authorization": "Bearer fz-fulfil"}
            )
    failures, statuses = await asyncio.to_thread(fuzz, base_url, token, 30)
    assert failures == []
    assert sum(statuses.values()) >= 13 * 10, statuses  # every operation was really exercised
    assert {403, 404, 422} <= set(statuses), statuses  # roles, unknown orders and bad bodies were all hit
    print(f"{token}: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}")
