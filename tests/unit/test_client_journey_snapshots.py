"""The whole journey's messages as the client reads them, one file per language (tests/snapshots/): a trial
delivered by the carrier, decided, extended at the client's request, collected by a courier, one piece back
damaged, charged, summed up and partly refunded. A change of copy shows here as a diff a translator can
read; regenerate on purpose with `STYLETRIAL_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/unit/test_client_journey_snapshots.py`."""

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from activities.messages import LOCALES, render
from activities.notifications import RecordingNotifier
from domain import commands as cmd
from domain.examples import decisions, order, parcels
from domain.order import ClientContact
from domain.steps import Notification
from tests.domain_support import Driver

SNAPSHOTS = Path(__file__).parents[1] / "snapshots"
CONTACT = ClientContact(channel="whatsapp", address="+393331234567", locale="en", time_zone="Europe/Rome")


class Timed(RecordingNotifier):
    """Records when each message went (the driver's clock is the notifier's), in the order they went."""

    def __init__(self, clock: Driver) -> None:
        super().__init__()
        self.clock = clock
        self.at: dict[str, datetime] = {}

    async def send(self, notification: Notification) -> bool:
        self.at.setdefault(notification.key, self.clock.now)
        return await super().send(notification)


def journey() -> tuple[list[Notification], dict[str, datetime]]:
    o = order(3, order_id="A-1001")
    o = o.model_copy(update={"customer": o.customer.model_copy(update={"contact": CONTACT})})
    d = Driver(o, tells_the_client=True, refunds_after_completion=True, tells_the_journey=True, notifier=Timed)
    d.trial.dispatch(parcels([["p1", "p2", "p3"]], carrier="DHL Express"), d.now)
    d.settle()
    d.advance(timedelta(hours=20))
    scan = cmd.CarrierScan(tracking_number="TRK1", status="delivered", occurred_at=d.now)
    d.trial.record_carrier_scan(scan, d.now)
    d.settle()
    d.advance(timedelta(days=1))
    d.trial.decide(decisions(keep=["p1"], ret=["p2", "p3"]), d.now)  # before 07:00 in Rome: the offer waits
    d.trial.request_extension(cmd.ExtensionRequest(days=2, channel="whatsapp"), d.now)  # answered at once
    d.settle()
    d.advance(timedelta(hours=5))  # the offer has gone; the client taps tomorrow's first slot
    start = d.now.replace(hour=8) + timedelta(days=1)
    slot = cmd.Slot(starts_at=start, ends_at=start + timedelta(hours=4))
    d.trial.book_collection(cmd.CollectionBooking(slot=slot, actor="client", channel="whatsapp"), d.now)
    d.settle()
    tracking = d.trial.bookings.bookings[0].tracking_number
    assert tracking is not None
    d.advance(timedelta(days=1, hours=2))
    for status in ("in_transit", "delivered"):
        d.trial.record_carrier_scan(cmd.CarrierScan(tracking_number=tracking, status=status, occurred_at=d.now), d.now)
        d.settle()
        d.advance(timedelta(hours=20))
    inspections = [
        cmd.Inspection(piece_id="p2", condition="ok"),
        cmd.Inspection(piece_id="p3", condition="damaged", note="a tear at the left seam"),
    ]
    d.trial.inspect_all(cmd.Inspections(inspections=inspections), d.now)
    d.settle()
    d.advance(timedelta(days=8))
    d.trial.refund(cmd.Refund(piece_id="p1", reason="a seam opened", actor="cr.anna", amount=30_000), d.now)
    d.settle()
    d.advance(timedelta(days=1))  # a message that waited for the client's day has gone
    assert isinstance(d.notifier, Timed)
    told = [n for n in d.notifier.sent.values() if "client" in n.audience]
    return told, d.notifier.at


def written(locale: str) -> str:
    told, at = journey()
    contact = CONTACT.model_copy(update={"locale": locale})
    lines = []
    for n in told:
        message = render(n, contact, at[n.key])
        assert message is not None, n.kind
        lines += [f"[{message.template}] {message.subject}", message.text, f"  buttons: {list(message.buttons)}", ""]
    return "\n".join(lines)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_client_reads_the_journey_as_its_snapshot_in_every_language(locale):
    path = SNAPSHOTS / f"client_journey.{locale}.txt"
    text = written(locale)
    if os.environ.get("STYLETRIAL_UPDATE_SNAPSHOTS") == "1":
        path.write_text(text)
    assert path.exists(), f"no snapshot yet: STYLETRIAL_UPDATE_SNAPSHOTS=1 to write {path.name}"
    assert text == path.read_text(), f"{path.name} changed: read the diff, then regenerate on purpose"
