"""Commands from fulfilment systems and staff. One model per command so fields can be added compatibly."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict

from domain.bounds import Days, Few, Id, Label, Price, Text
from domain.order import OrderPiece
from domain.status import Attention

Channel = Literal["site", "app", "whatsapp", "phone", "email", "in_person"]
DecisionValue = Literal["keep", "return"]
Condition = Literal["ok", "damaged"]
# Why a piece goes back: what buyers read per SKU and designer (the reporting).
ReturnReason = Literal["too_small", "too_large", "fit", "colour", "quality", "not_as_pictured", "changed_mind", "other"]


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Parcel(_Command):
    carrier: Label
    tracking_number: Id
    piece_ids: Annotated[list[Id], Few]


class Dispatch(_Command):
    """Pieces that are in no parcel were unavailable at pick time."""

    parcels: Annotated[list[Parcel], Few]


class Delivery(_Command):
    """One parcel delivered. Staff recording a delivery themselves give actor and reason."""

    tracking_number: Id
    delivered_at: datetime | None = None
    actor: Label | None = None
    reason: Text | None = None


class PieceDecision(_Command):
    piece_id: Id
    decision: DecisionValue
    # Why it goes back (returns only); optional: a client does not always say.
    reason: ReturnReason | None = None
    # The client's own words on the piece, kept or returned (fit, fabric, how it wore).
    feedback: Text | None = None


class Decisions(_Command):
    decisions: Annotated[list[PieceDecision], Few]
    actor: Label
    channel: Channel
    reference: Text | None = None


class FinishEarly(_Command):
    """Sent with nothing in it, the client finished on the site."""

    actor: Label = "client"
    channel: Channel = "site"


class ReturnShipped(_Command):
    piece_ids: Annotated[list[Id], Few]
    carrier: Label
    tracking_number: Id


class Inspection(_Command):
    piece_id: Id
    condition: Condition
    # What the warehouse found, in a sentence the client reads (a damaged piece is charged, and they are
    # told why): "a tear at the left seam".
    note: Text | None = None


class Inspections(_Command):
    """A return parcel opened at the warehouse: each piece in it inspected, all in one command."""

    inspections: Annotated[list[Inspection], Few]


class Extension(_Command):
    days: Days
    reason: Text
    actor: Label


class ExtensionRequest(_Command):
    """The client asks for more time (a WhatsApp message, the site): granted at once within what their tier
    lets them take themselves (`client_extension_days`, `client_extensions` times), otherwise their personal
    shopper is asked, with the client's own words."""

    # Omitted: what the client may take themselves (their policy's `client_extension_days`).
    days: Days | None = None
    words: Text | None = None
    channel: Channel
    reference: Text | None = None


class ExchangeRequest(_Command):
    """The client asks to exchange a piece ("can I have the 41?"): their shopper is asked, with the client's
    own words, and arranges it (`exchange`), which answers the request."""

    words: Text
    # The piece, when the client named it (its number in the order, or its id); None: the shopper asks.
    piece_id: Id | None = None
    channel: Channel
    reference: Text | None = None


class AttentionAssignment(_Command):
    """Staff take (or give) what a trial needs them for: every reason it is flagged for, or those named."""

    assignee: Label
    reasons: Annotated[list[Attention], Few] | None = None
    actor: Label


class Acknowledgement(_Command):
    """Staff saw to what a trial needed them for, outside the engine (the carrier called back, the client
    was told no): the reason clears, with their note in the audit trail."""

    reason: Attention
    note: Text
    actor: Label


class CarrierClaim(_Command):
    """A claim for a parcel the carrier lost (on its way out, or a return): filed with the carrier's
    reference, then settled with the amount it paid (minor units), or rejected."""

    tracking_number: Id
    step: Literal["filed", "settled", "rejected"]
    reference: Text | None = None
    amount: Price | None = None
    note: Text | None = None
    actor: Label


class Exchange(_Command):
    """The client exchanges a piece on trial for another ("the 40 is too small, can I have the 41?"): the
    replacement is reserved and sent on the same authorization (re-authorized when the value rises), the
    original goes back with the return and is never charged; the replacement is decided like any piece."""

    piece_id: Id
    # The piece sent instead, as an order names its pieces: a new piece id within the order, SKU, price, size.
    replacement: OrderPiece
    # Why the original goes back, and the client's own words on it (the voice of the customer).
    reason: ReturnReason | None = None
    words: Text | None = None
    actor: Label
    channel: Channel


class LostReturnResolution(_Command):
    """Staff close a return the carrier lost: `found` (it reached the warehouse after all and was inspected:
    give its `condition`) or `written_off` (closed without it). Neither charges the client: the carrier had
    the parcel (its scan shipped it), so what happened to it is the carrier's, recovered by a claim."""

    tracking_number: Id
    outcome: Literal["found", "written_off"]
    condition: Condition | None = None
    note: Text
    actor: Label


class Waiver(_Command):
    piece_id: Id
    reason: Text
    actor: Label


class NewPaymentMethod(_Command):
    payment_method: Label
    actor: Label


class LostParcel(_Command):
    """Staff (or fulfilment, told by the carrier) declare an outbound parcel lost. Its pieces are never
    charged; with `reship` the warehouse sends replacements as a new parcel and the trial waits for it."""

    tracking_number: Id
    reason: Text
    actor: Label
    reship: bool = False


class Reshipment(_Command):
    """Fulfilment: replacements for the pieces of lost parcels left the warehouse, in one or more new
    parcels. A piece awaiting a reship and in none of them is lost for good (as at dispatch)."""

    parcels: Annotated[list[Parcel], Few]


class Refund(_Command):
    """Support gives back a charged piece's price, or part of it (`amount`, minor units; all of it when
    omitted): a late return accepted as goodwill, a fault found after keeping. Once per piece."""

    piece_id: Id
    reason: Text
    actor: Label
    amount: Price | None = None


class Cancel(_Command):
    reason: Text
    actor: Label


class Slot(_Command):
    """A courier's collection window, in UTC or with a zone (the client's day is shown in their zone)."""

    starts_at: datetime
    ends_at: datetime


class CollectionBooking(_Command):
    """Book a courier to collect the pieces going back from the order's shipping address within `slot`.
    Without `piece_ids`: every piece the client sends back (decided return, or awaiting its return) that no
    other booking carries. The courier's tracking number is then the return parcel's."""

    slot: Slot
    actor: Label
    channel: Channel
    piece_ids: Annotated[list[Id], Few] | None = None


class ReturnLabel(_Command):
    """Issue a prepaid return label for the pieces going back (the client drops the parcel off)."""

    actor: Label
    channel: Channel
    piece_ids: Annotated[list[Id], Few] | None = None


# What a carrier says of a parcel, in the engine's words (each provider's statuses map onto these): it has
# the parcel (`accepted`, `in_transit`, `out_for_delivery`) or delivered it.
ScanStatus = Literal["accepted", "in_transit", "out_for_delivery", "delivered"]


class CarrierScan(_Command):
    """A carrier's tracking event for a parcel of the trial, outbound or a return. An outbound parcel's
    delivery is its delivery; a return's first scan ships it (its pieces stop counting towards a charge);
    its delivery to the warehouse is its receipt. A scan that changes nothing (a late "in transit" after
    "delivered", the same scan twice) is refused with `scan_changes_nothing`, so it never reaches history."""

    tracking_number: Id
    status: ScanStatus
    occurred_at: datetime
    carrier: Label | None = None
