"""Notifications to the client, their personal shopper and staff."""

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from temporalio import activity

from activities.messages import wait_for_daytime
from activities.ports import Notifier
from domain.steps import Notification, NotificationResult

log = logging.getLogger(__name__)


class LoggedNotifier:
    """The record a running engine keeps of each notification: a log line of ids, and nothing in memory (the
    messages to clients are kept in the database, `MessageRecord`). A worker sends notifications for as long
    as it runs: keeping each one, as `RecordingNotifier` does for tests, grew its memory without bound."""

    async def send(self, notification: Notification) -> bool:
        log.info("notify %s of %s: %s", "+".join(notification.audience), notification.trial_id, notification.kind)
        return True


class RecordingNotifier(LoggedNotifier):
    """The tests' notifier: keeps each message once (by key) for a test to read, and logs it as a running
    engine does. A running engine records with `LoggedNotifier`, and sends with `ClientMessages`."""

    def __init__(self) -> None:
        self.sent: dict[str, Notification] = {}

    async def send(self, notification: Notification) -> bool:
        if notification.key not in self.sent:
            self.sent[notification.key] = notification
            await super().send(notification)
        return True

    def of_kind(self, trial_id: str, kind: str) -> list[Notification]:
        return [n for n in self.sent.values() if n.trial_id == trial_id and n.kind == kind]


async def deliver(notifier: Notifier, notification: Notification, now: datetime) -> NotificationResult:
    """Send `notification`; in the client's night, a message that can wait goes to the team only, and the
    answer says until when the client's copy waits (the trial holds it on a durable timer)."""
    until = wait_for_daytime(notification, now)
    if until is None:
        return NotificationResult(delivered=await notifier.send(notification))
    team = [who for who in notification.audience if who != "client"]
    if team:
        await notifier.send(notification.model_copy(update={"audience": team, "contact": None}))
    log.info("%s waits for the client's day (%s)", notification.key, until.isoformat())
    return NotificationResult(delivered=False, defer_until=until)


class NotificationActivities:
    def __init__(self, notifier: Notifier, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._notifier = notifier
        self._clock = clock

    @activity.defn(name="notifications.send")
    async def send(self, notification: Notification) -> NotificationResult:
        return await deliver(self._notifier, notification, self._clock())
