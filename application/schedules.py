"""The engine's Temporal Schedules, created at a worker's start-up: idempotent, so every worker may ensure
them, and a staff member's pause in the Temporal UI survives a restart.

- `styletrial-buying-digest`: the weekly buying digest (workflows/buying_digest.py), Mondays at 07:00 in
  STYLETRIAL_BUYING_DIGEST_TIME_ZONE, when STYLETRIAL_BUYING_DIGEST_TO names someone. A run that would
  overlap a running one is skipped; one missed while the cluster was down is caught up within a day.
"""

import dataclasses
import logging
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleHandle,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from activities.digest import DigestRun
from workflows.buying_digest import SCHEDULE_ID, BuyingDigestWorkflow

log = logging.getLogger(__name__)


def digest_schedule(task_queue: str, time_zone: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            BuyingDigestWorkflow.run, DigestRun(), id="buying-digest", task_queue=task_queue,
            execution_timeout=timedelta(days=1),
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(day_of_week=[ScheduleRange(1)], hour=[ScheduleRange(7)],
                                            minute=[ScheduleRange(0)], second=[ScheduleRange(0)])],
            time_zone_name=time_zone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1)),
        state=ScheduleState(note="The weekly buying digest (STYLETRIAL_BUYING_DIGEST_TO); pause it here."),
    )  # fmt: skip


async def ensure_digest_schedule(client: Client, task_queue: str, time_zone: str) -> ScheduleHandle:
    """Create the digest's schedule, or bring an existing one up to these settings, keeping its state
    (paused or not, and its note) as staff left it."""
    wanted = digest_schedule(task_queue, time_zone)
    try:
        handle = await client.create_schedule(SCHEDULE_ID, wanted)
        log.info("schedule %s created", SCHEDULE_ID)
        return handle
    except ScheduleAlreadyRunningError:
        handle = client.get_schedule_handle(SCHEDULE_ID)

        def keep_state(current: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=dataclasses.replace(wanted, state=current.description.schedule.state))

        await handle.update(keep_state)
        return handle
