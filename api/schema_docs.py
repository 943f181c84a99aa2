"""A description and an example for every field the API sends or receives, for the OpenAPI document.

Kept here, beside the API, rather than on the domain's models: the domain's models are also the workflow's
inputs and history, and what a field means to an integrator is the API's business. `COMMON` covers the
fields that mean the same everywhere (an order id is an order id); `SPECIFIC` the rest, by schema and field.
A description set with `Field(description=...)` on a model wins. tests/unit/test_api_routes.py fails when a
field has neither, so a new field cannot reach the document undescribed.
"""

from typing import Any

ISO_TIME = "2026-11-24T09:30:00Z"

COMMON: dict[str, tuple[str, Any]] = {
    "order_id": ("The order's id in the order system; one order opens one trial, ever.", "A-1001"),
    "trial_id": ("The trial's id: its Temporal workflow id (`style-trial-` and the order id).", "style-trial-A-1001"),
    "piece_id": ("A piece's id within its order.", "p1"),
    "piece_ids": ("Pieces, by their ids within the order.", ["p1", "p2"]),
    "sku": ("The piece's stock-keeping unit.", "SKU-CASH-OVC-48"),
    "description": ("What the piece is, as the client sees it.", "Cashmere overcoat, camel, 48"),
    "price": ("Price in minor units of the order's currency (pence, cents; yen have none).", 420000),
    "currency": ("ISO-4217 code; every amount of the trial is in it, in minor units.", "GBP"),
    "carrier": ("The carrier's name.", "DHL Express"),
    "tracking_number": ("The carrier's tracking number; unique within the trial.", "JD014600006281"),
    "actor": ("Who did it: a staff member's, shopper's or system's name or id (never a client's name).", "cr.anna"),
    "reason": ("Why, in a sentence staff can read later in the audit trail.", "Client travelling until Friday"),
    "channel": ("Where the client said it.", "whatsapp"),
    "reference": ("The message or call it came from (a WhatsApp message id, a ticket).", "wamid.HBgLMzkzMzM5ODc2"),
    "status": ("Where the trial stands.", "ON_TRIAL"),
    "needs_attention": ("True when staff should look at the trial (see `attention`).", False),
    "attention": ("Why staff should look, by reason code.", {"dispatch_sla": "Not dispatched within 48 h."}),
    "customer_id": ("The client's id in the retailer's CRM (no name or contact).", "cus-0042"),
    "tier": ("The client's tier; only the policy's eligible tiers may open a trial.", "EIP"),
    "region": ("The client's region, for reporting and routing to a boutique.", "UK"),
    "personal_shopper_id": ("The client's personal shopper, who hears about the trial.", "ps-07"),
    "opened_at": ("When the trial was opened (UTC).", ISO_TIME),
    "trial_ends_at": ("When the trial ends and undecided pieces count as kept (UTC); null before delivery.", ISO_TIME),
    "return_deadline": ("When returns must be shipped by (UTC); null until the trial ends.", ISO_TIME),
    "value": ("The value of every piece, in minor units.", 609000),
    "authorized": ("Held on the client's card now, in minor units.", 609000),
    "charged": ("Charged so far, in minor units.", 420000),
    "released": ("Released from holds so far, in minor units.", 189000),
    "decision": ("Keep or return.", "keep"),
    "condition": ("How a returned piece came back: ok, or damaged (then it is charged).", "ok"),
    "delivered_at": ("When the parcel was delivered (UTC).", ISO_TIME),
    "at": ("When it happened (UTC).", ISO_TIME),
    "kind": ("What kind of entry this is.", "decided"),
    "amount": ("Amount in minor units.", 420000),
    "settlement": ("The settlement it belongs to (numbered from 1), or null.", 1),
    "items": ("The page's entries.", []),
    "next_cursor": (
        "Pass back as `cursor` for the next page; null on the last page.",
        "MjAyNi0xMS0yNFQwOTozMDowMCswMDowMHxzdHlsZS10cmlhbC1BLTEwMDE=",
    ),
    "event_id": (
        "The trial event's id, sent to subscribers as `webhook-id`.",
        "evt_9c4ba318d4a975aafb2025778db651bd_3",
    ),
    "designer": (
        "The piece's designer (house, label): what buyers read keep rates and return reasons by.",
        "Loro Piana",
    ),
    "days": ("Days to add to the trial (1-7 at a time, 14 in total).", 3),
    "payment_method": ("The client's saved payment method at the gateway.", "pm_card_visa"),
}

SPECIFIC: dict[tuple[str, str], tuple[str, Any]] = {
    ("Address", "name"): (
        "The recipient's name (client data: encrypted in history, shown to support only).",
        "Client Name",
    ),
    ("Address", "line1"): ("Street and number.", "1 Mount Street"),
    ("Address", "line2"): ("Flat, floor, company; optional.", "Flat 4"),
    ("Address", "city"): ("City.", "London"),
    ("Address", "postal_code"): ("Postal code.", "W1K 3NA"),
    ("Address", "country"): ("ISO-3166 country code.", "GB"),
    ("Amounts", "outstanding"): ("Owed and not yet charged (dunning), in minor units.", 0),
    ("ClientContact", "channel"): ("How the client wants to hear from us.", "whatsapp"),
    ("ClientContact", "address"): (
        "A phone number (E.164) for WhatsApp, or an email address; never logged.",
        "+447700900123",
    ),
    ("ClientContact", "locale"): ("The language of the client's messages.", "en"),
    ("ClientContact", "time_zone"): ("IANA time zone the client's deadlines are written in.", "Europe/London"),
    ("Customer", "id"): ("The client's id in the retailer's CRM (no name or contact).", "cus-0042"),
    ("Customer", "contact"): ("How to reach the client about the trial; optional (then nothing is sent).", None),
    ("Decisions", "decisions"): (
        "One decision per piece, each for a delivered piece.",
        [{"piece_id": "p1", "decision": "keep"}],
    ),
    ("Dispatch", "parcels"): (
        "The parcels the order left in; pieces in none are unavailable.",
        [{"carrier": "DHL Express", "tracking_number": "JD014600006281", "piece_ids": ["p1", "p2"]}],
    ),
    ("Delivery", "delivered_at"): ("When it was delivered (UTC); now if omitted.", ISO_TIME),
    ("Delivery", "actor"): ("Staff recording a delivery by hand must name themselves.", "cr.anna"),
    ("Delivery", "reason"): (
        "Staff recording a delivery by hand must say why.",
        "Carrier scan missing; client confirmed by phone",
    ),
    ("ErrorBody", "code"): ("What went wrong, for code: stable, snake_case.", "already_dispatched"),
    ("ErrorBody", "message"): ("What went wrong, for people: one sentence.", "The order has already been dispatched."),
    ("ErrorResponse", "error"): (
        "The error: a code and a sentence.",
        {"code": "unknown_order", "message": "There is no Style Trial for order 'A-9'."},
    ),
    ("EventView", "seq"): ("The entry's place in the trial's audit trail, from 1.", 3),
    ("EventView", "detail"): ("What happened, in a sentence.", "p1 kept, p2 returned (by cr.anna via whatsapp)."),
    ("EventView", "kind"): ("What kind of entry this is.", "decided"),
    ("Extension", "reason"): ("Why the trial is extended.", "Client travelling until Friday"),
    ("FinishEarly", "actor"): ("Who finished the trial early.", "client"),
    ("FinishEarly", "channel"): ("Where the client said they were done.", "app"),
    ("Health", "status"): ("ok, or unavailable when a dependency does not answer.", "ok"),
    ("Health", "checks"): ("Each dependency and how it answered.", {"temporal": "ok", "database": "ok"}),
    ("Inspections", "inspections"): (
        "Every piece of a return parcel with its condition: all or nothing.",
        [{"piece_id": "p2", "condition": "ok"}],
    ),
    ("MovementView", "key"): (
        "The movement's idempotency key at the gateway: never used twice.",
        "style-trial-A-1001:capture:1",
    ),
    ("MovementView", "kind"): (
        "authorization (a hold), capture or charge (money taken), release, or expiry of a hold.",
        "capture",
    ),
    ("MovementView", "outcome"): ("succeeded or declined.", "succeeded"),
    ("MovementView", "reference"): ("The gateway's reference for it.", "pi_3Qx2aB"),
    ("MovementView", "expires_at"): ("When a hold lapses (UTC); null for other kinds.", ISO_TIME),
    ("MovementView", "decline_code"): ("The gateway's reason for a decline.", "insufficient_funds"),
    ("LostParcel", "reason"): ("What the carrier said, or why staff believe it lost.", "Carrier confirmed loss at hub"),
    ("LostParcel", "reship"): (
        "True when the warehouse sends replacements (the trial waits for them); false: the pieces are gone.",
        True,
    ),
    ("Reshipment", "parcels"): (
        "New parcels with replacements for pieces awaiting a reship; any such piece in none is lost for good.",
        [{"carrier": "DHL Express", "tracking_number": "JD014600009999", "piece_ids": ["p2"]}],
    ),
    ("ParcelView", "lost_at"): ("When it was declared lost in transit (UTC); null unless lost.", ISO_TIME),
    ("Amounts", "refunded"): ("Given back to the client by refunds, in minor units.", 0),
    ("PieceView", "refunded"): ("What was refunded for the piece (then REFUNDED), in minor units.", 420000),
    ("TrialView", "refunds_until"): (
        "Until when support may still refund a charged piece of this completed trial (UTC); null otherwise.",
        ISO_TIME,
    ),
    ("Refund", "reason"): ("Why the money goes back.", "Late return accepted as goodwill"),
    ("Refund", "amount"): ("How much, in minor units; the whole price when omitted, never more.", 420000),
    ("NewPaymentMethod", "actor"): ("The staff member who took the new payment method.", "cr.anna"),
    ("OrderPiece", "price"): (
        "Price in minor units of the order's currency; a whole number, at most 99,999,999.",
        420000,
    ),
    ("Parcel", "piece_ids"): ("The pieces in this parcel; a piece is in one parcel only.", ["p1", "p2"]),
    ("ParcelView", "recorded_by"): ("Who recorded the delivery: the carrier, or a staff member.", "carrier"),
    ("PieceDecision", "decision"): ("keep or return.", "keep"),
    ("PieceDecision", "reason"): (
        "Why it goes back (returns only; a kept piece refuses one): too_small, too_large, fit, colour, quality, not_as_pictured, changed_mind, other.",
        "too_small",
    ),
    ("PieceDecision", "feedback"): (
        "The client's own words on the piece, kept or returned.",
        "Lovely cloth, but the sleeves are short.",
    ),
    ("PieceView", "return_reason"): ("Why it went back, when the client said.", "too_small"),
    ("PieceView", "feedback"): ("The client's own words on the piece.", "Lovely cloth, but the sleeves are short."),
    ("PieceView", "state"): ("Where the piece stands.", "ON_TRIAL"),
    ("PieceView", "decided_by"): ("Who decided.", "client"),
    ("PieceView", "decided_via"): ("Where the decision was made.", "whatsapp"),
    ("PieceView", "decided_at"): ("When it was decided (UTC).", ISO_TIME),
    ("PieceView", "decision_reference"): ("The message the decision came from.", "wamid.HBgLMzkzMzM5ODc2"),
    ("PieceView", "parcel"): ("The tracking number of the parcel it travelled in.", "JD014600006281"),
    ("PieceView", "return_tracking"): ("The tracking number of its return.", "RT-4471"),
    ("PieceView", "return_shipped_at"): ("When its return was shipped (UTC).", ISO_TIME),
    ("PieceView", "charged"): ("Whether the piece has been charged (at most once, ever).", False),
    ("Replayed", "deliveries"): ("How many deliveries start over (one per subscriber, or the one named).", 1),
    ("ReturnShipped", "piece_ids"): ("The pieces in the return parcel.", ["p2"]),
    ("SettlementView", "number"): ("The settlement's number within the trial, from 1.", 1),
    ("SettlementView", "piece_ids"): ("The pieces it charges for.", ["p1"]),
    ("SettlementView", "state"): ("due, waiting (to be retried), action_required (dunning), paid, or void.", "paid"),
    ("SettlementView", "declines"): ("How many times the gateway declined it.", 0),
    ("SettlementView", "next_attempt_at"): ("When it is retried next (UTC), while waiting.", ISO_TIME),
    ("TrialList", "items"): ("Trials, newest first.", []),
    ("TrialOrder", "customer"): (
        "The client: ids, tier, region, and how to reach them.",
        {"id": "cus-0042", "tier": "EIP", "region": "UK"},
    ),
    ("TrialOrder", "pieces"): (
        "The pieces sent on trial: 1 to 30 (the policy's maximum).",
        [{"piece_id": "p1", "sku": "SKU-1", "description": "Cashmere overcoat", "price": 420000}],
    ),
    ("TrialOrder", "shipping_address"): ("Where the pieces go (client data: encrypted in history).", None),
    ("TrialOrder", "trial_days"): ("The trial's length in days, when not the policy's default (7).", 7),
    ("TrialView", "accepted_at"): ("When the card hold succeeded (UTC).", ISO_TIME),
    ("TrialView", "dispatched_at"): ("When the order left the warehouse (UTC).", ISO_TIME),
    ("TrialView", "closed_at"): ("When the trial closed: completed, cancelled or rejected (UTC).", ISO_TIME),
    ("TrialView", "extension_days"): ("Days staff added to the trial.", 0),
    ("TrialView", "pieces"): ("Every piece, in the order's order.", []),
    ("TrialView", "parcels"): ("Every parcel dispatched.", []),
    ("TrialView", "amounts"): (
        "The money of the trial, in minor units.",
        {"value": 609000, "authorized": 0, "charged": 420000, "released": 609000, "outstanding": 0},
    ),
    ("TrialView", "settlements"): ("Each charge of kept pieces, and where it stands.", []),
    ("TrialView", "movements"): ("Every money movement at the gateway, in order.", []),
    ("TrialView", "events"): ("The audit trail: every change, who made it, and how.", []),
    ("PieceView", "return_received_at"): (
        "When its return reached the warehouse: the carrier's delivery scan, or its inspection (UTC).",
        ISO_TIME,
    ),
    ("Inspection", "note"): (
        "What the warehouse found, in a sentence the client reads (a damaged piece is charged, and told why).",
        "A tear at the left seam",
    ),
    ("AttentionAssignment", "assignee"): ("The staff member who takes it.", "cr.anna"),
    ("AttentionAssignment", "reasons"): (
        "The reasons given; omitted: every reason the trial is flagged for.",
        ["carrier_claim"],
    ),
    ("Acknowledgement", "reason"): ("The reason seen to.", "carrier_claim"),
    ("Acknowledgement", "note"): (
        "What was done, for the audit trail.",
        "Claim DHL-77812 filed; the carrier pays in 30 days.",
    ),
    ("AttentionView", "reason"): ("Why the trial needs staff.", "carrier_claim"),
    ("AttentionView", "text"): (
        "What to do, in a sentence.",
        "Parcel JD0146 (DHL) was lost in transit: file a carrier claim.",
    ),
    ("AttentionView", "since"): ("Since when (UTC): the item's age in the queue.", ISO_TIME),
    ("AttentionView", "assignee"): ("Who has it; null until assigned.", "cr.anna"),
    ("TrialView", "attention_items"): ("Each reason the trial needs staff for, with its age and owner.", []),
    ("AttentionEntry", "reason"): ("Why the trial needs staff.", "carrier_claim"),
    ("AttentionEntry", "text"): (
        "What to do, in a sentence.",
        "Parcel JD0146 (DHL) was lost in transit: file a carrier claim.",
    ),
    ("AttentionEntry", "since"): ("Since when (UTC): the item's age in the queue.", ISO_TIME),
    ("AttentionEntry", "assignee"): ("Who has it; null until assigned.", "cr.anna"),
    ("AttentionQueue", "items"): ("What trials need staff for, oldest first.", []),
    ("CarrierClaim", "step"): ("filed (with `reference`), then settled (with `amount`) or rejected.", "filed"),
    ("CarrierClaim", "reference"): ("The carrier's reference for the claim (when filed).", "DHL-CLM-77812"),
    ("CarrierClaim", "amount"): ("What the carrier paid, in minor units (when settled).", 240000),
    ("CarrierClaim", "note"): ("Anything staff should know later, for the audit trail.", "Paid by bank transfer."),
    ("ClaimView", "reason"): (
        "carrier_claim (a parcel lost on its way out) or return_lost (a return).",
        "carrier_claim",
    ),
    ("ClaimView", "state"): ("filed, settled or rejected; withdrawn when the lost return was found.", "filed"),
    ("LostReturnResolution", "outcome"): (
        "found (it reached the warehouse after all; give `condition`) or written_off. Neither is charged.",
        "found",
    ),
    ("LostReturnResolution", "note"): ("Why, for the audit trail.", "Found on the dock behind bay 4."),
    ("ClaimView", "reference"): ("The carrier's reference for the claim.", "DHL-CLM-77812"),
    ("ClaimView", "amount"): ("What the carrier paid (minor units); null until settled.", None),
    ("TrialView", "claims"): ("Claims for parcels the carrier lost, and its answers.", []),
    ("ExtensionRequest", "days"): ("How many more days the client asks for.", 3),
    ("ExtensionRequest", "words"): ("The client's own words, for their shopper.", "Can I have three more days?"),
    ("Slot", "starts_at"): ("When the courier's window opens (with a zone; stored in UTC).", ISO_TIME),
    ("Slot", "ends_at"): ("When it closes: one to eight hours later, by the return deadline.", "2026-11-24T13:30:00Z"),
    ("CollectionBooking", "slot"): (
        "The window in which the courier collects at the order's shipping address.",
        {"starts_at": ISO_TIME, "ends_at": "2026-11-24T13:30:00Z"},
    ),
    ("CollectionBooking", "piece_ids"): (
        "The pieces going back; omitted: every piece decided return or awaiting its return, not yet booked.",
        ["p2"],
    ),
    ("ReturnLabel", "piece_ids"): (
        "The pieces going back; omitted: every piece decided return or awaiting its return, not yet booked.",
        ["p2"],
    ),
    ("CarrierScan", "status"): (
        "What the carrier says: accepted, in_transit, out_for_delivery (it has the parcel) or delivered.",
        "delivered",
    ),
    ("CarrierScan", "occurred_at"): ("When the carrier scanned it (with a zone), not when it was reported.", ISO_TIME),
    ("CarrierScan", "carrier"): ("The carrier's name, as the tracking provider gives it.", "DHLExpress"),
    ("ReturnBookingView", "number"): ("The booking's number within the trial, from 1.", 1),
    ("ReturnBookingView", "kind"): (
        "collection (a courier at the door) or label (the client drops it off).",
        "collection",
    ),
    ("ReturnBookingView", "state"): (
        "requested, booked, failed, shipped (the carrier's first scan) or received (at the warehouse).",
        "booked",
    ),
    ("ReturnBookingView", "requested_at"): ("When it was asked for (UTC).", ISO_TIME),
    ("ReturnBookingView", "requested_by"): ("Who asked: client, or a staff member.", "client"),
    ("ReturnBookingView", "slot_starts_at"): ("A collection's window opens (UTC); null for a label.", ISO_TIME),
    ("ReturnBookingView", "slot_ends_at"): ("A collection's window closes (UTC); null for a label.", ISO_TIME),
    ("ReturnBookingView", "failure"): ("Why the provider could not book it; null unless failed.", None),
    ("TrialView", "return_bookings"): ("Collections and labels booked for the pieces going back.", []),
    ("WebhookDeliveries", "items"): ("Deliveries, most overdue first.", []),
    ("WebhookDelivery", "trial_id"): ("The trial the event is about.", "style-trial-A-1001"),
    ("WebhookDelivery", "status"): ("pending, delivered, or dead (retries spent).", "pending"),
    ("WebhookDelivery", "next_attempt_at"): ("When it is (or was) next due (UTC).", ISO_TIME),
    ("WebhookDelivery", "last_error"): ("The last attempt's failure: an HTTP status or an error class.", "HTTP 503"),
    ("WebhookDelivery", "delivered_at"): ("When the subscriber accepted it (UTC).", ISO_TIME),
}


def document(schemas: dict[str, Any]) -> None:
    """Fill in a description and an example for every property of every schema, where the model gave none."""
    for name, schema in schemas.items():
        model = name.removesuffix("-Input").removesuffix("-Output")
        for field, prop in schema.get("properties", {}).items():
            found = SPECIFIC.get((model, field)) or COMMON.get(field)
            if found is None:
                continue
            description, example = found
            prop.setdefault("description", description)
            if "examples" not in prop and "example" not in prop:
                prop["examples"] = [example]
