"""The trial's own clock: seven days (the policy's) from the last delivery, extensions by staff, and the
reminders before the end.

`TrialClock` owns when the trial ends, how many days it was extended by, and which reminders went out. It
writes what happens to the `Journal`. Whether the trial is in a state to start, be extended or be reminded
of is the trial's question (`domain.trial.Trial`).
"""

from datetime import datetime, timedelta

from domain import commands as cmd
from domain.errors import ErrorCode, require
from domain.journal import Journal
from domain.policy import TrialPolicy
from domain.status import Attention
from domain.steps import NotificationKind


def hours(d: timedelta) -> int:
    return round(d.total_seconds() / 3600)


class TrialClock:
    def __init__(self, policy: TrialPolicy, trial_days: int, journal: Journal) -> None:
        self._policy = policy
        self._journal = journal
        self.trial_days = trial_days
        self.extension_days = 0
        self.ends_at: datetime | None = None
        self.reminders_sent: set[tuple[int, datetime]] = set()
        # Extensions the client took themselves, and a request of theirs waiting for their shopper.
        self.client_extensions = 0
        self.request_waiting = False

    def start(self, start: datetime, now: datetime) -> None:
        """The trial runs from `start` (when the last parcel arrived, or when the last one was given up)."""
        self.ends_at = start + self._policy.day * self.trial_days
        self._journal.clear(Attention.DELIVERY_OVERDUE, Attention.RESHIP_OVERDUE)
        self._journal.event(now, "trial_started", f"Trial runs until {self.ends_at:%d %b %H:%M} UTC.")
        self._journal.tell_the_journey(
            NotificationKind.TRIAL_STARTED, f"The trial has started; it ends {self.ends_at:%d %b %H:%M} UTC.",
            {"days": str(self.trial_days)}, about=self.ends_at,
        )  # fmt: skip

    def at_least(self, until: datetime, now: datetime) -> None:
        """The trial runs at least until `until` (a replacement arrived late: it has its exchange days)."""
        assert self.ends_at is not None
        if until <= self.ends_at:
            return
        self.ends_at = until
        text = f"A replacement arrived: the trial runs until {until:%d %b %H:%M} UTC for it to be decided."
        self._journal.event(now, "trial_end_moved", text)

    def past_end(self, now: datetime) -> bool:
        # A deadline can pass a moment before the workflow's timer fires and `tick` runs; commands that
        # arrive in that gap are judged by the clock, not by the not-yet-updated state.
        return self.ends_at is not None and now >= self.ends_at

    def check_extension(self, c: cmd.Extension, now: datetime, on_trial: bool) -> None:
        require(not self.past_end(now), ErrorCode.TRIAL_CLOSED, "The trial has already ended.")
        require(
            on_trial, ErrorCode.NOT_ON_TRIAL,
            "Only a trial in progress (every parcel delivered, not yet closed) can be extended.",
        )  # fmt: skip
        p = self._policy
        require(
            p.extension_min_days <= c.days <= p.extension_max_days,
            ErrorCode.INVALID_EXTENSION,
            f"An extension is {p.extension_min_days} to {p.extension_max_days} days at a time; got {c.days}.",
        )
        require(
            self.extension_days + c.days <= p.extension_total_max_days,
            ErrorCode.EXTENSION_LIMIT,
            f"Extensions are capped at {p.extension_total_max_days} days in total; "
            f"{self.extension_days} already granted, {p.extension_total_max_days - self.extension_days} left.",
        )

    def extend(self, c: cmd.Extension, now: datetime) -> None:
        assert self.ends_at is not None
        self.extension_days += c.days
        self.ends_at += self._policy.day * c.days
        self._journal.event(
            now, "extended", f"Extended by {c.days} day(s) to {self.ends_at:%d %b %H:%M} UTC.",
            actor=c.actor, reason=c.reason,
        )  # fmt: skip
        if self.request_waiting:  # the shopper answered the client's request: the client hears the new end
            self.drop_request()
            self._tell_new_end(c.days)

    def client_may_take(self, days: int) -> bool:
        """Within what the client may take themselves (their tier's policy), and within the limits of all."""
        p = self._policy
        return (
            days <= p.client_extension_days and self.client_extensions < p.client_extensions
            and self.extension_days + days <= p.extension_total_max_days
        )  # fmt: skip

    def days_asked(self, c: cmd.ExtensionRequest) -> int:
        """The days a client's request asks for: as many as they said, or what they may take themselves."""
        return self._policy.client_extension_days if c.days is None else c.days

    def request(self, c: cmd.ExtensionRequest, now: datetime) -> None:
        """The client asked for more days: granted now when they may take them themselves; otherwise their
        shopper is asked (needs attention, with the client's words) and the client told so."""
        days = self.days_asked(c)
        if self.client_may_take(days):
            self.client_extensions += 1
            granted = cmd.Extension(days=days, reason="Asked by the client, within their policy", actor="client")
            self.extend(granted, now)
            self._tell_new_end(days)
            return
        self.request_waiting = True
        words = f' "{c.words}"' if c.words else ""
        text = f"The client asks for {days} more day(s){words}; beyond what they may take themselves."
        self._journal.event(now, "extension_requested", text, actor="client", channel=c.channel, reference=c.reference)
        self._journal.flag(Attention.EXTENSION_REQUESTED, f"{text} Extend the trial, or tell the client.", now)
        self._journal.notify(NotificationKind.EXTENSION_REQUESTED, ["shopper", "staff"], text)
        self._journal.tell_the_client(
            NotificationKind.EXTENSION_ASKED, "The client was told their shopper will answer.", {}
        )

    def drop_request(self) -> None:
        """The client's request for more time is answered (extended) or moot (the trial closed)."""
        self.request_waiting = False
        self._journal.clear(Attention.EXTENSION_REQUESTED)

    def _tell_new_end(self, days: int) -> None:
        assert self.ends_at is not None
        text = f"The trial was extended by {days} day(s); it ends {self.ends_at:%d %b %H:%M} UTC."
        self._journal.tell_the_client(NotificationKind.EXTENSION_GRANTED, text, {"days": str(days)}, about=self.ends_at)

    def remind(self, number: int, now: datetime, client: bool = True) -> None:
        """The policy's reminder `number` before the end (a deadline's effect). `client`: the client is told
        too, which they are not when they have decided every piece (there is nothing left to ask them)."""
        ends = self.ends_at
        if ends is None or now >= ends:
            return  # a reminder that would arrive after the end is not sent
        self.reminders_sent.add((number, ends))
        text = f"The Style Trial ends in {hours(ends - now)} hours ({ends:%d %b %H:%M} UTC)."
        # What the client must know besides the end: how long they then have to send pieces back.
        return_days = round(self._policy.return_window / self._policy.day)
        self._journal.notify(
            NotificationKind.TRIAL_ENDING, ["client", "shopper"] if client else ["shopper"], text, about=ends,
            facts={"return_days": str(return_days)},
        )  # fmt: skip
        if self._journal.tells_the_client:
            # In the audit trail (and so a `trial.reminder` event) only for trials since the client-messages
            # patch: for older ones it would be a change of view, so a projection their histories do not have.
            self._journal.event(now, "reminded", f"Reminder sent: {text}")
