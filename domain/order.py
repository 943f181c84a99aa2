"""A trial order as fulfilment submits it, and the rules it must satisfy before a trial opens."""

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from domain.bounds import Days, Few, Id, Label, OrderId, Price, Text
from domain.errors import DomainError, ErrorCode, require
from domain.money import currencies, is_currency
from domain.policy import TrialPolicy


class _Strict(BaseModel):
    # Unknown fields are refused: a typo in a fulfilment payload must not silently drop data.
    model_config = ConfigDict(extra="forbid", frozen=True)


# How a client wants to hear from the engine: personal data, so it travels only inside encrypted payloads,
# never in logs, search attributes, the read model or trial events.
Locale = Literal["en", "de", "it", "fr", "ja"]


class ClientContact(_Strict):
    channel: Literal["whatsapp", "email"]
    # WhatsApp: the number in E.164 (+4915112345678); email: the address.
    address: Annotated[str, StringConstraints(min_length=3, max_length=254)]
    locale: Locale = "en"
    # An IANA zone (Europe/Rome); the trial's deadlines are written in it.
    time_zone: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$", max_length=64)
    ] = "UTC"

    @model_validator(mode="after")
    def _address_fits_channel(self) -> "ClientContact":
        if self.channel == "whatsapp" and not re.fullmatch(r"\+[1-9][0-9]{6,14}", self.address):
            raise ValueError("a WhatsApp contact is a number in E.164 form, such as +4915112345678")
        if self.channel == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", self.address):
            raise ValueError("an email contact is an address such as name@example.com")
        return self


class Customer(_Strict):
    id: Id
    tier: Label
    region: Label
    personal_shopper_id: Id | None = None
    contact: ClientContact | None = None


class Address(_Strict):
    name: Label
    line1: Text
    line2: Text | None = None
    city: Label
    postal_code: Label
    country: Label


class OrderPiece(_Strict):
    piece_id: Id
    sku: Id
    description: Text
    price: Price  # minor units
    # The designer (house, label): what buyers read keep rates and return reasons by.
    designer: Label | None = None
    # The size as the house labels it (IT 40, M, 41): a client's sizes kept and returned, per designer.
    size: Label | None = None


class TrialOrder(_Strict):
    order_id: OrderId
    customer: Customer
    # An enum in the API's schema; an unknown code is refused by `validate_order` with `invalid_currency`.
    currency: Annotated[Label, Field(json_schema_extra={"enum": currencies()})]
    pieces: Annotated[list[OrderPiece], Few]
    payment_method: Label
    shipping_address: Address | None = None
    trial_days: Days | None = None

    @property
    def value(self) -> int:
        return sum(p.price for p in self.pieces)


def validate_order(order: TrialOrder, policy: TrialPolicy) -> None:
    """Raise the first rule the order breaks, with a sentence a person understands."""
    require(bool(order.order_id.strip()), ErrorCode.MISSING_FIELD, "The order id must not be empty.")
    require(bool(order.customer.id.strip()), ErrorCode.MISSING_FIELD, "The customer id must not be empty.")
    require(
        order.customer.tier in policy.eligible_tiers,
        ErrorCode.INELIGIBLE_TIER,
        f"Customer tier {order.customer.tier!r} cannot open a Style Trial; "
        f"only {', '.join(policy.eligible_tiers)} clients can.",
    )
    require(bool(order.pieces), ErrorCode.NO_PIECES, "A Style Trial needs at least one piece.")
    require(
        len(order.pieces) <= policy.max_pieces,
        ErrorCode.TOO_MANY_PIECES,
        f"A Style Trial holds at most {policy.max_pieces} pieces; this order has {len(order.pieces)}.",
    )
    check_pieces(order.pieces)
    require(
        is_currency(order.currency),
        ErrorCode.INVALID_CURRENCY,
        f"{order.currency!r} is not an ISO-4217 currency code.",
    )
    require(
        bool(order.payment_method.strip()),
        ErrorCode.INVALID_PAYMENT_METHOD,
        "The order needs the client's saved payment method.",
    )
    if order.trial_days is not None:
        require(
            1 <= order.trial_days <= policy.max_trial_days,
            ErrorCode.INVALID_TRIAL_DAYS,
            f"trial_days must be between 1 and {policy.max_trial_days}; got {order.trial_days}.",
        )


def check_pieces(pieces: list[OrderPiece]) -> None:
    """Each piece has an id of its own and a positive price in minor units (an order's, an exchange's)."""
    seen: set[str] = set()
    for piece in pieces:
        require(bool(piece.piece_id.strip()), ErrorCode.MISSING_FIELD, "Every piece needs a piece id.")
        if piece.piece_id in seen:
            raise DomainError(
                ErrorCode.DUPLICATE_PIECE, f"Piece {piece.piece_id!r} appears more than once in the order."
            )
        seen.add(piece.piece_id)
        require(
            piece.price > 0,
            ErrorCode.INVALID_PRICE,
            f"Piece {piece.piece_id!r} has price {piece.price}; every price must be a positive amount in minor units.",
        )
