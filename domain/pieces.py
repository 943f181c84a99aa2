"""A piece's life on consignment, as one transition table.

    RESERVED ──dispatched──▶ IN_TRANSIT ──delivered──▶ ON_TRIAL ──closed, keep──▶ KEPT
       │                                                  │  └──closed, return──▶ AWAITING_RETURN
       └──left out of every parcel──▶ UNAVAILABLE          │                          │  └─window closed─▶ KEPT_UNRETURNED
                                                          └──return shipped──▶ RETURN_IN_TRANSIT ◀─┘
    RETURN_IN_TRANSIT ──inspected ok──▶ RETURNED · ──inspected damaged──▶ DAMAGED · ──not received──▶ LOST_IN_RETURN
    LOST_IN_RETURN ──found late at the warehouse──▶ RETURNED (whatever its condition: the carrier had it)
    exchanged for another piece (`exchanged_for`), the original goes back like a returned piece and ends
    EXCHANGED: RETURN_IN_TRANSIT ──inspected──▶ EXCHANGED · AWAITING_RETURN ──window closed──▶ EXCHANGED
    IN_TRANSIT ──parcel lost──▶ LOST_IN_TRANSIT · ──parcel lost, to be reshipped──▶ AWAITING_RESHIP
    AWAITING_RESHIP ──reshipped──▶ IN_TRANSIT · ──left out of the reship──▶ LOST_IN_TRANSIT
    any piece not yet charged and not in a never-charged fate ──waived by staff──▶ WAIVED
    KEPT | KEPT_UNRETURNED | DAMAGED, once charged ──refunded by support──▶ REFUNDED

Kept, kept-unreturned and damaged pieces are charged; unavailable, returned, lost (on the way out or back)
waived and exchanged pieces never are (the original of an exchange, once exchanged, whatever comes back or
does not: its replacement is the piece decided and charged if kept). A piece awaiting a reship may still be charged: a replacement is on its way.
A refunded piece was charged and then given back all or part of its price (`refunded` says how much), once. The validators refuse a command whose move the table does not allow, with the domain's error code; a
move that reaches `Piece.move` without being allowed is a bug and raises.
"""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain import commands as cmd
from domain.errors import DomainError, ErrorCode, require


class PieceState(StrEnum):
    RESERVED = "RESERVED"
    UNAVAILABLE = "UNAVAILABLE"
    IN_TRANSIT = "IN_TRANSIT"
    ON_TRIAL = "ON_TRIAL"
    KEPT = "KEPT"
    AWAITING_RETURN = "AWAITING_RETURN"
    RETURN_IN_TRANSIT = "RETURN_IN_TRANSIT"
    RETURNED = "RETURNED"
    DAMAGED = "DAMAGED"
    LOST_IN_RETURN = "LOST_IN_RETURN"
    KEPT_UNRETURNED = "KEPT_UNRETURNED"
    WAIVED = "WAIVED"
    # The outbound parcel was lost by the carrier: a replacement is coming (AWAITING_RESHIP), or not.
    AWAITING_RESHIP = "AWAITING_RESHIP"
    LOST_IN_TRANSIT = "LOST_IN_TRANSIT"
    # Charged, then refunded (a late return accepted as goodwill, a fault found after keeping).
    REFUNDED = "REFUNDED"
    # Exchanged for another piece (a size up, a colour): back at the warehouse, or never sent back.
    EXCHANGED = "EXCHANGED"


CHARGED_FATES = frozenset({PieceState.KEPT, PieceState.KEPT_UNRETURNED, PieceState.DAMAGED})
NEVER_CHARGED = frozenset(
    {
        PieceState.UNAVAILABLE,
        PieceState.RETURNED,
        PieceState.LOST_IN_RETURN,
        PieceState.WAIVED,
        PieceState.LOST_IN_TRANSIT,
        PieceState.EXCHANGED,
    }
)
TERMINAL = CHARGED_FATES | NEVER_CHARGED | {PieceState.REFUNDED}


class Move(StrEnum):
    DISPATCHED = "dispatched"
    LEFT_OUT = "left out of every parcel"
    DELIVERED = "delivered"
    CLOSED_KEEP = "trial closed, decided keep"
    CLOSED_RETURN = "trial closed, not decided keep"
    RETURN_SHIPPED = "return shipped"
    INSPECTED_OK = "inspected ok"
    INSPECTED_DAMAGED = "inspected damaged"
    RETURN_WINDOW_CLOSED = "return window closed"
    RETURN_NOT_RECEIVED = "return not received in time"
    WAIVED = "waived by staff"
    LOST = "parcel lost in transit"
    LOST_TO_RESHIP = "parcel lost in transit, to be reshipped"
    RESHIPPED = "reshipped"
    NOT_RESHIPPED = "left out of the reship"
    REFUNDED = "refunded by support"
    FOUND_LATE = "lost return found at the warehouse"
    EXCHANGE_RETURNED = "exchanged piece back at the warehouse"
    EXCHANGE_NOT_RETURNED = "exchanged piece not sent back in time"


S = PieceState
_WAIVABLE = (S.RESERVED, S.IN_TRANSIT, S.ON_TRIAL, S.KEPT, S.AWAITING_RETURN, S.RETURN_IN_TRANSIT, S.DAMAGED,
             S.KEPT_UNRETURNED, S.AWAITING_RESHIP)  # fmt: skip
TRANSITIONS: dict[tuple[PieceState, Move], PieceState] = {
    (S.RESERVED, Move.DISPATCHED): S.IN_TRANSIT,
    (S.RESERVED, Move.LEFT_OUT): S.UNAVAILABLE,
    (S.IN_TRANSIT, Move.DELIVERED): S.ON_TRIAL,
    (S.ON_TRIAL, Move.CLOSED_KEEP): S.KEPT,
    (S.ON_TRIAL, Move.CLOSED_RETURN): S.AWAITING_RETURN,
    (S.ON_TRIAL, Move.RETURN_SHIPPED): S.RETURN_IN_TRANSIT,
    (S.AWAITING_RETURN, Move.RETURN_SHIPPED): S.RETURN_IN_TRANSIT,
    (S.AWAITING_RETURN, Move.RETURN_WINDOW_CLOSED): S.KEPT_UNRETURNED,
    (S.RETURN_IN_TRANSIT, Move.INSPECTED_OK): S.RETURNED,
    (S.RETURN_IN_TRANSIT, Move.INSPECTED_DAMAGED): S.DAMAGED,
    (S.RETURN_IN_TRANSIT, Move.RETURN_NOT_RECEIVED): S.LOST_IN_RETURN,
    (S.LOST_IN_RETURN, Move.FOUND_LATE): S.RETURNED,
    (S.RETURN_IN_TRANSIT, Move.EXCHANGE_RETURNED): S.EXCHANGED,
    (S.AWAITING_RETURN, Move.EXCHANGE_NOT_RETURNED): S.EXCHANGED,
    (S.IN_TRANSIT, Move.LOST): S.LOST_IN_TRANSIT,
    (S.IN_TRANSIT, Move.LOST_TO_RESHIP): S.AWAITING_RESHIP,
    (S.AWAITING_RESHIP, Move.RESHIPPED): S.IN_TRANSIT,
    (S.AWAITING_RESHIP, Move.NOT_RESHIPPED): S.LOST_IN_TRANSIT,
    **{(state, Move.REFUNDED): S.REFUNDED for state in (S.KEPT, S.KEPT_UNRETURNED, S.DAMAGED)},
    **{(state, Move.WAIVED): S.WAIVED for state in _WAIVABLE},
}


def allows(state: PieceState, move: Move) -> bool:
    return (state, move) in TRANSITIONS


def described(state: PieceState) -> str:
    """ "awaiting return", for the sentences of refusals."""
    return state.value.lower().replace("_", " ")


class PieceFields(BaseModel):
    """A piece's fields, declared once: the aggregate's `Piece` adds its behaviour, and the trial's view
    (`domain.view.PieceView`) is exactly these; the read model's pieces table copies those it reports on
    (persistence/store.py). Every field is in every view, so the view's schema marks them all required."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    piece_id: str
    sku: str
    description: str
    price: int
    designer: str | None = None
    size: str | None = None
    # An exchange: the piece this one replaces, and the piece this one was exchanged for.
    exchange_of: str | None = None
    exchanged_for: str | None = None
    state: PieceState = PieceState.RESERVED
    decision: cmd.DecisionValue | None = None
    decided_by: str | None = None
    decided_via: cmd.Channel | None = None
    decided_at: datetime | None = None
    decision_reference: str | None = None
    return_reason: cmd.ReturnReason | None = None
    feedback: str | None = None
    parcel: str | None = None
    return_tracking: str | None = None
    return_shipped_at: datetime | None = None
    # When the carrier delivered its return to the warehouse (a tracking scan), or it was inspected there.
    return_received_at: datetime | None = None
    settlement: int | None = None
    charged: bool = False
    # What was refunded (minor units), once the gateway made it.
    refunded: int | None = None


class Piece(PieceFields):
    """A piece in the aggregate: its fields change as it moves through the transition table."""

    def move(self, move: Move) -> None:
        after = TRANSITIONS.get((self.state, move))
        if after is None:
            raise ValueError(f"piece {self.piece_id!r} cannot go from {self.state.value} by {move.value!r}")
        self.state = after

    @property
    def net(self) -> int:
        """What the client pays for the piece in the end: its price in a charged fate, less a refund."""
        if self.state in CHARGED_FATES:
            return self.price
        return self.price - (self.refunded or 0) if self.state == PieceState.REFUNDED else 0

    @property
    def chargeable(self) -> bool:
        """May still be charged: not charged yet, not in a never-charged fate, not exchanged."""
        return not self.charged and self.state not in NEVER_CHARGED and self.exchanged_for is None


# ---------------------------------------------------------------------- what a piece refuses, and why
# Each check raises the domain's error with a sentence for the caller; the trial asks them from its
# validators, before anything changes.

_NOT_YET_DELIVERED = (PieceState.RESERVED, PieceState.IN_TRANSIT, PieceState.AWAITING_RESHIP)
_ON_ITS_WAY_BACK = (PieceState.RETURN_IN_TRANSIT, PieceState.RETURNED, PieceState.DAMAGED)


def check_decision(piece: Piece, decision: cmd.DecisionValue) -> None:
    pid = piece.piece_id
    # "return" for an exchanged piece is accepted and changes nothing: it goes back already.
    msg = f"Piece {pid!r} was exchanged for {piece.exchanged_for!r}; decide the replacement instead."
    require(piece.exchanged_for is None or decision == "return", ErrorCode.PIECE_EXCHANGED, msg)
    if piece.state in _ON_ITS_WAY_BACK:
        # "return" for a piece already shipped back is accepted and changes nothing.
        msg = f"Piece {pid!r} is already on its way back; it cannot become keep."
        require(decision == "return", ErrorCode.RETURN_ALREADY_SHIPPED, msg)
        return
    msg = f"Piece {pid!r} has not been delivered yet; decide once it arrives."
    require(piece.state not in _NOT_YET_DELIVERED, ErrorCode.NOT_DELIVERED, msg)
    msg = f"Piece {pid!r} is {described(piece.state)}; it takes no decision."
    require(piece.state == PieceState.ON_TRIAL, ErrorCode.PIECE_NOT_DECIDABLE, msg)


def check_returnable(piece: Piece, window_closed: bool) -> None:
    pid = piece.piece_id
    late = piece.state == PieceState.AWAITING_RETURN and window_closed
    if piece.state == PieceState.KEPT_UNRETURNED or late:
        msg = f"The return window closed before piece {pid!r} was shipped back; it was kept."
        raise DomainError(ErrorCode.RETURN_WINDOW_CLOSED, msg)
    require(
        piece.state not in _NOT_YET_DELIVERED, ErrorCode.NOT_DELIVERED, f"Piece {pid!r} has not been delivered yet."
    )
    msg = f"Piece {pid!r} is {described(piece.state)} and cannot be returned here."
    require(allows(piece.state, Move.RETURN_SHIPPED), ErrorCode.NOT_RETURNABLE, msg)


def check_inspectable(piece: Piece) -> None:
    msg = f"Piece {piece.piece_id!r} has no return on its way ({piece.state.value}); nothing to inspect."
    require(allows(piece.state, Move.INSPECTED_OK), ErrorCode.RETURN_NOT_SHIPPED, msg)


def check_waivable(piece: Piece, being_charged: bool) -> None:
    pid = piece.piece_id
    require(not piece.charged, ErrorCode.NOT_WAIVABLE, f"Piece {pid!r} has already been charged.")
    msg = f"Piece {pid!r} is {described(piece.state)}; it will never be charged."
    require(allows(piece.state, Move.WAIVED), ErrorCode.NOT_WAIVABLE, msg)
    msg = f"Piece {pid!r} is being charged right now; try again in a moment."
    require(not being_charged, ErrorCode.NOT_WAIVABLE, msg)


def check_refundable(piece: Piece, amount: int, being_refunded: bool) -> None:
    pid = piece.piece_id
    msg = f"Piece {pid!r} has been refunded already; a piece is refunded once."
    require(piece.state != PieceState.REFUNDED, ErrorCode.ALREADY_REFUNDED, msg)
    msg = f"Piece {pid!r} is being refunded right now."
    require(not being_refunded, ErrorCode.ALREADY_REFUNDED, msg)
    msg = f"Piece {pid!r} is {described(piece.state)} and has not been charged; there is nothing to refund."
    require(piece.charged and allows(piece.state, Move.REFUNDED), ErrorCode.NOT_REFUNDABLE, msg)
    msg = f"A refund of piece {pid!r} is 1 to {piece.price} minor units (what was charged for it); got {amount}."
    require(0 < amount <= piece.price, ErrorCode.INVALID_REFUND_AMOUNT, msg)
