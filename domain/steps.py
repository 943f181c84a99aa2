"""What the trial asks the outside world to do, and what comes back.

The aggregate produces one request at a time (`Trial.next_step`); the workflow runs the matching activity
and hands the result back (`Trial.record`). Every request carries an idempotency key derived from the
trial and the step, so a retried activity can never move money or stock twice.
"""

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from domain.order import Address, ClientContact


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- payments -------------------------------------------------------------------------------------


class AuthorizeRequest(_Message):
    key: str
    trial_id: str
    amount: int
    currency: str
    payment_method: str
    # A re-authorization is merchant-initiated (the client is not present); card networks give those a
    # shorter validity and some issuers treat them differently.
    merchant_initiated: bool
    at: datetime


class CaptureRequest(_Message):
    key: str
    trial_id: str
    authorization_id: str
    amount: int
    currency: str
    settlement: int
    at: datetime


class ChargeRequest(_Message):
    """An off-session charge of the saved payment method (no hold to capture from)."""

    key: str
    trial_id: str
    amount: int
    currency: str
    payment_method: str
    settlement: int
    at: datetime


class ReleaseRequest(_Message):
    key: str
    trial_id: str
    authorization_id: str
    currency: str
    at: datetime


class RefundRequest(_Message):
    """Give back `amount` of the payment `payment_reference` (a capture's or a charge's)."""

    key: str
    trial_id: str
    piece_id: str
    payment_reference: str
    amount: int
    currency: str
    settlement: int
    at: datetime


class AuthorizationResult(_Message):
    approved: bool
    authorization_id: str | None = None
    amount: int = 0
    expires_at: datetime | None = None
    decline_code: str | None = None
    decline_message: str | None = None
    # The card's last four digits, when the gateway gives them (for the client's receipt; not personal data).
    card_last4: str | None = None


class PaymentResult(_Message):
    """Outcome of a capture or charge.

    `remaining_authorized` is the gateway telling us what is still held after a capture: a gateway that
    releases the remainder on first capture (a standard Stripe PaymentIntent) answers 0 and reports the
    rest as `released`. The workflow never guesses the gateway's capabilities.
    """

    approved: bool
    reference: str | None = None
    amount: int = 0
    remaining_authorized: int = 0
    released: int = 0
    decline_code: str | None = None
    decline_message: str | None = None


class ReleaseResult(_Message):
    released: int


class RefundResult(_Message):
    approved: bool
    reference: str | None = None
    amount: int = 0
    # The payment it was taken from, as the gateway knows it.
    payment_reference: str | None = None
    decline_code: str | None = None
    decline_message: str | None = None


# --- fulfilment -----------------------------------------------------------------------------------


# write_off: the units left the warehouse and are gone (a parcel lost in transit); never back in stock.
StockAction = Literal["reserve", "release", "write_off"]


class StockRequest(_Message):
    key: str
    trial_id: str
    action: StockAction
    piece_ids: list[str]
    # The SKU of pieces the warehouse cannot know from the order: the replacements of an exchange.
    skus: dict[str, str] = {}


class StockResult(_Message):
    piece_ids: list[str]


# --- returns --------------------------------------------------------------------------------------

BookingKind = Literal["collection", "label"]


class ReturnBookingRequest(_Message):
    """Book a courier collection, or issue a prepaid return label, for pieces going back. `address` is the
    client's (personal data: only in this payload, encrypted in history, never logged)."""

    key: str
    trial_id: str
    order_id: str
    kind: BookingKind
    piece_ids: list[str]
    address: Address
    slot_starts_at: datetime | None = None
    slot_ends_at: datetime | None = None


class ReturnBookingResult(_Message):
    """The provider's answer: the return parcel's carrier and tracking number, and where the client gets
    the label (a link the client may open without logging in); or why it could not be booked."""

    booked: bool
    carrier: str | None = None
    tracking_number: str | None = None
    label_url: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None


# --- notifications --------------------------------------------------------------------------------


class NotificationKind(StrEnum):
    AUTHORIZATION_DECLINED = "authorization_declined"
    TRIAL_REJECTED = "trial_rejected"
    DISPATCH_OVERDUE = "dispatch_overdue"
    DELIVERY_OVERDUE = "delivery_overdue"
    TRIAL_ENDING = "trial_ending"
    REAUTHORIZATION_FAILED = "reauthorization_failed"
    PAYMENT_DECLINED = "payment_declined"
    PAYMENT_ACTION_REQUIRED = "payment_action_required"
    RETURN_LOST = "return_lost"
    INSPECTION_MISSED = "inspection_missed"
    PARCEL_LOST = "parcel_lost"
    RESHIP_OVERDUE = "reship_overdue"
    REFUNDED = "refunded"
    REFUND_DECLINED = "refund_declined"
    # To the client, on the channel the order names (trials started since the workflow's `client-messages`).
    TRIAL_CONFIRMED = "trial_confirmed"
    TRIAL_SUMMARY = "trial_summary"
    # To the client along the way (trials started since the workflow's `client-journey`).
    PARCEL_DISPATCHED = "parcel_dispatched"
    TRIAL_STARTED = "trial_started"
    RETURN_DUE = "return_due"
    RETURN_RECEIVED = "return_received"
    PIECE_DAMAGED = "piece_damaged"
    RECEIPT = "receipt"
    # Returns the client does not organise (collections and labels), and the carriers' scans of them.
    EXTENSION_GRANTED = "extension_granted"
    EXTENSION_ASKED = "extension_asked"
    EXTENSION_REQUESTED = "extension_requested"
    COLLECTION_OFFER = "collection_offer"
    LABEL_OFFER = "label_offer"
    COLLECTION_BOOKED = "collection_booked"
    RETURN_LABEL_ISSUED = "return_label_issued"
    RETURN_SHIPPED = "return_shipped"
    RETURN_BOOKING_FAILED = "return_booking_failed"
    # Exchanges: the client's confirmation, and the team's news (a replacement to send, one late, one unreturned).
    EXCHANGE_CONFIRMED = "exchange_confirmed"
    EXCHANGE_ASKED = "exchange_asked"
    EXCHANGE_REQUESTED = "exchange_requested"
    EXCHANGE_PENDING = "exchange_pending"
    EXCHANGE_UNRETURNED = "exchange_unreturned"


Audience = Literal["client", "shopper", "staff"]
# Messages that go to the client at any hour: answers to what the client has just done themselves.
AT_ONCE = frozenset({
    NotificationKind.COLLECTION_BOOKED, NotificationKind.RETURN_LABEL_ISSUED, NotificationKind.RETURN_BOOKING_FAILED,
    NotificationKind.EXTENSION_GRANTED, NotificationKind.EXTENSION_ASKED, NotificationKind.EXCHANGE_ASKED,
})  # fmt: skip


class Notification(_Message):
    """A message to the client, their personal shopper or staff: ids, the English text staff read, and for
    a message to the client, the client's contact (personal data: it travels only in this payload, which is
    encrypted in history, and is never logged) and the moment the message is about, which the notifier
    writes in the client's language and time zone (activities/messages.py)."""

    key: str
    trial_id: str
    kind: NotificationKind
    audience: list[Audience]
    shopper_id: str | None
    message: str
    order_id: str | None = None
    contact: ClientContact | None = None
    about: datetime | None = None
    # What a message to the client says besides the moment: counts and amounts, never personal data.
    facts: dict[str, str] = {}
    # The client's daytime (hours of their clock) this message waits for; None: it goes at once.
    daytime: tuple[int, int] | None = None
    # Held until then (a message that arrived in the client's night, sent when their day begins).
    not_before: datetime | None = None


class NotificationResult(_Message):
    delivered: bool
    # The client's night: the message to the client waits until then (the team's copy went already).
    defer_until: datetime | None = None


Step = (
    AuthorizeRequest
    | CaptureRequest
    | ChargeRequest
    | ReleaseRequest
    | RefundRequest
    | StockRequest
    | Notification
    | ReturnBookingRequest
)
StepResult = (
    AuthorizationResult
    | PaymentResult
    | ReleaseResult
    | RefundResult
    | StockResult
    | NotificationResult
    | ReturnBookingResult
)
