"""Links a client opens from a message (security/links.py): they carry their order and choice, are refused
once changed by a character, under a key not configured, or after their time; and an email offer lists its
slots, each with its link, while a WhatsApp one carries them as buttons."""

from datetime import UTC, datetime, timedelta

from activities.messages import LABEL, read_choice, render, slot_choice
from domain.order import ClientContact
from domain.steps import Notification, NotificationKind
from security.links import Links

KEYS = {"k1": b"\x01" * 32, "k2": b"\x02" * 32}
NOW = datetime(2026, 12, 7, 10, tzinfo=UTC)


def test_a_link_reads_back_what_it_carries_until_its_time():
    links = Links(KEYS, "k1", "https://trials.example.com/")
    url = links.url("A-1", "label", NOW + timedelta(days=3), "de", "Europe/Berlin")
    assert url.startswith("https://trials.example.com/v1/client-choices/")
    token = url.rsplit("/", 1)[1]
    link = links.read(token, NOW)
    assert link is not None and (link.order_id, link.choice, link.locale, link.zone) == (
        "A-1", "label", "de", "Europe/Berlin",
    )  # fmt: skip
    assert links.read(token, NOW + timedelta(days=4)) is None, "expired"
    assert Links(KEYS, "k2", "https://x").read(token, NOW) is not None, "every configured key still reads it"
    assert Links({"k2": KEYS["k2"]}, "k2", "https://x").read(token, NOW) is None, "a retired key's"
    body, key_id, mac = token.split(".")
    for changed in (f"{body}x.{key_id}.{mac}", f"{body}.{key_id}.{mac[:-1]}0", f"{body}.k2.{mac}", "a.b", "x" * 500):
        assert links.read(changed, NOW) is None, changed


def test_a_choice_reads_back_as_a_slot_or_the_label_and_nothing_else():
    start = datetime(2026, 12, 9, 8, tzinfo=UTC)
    assert read_choice(slot_choice(start, start + timedelta(hours=4))) == (start, start + timedelta(hours=4))
    assert read_choice(" Label ") == LABEL
    for other in ("keep 1", "collect:yesterday", "collect:" + "9" * 80, ""):
        assert read_choice(other) is None


def test_an_offer_by_email_links_each_slot_and_on_whatsapp_buttons_them():
    offer = Notification(
        key="k", trial_id="style-trial-A-1", kind=NotificationKind.COLLECTION_OFFER, audience=["client"],
        shopper_id=None, message="", order_id="A-1", about=NOW + timedelta(days=10), facts={"pieces": "2"},
    )  # fmt: skip
    email = ClientContact(channel="email", address="c@example.com", locale="en", time_zone="America/New_York")
    links = Links(KEYS, "k1", "https://trials.example.com")
    by_email = render(offer, email, NOW, lambda o, c, u: links.url(o, c, u, email.locale, email.time_zone))
    assert by_email is not None and by_email.text.count("https://trials.example.com/v1/client-choices/") == 4
    assert "Tue, Dec 8 9:00\u202fAM–1:00\u202fPM" in by_email.text, by_email.text  # New York's morning
    whatsapp = ClientContact(channel="whatsapp", address="+12125550100", locale="en", time_zone="America/New_York")
    by_whatsapp = render(offer, whatsapp, NOW)
    assert by_whatsapp is not None and "client-choices" not in by_whatsapp.text
    assert len(by_whatsapp.buttons) == 4 and by_whatsapp.buttons[-1] == LABEL
    assert read_choice(by_whatsapp.buttons[0]) == (
        datetime(2026, 12, 8, 14, tzinfo=UTC),
        datetime(2026, 12, 8, 18, tzinfo=UTC),
    )
    late = offer.model_copy(update={"about": NOW + timedelta(days=1)})
    assert render(late, whatsapp, NOW) is None, "too late for three slots: nothing untrue is sent"


def test_a_tracking_link_is_the_carrier_s_page_or_the_number_itself():
    from activities.messages import tracking_link

    assert (
        tracking_link("DHL Express", "JD 0146/7")
        == "https://www.dhl.com/global-en/home/tracking.html?tracking-id=JD%200146%2F7"
    )
    assert tracking_link("Royal Mail", "RM1") == "https://www.royalmail.com/track-your-item#/tracking-results/RM1"
    assert tracking_link("Corriere Locale", "CL-9") == "CL-9", "no page known: the number"
    assert (
        tracking_link("Corriere Locale", "CL-9", {"corrierelocale": "https://cl.example/{tracking}"})
        == "https://cl.example/CL-9"
    )
