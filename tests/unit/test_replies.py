"""A client's reply read as decisions, in every language the engine writes in; anything uncertain is
ambiguous and decides nothing."""

import pytest

from domain.replies import Ambiguous, read_reply

PIECES = ["p1", "p2", "p3", "p4", "p5"]


def decided(text: str) -> dict[str, str]:
    read = read_reply(text, PIECES)
    assert not isinstance(read, Ambiguous), read
    return {d.piece_id: d.decision for d in read}


@pytest.mark.parametrize(
    "text",
    [
        "keep 1, 3; return 2",
        "Keep 1 and 3. Return 2",
        "behalten 1, 3; zurück 2",
        "tengo 1 e 3; rendo 2",
        "je garde 1, 3 ; retour 2",
        "キープ 1、3; 返品 2",
        "KEEP p1, p3\nreturn p2",
        "1, 3 keep; 2 return",
    ],
)
def test_a_reply_in_any_language_decides(text: str):
    assert decided(text) == {"p1": "keep", "p3": "keep", "p2": "return"}


def test_all_names_every_piece():
    assert decided("return all") == dict.fromkeys(PIECES, "return")


@pytest.mark.parametrize(
    "text",
    ["", "thanks!", "keep", "keep 9", "keep 1; return 1", "keep 1 return 2 maybe", "keep p9", "keep and return 1"],
)
def test_an_uncertain_reply_is_ambiguous(text: str):
    assert isinstance(read_reply(text, PIECES), Ambiguous)


@pytest.mark.parametrize(
    ("text", "reasons"),
    [
        ("return 2, too small; keep 1", {"p2": "too_small", "p1": None}),
        ("return 2 too big", {"p2": "too_large"}),
        ("return 2 and 3 not as pictured", {"p2": "not_as_pictured", "p3": "not_as_pictured"}),
        ("return all, changed my mind", {"p1": "changed_mind", "p2": "changed_mind", "p3": "changed_mind"}),
        ("keep 1; return 3, doesn't fit", {"p1": None, "p3": "fit"}),
        ("return 2 colour", {"p2": "colour"}),
    ],
)
def test_a_return_clause_may_say_why(text: str, reasons: dict[str, str | None]):
    decided = read_reply(text, ["p1", "p2", "p3"])
    assert not isinstance(decided, Ambiguous), decided
    assert {d.piece_id: d.reason for d in decided} == reasons


def test_a_reason_in_a_clause_that_only_keeps_is_ambiguous():
    assert isinstance(read_reply("keep 1 too small", ["p1", "p2"]), Ambiguous)


def test_a_fingerprint_recognises_its_number_only_and_survives_a_key_rotation():
    from security.fingerprint import Fingerprints, whatsapp_number

    old, new = b"o" * 32, b"n" * 32
    before = Fingerprints({"k1": old}, "k1")
    made = before.of(whatsapp_number("+393339876543"))
    assert made.startswith("k1:") and "393339876543" not in made
    after = Fingerprints({"k1": old, "k2": new}, "k2")
    assert after.matches("393339876543", made), "checked with the key it names"
    assert after.of("393339876543").startswith("k2:")
    assert not after.matches("447700900123", made)
    assert not after.matches("393339876543", None) and not after.matches("393339876543", "k9:00")
    assert not Fingerprints({"k2": new}, "k2").matches("393339876543", made)


def test_an_inbound_payload_is_read_message_by_message_within_its_limits():
    from application.replies import MAX_MESSAGES, Inbound

    good = {"from": "393339876543", "id": "wamid.1", "type": "text", "text": {"body": "keep 1"}}
    bad = {**good, "text": "keep 1"}
    payload = {"entry": [{"changes": [{"value": {"messages": [good, bad] * 20, "statuses": {"id": "x"}}}]}]}
    inbound = Inbound(payload)
    assert len(inbound.messages) == MAX_MESSAGES and inbound.dropped == 40 - MAX_MESSAGES
    assert inbound.messages[0] is not None and inbound.messages[0].reply() == "keep 1"
    assert inbound.messages[1] is None and inbound.statuses == []
    assert Inbound("nonsense").messages == [] and Inbound(None).messages == []
