"""Returns the client does not organise (collections, labels) and carriers' scans that move the trial, on the
aggregate with the embedded returns provider: what each scan changes, what it refuses, and the money."""

import asyncio
from datetime import datetime, timedelta

import pytest

from domain import commands as cmd
from domain.errors import DomainError, ErrorCode
from domain.examples import decisions, order, parcels
from domain.order import ClientContact
from domain.pieces import PieceState
from domain.steps import NotificationKind, ReturnBookingRequest, ReturnBookingResult
from domain.view import view_of
from tests.domain_support import Driver

CONTACT = ClientContact(channel="whatsapp", address="+393331234567", locale="it", time_zone="Europe/Rome")
HOUR = timedelta(hours=1)


def on_trial(*, address: bool = True) -> Driver:
    """Three pieces delivered by the carrier's scan (no fulfilment call after dispatch); p2 decided return."""
    o = order(3)
    o = o.model_copy(update={"customer": o.customer.model_copy(update={"contact": CONTACT})})
    if not address:
        o = o.model_copy(update={"shipping_address": None})
    d = Driver(o, tells_the_client=True, tells_the_journey=True)
    d.trial.dispatch(parcels([["p1", "p2", "p3"]]), d.now)
    d.settle()
    d.advance(HOUR)
    scan(d, "TRK1", "delivered", d.now - timedelta(minutes=5))
    assert d.trial.trial_ends_at is not None, "the carrier's delivery started the clock"
    d.trial.decide(decisions(keep=["p1"], ret=["p2"]), d.now)
    return d


def scan(d: Driver, tracking: str, status: cmd.ScanStatus, at: datetime | None = None) -> None:
    c = cmd.CarrierScan(tracking_number=tracking, status=status, occurred_at=at or d.now)
    d.trial.validate_carrier_scan(c, d.now)
    d.trial.record_carrier_scan(c, d.now)
    d.settle()


def refused(d: Driver, tracking: str, status: cmd.ScanStatus, at: datetime | None = None) -> ErrorCode:
    c = cmd.CarrierScan(tracking_number=tracking, status=status, occurred_at=at or d.now)
    with pytest.raises(DomainError) as err:
        d.trial.validate_carrier_scan(c, d.now)
    return err.value.code


def slot(d: Driver, starts_in: timedelta = timedelta(days=1), hours: int = 4) -> cmd.Slot:
    return cmd.Slot(starts_at=d.now + starts_in, ends_at=d.now + starts_in + hours * HOUR)


def collect(d: Driver) -> str:
    c = cmd.CollectionBooking(slot=slot(d), actor="client", channel="whatsapp")
    d.trial.validate_collection(c, d.now)
    d.trial.book_collection(c, d.now)
    d.settle()
    booking = d.trial.bookings.bookings[-1]
    assert booking.state == "booked" and booking.tracking_number
    return booking.tracking_number


def told(d: Driver) -> list[NotificationKind]:
    return [n.kind for n in d.notifier.sent.values() if "client" in n.audience]


def test_a_collection_is_booked_collected_received_and_never_charged():
    d = on_trial()
    tracking = collect(d)
    booking = view_of(d.trial).return_bookings[0]
    assert (booking.kind, booking.piece_ids, booking.carrier) == ("collection", ["p2"], "Style Trial Courier")
    label = d.labels.by_key(f"{d.trial.trial_id}-return-booking-1")
    assert label is not None and label.pdf.startswith(b"%PDF") and label.tracking_number == tracking
    (booked,) = [n for n in d.notifier.sent.values() if n.kind == NotificationKind.COLLECTION_BOOKED]
    assert booked.facts["label_url"].endswith(label.token) and booked.about == booking.slot_starts_at

    d.advance(timedelta(days=1, hours=1))
    scan(d, tracking, "accepted")
    p2 = d.trial.pieces["p2"]
    assert p2.state == PieceState.RETURN_IN_TRANSIT and p2.return_tracking == tracking
    d.advance(timedelta(days=1))
    scan(d, tracking, "delivered")
    assert p2.return_received_at == d.now
    d.trial.inspect(cmd.Inspection(piece_id="p2", condition="ok"), d.now)
    d.advance(timedelta(days=10))
    assert d.trial.finished and d.trial.pieces["p2"].state == PieceState.RETURNED and not p2.charged
    assert d.trial.payments.charged == 2 * 120_000, "p1 and p3 kept and charged, p2 never"
    kinds = told(d)
    assert kinds.count(NotificationKind.RETURN_RECEIVED) == 1, "the inspection does not tell it again"
    for kind in (NotificationKind.COLLECTION_BOOKED, NotificationKind.RETURN_SHIPPED, NotificationKind.RETURN_RECEIVED):
        assert kind in kinds


def test_scans_twice_late_or_unknown_change_nothing_and_say_why():
    d = on_trial()
    assert refused(d, "TRK1", "delivered") == ErrorCode.SCAN_CHANGES_NOTHING, "the same scan again"
    assert refused(d, "TRK1", "in_transit") == ErrorCode.SCAN_CHANGES_NOTHING, "late in transit after delivered"
    assert refused(d, "NOPE", "delivered") == ErrorCode.UNKNOWN_PARCEL
    assert refused(d, "TRK1", "delivered", d.now + HOUR) == ErrorCode.INVALID_SCAN_TIME
    tracking = collect(d)
    d.advance(timedelta(days=1, hours=2))
    scan(d, tracking, "delivered")  # out of order: the first scan we hear of is the delivery
    assert d.trial.pieces["p2"].state == PieceState.RETURN_IN_TRANSIT and d.trial.pieces["p2"].return_received_at
    for status in ("accepted", "in_transit", "delivered"):
        assert refused(d, tracking, status) == ErrorCode.SCAN_CHANGES_NOTHING


def test_an_outbound_scan_before_delivery_changes_nothing():
    d = Driver(order(2))
    d.trial.dispatch(parcels([["p1"], ["p2"]]), d.now)
    d.settle()
    assert refused(d, "TRK1", "out_for_delivery") == ErrorCode.SCAN_CHANGES_NOTHING
    assert refused(d, "TRK1", "delivered", d.now - HOUR) == ErrorCode.INVALID_DELIVERY_TIME, "before dispatch"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda d: d.trial.validate_collection(cmd.CollectionBooking(
            slot=cmd.Slot(starts_at=d.now - HOUR, ends_at=d.now + HOUR), actor="cr", channel="phone"), d.now),
         ErrorCode.INVALID_SLOT),
        (lambda d: d.trial.validate_collection(cmd.CollectionBooking(
            slot=slot(d, hours=12), actor="cr", channel="phone"), d.now), ErrorCode.INVALID_SLOT),
        (lambda d: d.trial.validate_collection(cmd.CollectionBooking(
            slot=slot(d, starts_in=timedelta(days=30)), actor="cr", channel="phone"), d.now), ErrorCode.INVALID_SLOT),
        (lambda d: d.trial.validate_return_label(cmd.ReturnLabel(actor="cr", channel="phone", piece_ids=["p1"]),
                                                 d.now), ErrorCode.NOTHING_TO_RETURN),
        (lambda d: d.trial.validate_return_label(cmd.ReturnLabel(actor="cr", channel="phone", piece_ids=["p9"]),
                                                 d.now), ErrorCode.UNKNOWN_PIECE),
        (lambda d: d.trial.validate_return_label(cmd.ReturnLabel(actor=" ", channel="phone"), d.now),
         ErrorCode.ACTOR_REQUIRED),
    ],
    ids=["slot started", "slot too long", "slot after the return deadline", "piece kept", "unknown piece", "no actor"],
)  # fmt: skip
def test_a_booking_that_breaks_a_rule_is_refused_with_its_code(change, code):
    d = on_trial()
    before = view_of(d.trial)
    with pytest.raises(DomainError) as err:
        change(d)
    assert err.value.code == code
    assert view_of(d.trial) == before


def test_a_piece_is_in_one_live_booking_and_an_order_without_an_address_cannot_book():
    d = on_trial()
    collect(d)
    with pytest.raises(DomainError) as err:
        d.trial.validate_return_label(cmd.ReturnLabel(actor="cr", channel="phone", piece_ids=["p2"]), d.now)
    assert err.value.code == ErrorCode.PIECE_ALREADY_BOOKED
    with pytest.raises(DomainError) as err:
        d.trial.validate_return_label(cmd.ReturnLabel(actor="cr", channel="phone"), d.now)
    assert err.value.code == ErrorCode.NOTHING_TO_RETURN, "every piece going back is booked already"
    nowhere = on_trial(address=False)
    with pytest.raises(DomainError) as err:
        nowhere.trial.validate_return_label(cmd.ReturnLabel(actor="cr", channel="phone"), nowhere.now)
    assert err.value.code == ErrorCode.NO_SHIPPING_ADDRESS


def test_a_booked_piece_whose_scan_arrives_after_the_deadline_is_not_charged_if_it_happened_before():
    d = on_trial()
    d.advance(timedelta(days=7))  # the trial closed: p2 awaits its return
    assert d.trial.pieces["p2"].state == PieceState.AWAITING_RETURN
    deadline = d.trial.return_deadline
    assert deadline is not None
    d.advance(deadline - d.now - timedelta(hours=6))
    label = cmd.ReturnLabel(actor="client", channel="whatsapp")
    d.trial.issue_return_label(label, d.now)
    d.settle()
    tracking = d.trial.bookings.bookings[0].tracking_number
    assert tracking is not None
    d.advance(timedelta(hours=7))  # past the deadline: the booked piece waits for its scan
    assert d.trial.pieces["p2"].state == PieceState.AWAITING_RETURN
    scan(d, tracking, "in_transit", at=deadline - HOUR)  # dropped off before the deadline, heard of after
    assert view_of(d.trial).pieces[1].state == PieceState.RETURN_IN_TRANSIT


def test_a_booked_piece_with_no_scan_is_kept_once_the_grace_has_passed():
    d = on_trial()
    d.advance(timedelta(days=7))
    d.trial.issue_return_label(cmd.ReturnLabel(actor="client", channel="whatsapp"), d.now)
    d.settle()
    deadline = d.trial.return_deadline
    assert deadline is not None
    d.advance(deadline - d.now + d.trial.policy.scan_grace + HOUR)
    assert d.trial.pieces["p2"].state == PieceState.KEPT_UNRETURNED
    d.advance(timedelta(days=1))
    assert d.trial.pieces["p2"].charged


def test_a_booking_the_provider_refuses_fails_and_tells_the_shopper_and_the_client():
    d = on_trial()

    class Refusing:
        async def book(self, req: ReturnBookingRequest) -> ReturnBookingResult:
            return ReturnBookingResult(booked=False, failure_code="no_service", failure_message="No courier there.")

    works, d.returns = d.returns, Refusing()  # type: ignore[assignment]
    c = cmd.CollectionBooking(slot=slot(d), actor="cr", channel="phone")
    d.trial.book_collection(c, d.now)
    d.settle()
    booking = view_of(d.trial).return_bookings[0]
    assert (booking.state, booking.failure) == ("failed", "No courier there.")
    (failed,) = [n for n in d.notifier.sent.values() if n.kind == NotificationKind.RETURN_BOOKING_FAILED]
    assert failed.audience == ["shopper", "staff", "client"]
    d.returns = works
    collect(d)  # the pieces are free to book again


def test_a_retried_label_is_the_same_label():
    d = on_trial()
    d.trial.issue_return_label(cmd.ReturnLabel(actor="cr", channel="phone"), d.now)
    step = d.trial.next_step(d.now)
    assert isinstance(step, ReturnBookingRequest)
    first, again = asyncio.run(d.returns.book(step)), asyncio.run(d.returns.book(step))
    assert first == again and len(d.labels.labels) == 1


def test_every_return_message_reads_in_every_language_with_the_trial_s_own_facts():
    from babel.dates import format_time

    from activities.messages import LOCALES, render, when, zone_of

    d = on_trial()
    tracking = collect(d)
    d.advance(timedelta(days=1, hours=1))
    scan(d, tracking, "in_transit")
    d.trial.decide(decisions(keep=[], ret=["p3"]), d.now)
    d.trial.issue_return_label(cmd.ReturnLabel(actor="client", channel="whatsapp"), d.now)
    d.settle()
    booking = d.trial.bookings.bookings[0]
    assert booking.slot_starts_at is not None
    new = (NotificationKind.COLLECTION_BOOKED, NotificationKind.RETURN_SHIPPED, NotificationKind.RETURN_LABEL_ISSUED)
    told = [n for n in d.notifier.sent.values() if n.kind in new]
    assert [n.kind for n in told] == list(new)
    for locale in LOCALES:
        contact = CONTACT.model_copy(update={"locale": locale})
        for n in told:
            message = render(n, contact, d.now)
            assert message is not None and "{" not in message.text, (locale, n.kind)
            assert n.facts["tracking"] in message.parameters and n.facts["tracking"] in message.text
            if n.kind != NotificationKind.RETURN_SHIPPED:
                assert n.facts["label_url"].startswith("http://styletrial.test/v1/return-labels/")
                assert n.facts["label_url"] in message.text
            if n.kind == NotificationKind.COLLECTION_BOOKED:  # the slot on the client's clock (Rome: UTC+1)
                assert when(booking.slot_starts_at, zone_of(contact), locale) in message.text
                until = format_time(booking.slot_ends_at, "short", tzinfo=zone_of(contact), locale=locale)
                assert message.parameters[4] == until and until in message.text, message.parameters


def test_a_return_at_the_warehouse_that_nobody_inspects_is_taken_as_returned_never_charged():
    d = on_trial()
    tracking = collect(d)
    d.advance(timedelta(days=1, hours=1))
    scan(d, tracking, "delivered")
    d.advance(timedelta(days=20))  # past the receipt window: no inspection came
    p2 = d.trial.pieces["p2"]
    assert p2.state == PieceState.RETURNED and not p2.charged and d.trial.finished
    assert "return_lost" not in d.trial.journal.attention, "not lost: the warehouse has it"
