"""Every command on a trial, declared once.

A row names what each edge needs: the body (`model`, in domain/commands.py), who may send it (`roles`), its
HTTP route and OpenAPI operation (which is also the HTTP client's method), the Temporal update's name (staff
send it by that name from the Temporal UI), one description shown both in the UI and in the API's docs, and
the aggregate's pair of methods: `validate` (refuses without changing anything, run by the update's
validator before anything reaches history) and `apply` (validates again, then changes the trial).

Everything else is derived from this table: the workflow's update handlers and validators
(workflows/style_trial.py), the API's routes (api/commands.py), the application's dispatch of a command to
its update (application/trials.py), and, through the OpenAPI document, the HTTP client's methods
(api_client/). tests/unit/test_command_table.py walks it. Adding a command: docs/architecture.md.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from domain import commands as cmd
from domain.errors import DomainError, ErrorCode
from domain.trial import Trial

Role = Literal["fulfilment", "support"]
# An aggregate method as the table holds it: Trial.validate_dispatch(trial, command, now).
Method = Callable[[Trial, Any, datetime], None]


@dataclass(frozen=True)
class Command:
    update: str  # the Temporal update's name: stable, staff type it in the UI, running trials know it
    model: type[BaseModel]
    roles: tuple[Role, ...]
    path: str  # POST /v1/trials/{order_id}/<path>; two commands may share one (one body or the other)
    operation: str  # the OpenAPI operationId and the HTTP client's method
    summary: str  # one line, for the API's docs
    description: str  # the Temporal UI's update description, and the API's route description
    validate: Method
    apply: Method
    # A rule about who sends it, checked before the command reaches the trial: (role, command) -> None.
    rule: Callable[[str, Any], None] | None = None


def _staff_say_who_and_why(role: str, c: cmd.Delivery) -> None:
    """A carrier's scan needs no name; a person recording a delivery by hand is accountable for it."""
    if role == "support" and not (c.actor and c.actor.strip()):
        raise DomainError(ErrorCode.ACTOR_REQUIRED, "Staff recording a delivery must give their name (actor).")
    if role == "support" and not (c.reason and c.reason.strip()):
        raise DomainError(ErrorCode.REASON_REQUIRED, "Staff recording a delivery must give a reason.")


FULFILMENT: tuple[Role, ...] = ("fulfilment",)
SUPPORT: tuple[Role, ...] = ("support",)
EITHER: tuple[Role, ...] = ("fulfilment", "support")

COMMANDS: tuple[Command, ...] = (
    Command(
        "dispatch", cmd.Dispatch, FULFILMENT, "dispatch", "dispatch",
        "Dispatched in one or more parcels (pieces in none are unavailable)",
        "Fulfilment: the order left the warehouse in one or more parcels. Pieces in no parcel are unavailable.",
        Trial.validate_dispatch, Trial.dispatch,
    ),
    Command(
        "deliver", cmd.Delivery, EITHER, "delivery", "record_delivery", "One parcel delivered",
        "A parcel was delivered (carrier), or staff record a delivery with actor and reason.",
        Trial.validate_delivery, Trial.deliver, rule=_staff_say_who_and_why,
    ),
    Command(
        "declare_parcel_lost", cmd.LostParcel, EITHER, "lost-parcels", "declare_parcel_lost",
        "An outbound parcel was lost in transit (its pieces are never charged; reship: replacements follow)",
        "Staff: an outbound parcel was lost in transit; its pieces are never charged (reship: replacements "
        "follow). Flags a carrier claim. Once nothing is on its way the trial starts with what arrived, or is "
        "cancelled with its hold released when nothing did.",
        Trial.validate_lost_parcel, Trial.declare_lost,
    ),
    Command(
        "reship", cmd.Reshipment, FULFILMENT, "reshipments", "reship",
        "Replacements for a lost parcel's pieces left in new parcels",
        "Fulfilment: replacements for a lost parcel's pieces left in new parcels, under the same "
        "authorization; the clock waits for them. A piece awaiting a reship that is in none of them is lost "
        "for good.",
        Trial.validate_reship, Trial.reship,
    ),
    Command(
        "decide", cmd.Decisions, EITHER, "decisions", "record_decisions",
        "Keep/return decisions for delivered pieces",
        "Record keep/return decisions for delivered pieces, with actor, channel and an optional message "
        "reference.",
        Trial.validate_decisions, Trial.decide,
    ),
    Command(
        "finish_early", cmd.FinishEarly, EITHER, "finish", "finish_early",
        "The client is done early (every piece decided)",
        "The client is done early: every piece has a decision, so the trial closes now.",
        Trial.validate_finish, Trial.finish_early,
    ),
    Command(
        "ship_return", cmd.ReturnShipped, FULFILMENT, "returns", "record_return", "A return was shipped (carrier scan)",
        "Fulfilment: the carrier scanned a return parcel with these pieces.",
        Trial.validate_return, Trial.ship_return,
    ),
    Command(
        "inspect", cmd.Inspection, FULFILMENT, "inspections", "record_inspection",
        "Returned pieces received and inspected: one piece, or a whole return parcel at once",
        "Fulfilment: a returned piece was received and inspected (ok or damaged).",
        Trial.validate_inspection, Trial.inspect,
    ),
    Command(
        "inspect_returns", cmd.Inspections, FULFILMENT, "inspections", "record_inspection",
        "Returned pieces received and inspected: one piece, or a whole return parcel at once",
        "Fulfilment: a return parcel was opened and each piece in it inspected, in one command (all or "
        "nothing: one piece that cannot be inspected refuses them all).",
        Trial.validate_inspections, Trial.inspect_all,
    ),
    Command(
        "book_collection", cmd.CollectionBooking, EITHER, "collections", "book_collection",
        "Book a courier to collect the pieces going back, in a slot",
        "Book a courier to collect the pieces going back (decided return, or awaiting their return) at the "
        "order's shipping address within a slot that ends by the return deadline. The courier's tracking "
        "number is the return parcel's; its scans then ship and receive the return.",
        Trial.validate_collection, Trial.book_collection,
    ),
    Command(
        "issue_return_label", cmd.ReturnLabel, EITHER, "return-labels", "issue_return_label",
        "Issue a prepaid return label for the pieces going back",
        "Issue a prepaid return label for the pieces going back; the client receives its link and drops the "
        "parcel off. The label's tracking number is the return parcel's.",
        Trial.validate_return_label, Trial.issue_return_label,
    ),
    Command(
        "record_carrier_scan", cmd.CarrierScan, FULFILMENT, "carrier-scans", "record_carrier_scan",
        "A carrier's tracking event for a parcel of the trial (outbound or a return)",
        "A carrier's scan: an outbound parcel delivered is its delivery; a return's first scan ships it; its "
        "delivery to the warehouse is its receipt. A scan that changes nothing is refused "
        "(scan_changes_nothing), so duplicates and late scans never reach history.",
        Trial.validate_carrier_scan, Trial.record_carrier_scan,
    ),
    Command(
        "exchange", cmd.Exchange, EITHER, "exchanges", "exchange_piece",
        "Exchange a piece on trial for another (a size, a colour): the replacement is sent, the original returns",
        "Exchange a piece with the client for a replacement (its own piece id, SKU, price, size): it is reserved "
        "and sent in a reship on the same authorization (re-authorized when the value rises), then decided like "
        "any piece, charged only if kept. The original goes back with the return and is never charged. The "
        "trial's end waits for the replacement and gives it exchange_days once it arrives.",
        Trial.validate_exchange, Trial.exchange,
    ),
    Command(
        "request_exchange", cmd.ExchangeRequest, EITHER, "exchange-requests", "request_exchange",
        "The client asks to exchange a piece (their shopper is asked, with their words)",
        "The client asks to exchange a piece (\"can I have the 41?\", on WhatsApp or the site): their personal "
        "shopper is asked with the client's words (needs attention: exchange_requested) and arranges it with "
        "exchange, which answers the request; the client hears that their shopper will answer.",
        Trial.validate_exchange_request, Trial.request_exchange,
    ),
    Command(
        "extend", cmd.Extension, SUPPORT, "extension", "extend_trial", "Extend the trial (1–7 days, 14 in total)",
        "Staff: extend the trial by 1-7 days (14 in total) with a reason.",
        Trial.validate_extension, Trial.extend,
    ),
    Command(
        "request_extension", cmd.ExtensionRequest, EITHER, "extension-requests", "request_extension",
        "The client asks for more days (granted at once within their policy, else their shopper is asked)",
        "The client asks for more time: granted at once within what their tier lets them take themselves "
        "(client_extension_days, client_extensions times); otherwise their personal shopper is asked, with "
        "the client's words (needs attention: extension_requested; staff's extend answers it).",
        Trial.validate_extension_request, Trial.request_extension,
    ),
    Command(
        "waive", cmd.Waiver, SUPPORT, "waivers", "waive_piece", "Waive a piece that has not been charged",
        "Staff: waive a piece that has not been charged (goodwill); it is never charged.",
        Trial.validate_waiver, Trial.waive,
    ),
    Command(
        "change_payment_method", cmd.NewPaymentMethod, SUPPORT, "payment-method", "change_payment_method",
        "A new payment method (retries at once)",
        "Staff: supply a new payment method; a declined authorization or charge is retried at once.",
        Trial.validate_payment_method, Trial.change_payment_method,
    ),
    Command(
        "refund", cmd.Refund, SUPPORT, "refunds", "refund_piece",
        "Refund a charged piece, all or part of its price (once per piece)",
        "Support: refund a charged piece, all or part of its price, once; also after completion, within the "
        "refund window (`refunds_until`). The refund goes to the gateway under its own idempotency key, from "
        "the payment that charged the piece.",
        Trial.validate_refund, Trial.refund,
    ),
    Command(
        "assign_attention", cmd.AttentionAssignment, SUPPORT, "attention-assignments", "assign_attention",
        "Give what the trial needs staff for to someone (every reason, or those named)",
        "Support: give what the trial needs staff for to a staff member (assignee), every reason or those named; "
        "the queue shows each reason's owner and age.",
        Trial.validate_assignment, Trial.assign_attention,
    ),
    Command(
        "acknowledge_attention", cmd.Acknowledgement, SUPPORT, "attention-acknowledgements",
        "acknowledge_attention", "Staff saw to one reason the trial needed them for (with a note)",
        "Support: one reason the trial needed staff for was seen to outside the engine; it clears, with the "
        "note in the audit trail. What the trial itself waits for (a payment, a return) goes on.",
        Trial.validate_acknowledgement, Trial.acknowledge_attention,
    ),
    Command(
        "record_carrier_claim", cmd.CarrierClaim, SUPPORT, "carrier-claims", "record_carrier_claim",
        "A claim for a parcel the carrier lost: filed, settled (the amount paid) or rejected",
        "Support: a claim for a parcel the carrier lost (outbound, or a return): filed with the carrier's "
        "reference, then settled with the amount it paid (booked as a claim_payout, never a charge) or "
        "rejected. carrier_claim / return_lost clear once every lost parcel has the carrier's answer.",
        Trial.validate_carrier_claim, Trial.record_carrier_claim,
    ),
    Command(
        "resolve_lost_return", cmd.LostReturnResolution, SUPPORT, "lost-returns", "resolve_lost_return",
        "A return the carrier lost: found at the warehouse after all (with its condition), or written off",
        "Support: a return the carrier lost is found at the warehouse after all (give its condition; it is "
        "returned, and a claim filed for it withdrawn) or written off. Neither charges the client: the "
        "carrier had the parcel. return_lost clears once every lost return has an answer.",
        Trial.validate_lost_return, Trial.resolve_lost_return,
    ),
    Command(
        "cancel", cmd.Cancel, EITHER, "cancel", "cancel_trial", "Cancel before dispatch",
        "Cancel before dispatch; the authorization and the stock are released.",
        Trial.validate_cancel, Trial.cancel,
    ),
)  # fmt: skip

BY_UPDATE: dict[str, Command] = {c.update: c for c in COMMANDS}
BY_MODEL: dict[type[BaseModel], Command] = {c.model: c for c in COMMANDS}


def command_for(command: BaseModel) -> Command:
    """The row for a command body (each model belongs to exactly one command)."""
    return BY_MODEL[type(command)]
