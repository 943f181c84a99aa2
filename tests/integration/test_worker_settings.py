"""The worker's cache is sized from a memory budget, and the worker built for production runs it."""

import pytest
from pydantic import ValidationError
from temporalio.testing import WorkflowEnvironment

from bootstrap import CACHED_TRIAL_KIB, Adapters, build_worker, cache_size
from config import Settings
from persistence.db import make_engine
from persistence.migrate import upgrade
from persistence.store import SqlStore


def test_the_cache_holds_what_the_memory_budget_pays_for(monkeypatch: pytest.MonkeyPatch):
    assert cache_size(Settings()) == 256 * 1024 // CACHED_TRIAL_KIB
    monkeypatch.setenv("STYLETRIAL_WORKER_CACHE_MIB", "1024")
    assert cache_size(Settings()) == 1024 * 1024 // CACHED_TRIAL_KIB
    monkeypatch.setenv("STYLETRIAL_WORKER_CACHE_MIB", "4")  # below the floor: refused at start-up
    with pytest.raises(ValidationError, match="worker_cache_mib"):
        Settings()


async def test_the_worker_gets_the_cache_size(time_skipping_env: WorkflowEnvironment, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    upgrade(url)
    worker = build_worker(
        time_skipping_env.client, "q", Adapters(store=SqlStore(make_engine(url))), max_cached_workflows=7
    )
    assert worker.config()["max_cached_workflows"] == 7
