"""Notifications to the client, their personal shopper and staff."""

import logging

from temporalio import activity

from activities.ports import Notifier
from domain.steps import Notification, NotificationResult

log = logging.getLogger(__name__)


class RecordingNotifier:
    """Embedded notifier: records each message once (by key) and logs ids only, never personal data.

    A real adapter (WhatsApp for shoppers, e-mail for clients, a staff queue) implements the same port.
    """

    def __init__(self) -> None:
        self.sent: dict[str, Notification] = {}

    async def send(self, notification: Notification) -> bool:
        if notification.key not in self.sent:
            self.sent[notification.key] = notification
            log.info("notify %s of %s: %s", "+".join(notification.audience), notification.trial_id, notification.kind)
        return True

    def of_kind(self, trial_id: str, kind: str) -> list[Notification]:
        return [n for n in self.sent.values() if n.trial_id == trial_id and n.kind == kind]


class NotificationActivities:
    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    @activity.defn(name="notifications.send")
    async def send(self, notification: Notification) -> NotificationResult:
        return NotificationResult(delivered=await self._notifier.send(notification))
