"""Where a trial stands, and why it may need a person."""

from enum import StrEnum


class TrialStatus(StrEnum):
    AUTHORIZING = "AUTHORIZING"
    AWAITING_DISPATCH = "AWAITING_DISPATCH"
    IN_TRANSIT = "IN_TRANSIT"
    ON_TRIAL = "ON_TRIAL"
    AWAITING_RETURNS = "AWAITING_RETURNS"
    SETTLING = "SETTLING"
    PAYMENT_ACTION_REQUIRED = "PAYMENT_ACTION_REQUIRED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


FINAL_STATUSES = frozenset({TrialStatus.COMPLETED, TrialStatus.CANCELLED, TrialStatus.REJECTED})


class Attention(StrEnum):
    """Why a trial needs a person. Several can hold at once."""

    AUTHORIZATION_DECLINED = "authorization_declined"
    DISPATCH_OVERDUE = "dispatch_overdue"
    DELIVERY_OVERDUE = "delivery_overdue"
    REAUTHORIZATION_FAILED = "reauthorization_failed"
    SETTLEMENT_DECLINED = "settlement_declined"
    PAYMENT_ACTION_REQUIRED = "payment_action_required"
    RETURN_LOST = "return_lost"
    # An outbound parcel was declared lost: a carrier claim is to be filed (it stays until staff see it done).
    CARRIER_CLAIM = "carrier_claim"
    # Lost pieces were to be reshipped, and no reship came within the dispatch SLA.
    RESHIP_OVERDUE = "reship_overdue"
    # The gateway refused a refund support asked for: look at it there, then refund again.
    REFUND_DECLINED = "refund_declined"
    # The client asked for more time than their tier lets them take themselves: their shopper decides
    # (staff's `extend` grants it and clears this).
    EXTENSION_REQUESTED = "extension_requested"
    # The client asked to exchange a piece: their shopper arranges it (staff's `exchange` answers this).
    EXCHANGE_REQUESTED = "exchange_requested"
    # The trial's end came while a replacement sent for an exchange is still awaited (send it, or waive it).
    EXCHANGE_PENDING = "exchange_pending"
    # An exchanged piece was not sent back by the return deadline: never charged, so staff chase it.
    EXCHANGE_UNRETURNED = "exchange_unreturned"
