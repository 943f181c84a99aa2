"""Errors with stable machine codes: the API, the workflow and the CLI all surface `code` + `message`."""

from enum import StrEnum


class ErrorCode(StrEnum):
    # Order validation
    NO_PIECES = "no_pieces"
    TOO_MANY_PIECES = "too_many_pieces"
    DUPLICATE_PIECE = "duplicate_piece"
    INVALID_PRICE = "invalid_price"
    INVALID_CURRENCY = "invalid_currency"
    INELIGIBLE_TIER = "ineligible_tier"
    INVALID_TRIAL_DAYS = "invalid_trial_days"
    MISSING_FIELD = "missing_field"
    # Events and staff actions
    UNKNOWN_PIECE = "unknown_piece"
    TRIAL_CLOSED = "trial_closed"
    TRIAL_FINISHED = "trial_finished"
    NOT_DELIVERED = "not_delivered"
    RETURN_ALREADY_SHIPPED = "return_already_shipped"
    PIECE_NOT_DECIDABLE = "piece_not_decidable"
    DUPLICATE_DECISION = "duplicate_decision"
    NO_DECISIONS = "no_decisions"
    UNDECIDED_PIECES = "undecided_pieces"
    NOT_ON_TRIAL = "not_on_trial"
    EXTENSION_LIMIT = "extension_limit"
    INVALID_EXTENSION = "invalid_extension"
    NOT_CANCELLABLE = "not_cancellable"
    NOT_READY_FOR_DISPATCH = "not_ready_for_dispatch"
    ALREADY_DISPATCHED = "already_dispatched"
    PIECE_IN_TWO_PARCELS = "piece_in_two_parcels"
    EMPTY_PARCEL = "empty_parcel"
    NO_PARCELS = "no_parcels"
    DUPLICATE_TRACKING_NUMBER = "duplicate_tracking_number"
    NOT_DISPATCHED = "not_dispatched"
    UNKNOWN_PARCEL = "unknown_parcel"
    ALREADY_DELIVERED = "already_delivered"
    PARCEL_LOST = "parcel_lost"
    NOTHING_TO_RESHIP = "nothing_to_reship"
    NOT_AWAITING_RESHIP = "not_awaiting_reship"
    NOT_REFUNDABLE = "not_refundable"
    ALREADY_REFUNDED = "already_refunded"
    INVALID_REFUND_AMOUNT = "invalid_refund_amount"
    INVALID_DELIVERY_TIME = "invalid_delivery_time"
    NOT_RETURNABLE = "not_returnable"
    RETURN_WINDOW_CLOSED = "return_window_closed"
    RETURN_NOT_SHIPPED = "return_not_shipped"
    NOT_WAIVABLE = "not_waivable"
    ACTOR_REQUIRED = "actor_required"
    REASON_REQUIRED = "reason_required"
    RETURN_REASON_ON_KEEP = "return_reason_on_keep"
    INVALID_PAYMENT_METHOD = "invalid_payment_method"
    # Returns the client does not organise: collections, labels, and the carriers' scans
    NOTHING_TO_RETURN = "nothing_to_return"
    PIECE_ALREADY_BOOKED = "piece_already_booked"
    NO_SHIPPING_ADDRESS = "no_shipping_address"
    INVALID_SLOT = "invalid_slot"
    TOO_MANY_BOOKINGS = "too_many_bookings"
    BOOKING_UNDER_WAY = "booking_under_way"
    INVALID_SCAN_TIME = "invalid_scan_time"
    SCAN_CHANGES_NOTHING = "scan_changes_nothing"
    EXTENSION_REQUEST_WAITING = "extension_request_waiting"
    NOT_FLAGGED = "not_flagged"
    NOT_LOST = "not_lost"
    CLAIM_OUT_OF_ORDER = "claim_out_of_order"
    ALREADY_RESOLVED = "already_resolved"
    PIECE_EXCHANGED = "piece_exchanged"
    NOT_EXCHANGEABLE = "not_exchangeable"
    TOO_MANY_EXCHANGES = "too_many_exchanges"
    # Raised outside the aggregate (client / API), listed here so every code lives in one place
    UNKNOWN_ORDER = "unknown_order"
    UNKNOWN_CUSTOMER = "unknown_customer"
    ORDER_CONFLICT = "order_conflict"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"


class DomainError(Exception):
    """A refused command or order. It is raised before any state changes."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"DomainError({self.code.value!r}, {self.message!r})"


def require(condition: bool, code: ErrorCode, message: str) -> None:
    if not condition:
        raise DomainError(code, message)


def require_actor_and_reason(actor: str | None, reason: str | None, what: str) -> None:
    """Staff acting by hand are accountable: they name themselves and say why."""
    require(bool(actor and actor.strip()), ErrorCode.ACTOR_REQUIRED, f"{what} must name the staff member (actor).")
    require(bool(reason and reason.strip()), ErrorCode.REASON_REQUIRED, f"{what} needs a reason.")
