"""Domain error codes as HTTP statuses. The body is always {"error": {"code", "message"}}."""

from fastapi.responses import JSONResponse

from domain.errors import ErrorCode

E = ErrorCode

# The request is well-formed JSON but breaks a rule about its own contents.
_UNPROCESSABLE = {
    E.NO_PIECES, E.TOO_MANY_PIECES, E.DUPLICATE_PIECE, E.INVALID_PRICE, E.INVALID_CURRENCY, E.INELIGIBLE_TIER,
    E.INVALID_TRIAL_DAYS, E.MISSING_FIELD, E.UNKNOWN_PIECE, E.DUPLICATE_DECISION, E.NO_DECISIONS,
    E.INVALID_EXTENSION, E.PIECE_IN_TWO_PARCELS, E.EMPTY_PARCEL, E.NO_PARCELS, E.DUPLICATE_TRACKING_NUMBER, E.UNKNOWN_PARCEL,
    E.INVALID_DELIVERY_TIME, E.ACTOR_REQUIRED, E.REASON_REQUIRED, E.INVALID_PAYMENT_METHOD, E.RETURN_REASON_ON_KEEP,
    E.INVALID_REFUND_AMOUNT, E.IDEMPOTENCY_KEY_REUSED, E.INVALID_SLOT, E.INVALID_SCAN_TIME, E.NOT_LOST,
}  # fmt: skip
_NOT_FOUND = {E.UNKNOWN_ORDER, E.UNKNOWN_CUSTOMER}
# Everything else is a conflict with the trial's current state (already dispatched, trial closed, ...).


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one error shape every route answers with."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def http_status(code: ErrorCode) -> int:
    if code in _NOT_FOUND:
        return 404
    if code in _UNPROCESSABLE:
        return 422
    return 409
