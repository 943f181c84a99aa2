"""The weekly buying digest on the dev server: a worker's start-up creates its Temporal Schedule (again on
every start, without a second schedule, and a pause staff made in the UI survives it); the schedule's run
(triggered by hand, as staff can in the UI) mails the Head of Buying last week's clients' words, through a
real SMTP server, once."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import ScheduleActionExecutionStartWorkflow
from temporalio.testing import WorkflowEnvironment

from activities.digest import DigestResult
from application.schedules import ensure_digest_schedule
from bootstrap import build_worker, default_adapters
from config import Settings
from domain import commands as cmd
from domain.digest import week_bounds, week_ending_before
from domain.examples import order, parcels
from domain.view import view_of
from persistence.migrate import upgrade
from tests.domain_support import Driver
from tests.machine import Mailbox
from tests.waiting import eventually

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(120)]


async def test_the_schedule_is_ensured_at_start_up_and_its_run_mails_last_week(
    dev_env: WorkflowEnvironment, tmp_path, mailbox: tuple[Mailbox, int]
):
    box, port = mailbox
    settings = Settings(
        task_queue=f"digest-{uuid.uuid4()}", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'd.sqlite'}",
        smtp_host="127.0.0.1", smtp_port=port, smtp_from="trials@example.com", smtp_starttls=False,
        buying_digest_to="head.buying@example.com, buyer@example.com",
    )  # fmt: skip
    upgrade(settings.resolved_database_url)
    adapters = default_adapters(settings)
    # Last week (the one a run today covers), a client found a Brioni jacket too small, and said so.
    start, _ = week_bounds(week_ending_before(datetime.now(UTC).date()))

    def last_week() -> None:  # the domain's driver runs its own event loop: on a thread
        o = order(2)
        pieces = [p.model_copy(update={"designer": "Brioni", "size": "50"}) for p in o.pieces]
        d = Driver(o.model_copy(update={"pieces": pieces}), start=start + timedelta(days=1))
        d.trial.dispatch(parcels([["p1", "p2"]]), d.now)
        d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
        said = [
            cmd.PieceDecision(piece_id="p1", decision="keep"),
            cmd.PieceDecision(piece_id="p2", decision="return", reason="too_small", feedback="Snug on the shoulders."),
        ]
        d.trial.decide(cmd.Decisions(decisions=said, actor="client", channel="whatsapp"), d.now)
        adapters.store.project(1, view_of(d.trial))

    await asyncio.to_thread(last_week)
    client = dev_env.client
    handle = await ensure_digest_schedule(client, settings.task_queue, "Europe/London")
    try:
        described = await handle.describe()
        (calendar,) = described.schedule.spec.calendars
        assert [r.start for r in calendar.day_of_week] == [1] and [r.start for r in calendar.hour] == [7]
        assert described.schedule.spec.time_zone_name == "Europe/London"
        # Paused by staff in the UI; the next start-up brings the settings and leaves it paused.
        await handle.pause(note="Buying is on holiday")
        again = await ensure_digest_schedule(client, settings.task_queue, "UTC")
        assert again.id == handle.id
        state = (await handle.describe()).schedule.state
        assert state.paused and state.note == "Buying is on holiday"
        assert (await handle.describe()).schedule.spec.time_zone_name == "UTC"
        ids = [s.id async for s in await client.list_schedules()]
        assert ids.count(handle.id) == 1
        await handle.unpause()
        async with build_worker(client, settings.task_queue, adapters):
            await handle.trigger()

            async def mailed() -> Any:
                return box.messages[0] if box.messages else None

            message = await eventually(mailed, "the digest to be mailed")
            assert message["To"] == "head.buying@example.com, buyer@example.com"
            text = message.get_body(("plain",)).get_content()
            html = message.get_body(("html",)).get_content()
            assert "Brioni: 1 of 2 returned (too small 1)" in text and '"Snug on the shoulders." (size 50' in text
            assert "Snug on the shoulders." in html
            # The run is a workflow the schedule started: it says what it did.
            (run,) = (await handle.describe()).info.recent_actions
            assert isinstance(run.action, ScheduleActionExecutionStartWorkflow)
            result = await client.get_workflow_handle(run.action.workflow_id, result_type=DigestResult).result()
            assert result.sent and result.why == "2 pieces decided"
        assert len(box.messages) == 1
    finally:
        await handle.delete()
        adapters.store.engine.dispose()
