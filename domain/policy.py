"""Business policy as one immutable value that travels in the workflow input.

The workflow never reads settings: whatever policy a trial started with is the policy it replays with.
"""

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
    # How long past the return deadline a piece booked with a carrier waits for the carrier's scan to reach
    # the engine (a scan that happened before the deadline ships it); kept as unreturned after that.
    scan_grace: timedelta = 2 * DAY
    dispatch_sla: timedelta = 3 * DAY
    delivery_sla: timedelta = 10 * DAY
    extension_min_days: int = 1
    extension_max_days: int = 7
    extension_total_max_days: int = 14
    reminders_before_end: tuple[timedelta, ...] = (48 * HOUR, 24 * HOUR)
    payment_fix_window: timedelta = 24 * HOUR
    reauthorize_before_expiry: timedelta = DAY
    # How long after a trial completes support may still refund a charged piece (a late return accepted
    # as goodwill, a fault found after keeping); the trial's workflow stays open, waiting, until then.
    refund_window: timedelta = 30 * DAY
    # Delays after the first declined settlement attempt at which the charge is tried again.
    dunning_schedule: tuple[timedelta, ...] = Field(default=(DAY, 3 * DAY, 7 * DAY))
    # How many days a client may add to their trial themselves ("can I have three more days?"), how many
    # times; a longer or a further request goes to their personal shopper.
    client_extension_days: int = 3
    client_extensions: int = 1
    # A replacement sent for an exchange is decided like any piece: by the trial's end, and at least this many
    # days after it arrives (the end moves later when it arrives late); at most `max_exchanges` per trial.
    exchange_days: int = 3
    max_exchanges: int = 5
    # The client's daytime, in hours of their own clock (from, to): messages that can wait (reminders,
    # receipts, parcel news) wait for it, sent when it begins. None: at any hour, as a time-scaled policy
    # has it (a demo's "day" lasts seconds, so the hours of a real day mean nothing to it).
    client_daytime: tuple[int, int] | None = (8, 21)

    @model_validator(mode="after")
    def _daytime_is_a_span_of_hours(self) -> "TrialPolicy":
        if self.client_daytime is not None:
            start, end = self.client_daytime
            if not 0 <= start < end <= 24:
                raise ValueError("client_daytime is (from, to) in whole hours, 0 <= from < to <= 24")
        return self

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
                "scan_grace": s(self.scan_grace),
                "refund_window": s(self.refund_window),
                "dispatch_sla": s(self.dispatch_sla),
                "delivery_sla": s(self.delivery_sla),
                "reminders_before_end": tuple(s(d) for d in self.reminders_before_end),
                "payment_fix_window": s(self.payment_fix_window),
                "reauthorize_before_expiry": s(self.reauthorize_before_expiry),
                "dunning_schedule": tuple(s(d) for d in self.dunning_schedule),
                "client_daytime": None,
            }
        )


# The fields a tier or a region may set differently; the rest (tiers, piece limit, the day) hold for all.
OVERRIDABLE = (
    "trial_days", "max_trial_days", "return_window", "return_receipt", "dispatch_sla", "delivery_sla",
    "extension_max_days", "extension_total_max_days", "reminders_before_end", "payment_fix_window",
    "dunning_schedule", "refund_window", "client_extension_days", "client_extensions",
)  # fmt: skip


class PolicyOverride(BaseModel):
    """What one tier, one region (a hub), or one tier in one region gets differently."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tier: str | None = None
    region: str | None = None
    trial_days: int | None = None
    max_trial_days: int | None = None
    return_window: timedelta | None = None
    return_receipt: timedelta | None = None
    dispatch_sla: timedelta | None = None
    delivery_sla: timedelta | None = None
    extension_max_days: int | None = None
    extension_total_max_days: int | None = None
    reminders_before_end: tuple[timedelta, ...] | None = None
    payment_fix_window: timedelta | None = None
    dunning_schedule: tuple[timedelta, ...] | None = None
    refund_window: timedelta | None = None
    client_extension_days: int | None = None
    client_extensions: int | None = None

    def changes(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in OVERRIDABLE if getattr(self, name) is not None}

    @property
    def specificity(self) -> int:
        """Applied in this order, the later winning a field both set: a region (its hub's SLAs), then a tier
        (what the tier is offered), then that tier in that region."""
        return (2 if self.tier is not None else 0) + (1 if self.region is not None else 0)


class PolicyTable(BaseModel):
    """The policy each new trial starts with, chosen by the client's tier and region, then scaled.

    Resolved once, when the trial starts, and carried in its input: changing the table changes new trials
    only, and replay never reads it. Checked whole when it is built, so a mistake stops the process at
    start-up instead of reaching a trial: an override for a tier the policy does not accept, one that names
    neither tier nor region or changes nothing, two for the same tier and region, and any resolved policy
    with a duration or a count that is not positive or a trial longer than its maximum.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base: TrialPolicy = TrialPolicy()
    overrides: tuple[PolicyOverride, ...] = ()
    # Divides every duration of a resolved policy (a demo or an end-to-end test runs a week in seconds).
    scale: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> "PolicyTable":
        seen: set[tuple[str | None, str | None]] = set()
        for o in self.overrides:
            where = f"the override for tier={o.tier!r} region={o.region!r}"
            if o.tier is None and o.region is None:
                raise ValueError(f"{where} names neither a tier nor a region")
            if o.tier is not None and o.tier not in self.base.eligible_tiers:
                raise ValueError(f"{where}: {o.tier!r} is not a tier ({', '.join(self.base.eligible_tiers)})")
            if not o.changes():
                raise ValueError(f"{where} changes nothing")
            if (o.tier, o.region) in seen:
                raise ValueError(f"{where} is given twice")
            seen.add((o.tier, o.region))
            combos = [(o.tier or t, o.region) for t in ([o.tier] if o.tier else self.base.eligible_tiers)]
            for tier, region in combos:
                _check_policy(self._resolve(tier, region), f"the policy for tier={tier!r} region={region!r}")
        _check_policy(self.base, "the base policy")
        return self

    def for_client(self, tier: str, region: str) -> TrialPolicy:
        return self._resolve(tier, region).scaled(self.scale)

    def _resolve(self, tier: str, region: str | None) -> TrialPolicy:
        policy = self.base
        applying = [o for o in self.overrides if o.tier in (None, tier) and o.region in (None, region)]
        for o in sorted(applying, key=lambda o: o.specificity):
            policy = TrialPolicy.model_validate({**policy.model_dump(), **o.changes()})
        return policy


def _check_policy(p: TrialPolicy, what: str) -> None:
    durations = {
        "return_window": p.return_window, "return_receipt": p.return_receipt, "dispatch_sla": p.dispatch_sla,
        "delivery_sla": p.delivery_sla, "payment_fix_window": p.payment_fix_window, "day": p.day,
        "refund_window": p.refund_window,
    }  # fmt: skip
    for name, value in durations.items():
        if value <= timedelta(0):
            raise ValueError(f"{what}: {name} must be positive, not {value}")
    for name in ("reminders_before_end", "dunning_schedule"):
        if any(d <= timedelta(0) for d in getattr(p, name)):
            raise ValueError(f"{what}: every {name} must be positive")
    for name in ("trial_days", "max_trial_days", "extension_max_days", "extension_total_max_days", "max_pieces"):
        if getattr(p, name) < 1:
            raise ValueError(f"{what}: {name} must be at least 1, not {getattr(p, name)}")
    if p.trial_days > p.max_trial_days:
        raise ValueError(f"{what}: trial_days ({p.trial_days}) is more than max_trial_days ({p.max_trial_days})")
