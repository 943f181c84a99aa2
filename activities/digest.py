"""The weekly buying digest, mailed: the figures (a `DigestSource`), the message (text and HTML, from the
templates beside this module), and the sending, once per week and recipients (a `DigestBook` remembers).

Run by the `BuyingDigestWorkflow`, which a Temporal Schedule starts every Monday (bootstrap.py). With no
recipients (STYLETRIAL_BUYING_DIGEST_TO) or no mail server (STYLETRIAL_SMTP_*), nothing is sent and the
result says why, so the schedule's runs show it in the Temporal UI.
"""

import asyncio
import hashlib
import logging
from datetime import date
from typing import Protocol

from babel.dates import format_date
from babel.numbers import format_percent
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel
from temporalio import activity

from domain.digest import Digest

log = logging.getLogger(__name__)
_TEMPLATES = Environment(
    loader=PackageLoader("activities"), autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True
)


class DigestSource(Protocol):
    def weekly(self, week_ending: date) -> Digest: ...


class DigestBook(Protocol):
    def sent(self, key: str) -> bool: ...
    def mark_sent(self, key: str) -> None: ...


class Mailer(Protocol):
    async def send_mail(self, key: str, to: list[str], subject: str, text: str, html: str) -> str: ...


class DigestRun(BaseModel):
    """Which week: None for the last whole week before the run (as the schedule starts it)."""

    week_ending: date | None = None


class DigestResult(BaseModel):
    week_ending: date
    sent: bool
    why: str


class DigestMessage(BaseModel):
    subject: str
    text: str
    html: str


def render(digest: Digest) -> DigestMessage:
    """The digest as an email: a plain-text part and an HTML part saying the same, in English (buying's)."""

    def rate(value: float | None) -> str:
        return "-" if value is None else format_percent(value, format="#,##0.0%", locale="en_GB")

    week = f"{format_date(digest.week_starts, 'd MMM', locale='en_GB')} - {format_date(digest.week_ending, 'd MMM yyyy', locale='en_GB')}"
    now, before = digest.this_week.rate, digest.week_before.rate
    change = None if now is None or before is None else round((now - before) * 100, 1)
    facts = {"d": digest, "week": week, "rate": rate, "change": change}
    subject = f"EIP Style Trial: the clients' week, {week}"
    text = _TEMPLATES.get_template("digest.txt").render(**facts)
    html = _TEMPLATES.get_template("digest.html").render(**facts)
    return DigestMessage(subject=subject, text=text, html=html)


class DigestActivities:
    def __init__(self, source: DigestSource, book: DigestBook, mailer: Mailer | None, recipients: list[str]) -> None:
        self._source, self._book, self._mailer, self._recipients = source, book, mailer, recipients

    @activity.defn(name="digest.send_buying_digest")
    async def send_buying_digest(self, week_ending: date) -> DigestResult:
        if not self._recipients:
            return DigestResult(week_ending=week_ending, sent=False, why="no recipients (STYLETRIAL_BUYING_DIGEST_TO)")
        if self._mailer is None:
            return DigestResult(week_ending=week_ending, sent=False, why="no mail server (STYLETRIAL_SMTP_HOST)")
        # The week and who it goes to: the same digest is never mailed twice to the same people.
        key = f"buying-digest-{week_ending}-{hashlib.sha256(','.join(sorted(self._recipients)).encode()).hexdigest()[:12]}"
        if await asyncio.to_thread(self._book.sent, key):
            return DigestResult(week_ending=week_ending, sent=True, why="sent by an earlier attempt")
        digest = await asyncio.to_thread(self._source.weekly, week_ending)
        message = render(digest)
        await self._mailer.send_mail(key, self._recipients, message.subject, message.text, message.html)
        await asyncio.to_thread(self._book.mark_sent, key)
        log.info("buying digest for the week ending %s sent (%d decided)", week_ending, digest.this_week.decided)
        return DigestResult(week_ending=week_ending, sent=True, why=f"{digest.this_week.decided} pieces decided")
