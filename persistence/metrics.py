"""Figures of the read model, the ledger and the outbox for Prometheus, computed when it scrapes.

The database is the truth, shared by every process: these figures are exact and the same from whichever
worker or API is scraped. A counter kept in a process's memory would count a settlement twice when its
activity is retried on another worker, and start again from zero when a process restarts. Queries are cached
for `CACHE_SECONDS`, so frequent scrapes cost a handful of small aggregate queries every few seconds.
"""

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from domain.status import TrialStatus
from persistence.models import MoneyMovementRecord, OutboxEventRecord, TrialRecord, WebhookDeliveryRecord

# How long a database-derived figure is reused between scrapes.
CACHE_SECONDS = 5.0
# The ledger's movements that take money from a client, as opposed to holds (authorize) and releases.
CHARGING_KINDS = ("capture", "charge")


class _Figures(NamedTuple):
    by_status: dict[str, int]
    attention: int
    money: list[tuple[Any, ...]]  # kind, status, currency, count, amount
    deliveries: list[tuple[Any, ...]]  # subscriber, status, count, earliest next attempt
    events: int


class ReadModelCollector(Collector):
    """Figures of the read model, the ledger and the outbox, computed when Prometheus scrapes."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.monotonic) -> None:
        self._engine = engine
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def describe(self) -> Iterable[Metric]:
        """The series' names, for the registry's duplicate check at registration: no query, and no cached
        figures from before the first scrape."""
        return [Metric(m.name, m.documentation, m.type) for m in self._families()]

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            now = self._clock()
            if self._cached is None or now - self._cached[0] >= CACHE_SECONDS:
                self._cached = (now, self._measure())
            return list(self._cached[1])

    def _measure(self) -> list[Metric]:
        return self._families(self._query())

    def _query(self) -> _Figures:
        with self._engine.connect() as conn:
            by_status = dict(conn.execute(select(TrialRecord.status, func.count()).group_by(TrialRecord.status)).all())
            attention = conn.execute(
                select(func.count()).select_from(TrialRecord).where(TrialRecord.needs_attention.is_(True))
            ).scalar_one()
            money = conn.execute(
                select(MoneyMovementRecord.kind, MoneyMovementRecord.status, MoneyMovementRecord.currency,
                       func.count(), func.coalesce(func.sum(MoneyMovementRecord.amount), 0))
                .where(MoneyMovementRecord.kind.in_((*CHARGING_KINDS, "refund")))
                .where(MoneyMovementRecord.status.in_(("succeeded", "declined")))
                .group_by(MoneyMovementRecord.kind, MoneyMovementRecord.status, MoneyMovementRecord.currency)
            ).all()  # fmt: skip
            deliveries = conn.execute(
                select(WebhookDeliveryRecord.subscriber, WebhookDeliveryRecord.status, func.count(),
                       func.min(WebhookDeliveryRecord.next_attempt_at))
                .where(WebhookDeliveryRecord.status != "delivered")
                .group_by(WebhookDeliveryRecord.subscriber, WebhookDeliveryRecord.status)
            ).all()  # fmt: skip
            events = conn.execute(select(func.count()).select_from(OutboxEventRecord)).scalar_one()
        return _Figures(by_status, attention, [tuple(r) for r in money], [tuple(r) for r in deliveries], events)

    def _families(self, figures: "_Figures | None" = None) -> list[Metric]:
        by_status, attention, money, deliveries, events = figures or _Figures({}, 0, [], [], 0)
        trials = GaugeMetricFamily("styletrial_trials", "Trials in the read model by status.", labels=["status"])
        for known in TrialStatus:
            trials.add_metric([known.value], by_status.get(known.value, 0))
        needs = GaugeMetricFamily("styletrial_trials_needing_attention", "Trials flagged for staff (any reason).")
        needs.add_metric([], attention)
        dunning = GaugeMetricFamily(
            "styletrial_dunning_in_progress", "Trials whose charge was declined and that wait for the client to pay."
        )
        dunning.add_metric([], by_status.get(TrialStatus.PAYMENT_ACTION_REQUIRED.value, 0))

        charged_n = CounterMetricFamily(
            "styletrial_settlements_charged", "Charges and captures that succeeded.", labels=["currency"]
        )
        charged_amount = CounterMetricFamily(
            "styletrial_settlements_charged_minor_units", "Money taken, in minor units.", labels=["currency"]
        )
        declined_n = CounterMetricFamily(
            "styletrial_settlements_declined", "Charges and captures the gateway declined.", labels=["currency"]
        )
        declined_amount = CounterMetricFamily(
            "styletrial_settlements_declined_minor_units", "Money asked for and declined, in minor units.",
            labels=["currency"],
        )  # fmt: skip
        refunded = CounterMetricFamily(
            "styletrial_refunds_minor_units", "Money given back to clients (refunds that succeeded), in minor units.",
            labels=["currency"],
        )  # fmt: skip
        refunds: dict[str, int] = {}
        totals: dict[tuple[str, str], list[int]] = {}
        for kind, status, currency, count, amount in money:
            if kind == "refund":
                if status == "succeeded":
                    refunds[currency] = refunds.get(currency, 0) + int(amount)
                continue
            entry = totals.setdefault((status, currency), [0, 0])
            entry[0] += int(count)
            entry[1] += int(amount)
        for (status, currency), (count, amount) in sorted(totals.items()):
            if status == "succeeded":
                charged_n.add_metric([currency], count)
                charged_amount.add_metric([currency], amount)
            else:
                declined_n.add_metric([currency], count)
                declined_amount.add_metric([currency], amount)

        for currency, amount in sorted(refunds.items()):
            refunded.add_metric([currency], amount)

        depth = GaugeMetricFamily(
            "styletrial_outbox_depth", "Webhook deliveries not yet delivered, by subscriber and status (pending, dead).",
            labels=["subscriber", "status"],
        )  # fmt: skip
        oldest = GaugeMetricFamily(
            "styletrial_outbox_oldest_due_timestamp_seconds",
            "When the earliest pending delivery of each subscriber was due (Unix time); far behind now = stuck.",
            labels=["subscriber"],
        )
        for subscriber, status, count, first_due in deliveries:
            depth.add_metric([subscriber, status], count)
            if status == "pending" and first_due is not None:
                oldest.add_metric([subscriber], first_due.timestamp())
        outbox = CounterMetricFamily("styletrial_outbox_events", "Trial events written to the outbox.")
        outbox.add_metric([], events)
        return [
            trials, needs, dunning, charged_n, charged_amount, declined_n, declined_amount, refunded, depth, oldest,
            outbox,
        ]  # fmt: skip
