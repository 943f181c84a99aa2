"""Messages that can wait wait for the client's daytime (TrialPolicy.client_daytime, 08:00-21:00 of their
own clock by default): the team's copy goes at once, the client's when their day begins, on a durable timer;
answers to what the client has just done go at any hour. The driver's clock is the notifier's, so the hour
is the test's, not the machine's."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from activities.messages import wait_for_daytime
from domain import commands as cmd
from domain.examples import decisions, order, parcels
from domain.order import ClientContact
from domain.policy import TrialPolicy
from domain.steps import Notification, NotificationKind
from tests.domain_support import Driver

ROME = ClientContact(channel="whatsapp", address="+393331234567", locale="it", time_zone="Europe/Rome")


def driver(policy: TrialPolicy | None = None) -> Driver:
    o = order(3)
    o = o.model_copy(update={"customer": o.customer.model_copy(update={"contact": ROME})})
    return Driver(o, policy=policy, tells_the_client=True, tells_the_journey=True)


def to_client(d: Driver, kind: NotificationKind) -> list[Notification]:
    return [n for n in d.notifier.sent.values() if n.kind == kind and "client" in n.audience]


def at(d: Driver, hour: int, minute: int = 0) -> None:
    """Move the driver to the next `hour:minute` UTC (Rome is an hour ahead in winter)."""
    target = d.now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    d.advance((target if target > d.now else target + timedelta(days=1)) - d.now)


def test_a_parcel_sent_in_the_client_s_night_is_told_when_their_day_begins():
    d = driver()
    at(d, 21, 30)  # 22:30 in Rome
    d.trial.dispatch(parcels([["p1", "p2", "p3"]]), d.now)
    d.settle()
    assert not to_client(d, NotificationKind.PARCEL_DISPATCHED)
    assert d.trial.next_deadline(d.now) is not None
    at(d, 6, 59)
    assert not to_client(d, NotificationKind.PARCEL_DISPATCHED), "not before 08:00 in Rome"
    at(d, 7, 0)
    (told,) = to_client(d, NotificationKind.PARCEL_DISPATCHED)
    assert told.key.endswith("-daytime") and told.not_before == d.now == datetime(2026, 11, 3, 7, tzinfo=UTC)


def test_the_team_hears_of_a_lost_parcel_at_once_and_the_client_in_the_morning():
    d = driver()
    d.trial.dispatch(parcels([["p1"], ["p2", "p3"]]), d.now)
    d.settle()
    at(d, 23)
    lost = cmd.LostParcel(tracking_number="TRK1", reason="carrier lost it", actor="cr.amelia")
    d.trial.declare_lost(lost, d.now)
    d.settle()
    (team,) = [n for n in d.notifier.sent.values() if n.kind == NotificationKind.PARCEL_LOST]
    assert team.audience == ["shopper", "staff"] and team.contact is None
    at(d, 7)
    (client,) = to_client(d, NotificationKind.PARCEL_LOST)
    assert client.audience == ["client"] and client.contact == ROME


def test_an_answer_to_the_client_s_own_act_goes_at_any_hour():
    d = driver()
    d.trial.dispatch(parcels([["p1", "p2", "p3"]]), d.now)
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.settle()
    at(d, 22)
    d.trial.decide(decisions(keep=["p1", "p3"], ret=["p2"]), d.now)
    label = cmd.ReturnLabel(actor="client", channel="whatsapp")
    d.trial.issue_return_label(label, d.now)
    d.settle()
    assert to_client(d, NotificationKind.RETURN_LABEL_ISSUED), "the label the client just asked for"
    assert not to_client(d, NotificationKind.COLLECTION_OFFER), "the offer can wait for the morning"


def test_a_trial_that_completes_in_the_night_stays_open_until_its_summary_is_sent():
    d = driver(TrialPolicy(refund_window=timedelta(hours=1)))
    d.trial.dispatch(parcels([["p1", "p2", "p3"]]), d.now)
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.settle()
    at(d, 21, 30)
    d.trial.decide(decisions(keep=["p1", "p2", "p3"], ret=[]), d.now)
    d.trial.finish_early(cmd.FinishEarly(actor="client"), d.now)
    d.settle()
    assert d.trial.final_status == "COMPLETED" and not d.trial.finished
    assert not to_client(d, NotificationKind.TRIAL_SUMMARY)
    at(d, 7)
    assert to_client(d, NotificationKind.TRIAL_SUMMARY) and to_client(d, NotificationKind.RECEIPT)
    assert d.trial.finished


def test_a_time_scaled_policy_has_no_daytime():
    assert TrialPolicy().client_daytime == (8, 21)
    assert TrialPolicy().scaled(1000).client_daytime is None


def test_the_day_begins_on_the_client_s_clock():
    n = Notification(
        key="k", trial_id="t", kind=NotificationKind.RECEIPT, audience=["client"], shopper_id=None, message="",
        contact=ClientContact(channel="email", address="c@example.jp", time_zone="Asia/Tokyo"), daytime=(8, 21),
    )  # fmt: skip
    tokyo = ZoneInfo("Asia/Tokyo")
    assert wait_for_daytime(n, datetime(2026, 12, 7, 9, 0, tzinfo=tokyo)) is None
    assert wait_for_daytime(n, datetime(2026, 12, 7, 3, 0, tzinfo=tokyo)) == datetime(2026, 12, 7, 8, tzinfo=tokyo)
    assert wait_for_daytime(n, datetime(2026, 12, 7, 21, 0, tzinfo=tokyo)) == datetime(2026, 12, 8, 8, tzinfo=tokyo)
    assert wait_for_daytime(n.model_copy(update={"daytime": None}), datetime(2026, 12, 7, 3, tzinfo=tokyo)) is None
