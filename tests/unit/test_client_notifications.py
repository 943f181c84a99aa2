"""Which messages reach the client: the confirmation, the summary and a refund only for trials that tell the
client (the workflow's `client-messages` patch) and whose order names a way to reach them; reminders as
before."""

from datetime import timedelta

from domain import commands as cmd
from domain.examples import decisions, order, parcels
from domain.order import ClientContact
from domain.steps import NotificationKind
from domain.view import view_of
from tests.domain_support import Driver

CONTACT = ClientContact(channel="email", address="client@example.com", locale="fr", time_zone="Europe/Paris")


def with_contact(n: int = 3):
    o = order(n)
    return o.model_copy(update={"customer": o.customer.model_copy(update={"contact": CONTACT})})


def a_whole_trial(d: Driver, *, to_the_end: bool = True) -> list[tuple[NotificationKind, bool]]:
    d.trial.dispatch(parcels([["p1", "p2", "p3"]]), d.now)
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.settle()
    d.advance(timedelta(days=6))
    d.trial.decide(decisions(keep=["p1", "p2", "p3"], ret=[]), d.now)
    d.trial.finish_early(cmd.FinishEarly(actor="client"), d.now)
    d.settle()
    d.advance(timedelta(days=20))
    assert d.trial.finished or not to_the_end
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


def test_a_refunded_client_is_told_once_with_the_amount_and_the_piece():
    d = Driver(with_contact(), tells_the_client=True, refunds_after_completion=True)
    a_whole_trial(d, to_the_end=False)
    assert view_of(d.trial).status == "COMPLETED" and d.trial.refunds_until is not None  # in its refund window
    d.trial.refund(cmd.Refund(piece_id="p2", reason="a seam opened", actor="cr-1", amount=30_000), d.now)
    d.settle()
    (told,) = [n for n in d.notifier.sent.values() if n.kind == NotificationKind.REFUNDED]
    assert told.audience == ["shopper", "client"] and told.contact == CONTACT
    piece = d.trial.pieces["p2"].description
    assert told.facts == {"amount": "30000", "currency": d.trial.currency, "piece": piece}


def test_an_older_trial_tells_only_the_shopper_of_a_refund():
    d = Driver(with_contact(), refunds_after_completion=True)
    a_whole_trial(d, to_the_end=False)
    assert view_of(d.trial).status == "COMPLETED" and d.trial.refunds_until is not None  # in its refund window
    d.trial.refund(cmd.Refund(piece_id="p2", reason="goodwill", actor="cr-1"), d.now)
    d.settle()
    (told,) = [n for n in d.notifier.sent.values() if n.kind == NotificationKind.REFUNDED]
    assert told.audience == ["shopper"] and told.contact is None


def test_every_message_tells_the_trial_s_own_numbers_under_a_non_default_policy():
    """A ten-day trial with five days to send back, charged in yen: every message the client receives says
    ten, five and the amounts as each language writes yen, never the default seven or three."""
    from activities.messages import LOCALES, money, render
    from domain.policy import DAY, TrialPolicy

    policy = TrialPolicy(trial_days=10, max_trial_days=14, return_window=5 * DAY)
    o = with_contact()
    o = o.model_copy(update={"currency": "JPY", "pieces": [p.model_copy(update={"price": 64_000}) for p in o.pieces]})
    d = Driver(o, policy=policy, tells_the_client=True)
    d.trial.journal.tells_the_journey = True  # as the workflow sets it since its `client-journey` patch
    d.trial.dispatch(parcels([["p1", "p2", "p3"]]), d.now)
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.settle()
    d.advance(timedelta(days=9))  # both reminders
    d.trial.decide(decisions(keep=["p1", "p2"], ret=["p3"]), d.now)
    d.trial.finish_early(cmd.FinishEarly(actor="client"), d.now)
    d.settle()
    d.advance(timedelta(days=20))  # p3 never sent back: kept after the return window, and charged
    told = [n for n in d.notifier.sent.values() if n.contact is not None]
    kinds = [n.kind for n in told]
    assert kinds[:3] == [
        NotificationKind.TRIAL_CONFIRMED,
        NotificationKind.PARCEL_DISPATCHED,
        NotificationKind.TRIAL_STARTED,
    ]
    assert kinds.count(NotificationKind.TRIAL_ENDING) == 2
    assert kinds[-1] == NotificationKind.TRIAL_SUMMARY
    assert kinds.count(NotificationKind.RECEIPT) == 2 and kinds.count(NotificationKind.RETURN_DUE) == 1
    for locale in LOCALES:
        contact = CONTACT.model_copy(update={"locale": locale})
        for n in told:
            message = render(n, contact, n.about - timedelta(hours=24) if n.about else d.now)
            assert message is not None, n.kind
            if n.kind in (NotificationKind.TRIAL_CONFIRMED, NotificationKind.TRIAL_STARTED):
                assert "10" in message.parameters and "10" in message.text, message.text
            if n.kind == NotificationKind.PARCEL_DISPATCHED:
                link = "https://www.dhl.com/global-en/home/tracking.html?tracking-id=TRK1"  # DHL's page for it
                assert message.parameters[1:] == ["3", "DHL", "TRK1", link] and link in message.text, message.text
            if n.kind == NotificationKind.TRIAL_ENDING:
                assert message.parameters[-1] == "5" and "5" in message.text, message.text
            if n.kind == NotificationKind.TRIAL_SUMMARY:
                assert money(192_000, "JPY", locale) in message.text, message.text
            if n.kind == NotificationKind.RECEIPT:
                assert money(64_000, "JPY", locale) in message.parameters[1], message.parameters
                assert "4242" in message.parameters[3], "the card the simulated gateway held (a Visa test card)"
            if n.kind == NotificationKind.RETURN_DUE:  # p3 is still with the client a day before the window closes
                assert n.about == d.trial.return_deadline and message.parameters[1] == "1", message.parameters
            for default in ("seven", "sieben", "sette", "sept ", "7日"):
                assert default not in message.text, (locale, message.text)


def test_the_journey_is_told_per_parcel_and_at_the_start_only_by_trials_since_the_patch():
    journey = Driver(with_contact(4), tells_the_client=True)
    journey.trial.journal.tells_the_journey = True
    before = Driver(with_contact(4), tells_the_client=True)
    for d in (journey, before):
        d.trial.dispatch(parcels([["p1", "p2"], ["p3", "p4"]]), d.now)
        d.settle()
        for tracking in ("TRK1", "TRK2"):
            d.trial.deliver(cmd.Delivery(tracking_number=tracking), d.now)
        d.settle()
    told = [n for n in journey.notifier.sent.values() if n.contact is not None]
    dispatched = [n.facts["tracking"] for n in told if n.kind == NotificationKind.PARCEL_DISPATCHED]
    assert dispatched == ["TRK1", "TRK2"]
    [started] = [n for n in told if n.kind == NotificationKind.TRIAL_STARTED]
    assert started.about == journey.trial.trial_ends_at and started.facts == {"days": "7"}
    kinds = {n.kind for n in before.notifier.sent.values()}
    assert not kinds & {NotificationKind.PARCEL_DISPATCHED, NotificationKind.TRIAL_STARTED}


def test_a_lost_parcel_a_return_received_and_a_damaged_piece_are_told_to_the_client():
    from activities.messages import LOCALES, render

    d = Driver(with_contact(4), tells_the_client=True)
    d.trial.journal.tells_the_journey = True
    d.trial.dispatch(parcels([["p1", "p2"], ["p3", "p4"]]), d.now)
    d.settle()
    d.trial.declare_lost(cmd.LostParcel(tracking_number="TRK2", reason="carrier lost it", actor="cr-1"), d.now)
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.settle()
    d.trial.decide(decisions(keep=[], ret=["p1", "p2"]), d.now)
    d.trial.finish_early(cmd.FinishEarly(actor="client"), d.now)
    d.trial.ship_return(cmd.ReturnShipped(piece_ids=["p1", "p2"], carrier="DHL", tracking_number="R1"), d.now)
    inspections = [cmd.Inspection(piece_id="p1", condition="ok"), cmd.Inspection(piece_id="p2", condition="damaged")]
    d.trial.inspect_all(cmd.Inspections(inspections=inspections), d.now)
    d.settle()
    told = [n for n in d.notifier.sent.values() if n.contact is not None]
    kinds = [n.kind for n in told]
    lost = told[kinds.index(NotificationKind.PARCEL_LOST)]
    assert lost.audience == ["shopper", "staff", "client"] and lost.facts["tracking"] == "TRK2"
    i = kinds.index(NotificationKind.RETURN_RECEIVED)
    assert kinds[i + 1] == NotificationKind.PIECE_DAMAGED and told[i].facts == {"pieces": "2"}
    assert told[i + 1].facts["piece"] == d.trial.pieces["p2"].description
    for locale in LOCALES:
        contact = CONTACT.model_copy(update={"locale": locale})
        for n in told:
            message = render(n, contact, d.now)
            assert message is not None and "{" not in message.text, (locale, n.kind)


def test_every_template_names_its_parameters_and_every_language():
    """A kind with a template but no parameters would never be sent (render answers None): caught here."""
    from activities.messages import LOCALES, PARAMETERS, TEMPLATES

    assert set(TEMPLATES) == set(PARAMETERS)
    for kind, (_, languages) in TEMPLATES.items():
        assert set(languages) == set(LOCALES), kind


def test_a_client_who_has_decided_every_piece_is_not_asked_to_decide_again():
    """The 48 h and 24 h reminders ask the client which pieces they keep: untrue once they have decided them
    all, so then only the shopper hears (trials that tell the return's journey); a client still deciding
    is reminded as before."""
    for decided, client_reminders in ((["p1", "p2", "p3"], 0), (["p1"], 2)):
        d = Driver(with_contact(), tells_the_client=True)
        d.trial.journal.tells_the_journey = d.trial.returns.tells_returns = True
        d.trial.dispatch(parcels([["p1", "p2", "p3"]]), d.now)
        d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
        d.trial.decide(decisions(keep=decided, ret=[]), d.now)
        d.settle()
        d.advance(timedelta(days=7))
        reminders = [n for n in d.notifier.sent.values() if n.kind == NotificationKind.TRIAL_ENDING]
        assert len(reminders) == 2 and all("shopper" in n.audience for n in reminders)
        assert sum("client" in n.audience for n in reminders) == client_reminders, decided
