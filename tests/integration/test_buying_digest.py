"""The weekly buying digest from real databases (SQLite and PostgreSQL): the week's decisions by designer and
SKU with their reasons and the clients' words, the sizes that run small, the keep rate against the week
before; rendered as text and HTML that say the same (the words escaped in HTML); mailed once per week and
recipients, however often the activity is retried; and nothing mailed without recipients or a server."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from activities.digest import DigestActivities, render
from domain import commands as cmd
from domain.digest import week_ending_before
from domain.examples import order, parcels
from domain.view import view_of
from persistence.db import make_engine
from persistence.digest import SqlDigestBook, SqlDigestSource, weekly_digest
from persistence.store import SqlStore
from tests.domain_support import Driver

WEEK_ENDING = date(2026, 11, 29)  # a Sunday
MONDAY = datetime(2026, 11, 23, 9, tzinfo=UTC)


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    engine = make_engine(db_url)
    yield SqlStore(engine)
    engine.dispose()


def decided(store: SqlStore, start: datetime, revision: int, said: list[cmd.PieceDecision], sizes: list[str]) -> None:
    o = order(len(said))
    pieces = [
        p.model_copy(update={"designer": "Loro Piana" if i else "Brioni", "size": size, "sku": f"SKU-{i}"})
        for i, (p, size) in enumerate(zip(o.pieces, sizes, strict=True))
    ]
    d = Driver(o.model_copy(update={"pieces": pieces}), start=start)
    d.trial.dispatch(parcels([[p.piece_id for p in pieces]]), d.now)
    d.trial.deliver(cmd.Delivery(tracking_number="TRK1"), d.now)
    d.settle()
    d.trial.decide(cmd.Decisions(decisions=said, actor="client", channel="whatsapp"), d.now)
    store.project(revision, view_of(d.trial))


def a_week(store: SqlStore) -> None:
    small = "Lovely, but <b>tight</b> at the waist."
    for n in range(3):  # three clients find Loro Piana's IT 40 small; one keeps the Brioni
        decided(store, MONDAY + timedelta(days=n), n + 1, [
            cmd.PieceDecision(piece_id="p1", decision="keep", feedback="Perfect." if n == 0 else None),
            cmd.PieceDecision(piece_id="p2", decision="return", reason="too_small", feedback=small),
        ], ["50", "IT 40"])  # fmt: skip
    # The week before: everything kept.
    decided(store, MONDAY - timedelta(days=7), 9, [cmd.PieceDecision(piece_id="p1", decision="keep")], ["50"])


def test_the_digest_of_a_week(store: SqlStore):
    a_week(store)
    digest = weekly_digest(store.engine, WEEK_ENDING)
    assert (digest.week_starts, digest.week_ending) == (date(2026, 11, 23), WEEK_ENDING)
    assert (digest.this_week.decided, digest.this_week.kept) == (6, 3)
    assert (digest.week_before.decided, digest.week_before.kept) == (1, 1)
    (designer,) = digest.designers
    assert (designer.key, designer.returned, designer.decided, designer.reasons) == (
        "Loro Piana", 3, 3, {"too_small": 3},
    )  # fmt: skip
    assert len(designer.quotes) == 3 and {q.size for q in designer.quotes} == {"IT 40"}
    assert [s.key for s in digest.skus] == ["SKU-1"]
    (pattern,) = digest.sizes
    assert (pattern.designer, pattern.size, pattern.too_small, pattern.verdict) == (
        "Loro Piana", "IT 40", 3, "runs small",
    )  # fmt: skip
    message = render(digest)
    assert "Keep rate: 50.0% of 6 pieces decided (-50.0 points on the week before, 100.0%)" in message.text
    assert '"Lovely, but <b>tight</b> at the waist." (size IT 40, too small)' in message.text
    assert "Loro Piana IT 40 runs small: 3 too small, 0 too large of 3" in message.text
    assert "&lt;b&gt;tight&lt;/b&gt;" in message.html and "<b>tight</b>" not in message.html
    assert "23 Nov - 29 Nov 2026" in message.subject
    empty = render(weekly_digest(store.engine, WEEK_ENDING + timedelta(days=70)))
    assert "No piece was decided this week." in empty.text


class Mail:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str], str]] = []

    async def send_mail(self, key: str, to: list[str], subject: str, text: str, html: str) -> str:
        self.sent.append((key, to, subject))
        return key


def test_a_week_is_mailed_once_and_nothing_without_recipients_or_a_server(store: SqlStore):
    a_week(store)
    source, book = SqlDigestSource(store.engine), SqlDigestBook(store.engine)
    mail = Mail()
    sending = DigestActivities(source, book, mail, ["buying@example.com"])
    first = asyncio.run(sending.send_buying_digest(WEEK_ENDING))
    again = asyncio.run(sending.send_buying_digest(WEEK_ENDING))
    assert first.sent and again.sent and again.why == "sent by an earlier attempt" and len(mail.sent) == 1
    # Someone else added to the recipients: a new digest for them all.
    asyncio.run(
        DigestActivities(source, book, mail, ["buying@example.com", "head@example.com"]).send_buying_digest(WEEK_ENDING)
    )
    assert len(mail.sent) == 2 and mail.sent[1][1] == ["buying@example.com", "head@example.com"]
    nobody = asyncio.run(DigestActivities(source, book, mail, []).send_buying_digest(WEEK_ENDING))
    no_server = asyncio.run(DigestActivities(source, book, None, ["b@example.com"]).send_buying_digest(WEEK_ENDING))
    assert not nobody.sent and "STYLETRIAL_BUYING_DIGEST_TO" in nobody.why
    assert not no_server.sent and "STYLETRIAL_SMTP_HOST" in no_server.why and len(mail.sent) == 2


def test_the_week_a_monday_run_covers():
    assert week_ending_before(date(2026, 11, 30)) == WEEK_ENDING  # Monday: the week just ended
    assert week_ending_before(date(2026, 12, 5)) == WEEK_ENDING  # a Saturday: the last whole week
