"""How large one realistic trial's Temporal history is, with the production wiring (codec on, SQLite read
model, simulated gateway on the database), on the real dev server.

The trial: 30 pieces in 2 parcels, decisions in 3 batches, finished early, 2 return parcels, each opened and
inspected, 2 pieces never returned (kept when the return window closes), 2 settlements. A second run
adds `extra` changes of mind, to see whether the bytes a command costs stay flat as the trial grows.

    .venv/bin/python -m bench.bench_history [extra_decisions] [--per-piece]

Inspections go one update per return parcel; `--per-piece` sends one per piece, as before the list form.

Ends with `name=value` lines (history_events, history_kb, commands, bytes_per_command, ...).
"""

import asyncio
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

from pydantic import BaseModel
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from application.trials import TrialService
from bench.dev import dev_server
from bootstrap import build_worker, data_converter, default_adapters
from config import Settings
from domain import commands as cmd
from domain.examples import decisions, order, parcels
from domain.policy import TrialPolicy
from domain.workflow_io import StartTrial
from persistence.migrate import upgrade

# A trial day of half a second: the return window (3 days) passes in 1.5 s.
POLICY = TrialPolicy().scaled(86_400 / 0.5)


async def realistic_trial(trials: TrialService, extra: int, per_piece: bool) -> tuple[str, int]:
    """Drive the trial to COMPLETED; returns its workflow id and how many commands it took."""
    o = order(30, price=lambda i: 50_000 + 1_000 * i)
    ids = [p.piece_id for p in o.pieces]
    await trials.start(StartTrial(order=o, policy=POLICY))
    while (await trials.view(o.order_id)).status != "AWAITING_DISPATCH":
        await asyncio.sleep(0.05)
    sent = 0

    async def send(command: BaseModel) -> None:
        nonlocal sent
        await trials.send(o.order_id, command)
        sent += 1

    await send(parcels([ids[:15], ids[15:]]))
    for tracking in ("TRK1", "TRK2"):
        await send(cmd.Delivery(tracking_number=tracking))
    for i in range(extra):  # changes of mind on one piece
        await send(decisions(keep=[ids[0]] if i % 2 else [], ret=[] if i % 2 else [ids[0]]))
    await send(decisions(keep=ids[:4], ret=ids[4:10]))
    await send(decisions(ret=ids[10:20]))
    await send(decisions(ret=ids[20:]))
    await send(cmd.FinishEarly(actor="client", channel="app"))
    returned = ids[4:28]  # ids[28:] are never shipped back
    for n, batch in enumerate((returned[:12], returned[12:]), start=1):
        await send(cmd.ReturnShipped(piece_ids=batch, carrier="DHL", tracking_number=f"R{n}"))
        inspected = [cmd.Inspection(piece_id=p, condition="damaged" if p == batch[0] else "ok") for p in batch]
        if per_piece:
            for inspection in inspected:
                await send(inspection)
        else:
            await send(cmd.Inspections(inspections=inspected))
    while (await trials.view(o.order_id)).status != "COMPLETED":
        await asyncio.sleep(0.1)
    return f"style-trial-{o.order_id}", sent


async def measure(env: WorkflowEnvironment, trials: TrialService, extra: int, per_piece: bool) -> dict[str, float]:
    workflow_id, commands = await realistic_trial(trials, extra, per_piece)
    # The whole history: the workflow ends once the trial's refund window (15 s at this scale) has closed.
    handle = env.client.get_workflow_handle(workflow_id)
    await handle.result()
    history = await handle.fetch_history()
    sizes = Counter[str]()
    counts = Counter[str]()
    for e in history.events:
        name = EventType.Name(e.event_type).removeprefix("EVENT_TYPE_")
        sizes[name] += e.ByteSize()
        counts[name] += 1
    total = sum(sizes.values())
    print(f"  {commands} commands: {len(history.events)} events, {total / 1024:.0f} KB; largest kinds:")
    for name, size in sizes.most_common(5):
        print(f"    {name:<45} {counts[name]:>4} events {size / 1024:>7.0f} KB")
    return {"events": len(history.events), "kb": total / 1024, "commands": commands, "per_command": total / commands}


async def main(extra: int = 25, per_piece: bool = False) -> None:
    folder = Path(tempfile.mkdtemp())
    settings = Settings(data_dir=folder)
    upgrade(settings.resolved_database_url)
    env = await dev_server(data_converter(settings))
    queue = f"bench-{uuid.uuid4()}"
    try:
        async with build_worker(env.client, queue, default_adapters(settings)):
            trials = TrialService(env.client, queue)
            print("history of one realistic 30-piece trial (codec on, SQLite read model, simulated gateway):")
            base = await measure(env, trials, 0, per_piece)
            grown = await measure(env, trials, extra, per_piece)
    finally:
        await env.shutdown()
    print(f"history_events={base['events']:.0f}")
    print(f"history_kb={base['kb']:.0f}")
    print(f"history_commands={base['commands']:.0f}")
    print(f"history_bytes_per_command={base['per_command']:.0f}")
    print(f"history_grown_commands={grown['commands']:.0f}")
    print(f"history_grown_kb={grown['kb']:.0f}")
    print(f"history_grown_bytes_per_command={grown['per_command']:.0f}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--per-piece"]
    asyncio.run(main(int(args[0]) if args else 25, per_piece="--per-piece" in sys.argv))
