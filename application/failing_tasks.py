"""Trials whose workflow task keeps failing, flagged where staff look (the read model's needs-attention)."""

import asyncio
import logging

from temporalio.client import Client

from application.trials import TrialService
from domain.trial import order_id_of
from persistence.store import SqlStore
from workflows.style_trial import WORKFLOW_NAME

log = logging.getLogger("styletrial.worker")


async def watch_failing_tasks(client: Client, store: SqlStore, every: float = 30.0) -> None:
    """Keep the read model's needs-attention flag in step with trials whose workflow task keeps failing.

    Such a trial cannot speak for itself (its code is what fails), and its money may be in flight, so it
    must never be silent. Temporal marks it (TemporalReportedProblems, after two failures in a row); this
    copies the mark into the read model, where GET, the needs-attention list and `styletrial trial list
    --attention` show it. Every worker runs it; the writes are idempotent.
    """
    while True:
        try:
            await flag_failing_tasks(client, store)
        except Exception as err:  # Temporal or the database is away: try again next round
            log.warning("could not check for failing workflow tasks: %s", type(err).__name__)
        await asyncio.sleep(every)


async def flag_failing_tasks(client: Client, store: SqlStore) -> dict[str, str]:
    failing: dict[str, str] = {}
    query = f"WorkflowType = '{WORKFLOW_NAME}' AND ExecutionStatus = 'Running' AND TemporalReportedProblems IS NOT NULL"
    async for wf in client.list_workflows(query):
        problems = wf.search_attributes.get("TemporalReportedProblems") or []
        cause = next((str(p).removeprefix("cause=") for p in problems if str(p).startswith("cause=")), "unknown")
        failing[wf.id] = f"Its workflow task keeps failing ({cause}); see docs/durability.md to recover it."
    for trial_id in failing:
        if await asyncio.to_thread(store.view, order_id_of(trial_id)) is None:
            # It failed before it ever reported: enter it as it opened (revision 0, so the workflow's own
            # first projection replaces it), so that the flag has a row to stand on.
            opening = await TrialService(client, "").opening_view(order_id_of(trial_id))
            await asyncio.to_thread(store.project, 0, opening)
    await asyncio.to_thread(store.mark_failing_tasks, failing)
    return failing
