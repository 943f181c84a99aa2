"""Which messages reach the client: the confirmation and the summary only for trials that tell the client
(the workflow's `client-messages` patch) and whose order names a way to reach them; reminders as before."""

from datetime import timedelta

from domain import commands as cmd
from domain.examples import decisions, order, parcels
from domain.order import ClientContact
from domain.steps import NotificationKind
from tests.domain_support import Driver

CONTACT = ClientContact(channel="email", address="client@example.com", locale="fr", time_zone="Europe/Paris")


def with_contact(n: int = 3):
    o = order(n)
    return o.model_copy(update={"customer": o.customer.model_copy(update={"contact": CONTACT})})


def a_whole_trial(d: Driver) -> list[tuple[NotificationKind, bool]]:
    d.trial.dispatch(parcels([["p1", "p2", "p3"]]), d.now)
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.settle()
    d.advance(timedelta(days=6))
    d.trial.decide(decisions(keep=["p1", "p2", "p3"], ret=[]), d.now)
    d.trial.finish_early(cmd.FinishEarly(actor="client"), d.now)
    d.settle()
    d.advance(timedelta(days=20))
    assert d.trial.finished
    return [(n.kind, n.contact is not None) for n in d.notifier.sent.values()]


def test_a_trial_that_tells_the_client_confirms_reminds_and_sums_up():
    d = Driver(with_contact(), tells_the_client=True)
    sent = a_whole_trial(d)
    assert [e.kind for e in d.trial.journal.events].count("reminded") == 2, "trial.reminder events"
    assert sent[0] == (NotificationKind.TRIAL_CONFIRMED, True)
    assert sent[-1] == (NotificationKind.TRIAL_SUMMARY, True)
    assert (NotificationKind.TRIAL_ENDING, True) in sent


def test_an_older_trial_or_an_order_without_a_contact_sends_no_confirmation_nor_summary():
    for d in (Driver(with_contact()), Driver(order(3), tells_the_client=True)):
        kinds = {kind for kind, _ in a_whole_trial(d)}
        assert not kinds & {NotificationKind.TRIAL_CONFIRMED, NotificationKind.TRIAL_SUMMARY}
    older = Driver(with_contact())
    a_whole_trial(older)
    assert "reminded" not in [e.kind for e in older.trial.journal.events], "older trials' views are unchanged"
