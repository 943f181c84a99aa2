"""The weekly buying digest as a workflow: a Temporal Schedule starts it every Monday (bootstrap.py), so its
runs are visible, pausable and can be triggered by hand in the Temporal UI (Schedules). It decides which
week (the last whole one before the run, unless the input names one) and has the activity mail it; the
activity's retries and the digest book make a week mailed once."""

from datetime import date, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.digest import DigestActivities, DigestResult, DigestRun
    from domain.digest import week_ending_before

SCHEDULE_ID = "styletrial-buying-digest"


@workflow.defn(name="BuyingDigest")
class BuyingDigestWorkflow:
    @workflow.run
    async def run(self, run: DigestRun) -> DigestResult:
        week_ending: date = run.week_ending or week_ending_before(workflow.now().date())
        return await workflow.execute_activity_method(
            DigestActivities.send_buying_digest,
            week_ending,
            start_to_close_timeout=timedelta(minutes=5),
            # A mail server away for a while: try again for a few hours, then the run fails visibly.
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=30), maximum_interval=timedelta(minutes=30),
                                     maximum_attempts=12),
            summary=f"the clients' week ending {week_ending}",
        )  # fmt: skip
