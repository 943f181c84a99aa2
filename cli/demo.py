"""`styletrial demo`: a handful of realistic trials, with the fulfilment side played, on a fast clock.

Each demo trial carries its own fast policy (a trial "day" lasts a few seconds), so the demo needs no
special settings: the engine runs it exactly as it runs real trials. Two trials are moved by the carrier
instead of fulfilment: their tracking events go through the same path as the carriers' webhook (found by
tracking number in the read model), one sends its return on a prepaid label (the demo prints the label's
link: a PDF the API serves), the other has a courier booked to collect it tomorrow.
"""

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta

from application.tracking import CarrierTracking
from application.trials import TrialService
from config import Settings
from domain import commands as cmd
from domain.examples import WARDROBE, decisions, order, parcels
from domain.order import TrialOrder
from domain.policy import TrialPolicy
from domain.workflow_io import StartTrial


def _order(tag: str, run: str, n: int, payment_method: str = "pm_card_visa", tier: str = "EIP") -> TrialOrder:
    return order(
        order_id=f"DEMO-{run}-{tag}", pieces=WARDROBE[:n], payment_method=payment_method, tier=tier,
        customer_id=f"cus-demo-{tag}", shopper="ps-demo-1",
    )  # fmt: skip


async def run_demo(settings: Settings, day_seconds: float) -> None:
    from application.connection import connect
    from persistence.db import make_engine
    from persistence.return_labels import SqlLabelBook
    from persistence.store import SqlStore

    policy = TrialPolicy().scaled(86_400 / day_seconds)
    trials = TrialService(await connect(settings, patience=30), settings.task_queue)
    store = SqlStore(make_engine(settings.resolved_database_url))
    carrier = CarrierTracking(trials, store)
    run = secrets.token_hex(2).upper()
    ui = f"http://127.0.0.1:{settings.temporal_ui_port}/namespaces/{settings.temporal_namespace}/workflows"
    print(f"Demo run {run}: a trial day lasts {day_seconds:g} s. Orders are DEMO-{run}-*.")
    print(f"Watch them in the Temporal UI: {ui}", flush=True)

    async def until(order_id: str, status: str) -> None:
        for _ in range(600):
            if (await trials.view(order_id)).status == status:
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{order_id} never reached {status}; is a worker running on {settings.task_queue!r}?")

    async def started(o: TrialOrder) -> str:
        return await started_with(o, policy)

    async def started_with(o: TrialOrder, trial_policy: TrialPolicy) -> str:
        await trials.start(StartTrial(order=o, policy=trial_policy))
        await until(o.order_id, "AWAITING_DISPATCH")
        return o.order_id

    async def dispatched(o: TrialOrder, delivered: int) -> str:
        oid = await started(o)
        ids = [p.piece_id for p in o.pieces]
        half = len(ids) // 2
        await trials.send(oid, parcels([ids[:half], ids[half:]], carrier="DHL Express", tracking=f"{oid}-"))
        for n in range(1, delivered + 1):
            await trials.send(oid, cmd.Delivery(tracking_number=f"{oid}-{n}"))
        return oid

    async def decided(o: TrialOrder, keep: int, finish: bool) -> str:
        oid = await dispatched(o, 2)
        ids = [p.piece_id for p in o.pieces]
        await trials.send(oid, decisions(ids[:keep], ids[keep:], actor="ps-demo-1", reference="wa-demo"))
        if finish:
            await trials.send(oid, cmd.FinishEarly(actor="client", channel="app"))
        return oid

    async def awaiting_dispatch() -> str:
        return await started(_order("A", run, 4, tier="EIP_PREMIUM"))

    async def in_transit() -> str:
        return await dispatched(_order("B", run, 6), 1)

    async def on_trial() -> str:
        oid = await dispatched(_order("C", run, 5), 2)
        await trials.send(oid, decisions(["p1"], actor="client", channel="app", reference=None))
        return oid

    async def awaiting_returns() -> str:
        o = _order("D", run, 6)
        oid = await decided(o, keep=2, finish=True)
        await trials.send(oid, cmd.ReturnShipped(piece_ids=["p3", "p4"], carrier="DHL", tracking_number=f"{oid}-R1"))
        return oid

    async def completed() -> str:
        o = _order("E", run, 5, tier="EIP_PREMIUM")
        oid = await decided(o, keep=2, finish=True)
        returned = [p.piece_id for p in o.pieces][2:]
        await trials.send(oid, cmd.ReturnShipped(piece_ids=returned, carrier="UPS", tracking_number=f"{oid}-R1"))
        for pid in returned:
            await trials.send(oid, cmd.Inspection(piece_id=pid, condition="damaged" if pid == returned[-1] else "ok"))
        return oid

    async def scanned(tracking: str, status: cmd.ScanStatus) -> None:
        """A carrier's tracking event, through the webhook's own path (found by number in the read model)."""
        scan = cmd.CarrierScan(tracking_number=tracking, status=status, occurred_at=datetime.now(UTC))
        for _ in range(100):  # the read model learns a new tracking number with the change that made it
            if await carrier.handle(scan) != "unknown":
                return
            await asyncio.sleep(0.1)

    async def delivered_by_carrier(o: TrialOrder) -> str:
        oid = await started(o)
        await trials.send(oid, parcels([[p.piece_id for p in o.pieces]], carrier="DHL Express", tracking=f"{oid}-"))
        await scanned(f"{oid}-1", "in_transit")
        await scanned(f"{oid}-1", "delivered")
        await until(oid, "ON_TRIAL")
        ids = [p.piece_id for p in o.pieces]
        await trials.send(oid, decisions(ids[:2], ids[2:], actor="client", channel="whatsapp", reference=None))
        return oid

    async def returned_on_a_label() -> str:
        oid = await delivered_by_carrier(_order("I", run, 4))
        view = await trials.send(oid, cmd.ReturnLabel(actor="client", channel="whatsapp"))
        (booking,) = view.return_bookings
        assert booking.tracking_number is not None
        label = await asyncio.to_thread(SqlLabelBook(store.engine).by_key, f"{view.trial_id}-return-booking-1")
        links.append(f"{settings.public_url.rstrip('/')}/v1/return-labels/{label.token}" if label else "(not kept)")
        await scanned(booking.tracking_number, "in_transit")
        await scanned(booking.tracking_number, "delivered")
        for pid in booking.piece_ids:
            await trials.send(oid, cmd.Inspection(piece_id=pid, condition="ok"))
        await trials.send(oid, cmd.FinishEarly(actor="client", channel="app"))
        return oid

    async def collection_booked() -> str:
        # This trial's client has three real days to send back, so that a courier slot tomorrow fits.
        o = _order("J", run, 4)
        oid = await started_with(o, policy.model_copy(update={"return_window": timedelta(days=3)}))
        await trials.send(oid, parcels([[p.piece_id for p in o.pieces]], carrier="UPS", tracking=f"{oid}-"))
        await scanned(f"{oid}-1", "delivered")
        await until(oid, "ON_TRIAL")
        ids = [p.piece_id for p in o.pieces]
        await trials.send(oid, decisions(ids[:1], ids[1:], actor="client", channel="whatsapp", reference=None))
        tomorrow = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time(9), UTC)
        slot = cmd.Slot(starts_at=tomorrow, ends_at=tomorrow + timedelta(hours=4))
        await trials.send(oid, cmd.CollectionBooking(slot=slot, actor="client", channel="whatsapp"))
        return oid

    async def cancelled() -> str:
        oid = await started(_order("F", run, 3))
        await trials.send(oid, cmd.Cancel(reason="Client travelling, reorder next month", actor="cr.demo"))
        return oid

    async def declined_card() -> str:
        o = _order("G", run, 3, payment_method="pm_card_visa_chargeDeclined")
        await trials.start(StartTrial(order=o, policy=policy))
        return o.order_id

    async def dunning() -> str:
        oid = await decided(_order("H", run, 4), keep=1, finish=True)
        # The client then swaps to a card that declines every payment (a Stripe test card that localstripe
        # knows too), so the unreturned pieces' off-session charge is declined on either gateway.
        await trials.send(oid, cmd.NewPaymentMethod(
            payment_method="pm_card_chargeCustomerFail", actor="cr-demo",
        ))  # fmt: skip
        return oid

    scenarios: dict[str, tuple[Callable[[], Awaitable[str]], str]] = {
        "awaiting dispatch": (awaiting_dispatch, "waits for the warehouse; flagged when the dispatch SLA passes"),
        "in transit": (in_transit, "one of two parcels delivered"),
        "on trial": (on_trial, "both parcels delivered, one decision so far"),
        "awaiting returns": (awaiting_returns, "kept pieces charged; two returns on their way"),
        "completed": (completed, "kept and damaged pieces charged, the rest returned, hold released"),
        "cancelled": (cancelled, "cancelled before dispatch, authorization released"),
        "declined card": (declined_card, f"AUTHORIZING with needs-attention, REJECTED after {day_seconds:g} s"),
        "dunning": (dunning, "settlement declined off-session: SETTLING, then PAYMENT_ACTION_REQUIRED"),
        "label return": (returned_on_a_label, "carrier delivered it; returned on a prepaid label, scanned back"),
        "collection": (collection_booked, "carrier delivered it; a courier booked for tomorrow 09:00-13:00 UTC"),
    }
    links: list[str] = []
    done = 0

    async def reported(name: str, scenario: Callable[[], Awaitable[str]], what: str) -> str:
        # Each line as its trial gets where the demo leaves it: the whole demo takes a minute or so.
        nonlocal done
        try:
            order_id = await scenario()
        except BaseException as err:
            done += 1
            print(f"  [{done}/{len(scenarios)}] {name:<18} failed: {err}", flush=True)
            raise
        done += 1
        print(f"  [{done}/{len(scenarios)}] {name:<18} {order_id:<16} {what}", flush=True)
        return order_id

    print(f"Starting {len(scenarios)} trials ...", flush=True)
    results = await asyncio.gather(
        *(reported(name, fn, what) for name, (fn, what) in scenarios.items()), return_exceptions=True
    )
    store.engine.dispose()
    if any(isinstance(r, BaseException) for r in results):
        raise SystemExit(1)
    for link in links:
        print(f"The prepaid label (a PDF, with its barcode and QR code): {link}")
    print(f"Done. The Temporal UI shows them at {ui}; `styletrial trial list` shows the read model.")
