"""The Temporal dev server every benchmark runs on: the CLI installed beside this interpreter (never
downloaded), quiet, with the engine's search attributes registered (the workflow upserts them; an unknown one
fails its task)."""

import sys
from pathlib import Path

from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from workflows import search_attributes


async def dev_server(converter: DataConverter) -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        data_converter=converter,
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        dev_server_log_level="error",
        search_attributes=search_attributes.ALL,
    )
