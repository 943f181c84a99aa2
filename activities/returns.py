"""Returns the client does not organise: the returns port, its embedded adapter and the activity.

The port has one operation, `book`: a courier collection at the client's address in a slot, or a prepaid
return label, for the pieces going back. It answers the return parcel's carrier and tracking number and a
link to the label, or why it could not book. Every request carries an idempotency key; an adapter answers a
retried request with what it booked the first time, never a second shipment.

`LocalReturns` is the embedded default: it renders the label itself (a PDF with the tracking number as a
Code 128 barcode and a QR code) and keeps labels and collections in the engine's database, so `make run`
shows the whole flow with no account anywhere. The real adapter books through EasyPost
(activities/easypost_returns.py). Both sit behind the same port.
"""

import asyncio
import hashlib
import io
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import segno
from reportlab.graphics.barcode import code128
from reportlab.lib.pagesizes import A6
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas
from temporalio import activity

from activities.ports import LabelBook, StoredLabel
from domain.order import Address
from domain.steps import ReturnBookingRequest, ReturnBookingResult

log = logging.getLogger(__name__)


class ReturnsProvider(Protocol):
    async def book(self, req: ReturnBookingRequest) -> ReturnBookingResult: ...


class TransientReturnsError(Exception):
    """The provider could not be reached or answered 5xx: safe to retry, the request has its key."""


class InMemoryLabelBook:
    blocking = False

    def __init__(self) -> None:
        self.labels: dict[str, StoredLabel] = {}

    def by_key(self, key: str) -> StoredLabel | None:
        return self.labels.get(key)

    def add(self, label: StoredLabel) -> StoredLabel:
        return self.labels.setdefault(label.key, label)

    def by_token(self, token: str) -> StoredLabel | None:
        return next((label for label in self.labels.values() if label.token == token), None)


# Where returns go when no warehouse address is configured (the demo's): STYLETRIAL_RETURNS_ADDRESS overrides.
DEFAULT_WAREHOUSE = Address(
    name="Style Trial Returns", line1="Unit 4, Park Royal Road", city="London", postal_code="NW10 7LQ", country="GB"
)
LOCAL_CARRIER = "Style Trial Courier"


class LocalReturns:
    """The embedded returns provider: labels rendered here, collections kept in the database."""

    def __init__(
        self, book: LabelBook, public_url: str, warehouse: Address = DEFAULT_WAREHOUSE,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        token: Callable[[], str] = lambda: secrets.token_urlsafe(24),
    ) -> None:  # fmt: skip
        self._book = book
        self._token = token  # the label link's capability: random (a test gives its own)
        self._public_url = public_url.rstrip("/")
        self._warehouse = warehouse
        self._now = now

    async def book(self, req: ReturnBookingRequest) -> ReturnBookingResult:
        if self._book.blocking:
            label = await asyncio.to_thread(self._label_for, req)
        else:
            label = self._label_for(req)
        return ReturnBookingResult(
            booked=True, carrier=label.carrier, tracking_number=label.tracking_number,
            label_url=f"{self._public_url}/v1/return-labels/{label.token}",
        )  # fmt: skip

    def _label_for(self, req: ReturnBookingRequest) -> StoredLabel:
        existing = self._book.by_key(req.key)
        if existing is not None:
            return existing
        tracking = tracking_number_for(req.key)
        pdf = render_label(
            tracking, LOCAL_CARRIER, req.address, self._warehouse, len(req.piece_ids), req.order_id,
            (req.slot_starts_at, req.slot_ends_at) if req.kind == "collection" else None,
        )  # fmt: skip
        return self._book.add(
            StoredLabel(
                key=req.key, order_id=req.order_id, kind=req.kind, carrier=LOCAL_CARRIER, tracking_number=tracking,
                token=self._token(), pdf=pdf, created_at=self._now(), slot_starts_at=req.slot_starts_at,
                slot_ends_at=req.slot_ends_at,
            )
        )  # fmt: skip


def tracking_number_for(key: str) -> str:
    """The embedded carrier's tracking number for a booking: derived from its key, so a retry that races
    the first attempt names the same parcel."""
    return "STR" + str(int(hashlib.sha256(key.encode()).hexdigest(), 16))[:14]


def render_label(
    tracking: str, carrier: str, sender: Address, recipient: Address, pieces: int, order_id: str,
    slot: tuple[datetime | None, datetime | None] | None,
) -> bytes:  # fmt: skip
    """An A6 prepaid return label: carrier, both addresses, the tracking number as a Code 128 barcode
    (what a courier's scanner reads) and a QR code (what a phone at a drop-off point reads)."""
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A6, invariant=True)
    page.setTitle(f"Return label {tracking}")
    width, height = A6
    page.setFont("Helvetica-Bold", 14)
    page.drawString(8 * mm, height - 12 * mm, "PREPAID RETURN")
    page.setFont("Helvetica", 9)
    page.drawString(8 * mm, height - 17 * mm, f"{carrier} · order {order_id} · {pieces} piece(s)")
    y = _address(page, "FROM", sender, height - 26 * mm)
    _address(page, "TO", recipient, y - 7 * mm)
    if slot is not None and slot[0] is not None and slot[1] is not None:
        page.drawString(8 * mm, 52 * mm, f"Collection {slot[0]:%d %b %Y %H:%M}–{slot[1]:%H:%M} UTC")
    barcode = code128.Code128(tracking, barHeight=14 * mm, barWidth=0.3 * mm)
    barcode.drawOn(page, 6 * mm, 28 * mm)
    page.setFont("Helvetica-Bold", 10)
    page.drawString(8 * mm, 22 * mm, tracking)
    qr = io.BytesIO()
    # A full QR code, never a Micro QR (segno's choice for short data): phones' cameras read only the former.
    segno.make_qr(tracking, error="m").save(qr, kind="png", scale=4, border=1)
    qr.seek(0)
    page.drawImage(ImageReader(qr), width - 30 * mm, 8 * mm, 24 * mm, 24 * mm)
    page.showPage()
    page.save()
    return out.getvalue()


def _address(page: canvas.Canvas, heading: str, a: Address, y: float) -> float:
    page.setFont("Helvetica-Bold", 8)
    page.drawString(8 * mm, y, heading)
    page.setFont("Helvetica", 10)
    for line in [a.name, a.line1, a.line2, f"{a.postal_code} {a.city}", a.country]:
        if line:
            y -= 4.5 * mm
            page.drawString(10 * mm, y, line)
    return y


class ReturnsActivities:
    def __init__(self, provider: ReturnsProvider) -> None:
        self._provider = provider

    @activity.defn(name="returns.book")
    async def book(self, req: ReturnBookingRequest) -> ReturnBookingResult:
        result = await self._provider.book(req)
        # Ids only: the address and the label's link are the client's.
        log.info("return %s for %s: %s", req.kind, req.trial_id, "booked" if result.booked else result.failure_code)
        return result
