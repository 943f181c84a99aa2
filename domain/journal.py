"""What people learn from a trial: the audit trail, the messages waiting to go out, and why it needs staff.

The trial and its payments write here; the workflow sends the messages (`outbox`) one at a time and the
read model shows the rest. Messages carry ids and amounts, never personal data.
"""

from dataclasses import dataclass, field
from datetime import datetime

from domain.order import ClientContact
from domain.status import Attention
from domain.steps import AT_ONCE, Audience, Notification, NotificationKind


@dataclass
class Event:
    seq: int
    at: datetime
    kind: str
    detail: str
    actor: str | None = None
    channel: str | None = None
    reference: str | None = None
    reason: str | None = None
    piece_ids: list[str] = field(default_factory=list)


@dataclass
class Journal:
    trial_id: str
    shopper_id: str | None
    order_id: str | None = None
    contact: ClientContact | None = None  # the client's, for the messages to the client
    # Whether the trial confirms its opening and sums up its end to the client: set by the workflow, since
    # trials started before it do not (their histories have no such messages to replay).
    tells_the_client: bool = False
    # Whether it also tells the client of the journey (each parcel sent, the trial's start): set by the
    # workflow, since trials started before it did not.
    tells_the_journey: bool = False
    # The client's daytime (domain.policy.TrialPolicy.client_daytime): messages to the client that can wait
    # wait for it (the notifier says until when, `defer`).
    daytime: tuple[int, int] | None = None
    events: list[Event] = field(default_factory=list)
    outbox: list[Notification] = field(default_factory=list)
    notifications_sent: int = 0
    attention: dict[Attention, str] = field(default_factory=dict)
    # Since when each reason has needed staff (its age in the queue), and who owns it, once assigned.
    attention_since: dict[Attention, datetime] = field(default_factory=dict)
    attention_owner: dict[Attention, str] = field(default_factory=dict)

    def event(
        self, now: datetime, kind: str, detail: str, *, actor: str | None = None, channel: str | None = None,
        reference: str | None = None, reason: str | None = None, piece_ids: list[str] | None = None,
    ) -> None:  # fmt: skip
        seq = len(self.events) + 1
        self.events.append(Event(seq, now, kind, detail, actor, channel, reference, reason, list(piece_ids or [])))

    def notify(
        self, kind: NotificationKind, audience: list[Audience], message: str, *, about: datetime | None = None,
        facts: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.notifications_sent += 1
        self.outbox.append(
            Notification(
                key=f"{self.trial_id}-notification-{self.notifications_sent}", trial_id=self.trial_id, kind=kind,
                audience=audience, shopper_id=self.shopper_id, message=message, order_id=self.order_id,
                contact=self.contact if "client" in audience else None, about=about, facts=facts or {},
                daytime=self.daytime if "client" in audience and kind not in AT_ONCE else None,
            )
        )  # fmt: skip

    @property
    def reaches_the_client(self) -> bool:
        """The trial tells the client, and the order names a way to reach them."""
        return self.tells_the_client and self.contact is not None

    @property
    def reaches_the_client_on_the_way(self) -> bool:
        """The trial also tells the client of the journey (parcels, the start, returns), and reaches them."""
        return self.tells_the_journey and self.reaches_the_client

    def with_the_client(self, audience: list[Audience], *, on_the_way: bool = False) -> list[Audience]:
        """`audience`, and the client when the trial reaches them (`on_the_way`: for a journey message). One
        notification with one more addressee, so the workflow schedules what it always did."""
        reached = self.reaches_the_client_on_the_way if on_the_way else self.reaches_the_client
        return [*audience, "client"] if reached else audience

    def tell_the_client(
        self, kind: NotificationKind, message: str, facts: dict[str, str], about: datetime | None = None
    ) -> None:
        """A message only the client receives, when the trial reaches the client."""
        if self.reaches_the_client:
            self.notify(kind, ["client"], message, facts=facts, about=about)

    def tell_the_journey(
        self, kind: NotificationKind, message: str, facts: dict[str, str], about: datetime | None = None
    ) -> None:
        """A message to the client along the way, when the trial tells the journey and reaches the client."""
        if self.reaches_the_client_on_the_way:
            self.notify(kind, ["client"], message, about=about, facts=facts)

    def sent(self, key: str) -> None:
        self.outbox = [n for n in self.outbox if n.key != key]

    def defer(self, key: str, until: datetime) -> None:
        """It is night where the client is: the team's copy went, the client's waits until `until`, as a
        message of its own (its own key, so a retry of either is recognised as sent)."""
        waiting = next(n for n in self.outbox if n.key == key)
        self.sent(key)
        later = {"key": f"{key}-daytime", "audience": ["client"], "not_before": until, "daytime": None}
        self.outbox.append(waiting.model_copy(update=later))

    def withdraw(self, *kinds: NotificationKind) -> None:
        """Messages of these kinds that have not gone yet no longer go (what they said is no longer true)."""
        self.outbox = [n for n in self.outbox if n.kind not in kinds]

    def due(self, now: datetime | None) -> Notification | None:
        """The first message that may go now (all of them, when `now` is None)."""
        return next((n for n in self.outbox if now is None or n.not_before is None or n.not_before <= now), None)

    def flag(self, reason: Attention, text: str, now: datetime) -> None:
        """The trial needs staff for `reason`: its text says what to do; its age counts from the first flag."""
        self.attention[reason] = text
        self.attention_since.setdefault(reason, now)

    def clear(self, *reasons: Attention) -> None:
        for reason in reasons:
            self.attention.pop(reason, None)
            self.attention_since.pop(reason, None)
            self.attention_owner.pop(reason, None)
