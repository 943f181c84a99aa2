"""Erasure on request (GDPR Art. 17; Shopify's `customers/redact`): a client's personal data leaves the engine.

For each trial of the client: the data key its payloads in Temporal are sealed with is destroyed (crypto-
shredding: the histories Temporal still holds decode to `[erased]`), and the read model keeps ids, states,
dates and amounts only (domain/erasure.py, `SqlStore.erase_trial`); subscribers receive `trial.erased`. The
ledger keeps its amounts and ids: the legal retention of accounts.

A trial still running, or inside its refund window (its workflow waits), is erased when its workflow closes:
its key is still needed to run it. `sweep` erases those that have closed; a worker runs it every
`SWEEP_SECONDS`, and every request runs it once for its own trials.
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from persistence.erasure import ErasureBook, SqlTrialKeys
from persistence.store import SqlStore
from security.codec import EncryptionCodec

log = logging.getLogger(__name__)
SWEEP_SECONDS = 30.0


@dataclass(frozen=True)
class ErasedTrial:
    trial_id: str
    order_id: str
    state: Literal["erased", "waiting"]  # waiting: its workflow still runs (erased when it closes)


class Erasure:
    def __init__(self, temporal: Client, store: SqlStore) -> None:
        self._temporal = temporal
        self._store = store
        self._book = ErasureBook(store.engine)
        self._keys = SqlTrialKeys(store.engine)

    async def request(self, customer_id: str, by: str) -> list[ErasedTrial] | None:
        """Erase the client: their closed trials now, the others when they close. None: no trial of theirs."""
        trials = await asyncio.to_thread(self._book.request, customer_id, by, datetime.now(UTC))
        if not trials:
            return None
        log.info("erasure of %d trial(s) requested by %s", len(trials), by)
        await self.sweep(trials)
        return await self.status(customer_id)

    async def status(self, customer_id: str) -> list[ErasedTrial]:
        rows = await asyncio.to_thread(self._book.of, customer_id)
        return [
            ErasedTrial(r.trial_id, r.trial_id.removeprefix("style-trial-"), "erased" if r.erased_at else "waiting")
            for r in rows
        ]

    async def sweep(self, trial_ids: list[str] | None = None) -> list[str]:
        """Erase each pending trial (those named, or every one waiting) whose workflow has closed."""
        pending = set(await asyncio.to_thread(self._book.pending, 1000))
        done = []
        for trial_id in sorted(pending if trial_ids is None else pending & set(trial_ids)):
            if await self._running(trial_id):
                continue
            now = datetime.now(UTC)
            await asyncio.to_thread(self._keys.destroy, trial_id, now)
            codec = self._temporal.data_converter.payload_codec
            if isinstance(codec, EncryptionCodec):
                codec.forget(trial_id)
            await asyncio.to_thread(self._store.erase_trial, trial_id, now)
            await asyncio.to_thread(self._book.done, trial_id, now)
            done.append(trial_id)
        if done:
            log.info("erased %d trial(s)", len(done))
        return done

    async def _running(self, trial_id: str) -> bool:
        try:
            described = await self._temporal.get_workflow_handle(trial_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False  # Temporal's retention deleted it already
            raise
        return described.status == WorkflowExecutionStatus.RUNNING


async def sweep_erasures(temporal: Client, store: SqlStore, seconds: float = SWEEP_SECONDS) -> None:
    """Beside a worker: erase the trials waiting for their workflows to close, as they close."""
    erasure = Erasure(temporal, store)
    while True:
        try:
            await erasure.sweep()
        except Exception as err:  # the database or Temporal away for a moment: the next round tries again
            log.warning("erasure sweep failed: %s", type(err).__name__)
        await asyncio.sleep(seconds)
