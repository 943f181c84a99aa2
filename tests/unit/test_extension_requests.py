"""The client asks, the policy answers: more days granted at once within what the client's tier lets them
take themselves, otherwise their personal shopper is asked with the client's words, and the client hears
either way. Read from WhatsApp in every language the engine writes in."""

from datetime import timedelta

import pytest

from domain import commands as cmd
from domain.errors import DomainError, ErrorCode
from domain.examples import order, parcels
from domain.order import ClientContact
from domain.policy import TrialPolicy
from domain.replies import Ambiguous, read_extension_request
from domain.status import Attention
from domain.steps import NotificationKind
from tests.domain_support import Driver

CONTACT = ClientContact(channel="whatsapp", address="+393331234567", locale="it", time_zone="Europe/Rome")


def on_trial(policy: TrialPolicy | None = None) -> Driver:
    o = order(2)
    o = o.model_copy(update={"customer": o.customer.model_copy(update={"contact": CONTACT})})
    d = Driver(o, policy=policy, tells_the_client=True, tells_the_journey=True)
    d.trial.dispatch(parcels([["p1", "p2"]]), d.now)
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.settle()
    return d


def ask(d: Driver, days: int | None, words: str = "Can I have more days?") -> None:
    c = cmd.ExtensionRequest(days=days, words=words, channel="whatsapp", reference="wamid.1")
    d.trial.validate_extension_request(c, d.now)
    d.trial.request_extension(c, d.now)
    d.settle()


def told(d: Driver, kind: NotificationKind) -> list:  # type: ignore[type-arg]
    return [n for n in d.notifier.sent.values() if n.kind == kind]


def test_within_the_policy_the_client_gets_the_days_at_once_and_hears_the_new_end():
    d = on_trial()
    end = d.trial.trial_ends_at
    assert end is not None
    ask(d, None)  # "more days" with no number: what the client may take (3 by default)
    assert d.trial.trial_ends_at == end + timedelta(days=3) and d.trial.clock.extension_days == 3
    (granted,) = told(d, NotificationKind.EXTENSION_GRANTED)
    assert granted.audience == ["client"] and granted.about == d.trial.trial_ends_at and granted.facts["days"] == "3"
    extended = [e for e in d.trial.journal.events if e.kind == "extended"]
    assert extended[-1].actor == "client"


def test_beyond_the_policy_the_shopper_is_asked_with_the_client_s_words_and_answers_by_extending():
    d = on_trial()
    ask(d, 2)
    end = d.trial.trial_ends_at
    ask(d, 2, "Posso avere altri 2 giorni? Sono in viaggio")  # a second request: beyond once per trial
    assert d.trial.trial_ends_at == end, "not granted by itself"
    assert Attention.EXTENSION_REQUESTED in d.trial.journal.attention
    (to_shopper,) = told(d, NotificationKind.EXTENSION_REQUESTED)
    assert to_shopper.audience == ["shopper", "staff"] and "Sono in viaggio" in to_shopper.message
    assert told(d, NotificationKind.EXTENSION_ASKED)[0].audience == ["client"]
    with pytest.raises(DomainError) as err:
        d.trial.validate_extension_request(cmd.ExtensionRequest(days=1, channel="whatsapp"), d.now)
    assert err.value.code == ErrorCode.EXTENSION_REQUEST_WAITING
    d.trial.extend(cmd.Extension(days=2, reason="Client travelling", actor="ps-7"), d.now)
    d.settle()
    assert Attention.EXTENSION_REQUESTED not in d.trial.journal.attention
    assert len(told(d, NotificationKind.EXTENSION_GRANTED)) == 2, "the client hears the shopper's answer"


def test_a_tier_that_gives_more_lets_its_clients_take_more():
    d = on_trial(TrialPolicy(client_extension_days=7, client_extensions=2))
    ask(d, 7)
    ask(d, 5)
    assert d.trial.clock.extension_days == 12 and not d.trial.journal.attention


@pytest.mark.parametrize("days", [0, 30])
def test_a_request_for_no_days_or_beyond_every_limit_is_refused(days):
    d = on_trial()
    with pytest.raises(DomainError) as err:
        d.trial.validate_extension_request(cmd.ExtensionRequest(days=days, channel="whatsapp"), d.now)
    assert err.value.code == ErrorCode.INVALID_EXTENSION


def test_after_the_end_there_is_no_more_time_to_give():
    d = on_trial()
    d.advance(timedelta(days=8))
    with pytest.raises(DomainError) as err:
        d.trial.validate_extension_request(cmd.ExtensionRequest(channel="whatsapp"), d.now)
    assert err.value.code in (ErrorCode.TRIAL_CLOSED, ErrorCode.NOT_ON_TRIAL)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("Can I have three more days?", 3), ("could I have 2 more days please", 2), ("another day please", 1),
        ("I need a little longer", None), ("Kann ich 2 Tage mehr haben?", 2), ("Kann ich verlängern?", None),
        ("posso avere altri 3 giorni?", 3), ("Puis-je avoir deux jours de plus ?", 2), ("あと3日延長できますか", 3),
    ],
)  # fmt: skip
def test_a_reply_asking_for_time_is_read_in_every_language(text, days):
    assert read_extension_request(text) == days


@pytest.mark.parametrize("text", ["keep 1, 3; return 2", "thank you!", "when does it end?"])
def test_a_reply_that_does_not_ask_for_time_is_not_an_extension(text):
    assert isinstance(read_extension_request(text), Ambiguous)
