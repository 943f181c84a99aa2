"""Random trial plans, played over HTTP the way fulfilment systems and staff would, through faults.

A plan is what the client and the warehouse intend; the engine may refuse part of it when the trial's
clock has moved on (a decision after the trial closed is `trial_closed`, a late return is
`return_window_closed`), and that is a legitimate answer, not a defect. What is a defect is decided at the
end, from the money and the pieces (see checks.py), whatever the plan managed to do.
"""

import asyncio
import hashlib
import hmac
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from soak.processes import EASYPOST_SECRET, TOKENS

AS = {role: {"Authorization": f"Bearer {token}"} for token, role in TOKENS.items()}
F, S = AS["fulfilment"], AS["support"]
AT_REST = {"COMPLETED", "CANCELLED", "REJECTED"}
# Statuses in which a trial waits for people, by design, and so counts as settled for the campaign.
WAITING = {"PAYMENT_ACTION_REQUIRED"}
PRICES = {"GBP": (15_000, 900_000), "EUR": (15_000, 900_000), "USD": (15_000, 900_000), "JPY": (20_000, 1_500_000)}


@dataclass
class Figures:
    """What the HTTP side saw: answers by kind, across every trial."""

    requests: int = 0
    unavailable: int = 0  # 503 with Retry-After: designed, the caller retries
    server_errors: int = 0  # any other 5xx: a defect
    refused: int = 0  # 4xx answers from the domain: legitimate when the clock moved on
    transport_errors: int = 0  # connection refused or dropped (the API was killed): retried
    server_error_samples: list[str] = field(default_factory=list)


class Api:
    """HTTP with the retries a careful fulfilment system makes: the same Idempotency-Key on every retry of a
    command, back off on 503 and on connection errors, give up after `patience` seconds."""

    def __init__(self, base_url: str, figures: Figures, patience: float = 180) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=40)
        self.figures = figures
        self.patience = patience

    async def close(self) -> None:
        await self.http.aclose()

    async def call(
        self, method: str, path: str, headers: dict[str, str], json: Any = None, content: bytes | None = None
    ) -> httpx.Response | None:
        key = {"Idempotency-Key": uuid.uuid4().hex} if method == "POST" else {}
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.patience
        delay = 0.5
        while loop.time() < give_up:
            self.figures.requests += 1
            try:
                r = await self.http.request(method, path, headers={**headers, **key}, json=json, content=content)
            except httpx.TransportError:
                self.figures.transport_errors += 1
            else:
                if r.status_code == 503 and "retry-after" in r.headers:
                    self.figures.unavailable += 1
                elif r.status_code >= 500:
                    self.figures.server_errors += 1
                    if len(self.figures.server_error_samples) < 10:
                        self.figures.server_error_samples.append(f"{method} {path}: {r.status_code} {r.text[:200]}")
                else:
                    if r.status_code >= 400:
                        self.figures.refused += 1
                    return r
            await asyncio.sleep(delay)
            delay = min(delay * 2, 4)
        return None

    async def view(self, order_id: str) -> dict[str, Any] | None:
        r = await self.call("GET", f"/v1/trials/{order_id}", AS["read"])
        return r.json() if r is not None and r.status_code == 200 else None


@dataclass
class Plan:
    order: dict[str, Any]
    parcels: list[list[str]]
    decisions: dict[str, str]
    batches: int
    change_mind: bool
    finish_early: bool
    ship_back: list[list[str]]
    damaged: set[str]
    never_inspected: set[str]
    waive: str | None
    extend: int
    cancel: bool
    new_payment_method: bool
    # The carrier loses this parcel (by index), and replacements are reshipped or not.
    lose: int | None = None
    reship: bool = False
    # Support refunds a charged piece once the trial is at rest: this share of its price (1: all, no amount).
    refund: float | None = None
    # The carrier moves this trial: its parcels are delivered by tracking events, and its returns go back on
    # prepaid labels the client asks for, shipped and received by tracking events; each event arrives twice,
    # and a stale "in transit" after the delivery (as carriers' webhooks do).
    by_carrier: bool = False
    # Support exchanges this piece once the parcels are in, for a replacement at this price (sent in a
    # reship, delivered, then decided like any piece); the original goes back with the returns.
    exchange: str | None = None
    exchange_price: int = 0

    @property
    def order_id(self) -> str:
        return str(self.order["order_id"])


# Cards by what they do. localstripe knows Stripe's test cards; the simulated gateway also has one that
# declines only payments made after the first authorization (dunning), which Stripe has no card for.
DECLINES_LATER = {"simulated": "pm_card_declinesOffSession", "stripe": "pm_card_chargeCustomerFail"}


SCRIPTS = ["注文-", "ＡＢＣ-", "٣٤-", "é-"]


def random_plan(rng: random.Random, prefix: str, payments: str = "simulated") -> Plan:
    n = rng.randint(1, 30)
    currency = rng.choice(list(PRICES))
    low, high = PRICES[currency]
    ids = [f"p{i}" for i in range(1, n + 1)]
    card = rng.choices(["pm_card_visa", "pm_card_declinesOffSession", "pm_card_chargeDeclined"], weights=[85, 9, 6])[0]
    tail = uuid.UUID(int=rng.getrandbits(128)).hex[:10]
    # A quarter of the orders have ids in other scripts, as real ones may: their events must reach the
    # webhook subscriber and their money Stripe (each once went nowhere: headers carry only ASCII). Chosen
    # from the id itself, so the plans of a seed are the ones they were before.
    script = SCRIPTS[int(tail[1], 16) % len(SCRIPTS)] if int(tail[0], 16) < 4 else ""
    # Half of the clients can be reached (by email, in one of the five languages and another time zone), so
    # the messages along their journey and the return-due deadline run too; chosen from the id as well.
    reached = int(tail[2], 16) < 8
    by_carrier = int(tail[5], 16) < 8
    locale = ["en", "de", "it", "fr", "ja"][int(tail[3], 16) % 5]
    zone = ["Europe/London", "Europe/Rome", "America/New_York", "Asia/Tokyo"][int(tail[4], 16) % 4]
    contact = {"channel": "email", "address": f"client-{tail}@example.com", "locale": locale, "time_zone": zone}
    order = {
        "order_id": f"{prefix}-{script}{tail}",
        "customer": {"id": f"cus-{rng.randint(1, 60):03d}", "tier": rng.choice(["EIP", "EIP_PREMIUM"]),
                     "region": rng.choice(["UK", "EU", "US", "JP"]), "personal_shopper_id": f"ps-{rng.randint(1, 9)}",
                     **({"contact": contact} if reached else {})},
        "currency": currency,
        "pieces": [{"piece_id": p, "sku": f"SKU-{rng.randint(1, 500):04d}", "description": f"Piece {p}",
                    "price": rng.randint(low, high)} for p in ids],
        "payment_method": card,
        "shipping_address": {"name": "Soak Client", "line1": "1 Test Street", "city": "London", "postal_code": "W1K",
                             "country": "GB"},
    }  # fmt: skip
    shipped = [p for p in ids if rng.random() > 0.05] or ids[:1]
    rng.shuffle(shipped)
    cuts = sorted(rng.sample(range(1, len(shipped)), min(rng.randint(0, 2), len(shipped) - 1)))
    parcels = [shipped[a:b] for a, b in zip([0, *cuts], [*cuts, len(shipped)], strict=True)]
    decisions = {p: rng.choice(["keep", "keep", "return"]) for p in shipped if rng.random() > 0.1}
    returning = [p for p, d in decisions.items() if d == "return"]
    sent = [p for p in returning if rng.random() > 0.15]
    half = rng.randint(0, len(sent))
    plan = Plan(
        order=order, parcels=parcels, decisions=decisions, batches=rng.randint(1, 3),
        change_mind=rng.random() < 0.2, finish_early=rng.random() < 0.4,
        ship_back=[b for b in (sent[:half], sent[half:]) if b],
        damaged={p for p in sent if rng.random() < 0.15}, never_inspected={p for p in sent if rng.random() < 0.05},
        waive=rng.choice(shipped) if rng.random() < 0.1 else None, extend=rng.choice([0, 0, 0, 0, 1, 2]),
        cancel=rng.random() < 0.03, new_payment_method=rng.random() < 0.6,
        lose=rng.randrange(len(parcels)) if rng.random() < 0.08 else None, reship=rng.random() < 0.6,
        refund=rng.choice([1.0, 0.5]) if rng.random() < 0.15 else None, by_carrier=by_carrier,
    )  # fmt: skip
    # One trial in five exchanges a piece (chosen from the id, so the rest of a seed's plans stay as they were).
    if int(tail[6], 16) < 3:
        swapped = shipped[0]
        plan.exchange, plan.exchange_price = swapped, low + (high - low) * int(tail[7], 16) // 15
        plan.decisions[swapped] = "return"
        replacement = f"{swapped}x"
        plan.decisions[replacement] = "keep" if int(tail[8], 16) < 11 else "return"
        going_back = [swapped] + ([replacement] if plan.decisions[replacement] == "return" else [])
        plan.ship_back = [[p for p in b if p not in going_back] for b in plan.ship_back]
        plan.ship_back = [b for b in plan.ship_back if b] + [going_back]
    return plan


async def carrier_event(api: Api, tracking: str, status: str) -> None:
    """One EasyPost tracker event, signed as EasyPost signs it, delivered twice (a webhook's retry)."""
    now = datetime.now(UTC).isoformat()
    event = {
        "object": "Event", "description": "tracker.updated", "created_at": now,
        "result": {"object": "Tracker", "tracking_code": tracking, "status": status, "carrier": "DHLExpress",
                   "tracking_details": [{"status": status, "datetime": now}], "updated_at": now},
    }  # fmt: skip
    body = json.dumps(event).encode()
    signature = hmac.new(EASYPOST_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Hmac-Signature": f"hmac-sha256-hex={signature}", "Content-Type": "application/json"}
    for _ in range(2):
        await api.call("POST", "/v1/carriers/easypost/webhook", headers, content=body)


async def carrier_delivers(api: Api, tracking: str) -> None:
    """The carrier delivers an outbound parcel: its delivery, then a stale "in transit" that changes nothing."""
    await carrier_event(api, tracking, "delivered")
    await carrier_event(api, tracking, "in_transit")


async def carrier_returns(api: Api, base: str, pieces: list[str]) -> None:
    """The client asks for a prepaid label for `pieces`; the carrier scans the parcel, out of order (its
    delivery to the warehouse before its first scan), and a stale scan after."""
    r = await api.call(
        "POST", f"{base}/return-labels", S, {"actor": "client", "channel": "whatsapp", "piece_ids": pieces}
    )
    if r is None or r.status_code != 200:
        return
    booked = [b for b in r.json()["return_bookings"] if b["state"] == "booked" and b["piece_ids"] == pieces]
    if not booked:
        return
    tracking = booked[-1]["tracking_number"]
    await carrier_event(api, tracking, "delivered")
    await carrier_event(api, tracking, "in_transit")


async def wait_for(
    api: Api, order_id: str, done: Callable[[dict[str, Any]], bool], seconds: float
) -> dict[str, Any] | None:
    """The trial once `done` holds for it, or as it last read after `seconds`."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    view = None
    while loop.time() < until:
        view = await api.view(order_id)
        if view is not None and done(view):
            return view
        await asyncio.sleep(0.5)
    return view


async def wait_status(api: Api, order_id: str, wanted: set[str], seconds: float) -> dict[str, Any] | None:
    return await wait_for(api, order_id, lambda v: v["status"] in wanted, seconds)


async def play(api: Api, plan: Plan, day: float, rng: random.Random) -> None:
    """Drive one trial through its plan. `day` is one policy day in seconds."""
    oid = plan.order_id
    base = f"/v1/trials/{oid}"
    r = await api.call("POST", "/v1/trials", F, plan.order)
    if r is None or r.status_code not in (200, 201):
        return
    view = await wait_for(api, oid, lambda v: v["status"] != "AUTHORIZING" or v["needs_attention"], 10 * day)
    if view is not None and view["status"] == "AUTHORIZING" and plan.new_payment_method:
        # a declined authorization: staff supply a card that works, within the fix window
        await api.call("POST", f"{base}/payment-method", S, {"payment_method": "pm_card_visa", "actor": "cr.soak"})
    # Patient: under worker kills and dropped gateway calls an authorization's activity may retry for
    # minutes (a killed attempt waits out its 30 s timeout, and the backoff doubles); a warehouse waits too.
    view = await wait_status(api, oid, {"AWAITING_DISPATCH", "REJECTED", "CANCELLED"}, 150 * day)
    if view is None or view["status"] != "AWAITING_DISPATCH":
        return
    if plan.cancel:
        await api.call("POST", f"{base}/cancel", F, {"reason": "client changed plans", "actor": "cr.soak"})
        return
    parcels = [
        {"carrier": rng.choice(["DHL", "FedEx", "UPS"]), "tracking_number": f"T{i}-{oid[-6:]}", "piece_ids": ps}
        for i, ps in enumerate(plan.parcels)
    ]
    await api.call("POST", f"{base}/dispatch", F, {"parcels": parcels})
    if plan.lose is not None:
        # The carrier lost one parcel: support declares it, and the warehouse may send replacements.
        lost = parcels.pop(plan.lose)
        await api.call(
            "POST", f"{base}/lost-parcels", S,
            {"tracking_number": lost["tracking_number"], "reason": "carrier lost it", "actor": "cr.soak",
             "reship": plan.reship},
        )  # fmt: skip
        if plan.reship:
            again = {**lost, "tracking_number": f"N-{lost['tracking_number']}"}
            await api.call("POST", f"{base}/reshipments", F, {"parcels": [again]})
            parcels.append(again)
    for i, parcel in enumerate(parcels):
        await asyncio.sleep(rng.uniform(0, 0.3 * day))
        if plan.by_carrier:
            await carrier_delivers(api, str(parcel["tracking_number"]))
            continue
        staff = i == 0 and rng.random() < 0.1
        body: dict[str, Any] = {"tracking_number": parcel["tracking_number"]}
        if staff:
            body |= {"actor": "cr.soak", "reason": "carrier confirmed by phone"}
        await api.call("POST", f"{base}/delivery", S if staff else F, body)
    if plan.exchange:
        # "The 40 is too small": the replacement is sent in a reship and delivered, then decided with the rest.
        swapped, tracking = plan.exchange, f"X-{oid[-6:]}"
        replacement: dict[str, Any] = {"piece_id": f"{swapped}x", "sku": f"SKU-X-{swapped}", "description": f"Piece {swapped}, a size up",
                       "price": plan.exchange_price, "size": "41"}  # fmt: skip
        await api.call(
            "POST", f"{base}/exchanges", S,
            {"piece_id": swapped, "replacement": replacement, "reason": "too_small", "words": "A size up, please.",
             "actor": "ps-soak", "channel": "whatsapp"},
        )  # fmt: skip
        parcel = {"carrier": "DHL", "tracking_number": tracking, "piece_ids": [replacement["piece_id"]]}
        await api.call("POST", f"{base}/reshipments", F, {"parcels": [parcel]})
        await asyncio.sleep(rng.uniform(0, 0.3 * day))
        await api.call("POST", f"{base}/delivery", F, {"tracking_number": tracking})
    if plan.extend:
        await api.call(
            "POST", f"{base}/extension", S, {"days": plan.extend, "reason": "travelling", "actor": "cr.soak"}
        )
    if plan.waive:
        await api.call("POST", f"{base}/waivers", S, {"piece_id": plan.waive, "reason": "goodwill", "actor": "cr.soak"})
    pieces = list(plan.decisions)
    size = max(1, -(-len(pieces) // plan.batches))
    for start in range(0, len(pieces), size):
        chunk = [{"piece_id": p, "decision": plan.decisions[p]} for p in pieces[start : start + size]]
        who, channel = rng.choice([(F, "app"), (F, "site"), (S, "whatsapp"), (S, "phone")])
        await api.call("POST", f"{base}/decisions", who, {"decisions": chunk, "actor": "client", "channel": channel})
        await asyncio.sleep(rng.uniform(0, 0.5 * day))
    if plan.change_mind and pieces:
        p = rng.choice(pieces)
        flipped = "keep" if plan.decisions[p] == "return" else "return"
        if flipped == "keep" and any(p in b for b in plan.ship_back):
            flipped = "return"
        plan.decisions[p] = flipped
        await api.call(
            "POST", f"{base}/decisions", S,
            {"decisions": [{"piece_id": p, "decision": flipped}], "actor": "ps-1", "channel": "whatsapp"},
        )  # fmt: skip
    if plan.finish_early:
        await api.call("POST", f"{base}/finish", F, {"actor": "client", "channel": "app"})
    for i, planned in enumerate(plan.ship_back):
        batch = [p for p in planned if plan.decisions.get(p) == "return"]
        if not batch:
            continue
        await asyncio.sleep(rng.uniform(0, 1.5 * day))
        if plan.by_carrier:
            await carrier_returns(api, base, batch)
        else:
            await api.call(
                "POST", f"{base}/returns", F,
                {"piece_ids": batch, "carrier": "DHL", "tracking_number": f"R{i}-{oid[-6:]}"},
            )  # fmt: skip
        await asyncio.sleep(rng.uniform(0.2 * day, 2 * day))
        for piece in batch:
            if piece not in plan.never_inspected:
                condition = "damaged" if piece in plan.damaged else "ok"
                await api.call("POST", f"{base}/inspections", F, {"piece_id": piece, "condition": condition})
    view = await wait_status(api, oid, AT_REST | WAITING, 45 * day)
    if view is not None and view["status"] in AT_REST and view["needs_attention"]:
        # What it needs staff for (a carrier claim, a lost return) is given to someone and seen to: the
        # trial's workflow then ends (it waits for staff until then).
        await api.call("POST", f"{base}/attention-assignments", S, {"assignee": "cr.soak", "actor": "lead.soak"})
        # A lost parcel's claim is filed with the carrier and settled (booked as a payout, never a charge)...
        claimed = [p["tracking_number"] for p in view["parcels"] if p.get("lost_at")]
        # ... a lost return is claimed the same way, or found at the warehouse after all, or written off ...
        for tracking in sorted({p["return_tracking"] for p in view["pieces"] if p["state"] == "LOST_IN_RETURN"}):
            way = rng.choice(["claimed", "found", "written_off"])
            if way == "claimed":
                claimed.append(tracking)
                continue
            answer = {"tracking_number": tracking, "outcome": way, "note": "the soak's staff", "actor": "cr.soak"}
            await api.call(
                "POST", f"{base}/lost-returns", S, {**answer, "condition": "ok"} if way == "found" else answer
            )
        for tracking in claimed:
            claim = {"tracking_number": tracking, "step": "filed", "reference": f"CLM-{tracking}", "actor": "cr.soak"}
            await api.call("POST", f"{base}/carrier-claims", S, claim)
            await api.call("POST", f"{base}/carrier-claims", S, {**claim, "step": "settled", "amount": 1000})
        # ... and whatever else it needs staff for is acknowledged.
        for reason in set(view["attention"]) - {"carrier_claim", "return_lost"}:
            note = {"reason": reason, "note": "seen to by the soak's staff", "actor": "cr.soak"}
            await api.call("POST", f"{base}/attention-acknowledgements", S, note)
    if view is not None and view["status"] == "PAYMENT_ACTION_REQUIRED" and plan.new_payment_method:
        await api.call("POST", f"{base}/payment-method", S, {"payment_method": "pm_card_visa", "actor": "cr.soak"})
    if view is not None and plan.refund is not None:
        # A refund after completion (the trial's workflow waits for it): all of a charged piece, or a share.
        charged = [p for p in view["pieces"] if p["charged"] and p["state"] != "REFUNDED"]
        if charged:
            piece = rng.choice(charged)
            refund: dict[str, Any] = {"piece_id": piece["piece_id"], "reason": "goodwill", "actor": "cr.soak"}
            if plan.refund < 1:
                refund["amount"] = max(1, int(piece["price"] * plan.refund))
            await api.call("POST", f"{base}/refunds", S, refund)
