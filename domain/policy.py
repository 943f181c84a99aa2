"""Business policy as one immutable value that travels in the workflow input.

The workflow never reads settings: whatever policy a trial started with is the policy it replays with.
"""

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


class TrialPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_pieces: int = 30
    eligible_tiers: tuple[str, ...] = ("EIP", "EIP_PREMIUM")
    # One "day" of the trial. Extensions and `trial_days` are counted in it, so a time-scaled demo
    # policy shrinks them with everything else.
    day: timedelta = DAY
    trial_days: int = 7
    max_trial_days: int = 14
    return_window: timedelta = 3 * DAY
    return_receipt: timedelta = 14 * DAY
    dispatch_sla: timedelta = 3 * DAY
    delivery_sla: timedelta = 10 * DAY
    extension_min_days: int = 1
    extension_max_days: int = 7
    extension_total_max_days: int = 14
    reminders_before_end: tuple[timedelta, ...] = (48 * HOUR, 24 * HOUR)
    payment_fix_window: timedelta = 24 * HOUR
    reauthorize_before_expiry: timedelta = DAY
    # Delays after the first declined settlement attempt at which the charge is tried again.
    dunning_schedule: tuple[timedelta, ...] = Field(default=(DAY, 3 * DAY, 7 * DAY))

    def scaled(self, factor: float) -> "TrialPolicy":
        """Every duration divided by `factor` (a demo or an end-to-end test runs a week in seconds)."""
        if factor == 1:
            return self

        def s(d: timedelta) -> timedelta:
            return d / factor

        return self.model_copy(
            update={
                "day": s(self.day),
                "return_window": s(self.return_window),
                "return_receipt": s(self.return_receipt),
                "dispatch_sla": s(self.dispatch_sla),
                "delivery_sla": s(self.delivery_sla),
                "reminders_before_end": tuple(s(d) for d in self.reminders_before_end),
                "payment_fix_window": s(self.payment_fix_window),
                "reauthorize_before_expiry": s(self.reauthorize_before_expiry),
                "dunning_schedule": tuple(s(d) for d in self.dunning_schedule),
            }
        )
