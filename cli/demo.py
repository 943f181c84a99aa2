"""`styletrial demo`: a handful of realistic trials, with the fulfilment side played, on a fast clock.

Each demo trial carries its own fast policy (a trial "day" lasts a few seconds), so the demo needs no
special settings: the engine runs it exactly as it runs real trials.
"""

import asyncio
import secrets
from collections.abc import Awaitable, Callable

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

    policy = TrialPolicy().scaled(86_400 / day_seconds)
    trials = TrialService(await connect(settings, patience=30), settings.task_queue)
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
        await trials.start(StartTrial(order=o, policy=policy))
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
    }
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
    if any(isinstance(r, BaseException) for r in results):
        raise SystemExit(1)
    print(f"Done. The Temporal UI shows them at {ui}; `styletrial trial list` shows the read model.")
