"""Commands from fulfilment systems and staff. One model per command so fields can be added compatibly."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

Channel = Literal["site", "app", "whatsapp", "phone", "email", "in_person"]
DecisionValue = Literal["keep", "return"]
Condition = Literal["ok", "damaged"]


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Parcel(_Command):
    carrier: str
    tracking_number: str
    piece_ids: list[str]


class Dispatch(_Command):
    """Pieces that are in no parcel were unavailable at pick time."""

    parcels: list[Parcel]


class Delivery(_Command):
    """One parcel delivered. Staff recording a delivery themselves give actor and reason."""

    tracking_number: str
    delivered_at: datetime | None = None
    actor: str | None = None
    reason: str | None = None


class PieceDecision(_Command):
    piece_id: str
    decision: DecisionValue


class Decisions(_Command):
    decisions: list[PieceDecision]
    actor: str
    channel: Channel
    reference: str | None = None


class FinishEarly(_Command):
    actor: str
    channel: Channel = "site"


class ReturnShipped(_Command):
    piece_ids: list[str]
    carrier: str
    tracking_number: str


class Inspection(_Command):
    piece_id: str
    condition: Condition


class Extension(_Command):
    days: int
    reason: str
    actor: str


class Waiver(_Command):
    piece_id: str
    reason: str
    actor: str


class NewPaymentMethod(_Command):
    payment_method: str
    actor: str


class Cancel(_Command):
    reason: str
    actor: str
